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
 * an error report gets an error element. system-out holds the tail of each
 * service's log (report "run_dir" + services[].log). n may be 0. */
int fl_report_write_junit(json_t *const *reports, size_t n, const char *path,
                          fl_err_t *err);

/* Writes a short Markdown summary (GitHub-flavoured): a table of scenarios
 * with verdicts, durations, recovery times and links (report "html", as
 * given), then the failed checks' messages and re-run commands. n may be 0. */
int fl_report_write_markdown(json_t *const *reports, size_t n, const char *path,
                             fl_err_t *err);

/* Checks report against the rules reports/schema.json states: the required
 * fields and their types, the status enumerations, "error" when the status is
 * "error", and "checks" and "stats" unless it is. Returns 0, or FL_EPARSE
 * with the first offending field's path in err ("services[1].states[0].t:
 * expected a number"). */
int fl_report_validate(const json_t *report, fl_err_t *err);

#endif
