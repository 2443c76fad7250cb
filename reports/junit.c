/* junit.xml for CI: the shape of the Jenkins junit-10.xsd, which GitHub,
 * GitLab, Jenkins and most other CI systems read. One testsuite per scenario
 * file, one testcase per scenario. A failed scenario carries one failure
 * element (CI systems show the first one only) whose message names the first
 * failed check and whose text lists them all, with the report's path and the
 * re-run command; system-out carries the tail of every service's log. */
#include "reports/report.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "reports/internal.h"

#define TAIL_LINES 20
#define TAIL_SERVICES 12
#define MAX_CHECKS_LISTED 200

static int is_status(const json_t *r, const char *s) {
  return strcmp(fl__jstr(r, "status", "error"), s) == 0;
}

/* "error" for anything that is neither pass nor fail: a report we cannot
 * read is not a success. */
static const char *verdict(const json_t *r) {
  return is_status(r, "pass") ? "pass" : is_status(r, "fail") ? "fail" : "error";
}

static void attr(fl_buf_t *b, const char *name, const char *value) {
  fl_buf_printf(b, " %s=\"", name);
  fl_buf_esc(b, value, 2000, FL_ESC_ATTR);
  fl_buf_puts(b, "\"");
}

/* scenarios/demo/kill-restart.lua -> scenarios.demo.kill-restart */
static void classname(fl_buf_t *b, const char *file) {
  size_t n = strlen(file);
  if (n > 4 && strcmp(file + n - 4, ".lua") == 0)
    n -= 4;
  fl_buf_t c;
  fl_buf_init(&c, 4096);
  for (size_t i = 0; i < n && i < 1000; i++) {
    char ch = file[i] == '/' ? '.' : file[i];
    if (!(i == 0 && ch == '.'))
      fl_buf_add(&c, &ch, 1);
  }
  attr(b, "classname", fl_buf_str(&c));
  fl_buf_free(&c);
}

/* The first 19 characters of an ISO 8601 time (no zone: the strictest
 * JUnit schemas want exactly that), or NULL. */
static int timestamp(const char *iso, char out[20]) {
  if (iso == NULL || strlen(iso) < 19)
    return 0;
  static const char shape[] = "dddd-dd-ddTdd:dd:dd";
  for (int i = 0; i < 19; i++) {
    if (shape[i] == 'd' ? !isdigit((unsigned char)iso[i]) : iso[i] != shape[i])
      return 0;
  }
  memcpy(out, iso, 19);
  out[19] = '\0';
  return 1;
}

static void check_line(fl_buf_t *b, const json_t *c) {
  const char *st = fl__jstr(c, "status", "unknown");
  char word[16];
  snprintf(word, sizeof(word), "%.10s", st);
  for (char *w = word; *w; w++)
    *w = (char)toupper((unsigned char)*w);
  fl_buf_printf(b, "  %-7s ", word);
  fl_buf_esc(b, fl__jstr(c, "name", "check"), 300, FL_ESC_ONELINE);
  if (fl__jstr(c, "kind", NULL) != NULL) {
    fl_buf_puts(b, " [");
    fl_buf_esc(b, fl__jstr(c, "kind", ""), 40, FL_ESC_ONELINE);
    fl_buf_puts(b, "]");
  }
  if (fl__jstr(c, "message", NULL) != NULL) {
    fl_buf_puts(b, ": ");
    fl_buf_esc(b, fl__jstr(c, "message", ""), FL__MSG_MAX, 0);
  }
  fl_buf_puts(b, "\n");
  const char *evmsg = fl__jstr(fl__jobj(c, "evidence"), "message", NULL);
  if (evmsg != NULL && strcmp(st, "pass") != 0) {
    fl_buf_puts(b, "          evidence: ");
    fl_buf_esc(b, evmsg, FL__MSG_MAX, 0);
    fl_buf_puts(b, "\n");
  }
}

static void where_lines(fl_buf_t *b, const json_t *r, const char *out_path) {
  char *link = fl__report_link(r, out_path);
  if (link != NULL) {
    fl_buf_puts(b, "report: ");
    fl_buf_esc(b, link, 2000, 0);
    fl_buf_puts(b, "\n");
  }
  fl_free(link);
  char *cmd = fl__rerun_command(r);
  fl_buf_puts(b, "re-run: ");
  fl_buf_esc(b, cmd, 4000, 0);
  fl_buf_puts(b, "\n");
  fl_free(cmd);
}

