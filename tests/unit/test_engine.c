/* The scenario engine through fl_engine_run_file: tasks, waits, errors,
 * expectations, option checking, time limits, JSON round trips, the report
 * it writes; fl_engine_list and fl_exit_worst. Each test writes a small
 * scenario file into a scratch directory and runs it in-process. */
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
#include "base/fs.h"
#include "harness/engine.h"
#include "harness/reaper.h"

#define SCENARIO_RUN_TAG "engine"
#include "tests/helpers/scenario_run.h"

static int setup(void **state) {
  setenv("FL_BUSY_LIMIT_S", "1", 1);
  return scenario_dir_setup(state);
}

static json_t *check(json_t *r, int i) {
  return json_array_get(json_object_get(r, "checks"), (size_t)i);
}

static void test_spawn_and_wait(void **state) {
  json_t *r;
  int code =
      run("spawn",
          "fl.scenario('s', function()\n"
          "  local a = fl.spawn(function(x) fl.sleep(0.05) return x + 1, 'two' end, 41)\n"
          "  local b = fl.spawn(function() fl.sleep(0.01) return 'b' end)\n"
          "  local x, y = a:wait()\n"
          "  fl.expect.that(x == 42 and y == 'two', 'results')\n"
          "  fl.expect.that(b:wait() == 'b', 'second')\n"
          "  fl.expect.that(a:done(), 'done')\n"
          "end)\n",
          &r);
  assert_int_equal(code, 0);
  assert_string_equal(str(r, "status"), "pass");
  assert_int_equal(json_array_size(json_object_get(r, "checks")), 3);
  json_decref(r);
}

