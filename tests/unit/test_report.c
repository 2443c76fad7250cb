/* Unit tests of the report writers (reports/): each sample report in
 * tests/data/reports/ is rendered to HTML, JUnit XML and Markdown, and the
 * outputs are checked for what a reviewer or a CI system relies on.
 *
 * With FL_REPORT_OUT=DIR in the environment the rendered files are kept in
 * DIR (tests/integration/report_render.sh uses this to open them in a
 * browser and run xmllint); otherwise they go to a temporary directory that
 * is removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "reports/report.h"

static char out_dir[4096];
static int keep_out;

static const char *src_dir(void) {
  const char *s = getenv("FL_SRC");
  return s != NULL && s[0] != '\0' ? s : FL_SOURCE_DIR;
}

static char *sample_dir(const char *name) {
  return fl_asprintf("%s/tests/data/reports/%s", src_dir(), name);
}

static json_t *load_sample(const char *name) {
  char *path = fl_asprintf("%s/tests/data/reports/%s/report.json", src_dir(), name);
  json_error_t jerr;
  json_t *r = json_load_file(path, 0, &jerr);
  if (r == NULL)
    fail_msg("%s:%d: %s", path, jerr.line, jerr.text);
  fl_free(path);
  return r;
}

static char *out_path(const char *file) {
  return fl_asprintf("%s/%s", out_dir, file);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    fail_msg("%s: %s", path, strerror(errno));
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = fl_malloc((size_t)n + 1);
  assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
    n++;
  return n;
}

#define assert_has(hay, needle)                                                          \
  do {                                                                                   \
    if (strstr((hay), (needle)) == NULL)                                                 \
      fail_msg("expected to find: %s", (needle));                                        \
  } while (0)
#define assert_lacks(hay, needle)                                                        \
  do {                                                                                   \
    if (strstr((hay), (needle)) != NULL)                                                 \
      fail_msg("did not expect: %s", (needle));                                          \
  } while (0)

/* Renders sample name to <out>/<name>.html and returns the page. */
static char *render_sample(const char *name, int with_run_dir) {
  json_t *r = load_sample(name);
  char *dir = sample_dir(name);
  char *file = fl_asprintf("%s.html", name);
  char *path = out_path(file);
  fl_err_t err = {0};
  int rc = fl_report_write_html(r, with_run_dir ? dir : NULL, path, &err);
  if (rc != 0)
    fail_msg("fl_report_write_html: %s", err.msg);
  char *html = slurp(path);
  json_decref(r);
  fl_free(dir);
  fl_free(file);
  fl_free(path);
  return html;
}

/* Nothing in the page may reach for the network or run code. */
static void assert_self_contained(const char *html) {
  assert_lacks(html, "<script");
  assert_lacks(html, "<link");
  assert_lacks(html, "<img");
  assert_lacks(html, "@import");
  assert_lacks(html, "url(http");
  assert_lacks(html, "src=");
  /* The only absolute URL is the SVG namespace name, which is never fetched. */
  size_t urls = count(html, "http://") + count(html, "https://");
  assert_int_equal(urls, count(html, "xmlns=\"http://www.w3.org/2000/svg\""));
  assert_has(html, "<style>");
  assert_has(html, "@media print");
}

/* ---- validation --------------------------------------------------------------- */

static void test_validate_samples(void **state) {
  const char *names[] = {"pass-kill-restart", "fail-partition", "error-died"};
  for (size_t i = 0; i < 3; i++) {
    json_t *r = load_sample(names[i]);
    fl_err_t err = {0};
    if (fl_report_validate(r, &err) != 0)
      fail_msg("%s: %s", names[i], err.msg);
    json_decref(r);
  }
}

/* Applies a change to the passing sample and expects validation to fail
 * with a message that names field. */
static void expect_invalid(void (*change)(json_t *r), const char *field) {
  json_t *r = load_sample("pass-kill-restart");
  change(r);
  fl_err_t err = {0};
  assert_int_equal(fl_report_validate(r, &err), FL_EPARSE);
  assert_int_equal(err.code, FL_EPARSE);
  if (strstr(err.msg, field) == NULL)
    fail_msg("message \"%s\" does not name %s", err.msg, field);
  json_decref(r);
}

