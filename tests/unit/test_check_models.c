/* The set, counter, recovery and phase checkers, and fl_check_file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "check/check.h"

/* A history built line by line: op(h, process, type, f, value-json, time). */
typedef struct {
  char buf[16384];
  size_t len;
  long t;
} hist_t;

static void op(hist_t *h, int p, const char *type, const char *f, const char *value,
               long time) {
  if (time < 0)
    time = h->t += 1000;
  else
    h->t = time;
  h->len +=
      (size_t)snprintf(h->buf + h->len, sizeof(h->buf) - h->len,
                       "{\"process\":%d,\"type\":\"%s\",\"f\":\"%s\"%s%s,\"time\":%ld}\n",
                       p, type, f, value ? ",\"value\":" : "", value ? value : "", time);
}

static void keyed(hist_t *h, int p, const char *type, const char *f, const char *key,
                  const char *value) {
  h->t += 1000;
  h->len +=
      (size_t)snprintf(h->buf + h->len, sizeof(h->buf) - h->len,
                       "{\"process\":%d,\"type\":\"%s\",\"f\":\"%s\",\"key\":\"%s\","
                       "\"value\":%s,\"time\":%ld}\n",
                       p, type, f, key, value, h->t);
}

/* A whole op: invoke then completion. */
static void whole(hist_t *h, int p, const char *type, const char *f, const char *in,
                  const char *out) {
  op(h, p, "invoke", f, in, -1);
  op(h, p, type, f, out, -1);
}

static fl_ops_t *parse(const hist_t *h) {
  fl_ops_t *ops;
  fl_err_t err;
  fl_err_clear(&err);
  if (fl_history_parse(&ops, h->buf, h->len, "m.jsonl", &err) != 0)
    fail_msg("%s\n%s", err.msg, h->buf);
  return ops;
}

static json_t *run(const hist_t *h, const char *model) {
  fl_ops_t *ops = parse(h);
  json_t *res;
  fl_err_t err;
  fl_err_clear(&err);
  if (fl_check_ops(ops, model, NULL, &res, &err) != 0)
    fail_msg("%s", err.msg);
  fl_ops_free(ops);
  return res;
}

static json_int_t geti(const json_t *o, const char *k) {
  const json_t *v = json_object_get(o, k);
  if (!json_is_integer(v))
    fail_msg("%s is not an integer", k);
  return json_integer_value(v);
}

static void expect_parse_error(const hist_t *h, const char *model, const char *prefix) {
  fl_ops_t *ops = parse(h);
  json_t *res = NULL;
  fl_err_t err;
  assert_int_equal(fl_check_ops(ops, model, NULL, &res, &err), FL_EPARSE);
  assert_null(res);
  if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
    fail_msg("wanted \"%s...\", got \"%s\"", prefix, err.msg);
  fl_ops_free(ops);
}

/* ---- set ---------------------------------------------------------------------- */

static void adds(hist_t *h) {
  whole(h, 0, "ok", "add", "1", NULL);
  whole(h, 1, "ok", "add", "2", NULL);
  whole(h, 0, "ok", "add", "3", NULL);
}

static void test_set_valid(void **state) {
  hist_t h = {0};
  adds(&h);
  whole(&h, 2, "ok", "read", NULL, "[3,1,2]");
  json_t *r = run(&h, "set");
  assert_int_equal(fl_check_status(r), FL_CHECK_VALID);
  assert_int_equal(geti(r, "attempts"), 3);
  assert_int_equal(geti(r, "acknowledged"), 3);
  assert_int_equal(geti(r, "ok_count"), 3);
  assert_int_equal(geti(r, "lost_count"), 0);
  assert_string_equal(json_string_value(json_object_get(r, "model")), "set");
  json_decref(r);
}

