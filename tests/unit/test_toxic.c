/* The toxics' arithmetic, without sockets: bandwidth pacing, slice sizes,
 * latency ordering with jitter, the toxicity decision, attribute parsing,
 * and each kind driven through a stage by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/helpers/test_skip.h"

#include "faults/proxy_int.h"
#include "faults/toxic.h"
#include "base/alloc.h"

#define MS 1000000ull

/* A stage of one toxic on a link that belongs to nothing real: enough for
 * fl_stage_* and the kinds (the pool, the out queue, the seed). */
typedef struct {
  fl_proxy_t proxy;
  fl_conn_t conn;
  fl_toxic_t toxic;
  fl_stage_t *st;
} rig_t;

static void rig_init(rig_t *r, const char *spec) {
  fl_err_t err;
  memset(r, 0, sizeof(*r));
  fl_pool_init(&r->proxy.pool);
  r->conn.proxy = &r->proxy;
  r->conn.serial = 1;
  r->conn.seed = 7;
  r->conn.state = FL_CONN_OPEN;
  fl_link_init(&r->conn.link[0], &r->conn, FL_LINK_UP);
  json_t *j = json_loads(spec, 0, NULL);
  assert_non_null(j);
  if (fl_toxic_parse(&r->toxic, j, NULL, &err) != 0)
    fail_msg("%s", err.msg);
  json_decref(j);
  r->toxic.serial = 1;
  fl_link_add_stage(&r->conn.link[0], &r->toxic, 0);
  r->st = r->conn.link[0].stages;
}

static void rig_free(rig_t *r) {
  fl_link_clear(&r->conn.link[0]);
  fl_pool_clear(&r->proxy.pool);
  fl_toxic_clear(&r->toxic);
}

/* Pushes n bytes whose values count up from *seq, arriving at t. */
static void rig_push(rig_t *r, size_t n, uint64_t t, unsigned *seq) {
  fl_chunk_t *c = fl_chunk_new(&r->proxy.pool, n);
  for (size_t i = 0; i < n; i++)
    c->data[i] = (char)(unsigned char)((*seq)++);
  c->len = (uint32_t)n;
  c->t = t;
  fl_chunkq_push(&r->st->in, c);
}

static void rig_run(rig_t *r, uint64_t now) {
  r->st->deadline = 0;
  r->st->toxic->kind->run(r->st, now);
}

/* Takes what reached the out queue; checks its bytes continue *seq. */
static size_t rig_take(rig_t *r, unsigned *seq, size_t *chunks) {
  size_t n = 0;
  fl_chunk_t *c;
  while ((c = fl_chunkq_pop(&r->conn.link[0].out)) != NULL) {
    for (uint32_t i = 0; i < c->len; i++)
      assert_int_equal((unsigned char)c->data[c->off + i], (unsigned char)((*seq)++));
    n += c->len;
    if (chunks != NULL)
      chunks[0]++;
    fl_chunk_free(&r->proxy.pool, c);
  }
  return n;
}

static void test_bandwidth_schedule(void **state) {
  (void)state;
  /* 100 KB/s = 100 bytes per ms: pieces of 2,000 bytes (20 ms). */
  assert_int_equal(fl_bandwidth_piece(100, 65536), 2000);
  assert_int_equal(fl_bandwidth_piece(100, 500), 500);
  assert_int_equal(fl_bandwidth_piece(0, 10), 1);
  uint64_t next = 0, due = 0;
  /* 1,000,000 bytes arriving at t=0 in 2,000-byte pieces take 10 s. */
  for (int i = 0; i < 500; i++) {
    uint64_t d = fl_bandwidth_due(100, 0, &next, 2000);
    assert_true(d > due);
    assert_int_equal(d - due, 20 * MS);
    due = d;
  }
  assert_int_equal(due, 10000 * MS);
  /* After an idle period there is no credit: a piece arriving at 20 s is
   * sent at 20 s + its own time. */
  assert_int_equal(fl_bandwidth_due(100, 20000 * MS, &next, 100), 20001 * MS);
  /* Rounding up: 1 byte at 3 KB/s takes 333,334 ns, never 0. */
  next = 0;
  assert_int_equal(fl_bandwidth_due(3, 0, &next, 1), 333334);
}

