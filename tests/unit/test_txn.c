/* The transactional checker (check/txn.h): each anomaly in the smallest
 * history that shows it beside its near-miss twin that does not, the
 * consistency models' verdicts, bad input, and properties: serial histories
 * are valid at every model, a planted stale read is always found. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "check/check.h"
#include "check/txn.h"

/* One transaction: process, outcome, invoke and completion times, and its
 * micro-ops in JSON with ' for " (the completion's; the invoke gets the
 * same). */
typedef struct {
  int p;
  const char *type;
  long t0, t1;
  const char *txn;
} spec_t;

typedef struct {
  long t;
  int complete;
  const spec_t *s;
} ev_t;

static int ev_cmp(const void *a, const void *b) {
  const ev_t *x = a, *y = b;
  if (x->t != y->t)
    return x->t < y->t ? -1 : 1;
  return x->complete - y->complete;
}

static char *quotes(const char *s) {
  char *d = fl_strdup(s);
  for (char *c = d; *c; c++)
    if (*c == '\'')
      *c = '"';
  return d;
}

static fl_ops_t *history(const spec_t *s, size_t n) {
  ev_t *ev = fl_calloc(2 * n, sizeof(*ev));
  for (size_t i = 0; i < n; i++) {
    ev[2 * i] = (ev_t){s[i].t0, 0, &s[i]};
    ev[2 * i + 1] = (ev_t){s[i].t1, 1, &s[i]};
  }
  qsort(ev, 2 * n, sizeof(*ev), ev_cmp);
  size_t cap = 1 << 20, len = 0;
  char *buf = fl_malloc(cap);
  for (size_t i = 0; i < 2 * n; i++) {
    char *v = quotes(ev[i].s->txn);
    len += (size_t)snprintf(buf + len, cap - len,
                            "{\"process\":%d,\"type\":\"%s\",\"f\":\"txn\",\"value\":%s,"
                            "\"time\":%ld}\n",
                            ev[i].s->p, ev[i].complete ? ev[i].s->type : "invoke", v,
                            ev[i].t);
    fl_free(v);
  }
  fl_ops_t *ops;
  fl_err_t err;
  fl_err_clear(&err);
  if (fl_history_parse(&ops, buf, len, "t.jsonl", &err) != 0)
    fail_msg("%s\n%s", err.msg, buf);
  fl_free(buf);
  fl_free(ev);
  return ops;
}

static json_t *check(const spec_t *s, size_t n, fl_txn_model_t model, fl_txn_cm_t cm,
                     int realtime) {
  fl_ops_t *ops = history(s, n);
  fl_txn_opts_t o = {.model = model, .consistency = cm, .realtime = realtime};
  json_t *out = NULL;
  fl_err_t err;
  fl_err_clear(&err);
  if (fl_txn_check(ops, &o, &out, &err) != 0)
    fail_msg("%s", err.msg);
  fl_ops_free(ops);
  return out;
}

static int has(const json_t *r, const char *type) {
  return json_object_get(json_object_get(r, "anomalies"), type) != NULL;
}

/* Exactly `type` is found in `bad` (and the check fails at serializable),
 * nothing in `good`. */
