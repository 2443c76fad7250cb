/* fl.hosts{...} and fl.hosts() (harness/lua_hosts.c): a bad host is an
 * error naming the file:line and the field, before anything runs; the call
 * belongs at the file's top level, once; fl.hosts() is {} without hosts and
 * lists the file's hosts as given; the engine connects to the file's hosts
 * before the scenario's function runs, and a host nobody answers for is the
 * scenario's error, naming the host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <string.h>

#include "base/alloc.h"
#include "harness/engine.h"

#define SCENARIO_RUN_TAG "lua_hosts"
#include "tests/helpers/scenario_run.h"

static void test_bad_field_names_line(void **state) {
  json_t *r = NULL;
  int code = run("bad",
                 "fl.hosts{ { name = 'n1', address = '10.0.0.1', port = 'x' } }\n"
                 "fl.scenario('s', function() end)\n",
                 &r);
  assert_int_equal(code, 2);
  assert_non_null(r);
  assert_string_equal(str(r, "status"), "error");
  assert_non_null(
      strstr(str(r, "error"), "bad.lua:2: fl.hosts: host \"n1\": `port` wants"));
  json_decref(r);
}

static void test_inside_scenario_raises(void **state) {
  json_t *r = NULL;
  int code = run("inside",
                 "fl.scenario('s', function()\n"
                 "  fl.hosts{ { name = 'n1', address = '10.0.0.1' } }\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 2);
  assert_non_null(r);
  assert_string_equal(str(r, "status"), "error");
  assert_non_null(strstr(str(r, "error"), "inside.lua:3:"));
  assert_non_null(strstr(str(r, "error"), "top of the file"));
  json_decref(r);
}

static void test_twice_raises(void **state) {
  json_t *r = NULL;
  int code = run("twice",
                 "fl.hosts{ { name = 'n1', address = '10.0.0.1' } }\n"
                 "fl.hosts{ { name = 'n2', address = '10.0.0.2' } }\n"
                 "fl.scenario('s', function() end)\n",
                 &r);
  assert_int_equal(code, 2);
  assert_non_null(r);
  assert_non_null(
      strstr(str(r, "error"), "twice.lua:3: fl.hosts{...}: the hosts are already"));
  json_decref(r);
}

static void test_none_lists_empty(void **state) {
  json_t *r = NULL;
  int code = run("none",
                 "fl.scenario('s', function()\n"
                 "  fl.expect.that(#fl.hosts() == 0, 'no hosts')\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 0);
  assert_string_equal(str(r, "status"), "pass");
  json_decref(r);
}

/* Port 1 of 127.0.0.1: refused at once. The scenario's function never runs
 * (it would fail the run with 1, not 2); the error names the host. */
static void test_unreachable_is_error(void **state) {
  json_t *r = NULL;
  int code = run("unreachable",
                 "fl.hosts{ { name = 'n1', address = '127.0.0.1', port = 1,\n"
                 "            user = 'nobody', sudo = false } }\n"
                 "fl.scenario('s', function()\n"
                 "  fl.expect.that(false, 'never here')\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 2);
  assert_non_null(r);
  assert_string_equal(str(r, "status"), "error");
  assert_non_null(strstr(str(r, "error"), "host \"n1\" (127.0.0.1)"));
  json_decref(r);
}

/* A service on a host the run does not have: one message naming the host,
 * at the scenario's line. */
static void test_service_unknown_host(void **state) {
  json_t *r = NULL;
  int code = run("nohost",
                 "fl.scenario('s', function()\n"
                 "  fl.service{ host = 'n9', name = 'x', cmd = { 'true' } }\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 2);
  assert_non_null(r);
  assert_non_null(
      strstr(str(r, "error"), "nohost.lua:3: fl.service: no host named \"n9\""));
  assert_non_null(strstr(str(r, "error"), "none: give --hosts FILE or fl.hosts{...}"));
  json_decref(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_field_names_line),
      cmocka_unit_test(test_inside_scenario_raises),
      cmocka_unit_test(test_twice_raises),
      cmocka_unit_test(test_none_lists_empty),
      cmocka_unit_test(test_unreachable_is_error),
      cmocka_unit_test(test_service_unknown_host),
  };
  return cmocka_run_group_tests(tests, scenario_dir_setup, scenario_dir_teardown);
}