static void test_bandwidth_stage(void **state) {
  (void)state;
  rig_t r;
  unsigned in = 0, out = 0;
  rig_init(&r, "{\"type\":\"bandwidth\",\"attributes\":{\"rate\":1000}}");
  /* 1,000 KB/s: 100,000 bytes take 100 ms, in 20,000-byte pieces. */
  for (int i = 0; i < 5; i++)
    rig_push(&r, 20000, 0, &in);
  size_t got = 0;
  for (uint64_t now = 0; now <= 120 * MS; now += MS) {
    rig_run(&r, now);
    got += rig_take(&r, &out, NULL);
    size_t expect = (size_t)(now / (20 * MS)) * 20000;
    assert_int_equal(got, expect > 100000 ? 100000 : expect);
  }
  assert_int_equal(got, 100000);
  rig_free(&r);
}

static void test_slicer_sizes(void **state) {
  (void)state;
  fl_prng_t rng;
  fl_prng_seed(&rng, 3);
  for (int trial = 0; trial < 200; trial++) {
    int64_t avg = 1 + (int64_t)fl_prng_below(&rng, 2000);
    int64_t var = (int64_t)fl_prng_below(&rng, (uint64_t)avg);
    size_t total = 1 + (size_t)fl_prng_below(&rng, 65000), left = total, sum = 0;
    while (left > 0) {
      size_t n = fl_slicer_size(&rng, avg, var, left);
      assert_true(n >= 1 && n <= left);
      if (n < left) /* all but the last slice are within the bounds */
        assert_true((int64_t)n >= avg - var && (int64_t)n <= avg + var);
      sum += n;
      left -= n;
    }
    assert_int_equal(sum, total);
  }
}

static void test_slicer_stage(void **state) {
  (void)state;
  rig_t r;
  unsigned in = 0, out = 0;
  size_t chunks = 0;
  /* Slices of 100 +/- 50 bytes, 1 ms apart: 1,000 bytes need about 10. */
  rig_init(&r, "{\"type\":\"slicer\",\"attributes\":"
               "{\"average_size\":100,\"size_variation\":50,\"delay\":1000}}");
  rig_push(&r, 1000, 0, &in);
  rig_run(&r, 0);
  size_t got = rig_take(&r, &out, &chunks);
  assert_int_equal(chunks, 1); /* the first slice goes at once */
  assert_true(got >= 50 && got <= 150);
  for (uint64_t now = MS; got < 1000 && now < 100 * MS; now += MS) {
    rig_run(&r, now);
    got += rig_take(&r, &out, &chunks);
  }
  assert_int_equal(got, 1000);
  assert_true(chunks >= 7 && chunks <= 20);
  rig_free(&r);
}

/* Chunks come every ms with latency 50 +/- 40: none is delivered before its
 * draw, none before the chunk ahead of it, and the order holds. */
static void test_latency_ordering(void **state) {
  (void)state;
  rig_t r;
  unsigned in = 0, out = 0;
  uint64_t arrival[200];
  int next_out = 0;
  rig_init(&r, "{\"type\":\"latency\",\"attributes\":{\"latency\":50,\"jitter\":40}}");
  uint64_t last = 0;
  for (uint64_t now = 0; now < 400 * MS; now += MS / 4) {
    if (now % MS == 0 && now / MS < 200) {
      arrival[now / MS] = now;
      rig_push(&r, 10, now, &in);
    }
    rig_run(&r, now);
    fl_chunk_t *c;
    while ((c = fl_chunkq_pop(&r.conn.link[0].out)) != NULL) {
      assert_int_equal((unsigned char)c->data[0], (unsigned char)out);
      out += 10;
      /* At least latency - jitter after its arrival, at most latency +
       * jitter after (plus the run's quarter-ms step) unless held by the
       * one ahead of it. */
      assert_true(now >= arrival[next_out] + 10 * MS);
      assert_true(now >= last);
      last = now;
      next_out++;
      fl_chunk_free(&r.proxy.pool, c);
    }
    if (r.st->in.head != NULL)
      assert_true(r.st->deadline > now);
  }
  assert_int_equal(next_out, 200);
  rig_free(&r);
}

static void test_latency_delay(void **state) {
  (void)state;
  fl_prng_t a, b;
  fl_prng_seed(&a, 9);
  fl_prng_seed(&b, 9);
  int below = 0, above = 0;
  for (int i = 0; i < 10000; i++) {
    uint64_t d = fl_latency_delay(&a, 100, 10);
    assert_true(d >= 90 * MS && d <= 110 * MS);
    assert_true(d == fl_latency_delay(&b, 100, 10)); /* same seed, same draws */
    below += d < 100 * MS;
    above += d > 100 * MS;
  }
  assert_true(below > 4000 && above > 4000);
  /* Never negative. */
  assert_true(fl_latency_delay(&a, 5, 50) <= 55 * MS);
  assert_int_equal(fl_latency_delay(&a, 0, 0), 0);
}

