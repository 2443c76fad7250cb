/* Report writers: renderings of report.json for people (HTML, Markdown) and
 * for CI (JUnit XML), and a check of report.json's structure.
 *
 * Every writer is a pure function of the report (a jansson object shaped as
 * reports/schema.json describes) plus, for the HTML, the files of the run
 * directory beside it (history.jsonl, logs/<service>.log). Unknown fields are
 * ignored and missing optional ones are left out, so a report of a run that
 * died mid-way (status "error", no stats, faults still active) renders too.
 *
 * Each writer writes the whole file to "<path>.tmp" first and renames it over
 * path, so a reader never sees half a report. All return 0 or a negative code
 * (libuv's errno codes for I/O, FL_EPARSE for a report that is not an object)
 * with the context in err (which may be NULL). Reports are borrowed. */
#ifndef FL_REPORT_H
#define FL_REPORT_H

#include <jansson.h>
#include <stddef.h>

#include "base/error.h"

/* Writes report.html for one scenario's report into path: a self-contained
 * page (inline CSS and SVG, no script, no fetch) with the verdict, the re-run
 * command, a timeline of services, faults and operations, latency and
 * throughput on the same time axis, each check with its evidence, and the log
 * lines around each fault. run_dir (may be NULL) is where history.jsonl and
 * logs/<service>.log live; missing files leave their charts out. */
int fl_report_write_html(const json_t *report, const char *run_dir, const char *path,
                         fl_err_t *err);

/* Writes a JUnit XML file (the Jenkins junit-10.xsd shape): one testsuite per
 * scenario file (report "file"), in order of first appearance, one testcase
 * per report. A failing report gets one failure element listing its failed
 * checks' messages and the path of its report.html (report "html", as given);
 * an error report gets an error element. Each finding is a property of its
 * file's testsuite and a "finding:" line of the testcase's system-out.
 * system-out holds the tail of each service's log (report "run_dir" +
 * services[].log) when the run did not pass. n may be 0. */
int fl_report_write_junit(json_t *const *reports, size_t n, const char *path,
                          fl_err_t *err);

/* Writes a short Markdown summary (GitHub-flavoured): a table of scenarios
 * with verdicts (a pass with findings has its own), durations, recovery
 * times, findings and links (report "html", as given), then the findings,
 * the failed checks' messages and re-run commands. n may be 0. */
int fl_report_write_markdown(json_t *const *reports, size_t n, const char *path,
                             fl_err_t *err);

/* Checks report against the rules reports/schema.json states: the required
 * fields and their types, the status enumerations, "error" when the status is
 * "error", and "checks" and "stats" unless it is. Returns 0, or FL_EPARSE
 * with the first offending field's path in err ("services[1].states[0].t:
 * expected a number"). */
int fl_report_validate(const json_t *report, fl_err_t *err);

/* Writes report as report.json: indented JSON, to "<path>.tmp" then renamed
 * over path. Returns 0 or a negative errno with the file named in err. */
int fl_report_write_json(const json_t *report, const char *path, fl_err_t *err);

/* ---- Findings (findings.c) ------------------------------------------------- */

/* Returns new: report's findings, the anomalies its checks were told to
 * expect and found (a check with expected_finding true and status "pass"):
 * its "findings" array when it has one, else the list built from its checks.
 * Each is {check, kind, what, count, message, ops: [{process, f, key, value,
 * type, invoke_s, complete_s}]} (at most 200 ops). A scenario whose status
 * is "pass" and whose findings are not empty passed *with findings*. */
json_t *fl_report_findings(const json_t *report);
/* How many findings report has (the length of fl_report_findings). */
size_t fl_report_findings_count(const json_t *report);

/* ---- The formats (reports/formats.c: one row each) -------------------------- */

/* Where a format is written (bits of fl_report_format_t.scope). */
enum {
  FL_REPORT_MODEL = 0,     /* report.json: written by the run, read by the others */
  FL_REPORT_PER_RUN = 1,   /* into each run directory (fl_report_render_run) */
  FL_REPORT_PER_SUITE = 2, /* into a suite's output directory (..._render_suite) */
};

/* A format's writer: reports (borrowed; n >= 1 for a per-run format, whose
 * report is reports[0]) rendered into path. run_dir is the run directory of
 * a per-run rendering (where history.jsonl and logs/ are), NULL otherwise.
 * Returns 0 or a negative code with the file named in err. */
typedef int fl_report_writer_fn(json_t *const *reports, size_t n, const char *run_dir,
                                const char *path, fl_err_t *err);

/* One row of the table. Every field is static. */
typedef struct fl_report_format_s {
  const char *name;    /* "html", "markdown", "junit", "json" */
  const char *file;    /* its file name: "report.html" */
  unsigned scope;      /* FL_REPORT_* bits */
  const char *summary; /* one line for the docs */
  fl_report_writer_fn *write;
} fl_report_format_t;

/* The table, borrowed and static; *n is set to its length. */
const fl_report_format_t *fl_report_formats(size_t *n);
/* The row of format name, or NULL. */
const fl_report_format_t *fl_report_format_find(const char *name);
/* The file name of format name ("report.html" for "html"), borrowed and
 * static; NULL when there is no such format. */
const char *fl_report_file(const char *name);

/* Renders format name of reports into path (fl_report_writer_fn).
 * FL_EUSAGE for an unknown format. */
int fl_report_render(const char *name, json_t *const *reports, size_t n,
                     const char *run_dir, const char *path, fl_err_t *err);

/* Writes every per-run format of report (borrowed) into run_dir:
 * report.html and summary.md. Every one is tried; returns 0, or the first
 * failure's code with its message (naming the file) in err. */
int fl_report_render_run(const json_t *report, const char *run_dir, fl_err_t *err);

/* Writes every per-suite format of reports into out_dir: summary.md and
 * junit.xml, the latter at junit_path instead when it is not NULL. Every one
 * is tried; returns 0, or the first failure's code with its message in err. */
int fl_report_render_suite(json_t *const *reports, size_t n, const char *out_dir,
                           const char *junit_path, fl_err_t *err);

/* Returns new: where fl_report_render_suite writes format name, or NULL
 * when there is no such format. */
char *fl_report_suite_path(const char *name, const char *out_dir, const char *junit_path);

#endif
