/* reports/findings.c, and what every writer makes of findings and of
 * fl.metric's series: a pass with findings says so (and never "all
 * passed"), a plain pass does not mention findings; a report written before
 * the "findings" key existed gets the same list from its checks. */
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
#include "reports/report.h"

static char dir[] = "/tmp/fl-findings-XXXXXX";

static int setup(void **state) {
  return mkdtemp(dir) == NULL;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) != 0;
}

static char *slurp(const char *file) {
  char *path = fl_asprintf("%s/%s", dir, file);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = fl_malloc((size_t)n + 1);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  fl_free(path);
  return s;
}

#define assert_has(s, sub)                                                               \
  do {                                                                                   \
    if (strstr((s), (sub)) == NULL)                                                      \
      fail_msg("missing: %s", (sub));                                                    \
  } while (0)
#define assert_lacks(s, sub)                                                             \
  do {                                                                                   \
    if (strstr((s), (sub)) != NULL)                                                      \
      fail_msg("unexpected: %s", (sub));                                                 \
  } while (0)

/* A passing report; with found, a set check that found 2 lost writes, as
 * fl.check.set{expect_loss = true} records it (no "findings" key: the
 * writers build it from the checks). */
static json_t *report(const char *name, int found) {
  json_t *r = json_pack(
      "{s:s, s:s, s:s, s:I, s:s, s:s, s:f, s:[], s:[], s:[{s:s, s:s, s:s}], s:{}}",
      "faultline", "0.0.0", "scenario", name, "file", "f.lua", "seed", (json_int_t)7,
      "status", "pass", "started_at", "2026-01-01T00:00:00Z", "duration_s", 4.0,
      "services", "faults", "checks", "name", "recovery", "status", "pass", "kind",
      "recovery", "stats");
  if (found) {
    json_t *ops =
        json_pack("[{s:i, s:s, s:s, s:i, s:s, s:I, s:I}, {s:i, s:s, s:s, s:i, "
                  "s:s, s:I, s:n}]",
                  "process", 1, "f", "add", "key", "s", "value", 34, "type", "ok",
                  "invoke_ns", (json_int_t)1500000000, "complete_ns",
                  (json_int_t)1750000000, "process", 2, "f", "add", "key", "s", "value",
                  35, "type", "ok", "invoke_ns", (json_int_t)1600000000, "complete_ns");
    json_array_append_new(
        json_object_get(r, "checks"),
        json_pack("{s:s, s:s, s:s, s:s, s:b, s:i, s:{s:s, s:i}, s:{s:o}}", "name",
                  "writes lost", "kind", "set", "status", "pass", "message",
                  "expected finding: 2 acknowledged write(s) lost. ...",
                  "expected_finding", 1, "lost_count", 2, "finding", "what",
                  "acknowledged write(s) lost", "count", 2, "evidence", "lost_ops", ops));
  }
  return r;
}

static void test_from_checks(void **state) {
  json_t *r = report("loss", 1);
  json_t *f = fl_report_findings(r);
  assert_int_equal(json_array_size(f), 1);
  json_t *x = json_array_get(f, 0);
  assert_string_equal(json_string_value(json_object_get(x, "check")), "writes lost");
  assert_string_equal(json_string_value(json_object_get(x, "what")),
                      "acknowledged write(s) lost");
  assert_int_equal(json_integer_value(json_object_get(x, "count")), 2);
  json_t *ops = json_object_get(x, "ops");
  assert_int_equal(json_array_size(ops), 2);
  json_t *op = json_array_get(ops, 0);
  assert_true(json_real_value(json_object_get(op, "invoke_s")) == 1.5);
  assert_true(json_real_value(json_object_get(op, "complete_s")) == 1.75);
  /* Never completed: null, as the schema allows. */
  assert_true(json_is_null(json_object_get(json_array_get(ops, 1), "complete_s")));
  json_object_set(r, "findings", f);
  fl_err_t err = {0};
  assert_int_equal(fl_report_validate(r, &err), 0);
  /* The key, once written, is what every reader takes. */
  json_array_clear(json_object_get(r, "checks"));
  assert_int_equal(fl_report_findings_count(r), 1);
  json_decref(f);
  json_decref(r);

  /* A failed expected finding, or a check that expects nothing, is none;
   * a finding with no figures counts 1 and says its message. */
  r = report("plain", 0);
  assert_int_equal(fl_report_findings_count(r), 0);
  json_array_append_new(json_object_get(r, "checks"),
                        json_pack("{s:s, s:s, s:b, s:s}", "name", "dups", "status",
                                  "fail", "expected_finding", 1, "message",
                                  "found none"));
  assert_int_equal(fl_report_findings_count(r), 0);
  json_array_append_new(json_object_get(r, "checks"),
                        json_pack("{s:s, s:s, s:b, s:s}", "name", "stale", "status",
                                  "pass", "expected_finding", 1, "message",
                                  "expected finding: a stale read"));
  f = fl_report_findings(r);
  assert_int_equal(json_array_size(f), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(f, 0), "what")),
                      "a stale read");
  assert_int_equal(json_integer_value(json_object_get(json_array_get(f, 0), "count")), 1);
  json_decref(f);
  json_decref(r);
}

