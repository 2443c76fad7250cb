/* reports/formats.c: the table of report formats and the entry points that
 * render a run directory and a suite's outputs from it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "reports/report.h"

static int exists(const char *dir, const char *file) {
  char *p = fl_asprintf("%s/%s", dir, file);
  struct stat st;
  int ok = stat(p, &st) == 0 && st.st_size > 0;
  fl_free(p);
  return ok;
}

static json_t *sample(const char *status) {
  return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:f, s:[], s:[], s:[], s:{}}",
                   "faultline", "0.0.0", "scenario", "demo", "file", "demo.lua", "seed",
                   (json_int_t)7, "status", status, "started_at", "2026-01-01T00:00:00Z",
                   "duration_s", 1.5, "services", "faults", "checks", "stats");
}

static void test_table(void **state) {
  size_t n;
  const fl_report_format_t *f = fl_report_formats(&n);
  assert_true(n >= 4);
  assert_string_equal(fl_report_file("json"), "report.json");
  assert_string_equal(fl_report_file("html"), "report.html");
  assert_string_equal(fl_report_file("markdown"), "summary.md");
  assert_string_equal(fl_report_file("junit"), "junit.xml");
  assert_null(fl_report_file("bogus"));
  assert_null(fl_report_file(NULL));
  for (size_t i = 0; i < n; i++) {
    assert_ptr_equal(fl_report_format_find(f[i].name), &f[i]);
    assert_non_null(f[i].write);
    assert_true(f[i].summary[0] != '\0');
    for (size_t j = 0; j < i; j++)
      assert_string_not_equal(f[i].file, f[j].file);
  }
  assert_int_equal(fl_report_format_find("json")->scope, FL_REPORT_MODEL);
  char *p = fl_report_suite_path("junit", "out", NULL);
  assert_string_equal(p, "out/junit.xml");
  fl_free(p);
  p = fl_report_suite_path("junit", "out", "ci/j.xml");
  assert_string_equal(p, "ci/j.xml");
  fl_free(p);
  p = fl_report_suite_path("markdown", "out/", "ci/j.xml");
  assert_string_equal(p, "out/summary.md");
  fl_free(p);
  assert_null(fl_report_suite_path("bogus", "out", NULL));
}

static void test_render(void **state) {
  char dir[] = "/tmp/fl-formats-XXXXXX";
  assert_non_null(mkdtemp(dir));
  json_t *r = sample("pass");
  fl_err_t err = {0};
  /* A run directory: the per-run formats, not report.json or junit.xml. */
  assert_int_equal(fl_report_render_run(r, dir, &err), 0);
  assert_true(exists(dir, "report.html"));
  assert_true(exists(dir, "summary.md"));
  assert_false(exists(dir, "junit.xml"));
  assert_false(exists(dir, "report.json"));
  /* report.json through the table, read back the same. */
  char *path = fl_asprintf("%s/%s", dir, fl_report_file("json"));
  assert_int_equal(fl_report_render("json", &r, 1, NULL, path, &err), 0);
  json_t *back = json_load_file(path, 0, NULL);
  assert_true(json_equal(back, r));
  json_decref(back);
  fl_free(path);
  assert_int_equal(fl_report_render("bogus", &r, 1, NULL, "x", &err), FL_EUSAGE);
  /* A suite: summary.md and junit.xml, the latter where asked. */
  json_t *v[2] = {r, sample("fail")};
  char *sub = fl_asprintf("%s/suite", dir);
  assert_int_equal(mkdir(sub, 0755), 0);
  char *jx = fl_asprintf("%s/elsewhere.xml", dir);
  assert_int_equal(fl_report_render_suite(v, 2, sub, jx, &err), 0);
  assert_true(exists(sub, "summary.md"));
  assert_false(exists(sub, "junit.xml"));
  assert_true(exists(dir, "elsewhere.xml"));
  assert_int_equal(fl_report_render_suite(v, 2, sub, NULL, &err), 0);
  assert_true(exists(sub, "junit.xml"));
  /* A directory that is not there: an error naming the file. */
  char *gone = fl_asprintf("%s/gone", dir);
  fl_err_t e2 = {0};
  assert_true(fl_report_render_run(r, gone, &e2) < 0);
  assert_non_null(strstr(e2.msg, "/gone/report.html"));
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
  fl_free(gone);
  fl_free(jx);
  fl_free(sub);
  json_decref(v[1]);
  json_decref(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_render),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
