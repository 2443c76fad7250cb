/* The transactional checker's streaming reader (check/txn_read.c,
 * fl_txn_check_file): the same result as the checker on jansson trees
 * (fl_history_read + fl_txn_check) for histories that take the fast path
 * and the general one; its errors, each naming the file, the line and the
 * field; report ops whose values are read again from their lines; EDN. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "check/check.h"
#include "check/txn.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char dir[64];

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/fl-txn-read.XXXXXX");
  return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

/* Writes text (' for ") to DIR/name; returns the path (static). */
static const char *file(const char *name, const char *text) {
  static char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  for (const char *c = text; *c; c++)
    fputc(*c == '\'' ? '"' : *c, f);
  fclose(f);
  return path;
}

static void drop_timings(json_t *r) {
  json_object_del(r, "elapsed_s");
  json_object_del(r, "parse_s");
  json_object_del(r, "file");
}

/* Both readers on path: the same result (returned, new). */
static json_t *both(const char *path, const char *model, const fl_check_opts_t *copts) {
  fl_err_t err;
  fl_err_clear(&err);
  json_t *a = NULL, *b = NULL;
  if (fl_txn_check_file(path, model, copts, &a, &err) != 0)
    fail_msg("streaming: %s", err.msg);
  fl_ops_t *ops;
  assert_int_equal(fl_history_read(&ops, path, &err), 0);
  assert_int_equal(fl_check_ops(ops, model, copts, &b, &err), 0);
  fl_ops_free(ops);
  assert_non_null(json_object_get(a, "parse_s"));
  assert_string_equal(json_string_value(json_object_get(a, "file")), path);
  drop_timings(a);
  drop_timings(b);
  if (!json_equal(a, b)) {
    char *x = json_dumps(a, JSON_SORT_KEYS), *y = json_dumps(b, JSON_SORT_KEYS);
    fail_msg("%s differs:\n%s\n%s", path, x, y);
  }
  json_decref(b);
  return a;
}

#define INV(p, v, t)                                                                     \
  "{'process':" #p ",'type':'invoke','f':'txn','value':" v ",'time':" #t "}\n"
#define DONE(p, ty, v, t)                                                                \
  "{'process':" #p ",'type':'" ty "','f':'txn','value':" v ",'time':" #t "}\n"

/* Fast and general paths alike: plain and escaped strings, integer and
 * string keys, {} for an empty list, reals, a failed and an indeterminate
 * transaction, one never completed, one whose completion carries no value,
 * one whose invoke carries none; a diverging read (incompatible orders) and
 * a read with an element twice. */