static void failure_elem(fl_buf_t *b, const json_t *r, const char *out) {
  json_t *checks = fl__jarr(r, "checks");
  size_t i, nbad = 0;
  json_t *c, *first = NULL;
  json_array_foreach(checks, i, c) {
    if (!is_status(c, "pass")) {
      nbad++;
      first = first != NULL ? first : c;
    }
  }
  fl_buf_t msg;
  fl_buf_init(&msg, 8192);
  if (first != NULL) {
    fl_buf_puts(&msg, fl__jstr(first, "name", "check"));
    if (fl__jstr(first, "message", NULL) != NULL) {
      fl_buf_puts(&msg, ": ");
      fl_buf_puts(&msg, fl__jstr(first, "message", ""));
    }
    if (nbad > 1)
      fl_buf_printf(&msg, " (and %zu more failed checks)", nbad - 1);
  } else {
    fl_buf_puts(&msg, "the scenario failed");
  }
  fl_buf_puts(b, "      <failure");
  fl_buf_puts(b, " message=\"");
  fl_buf_esc(b, fl_buf_str(&msg), 1000, FL_ESC_ATTR);
  fl_buf_puts(b, "\"");
  attr(b, "type", first != NULL ? fl__jstr(first, "kind", "check") : "scenario");
  fl_buf_puts(b, ">");
  fl_buf_free(&msg);
  json_array_foreach(checks, i, c) {
    if (i >= MAX_CHECKS_LISTED)
      break;
    if (!is_status(c, "pass"))
      check_line(b, c);
  }
  where_lines(b, r, out);
  fl_buf_puts(b, "</failure>\n");
}

static void error_elem(fl_buf_t *b, const json_t *r, const char *out) {
  const char *msg = fl__jstr(r, "error", NULL);
  if (msg == NULL)
    msg = json_is_string(json_object_get(r, "status")) ? "the run ended in an error"
                                                       : "the report has no valid status";
  fl_buf_puts(b, "      <error");
  attr(b, "message", msg);
  attr(b, "type", "error");
  fl_buf_puts(b, ">");
  fl_buf_esc(b, msg, 8000, 0);
  fl_buf_puts(b, "\n");
  where_lines(b, r, out);
  fl_buf_puts(b, "</error>\n");
}

static int same_file(const json_t *a, const json_t *b) {
  return strcmp(fl__jstr(a, "file", ""), fl__jstr(b, "file", "")) == 0;
}

/* A property per finding of the reports of one file (junit-10.xsd allows
 * properties on a testsuite only): "finding" with the scenario and check
 * as its name, what was found and how many as its value. */
static void finding_properties(fl_buf_t *b, json_t *const *reports, size_t n,
                               const json_t *first) {
  for (size_t j = 0; j < n; j++) {
    if (!same_file(first, reports[j]))
      continue;
    json_t *findings = fl_report_findings(reports[j]);
    size_t i;
    json_t *f;
    json_array_foreach(findings, i, f) {
      fl_buf_t name, value;
      fl_buf_init(&name, 1024);
      fl_buf_init(&value, 1024);
      fl_buf_printf(&name, "finding: %s: %s", fl__jstr(reports[j], "scenario", "?"),
                    fl__jstr(f, "check", "check"));
      fl_buf_printf(&value, "%.0f %s", fl__jnum(f, "count", 1),
                    fl__jstr(f, "what", "found"));
      fl_buf_puts(b, "      <property");
      attr(b, "name", fl_buf_str(&name));
      attr(b, "value", fl_buf_str(&value));
      fl_buf_puts(b, "/>\n");
      fl_buf_free(&name);
      fl_buf_free(&value);
    }
    json_decref(findings);
  }
}

/* One system-out line per finding. */
static void finding_lines(fl_buf_t *b, const json_t *r) {
  json_t *findings = fl_report_findings(r);
  size_t i;
  json_t *f;
  json_array_foreach(findings, i, f) {
    fl_buf_puts(b, "finding: ");
    fl_buf_esc(b, fl__jstr(f, "check", "check"), 400, FL_ESC_ONELINE);
    fl_buf_printf(b, ": %.0f ", fl__jnum(f, "count", 1));
    fl_buf_esc(b, fl__jstr(f, "what", "found"), 400, FL_ESC_ONELINE);
    fl_buf_puts(b, "\n");
  }
  json_decref(findings);
}

