/* history.jsonl: the writer, the reader, and the reader's messages on bad
 * input (file:line: what). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "check/gen.h"
#include "check/history.h"

static char *temp_path(void) {
  char tmpl[] = "/tmp/fl-history-XXXXXX";
  int fd = mkstemp(tmpl);
  assert_true(fd >= 0);
  close(fd);
  return strdup(tmpl);
}

static void test_write_read(void **state) {
  char *path = temp_path();
  fl_history_t *h;
  fl_err_t err;
  assert_int_equal(fl_history_open(&h, path, &err), 0);
  json_t *five = json_integer(5);
  json_t *text = json_string("a \"quoted\"\nline \xc3\xa9");
  json_t *cas = json_pack("[i,i]", 1, 2);
  assert_int_equal(fl_history_invoke(h, 3, "write", "x", five, 1000), 0);
  assert_int_equal(fl_history_invoke(h, 4, "read", NULL, NULL, 1100), 0);
  assert_int_equal(fl_history_complete(h, 3, "ok", "write", "x", five, 2000, NULL), 0);
  assert_int_equal(
      fl_history_complete(h, 4, "info", "read", NULL, NULL, 2100, "timed out"), 0);
  assert_int_equal(fl_history_invoke(h, 5, "write", "k\"ey", text, 3000), 0);
  assert_int_equal(fl_history_complete(h, 5, "fail", "write", "k\"ey", text, 3100,
                                       "bad \xff\xfe utf-8 \x01"),
                   0);
  assert_int_equal(fl_history_invoke(h, 6, "cas", "x", cas, 4000), 0);
  assert_int_equal(fl_history_complete(h, 6, "maybe", "cas", "x", cas, 4100, NULL),
                   -EINVAL);
  fl_history_flush(h);
  fl_history_close(h);
  fl_history_close(NULL);
  json_decref(five);
  json_decref(cas);

  fl_ops_t *ops;
  fl_err_clear(&err);
  int r = fl_history_read(&ops, path, &err);
  if (r != 0)
    fail_msg("%s", err.msg);
  assert_int_equal(ops->len, 4);
  assert_int_equal(ops->events, 7);
  assert_int_equal(ops->nkeys, 2);

  const fl_op_t *w = &ops->v[0];
  assert_int_equal(w->process, 3);
  assert_int_equal(w->type, FL_OP_OK);
  assert_int_equal(w->fk, FL_F_WRITE);
  assert_string_equal(w->key, "x");
  assert_int_equal(json_integer_value(w->value), 5);
  assert_int_equal(w->invoke_ns, 1000);
  assert_int_equal(w->complete_ns, 2000);
  assert_int_equal(w->invoke_line, 1);
  assert_int_equal(w->complete_line, 3);
  assert_int_equal(w->invoke_pos, 0);
  assert_int_equal(w->complete_pos, 2);

  const fl_op_t *rd = &ops->v[1];
  assert_int_equal(rd->type, FL_OP_INFO);
  assert_null(rd->key);
  assert_int_equal(rd->key_id, FL_NO_KEY);
  assert_true(json_is_null(rd->value));
  assert_string_equal(rd->error, "timed out");

  const fl_op_t *t = &ops->v[2];
  assert_int_equal(t->type, FL_OP_FAIL);
  assert_string_equal(t->key, "k\"ey");
  assert_true(json_equal(t->value, text));
  /* Invalid UTF-8 is replaced, so the file still parses. */
  assert_non_null(strstr(t->error, "bad \xef\xbf\xbd\xef\xbf\xbd utf-8 \x01"));

  /* The cas never completed (its completion was refused): info. */
  const fl_op_t *c = &ops->v[3];
  assert_int_equal(c->type, FL_OP_INFO);
  assert_int_equal(c->complete_line, 0);
  assert_int_equal(c->complete_pos, FL_NO_POS);
  assert_int_equal(c->complete_ns, UINT64_MAX);
  assert_int_equal(c->fk, FL_F_CAS);

  json_t *j = fl_op_to_json(c);
  assert_true(json_is_null(json_object_get(j, "complete_ns")));
  assert_string_equal(json_string_value(json_object_get(j, "type")), "info");
  json_decref(j);
  char buf[256];
  fl_op_describe(w, buf, sizeof(buf));
  assert_string_equal(
      buf, "process 3 write x 5, invoked 0.000001 s, ok 0.000002 s (lines 1-3)");
  fl_op_describe(c, buf, sizeof(buf));
  assert_non_null(strstr(buf, "never completed (line 7)"));

  json_decref(text);
  fl_ops_free(ops);
  unlink(path);
  free(path);
}