static void pair(const spec_t *bad, size_t nb, const spec_t *good, size_t ng,
                 const char *type, fl_txn_model_t model) {
  json_t *r = check(bad, nb, model, FL_CM_SERIALIZABLE, 0);
  if (!has(r, type))
    fail_msg("%s not found: %s", type, json_dumps(r, 0));
  assert_true(json_is_false(json_object_get(r, "valid")));
  const json_t *w =
      json_array_get(json_object_get(json_object_get(r, "anomalies"), type), 0);
  assert_non_null(json_string_value(json_object_get(w, "explanation")));
  json_decref(r);
  r = check(good, ng, model, FL_CM_SERIALIZABLE, 0);
  if (json_array_size(json_object_get(r, "anomaly_types")) != 0)
    fail_msg("near miss of %s flagged: %s", type, json_dumps(r, 0));
  assert_true(json_is_true(json_object_get(r, "valid")));
  json_decref(r);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_g0(void **state) {
  (void)state;
  spec_t bad[] = {{1, "ok", 1, 2, "[['append','x',1],['append','y',1]]"},
                  {2, "ok", 3, 4, "[['append','x',2],['append','y',2]]"},
                  {3, "ok", 5, 6, "[['r','x',[1,2]],['r','y',[2,1]]]"}};
  spec_t good[] = {{1, "ok", 1, 2, "[['append','x',1],['append','y',1]]"},
                   {2, "ok", 3, 4, "[['append','x',2],['append','y',2]]"},
                   {3, "ok", 5, 6, "[['r','x',[1,2]],['r','y',[1,2]]]"}};
  pair(bad, N(bad), good, N(good), "G0", FL_TXN_LIST_APPEND);
}

static void test_g1c(void **state) {
  (void)state;
  spec_t bad[] = {{1, "ok", 1, 4, "[['append','x',1],['r','y',[2]]]"},
                  {2, "ok", 2, 3, "[['append','y',2],['r','x',[1]]]"}};
  spec_t good[] = {{1, "ok", 1, 4, "[['append','x',1],['r','y',[2]]]"},
                   {2, "ok", 2, 3, "[['append','y',2],['r','x',[]]]"}};
  pair(bad, N(bad), good, N(good), "G1c", FL_TXN_LIST_APPEND);
}

static void test_g_single(void **state) {
  (void)state;
  spec_t bad[] = {{1, "ok", 1, 4, "[['append','x',1],['append','y',1]]"},
                  {2, "ok", 2, 3, "[['r','x',[1]],['r','y',[]]]"},
                  {3, "ok", 5, 6, "[['r','y',[1]]]"}};
  spec_t good[] = {{1, "ok", 1, 4, "[['append','x',1],['append','y',1]]"},
                   {2, "ok", 2, 3, "[['r','x',[1]],['r','y',[1]]]"}};
  pair(bad, N(bad), good, N(good), "G-single", FL_TXN_LIST_APPEND);
  /* read skew is forbidden by snapshot isolation, allowed by read committed */
  json_t *r = check(bad, N(bad), FL_TXN_LIST_APPEND, FL_CM_SNAPSHOT_ISOLATION, 0);
  assert_true(json_is_false(json_object_get(r, "valid")));
  json_decref(r);
  r = check(bad, N(bad), FL_TXN_LIST_APPEND, FL_CM_READ_COMMITTED, 0);
  assert_true(json_is_true(json_object_get(r, "valid")));
  assert_string_equal(json_string_value(json_array_get(json_object_get(r, "allowed"), 0)),
                      "G-single");
  json_decref(r);
}

static void test_g2_item(void **state) {
  (void)state;
  spec_t bad[] = {{1, "ok", 1, 3, "[['r','x',[]],['r','y',[]],['append','x',1]]"},
                  {2, "ok", 2, 4, "[['r','x',[]],['r','y',[]],['append','y',2]]"},
                  {3, "ok", 5, 6, "[['r','x',[1]],['r','y',[2]]]"}};
  spec_t good[] = {{1, "ok", 1, 3, "[['r','x',[]],['r','y',[]],['append','x',1]]"},
                   {2, "ok", 2, 4, "[['r','x',[1]],['r','y',[]],['append','y',2]]"},
                   {3, "ok", 5, 6, "[['r','x',[1]],['r','y',[2]]]"}};
  pair(bad, N(bad), good, N(good), "G2-item", FL_TXN_LIST_APPEND);
  json_t *r = check(bad, N(bad), FL_TXN_LIST_APPEND, FL_CM_SNAPSHOT_ISOLATION, 0);
  assert_true(json_is_true(json_object_get(r, "valid"))); /* write skew: SI allows it */
  assert_false(has(r, "G-single"));
  json_decref(r);
  r = check(bad, N(bad), FL_TXN_LIST_APPEND, FL_CM_REPEATABLE_READ, 0);
  assert_true(json_is_false(json_object_get(r, "valid")));
  json_decref(r);
}

static void test_g1a_g1b(void **state) {
  (void)state;
  spec_t a[] = {{1, "fail", 1, 2, "[['append','x',1]]"},
                {2, "ok", 3, 4, "[['r','x',[1]]]"}};
  spec_t a_ok[] = {{1, "ok", 1, 2, "[['append','x',1]]"},
                   {2, "ok", 3, 4, "[['r','x',[1]]]"}};
  pair(a, N(a), a_ok, N(a_ok), "G1a", FL_TXN_LIST_APPEND);
  spec_t b[] = {{1, "ok", 1, 4, "[['append','x',1],['append','x',2]]"},
                {2, "ok", 2, 3, "[['r','x',[1]]]"}};
  spec_t b_ok[] = {{1, "ok", 1, 4, "[['append','x',1],['append','x',2]]"},
                   {2, "ok", 5, 6, "[['r','x',[1,2]]]"}};
  pair(b, N(b), b_ok, N(b_ok), "G1b", FL_TXN_LIST_APPEND);
}

static void test_data_anomalies(void **state) {
  (void)state;
  spec_t in[] = {{1, "ok", 1, 2, "[['append','x',1],['r','x',[]]]"}};
  spec_t in_ok[] = {{1, "ok", 1, 2, "[['append','x',1],['r','x',[1]]]"}};
  pair(in, N(in), in_ok, N(in_ok), "internal", FL_TXN_LIST_APPEND);
  spec_t g[] = {{1, "ok", 1, 2, "[['append','x',1]]"},
                {2, "ok", 3, 4, "[['r','x',[1,9]]]"}};
  spec_t g_ok[] = {{1, "ok", 1, 2, "[['append','x',1],['append','x',9]]"},
                   {2, "ok", 3, 4, "[['r','x',[1,9]]]"}};
  pair(g, N(g), g_ok, N(g_ok), "garbage-read", FL_TXN_LIST_APPEND);
  spec_t d[] = {{1, "ok", 1, 2, "[['append','x',1]]"},
                {2, "ok", 3, 4, "[['append','x',1]]"}};
  spec_t d_ok[] = {{1, "ok", 1, 2, "[['append','x',1]]"},
                   {2, "ok", 3, 4, "[['append','x',2]]"}};
  pair(d, N(d), d_ok, N(d_ok), "duplicate-appends", FL_TXN_LIST_APPEND);
  spec_t o[] = {{1, "ok", 1, 2, "[['append','x',1]]"},
                {2, "ok", 1, 2, "[['append','x',2]]"},
                {3, "ok", 3, 4, "[['r','x',[1,2]]]"},
                {4, "ok", 3, 4, "[['r','x',[2]]]"}};
  spec_t o_ok[] = {{1, "ok", 1, 2, "[['append','x',1]]"},
                   {2, "ok", 1, 2, "[['append','x',2]]"},
                   {3, "ok", 3, 4, "[['r','x',[1,2]]]"},
                   {4, "ok", 3, 4, "[['r','x',[1]]]"}};
  pair(o, N(o), o_ok, N(o_ok), "incompatible-order", FL_TXN_LIST_APPEND);
}

static void test_rw_register(void **state) {
  (void)state;
  spec_t bad[] = {
      {1, "ok", 1, 2, "[['r','x',null],['w','x',1],['r','y',null],['w','y',1]]"},
      {2, "ok", 3, 5, "[['r','x',1],['w','x',2],['r','y',1],['w','y',2]]"},
      {3, "ok", 4, 6, "[['r','x',2],['r','y',1]]"}};
  spec_t good[] = {
      {1, "ok", 1, 2, "[['r','x',null],['w','x',1],['r','y',null],['w','y',1]]"},
      {2, "ok", 3, 5, "[['r','x',1],['w','x',2],['r','y',1],['w','y',2]]"},
      {3, "ok", 4, 6, "[['r','x',2],['r','y',2]]"}};
  pair(bad, N(bad), good, N(good), "G-single", FL_TXN_RW_REGISTER);
  spec_t a[] = {{1, "fail", 1, 2, "[['w','x',1]]"}, {2, "ok", 3, 4, "[['r','x',1]]"}};
  spec_t a_ok[] = {{1, "ok", 1, 2, "[['w','x',1]]"}, {2, "ok", 3, 4, "[['r','x',1]]"}};
  pair(a, N(a), a_ok, N(a_ok), "G1a", FL_TXN_RW_REGISTER);
}

/* A read that missed a write which completed before it began: fine for
 * serializable, a G-single-realtime for strict serializability. */
static void test_realtime(void **state) {
  (void)state;
  spec_t s[] = {{1, "ok", 1, 2, "[['append','x',1]]"},
                {2, "ok", 3, 4, "[['r','x',[]]]"},
                {3, "ok", 5, 6, "[['r','x',[1]]]"}}; /* the order of x: [1] */
  json_t *r = check(s, N(s), FL_TXN_LIST_APPEND, FL_CM_SERIALIZABLE, 0);
  assert_true(json_is_true(json_object_get(r, "valid")));
  json_decref(r);
  r = check(s, N(s), FL_TXN_LIST_APPEND, FL_CM_STRICT_SERIALIZABLE, 0);
  assert_true(json_is_false(json_object_get(r, "valid")));
  assert_true(has(r, "G-single-realtime"));
  json_decref(r);
  r = check(s, N(s), FL_TXN_LIST_APPEND, FL_CM_SERIALIZABLE, 1);
  assert_true(json_is_true(json_object_get(r, "valid"))); /* found, allowed */
  assert_true(has(r, "G-single-realtime"));
  json_decref(r);
  spec_t c[] = {{1, "ok", 1, 4, "[['append','x',1]]"},
                {2, "ok", 3, 5, "[['r','x',[]]]"},
                {3, "ok", 6, 7, "[['r','x',[1]]]"}};
  r = check(c, N(c), FL_TXN_LIST_APPEND, FL_CM_STRICT_SERIALIZABLE, 0);
  assert_true(json_is_true(json_object_get(r, "valid"))); /* concurrent: either order */
  json_decref(r);
}

static void test_bad_input(void **state) {
  (void)state;
  const char *lines[] = {
      "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":1}\n",
      "{\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"w\",\"x\",1]],"
      "\"time\":1}\n",
      "{\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":5,\"time\":1}\n",
      "{\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"append\",\"x\"]],"
      "\"time\":1}\n"};
  for (size_t i = 0; i < N(lines); i++) {
    fl_ops_t *ops;
    fl_err_t err;
    fl_err_clear(&err);
    assert_int_equal(fl_history_parse(&ops, lines[i], strlen(lines[i]), "b.jsonl", &err),
                     0);
    fl_txn_opts_t o = {.model = FL_TXN_LIST_APPEND, .consistency = FL_CM_NONE};
    json_t *out = NULL;
    assert_int_equal(fl_txn_check(ops, &o, &out, &err), FL_EPARSE);
    assert_non_null(strstr(err.msg, "b.jsonl:1:"));
    assert_null(out);
    fl_ops_free(ops);
  }
  assert_int_equal(fl_txn_cm_parse("snapshot-isolation"), FL_CM_SNAPSHOT_ISOLATION);
  assert_int_equal(fl_txn_cm_parse("serialisable"), FL_CM_NONE);
  assert_true(fl_txn_cm_forbids(FL_CM_SERIALIZABLE, "G2-item"));
  assert_false(fl_txn_cm_forbids(FL_CM_SNAPSHOT_ISOLATION, "G2-item"));
  assert_false(fl_txn_cm_forbids(FL_CM_REPEATABLE_READ, "G-single") == 0);
  assert_true(fl_txn_cm_forbids(FL_CM_READ_UNCOMMITTED, "garbage-read"));
}