static void test_same_as_trees(void **state) {
  (void)state;
  static const char *const histories[] = {
      /* G1c among plain values */
      INV(1, "[['append','x',1],['r','y',null]]", 1)
          INV(2, "[['append','y',2],['r','x',null]]", 2)
              DONE(2, "ok", "[['append','y',2],['r','x',[1]]]", 3)
                  DONE(1, "ok", "[['append','x',1],['r','y',[2]]]", 4),
      /* escapes, non-ASCII, {} and a real: the general path */
      INV(1, "[['append','k\\u00e9',1.5],['append','q\\'x',2]]",
          1) DONE(1, "ok", "[['append','k\\u00e9',1.5],['append','q\\'x',2]]", 2)
          INV(2, "[['r','q\\'x',null],['r','k\u00e9',null],['r','z',null]]", 3)
              DONE(2, "ok", "[['r','q\\'x',[2]],['r','k\u00e9',[1.5]],['r','z',{}]]", 4),
      /* failed, indeterminate, never completed, no value at either end */
      INV(1, "[['append',7,1]]", 1) DONE(1, "fail", "null", 2)
          INV(2, "[['append',7,2]]",
              3) "{'process':2,'type':'info','f':'txn','time':4}\n" INV(3, "null", 5)
              DONE(3, "ok", "[['r',7,[1,2]],['append',7,3]]", 6)
                  INV(4, "[['append',7,4]]", 7),
      /* diverging reads, a repeated element, big and negative values */
      INV(1, "[['append','a',1],['append','a',2],['append','a',3]]",
          1) DONE(1, "ok", "[['append','a',1],['append','a',2],['append','a',3]]", 2)
          INV(2, "[['r','a',null]]", 3) DONE(2, "ok", "[['r','a',[1,2]]]", 4)
              INV(3, "[['r','a',null]]", 5) DONE(3, "ok", "[['r','a',[1,3,2]]]", 6)
                  INV(4, "[['r','a',null]]", 7) DONE(4, "ok", "[['r','a',[1,2,3,3]]]", 8)
                      INV(5, "[['append',-1,9999999999],['r',-1,null]]", 9)
                          DONE(5, "ok",
                               "[['append',-1,9999999999],['r',-1,[9999999999]]]", 10),
  };
  fl_check_opts_t copts = {.consistency = "strict-serializable", .process = 1};
  for (size_t i = 0; i < N(histories); i++) {
    char name[32];
    snprintf(name, sizeof(name), "same%zu.jsonl", i);
    json_t *r = both(file(name, histories[i]), "list-append", &copts);
    assert_true(json_is_boolean(json_object_get(r, "valid")));
    if (i == 3) {
      const json_t *counts = json_object_get(r, "counts");
      assert_non_null(json_object_get(counts, "incompatible-order"));
      assert_non_null(json_object_get(counts, "duplicate-elements"));
    }
    json_decref(r);
  }
  /* rw-register, both ways */
  const char *rw = INV(1, "[['w','x',1]]", 1) DONE(1, "ok", "[['w','x',1]]", 2)
      INV(2, "[['r','x',null],['w','x',2]]", 3)
          DONE(2, "ok", "[['r','x',1],['w','x',2]]", 4)
              INV(3, "[['r','x',null],['r','y',null]]", 5)
                  DONE(3, "ok", "[['r','x',2],['r','y',null]]", 6);
  json_decref(both(file("rw.jsonl", rw), "rw-register", NULL));
}

/* The ops of a witness cycle carry what the transactions did and read,
 * read again from their lines. */
static void test_report_values(void **state) {
  (void)state;
  const char *h = INV(1, "[['append','x',1],['r','y',null]]", 1)
      INV(2, "[['append','y',2],['r','x',null]]", 2)
          DONE(2, "ok", "[['append','y',2],['r','x',[1]]]", 3)
              DONE(1, "ok", "[['append','x',1],['r','y',[2]]]", 4);
  json_t *r = both(file("g1c.jsonl", h), "list-append", NULL);
  const json_t *w =
      json_array_get(json_object_get(json_object_get(r, "anomalies"), "G1c"), 0);
  assert_non_null(w);
  const json_t *op = json_array_get(json_object_get(w, "cycle"), 0);
  const json_t *v = json_object_get(op, "value");
  assert_true(json_is_array(v) && json_array_size(v) == 2);
  assert_true(
      json_is_array(json_array_get(json_array_get(v, 1), 2))); /* a read, filled */
  json_decref(r);
}