static void test_set_lost_unexpected_dups(void **state) {
  hist_t h = {0};
  adds(&h);
  whole(&h, 2, "ok", "read", NULL, "[1,3,3,9]");
  json_t *r = run(&h, "set");
  assert_int_equal(fl_check_status(r), FL_CHECK_INVALID);
  assert_int_equal(geti(r, "lost_count"), 1);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(r, "lost"), 0)), 2);
  assert_int_equal(geti(r, "unexpected_count"), 1);
  assert_int_equal(
      json_integer_value(json_array_get(json_object_get(r, "unexpected"), 0)), 9);
  assert_int_equal(geti(r, "duplicates_count"), 1);
  assert_int_equal(
      json_integer_value(json_array_get(json_object_get(r, "duplicates"), 0)), 3);
  const char *msg = json_string_value(json_object_get(r, "message"));
  assert_non_null(strstr(msg, "1 acknowledged add lost (2)"));
  json_decref(r);
}

static void test_set_indeterminate(void **state) {
  hist_t h = {0};
  adds(&h);
  whole(&h, 3, "info", "add", "4", NULL);
  whole(&h, 4, "info", "add", "5", NULL);
  /* A failed add that shows up is unexpected. */
  whole(&h, 5, "fail", "add", "6", NULL);
  whole(&h, 2, "ok", "read", NULL, "[1,2,3,4]");
  json_t *r = run(&h, "set");
  assert_int_equal(fl_check_status(r), FL_CHECK_VALID);
  assert_int_equal(geti(r, "indeterminate_seen_count"), 1);
  assert_int_equal(geti(r, "indeterminate_lost_count"), 1);
  json_decref(r);

  hist_t g = {0};
  adds(&g);
  whole(&g, 5, "fail", "add", "6", NULL);
  whole(&g, 2, "ok", "read", NULL, "[1,2,3,6]");
  r = run(&g, "set");
  assert_int_equal(fl_check_status(r), FL_CHECK_INVALID);
  assert_int_equal(geti(r, "unexpected_count"), 1);
  json_decref(r);
}

static void test_set_concurrent_and_final(void **state) {
  hist_t h = {0};
  adds(&h);
  /* An early read that misses 3 does not matter: the last read decides. */
  whole(&h, 2, "ok", "read", NULL, "[1,2]");
  /* An add acknowledged while the final read runs may be missing. */
  op(&h, 0, "invoke", "add", "7", -1);
  op(&h, 2, "invoke", "read", NULL, -1);
  op(&h, 0, "ok", "add", "7", -1);
  op(&h, 2, "ok", "read", "[1,2,3]", -1);
  json_t *r = run(&h, "set");
  assert_int_equal(fl_check_status(r), FL_CHECK_VALID);
  assert_int_equal(geti(r, "concurrent_missing_count"), 1);
  assert_int_equal(geti(r, "read_count"), 3);
  json_decref(r);
}

static void test_set_unknown_and_errors(void **state) {
  hist_t h = {0};
  adds(&h);
  whole(&h, 2, "fail", "read", NULL, NULL);
  json_t *r = run(&h, "set");
  assert_int_equal(fl_check_status(r), FL_CHECK_UNKNOWN);
  assert_string_equal(json_string_value(json_object_get(r, "valid")), "unknown");
  json_decref(r);

  hist_t bad = {0};
  adds(&bad);
  whole(&bad, 2, "ok", "read", NULL, "5");
  expect_parse_error(&bad, "set", "m.jsonl:8:");

  hist_t other = {0};
  whole(&other, 2, "ok", "write", "5", NULL);
  expect_parse_error(&other, "set", "m.jsonl:1:");
}

