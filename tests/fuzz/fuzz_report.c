/* libFuzzer target: report.json as `faultline report` and `faultline report
 * merge` read it, on arbitrary bytes.
 *
 *   report RUN_DIR      jansson's reader, fl_report_validate, and when the
 *                       report is valid the HTML page and the Markdown
 *                       summary rendered from it (harness/cmd_report.c).
 *   report merge DIR... jansson's reader and, without any validation (merge
 *                       takes what it finds), the JUnit XML and the Markdown
 *                       summary of the report as given, with the "html" link
 *                       set as merge sets it (harness/suite.c).
 *
 * The pages are written to a scratch directory made once in /dev/shm (or
 * /tmp, or $FUZZ_SCRATCH) and removed at exit (the writers write
 * "<path>.tmp" and rename it). A parse or validation error is fine; a crash,
 * a leak or undefined behaviour is not. The run directory is the scratch
 * one, which holds no history.jsonl or logs: a report's services[].log that
 * points elsewhere is read like any log.
 *
 *   tools/fuzz.sh (make fuzz) builds and runs it; seeds in
 *   tests/fuzz/corpus/fuzz_report/ are report.json files of real runs. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/error.h"
#include "reports/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static char html[96], md[96], junit[96];

static void scratch_remove(void) {
  const char *files[] = {html, md, junit};
  for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
    unlink(files[i]);
  rmdir(dir);
}

static void scratch(void) {
  /* In memory where there is a tmpfs: a million runs write three files each. */
  const char *base = getenv("FUZZ_SCRATCH");
  if (base == NULL)
    base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof(dir), "%s/fl-fuzz-report-XXXXXX", base);
  if (mkdtemp(dir) == NULL) {
    perror("fuzz_report: mkdtemp");
    abort();
  }
  snprintf(html, sizeof(html), "%s/report.html", dir);
  snprintf(md, sizeof(md), "%s/summary.md", dir);
  snprintf(junit, sizeof(junit), "%s/junit.xml", dir);
  atexit(scratch_remove);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (dir[0] == '\0')
    scratch();
  json_t *r = json_loadb((const char *)data, size, 0, NULL);
  if (r == NULL)
    return 0;
  fl_err_t err = {0};

  /* report merge: every report found, as it is, with its link. */
  json_t *merged = json_deep_copy(r);
  if (json_is_object(merged))
    json_object_set_new(merged, "html", json_string("sub/report.html"));
  json_t *v[2] = {merged, r};
  fl_report_write_markdown(v, 2, md, &err);
  fl_report_write_junit(v, 2, junit, &err);
  json_decref(merged);

  /* report RUN_DIR: validated first, then rendered. */
  if (fl_report_validate(r, &err) == 0) {
    fl_report_write_html(r, dir, html, &err);
    fl_report_write_markdown(&r, 1, md, &err);
  }
  json_decref(r);
  return 0;
}