/* Each bad input: FL_EPARSE and "file:line: what". */
static void test_errors(void **state) {
  (void)state;
  static const struct {
    const char *text, *want;
  } cases[] = {
      {INV(1, "[]", 1)
           DONE(1, "ok", "[]", 2) "{'process':1,'type':'invoke','f':'read','value':null,"
                                  "'time':3}\n",
       ":3: f is \"read\": a transactional history holds only \"txn\" operations"},
      {INV(1, "5", 1) DONE(1, "ok", "5", 2), ":1: a transaction's value is a list"},
      {INV(1, "[['append','x']]", 1) DONE(1, "ok", "[['append','x']]", 2),
       ":2: a list-append micro-operation is [\"append\", key, value]"},
      {INV(1, "[['w','x',1]]", 1), ":1: a list-append micro-operation"},
      {INV(1, "[['r','x',null]]", 1) DONE(1, "ok", "[['r','x',3]]", 2),
       ":2: a list-append read is a list, not a single value"},
      {INV(1, "[['r','x',null]]", 1) DONE(1, "ok", "[['r','x',{'a':1}]]", 2),
       ":2: a list-append read is a list, not an object"},
      {INV(1, "null", 1), ":1: a transaction's value is a list"},
      {INV(1, "[['r','x',null]]", 1) DONE(1, "ok", "[['r','x',[1,]]]", 2),
       ":2: bad JSON"},
      {INV(1, "[['r','x',null]]", 1) DONE(2, "ok", "[['r','x',[1]]]", 2),
       ":2: \"ok\" completion of \"txn\" for process 2"},
  };
  for (size_t i = 0; i < N(cases); i++) {
    char name[32], want[160];
    snprintf(name, sizeof(name), "bad%zu.jsonl", i);
    const char *path = file(name, cases[i].text);
    snprintf(want, sizeof(want), "%s%s", name, cases[i].want);
    fl_err_t err;
    fl_err_clear(&err);
    json_t *out = NULL;
    int r = fl_txn_check_file(path, "list-append", NULL, &out, &err);
    if (r != FL_EPARSE || strstr(err.msg, want) == NULL)
      fail_msg("case %zu: %d \"%s\", want \"%s\"", i, r, err.msg, want);
    assert_null(out);
  }
  fl_err_t err;
  fl_err_clear(&err);
  json_t *out = NULL;
  char missing[128];
  snprintf(missing, sizeof(missing), "%s/none.jsonl", dir);
  assert_true(fl_txn_check_file(missing, "list-append", NULL, &out, &err) < 0);
  assert_non_null(strstr(err.msg, "none.jsonl"));
  fl_check_opts_t bad = {.consistency = "serialisable"};
  assert_int_equal(fl_txn_check_file(file("ok.jsonl", INV(1, "[]", 1)), "list-append",
                                     &bad, &out, &err),
                   FL_EUSAGE);
}

/* Jepsen's EDN: converted, streamed; witness values read from the
 * converted text. */
static void test_edn(void **state) {
  (void)state;
  const char *edn =
      "[{:type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil] [:append :x 1]], "
      ":process 0, :time 1}\n"
      "{:type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil] [:append :y 2]], "
      ":process 1, :time 2}\n"
      "{:type :ok, :f :txn, :value [[:r :x []] [:r :y []] [:append :x 1]], :process 0, "
      ":time 3}\n"
      "{:type :ok, :f :txn, :value [[:r :x []] [:r :y []] [:append :y 2]], :process 1, "
      ":time 4}\n"
      "{:type :invoke, :f :txn, :value [[:r :x nil] [:r :y nil]], :process 2, :time 5}\n"
      "{:type :ok, :f :txn, :value [[:r :x [1]] [:r :y [2]]], :process 2, :time 6}]\n";
  fl_check_opts_t copts = {.edn = 1};
  fl_err_t err;
  fl_err_clear(&err);
  json_t *r = NULL;
  assert_int_equal(
      fl_txn_check_file(file("skew.edn", edn), "list-append", &copts, &r, &err), 0);
  assert_true(json_is_false(json_object_get(r, "valid")));
  const json_t *w =
      json_array_get(json_object_get(json_object_get(r, "anomalies"), "G2-item"), 0);
  const json_t *v =
      json_object_get(json_array_get(json_object_get(w, "cycle"), 0), "value");
  assert_int_equal(json_array_size(v), 3);
  assert_string_equal(json_string_value(json_array_get(json_array_get(v, 2), 0)),
                      "append");
  json_decref(r);
  assert_int_equal(fl_txn_check_file(file("cut.edn", "[{:type :invoke"), "list-append",
                                     &copts, &r, &err),
                   FL_EPARSE);
  assert_non_null(strstr(err.msg, "cut.edn:1:"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_as_trees),
      cmocka_unit_test(test_report_values),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_edn),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