static void no_status(json_t *r) {
  json_object_del(r, "status");
}
static void bad_status(json_t *r) {
  json_object_set_new(r, "status", json_string("passed"));
}
static void status_number(json_t *r) {
  json_object_set_new(r, "status", json_integer(0));
}
static void seed_string(json_t *r) {
  json_object_set_new(r, "seed", json_string("1234"));
}
static void state_t_string(json_t *r) {
  json_t *st = json_array_get(
      json_object_get(json_array_get(json_object_get(r, "services"), 1), "states"), 0);
  json_object_set_new(st, "t", json_string("soon"));
}
static void error_without_message(json_t *r) {
  json_object_set_new(r, "status", json_string("error"));
}
static void pass_without_checks(json_t *r) {
  json_object_del(r, "checks");
}
static void fault_ends_before_start(json_t *r) {
  json_t *f = json_array_get(json_object_get(r, "faults"), 1);
  json_object_set_new(f, "end_s", json_real(1.0));
}
static void fault_missing_end(json_t *r) {
  json_object_del(json_array_get(json_object_get(r, "faults"), 0), "end_s");
}
static void check_bad_status(json_t *r) {
  json_object_set_new(json_array_get(json_object_get(r, "checks"), 2), "status",
                      json_string("ok"));
}
static void bad_started_at(json_t *r) {
  json_object_set_new(r, "started_at", json_string("yesterday"));
}
static void negative_duration(json_t *r) {
  json_object_set_new(r, "duration_s", json_real(-1));
}

static void test_validate_rejects(void **state) {
  expect_invalid(no_status, "status: missing");
  expect_invalid(bad_status, "status: \"passed\" is not one of");
  expect_invalid(status_number, "status: expected a string");
  expect_invalid(seed_string, "seed: expected an integer");
  expect_invalid(state_t_string, "services[1].states[0].t:");
  expect_invalid(error_without_message, "error: missing");
  expect_invalid(pass_without_checks, "checks: missing");
  expect_invalid(fault_ends_before_start, "faults[1].end_s");
  expect_invalid(fault_missing_end, "faults[0].end_s: missing");
  expect_invalid(check_bad_status, "checks[2].status");
  expect_invalid(bad_started_at, "started_at");
  expect_invalid(negative_duration, "duration_s: must not be negative");
  fl_err_t err = {0};
  json_t *arr = json_array();
  assert_int_equal(fl_report_validate(arr, &err), FL_EPARSE);
  json_decref(arr);
}

static void test_validate_tolerates_unknown_fields(void **state) {
  json_t *r = load_sample("fail-partition");
  json_object_set_new(r, "something_new", json_pack("{s:[i,i]}", "x", 1, 2));
  json_object_set_new(json_array_get(json_object_get(r, "checks"), 0), "extra",
                      json_true());
  fl_err_t err = {0};
  assert_int_equal(fl_report_validate(r, &err), 0);
  json_decref(r);
}

/* ---- HTML ----------------------------------------------------------------------- */