static void test_set_keys(void **state) {
  hist_t h = {0};
  keyed(&h, 0, "invoke", "add", "a", "1");
  keyed(&h, 0, "ok", "add", "a", "1");
  keyed(&h, 0, "invoke", "add", "b", "1");
  keyed(&h, 0, "ok", "add", "b", "1");
  keyed(&h, 0, "invoke", "add", "b", "2");
  keyed(&h, 0, "ok", "add", "b", "2");
  keyed(&h, 1, "invoke", "read", "a", "null");
  keyed(&h, 1, "ok", "read", "a", "[1]");
  keyed(&h, 1, "invoke", "read", "b", "null");
  keyed(&h, 1, "ok", "read", "b", "[2]");
  json_t *r = run(&h, "set");
  assert_int_equal(fl_check_status(r), FL_CHECK_INVALID);
  assert_int_equal(geti(r, "keys"), 2);
  assert_int_equal(geti(r, "lost_count"), 1);
  json_t *b = json_object_get(json_object_get(r, "by_key"), "b");
  assert_int_equal(fl_check_status(b), FL_CHECK_INVALID);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(b, "lost"), 0)), 1);
  assert_int_equal(fl_check_status(json_object_get(json_object_get(r, "by_key"), "a")),
                   FL_CHECK_VALID);
  json_decref(r);
}

/* ---- counter -------------------------------------------------------------------- */

static void test_counter(void **state) {
  hist_t h = {0};
  whole(&h, 0, "ok", "add", "1", NULL);
  whole(&h, 0, "ok", "add", "2", NULL);
  whole(&h, 0, "ok", "add", "3", NULL);
  whole(&h, 1, "ok", "read", NULL, "6");
  json_t *r = run(&h, "counter");
  assert_int_equal(fl_check_status(r), FL_CHECK_VALID);
  assert_int_equal(geti(r, "acknowledged_sum"), 6);
  json_decref(r);

  hist_t bad = h;
  whole(&bad, 1, "ok", "read", NULL, "5");
  r = run(&bad, "counter");
  assert_int_equal(fl_check_status(r), FL_CHECK_INVALID);
  json_t *e = json_array_get(json_object_get(r, "errors"), 0);
  assert_int_equal(geti(e, "value"), 5);
  assert_int_equal(geti(e, "lower"), 6);
  assert_int_equal(geti(e, "upper"), 6);
  assert_int_equal(geti(r, "error_count"), 1);
  json_decref(r);
}

static void test_counter_indeterminate(void **state) {
  hist_t h = {0};
  whole(&h, 0, "ok", "add", "1", NULL);
  whole(&h, 2, "info", "add", "10", NULL);
  whole(&h, 3, "fail", "add", "100", NULL);
  whole(&h, 1, "ok", "read", NULL, "1");
  whole(&h, 1, "ok", "read", NULL, "11");
  json_t *r = run(&h, "counter");
  assert_int_equal(fl_check_status(r), FL_CHECK_VALID);
  json_t *f = json_object_get(r, "final_read");
  assert_int_equal(geti(f, "lower"), 1);
  assert_int_equal(geti(f, "upper"), 11);
  assert_int_equal(geti(r, "indeterminate_sum"), 10);
  json_decref(r);

  hist_t over = h;
  whole(&over, 1, "ok", "read", NULL, "12");
  r = run(&over, "counter");
  assert_int_equal(fl_check_status(r), FL_CHECK_INVALID);
  json_decref(r);
  /* The failed add surely did not happen. */
  hist_t failed = h;
  whole(&failed, 1, "ok", "read", NULL, "111");
  r = run(&failed, "counter");
  assert_int_equal(fl_check_status(r), FL_CHECK_INVALID);
  json_decref(r);
}

static void test_counter_concurrent_and_negative(void **state) {
  hist_t h = {0};
  whole(&h, 0, "ok", "add", "-3", NULL);
  op(&h, 0, "invoke", "add", "5", -1);
  op(&h, 1, "invoke", "read", NULL, -1);
  op(&h, 1, "ok", "read", "2", -1); /* the add of 5 may have happened */
  op(&h, 1, "invoke", "read", NULL, -1);
  op(&h, 1, "ok", "read", "-3", -1); /* ... or not yet */
  op(&h, 0, "ok", "add", "5", -1);
  json_t *r = run(&h, "counter");
  assert_int_equal(fl_check_status(r), FL_CHECK_VALID);
  json_decref(r);
  whole(&h, 1, "ok", "read", NULL, "-3"); /* now it must have */
  r = run(&h, "counter");
  assert_int_equal(fl_check_status(r), FL_CHECK_INVALID);
  json_decref(r);
}

