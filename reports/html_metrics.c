/* The timeline's rows for what the scenario itself recorded: fl.metric's
 * series (report.json "metrics": [{name, unit, points: [[t, v], ...]}]),
 * one small line chart each below throughput, and fl.log's lines (events of
 * type "step") as marks on a row of notes above the axis, each with its
 * text. Both share the timeline's time axis (fl__tl_x). */
#include <math.h>
#include <string.h>

#include "reports/html_svg.h"

#define METRICS_MAX 12     /* series drawn; the others stay in report.json */
#define NOTES_MAX 400      /* marks drawn */
#define NOTE_LABEL_MAX 48  /* characters of a note's label on the row */
#define NAME_FITS 13       /* characters of a series' name at 12 px left of the chart */
#define NAME_FITS_SMALL 17 /* ... at 10 px; longer names are cut (whole on hover) */

static int is_series(const json_t *m) {
  return json_is_string(json_object_get(m, "name")) &&
         json_array_size(fl__jarr(m, "points")) > 0;
}

int fl__tl_metrics_count(const json_t *report) {
  size_t i, n = 0;
  json_t *m;
  json_array_foreach(fl__jarr(report, "metrics"), i, m) n += is_series(m);
  return n > METRICS_MAX ? METRICS_MAX : (int)n;
}

static int is_note(const json_t *ev) {
  return strcmp(fl__jstr(ev, "type", ""), "step") == 0 && fl__jisnum(ev, "t") &&
         fl__jstr(ev, "message", NULL) != NULL;
}

int fl__tl_notes_count(const json_t *report) {
  size_t i, n = 0;
  json_t *ev;
  json_array_foreach(fl__jarr(report, "events"), i, ev) n += is_note(ev);
  return n > NOTES_MAX ? NOTES_MAX : (int)n;
}

