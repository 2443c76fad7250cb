/* harness/lua_core.c and the Lua modules composed on it (harness/lua/):
 * the one option checker (fl.options, and fl_lua_check_keys for the C
 * bindings) and its positions, the one failure constructor (core.fail),
 * fl.version, and fault-layer dispatch. Each test writes a small scenario
 * file into a scratch directory and runs it in-process; line 1 of every
 * file is `local fl = require('faultline')`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "harness/engine.h"
#include "harness/reaper.h"

#define SCENARIO_RUN_TAG "lua-core"
#include "tests/helpers/scenario_run.h"

static json_t *check(json_t *r, int i) {
  return json_array_get(json_object_get(r, "checks"), (size_t)i);
}

/* The scenario errs with a message containing each of the NULL-ended parts. */
static void expect_error(const char *name, const char *src, ...) {
  json_t *r;
  assert_int_equal(run(name, src, &r), 2);
  assert_string_equal(str(r, "status"), "error");
  va_list ap;
  va_start(ap, src);
  for (const char *part; (part = va_arg(ap, const char *)) != NULL;) {
    if (strstr(str(r, "error"), part) == NULL)
      fail_msg("'%s' not in the error '%s'", part, str(r, "error"));
  }
  va_end(ap);
  json_decref(r);
}

static void expect_pass(const char *name, const char *src) {
  json_t *r;
  int code = run(name, src, &r);
  if (code != 0)
    fail_msg("exit %d: %s", code, str(r, "error"));
  json_decref(r);
}

static void test_options_forms(void **state) {
  expect_pass(
      "forms",
      "fl.scenario('s', function()\n"
      "  local o = {a = 1, b = 2}\n"
      "  fl.expect.that(fl.options(o, 'x', {a = true, b = true}) == o, 'set form')\n"
      "  fl.expect.that(fl.options(o, 'x', {'a', 'b'}) == o, 'list form')\n"
      "  fl.expect.that(fl.options(o, 'x', {'a', b = true}) == o, 'both')\n"
      "  local e = fl.options(nil, 'x', {'a'})\n"
      "  fl.expect.that(type(e) == 'table' and next(e) == nil, 'nil gives {}')\n"
      "  fl.expect.that(fl._check_opts == fl.options, 'the old name')\n"
      "  local ok, err = pcall(fl.options, {a = 1}, 'x', {a = false})\n"
      "  fl.expect.that(not ok and err:find(\"unknown option 'a'\"), err)\n"
      "end)\n");
}

static void test_options_positional_key(void **state) {
  expect_error("positional",
               "fl.scenario('s', function()\n"
               "  fl.options({'a'}, 'lib.f', {'a'})\n"
               "end)\n",
               "positional.lua:3: lib.f: unknown option '1' (known: a)", NULL);
}

/* A library's check points at the library's caller (level 2, the default),
 * or at the library (level 1). */
static void test_options_level(void **state) {
  expect_error("level2",
               "local function lib(o) return fl.options(o, 'lib.f', {'size'}) end\n"
               "fl.scenario('s', function()\n"
               "  lib({size = 1})\n"
               "  lib({colour = 1})\n"
               "end)\n",
               "level2.lua:5: lib.f: unknown option 'colour' (known: size)", NULL);
  expect_error("level1",
               "local function lib(o)\n"
               "  return fl.options(o, 'lib.f', {'size'}, 1)\n"
               "end\n"
               "fl.scenario('s', function()\n"
               "  lib({colour = 1})\n"
               "end)\n",
               "level1.lua:3: lib.f: unknown option 'colour'", NULL);
  expect_error("notable",
               "fl.scenario('s', function()\n"
               "  fl.workload('fast')\n"
               "end)\n",
               "notable.lua:3: fl.workload: options must be a table, not a string", NULL);
  /* The message is the position, then what is wrong: nothing before it. */
  json_t *r;
  assert_int_equal(run("once",
                       "fl.scenario('s', function()\n"
                       "  fl.workload('fast')\n"
                       "end)\n",
                       &r),
                   2);
  char *want = fl_asprintf("%s/once.lua:3: fl.workload: options must be a table", dir);
  assert_non_null(strstr(str(r, "error"), want));
  assert_int_equal(strncmp(str(r, "error"), want, strlen(want)), 0);
  fl_free(want);
  json_decref(r);
}

/* C bindings check their keys too, at the scenario's line even when a Lua
 * module of faultline stands between (fl.proxy is proxy.lua's). */
static void test_bindings_check_keys(void **state) {
  expect_error(
      "exec",
      "fl.scenario('s', function()\n"
      "  fl.exec{'true', timeout = 5}\n"
      "  fl.exec{'true', bogus = 1}\n"
      "end)\n",
      "exec.lua:4: fl.exec: unknown option 'bogus' (known: timeout, env, cwd, stdin)",
      NULL);
  expect_error("proxy",
               "fl.scenario('s', function()\n"
               "  fl.proxy{upstream = '127.0.0.1:1', bogus = 1}\n"
               "end)\n",
               "proxy.lua:3: fl.proxy: unknown option 'bogus'", NULL);
  expect_error(
      "probe",
      "fl.scenario('s', function()\n"
      "  fl.probe.cmd{'true', every = 1, bogus = 1}\n"
      "end)\n",
      "probe.lua:3: fl.probe.cmd: unknown option 'bogus' (known: every, timeout)", NULL);
  expect_error("clock",
               "fl.scenario('s', function()\n"
               "  local s = fl.service{name = 's', cmd = {'sleep', '5'}}\n"
               "  s:clock{offset = 1}\n"
               "end)\n",
               "clock.lua:4: service s: declare it with clock = true", NULL);
}