/* ---- Properties ------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* A serial execution of n random transactions over k keys (each runs alone,
 * in time order), as JSONL. With plant, one read drops the last element it
 * should have seen (a stale read): *planted says whether one was. */
static fl_ops_t *serial_history(uint64_t seed, int n, int k, int plant, int *planted) {
  uint64_t s = seed * 2654435761u + 1;
  int len[16] = {0}, list[16][512];
  size_t cap = 8 << 20, off = 0;
  char *buf = fl_malloc(cap);
  int next = 1,
      target = plant ? (int)(rnd(&s) % (uint64_t)(n / 2)) : n; /* from here on */
  *planted = 0;
  for (int t = 0; t < n; t++) {
    char in[4096], out[8192];
    size_t il = 0, ol = 0;
    il += (size_t)snprintf(in + il, sizeof(in) - il, "[");
    ol += (size_t)snprintf(out + ol, sizeof(out) - ol, "[");
    int m = 1 + (int)(rnd(&s) % 4);
    for (int j = 0; j < m; j++) {
      int key = (int)(rnd(&s) % (uint64_t)k);
      const char *sep = j ? "," : "";
      if (rnd(&s) % 2 && len[key] < 500) {
        list[key][len[key]++] = next;
        il += (size_t)snprintf(in + il, sizeof(in) - il, "%s[\"append\",%d,%d]", sep, key,
                               next);
        ol += (size_t)snprintf(out + ol, sizeof(out) - ol, "%s[\"append\",%d,%d]", sep,
                               key, next++);
        continue;
      }
      int show = len[key];
      if (t >= target && show > 0 && !*planted && j == 0) {
        show--; /* stale: misses the latest append, committed before it began */
        *planted = 1;
      }
      il += (size_t)snprintf(in + il, sizeof(in) - il, "%s[\"r\",%d,null]", sep, key);
      ol += (size_t)snprintf(out + ol, sizeof(out) - ol, "%s[\"r\",%d,[", sep, key);
      for (int x = 0; x < show && ol < sizeof(out) - 16; x++)
        ol += (size_t)snprintf(out + ol, sizeof(out) - ol, "%s%d", x ? "," : "",
                               list[key][x]);
      ol += (size_t)snprintf(out + ol, sizeof(out) - ol, "]]");
    }
    snprintf(in + il, sizeof(in) - il, "]");
    snprintf(out + ol, sizeof(out) - ol, "]");
    int p = (int)(rnd(&s) % 5);
    off +=
        (size_t)snprintf(buf + off, cap - off,
                         "{\"process\":%d,\"type\":\"invoke\",\"f\":\"txn\",\"value\":%s,"
                         "\"time\":%d}\n{\"process\":%d,\"type\":\"ok\",\"f\":\"txn\","
                         "\"value\":%s,\"time\":%d}\n",
                         p, in, 10 * t + 1, p, out, 10 * t + 2);
  }
  /* a final read of every key, as Jepsen's tests end: it fixes the orders */
  char fin[16384];
  size_t fl = (size_t)snprintf(fin, sizeof(fin), "[");
  for (int key = 0; key < k; key++) {
    fl += (size_t)snprintf(fin + fl, sizeof(fin) - fl, "%s[\"r\",%d,[", key ? "," : "",
                           key);
    for (int x = 0; x < len[key]; x++)
      fl += (size_t)snprintf(fin + fl, sizeof(fin) - fl, "%s%d", x ? "," : "",
                             list[key][x]);
    fl += (size_t)snprintf(fin + fl, sizeof(fin) - fl, "]]");
  }
  snprintf(fin + fl, sizeof(fin) - fl, "]");
  off += (size_t)snprintf(buf + off, cap - off,
                          "{\"process\":9,\"type\":\"invoke\",\"f\":\"txn\",\"value\":[],"
                          "\"time\":%d}\n{\"process\":9,\"type\":\"ok\",\"f\":\"txn\","
                          "\"value\":%s,\"time\":%d}\n",
                          10 * n + 1, fin, 10 * n + 2);
  fl_ops_t *ops;
  fl_err_t err;
  fl_err_clear(&err);
  if (fl_history_parse(&ops, buf, off, "serial.jsonl", &err) != 0)
    fail_msg("%s", err.msg);
  fl_free(buf);
  return ops;
}