static void test_html_failing_run(void **state) {
  char *html = render_sample("fail-partition", 1);
  assert_self_contained(html);
  assert_has(html, "<div class=\"verdict v-fail\">FAIL</div>");
  assert_has(html, "a follower cut off from the leader serves no stale reads");
  assert_has(html, "--seed 42 --only &#39;a follower cut off");
  /* One lane per service, the partition band with its label, the kill. */
  assert_int_equal(count(html, "<g class=\"lane\">"), 3);
  assert_int_equal(count(html, "<g class=\"fault\">"), 2);
  assert_has(html, ">partition n2 | n1 n3</text>");
  assert_has(html, ">kill n1</text>");
  /* n2's lane alone hatched during the partition. */
  assert_int_equal(count(html, "fill=\"url(#fh0)\""), 1);
  /* The stale read: marked on the timeline and drawn in its own evidence
   * timeline with the operations around it. */
  assert_int_equal(count(html, "class=\"anomaly\""), 1);
  assert_has(html, "\xE2\x9C\x97 read x \xE2\x86\x92 1</text>");
  assert_has(html, "<svg class=\"ev-lin\"");
  assert_int_equal(count(html, "<g class=\"evop bad\">"), 1);
  assert_int_equal(count(html, "<g class=\"evop\">"), 3);
  assert_has(html, "process 3</text>");
  assert_has(html, "write x 2");
  assert_has(html, "cas x 2\xE2\x86\x92"
                   "3 (fail)");
  /* The recovery that took too long, against its limit. */
  assert_has(html, "<svg class=\"ev-recovery\"");
  assert_has(html, "limit 3.00 s");
  /* Operations, latency and throughput from history.jsonl. */
  assert_has(html, "<g class=\"ops\">");
  assert_has(html, "<g class=\"lat\">");
  assert_has(html, "<g class=\"thr\">");
  assert_has(html, "history.jsonl (628 operations)");
  /* The log lines around the partition, with its start marked, and a log
   * line holding markup shown as text. */
  assert_has(html, "partition begins");
  assert_has(html, "partition ends");
  assert_has(html, "replicate to n2: connection reset by peer");
  assert_has(html, "&lt;unsafe&gt; reads still served &amp; &quot;stale&quot;");
  assert_lacks(html, "<unsafe>");
  /* Two failed checks listed at the top. */
  assert_has(html, "2 of 4 checks did not pass");
  assert_has(html, "id=\"check-4\"");
  fl_free(html);
}

static void test_html_passing_run(void **state) {
  char *html = render_sample("pass-kill-restart", 1);
  assert_self_contained(html);
  assert_has(html, "<div class=\"verdict v-pass\">PASS</div>");
  assert_int_equal(count(html, "<g class=\"lane\">"), 3);
  assert_has(html, "class=\"s-killed\"");
  assert_has(html, "class=\"s-paused\"");
  assert_has(html, ">kill n1</text>");
  assert_has(html, ">pause n3</text>");
  assert_has(html, "All 3 checks passed.");
  assert_has(html, "recovered in 1.23 s");
  assert_lacks(html, "class=\"anomaly\"");
  fl_free(html);
}

static void test_html_error_run(void **state) {
  /* No run directory: no history, no logs, and still a page. */
  char *html = render_sample("error-died", 0);
  assert_self_contained(html);
  assert_has(html, "<div class=\"verdict v-error\">ERROR</div>");
  assert_has(html, "class=\"errorbox\"");
  assert_has(html, "clock.lua:23: attempt to index a nil value (field &#39;leader&#39;)");
  assert_int_equal(count(html, "<g class=\"lane\">"), 2);
  assert_has(html, ">clock n1 \xE2\x86\x92</text>"); /* still active at the end */
  assert_has(html, "class=\"s-crashed\"");
  assert_has(html, "no history.jsonl beside report.json");
  assert_has(html, "No check results were recorded.");
  fl_free(html);
}

static void test_html_escaping(void **state) {
  json_t *r = load_sample("fail-partition");
  const char *evil = "<script>alert(\"x\")</script> & 'co'";
  json_object_set_new(r, "scenario", json_string(evil));
  json_t *svc = json_array_get(json_object_get(r, "services"), 0);
  json_object_set_new(svc, "name", json_string("a<b>\"c\"&d"));
  json_t *c = json_array_get(json_object_get(r, "checks"), 3);
  json_object_set_new(c, "message", json_string("x < y && y > \"z\""));
  json_object_set_new(json_array_get(json_object_get(r, "faults"), 0), "kind",
                      json_string("<partition>"));
  char *path = out_path("escaping.html");
  fl_err_t err = {0};
  assert_int_equal(fl_report_write_html(r, NULL, path, &err), 0);
  char *html = slurp(path);
  assert_lacks(html, "<script");
  assert_lacks(html, "a<b>");
  assert_lacks(html, "<partition>");
  assert_has(html,
             "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;");
  assert_has(html, "a&lt;b&gt;&quot;c&quot;&amp;d");
  assert_has(html, "x &lt; y &amp;&amp; y &gt; &quot;z&quot;");
  fl_free(html);
  fl_free(path);
  json_decref(r);
}