static void test_open_error(void **state) {
  fl_history_t *h = (fl_history_t *)1;
  fl_err_t err;
  int r = fl_history_open(&h, "/nonexistent-dir/h.jsonl", &err);
  assert_true(r < 0);
  assert_null(h);
  assert_non_null(strstr(err.msg, "/nonexistent-dir/h.jsonl"));
  fl_ops_t *ops = (fl_ops_t *)1;
  r = fl_history_read(&ops, "/nonexistent-dir/h.jsonl", &err);
  assert_true(r < 0);
  assert_int_not_equal(r, FL_EPARSE);
  assert_null(ops);
}

#define INV(p, f) "{\"process\":" #p ",\"type\":\"invoke\",\"f\":\"" f "\",\"time\":1}\n"
#define OK(p, f) "{\"process\":" #p ",\"type\":\"ok\",\"f\":\"" f "\",\"time\":2}\n"

static void test_malformed(void **state) {
  static const struct {
    const char *text;
    int line;
    const char *what;
  } cases[] = {
      {INV(1, "read") "{\"process\":1,\n", 2, "bad JSON"},
      {"\n\n{\"process\":1,\"type\":\"invoke\"\"f\":1}\n", 3, "bad JSON"},
      {"[1,2]\n", 1, "not a JSON object"},
      {"\"text\"\n", 1, "bad JSON"},
      {"{\"type\":\"invoke\",\"f\":\"read\",\"time\":1}\n", 1,
       "missing field \"process\""},
      {"{\"process\":1,\"f\":\"read\",\"time\":1}\n", 1, "missing field \"type\""},
      {"{\"process\":1,\"type\":\"invoke\",\"time\":1}\n", 1, "missing field \"f\""},
      {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}\n", 1,
       "missing field \"time\""},
      {"{\"process\":\"p1\",\"type\":\"invoke\",\"f\":\"read\",\"time\":1}\n", 1,
       "\"process\" must be an integer"},
      {"{\"process\":1.5,\"type\":\"invoke\",\"f\":\"read\",\"time\":1}\n", 1,
       "\"process\" must be an integer"},
      {"{\"process\":1,\"type\":5,\"f\":\"read\",\"time\":1}\n", 1,
       "\"type\" must be a string"},
      {"{\"process\":1,\"type\":\"done\",\"f\":\"read\",\"time\":1}\n", 1,
       "\"type\" must be \"invoke\", \"ok\", \"fail\" or \"info\""},
      {"{\"process\":1,\"type\":\"invoke\",\"f\":7,\"time\":1}\n", 1,
       "\"f\" must be a string"},
      {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":\"now\"}\n", 1,
       "\"time\" must be an integer"},
      {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":-4}\n", 1,
       "\"time\" must not be negative"},
      {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":[1],\"time\":1}\n", 1,
       "\"key\" must be a string or an integer"},
      {INV(1, "read") OK(2, "read"), 2, "completion without invoke"},
      {OK(1, "read"), 1, "completion without invoke"},
      {INV(1, "read") INV(1, "write"), 2, "has not completed"},
      {INV(1, "read") OK(1, "write"), 2, "differs from its invoke's"},
      {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"a\",\"time\":1}\n"
       "{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":\"b\",\"time\":2}\n",
       2, "key differs"},
      {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":9}\n" OK(1, "read"), 2,
       "before its invoke's"},
      {"{\"process\":1,\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"time\":1}\n", 1,
       "bad JSON"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    fl_ops_t *ops = (fl_ops_t *)1;
    fl_err_t err;
    fl_err_clear(&err);
    int r = fl_history_parse(&ops, cases[i].text, strlen(cases[i].text), "t.jsonl", &err);
    char want[32];
    snprintf(want, sizeof(want), "t.jsonl:%d: ", cases[i].line);
    if (r != FL_EPARSE || strncmp(err.msg, want, strlen(want)) != 0 ||
        strstr(err.msg, cases[i].what) == NULL)
      fail_msg("case %zu: r=%d msg=\"%s\", wanted \"%s...%s\"", i, r, err.msg, want,
               cases[i].what);
    assert_null(ops);
  }
}