static void system_out(fl_buf_t *b, const json_t *r, const char *out) {
  fl_buf_puts(b, "      <system-out>");
  fl_buf_puts(b, "scenario: ");
  fl_buf_esc(b, fl__jstr(r, "scenario", ""), 400, FL_ESC_ONELINE);
  json_t *seed = json_object_get(r, "seed");
  if (json_is_integer(seed))
    fl_buf_printf(b, "\nseed: %" JSON_INTEGER_FORMAT, json_integer_value(seed));
  fl_buf_puts(b, "\n");
  where_lines(b, r, out);
  finding_lines(b, r);
  json_t *checks = fl__jarr(r, "checks");
  if (json_array_size(checks) > 0)
    fl_buf_puts(b, "checks:\n");
  size_t i;
  json_t *c;
  json_array_foreach(checks, i, c) {
    if (i >= MAX_CHECKS_LISTED)
      break;
    check_line(b, c);
  }
  /* The logs matter when something went wrong; a passing run's output
   * stays short. */
  const char *run_dir = fl__jstr(r, "run_dir", NULL);
  json_t *svc;
  if (!is_status(r, "pass")) {
    json_array_foreach(fl__jarr(r, "services"), i, svc) {
      if (i >= TAIL_SERVICES)
        break;
      char *path = fl__service_log(svc, run_dir);
      fl_buf_puts(b, "--- ");
      fl_buf_esc(b, fl__jstr(svc, "name", "?"), 100, FL_ESC_ONELINE);
      fl_buf_printf(b, ": last %d lines of ", TAIL_LINES);
      fl_buf_esc(b, path, 1000, FL_ESC_ONELINE);
      fl_buf_puts(b, " ---\n");
      if (fl__log_tail_esc(b, path, TAIL_LINES) < 0)
        fl_buf_puts(b, "(could not be read)\n");
      fl_free(path);
    }
  }
  fl_buf_puts(b, "</system-out>\n");
}

static void testcase(fl_buf_t *b, const json_t *r, const char *out) {
  fl_buf_puts(b, "    <testcase");
  attr(b, "name", fl__jstr(r, "scenario", "(unnamed scenario)"));
  classname(b, fl__jstr(r, "file", "faultline"));
  fl_buf_printf(b, " time=\"%.3f\"", fl__jnum(r, "duration_s", 0));
  if (fl__jstr(r, "file", NULL) != NULL)
    attr(b, "file", fl__jstr(r, "file", ""));
  fl_buf_puts(b, ">\n");
  if (strcmp(verdict(r), "fail") == 0)
    failure_elem(b, r, out);
  else if (strcmp(verdict(r), "error") == 0)
    error_elem(b, r, out);
  system_out(b, r, out);
  fl_buf_puts(b, "    </testcase>\n");
}

int fl_report_write_junit(json_t *const *reports, size_t n, const char *path,
                          fl_err_t *err) {
  size_t tests = 0, fails = 0, errors = 0;
  double total = 0;
  for (size_t i = 0; i < n; i++) {
    if (!json_is_object(reports[i]))
      return fl_err_set(err, FL_EPARSE, "%s: report %zu is not a JSON object", path,
                        i + 1);
    tests++;
    fails += strcmp(verdict(reports[i]), "fail") == 0;
    errors += strcmp(verdict(reports[i]), "error") == 0;
    total += fl__jnum(reports[i], "duration_s", 0);
  }
  fl_buf_t b;
  fl_buf_init(&b, FL__TEXT_MAX);
  fl_buf_printf(&b,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<testsuites name=\"faultline\" tests=\"%zu\" failures=\"%zu\" "
                "errors=\"%zu\" time=\"%.3f\">\n",
                tests, fails, errors, total);
  unsigned char *done = fl_calloc(n ? n : 1, 1);
  for (size_t i = 0; i < n; i++) {
    if (done[i])
      continue;
    const json_t *r = reports[i];
    size_t st = 0, sf = 0, se = 0;
    double stime = 0;
    for (size_t j = i; j < n; j++) {
      if (!same_file(r, reports[j]))
        continue;
      st++;
      sf += strcmp(verdict(reports[j]), "fail") == 0;
      se += strcmp(verdict(reports[j]), "error") == 0;
      stime += fl__jnum(reports[j], "duration_s", 0);
    }
    fl_buf_puts(&b, "  <testsuite");
    attr(&b, "name", fl__jstr(r, "file", "faultline"));
    fl_buf_printf(&b,
                  " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" "
                  "time=\"%.3f\"",
                  st, sf, se, stime);
    char ts[20];
    if (timestamp(fl__jstr(r, "started_at", NULL), ts))
      fl_buf_printf(&b, " timestamp=\"%s\"", ts);
    fl_buf_puts(&b, ">\n    <properties>\n      <property name=\"faultline\"");
    attr(&b, "value", fl__jstr(r, "faultline", "?"));
    fl_buf_puts(&b, "/>\n");
    finding_properties(&b, reports, n, r);
    fl_buf_puts(&b, "    </properties>\n");
    for (size_t j = i; j < n; j++) {
      if (done[j] || !same_file(r, reports[j]))
        continue;
      done[j] = 1;
      testcase(&b, reports[j], path);
    }
    fl_buf_puts(&b, "  </testsuite>\n");
  }
  fl_buf_puts(&b, "</testsuites>\n");
  fl_free(done);
  int rc = fl_buf_write_file(&b, path, err);
  fl_buf_free(&b);
  return rc;
}

/* The row of junit (formats.c). */
fl_report_writer_fn fl_report_format_junit;
int fl_report_format_junit(json_t *const *reports, size_t n, const char *run_dir,
                           const char *path, fl_err_t *err) {
  return fl_report_write_junit(reports, n, path, err);
}