static void test_toxicity_roll(void **state) {
  (void)state;
  fl_toxic_t t;
  memset(&t, 0, sizeof(t));
  t.serial = 4;
  t.toxicity = 0.3;
  int yes = 0, same = 0;
  for (uint64_t conn = 1; conn <= 20000; conn++) {
    int r = fl_toxic_roll(1234, conn, &t);
    assert_int_equal(r, fl_toxic_roll(1234, conn, &t)); /* deterministic */
    yes += r;
    same += r == fl_toxic_roll(1235, conn, &t);
  }
  assert_true(yes > 5700 && yes < 6300); /* 0.3 of 20,000 */
  assert_true(same < 16000);             /* another seed, other choices */
  t.toxicity = 0;
  assert_int_equal(fl_toxic_roll(1, 1, &t), 0);
  t.toxicity = 1;
  assert_int_equal(fl_toxic_roll(1, 1, &t), 1);
}

static void test_limit_data_stage(void **state) {
  (void)state;
  rig_t r;
  unsigned in = 0, out = 0;
  rig_init(&r, "{\"type\":\"limit_data\",\"attributes\":{\"bytes\":2500}}");
  rig_push(&r, 1000, 0, &in);
  rig_push(&r, 1000, 0, &in);
  rig_run(&r, 0);
  assert_int_equal(rig_take(&r, &out, NULL), 2000);
  assert_int_equal(r.conn.link[0].out_end, FL_END_NONE);
  rig_push(&r, 1000, 0, &in);
  rig_run(&r, 0);
  assert_int_equal(rig_take(&r, &out, NULL), 500);
  assert_int_equal(r.conn.link[0].out_end, FL_END_CLOSE);
  rig_push(&r, 1000, 0, &in); /* after the close: dropped */
  rig_run(&r, 0);
  assert_int_equal(r.conn.link[0].out.bytes, 0);
  rig_free(&r);
}

static void test_slow_close_stage(void **state) {
  (void)state;
  rig_t r;
  unsigned in = 0, out = 0;
  rig_init(&r, "{\"type\":\"slow_close\",\"attributes\":{\"delay\":30}}");
  rig_push(&r, 100, 0, &in);
  r.st->in_end = FL_END_EOF;
  rig_run(&r, 5 * MS);
  assert_int_equal(rig_take(&r, &out, NULL), 100); /* data at once */
  assert_int_equal(r.conn.link[0].out_end, FL_END_NONE);
  assert_int_equal(r.st->deadline, 35 * MS);
  rig_run(&r, 34 * MS);
  assert_int_equal(r.conn.link[0].out_end, FL_END_NONE);
  rig_run(&r, 35 * MS);
  assert_int_equal(r.conn.link[0].out_end, FL_END_EOF);
  rig_free(&r);
}

static void test_noop_stage(void **state) {
  (void)state;
  rig_t r;
  unsigned in = 0, out = 0;
  rig_init(&r, "{\"type\":\"noop\"}");
  assert_int_equal(r.toxic.kind->nattrs, 0);
  rig_push(&r, 100, 0, &in);
  rig_push(&r, 50, 0, &in);
  r.st->in_end = FL_END_EOF;
  rig_run(&r, 1 * MS);
  assert_int_equal(rig_take(&r, &out, NULL), 150); /* all of it, in order, at once */
  assert_int_equal(r.conn.link[0].out_end, FL_END_EOF);
  assert_int_equal(r.st->deadline, 0);
  rig_free(&r);
}

/* Reads the whole file at path; returns new or NULL. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = fl_malloc((size_t)n + 1);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  fclose(f);
  return s;
}

/* The toxics' docs are generated from the rows of toxic.c: each file has
 * the generated text between `<!-- toxics:FORM -->` and `<!-- /toxics -->`.
 * A new or changed row makes this fail until the docs are regenerated with
 * `FL_UPDATE_DOCS=1 build/test_toxic` (which rewrites the marked parts). */