static void test_serial_valid_everywhere(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 40; seed++) {
    int planted;
    fl_ops_t *ops = serial_history(seed, 60, 1 + (int)(seed % 4), 0, &planted);
    for (int cm = 0; cm < FL_CM_COUNT; cm++) {
      fl_txn_opts_t o = {
          .model = FL_TXN_LIST_APPEND, .consistency = (fl_txn_cm_t)cm, .process = 1};
      json_t *out = NULL;
      fl_err_t err;
      fl_err_clear(&err);
      assert_int_equal(fl_txn_check(ops, &o, &out, &err), 0);
      if (json_array_size(json_object_get(out, "anomaly_types")) != 0)
        fail_msg("seed %llu, %s: %s", (unsigned long long)seed, fl_txn_cm_name(cm),
                 json_dumps(out, 0));
      json_decref(out);
    }
    fl_ops_free(ops);
  }
}

static void test_planted_stale_read_found(void **state) {
  (void)state;
  int found = 0;
  for (uint64_t seed = 1; seed <= 60; seed++) {
    int planted;
    fl_ops_t *ops = serial_history(seed, 40, 2, 1, &planted);
    fl_txn_opts_t o = {.model = FL_TXN_LIST_APPEND,
                       .consistency = FL_CM_STRICT_SERIALIZABLE};
    json_t *out = NULL;
    fl_err_t err;
    fl_err_clear(&err);
    assert_int_equal(fl_txn_check(ops, &o, &out, &err), 0);
    if (planted) {
      if (!json_is_false(json_object_get(out, "valid")))
        fail_msg("seed %llu: planted stale read not found", (unsigned long long)seed);
      found++;
    } else {
      assert_true(json_is_true(json_object_get(out, "valid")));
    }
    json_decref(out);
    fl_ops_free(ops);
  }
  assert_true(found >= 55); /* a plant needs a read of a non-empty key */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_g0),
      cmocka_unit_test(test_g1c),
      cmocka_unit_test(test_g_single),
      cmocka_unit_test(test_g2_item),
      cmocka_unit_test(test_g1a_g1b),
      cmocka_unit_test(test_data_anomalies),
      cmocka_unit_test(test_rw_register),
      cmocka_unit_test(test_realtime),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_serial_valid_everywhere),
      cmocka_unit_test(test_planted_stale_read_found),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
