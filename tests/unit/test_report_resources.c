/* The resource parts of the renderings (reports/html_resources.c, the
 * services tables of html.c and markdown.c): a report with series draws a
 * chart row per service with its lines, bands for the faults aimed at it,
 * and the figures in both tables; a report without them (an older one)
 * renders as before, without a Resources section; the schema accepts the
 * new keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "reports/report.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = fl_malloc((size_t)n + 1);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static size_t count(const char *s, const char *what) {
  size_t n = 0;
  for (const char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
    n++;
  return n;
}

/* A run of 10 s: db with a series (n points, a swelling RSS), web without. */
static json_t *report_with(size_t n) {
  json_t *t = json_array(), *cpu = json_array(), *rss = json_array();
  for (size_t i = 0; i < n; i++) {
    json_array_append_new(t, json_real(10.0 * (double)i / (double)n));
    json_array_append_new(cpu, json_real(0.5 * (double)i * 10.0 / (double)n));
    json_array_append_new(rss, json_integer((json_int_t)(i * 100000)));
  }
  json_t *db = json_pack(
      "{s:s, s:[], s:{s:o, s:o, s:o}, s:I, s:f, s:[{s:f, s:s, s:s}]}", "name", "db",
      "pids", "resources", "t_s", t, "cpu_s", cpu, "rss_bytes", rss, "peak_rss_bytes",
      (json_int_t)47841280, "cpu_s", 3.11, "states", "t", 9.5, "state", "crashed",
      "detail", "killed by the OOM killer (signal 9, memory limit 50331648 bytes)");
  json_t *web = json_pack("{s:s}", "name", "web");
  json_t *r = json_pack(
      "{s:s, s:s, s:s, s:i, s:s, s:s, s:f, s:[o, o], s:[{s:i, s:s, s:[s], s:{s:f}, s:f, "
      "s:f}], s:[]}",
      "faultline", "0.1.0", "scenario", "res", "file", "res.lua", "seed", 1, "status",
      "pass", "started_at", "2026-12-04T00:00:00Z", "duration_s", 10.0, "services", db,
      web, "faults", "id", 1, "kind", "cpu", "targets", "db", "attrs", "quota", 0.2,
      "start_s", 2.0, "end_s", 5.0, "checks");
  json_object_set_new(
      r, "stats", json_pack("{s:{s:i, s:i, s:i}}", "ops", "ok", 0, "fail", 0, "info", 0));
  return r;
}

static char dir[] = "/tmp/fl-repres-XXXXXX";

static void test_html_and_markdown(void **state) {
  (void)state;
  json_t *r = report_with(40);
  fl_err_t err = {0};
  if (fl_report_validate(r, &err) != 0)
    fail_msg("%s", err.msg);
  char html[600], md[600];
  snprintf(html, sizeof(html), "%s/report.html", dir);
  snprintf(md, sizeof(md), "%s/summary.md", dir);
  assert_int_equal(fl_report_write_html(r, dir, html, &err), 0);
  char *h = slurp(html);
  assert_non_null(strstr(h, "<section id=\"resources\">"));
  assert_int_equal(count(h, "class=\"res-chart\""), 1);
  assert_int_equal(count(h, "id=\"res-cpu-db\""), 1); /* db has a series */
  assert_int_equal(count(h, "id=\"res-rss-db\""), 1);
  assert_null(strstr(h, "res-cpu-web")); /* web has none: no row */
  /* the cpu fault aimed at db is a band in its row, from 2 s to 5 s */
  const char *sec = strstr(h, "<section id=\"resources\">");
  assert_non_null(strstr(sec, "<title>cpu</title>"));
  /* the services table: peak RSS and CPU s, a dash where there is none */
  assert_non_null(strstr(h, "<th>peak RSS</th><th>CPU s</th>"));
  assert_non_null(strstr(h, "<td class=\"n\">45.6 MiB</td><td class=\"n\">3.11</td>"));
  assert_non_null(strstr(h, "OOM killer"));
  fl_free(h);
  assert_int_equal(fl_report_write_markdown(&r, 1, md, &err), 0);
  char *m = slurp(md);
  assert_non_null(strstr(m, "| service | last state | peak RSS | CPU s |"));
  assert_non_null(strstr(m, "| db | crashed: killed by the OOM killer"));
  assert_non_null(strstr(m, "| 45.6 MiB | 3.11 |"));
  assert_non_null(strstr(m, "| web |  | \xE2\x80\x93 | \xE2\x80\x93 |"));
  fl_free(m);
  json_decref(r);
}

/* A long series is drawn with a bounded number of points. */
static void test_points_bounded(void **state) {
  (void)state;
  json_t *r = report_with(20000);
  fl_err_t err = {0};
  char html[600];
  snprintf(html, sizeof(html), "%s/long.html", dir);
  assert_int_equal(fl_report_write_html(r, dir, html, &err), 0);
  char *h = slurp(html);
  const char *line = strstr(h, "id=\"res-cpu-db\"");
  assert_non_null(line);
  const char *pts = strstr(line, "points=\"");
  const char *end = strchr(pts + 8, '"');
  size_t n = 0;
  for (const char *p = pts; p < end; p++)
    n += *p == ',';
  assert_true(n > 100 && n <= 700);
  fl_free(h);
  json_decref(r);
}

/* An older report, without resource figures: no section, no table. */
static void test_older_report(void **state) {
  (void)state;
  json_t *r = report_with(40);
  json_t *db = json_array_get(json_object_get(r, "services"), 0);
  json_object_del(db, "resources");
  json_object_del(db, "peak_rss_bytes");
  json_object_del(db, "cpu_s");
  fl_err_t err = {0};
  char html[600], md[600];
  snprintf(html, sizeof(html), "%s/old.html", dir);
  snprintf(md, sizeof(md), "%s/old.md", dir);
  assert_int_equal(fl_report_write_html(r, dir, html, &err), 0);
  assert_int_equal(fl_report_write_markdown(&r, 1, md, &err), 0);
  char *h = slurp(html), *m = slurp(md);
  assert_null(strstr(h, "id=\"resources\""));
  assert_null(strstr(m, "peak RSS"));
  fl_free(h);
  fl_free(m);
  json_decref(r);
}

static int setup(void **state) {
  (void)state;
  return mkdtemp(dir) == NULL;
}

static int teardown(void **state) {
  (void)state;
  fl_rm_tree(dir);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_html_and_markdown),
      cmocka_unit_test(test_points_bounded),
      cmocka_unit_test(test_older_report),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