/* Partitions name their sides from attrs (as fl.partition records them) or
 * from nested targets; a one-way cut reads "from ↛ to". The lanes hatched
 * are the smallest side's. */
static void test_html_partition_sides(void **state) {
  json_t *r = load_sample("fail-partition");
  json_t *f = json_array_get(json_object_get(r, "faults"), 0);
  char *path = out_path("sides.html");
  /* Nested targets, no attrs. */
  json_object_set_new(f, "targets", json_pack("[[s],[s,s]]", "n2", "n1", "n3"));
  json_object_set_new(f, "attrs", json_object());
  assert_int_equal(fl_report_write_html(r, NULL, path, NULL), 0);
  char *html = slurp(path);
  assert_has(html, ">partition n2 | n1 n3</text>");
  assert_int_equal(count(html, "fill=\"url(#fh0)\""), 1);
  fl_free(html);
  /* One way. */
  json_object_set_new(f, "targets", json_pack("[s,s,s]", "n1", "n3", "n2"));
  json_object_set_new(f, "attrs",
                      json_pack("{s:[s,s],s:[s]}", "from", "n1", "n3", "to", "n2"));
  assert_int_equal(fl_report_write_html(r, NULL, path, NULL), 0);
  html = slurp(path);
  assert_has(html, ">partition n1, n3 \xE2\x86\x9B n2</text>");
  assert_int_equal(count(html, "fill=\"url(#fh0)\""), 1);
  fl_free(html);
  /* Plain targets: every one is hatched. */
  json_object_set_new(f, "attrs", json_object());
  assert_int_equal(fl_report_write_html(r, NULL, path, NULL), 0);
  html = slurp(path);
  assert_has(html, ">partition n1, n3, n2</text>");
  assert_int_equal(count(html, "fill=\"url(#fh0)\""), 3);
  fl_free(html);
  fl_free(path);
  json_decref(r);
}

/* A history of 100,000 operations must give a page of bounded size, with
 * each chart holding a bounded number of marks. */
static void test_html_large_history(void **state) {
  char *dir = out_path("large-run");
  mkdir(dir, 0777);
  char *hist = fl_asprintf("%s/history.jsonl", dir);
  FILE *f = fopen(hist, "w");
  assert_non_null(f);
  srand(7);
  const int nproc = 20;
  long long t[20] = {0};
  for (int i = 0; i < 100000; i++) {
    int p = i % nproc;
    long long lat = 200000 + rand() % 5000000;
    const char *type = (i % 97 == 0) ? "fail" : (i % 211 == 0) ? "info" : "ok";
    if (strcmp(type, "info") == 0)
      lat = 1000000000;
    fprintf(f,
            "{\"process\":%d,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k\","
            "\"time\":%lld}\n",
            p, t[p]);
    fprintf(f,
            "{\"process\":%d,\"type\":\"%s\",\"f\":\"read\",\"key\":\"k\",\"value\":%d,"
            "\"time\":%lld}\n",
            p, type, i, t[p] + lat);
    t[p] += lat + rand() % 20000000;
  }
  fprintf(f, "not json at all\n");
  fclose(f);
  json_t *r = load_sample("pass-kill-restart");
  json_object_set_new(r, "duration_s", json_real(130));
  char *path = out_path("large.html");
  fl_err_t err = {0};
  clock_t c0 = clock();
  assert_int_equal(fl_report_write_html(r, dir, path, &err), 0);
  double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
  char *html = slurp(path);
  size_t len = strlen(html);
  assert_true(len < 4u << 20);
  const char *ops = strstr(html, "<g class=\"ops\">");
  const char *lat = strstr(html, "<g class=\"lat\">");
  const char *thr = strstr(html, "<g class=\"thr\">");
  assert_non_null(ops);
  assert_non_null(lat);
  assert_non_null(thr);
  size_t ops_marks = 0, lat_marks = 0;
  for (const char *p = strstr(ops, "<rect"); p != NULL && p < lat;
       p = strstr(p + 1, "<rect"))
    ops_marks++;
  for (const char *p = strstr(lat, "<rect"); p != NULL && p < thr;
       p = strstr(p + 1, "<rect"))
    lat_marks++;
  assert_true(ops_marks > 20);
  assert_true(ops_marks <= 4000);
  assert_true(lat_marks > 100);
  assert_true(lat_marks <= 4000);
  assert_has(html, "history.jsonl (100000 operations)");
  assert_has(html, "1 lines skipped as malformed");
  print_message("100k ops: %zu bytes of HTML, %zu op marks, %zu latency marks, %.2f s\n",
                len, ops_marks, lat_marks, secs);
  fl_free(html);
  fl_free(path);
  json_decref(r);
  if (!keep_out) {
    unlink(hist);
    rmdir(dir);
  }
  fl_free(hist);
  fl_free(dir);
}