static void test_counter_unknown_and_errors(void **state) {
  hist_t h = {0};
  whole(&h, 0, "ok", "add", "1", NULL);
  json_t *r = run(&h, "counter");
  assert_int_equal(fl_check_status(r), FL_CHECK_UNKNOWN);
  json_decref(r);

  hist_t bad = {0};
  whole(&bad, 0, "ok", "add", "\"one\"", NULL);
  expect_parse_error(&bad, "counter", "m.jsonl:1:");
  hist_t badread = {0};
  whole(&badread, 0, "ok", "read", NULL, "[1]");
  expect_parse_error(&badread, "counter", "m.jsonl:2:");
  hist_t huge = {0};
  whole(&huge, 0, "ok", "add", "9223372036854775807", NULL);
  whole(&huge, 0, "ok", "add", "9223372036854775807", NULL);
  whole(&huge, 1, "ok", "read", NULL, "1");
  expect_parse_error(&huge, "counter", "m.jsonl:");
}

/* ---- recovery and phases ------------------------------------------------------------
 */

#define S 1000000000L

static void test_recovery(void **state) {
  hist_t h = {0};
  whole(&h, 0, "fail", "read", NULL, NULL); /* before the heal: ignored */
  op(&h, 0, "invoke", "read", NULL, 10 * S);
  op(&h, 0, "fail", "read", NULL, 11 * S);
  op(&h, 0, "invoke", "read", NULL, 11 * S);
  op(&h, 0, "ok", "read", "1", 12 * S);
  op(&h, 0, "invoke", "read", NULL, 12 * S);
  op(&h, 0, "info", "read", NULL, 13 * S);
  op(&h, 1, "invoke", "read", NULL, 13 * S);
  op(&h, 1, "ok", "read", "1", 14 * S);
  op(&h, 1, "invoke", "read", NULL, 14 * S);
  op(&h, 1, "ok", "read", "1", 15 * S);
  op(&h, 1, "invoke", "read", NULL, 15 * S);
  op(&h, 1, "ok", "read", "1", 16 * S);
  fl_ops_t *ops = parse(&h);
  json_t *r;
  fl_err_t err;
  assert_int_equal(fl_check_recovery(ops, 10 * S, 3, 0, &r, &err), 0);
  assert_true(json_is_true(json_object_get(r, "recovered")));
  assert_true(json_is_true(json_object_get(r, "valid")));
  assert_int_equal(geti(r, "recovery_ns"), 4 * S);
  assert_int_equal(geti(r, "failures_after_heal"), 2);
  assert_int_equal(geti(json_object_get(r, "first_ok"), "complete_ns"), 14 * S);
  json_decref(r);
  /* Against a limit. */
  assert_int_equal(fl_check_recovery(ops, 10 * S, 3, 2.5, &r, &err), 0);
  assert_true(json_is_false(json_object_get(r, "valid")));
  json_decref(r);
  /* A run longer than what happened: never. */
  assert_int_equal(fl_check_recovery(ops, 10 * S, 4, 0, &r, &err), 0);
  assert_true(json_is_false(json_object_get(r, "recovered")));
  assert_string_equal(json_string_value(json_object_get(r, "recovery_ns")), "never");
  assert_true(json_is_null(json_object_get(r, "recovery_s")));
  json_decref(r);
  assert_int_equal(fl_check_recovery(ops, 10 * S, 0, 0, &r, &err), FL_EUSAGE);
  fl_ops_free(ops);
}