static void test_lenient_parts(void **state) {
  const char *text =
      "\n"
      "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":7,\"time\":1}\r\n"
      "   \n"
      "{\"process\":\"nemesis\",\"type\":\"info\",\"f\":\"partition\",\"time\":2}\n"
      "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":4,\"time\":3}\n"
      "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":null,\"time\":4}";
  fl_ops_t *ops;
  fl_err_t err;
  fl_err_clear(&err);
  if (fl_history_parse(&ops, text, strlen(text), NULL, &err) != 0)
    fail_msg("%s", err.msg);
  assert_int_equal(ops->len, 2);
  assert_string_equal(ops->name, "<memory>");
  const fl_op_t *w = &ops->v[0];
  assert_string_equal(w->key, "7");
  assert_int_equal(w->invoke_line, 2);
  assert_int_equal(w->complete_line, 5);
  /* The completion's value fills an invoke that had none. */
  assert_int_equal(json_integer_value(w->value), 4);
  assert_int_equal(json_integer_value(w->result), 4);
  const fl_op_t *r = &ops->v[1];
  assert_null(r->key);
  assert_int_equal(r->type, FL_OP_INFO);
  assert_int_equal(r->invoke_line, 6);
  fl_ops_free(ops);
  fl_ops_free(NULL);
}

/* Whatever the bytes, the reader returns 0 or FL_EPARSE and leaks nothing
 * (run under ASan to mean something). */
static void test_garbage(void **state) {
  static const char *seeds[] = {
      INV(1, "read") OK(1, "read"),
      "{\"process\":2,\"type\":\"invoke\",\"f\":\"cas\",\"key\":\"k\",\"value\":[1,2],"
      "\"time\":5}\n{\"process\":2,\"type\":\"info\",\"f\":\"cas\",\"key\":\"k\","
      "\"time\":9,"
      "\"error\":{\"a\":1}}\n",
  };
  uint64_t x = 42;
  char buf[512];
  for (int iter = 0; iter < 20000; iter++) {
    const char *seed = seeds[iter % 2];
    size_t n = strlen(seed);
    memcpy(buf, seed, n);
    for (int k = 0; k < 1 + iter % 4; k++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      buf[(x >> 33) % n] = (char)(x >> 20);
    }
    fl_ops_t *ops = NULL;
    fl_err_t err;
    int r = fl_history_parse(&ops, buf, n, "g", &err);
    assert_true(r == 0 || r == FL_EPARSE);
    assert_true((r == 0) == (ops != NULL));
    fl_ops_free(ops);
  }
}

/* Lines the reader's fast path takes and the same lines through jansson (an
 * unknown field sends them there) give the same operations. */