/* Reports with fields of the wrong type or missing render without crashing
 * (under the sanitizers in CI), in all three formats. */
static void test_render_tolerates_garbage(void **state) {
  const char *docs[] = {
      "{}",
      "{\"status\": 3, \"services\": \"n1\", \"faults\": {}, \"checks\": 7}",
      "{\"status\": \"fail\", \"duration_s\": -5, \"services\": [1, null, {\"name\": 2, "
      "\"states\": [3, {\"t\": \"x\"}, {\"t\": -1, \"state\": \"ready\"}, {\"t\": 1e300, "
      "\"state\": \"crashed\"}]}], \"faults\": [null, {\"kind\": 1, \"targets\": [[1, "
      "[2]], "
      "{}], \"start_s\": 9, \"end_s\": 2}], \"checks\": [{\"status\": \"fail\", "
      "\"evidence\": {\"op\": {\"invoke_s\": 5, \"complete_s\": 1}, \"concurrent\": [1, "
      "{\"invoke_s\": 5}]}}, {\"recovery_s\": null, \"limit_s\": 0}, {\"kind\": "
      "\"recovery\", "
      "\"recovery_s\": 1e9}], \"stats\": {\"ops\": [], \"latency_ms\": 4, \"phases\": "
      "[1]}}",
  };
  char *dir = sample_dir("fail-partition");
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
    json_error_t jerr;
    json_t *r = json_loads(docs[i], 0, &jerr);
    if (r == NULL)
      fail_msg("doc %zu: %s", i, jerr.text);
    fl_err_t err = {0};
    assert_int_not_equal(fl_report_validate(r, &err), 0);
    char *html = out_path("garbage.html");
    char *xml = out_path("garbage.xml");
    char *md = out_path("garbage.md");
    /* With the sample's history and logs, whose times match nothing here. */
    if (fl_report_write_html(r, dir, html, &err) != 0 ||
        fl_report_write_junit(&r, 1, xml, &err) != 0 ||
        fl_report_write_markdown(&r, 1, md, &err) != 0)
      fail_msg("doc %zu: %s", i, err.msg);
    char *page = slurp(html);
    assert_has(page, "</html>");
    fl_free(page);
    fl_free(html);
    fl_free(xml);
    fl_free(md);
    json_decref(r);
  }
  fl_free(dir);
}

static void test_html_unwritable(void **state) {
  json_t *r = load_sample("pass-kill-restart");
  fl_err_t err = {0};
  int rc = fl_report_write_html(r, NULL, "/nonexistent-dir/report.html", &err);
  assert_true(rc < 0);
  assert_has(err.msg, "/nonexistent-dir/report.html");
  assert_int_equal(
      fl_report_write_html(json_object_get(r, "services"), NULL, "/tmp/x.html", &err),
      FL_EPARSE);
  json_decref(r);
}

/* ---- JUnit and Markdown -------------------------------------------------------- */