static void test_phases(void **state) {
  hist_t h = {0};
  /* Before: 4 ok ops of 1, 2, 3, 4 ms. */
  for (int i = 0; i < 4; i++) {
    op(&h, 0, "invoke", "read", NULL, (long)i * S);
    op(&h, 0, "ok", "read", "1", (long)i * S + (i + 1) * 1000000L);
  }
  /* During: one ok of 100 ms, one fail, one info, one that never ends. */
  op(&h, 0, "invoke", "read", NULL, 10 * S);
  op(&h, 0, "ok", "read", "1", 10 * S + 100000000L);
  op(&h, 0, "invoke", "read", NULL, 11 * S);
  op(&h, 0, "fail", "read", NULL, 11 * S + 1000);
  op(&h, 1, "invoke", "read", NULL, 12 * S);
  op(&h, 1, "info", "read", NULL, 13 * S);
  op(&h, 2, "invoke", "read", NULL, 14 * S);
  fl_ops_t *ops = parse(&h);
  fl_phase_t ph[] = {
      {"before", 0, 10 * S}, {"during", 10 * S, 20 * S}, {"after", 20 * S, UINT64_MAX}};
  json_t *r;
  fl_err_t err;
  assert_int_equal(fl_check_phases(ops, ph, 3, &r, &err), 0);
  json_t *list = json_object_get(r, "phases");
  assert_int_equal(json_array_size(list), 3);
  json_t *b = json_array_get(list, 0), *d = json_array_get(list, 1),
         *a = json_array_get(list, 2);
  assert_int_equal(geti(b, "ok"), 4);
  assert_int_equal(geti(b, "total"), 4);
  json_t *lat = json_object_get(b, "latency_ms");
  assert_true(json_real_value(json_object_get(lat, "p50")) == 2.0);
  assert_true(json_real_value(json_object_get(lat, "p99")) == 4.0);
  assert_true(json_real_value(json_object_get(lat, "max")) == 4.0);
  assert_true(json_real_value(json_object_get(b, "ok_per_s")) == 0.4);
  assert_true(json_real_value(json_object_get(b, "availability")) == 1.0);
  assert_int_equal(geti(d, "ok"), 1);
  assert_int_equal(geti(d, "fail"), 1);
  assert_int_equal(geti(d, "info"), 2);
  assert_true(json_real_value(json_object_get(d, "availability")) == 0.25);
  assert_int_equal(geti(a, "total"), 0);
  assert_true(json_is_null(json_object_get(a, "latency_ms")));
  assert_true(json_is_null(json_object_get(a, "availability")));
  assert_true(json_is_null(json_object_get(a, "end_s")));
  json_decref(r);
  fl_phase_t bad[] = {{"x", 5, 4}};
  assert_int_equal(fl_check_phases(ops, bad, 1, &r, &err), FL_EUSAGE);
  fl_ops_free(ops);
}

/* ---- fl_check_file ---------------------------------------------------------------- */

static void test_check_file(void **state) {
  char path[] = "/tmp/fl-check-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  hist_t h = {0};
  whole(&h, 0, "ok", "write", "1", NULL);
  whole(&h, 1, "ok", "read", NULL, "1");
  assert_int_equal(write(fd, h.buf, h.len), (ssize_t)h.len);
  close(fd);
  json_t *r;
  fl_err_t err;
  assert_int_equal(fl_check_file(path, "register", 10, &r, &err), 0);
  assert_int_equal(fl_check_status(r), FL_CHECK_VALID);
  assert_string_equal(json_string_value(json_object_get(r, "file")), path);
  assert_true(json_is_real(json_object_get(r, "parse_s")));
  json_decref(r);
  assert_int_equal(fl_check_file(path, "bogus", 10, &r, &err), FL_EUSAGE);
  assert_non_null(strstr(err.msg, "bogus"));
  assert_true(fl_check_model_known("kv"));
  assert_false(fl_check_model_known("bogus"));
  unlink(path);
  assert_true(fl_check_file(path, "kv", 10, &r, &err) < 0);
}