/* One series' chart, its top at y. */
static void draw_series(fl__tl_t *t, const json_t *m, double y) {
  fl_buf_t *b = t->b;
  json_t *points = fl__jarr(m, "points");
  double lo = INFINITY, hi = -INFINITY;
  size_t i;
  json_t *p;
  json_array_foreach(points, i, p) {
    double v = json_number_value(json_array_get(p, 1));
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  /* From zero for values that are all positive (a lag, a length): the
   * height then reads as the size. */
  if (lo > 0)
    lo = 0;
  if (hi <= lo)
    hi = lo + 1;
  double step = fl__svg_nice_step((hi - lo) / 2);
  hi = lo + step * ceil((hi - lo) / step);
  /* The name has the ~100 px left of the ticks: smaller type when long,
   * cut past what fits, the whole name on hover. */
  const char *name = fl__jstr(m, "name", "");
  size_t len = strlen(name);
  fl_buf_printf(b, "<g class=\"metric\"><text class=\"fl-name%s\" x=\"%.1f\" y=\"%.1f\">",
                len > NAME_FITS ? " sm" : "", TL_X0 - 46, y + METRIC_H / 2);
  fl_buf_puts(b, "<title>");
  fl_buf_esc(b, name, 200, FL_ESC_ONELINE);
  fl_buf_puts(b, "</title>");
  fl_buf_esc(b, name, NAME_FITS_SMALL, FL_ESC_ONELINE);
  fl_buf_printf(b, "</text><text class=\"fl-sub\" x=\"%.1f\" y=\"%.1f\">", TL_X0 - 46,
                y + METRIC_H / 2 + 13);
  fl_buf_esc(b, fl__jstr(m, "unit", ""), 16, FL_ESC_ONELINE);
  fl_buf_printf(b,
                "</text><rect class=\"chart\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\"/>",
                TL_X0, y, TL_X1 - TL_X0, METRIC_H);
  for (int k = 0; k <= 2; k++) {
    double v = lo + (hi - lo) * k / 2, gy = y + METRIC_H - METRIC_H * k / 2;
    char lab[32];
    fl__svg_fmt_tick(lab, sizeof(lab), v);
    fl_buf_printf(b,
                  "<path class=\"grid\" d=\"M%.1f %.1fH%.1f\"/>"
                  "<text class=\"fl-tick e\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                  TL_X0, gy, TL_X1, TL_X0 - 3, gy + 3.5, lab);
  }
  fl_buf_puts(b, "<path class=\"metric-line\" d=\"");
  json_array_foreach(points, i, p) {
    double s = json_number_value(json_array_get(p, 0));
    double v = json_number_value(json_array_get(p, 1));
    fl_buf_printf(b, "%s%.1f %.1f", i ? "L" : "M", fl__tl_x(t, s),
                  y + METRIC_H - (v - lo) / (hi - lo) * METRIC_H);
  }
  fl_buf_puts(b, "\"/>");
  /* Dots (with their value on hover) while they are few enough to tell
   * apart. */
  if (json_array_size(points) <= 200) {
    json_array_foreach(points, i, p) {
      double s = json_number_value(json_array_get(p, 0));
      double v = json_number_value(json_array_get(p, 1));
      fl_buf_printf(b,
                    "<circle class=\"metric-dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\">"
                    "<title>%.3f s: %g ",
                    fl__tl_x(t, s), y + METRIC_H - (v - lo) / (hi - lo) * METRIC_H, s, v);
      fl_buf_esc(b, fl__jstr(m, "unit", ""), 16, FL_ESC_ONELINE);
      fl_buf_puts(b, "</title></circle>");
    }
  }
  fl_buf_puts(b, "</g>\n");
}

void fl__tl_draw_metrics(fl__tl_t *t) {
  size_t i;
  json_t *m;
  int k = 0;
  json_array_foreach(fl__jarr(t->report, "metrics"), i, m) {
    if (k >= t->nmetrics)
      break;
    if (!is_series(m))
      continue;
    draw_series(t, m, t->y_metrics + k * (METRIC_H + METRIC_GAP));
    k++;
  }
}

void fl__tl_draw_notes(fl__tl_t *t) {
  fl_buf_t *b = t->b;
  double y = t->y_notes + NOTES_H / 2;
  fl_buf_printf(b,
                "<g class=\"notes\"><text class=\"fl-name\" x=\"%.1f\" y=\"%.1f\">"
                "fl.log</text>",
                TL_X0 - 46, y + 4);
  double free_x = TL_X0; /* where the next label may start */
  size_t i;
  json_t *ev;
  int n = 0;
  json_array_foreach(fl__jarr(t->report, "events"), i, ev) {
    if (!is_note(ev))
      continue;
    if (n++ >= NOTES_MAX)
      break;
    double x = fl__tl_x(t, fl__jnum(ev, "t", 0));
    const char *msg = fl__jstr(ev, "message", "");
    fl_buf_printf(
        b,
        "<path class=\"note-mark\" d=\"M%.1f %.1fV%.1f\"/>"
        "<circle class=\"note-dot\" cx=\"%.1f\" cy=\"%.1f\" r=\"3\"><title>%.3f s: ",
        x, t->band_top, t->y_notes, x, y, fl__jnum(ev, "t", 0));
    fl_buf_esc(b, msg, 400, FL_ESC_ONELINE);
    fl_buf_puts(b, "</title></circle>");
    /* A label where it does not run into the previous one. */
    size_t len = strlen(msg) > NOTE_LABEL_MAX ? NOTE_LABEL_MAX : strlen(msg);
    double w = (double)len * CHAR_W;
    if (x + 5 >= free_x && x + 5 + w <= TL_X1 + 10) {
      fl_buf_printf(b, "<text class=\"note-label\" x=\"%.1f\" y=\"%.1f\">", x + 5, y + 4);
      fl_buf_esc(b, msg, NOTE_LABEL_MAX, FL_ESC_ONELINE);
      fl_buf_puts(b, "</text>");
      free_x = x + 5 + w + 8;
    }
  }
  fl_buf_puts(b, "</g>\n");
}
