/* The report formats, one row per file a run or a suite leaves: the file
 * names, which of them a run directory and a suite's output directory get,
 * and who writes them. `faultline run`, `faultline suite`, `faultline
 * report` and the links between the files all read this table.
 *
 * Adding a report format is one new file and one row: reports/NAME.c defines
 *
 *   fl_report_writer_fn fl_report_format_NAME;
 *   int fl_report_format_NAME(json_t *const *reports, size_t n,
 *                             const char *run_dir, const char *path, fl_err_t *err);
 *
 * (see fl_report_writer_fn in report.h), and one X(...) row below names it
 * with its file name and scope. CMake finds the new file by its glob; the
 * row declares the function, so no header changes. */
#include "reports/report.h"

#include <string.h>

#include "base/alloc.h"

/* The rows: X(name, file name, scope, one-line summary, writer). The
 * renderings are written in this order. */
/* clang-format off */
#define FL_REPORT_FORMATS(X)                                                              \
  X("json", "report.json", FL_REPORT_MODEL,                                               \
    "the report itself (reports/schema.json): written by the run, read by every format",  \
    fl_report_format_json)                                                                \
  X("html", "report.html", FL_REPORT_PER_RUN,                                             \
    "one self-contained page per run: verdict, timeline, checks, faults and logs",        \
    fl_report_format_html)                                                                \
  X("markdown", "summary.md", FL_REPORT_PER_RUN | FL_REPORT_PER_SUITE,                    \
    "a GitHub-flavoured summary: a table of scenarios, failed checks, re-run commands",   \
    fl_report_format_markdown)                                                            \
  X("junit", "junit.xml", FL_REPORT_PER_SUITE,                                            \
    "JUnit XML for CI (Jenkins junit-10.xsd): a testcase per scenario",                   \
    fl_report_format_junit)
/* clang-format on */

#define DECLARE(name, file, scope, summary, fn) fl_report_writer_fn fn;
FL_REPORT_FORMATS(DECLARE)
#undef DECLARE

#define ROW(name, file, scope, summary, fn) {name, file, scope, summary, fn},
static const fl_report_format_t formats[] = {FL_REPORT_FORMATS(ROW)};
#undef ROW

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

const fl_report_format_t *fl_report_formats(size_t *n) {
  *n = NFORMATS;
  return formats;
}

const fl_report_format_t *fl_report_format_find(const char *name) {
  for (size_t i = 0; name != NULL && i < NFORMATS; i++)
    if (strcmp(formats[i].name, name) == 0)
      return &formats[i];
  return NULL;
}

const char *fl_report_file(const char *name) {
  const fl_report_format_t *f = fl_report_format_find(name);
  return f != NULL ? f->file : NULL;
}

/* Returns new: dir/file (file alone when dir is NULL or empty). */
static char *in_dir(const char *dir, const char *file) {
  if (dir == NULL || dir[0] == '\0')
    return fl_strdup(file);
  size_t n = strlen(dir);
  return fl_asprintf("%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", file);
}

int fl_report_render(const char *name, json_t *const *reports, size_t n,
                     const char *run_dir, const char *path, fl_err_t *err) {
  const fl_report_format_t *f = fl_report_format_find(name);
  if (f == NULL)
    return fl_err_set(err, FL_EUSAGE, "no report format \"%s\"", name ? name : "");
  return f->write(reports, n, run_dir, path, err);
}

int fl_report_render_run(const json_t *report, const char *run_dir, fl_err_t *err) {
  json_t *r = (json_t *)report; /* the writers take arrays of borrowed reports */
  int first = 0;
  for (size_t i = 0; i < NFORMATS; i++) {
    if (!(formats[i].scope & FL_REPORT_PER_RUN))
      continue;
    char *path = in_dir(run_dir, formats[i].file);
    fl_err_t e = {0};
    int rc = formats[i].write(&r, 1, run_dir, path, &e);
    if (rc != 0 && first == 0) {
      first = rc;
      if (err != NULL)
        *err = e;
    }
    fl_free(path);
  }
  return first;
}

char *fl_report_suite_path(const char *name, const char *out_dir,
                           const char *junit_path) {
  const fl_report_format_t *f = fl_report_format_find(name);
  if (f == NULL)
    return NULL;
  if (junit_path != NULL && strcmp(f->name, "junit") == 0)
    return fl_strdup(junit_path);
  return in_dir(out_dir, f->file);
}

int fl_report_render_suite(json_t *const *reports, size_t n, const char *out_dir,
                           const char *junit_path, fl_err_t *err) {
  int first = 0;
  for (size_t i = 0; i < NFORMATS; i++) {
    if (!(formats[i].scope & FL_REPORT_PER_SUITE))
      continue;
    char *path = fl_report_suite_path(formats[i].name, out_dir, junit_path);
    fl_err_t e = {0};
    int rc = formats[i].write(reports, n, NULL, path, &e);
    if (rc != 0 && first == 0) {
      first = rc;
      if (err != NULL)
        *err = e;
    }
    fl_free(path);
  }
  return first;
}