static void check_doc(const char *src, const char *file, const char *form, int kind) {
  char path[4096], begin[64];
  snprintf(path, sizeof(path), "%s/%s", src, file);
  snprintf(begin, sizeof(begin), "<!-- toxics:%s -->", form);
  char *text = slurp(path);
  if (text == NULL)
    fail_msg("cannot read %s", path);
  char *b = strstr(text, begin);
  if (b == NULL)
    fail_msg("%s has no %s marker", path, begin);
  b += strlen(begin);
  if (kind == FL_TOXIC_DOC_TABLE && *b == '\n')
    b++;
  char *e = strstr(b, "<!-- /toxics -->");
  if (e == NULL)
    fail_msg("%s: %s is not closed by <!-- /toxics -->", path, begin);
  fl_buf_t want;
  fl_buf_init(&want, 1 << 20);
  assert_int_equal(fl_toxic_kinds_doc(&want, kind), 0);
  size_t n = (size_t)(e - b);
  if (n != want.len || memcmp(b, want.data, n) != 0) {
    const char *update = getenv("FL_UPDATE_DOCS");
    if (update != NULL && strcmp(update, "1") == 0) {
      FILE *f = fopen(path, "wb");
      assert_non_null(f);
      fwrite(text, 1, (size_t)(b - text), f);
      fwrite(want.data, 1, want.len, f);
      fputs(e, f);
      fclose(f);
      print_message("rewrote the toxics of %s\n", path);
    } else {
      print_message("%s should have between its markers:\n%s\n", path, want.data);
      fail_msg("%s: the %s of toxics is not what faults/toxic.c's rows give; "
               "run FL_UPDATE_DOCS=1 build/test_toxic",
               path, form);
    }
  }
  fl_buf_free(&want);
  fl_free(text);
}

static void test_docs_from_rows(void **state) {
  (void)state;
  const char *src = getenv("FL_SRC");
  if (src == NULL) {
    FL_SKIP("FL_SRC (the source tree) is not set; ctest sets it");
  }
  check_doc(src, "faults/README.md", "table", FL_TOXIC_DOC_TABLE);
  check_doc(src, "faults/PROXY_API.md", "table", FL_TOXIC_DOC_TABLE);
  check_doc(src, "README.md", "list", FL_TOXIC_DOC_LIST);
  /* Every row is in the list of names the errors give. */
  assert_non_null(strstr(fl_toxic_kind_names(), "noop"));
  assert_non_null(strstr(fl_toxic_kind_names(), "latency"));
}

static void test_timeout_stage(void **state) {
  (void)state;
  rig_t r;
  unsigned in = 0;
  rig_init(&r, "{\"type\":\"timeout\",\"attributes\":{\"timeout\":100}}");
  /* The stage started at 0: data is swallowed, the close comes at 100 ms. */
  rig_push(&r, 100, 0, &in);
  rig_run(&r, 50 * MS);
  assert_int_equal(r.conn.link[0].out.bytes, 0);
  assert_int_equal(r.st->in.bytes, 0);
  assert_int_equal(r.st->deadline, 100 * MS);
  rig_run(&r, 100 * MS);
  assert_int_equal(r.conn.link[0].out_end, FL_END_CLOSE);
  rig_free(&r);
}

static void test_reset_peer_stage(void **state) {
  (void)state;
  rig_t r;
  unsigned in = 0;
  rig_init(&r, "{\"type\":\"reset_peer\",\"attributes\":{\"timeout\":20}}");
  rig_run(&r, 0);
  assert_int_equal(r.st->deadline, 0); /* nothing until data comes */
  rig_push(&r, 10, 0, &in);
  rig_run(&r, 10 * MS);
  assert_int_equal(r.conn.reset_req, 0);
  assert_true(r.st->deadline > 29 * MS && r.st->deadline <= 31 * MS);
  rig_run(&r, 31 * MS);
  assert_int_equal(r.conn.reset_req, 1);
  assert_int_equal(r.conn.link[0].out.bytes, 0);
  rig_free(&r);
}

static int parse_err(const char *spec, fl_err_t *err) {
  fl_toxic_t t;
  json_t *j = json_loads(spec, 0, NULL);
  assert_non_null(j);
  int rc = fl_toxic_parse(&t, j, NULL, err);
  json_decref(j);
  if (rc == 0)
    fl_toxic_clear(&t);
  return rc;
}

static void expect_bad(const char *spec, const char *field) {
  fl_err_t err;
  assert_int_equal(parse_err(spec, &err), FL_ECONFIG);
  if (strstr(err.msg, field) == NULL)
    fail_msg("message \"%s\" does not name %s", err.msg, field);
}

