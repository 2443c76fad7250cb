/* Unit tests for kvnode's store (examples/kvnode/store.c): the log file
 * survives a reopen, a torn tail is cut, records round-trip through the
 * /replicate encoding, and the map follows the applied prefix. kvnode is a
 * standalone program, so its source is compiled into this test directly. */
#include "examples/kvnode/store.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static kv_entry_t entry(uint64_t index, const char *key, const char *val) {
  kv_entry_t e = {.index = index,
                  .key = kv_memdup(key, strlen(key)),
                  .klen = (uint32_t)strlen(key),
                  .val = kv_memdup(val, strlen(val)),
                  .vlen = (uint32_t)strlen(val)};
  return e;
}

static int setup_dir(void **state) {
  char tmpl[] = "/tmp/test_kvnode_store.XXXXXX";
  char *dir = mkdtemp(tmpl);
  if (!dir)
    return -1;
  *state = kv_memdup(dir, strlen(dir));
  return 0;
}

static int teardown_dir(void **state) {
  char path[4200];
  snprintf(path, sizeof(path), "%s/kvnode.log", (char *)*state);
  unlink(path);
  rmdir(*state);
  free(*state);
  return 0;
}

static void open_ok(kv_store_t *s, const char *dir) {
  char err[256];
  assert_int_equal(kv_store_open(s, dir, err, sizeof(err)), 0);
}

static void check_value(const kv_store_t *s, const char *key, const char *want) {
  const char *val;
  size_t vlen;
  if (!want) {
    assert_int_equal(kv_store_get(s, key, strlen(key), &val, &vlen), 0);
    return;
  }
  assert_int_equal(kv_store_get(s, key, strlen(key), &val, &vlen), 1);
  assert_int_equal(vlen, strlen(want));
  assert_memory_equal(val, want, vlen);
}

static void test_reopen_keeps_the_log(void **state) {
  kv_store_t s;
  kv_entry_t e[3] = {entry(1, "a", "1"), entry(2, "b", "2"), entry(3, "a", "3")};
  open_ok(&s, *state);
  assert_int_equal(s.last, 0);
  kv_store_append(&s, e, 3);
  kv_store_close(&s);

  open_ok(&s, *state);
  assert_int_equal(s.last, 3);
  assert_int_equal(s.applied, 0);
  check_value(&s, "a", NULL); /* nothing applied yet */
  kv_store_apply(&s, 99);     /* capped at last */
  assert_int_equal(s.applied, 3);
  assert_int_equal(s.nkeys, 2);
  check_value(&s, "a", "3");
  check_value(&s, "b", "2");
  kv_store_close(&s);
}

static void test_torn_tail_is_cut(void **state) {
  kv_store_t s;
  char path[4200];
  struct stat st;
  kv_entry_t e[2] = {entry(1, "k", "one"), entry(2, "k", "two")};
  open_ok(&s, *state);
  kv_store_append(&s, e, 2);
  kv_store_close(&s);
  snprintf(path, sizeof(path), "%s/kvnode.log", (char *)*state);
  assert_int_equal(stat(path, &st), 0);
  off_t good = st.st_size;

  /* Half of a third record, as a crash in the middle of write() leaves it. */
  kv_entry_t third = entry(3, "k", "three");
  unsigned char rec[64];
  rec_encode(rec, &third);
  kv_entry_free(&third);
  int fd = open(path, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, rec, 20), 20);
  close(fd);

  open_ok(&s, *state);
  assert_int_equal(s.last, 2);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_size, good);
  kv_entry_t next = entry(3, "k", "three");
  kv_store_append(&s, &next, 1);
  kv_store_close(&s);

  open_ok(&s, *state);
  assert_int_equal(s.last, 3);
  kv_store_apply(&s, 3);
  check_value(&s, "k", "three");
  kv_store_close(&s);
}

static void test_records_round_trip(void **state) {
  kv_store_t s;
  kv_entry_t e[3] = {entry(1, "x", ""), entry(2, "y", "why"), entry(3, "z", "zed")};
  kv_entry_t *out;
  size_t n;
  char *buf;
  open_ok(&s, *state);
  kv_store_append(&s, e, 3);

  size_t len = kv_store_encode(&s, 2, KV_REPL_BATCH, &buf);
  assert_int_equal(kv_store_decode(buf, len, &out, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(out[0].index, 2);
  assert_string_equal(out[0].key, "y");
  assert_string_equal(out[1].val, "zed");
  for (size_t i = 0; i < n; i++)
    kv_entry_free(&out[i]);
  free(out);

  buf[len - 1] ^= 1; /* the checksum catches a flipped bit */
  assert_int_equal(kv_store_decode(buf, len, &out, &n), -1);
  free(buf);

  /* A tiny batch still carries one entry; past the end there is nothing. */
  len = kv_store_encode(&s, 1, 1, &buf);
  assert_int_equal(kv_store_decode(buf, len, &out, &n), 0);
  assert_int_equal(n, 1);
  kv_entry_free(&out[0]);
  free(out);
  free(buf);
  assert_int_equal(kv_store_encode(&s, 4, KV_REPL_BATCH, &buf), 0);
  assert_null(buf);
  kv_store_close(&s);
}

static void test_latest_sees_unapplied_entries(void **state) {
  kv_store_t s;
  kv_entry_t e[2] = {entry(1, "a", "old"), entry(2, "a", "new")};
  const char *val;
  size_t vlen;
  open_ok(&s, *state);
  kv_store_append(&s, e, 2);
  kv_store_apply(&s, 1);
  check_value(&s, "a", "old");
  assert_int_equal(kv_store_get_latest(&s, "a", 1, &val, &vlen), 1);
  assert_memory_equal(val, "new", 3);
  assert_int_equal(kv_store_get_latest(&s, "b", 1, &val, &vlen), 0);
  kv_store_close(&s);
}

static void test_map_grows(void **state) {
  kv_store_t s;
  char key[32], val[32];
  open_ok(&s, *state);
  for (int i = 1; i <= 2000; i++) {
    snprintf(key, sizeof(key), "key%d", i % 1000);
    snprintf(val, sizeof(val), "v%d", i);
    kv_entry_t e = entry((uint64_t)i, key, val);
    kv_store_append(&s, &e, 1);
  }
  kv_store_apply(&s, s.last);
  assert_int_equal(s.nkeys, 1000);
  check_value(&s, "key7", "v1007");
  check_value(&s, "key0", "v2000");
  check_value(&s, "key1000", NULL);
  kv_store_close(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reopen_keeps_the_log, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_torn_tail_is_cut, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_records_round_trip, setup_dir, teardown_dir),
      cmocka_unit_test_setup_teardown(test_latest_sees_unapplied_entries, setup_dir,
                                      teardown_dir),
      cmocka_unit_test_setup_teardown(test_map_grows, setup_dir, teardown_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