static void test_validate(void **state) {
  json_t *r = report("m", 0);
  json_object_set_new(r, "metrics",
                      json_pack("[{s:s, s:s, s:[[f, f]]}]", "name", "lag", "unit", "s",
                                "points", 0.5, 3.0));
  fl_err_t err = {0};
  assert_int_equal(fl_report_validate(r, &err), 0);
  json_array_append_new(
      json_object_get(json_array_get(json_object_get(r, "metrics"), 0), "points"),
      json_pack("[s]", "x"));
  assert_int_equal(fl_report_validate(r, &err), FL_EPARSE);
  assert_has(err.msg, "metrics[0].points[1]: expected [seconds, value]");
  json_object_del(r, "metrics");
  json_object_set_new(r, "findings",
                      json_pack("[{s:s, s:s}]", "check", "x", "what", "y"));
  assert_int_equal(fl_report_validate(r, &err), FL_EPARSE);
  assert_has(err.msg, "findings[0].count");
  json_decref(r);
}

static void test_writers(void **state) {
  json_t *v[2] = {report("loss", 1), report("quiet", 0)};
  json_object_set_new(v[0], "events",
                      json_pack("[{s:f, s:s, s:s}]", "t", 2.0, "type", "step", "message",
                                "r1 promoted in 0.13 s"));
  json_object_set_new(v[0], "metrics",
                      json_pack("[{s:s, s:s, s:[[f, f], [f, f]]}]", "name", "replica lag",
                                "unit", "ms", "points", 1.0, 10.0, 3.0, 0.0));
  char *md = fl_asprintf("%s/summary.md", dir), *jx = fl_asprintf("%s/junit.xml", dir),
       *html = fl_asprintf("%s/report.html", dir);
  fl_err_t err = {0};
  assert_int_equal(fl_report_write_markdown(v, 2, md, &err), 0);
  assert_int_equal(fl_report_write_junit(v, 2, jx, &err), 0);
  assert_int_equal(fl_report_write_html(v[0], NULL, html, &err), 0);
  char *s = slurp("summary.md");
  assert_has(s, "2 scenarios passed, 1 of them with findings (1 finding)");
  assert_lacks(s, "all 2 scenarios passed");
  assert_has(s, "1 with findings");
  assert_has(s, "| \xF0\x9F\x94\x8D pass with findings | loss |");
  assert_has(s, "| 2/2 | \xF0\x9F\x94\x8D 1: 2 acknowledged write(s) lost |");
  assert_has(s, "| \xE2\x9C\x85 pass | quiet |");
  assert_has(s, "**writes lost** (finding): 2 acknowledged write(s) lost");
  fl_free(s);
  s = slurp("junit.xml");
  assert_has(s, "<property name=\"finding: loss: writes lost\" "
                "value=\"2 acknowledged write(s) lost\"/>");
  assert_has(s, "finding: writes lost: 2 acknowledged write(s) lost\n");
  assert_lacks(s, "<failure");
  fl_free(s);
  s = slurp("report.html");
  assert_has(s, "PASS<small> with 1 finding</small>");
  assert_true(strstr(s, "id=\"findings\"") < strstr(s, "id=\"timeline\""));
  assert_has(s, "<td class=\"mono\">add s 34</td><td>ok</td><td class=\"n\">1.500</td>"
                "<td class=\"n\">1.750</td>");
  assert_has(s, "<a href=\"#check-2\">writes lost</a>");
  assert_lacks(s, "All 2 checks passed");
  assert_has(s, ">replica lag</text>");
  assert_has(s, "class=\"metric-line\"");
  assert_has(s, ">r1 promoted in 0.13 s</text>");
  fl_free(s);
  /* Nothing found: all passed, and no findings anywhere. */
  assert_int_equal(fl_report_write_markdown(&v[1], 1, md, &err), 0);
  assert_int_equal(fl_report_write_html(v[1], NULL, html, &err), 0);
  s = slurp("summary.md");
  assert_has(s, "all 1 scenario passed");
  assert_lacks(s, "with findings");
  fl_free(s);
  s = slurp("report.html");
  assert_has(s, "All 1 checks passed.");
  assert_lacks(s, "id=\"findings\"");
  assert_lacks(s, "class=\"metric-line\"");
  fl_free(s);
  fl_free(md);
  fl_free(jx);
  fl_free(html);
  json_decref(v[0]);
  json_decref(v[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_from_checks),
      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_writers),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