static json_t **four_reports(void) {
  json_t **rs = fl_calloc(4, sizeof(json_t *));
  rs[0] = load_sample("pass-kill-restart");
  rs[1] = load_sample("fail-partition");
  rs[2] = load_sample("error-died");
  /* A second scenario from the first one's file, failing, with markup in
   * its name and messages. */
  rs[3] = load_sample("fail-partition");
  json_object_set_new(rs[3], "file", json_string("scenarios/demo/kill-restart.lua"));
  json_object_set_new(rs[3], "scenario",
                      json_string("a <b>bold</b> & \"quoted\" | piped"));
  char *dir = sample_dir("fail-partition");
  json_object_set_new(rs[3], "run_dir", json_string(dir));
  fl_free(dir);
  /* Run directories beside the outputs, as a suite writes them. */
  const char *runs[] = {"runs/a", "runs/b/", "./runs/x/../c"};
  for (int i = 0; i < 3; i++) {
    char *rd = fl_asprintf("%s/%s", out_dir, runs[i]);
    json_object_set_new(rs[i], "run_dir", json_string(rd));
    fl_free(rd);
  }
  return rs;
}

static void free_reports(json_t **rs) {
  for (int i = 0; i < 4; i++)
    json_decref(rs[i]);
  fl_free(rs);
}

