/* report.html's schedule: the faults fl.nemesis injected (report.json
 * "schedule"), one row each with its offset, how long it was held, its
 * kind, targets and parameters, and its coverage: whether traffic met it on
 * the links it touched (an idle fault is not a survived one). */
#include <stdlib.h>
#include <string.h>

#include "reports/internal.h"
#include "reports/report.h"

#define ROWS_MAX 500 /* rows drawn; report.json keeps them all */

static void coverage_cell(fl_buf_t *b, const json_t *e) {
  json_t *c = json_object_get(e, "coverage");
  if (!json_is_object(c) || strcmp(fl__jstr(c, "measured", "none"), "none") == 0) {
    fl_buf_puts(b, "<td>not measured</td>");
    return;
  }
  int crossed = json_is_true(json_object_get(c, "crossed"));
  fl_buf_printf(b, "<td class=\"%s\">%s:", crossed ? "pass" : "warn",
                crossed ? "crossed" : "no traffic (idle)");
  if (fl__jisnum(c, "ops"))
    fl_buf_printf(b, " %.0f client operation(s) met it, %.0f failed or unknown;",
                  fl__jnum(c, "ops", 0), fl__jnum(c, "ops_failed", 0));
  if (fl__jnum(c, "links", 0) > 0)
    fl_buf_printf(b, " %.0f bytes, %.0f connections on %.0f link(s)",
                  fl__jnum(c, "bytes", 0), fl__jnum(c, "connections", 0),
                  fl__jnum(c, "links", 0));
  fl_buf_puts(b, "</td>");
}

static void row(fl_buf_t *b, const json_t *e) {
  fl_buf_printf(b, "<tr><td class=\"n\">%.0f</td><td class=\"n\">%.3f</td>",
                fl__jnum(e, "id", 0), fl__jnum(e, "start_s", 0));
  fl_buf_printf(b, "<td class=\"n\">%.3f</td><td>",
                fl__jnum(e, "held_s", fl__jnum(e, "duration_s", 0)));
  fl_buf_esc(b, fl__jstr(e, "kind", "?"), 40, 0);
  fl_buf_puts(b, "</td><td>");
  fl__targets_esc(b, json_object_get(e, "targets"), 0);
  fl_buf_puts(b, "</td><td><code>");
  char *p = json_dumps(json_object_get(e, "params"), JSON_COMPACT | JSON_SORT_KEYS);
  fl_buf_esc(b, p ? p : "", 300, FL_ESC_ONELINE);
  free(p);
  fl_buf_puts(b, "</code>");
  if (fl__jstr(e, "error", NULL) != NULL) {
    fl_buf_puts(b, " <span class=\"fail\">");
    fl_buf_esc(b, fl__jstr(e, "error", ""), 300, FL_ESC_ONELINE);
    fl_buf_puts(b, "</span>");
  }
  fl_buf_puts(b, "</td>");
  coverage_cell(b, e);
  fl_buf_puts(b, "</tr>\n");
}

void fl__html_schedule(fl_buf_t *b, const json_t *report) {
  json_t *list = fl__jarr(report, "schedule");
  size_t n = json_array_size(list), idle = 0, i;
  if (!json_is_array(json_object_get(report, "schedule")))
    return;
  json_t *e;
  json_array_foreach(list, i, e) {
    json_t *c = json_object_get(e, "coverage");
    if (json_is_false(json_object_get(c, "crossed")))
      idle++;
  }
  fl_buf_printf(b,
                "<section id=\"schedule\"><h2>Schedule</h2>\n<p>%zu fault(s) drawn by "
                "fl.nemesis; %zu met no traffic. Replay them with <code>faultline run "
                "FILE --replay RUN_DIR</code>; shrink them with <code>faultline shrink "
                "RUN_DIR</code>.</p>\n",
                n, idle);
  fl_buf_puts(b,
              "<table class=\"grid-t\"><tr><th>#</th><th>start (s)</th><th>held (s)</th>"
              "<th>kind</th><th>targets</th><th>parameters</th><th>coverage</th></tr>\n");
  json_array_foreach(list, i, e) {
    if (i >= ROWS_MAX)
      break;
    row(b, e);
  }
  fl_buf_puts(b, "</table></section>\n");
}
