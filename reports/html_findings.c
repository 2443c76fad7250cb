/* report.html's findings panel: shown first, before the failed checks, when
 * the scenario found anomalies it was told to expect (fl_report_findings).
 * Each finding lists the operations it found (the lost, duplicated or stale
 * ones) with their invoke and completion times, and links the check's
 * card. */
#include <string.h>

#include "reports/internal.h"
#include "reports/report.h"

#define MAX_OPS_SHOWN 100 /* rows per finding; report.json keeps up to 200 */
#define OPS_IN_VIEW 10    /* rows shown before "N more operations" */

/* The number of check name's card (check-N), or 0 when there is none. */
static size_t card_of(const json_t *report, const char *name) {
  size_t i;
  json_t *c;
  json_array_foreach(fl__jarr(report, "checks"), i, c) {
    if (strcmp(fl__jstr(c, "name", ""), name) == 0)
      return i + 1;
  }
  return 0;
}

static void seconds_cell(fl_buf_t *b, const json_t *op, const char *key) {
  if (fl__jisnum(op, key))
    fl_buf_printf(b, "<td class=\"n\">%.3f</td>", fl__jnum(op, key, 0));
  else
    fl_buf_puts(b, "<td class=\"n\">\xE2\x80\x93</td>"); /* never completed */
}

static void table_head(fl_buf_t *b) {
  fl_buf_puts(b, "<table class=\"grid-t fd-ops\"><tr><th>#</th><th>process</th>"
                 "<th>operation</th><th>outcome</th><th>invoked (s)</th>"
                 "<th>completed (s)</th></tr>");
}

static void ops_table(fl_buf_t *b, const json_t *ops) {
  size_t n = json_array_size(ops);
  if (n == 0)
    return;
  table_head(b);
  size_t i;
  json_t *op;
  json_array_foreach(ops, i, op) {
    if (i == MAX_OPS_SHOWN)
      break;
    /* The first ones in view; the rest one click away, so the timeline
     * below stays near the top of the page. */
    if (i == OPS_IN_VIEW && n > OPS_IN_VIEW + 2) {
      fl_buf_printf(b, "</table><details><summary>%zu more operations</summary>",
                    (n < MAX_OPS_SHOWN ? n : MAX_OPS_SHOWN) - i);
      table_head(b);
    }
    fl_buf_printf(b, "<tr><td class=\"n\">%zu</td><td class=\"n\">", i + 1);
    if (fl__jisnum(op, "process"))
      fl_buf_printf(b, "%.0f", fl__jnum(op, "process", 0));
    fl_buf_puts(b, "</td><td class=\"mono\">");
    fl__op_label_esc(b, op);
    fl_buf_puts(b, "</td><td>");
    fl_buf_esc(b, fl__jstr(op, "type", ""), 10, FL_ESC_ONELINE);
    fl_buf_puts(b, "</td>");
    seconds_cell(b, op, "invoke_s");
    seconds_cell(b, op, "complete_s");
    fl_buf_puts(b, "</tr>");
  }
  fl_buf_puts(b, n > OPS_IN_VIEW + 2 ? "</table></details>" : "</table>");
  if (n > MAX_OPS_SHOWN)
    fl_buf_printf(b, "<p class=\"note\">%zu more in report.json.</p>", n - MAX_OPS_SHOWN);
}

void fl__html_findings(fl_buf_t *b, const json_t *report) {
  json_t *findings = fl_report_findings(report);
  size_t n = json_array_size(findings);
  if (n == 0) {
    json_decref(findings);
    return;
  }
  fl_buf_printf(b,
                "<section id=\"findings\" class=\"findings\"><h2>Findings</h2>"
                "<p class=\"note\">The scenario passed <b>with %zu finding%s</b>: "
                "%s what it was told to expect.</p>\n",
                n, n == 1 ? "" : "s", n == 1 ? "a check found" : "checks found");
  size_t i;
  json_t *f;
  json_array_foreach(findings, i, f) {
    const char *check = fl__jstr(f, "check", "check");
    size_t card = card_of(report, check);
    fl_buf_printf(b, "<div class=\"finding\"><h3><span class=\"fd-n\">%.0f</span> ",
                  fl__jnum(f, "count", 1));
    fl_buf_esc(b, fl__jstr(f, "what", "found"), 300, FL_ESC_ONELINE);
    fl_buf_puts(b, " <span class=\"ft\">");
    if (card > 0)
      fl_buf_printf(b, "<a href=\"#check-%zu\">", card);
    fl_buf_esc(b, check, 300, FL_ESC_ONELINE);
    fl_buf_puts(b, card > 0 ? "</a></span></h3>" : "</span></h3>");
    if (fl__jstr(f, "message", NULL) != NULL) {
      fl_buf_puts(b, "<p class=\"ck-msg\">");
      fl_buf_esc(b, fl__jstr(f, "message", ""), FL__MSG_MAX, 0);
      fl_buf_puts(b, "</p>");
    }
    ops_table(b, fl__jarr(f, "ops"));
    fl_buf_puts(b, "</div>\n");
  }
  fl_buf_puts(b, "</section>\n");
  json_decref(findings);
}
