/* harness/schedule.c: the run directory's schedule.json into report.json's
 * "schedule": absent without a nemesis, a fault still open at the end
 * closed at the run's end, a malformed file ignored. Also `run --replay`'s
 * flag reaches the engine options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "harness/cmd_run.h"
#include "harness/schedule.h"

static char dir[] = "/tmp/fl-test-schedule.XXXXXX";

static int setup(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  return fl_rm_tree(dir);
}

static void write_schedule(const char *text) {
  char *path = fl_asprintf("%s/schedule.json", dir);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  fl_free(path);
}

static void test_no_file_no_key(void **state) {
  (void)state;
  char *path = fl_asprintf("%s/schedule.json", dir);
  unlink(path);
  fl_free(path);
  json_t *r = json_object();
  fl_schedule_add_to_report(r, dir, 10);
  assert_null(json_object_get(r, "schedule"));
  json_decref(r);
}

static void test_open_fault_closed_at_end(void **state) {
  (void)state;
  write_schedule(
      "{\"schedule\": [{\"id\": 1, \"kind\": \"kill\", \"targets\": [\"n1\"], "
      "\"start_s\": 1, \"duration_s\": 2, \"end_s\": 3.5}, {\"id\": 2, \"kind\": "
      "\"pause\", \"targets\": [\"n2\"], \"start_s\": 4, \"duration_s\": 2}], "
      "\"window_s\": 5}");
  json_t *r = json_object();
  fl_schedule_add_to_report(r, dir, 7.25);
  json_t *s = json_object_get(r, "schedule");
  assert_int_equal(json_array_size(s), 2);
  assert_true(json_number_value(json_object_get(json_array_get(s, 0), "end_s")) == 3.5);
  assert_true(json_number_value(json_object_get(json_array_get(s, 1), "end_s")) == 7.25);
  assert_string_equal(json_string_value(json_object_get(json_array_get(s, 1), "kind")),
                      "pause");
  json_decref(r);
}

static void test_malformed_ignored(void **state) {
  (void)state;
  write_schedule("{\"schedule\": [ not json");
  json_t *r = json_object();
  fl_schedule_add_to_report(r, dir, 1);
  assert_null(json_object_get(r, "schedule"));
  write_schedule("{\"schedule\": 3}");
  fl_schedule_add_to_report(r, dir, 1);
  assert_null(json_object_get(r, "schedule"));
  json_decref(r);
}

static void test_run_replay_flag(void **state) {
  (void)state;
  fl_run_args_t a;
  fl_err_t err = {0};
  char *argv[] = {"run", "x.lua", "--replay", "runs/x", NULL};
  assert_int_equal(fl_run_args_parse(&a, 4, argv, &err), 0);
  assert_string_equal(a.engine.replay, "runs/x");
  char *argv2[] = {"run", "x.lua", NULL};
  assert_int_equal(fl_run_args_parse(&a, 2, argv2, &err), 0);
  assert_null(a.engine.replay);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_file_no_key),
      cmocka_unit_test(test_open_fault_closed_at_end),
      cmocka_unit_test(test_malformed_ignored),
      cmocka_unit_test(test_run_replay_flag),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