/* The table of models (models.c): every row complete, found by its name,
 * listed in the messages, and its checker run on a history of its kind. */
static void test_model_table(void **state) {
  size_t n;
  const fl_check_model_t *m = fl_check_models(&n);
  assert_true(n >= 5);
  static const char *const want[] = {"register", "cas-register", "kv", "set", "counter"};
  for (size_t i = 0; i < 5; i++)
    assert_string_equal(m[i].name, want[i]);
  char names[256];
  assert_string_equal(
      fl_check_model_names(names, sizeof(names), ", ", " or "),
      "register, cas-register, kv, set, counter, list-append or rw-register");
  fl_check_model_names(names, 12, "|", "|");
  assert_string_equal(names, "register|ca"); /* cut to fit */
  hist_t h = {0};
  whole(&h, 1, "ok", "add", "1", NULL);
  whole(&h, 1, "ok", "read", NULL, "[1]");
  hist_t c = {0};
  whole(&c, 1, "ok", "add", "1", NULL);
  whole(&c, 1, "ok", "read", NULL, "1");
  hist_t r = {0};
  whole(&r, 1, "ok", "write", "1", NULL);
  whole(&r, 1, "ok", "read", NULL, "1");
  hist_t la = {0};
  whole(&la, 1, "ok", "txn", "[[\"append\",\"x\",1],[\"r\",\"x\",null]]",
        "[[\"append\",\"x\",1],[\"r\",\"x\",[1]]]");
  hist_t rw = {0};
  whole(&rw, 1, "ok", "txn", "[[\"w\",\"x\",1],[\"r\",\"x\",null]]",
        "[[\"w\",\"x\",1],[\"r\",\"x\",1]]");
  for (size_t i = 0; i < n; i++) {
    assert_non_null(m[i].lua);
    assert_true(m[i].summary[0] != '\0' && m[i].ops[0] != '\0');
    assert_non_null(strstr(m[i].options, "history"));
    assert_ptr_equal(fl_check_model_find(m[i].name), &m[i]);
    assert_true(fl_check_model_known(m[i].name));
    const hist_t *fit = strcmp(m[i].name, "set") == 0           ? &h
                        : strcmp(m[i].name, "counter") == 0     ? &c
                        : strcmp(m[i].name, "list-append") == 0 ? &la
                        : strcmp(m[i].name, "rw-register") == 0 ? &rw
                                                                : &r;
    json_t *res = run(fit, m[i].name);
    assert_int_equal(fl_check_status(res), FL_CHECK_VALID);
    assert_string_equal(json_string_value(json_object_get(res, "model")), m[i].name);
    json_decref(res);
  }
  assert_null(fl_check_model_find("bogus"));
  assert_null(fl_check_model_find(NULL));
  assert_false(fl_check_model_known("bogus"));
  fl_ops_t *ops = parse(&r);
  json_t *res = NULL;
  fl_err_t err;
  fl_err_clear(&err);
  assert_int_equal(fl_check_ops(ops, "bogus", NULL, &res, &err), FL_EUSAGE);
  assert_string_equal(
      err.msg,
      "unknown model \"bogus\" (register, cas-register, kv, set, counter, list-append "
      "or rw-register)");
  fl_ops_free(ops);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model_table),
      cmocka_unit_test(test_set_valid),
      cmocka_unit_test(test_set_lost_unexpected_dups),
      cmocka_unit_test(test_set_indeterminate),
      cmocka_unit_test(test_set_concurrent_and_final),
      cmocka_unit_test(test_set_unknown_and_errors),
      cmocka_unit_test(test_set_keys),
      cmocka_unit_test(test_counter),
      cmocka_unit_test(test_counter_indeterminate),
      cmocka_unit_test(test_counter_concurrent_and_negative),
      cmocka_unit_test(test_counter_unknown_and_errors),
      cmocka_unit_test(test_recovery),
      cmocka_unit_test(test_phases),
      cmocka_unit_test(test_check_file),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