/* A failed expectation is a failure (exit 1), not an error, with its check
 * recorded and the scenario's line in the message. */
static void test_fail_constructor(void **state) {
  json_t *r;
  int code = run("isofail",
                 "fl.scenario('s', function()\n"
                 "  fl.expect.isolated('a', 'b', {name = 'iso'})\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 1);
  assert_string_equal(str(r, "status"), "fail");
  json_t *c = check(r, 0);
  assert_string_equal(str(c, "name"), "iso");
  assert_string_equal(str(c, "status"), "error");
  assert_non_null(strstr(str(c, "message"), "isofail.lua:3: iso: no proxy stands for"));
  json_decref(r);
  code = run("that",
             "fl.scenario('s', function()\n"
             "  fl.expect.that(1 == 2, 'one is two')\n"
             "end)\n",
             &r);
  assert_int_equal(code, 1);
  c = check(r, 0);
  assert_string_equal(str(c, "status"), "fail");
  assert_non_null(strstr(str(c, "message"), "/that.lua:3: one is two"));
  json_decref(r);
}

static void test_version_from_build(void **state) {
  char *src =
      fl_asprintf("fl.scenario('s', function()\n"
                  "  fl.expect.that(fl.version == '%s', 'version ' .. fl.version)\n"
                  "end)\n",
                  FL_VERSION);
  expect_pass("version", src);
  fl_free(src);
}

/* fl.partition, fl.heal and fl.expect.isolated dispatch to the proxy layer
 * when no namespace owns the members; the calls stay the same functions. */
static void test_proxy_layer_dispatch(void **state) {
  json_t *r;
  int code =
      run("layers",
          "fl.scenario('s', function()\n"
          "  local part, heal, iso = fl.partition, fl.heal, fl.expect.isolated\n"
          "  local net = fl.network{mode = 'proxy'}\n"
          "  fl.expect.that(net.mode == 'proxy', 'proxy mode')\n"
          "  fl.proxy{name = 'a-b', from = 'a', to = 'b',\n"
          "           upstream = '127.0.0.1:' .. fl.port()}\n"
          "  fl.partition{{'a'}, {'b'}}\n"
          "  fl.expect.isolated('a', 'b', {wait = 0.2})\n"
          "  fl.heal()\n"
          "  fl.expect.that(fl.partition == part and fl.heal == heal and\n"
          "                 fl.expect.isolated == iso, 'not replaced')\n"
          "  local ok, err = pcall(fl.partition, {{'a'}, {'a', 'b'}})\n"
          "  fl.expect.that(not ok and err:find('a is in two groups'), tostring(err))\n"
          "end)\n",
          &r);
  if (code != 0)
    fail_msg("exit %d: %s", code, str(r, "error"));
  json_t *f = json_array_get(json_object_get(r, "faults"), 0);
  assert_string_equal(str(f, "kind"), "partition");
  assert_true(json_is_number(json_object_get(f, "end_s")));
  json_decref(r);
}

/* task:cancel() (core.task_cancel): a waiting task ends where it waits, its
 * waiter wakes with no results, a second cancel and a cancel of a finished
 * task say false, and a task cannot cancel itself. */
static void test_task_cancel(void **state) {
  expect_pass(
      "cancel",
      "fl.scenario('s', function()\n"
      "  local n = 0\n"
      "  local t = fl.spawn(function() while true do n = n + 1; fl.sleep(0.01) end end)\n"
      "  local w = fl.spawn(function() return select('#', t:wait()) end)\n"
      "  fl.sleep(0.05)\n"
      "  assert(t:cancel() == true and t:cancel() == false)\n"
      "  local at = n; fl.sleep(0.05)\n"
      "  assert(n == at and t:done() and t:canceled())\n"
      "  assert(w:wait() == 0)\n"
      "  local d = fl.spawn(function() return 1 end)\n"
      "  assert(d:wait() == 1 and d:cancel() == false and not d:canceled())\n"
      "  local me\n"
      "  me = fl.spawn(function() return pcall(me.cancel, me) end)\n"
      "  local ok, err = me:wait()\n"
      "  assert(not ok and err:find('cannot cancel itself'), tostring(err))\n"
      "end)\n");
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "__exec") == 0)
    return fl_shim_main(argc - 1, argv + 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_options_forms),
      cmocka_unit_test(test_options_positional_key),
      cmocka_unit_test(test_options_level),
      cmocka_unit_test(test_bindings_check_keys),
      cmocka_unit_test(test_fail_constructor),
      cmocka_unit_test(test_version_from_build),
      cmocka_unit_test(test_proxy_layer_dispatch),
      cmocka_unit_test(test_task_cancel),
  };
  return cmocka_run_group_tests(tests, scenario_dir_setup, scenario_dir_teardown);
}
