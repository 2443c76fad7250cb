/* Jepsen's EDN histories to JSON lines (check/edn.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "check/edn.h"

static void expect(const char *edn, const char *json) {
  fl_buf_t out;
  fl_buf_init(&out, 1 << 20);
  fl_err_t err;
  fl_err_clear(&err);
  if (fl_edn_to_jsonl(edn, strlen(edn), "t.edn", &out, &err) != 0)
    fail_msg("%s: %s", edn, err.msg);
  assert_string_equal(fl_buf_str(&out), json);
  fl_buf_free(&out);
}

static void expect_error(const char *edn, const char *msg) {
  fl_buf_t out;
  fl_buf_init(&out, 1 << 20);
  fl_err_t err;
  fl_err_clear(&err);
  assert_int_equal(fl_edn_to_jsonl(edn, strlen(edn), "t.edn", &out, &err), FL_EPARSE);
  if (strstr(err.msg, msg) == NULL)
    fail_msg("%s: got \"%s\", want \"%s\"", edn, err.msg, msg);
  fl_buf_free(&out);
}

static void test_values(void **state) {
  (void)state;
  expect("{:type :invoke, :f :txn, :value [[:append :x 1] [:r :x nil]], :time 12, "
         ":process 0}",
         "{\"type\":\"invoke\",\"f\":\"txn\",\"value\":[[\"append\",\"x\",1],[\"r\","
         "\"x\",null]],"
         "\"time\":12,\"process\":0}\n");
  expect("{:a true :b false :c -3 :d 2.5 :e 7N :f +4 :g sym :h \\c}",
         "{\"a\":true,\"b\":false,\"c\":-3,\"d\":2.5,\"e\":7,\"f\":4,\"g\":\"sym\",\"h\":"
         "\"c\"}\n");
  expect("{:s \"a \\\"q\\\" \\n b\" :l (1 2) :set #{3} :tag #jepsen.history.Op {:x 1}}",
         "{\"s\":\"a \\\"q\\\" \\n b\",\"l\":[1,2],\"set\":[3],\"tag\":{\"x\":1}}\n");
  expect("{\"k\" 1 2 3}", "{\"k\":1,\"2\":3}\n");
}

static void test_layouts(void **state) {
  (void)state;
  /* one map per line, or all in a vector; comments and discards anywhere */
  expect("; a comment\n{:a 1}\n{:a 2} ; trailing\n", "{\"a\":1}\n{\"a\":2}\n");
  expect("[{:a 1}\n {:a 2 #_ :gone #_ 9}]", "{\"a\":1}\n{\"a\":2}\n");
  expect("({:a [1 #_ 2 3]})", "{\"a\":[1,3]}\n");
  expect("", "");
}

static void test_errors(void **state) {
  (void)state;
  expect_error("{:a 1", "t.edn:1: a collection is not closed");
  expect_error("{:a 1}\n{:b \"x}", "t.edn:2: a string is not closed");
  expect_error("[{:a 1}", "the history's vector is not closed");
  expect_error("{:a 1}\n]", "t.edn:2: an operation is a map");
  expect_error("{:a}", "a map key without its value");
  expect_error("{[1] 2}", "a map key that is a collection");
  expect_error("{:a (1 ]}", "a closing bracket without its opening one");
  char deep[200];
  memset(deep, '[', 100);
  strcpy(deep + 100, "");
  char op[220];
  snprintf(op, sizeof(op), "{:a %s}", deep);
  expect_error(op, "nested deeper than 64 levels");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values),
      cmocka_unit_test(test_layouts),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
