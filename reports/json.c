/* report.json itself: the model every other format is rendered from,
 * written the way a reader of the run directory can always trust (whole or
 * not at all). */
#include "reports/report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

int fl_report_write_json(const json_t *report, const char *path, fl_err_t *err) {
  char *tmp = fl_asprintf("%s.tmp", path);
  int rc = 0;
  if (json_dump_file(report, tmp, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
    rc = fl_err_set(err, errno ? -errno : -EIO, "%s: %s", tmp,
                    strerror(errno ? errno : EIO));
    remove(tmp);
  } else if (rename(tmp, path) != 0) {
    rc = fl_err_set(err, -errno, "%s: %s", path, strerror(errno));
    remove(tmp);
  }
  fl_free(tmp);
  return rc;
}

/* The row of json (formats.c): reports[0] is the report. */
fl_report_writer_fn fl_report_format_json;
int fl_report_format_json(json_t *const *reports, size_t n, const char *run_dir,
                          const char *path, fl_err_t *err) {
  if (n == 0)
    return fl_err_set(err, FL_EUSAGE, "%s: no report", path);
  return fl_report_write_json(reports[0], path, err);
}