static void test_junit(void **state) {
  json_t **rs = four_reports();
  char *path = out_path("junit.xml");
  fl_err_t err = {0};
  assert_int_equal(fl_report_write_junit(rs, 4, path, &err), 0);
  char *x = slurp(path);
  assert_has(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
  assert_has(x, "<testsuites name=\"faultline\" tests=\"4\" failures=\"2\" errors=\"1\"");
  /* One suite per scenario file, in order of first appearance. */
  assert_int_equal(count(x, "<testsuite "), 3);
  assert_has(x, "<testsuite name=\"scenarios/demo/kill-restart.lua\" tests=\"2\" "
                "failures=\"1\" errors=\"0\"");
  assert_has(x, "<testsuite name=\"scenarios/demo/follower-cut.lua\" tests=\"1\" "
                "failures=\"1\" errors=\"0\"");
  assert_has(x, "<testsuite name=\"scenarios/demo/clock.lua\" tests=\"1\" failures=\"0\" "
                "errors=\"1\"");
  assert_true(strstr(x, "kill-restart.lua\"") < strstr(x, "follower-cut.lua\""));
  assert_int_equal(count(x, "<testcase "), 4);
  assert_int_equal(count(x, "<failure "), 2);
  assert_int_equal(count(x, "<error "), 1);
  assert_has(x, "classname=\"scenarios.demo.kill-restart\"");
  assert_has(x, "timestamp=\"2026-11-26T12:00:00\"");
  /* The failure names the first failed check, lists all, and says where the
   * report is. */
  assert_has(
      x, "<failure message=\"writes succeed within 3 s of the leader&#39;s restart: "
         "first successful write 4.10 s after the fault ended (limit 3 s) (and 1 more "
         "failed checks)\" type=\"recovery\">");
  assert_has(x, "stale reads are impossible [linearizable]: read x -&gt; 1 by process 3");
  assert_has(x, "report: runs/b/report.html");
  assert_has(x, "report: runs/c/report.html"); /* no "html": the default name */
  assert_has(x, "tests/data/reports/fail-partition/report.html\n");
  assert_has(x, "re-run: faultline run scenarios/demo/clock.lua --seed 7");
  assert_has(x,
             "<error message=\"scenarios/demo/clock.lua:23: attempt to index a nil value "
             "(field &#39;leader&#39;)\" type=\"error\">");
  /* Escaping in attributes and text. */
  assert_has(x, "name=\"a &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot; | piped\"");
  assert_lacks(x, "<b>");
  /* The tail of the logs, for the failing report whose run_dir is real. */
  assert_has(x, "--- n2: last 20 lines of ");
  assert_has(x, "raft: caught up 57 entries from leader");
  assert_has(x, "(could not be read)"); /* the relative run_dir of the others */
  fl_free(x);
  fl_free(path);
  free_reports(rs);
}

static void test_junit_empty(void **state) {
  char *path = out_path("junit-empty.xml");
  assert_int_equal(fl_report_write_junit(NULL, 0, path, NULL), 0);
  char *x = slurp(path);
  assert_has(x, "<testsuites name=\"faultline\" tests=\"0\" failures=\"0\" errors=\"0\"");
  fl_free(x);
  fl_free(path);
}

static void test_markdown(void **state) {
  json_t **rs = four_reports();
  char *path = out_path("summary.md");
  fl_err_t err = {0};
  assert_int_equal(fl_report_write_markdown(rs, 4, path, &err), 0);
  char *md = slurp(path);
  assert_has(md, "3 of 4 scenarios did not pass");
  assert_has(md, "| Verdict | Scenario | File | Seed | Duration | Recovery |");
  assert_has(
      md, "| \xE2\x9C\x85 pass | leader killed and restarted | "
          "scenarios/demo/kill-restart.lua | 1234 | 12.3 s | 1.23 s \xE2\x89\xA4 3.00 s "
          "| 3/3 | \xE2\x80\x93 | [report](runs/a/report.html) |");
  assert_has(md, "4.10 s &gt; 3.00 s \xE2\x9D\x8C");
  assert_has(md, "[report](runs/b/report.html)");
  assert_has(md, "[report](runs/c/report.html)");
  /* Markup and table pipes in a name are escaped. */
  assert_has(md, "a &lt;b&gt;bold&lt;/b&gt; &amp; \"quoted\" \\| piped");
  assert_lacks(md, "<b>");
  /* Details of what did not pass, with the command to re-run. */
  assert_has(md, "**stale reads are impossible** (linearizable): read x -&gt; 1");
  assert_has(md,
             "- **error**: scenarios/demo/clock.lua:23: attempt to index a nil value");
  assert_has(md, "```sh\nfaultline run scenarios/demo/clock.lua --seed 7 --only "
                 "'cluster survives a clock jump'\n```");
  /* Every table row has the header's number of cells. */
  const char *p = strstr(md, "| Verdict");
  for (int row = 0; row < 6 && p != NULL; row++) {
    const char *nl = strchr(p, '\n');
    size_t cells = 0;
    for (const char *q = p; q < nl; q++)
      cells += *q == '|' && q[-1] != '\\';
    assert_int_equal(cells, 10);
    p = nl + 1;
  }
  fl_free(md);
  /* Scenarios run side by side: the wall time is their span, not the sum. */
  const char *at[] = {"2026-12-04T10:00:00Z", "2026-12-04T10:00:01Z",
                      "2026-12-04T10:00:02Z", "2026-12-04T10:00:03Z"};
  for (int i = 0; i < 4; i++) {
    json_object_set_new(rs[i], "started_at", json_string(at[i]));
    json_object_set_new(rs[i], "duration_s", json_real(10));
  }
  assert_int_equal(fl_report_write_markdown(rs, 4, path, &err), 0);
  md = slurp(path);
  assert_has(md, "13.0 s wall time (40.0 s of scenario time)");
  fl_free(md);
  /* One after the other: the plain sum. */
  for (int i = 0; i < 4; i++) {
    char t[32];
    snprintf(t, sizeof(t), "2026-12-04T10:00:%02dZ", i * 10);
    json_object_set_new(rs[i], "started_at", json_string(t));
  }
  assert_int_equal(fl_report_write_markdown(rs, 4, path, &err), 0);
  md = slurp(path);
  assert_lacks(md, "wall time");
  assert_has(md, "40.0 s\n");
  fl_free(md);
  fl_free(path);
  free_reports(rs);
}

/* A report re-rendered from another directory than the one it ran in links
 * report.html beside the output when the recorded place does not exist. */
static void test_links(void **state) {
  char *sub = out_path("moved");
  mkdir(sub, 0777);
  char *html = fl_asprintf("%s/report.html", sub);
  FILE *f = fopen(html, "w");
  assert_non_null(f);
  fclose(f);
  json_t *r = load_sample("pass-kill-restart"); /* run_dir runs/kill-restart-... */
  char *md = fl_asprintf("%s/summary.md", sub);
  assert_int_equal(fl_report_write_markdown(&r, 1, md, NULL), 0);
  char *text = slurp(md);
  assert_has(text, "[report](report.html)");
  fl_free(text);
  /* A link that exists is kept, however it climbs. */
  json_object_set_new(r, "run_dir", json_string(sub));
  json_object_set_new(r, "html", json_string("../moved/report.html"));
  char *other = out_path("summary-up.md");
  assert_int_equal(fl_report_write_markdown(&r, 1, other, NULL), 0);
  text = slurp(other);
  assert_has(text, "[report](moved/report.html)");
  fl_free(text);
  if (!keep_out) {
    unlink(html);
    unlink(md);
    unlink(other);
    rmdir(sub);
  }
  json_decref(r);
  fl_free(other);
  fl_free(md);
  fl_free(html);
  fl_free(sub);
}

/* ---- the buffer ---------------------------------------------------------------- */

static void test_buf(void **state) {
  fl_buf_t b;
  fl_buf_init(&b, 16);
  assert_string_equal(fl_buf_str(&b), "");
  assert_int_equal(fl_buf_puts(&b, "0123456789"), 0);
  assert_true(fl_buf_puts(&b, "0123456789") < 0);
  assert_true(b.full);
  assert_true(fl_buf_puts(&b, "x") < 0); /* dropped once full */
  assert_string_equal(fl_buf_str(&b), "0123456789");
  fl_err_t err = {0};
  assert_true(fl_buf_write_file(&b, "/tmp/never-written", &err) < 0);
  fl_buf_free(&b);

  fl_buf_init(&b, 1 << 20);
  /* Invalid UTF-8, a control character and a forbidden one become U+FFFD;
   * valid multi-byte characters pass. */
  fl_buf_esc(&b,
             "a\xff"
             "b\x01"
             "c\xC3\xA9\xEF\xBF\xBE",
             0, 0);
  assert_string_equal(fl_buf_str(&b), "a\xEF\xBF\xBD"
                                      "b\xEF\xBF\xBD"
                                      "c\xC3\xA9\xEF\xBF\xBD");
  fl_buf_reset(&b);
  fl_buf_esc(&b, "l1\nl2", 0, FL_ESC_ATTR);
  assert_string_equal(fl_buf_str(&b), "l1&#10;l2");
  fl_buf_reset(&b);
  /* A cut never splits a character. */
  fl_buf_esc(&b, "ab\xC3\xA9\xC3\xA9", 3, 0);
  assert_string_equal(fl_buf_str(&b), "ab\xE2\x80\xA6");
  fl_buf_free(&b);
}

static int setup(void **state) {
  const char *keep = getenv("FL_REPORT_OUT");
  if (keep != NULL && keep[0] != '\0') {
    snprintf(out_dir, sizeof(out_dir), "%s", keep);
    mkdir(out_dir, 0777);
    keep_out = 1;
    return 0;
  }
  snprintf(out_dir, sizeof(out_dir), "/tmp/fl-test-report-XXXXXX");
  return mkdtemp(out_dir) != NULL ? 0 : -1;
}

static int teardown(void **state) {
  if (keep_out)
    return 0;
  char *cmd = fl_asprintf("rm -rf '%s'", out_dir);
  int rc = system(cmd);
  fl_free(cmd);
  return rc == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_validate_samples),
      cmocka_unit_test(test_validate_rejects),
      cmocka_unit_test(test_validate_tolerates_unknown_fields),
      cmocka_unit_test(test_html_failing_run),
      cmocka_unit_test(test_html_passing_run),
      cmocka_unit_test(test_html_error_run),
      cmocka_unit_test(test_html_escaping),
      cmocka_unit_test(test_html_partition_sides),
      cmocka_unit_test(test_html_large_history),
      cmocka_unit_test(test_render_tolerates_garbage),
      cmocka_unit_test(test_html_unwritable),
      cmocka_unit_test(test_junit),
      cmocka_unit_test(test_junit_empty),
      cmocka_unit_test(test_markdown),
      cmocka_unit_test(test_links),
      cmocka_unit_test(test_buf),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