static void test_fast_and_general_agree(void **state) {
  char *buf = NULL;
  size_t len = 0;
  FILE *fp = open_memstream(&buf, &len);
  fl_gen_opts_t g;
  fl_gen_opts_default(&g);
  g.ops = 3000;
  g.keys = 5;
  g.info_rate = 0.1;
  fl_err_t err;
  assert_int_equal(fl_gen_write(fp, &g, NULL, &err), 0);
  /* And the odd corners: unicode, negative and large numbers, empty arrays,
   * integer keys, errors, spaces. */
  fputs(" { \"process\" : -7 , \"type\":\"invoke\",\"f\":\"\xc3\xa9"
        "crire\",\"key\":-12,"
        "\"value\":[ -0 , \"\xe2\x82\xac\", null ,9223372036854775807],\"time\":0 }\n"
        "{\"process\":-7,\"type\":\"info\",\"f\":\"\xc3\xa9"
        "crire\",\"value\":[],"
        "\"error\":\"t\xc3\xa9"
        "\",\"time\":9223372036854775807}\n",
        fp);
  fclose(fp);
  size_t cap = len * 2 + 64, n = 0;
  char *slow = malloc(cap);
  for (size_t i = 0; i < len; i++) {
    if (buf[i] == '}' && (i + 1 == len || buf[i + 1] == '\n' || buf[i + 1] == ' ')) {
      memcpy(slow + n, ",\"x\":true", 9);
      n += 9;
    }
    slow[n++] = buf[i];
  }
  fl_ops_t *a, *b;
  if (fl_history_parse(&a, buf, len, "fast", &err) != 0)
    fail_msg("%s", err.msg);
  if (fl_history_parse(&b, slow, n, "slow", &err) != 0)
    fail_msg("%s", err.msg);
  assert_int_equal(a->len, b->len);
  assert_int_equal(a->events, b->events);
  assert_int_equal(a->nkeys, b->nkeys);
  for (size_t i = 0; i < a->len; i++) {
    const fl_op_t *x = &a->v[i], *y = &b->v[i];
    assert_int_equal(x->process, y->process);
    assert_int_equal(x->type, y->type);
    assert_int_equal(x->fk, y->fk);
    assert_string_equal(x->f, y->f);
    assert_true((x->key == NULL) == (y->key == NULL));
    if (x->key != NULL)
      assert_string_equal(x->key, y->key);
    assert_true(json_equal(x->value, y->value));
    assert_true(json_equal(x->result, y->result));
    assert_true((x->error == NULL) == (y->error == NULL));
    assert_int_equal(x->invoke_ns, y->invoke_ns);
    assert_int_equal(x->complete_ns, y->complete_ns);
    assert_int_equal(x->complete_line, y->complete_line);
  }
  const fl_op_t *last = &a->v[a->len - 1];
  assert_string_equal(last->f, "\xc3\xa9"
                               "crire");
  assert_string_equal(last->key, "-12");
  assert_int_equal(json_array_size(last->value), 4);
  assert_int_equal(json_integer_value(json_array_get(last->value, 3)),
                   9223372036854775807LL);
  assert_string_equal(last->error, "t\xc3\xa9"
                                   "");
  fl_ops_free(a);
  fl_ops_free(b);
  free(slow);
  free(buf);
}

/* Writes text to a new temporary file; returns its path (free it). */
static char *temp_with(const char *text, size_t n) {
  char *path = temp_path();
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  assert_int_equal(fwrite(text, 1, n, fp), n);
  fclose(fp);
  return path;
}

/* Tolerant reading (the report writers'): what a killed run leaves is read
 * as far as it makes sense, every line strict reading refuses is either an
 * operation or counted as skipped. */
