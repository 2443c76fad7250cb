/* Running a small scenario through the engine from a unit test: a scratch
 * folder per test executable, and run() that writes the Lua source as a
 * scenario file (after `local fl = require('faultline')`) and runs it like
 * `faultline run FILE --seed 7 --quiet`.
 *
 * Pass scenario_dir_setup/teardown to cmocka_run_group_tests; str() reads
 * a report's string field.
 * Include after <cmocka.h>; define SCENARIO_RUN_TAG (a word for the scratch
 * folder's name) first. Header-only, for tests/unit only. */
#ifndef FL_TEST_SCENARIO_RUN_H
#define FL_TEST_SCENARIO_RUN_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "harness/engine.h"

static char dir[256];

/* cmocka group setup and teardown: the scratch folder. */
static int scenario_dir_setup(void **state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/fl-test-%s.XXXXXX", SCENARIO_RUN_TAG);
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int scenario_dir_teardown(void **state) {
  (void)state;
  char *cmd = fl_asprintf("rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  fl_free(cmd);
  return 0;
}

/* A string field of a report (or any object), "" when absent. */
static inline const char *str(json_t *r, const char *k) {
  const char *s = json_string_value(json_object_get(r, k));
  return s ? s : "";
}

/* Runs src as the scenario file NAME.lua; returns the exit code and, when
 * report is not NULL, the report of the first scenario in *report (new; NULL
 * when none was written). */
static int run(const char *name, const char *src, json_t **report) {
  char *file = fl_asprintf("%s/%s.lua", dir, name);
  char *out = fl_asprintf("%s/%s.out", dir, name);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fputs("local fl = require('faultline')\n", f);
  fputs(src, f);
  fclose(f);
  fl_engine_opts_t o = {.file = file,
                        .out_dir = out,
                        .seed = 7,
                        .seed_given = 1,
                        .quiet = 1,
                        .timeout_s = 20};
  int code = fl_engine_run_file(&o);
  if (report != NULL) {
    char *path = fl_asprintf("%s/report.json", out);
    *report = json_load_file(path, 0, NULL);
    fl_free(path);
  }
  fl_free(file);
  fl_free(out);
  return code;
}

#endif