static void test_sleep_takes_time(void **state) {
  json_t *r;
  int code = run("sleep",
                 "fl.scenario('s', function()\n"
                 "  local t0 = fl.now()\n"
                 "  fl.sleep(0.2)\n"
                 "  local d = fl.now() - t0\n"
                 "  fl.expect.that(d >= 0.19 and d < 2, 'slept ' .. d)\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 0);
  json_decref(r);
}

static void test_lua_error_names_line(void **state) {
  json_t *r;
  int code = run("error", "fl.scenario('s', function()\n  error('boom')\nend)\n", &r);
  assert_int_equal(code, 2);
  assert_string_equal(str(r, "status"), "error");
  assert_non_null(strstr(str(r, "error"), "error.lua:3: boom"));
  json_decref(r);
}

static void test_task_error_ends_scenario(void **state) {
  json_t *r;
  int code = run("taskerr",
                 "fl.scenario('s', function()\n"
                 "  fl.spawn(function() fl.sleep(0.01) error('inner') end)\n"
                 "  fl.sleep(10)\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 2);
  assert_non_null(strstr(str(r, "error"), "inner"));
  assert_true(json_real_value(json_object_get(r, "duration_s")) < 5);
  json_decref(r);
}

static void test_joined_error_propagates(void **state) {
  json_t *r;
  int code =
      run("joined",
          "fl.scenario('s', function()\n"
          "  local t = fl.spawn(function() error('inner', 0) end)\n"
          "  local ok, err = pcall(t.wait, t)\n"
          "  fl.expect.that(not ok and err == 'inner', 'caught ' .. tostring(err))\n"
          "end)\n",
          &r);
  assert_int_equal(code, 0);
  json_decref(r);
}

static void test_failed_expectation_is_fail(void **state) {
  json_t *r;
  int code = run(
      "expect",
      "fl.scenario('s', function()\n"
      "  fl.expect.eventually(function() return false end, {within = 0.1, name = 'n'})\n"
      "  error('not reached')\n"
      "end)\n",
      &r);
  assert_int_equal(code, 1);
  assert_string_equal(str(r, "status"), "fail");
  json_t *c = check(r, 0);
  assert_string_equal(str(c, "name"), "n");
  assert_string_equal(str(c, "status"), "fail");
  assert_non_null(strstr(str(c, "message"), "expect.lua:3:"));
  json_decref(r);
}

static void test_unknown_option_is_error(void **state) {
  json_t *r;
  int code = run("opts",
                 "fl.scenario('s', function()\n"
                 "  fl.expect.eventually(function() return true end, {witin = 1})\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 2);
  assert_non_null(strstr(str(r, "error"), "unknown option 'witin'"));
  assert_non_null(strstr(str(r, "error"), "opts.lua:3:"));
  json_decref(r);
}

static void test_time_limit(void **state) {
  json_t *r;
  int code = run("limit",
                 "fl.scenario('s', {timeout = 0.3}, function() fl.sleep(30) end)\n", &r);
  assert_int_equal(code, 2);
  assert_non_null(strstr(str(r, "error"), "time limit"));
  json_decref(r);
}

static void test_busy_loop_is_stopped(void **state) {
  json_t *r;
  int code = run("busy", "fl.scenario('s', function() while true do end end)\n", &r);
  assert_int_equal(code, 2);
  assert_non_null(strstr(str(r, "error"), "without waiting"));
  json_decref(r);
}

static void test_wait_outside_task(void **state) {
  json_t *r;
  int code = run("outside",
                 "fl.scenario('s', function()\n"
                 "  local co = coroutine.wrap(function() fl.sleep(0.1) end)\n"
                 "  co()\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 2);
  assert_non_null(strstr(str(r, "error"), "must run in a scenario"));
  json_decref(r);
}

static void test_json_round_trip(void **state) {
  json_t *r;
  int code = run("json",
                 "fl.scenario('s', function()\n"
                 "  local v = fl.json.decode(fl.json.encode({a = {1, 2, fl.json.null}, b "
                 "= 'x', c = 1.5}))\n"
                 "  fl.expect.that(v.a[2] == 2 and v.a[3] == nil and v.b == 'x' and v.c "
                 "== 1.5, 'rt')\n"
                 "  local bad, err = fl.json.decode('{')\n"
                 "  fl.expect.that(bad == nil and err:match('bad JSON'), 'error')\n"
                 "end)\n",
                 &r);
  assert_int_equal(code, 0);
  json_decref(r);
}

static void test_random_is_seeded(void **state) {
  json_t *r1, *r2;
  const char *src = "fl.scenario('s', function()\n"
                    "  fl.log('draw %d %d %.6f', fl.random(1, 1000), math.random(1, "
                    "1000), fl.random())\n"
                    "end)\n";
  assert_int_equal(run("rnd1", src, &r1), 0);
  assert_int_equal(run("rnd2", src, &r2), 0);
  json_t *e1 = json_object_get(r1, "events"), *e2 = json_object_get(r2, "events");
  const char *m1 = NULL, *m2 = NULL;
  size_t i;
  json_t *ev;
  json_array_foreach(e1, i, ev) if (strcmp(str(ev, "type"), "step") == 0) m1 =
      str(ev, "message");
  json_array_foreach(e2, i, ev) if (strcmp(str(ev, "type"), "step") == 0) m2 =
      str(ev, "message");
  assert_non_null(m1);
  assert_non_null(m2);
  assert_string_equal(m1, m2);
  json_decref(r1);
  json_decref(r2);
}

static void test_several_scenarios_and_only(void **state) {
  const char *src = "fl.scenario('one', function() end)\n"
                    "fl.scenario('two', function() error('x') end)\n"
                    "fl.scenario('three', function() end)\n";
  assert_int_equal(run("many", src, NULL), 2);
  char *p = fl_asprintf("%s/many.out/three/report.json", dir);
  assert_int_equal(access(p, R_OK), 0); /* the next scenario still ran */
  fl_free(p);
  char *file = fl_asprintf("%s/many.lua", dir);
  char *out = fl_asprintf("%s/only.out", dir);
  fl_engine_opts_t o = {.file = file, .out_dir = out, .only = "three", .quiet = 1};
  assert_int_equal(fl_engine_run_file(&o), 0);
  o.only = "nope";
  assert_int_equal(fl_engine_run_file(&o), 2);
  fl_free(file);
  fl_free(out);
}

static void test_duplicate_scenario_name(void **state) {
  assert_int_equal(
      run("dup", "fl.scenario('a', function() end)\nfl.scenario('a', function() end)\n",
          NULL),
      2);
}

/* Two outcomes together: error over a failed check over a checker that gave
 * up over a pass, in either order; anything outside 0..3 (a run killed by a
 * signal, 127 from a failed exec, a negative code) counts as an error, so
 * the result is always a documented exit code. */
static void test_exit_worst(void **state) {
  static const int table[4][4] = {
      /*        0  1  2  3 */
      /* 0 */ {0, 1, 2, 3},
      /* 1 */ {1, 1, 2, 1},
      /* 2 */ {2, 2, 2, 2},
      /* 3 */ {3, 1, 2, 3},
  };
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      assert_int_equal(fl_exit_worst(a, b), table[a][b]);
  static const int odd[] = {-1, -30001, 4, 127, 137, 255};
  for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
    for (int b = 0; b < 4; b++) {
      assert_int_equal(fl_exit_worst(odd[i], b), 2);
      assert_int_equal(fl_exit_worst(b, odd[i]), 2);
    }
    assert_int_equal(fl_exit_worst(odd[i], odd[i]), 2);
  }
}

/* A file that does not load, a file that declares nothing, and one that
 * does: fl_engine_list says which, without running anything. */
static void test_list(void **state) {
  char *file = fl_asprintf("%s/list.lua", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("local fl = require('faultline')\n"
        "fl.scenario('first', function() error('must not run') end)\n"
        "fl.scenario('second', {timeout = 5}, function() end)\n",
        f);
  fclose(f);
  char **names = NULL;
  fl_err_t err = {0};
  assert_int_equal(fl_engine_list(file, &names, &err), 0);
  assert_string_equal(names[0], "first");
  assert_string_equal(names[1], "second");
  assert_null(names[2]);
  fl_strv_free(names);

  f = fopen(file, "w");
  fputs("local fl = require('faultline')\n", f);
  fclose(f);
  assert_int_equal(fl_engine_list(file, &names, &err), FL_ESCENARIO);
  assert_non_null(strstr(err.msg, "declares no scenario"));

  f = fopen(file, "w");
  fputs("local fl = require('faultline')\nfl.scenario('x', function() end\n", f);
  fclose(f);
  assert_int_equal(fl_engine_list(file, &names, &err), FL_ESCENARIO);
  assert_non_null(strstr(err.msg, "list.lua:"));
  fl_free(file);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "__exec") == 0)
    return fl_shim_main(argc - 1, argv + 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spawn_and_wait),
      cmocka_unit_test(test_sleep_takes_time),
      cmocka_unit_test(test_lua_error_names_line),
      cmocka_unit_test(test_task_error_ends_scenario),
      cmocka_unit_test(test_joined_error_propagates),
      cmocka_unit_test(test_failed_expectation_is_fail),
      cmocka_unit_test(test_unknown_option_is_error),
      cmocka_unit_test(test_time_limit),
      cmocka_unit_test(test_busy_loop_is_stopped),
      cmocka_unit_test(test_wait_outside_task),
      cmocka_unit_test(test_json_round_trip),
      cmocka_unit_test(test_random_is_seeded),
      cmocka_unit_test(test_several_scenarios_and_only),
      cmocka_unit_test(test_duplicate_scenario_name),
      cmocka_unit_test(test_exit_worst),
      cmocka_unit_test(test_list),
  };
  return cmocka_run_group_tests(tests, setup, scenario_dir_teardown);
}