static void test_tolerant(void **state) {
  static const char text[] =
      "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1,\"time\":10}\n"
      "{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"time\":20}\n"
      "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":30}\n"
      "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"time\":40}\n" /* double */
      "{\"process\":1,\"type\":\"ok\",\"f\":\"cas\",\"key\":\"k\",\"time\":35}\n"
      "{\"process\":2,\"type\":\"fail\",\"f\":\"write\",\"time\":50}\n" /* orphan */
      "not json\n"
      "[1,2]\n"
      "{\"process\":3,\"f\":\"read\",\"time\":60}\n"              /* no type */
      "{\"process\":3,\"type\":\"invoke\",\"time\":\"x\"}\n"      /* no time */
      "{\"process\":\"nemesis\",\"type\":\"info\",\"time\":70}\n" /* uncounted */
      "{\"type\":\"invoke\",\"f\":\"read\",\"time\":70}\n"        /* uncounted */
      "{\"process\":4,\"type\":\"invoke\",\"time\":80.7}\n"
      "{\"process\":4,\"type\":\"weird\",\"f\":\"x\",\"time\":90}\n"
      "{\"process\":5,\"type\":\"invoke\",\"f\":\"read\",\"time\":100}";
  char *path = temp_with(text, sizeof(text) - 1);
  fl_ops_t *ops;
  fl_err_t err;
  fl_err_clear(&err);
  /* Strictly, the double invoke on line 4 is refused. */
  assert_int_equal(fl_history_read(&ops, path, &err), FL_EPARSE);
  assert_non_null(strstr(err.msg, ":4: "));
  fl_history_read_opts_t o = {.tolerant = 1};
  assert_int_equal(fl_history_read_opts(&ops, path, &o, &err), 0);
  assert_int_equal(ops->skipped, 4);
  assert_int_equal(ops->truncated, 0);
  assert_int_equal(ops->len, 6);
  /* The write, with the invoke's value. */
  assert_int_equal(ops->v[0].type, FL_OP_OK);
  assert_int_equal(json_integer_value(ops->v[0].value), 1);
  /* The first read of process 1 never completed; the second completed ok
   * although its completion names another f and key, at its invoke's
   * time since the completion says 35. */
  assert_int_equal(ops->v[1].complete_line, 0);
  assert_int_equal(ops->v[1].type, FL_OP_INFO);
  assert_int_equal(ops->v[2].invoke_line, 4);
  assert_int_equal(ops->v[2].complete_line, 5);
  assert_int_equal(ops->v[2].complete_ns, 40);
  /* The orphan completion is an operation of its own line. */
  assert_int_equal(ops->v[3].process, 2);
  assert_int_equal(ops->v[3].type, FL_OP_FAIL);
  assert_int_equal(ops->v[3].invoke_line, 6);
  assert_int_equal(ops->v[3].complete_line, 6);
  /* No f, a real time, an unknown completion type: info. */
  assert_string_equal(ops->v[4].f, "");
  assert_int_equal(ops->v[4].invoke_ns, 80);
  assert_int_equal(ops->v[4].type, FL_OP_INFO);
  assert_int_equal(ops->v[4].complete_line, 14);
  /* The last line has no newline and no completion. */
  assert_int_equal(ops->v[5].invoke_line, 15);
  assert_int_equal(ops->v[5].complete_line, 0);
  fl_ops_free(ops);

  /* Values dropped; at most 3 operations. */
  o.skip_values = 1;
  o.max_ops = 3;
  assert_int_equal(fl_history_read_opts(&ops, path, &o, &err), 0);
  assert_int_equal(ops->len, 3);
  assert_int_equal(ops->truncated, 1);
  assert_true(json_is_null(ops->v[0].value));
  fl_ops_free(ops);
  unlink(path);
  free(path);
}

/* A line longer than max_line is never held whole: tolerantly it is skipped
 * and counted, strictly it is an error naming its line. */
static void test_long_line(void **state) {
  size_t big = 300000;
  char *text = malloc(big + 256);
  size_t n = (size_t)sprintf(text, "%s", INV(1, "write") OK(1, "write"));
  n += (size_t)sprintf(text + n,
                       "{\"process\":2,\"type\":\"invoke\",\"f\":\"w\",\"value\":\"");
  memset(text + n, 'a', big);
  n += big;
  n += (size_t)sprintf(text + n, "\",\"time\":5}\n%s", INV(3, "read"));
  char *path = temp_with(text, n);
  fl_ops_t *ops;
  fl_err_t err;
  fl_err_clear(&err);
  fl_history_read_opts_t o = {.tolerant = 1, .max_line = 1000};
  assert_int_equal(fl_history_read_opts(&ops, path, &o, &err), 0);
  assert_int_equal(ops->skipped, 1);
  assert_int_equal(ops->len, 2);
  assert_int_equal(ops->v[1].process, 3);
  assert_int_equal(ops->v[1].invoke_line, 4);
  fl_ops_free(ops);
  o.tolerant = 0;
  assert_int_equal(fl_history_read_opts(&ops, path, &o, &err), FL_EPARSE);
  assert_non_null(strstr(err.msg, ":3: a line longer than 1000 bytes"));
  /* Without a bound it is read whole. */
  assert_int_equal(fl_history_read(&ops, path, &err), 0);
  assert_int_equal(ops->len, 3);
  assert_int_equal(json_string_length(ops->v[1].value), big);
  fl_ops_free(ops);
  unlink(path);
  free(path);
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_write_read), cmocka_unit_test(test_open_error),
      cmocka_unit_test(test_malformed),  cmocka_unit_test(test_lenient_parts),
      cmocka_unit_test(test_garbage),    cmocka_unit_test(test_fast_and_general_agree),
      cmocka_unit_test(test_tolerant),   cmocka_unit_test(test_long_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