static void test_parse(void **state) {
  (void)state;
  fl_err_t err;
  fl_toxic_t t, u;
  json_t *j =
      json_loads("{\"type\":\"latency\",\"attributes\":{\"latency\":100.0}}", 0, NULL);
  assert_int_equal(fl_toxic_parse(&t, j, NULL, &err), 0);
  json_decref(j);
  assert_string_equal(t.name, "latency_downstream");
  assert_int_equal(t.stream, FL_DOWNSTREAM);
  assert_true(t.toxicity == 1.0);
  assert_int_equal(fl_toxic_attr(&t, "latency"), 100);
  assert_int_equal(fl_toxic_attr(&t, "jitter"), 0);
  json_t *out = fl_toxic_to_json(&t);
  char *s = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
  assert_string_equal(s,
                      "{\"attributes\":{\"jitter\":0,\"latency\":100},\"name\":"
                      "\"latency_downstream\",\"stream\":\"downstream\",\"toxicity\":1.0,"
                      "\"type\":\"latency\"}");
  free(s);
  json_decref(out);

  /* A partial update keeps what it does not name. */
  j = json_loads("{\"attributes\":{\"jitter\":5},\"toxicity\":0.5}", 0, NULL);
  assert_int_equal(fl_toxic_parse(&u, j, &t, &err), 0);
  json_decref(j);
  assert_int_equal(fl_toxic_attr(&u, "latency"), 100);
  assert_int_equal(fl_toxic_attr(&u, "jitter"), 5);
  assert_true(u.toxicity == 0.5);
  assert_int_equal(u.rolls, t.rolls + 1);
  fl_toxic_clear(&u);
  j = json_loads("{\"stream\":\"upstream\"}", 0, NULL);
  assert_int_equal(fl_toxic_parse(&u, j, &t, &err), FL_ECONFIG);
  assert_non_null(strstr(err.msg, "stream"));
  json_decref(j);
  j = json_loads("{\"type\":\"bandwidth\"}", 0, NULL);
  assert_int_equal(fl_toxic_parse(&u, j, &t, &err), FL_ECONFIG);
  assert_non_null(strstr(err.msg, "type"));
  json_decref(j);
  fl_toxic_clear(&t);

  expect_bad("{\"type\":\"latency\",\"attributes\":{\"latency\":-5}}",
             "attributes.latency");
  expect_bad("{\"type\":\"latency\",\"attributes\":{\"jitter\":1.5}}",
             "attributes.jitter");
  expect_bad("{\"type\":\"latency\",\"attributes\":{\"latency\":\"100\"}}",
             "attributes.latency");
  expect_bad("{\"type\":\"latency\",\"attributes\":{\"latncy\":100}}",
             "attributes.latncy");
  expect_bad("{\"type\":\"latenzy\"}", "\"type\"");
  expect_bad("{\"attributes\":{}}", "\"type\"");
  expect_bad("{\"type\":\"latency\",\"stream\":\"sideways\"}", "\"stream\"");
  expect_bad("{\"type\":\"latency\",\"toxicity\":1.5}", "\"toxicity\"");
  expect_bad("{\"type\":\"slicer\",\"attributes\":{\"average_size\":0}}",
             "attributes.average_size");
  expect_bad("{\"type\":\"bandwidth\",\"attributes\":{\"rate\":1e12}}",
             "attributes.rate");
  assert_int_equal(parse_err("{\"type\":\"limit_data\",\"stream\":\"UpStream\","
                             "\"attributes\":{\"bytes\":1e12}}",
                             &err),
                   0);
}

static void test_prng(void **state) {
  (void)state;
  fl_prng_t r;
  int seen[7] = {0};
  fl_prng_seed(&r, 0);
  for (int i = 0; i < 70000; i++) {
    int64_t v = fl_prng_range(&r, -3, 3);
    assert_true(v >= -3 && v <= 3);
    seen[v + 3]++;
    double d = fl_prng_double(&r);
    assert_true(d >= 0 && d < 1);
  }
  for (int i = 0; i < 7; i++)
    assert_true(seen[i] > 9000 && seen[i] < 11000);
  assert_int_equal(fl_prng_below(&r, 0), 0);
  assert_int_equal(fl_prng_range(&r, 5, 5), 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bandwidth_schedule),
      cmocka_unit_test(test_bandwidth_stage),
      cmocka_unit_test(test_slicer_sizes),
      cmocka_unit_test(test_slicer_stage),
      cmocka_unit_test(test_latency_ordering),
      cmocka_unit_test(test_latency_delay),
      cmocka_unit_test(test_toxicity_roll),
      cmocka_unit_test(test_limit_data_stage),
      cmocka_unit_test(test_slow_close_stage),
      cmocka_unit_test(test_timeout_stage),
      cmocka_unit_test(test_noop_stage),
      cmocka_unit_test(test_docs_from_rows),
      cmocka_unit_test(test_reset_peer_stage),
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_prng),
  };
  return cmocka_run_group_tests_name("toxic", tests, NULL, NULL);
}
