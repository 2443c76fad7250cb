/* report.html's resource charts: one row per service that has a resource
 * series (report.json services[i].resources), on the timeline's time axis
 * (the same x for the same second, TL_X0 to TL_X1): its CPU use in percent
 * of one CPU as a red line, its RSS as a blue area, and the faults aimed at
 * it as bands, so a reviewer sees at a glance whether a node was pegged or
 * swelling when a fault hit. Bounded: at most RES_MAX_ROWS services and
 * RES_MAX_POINTS points per line. */
#include <math.h>
#include <string.h>

#include "reports/html_svg.h"

#define RES_MAX_ROWS 24
#define RES_MAX_POINTS 600
#define RES_H 46.0
#define RES_GAP 10.0
#define RES_MIN_RSS (8.0 * 1024 * 1024)

typedef struct {
  fl_buf_t *b;
  double end;
} res_axis_t;

static double res_x(const res_axis_t *a, double s) {
  if (!(s > 0))
    s = 0;
  if (s > a->end)
    s = a->end;
  return TL_X0 + s / a->end * (TL_X1 - TL_X0);
}

static int has_series(const json_t *svc) {
  json_t *r = fl__jobj(svc, "resources");
  return json_array_size(fl__jarr(r, "t_s")) >= 2 &&
         json_array_size(fl__jarr(r, "cpu_s")) == json_array_size(fl__jarr(r, "t_s")) &&
         json_array_size(fl__jarr(r, "rss_bytes")) == json_array_size(fl__jarr(r, "t_s"));
}

static double at(const json_t *arr, size_t i) {
  json_t *v = json_array_get(arr, i);
  return json_is_number(v) ? json_number_value(v) : 0;
}

/* CPU % of one CPU between samples i-1 and i. */
static double pct(const json_t *t, const json_t *cpu, size_t i) {
  double dt = at(t, i) - at(t, i - 1);
  double d = at(cpu, i) - at(cpu, i - 1);
  return dt > 0 && d > 0 ? d / dt * 100 : 0;
}

/* The bands of the faults aimed at name, behind the lines. */
static void bands(const res_axis_t *a, const json_t *report, const char *name, double y) {
  size_t i;
  json_t *f;
  json_array_foreach(fl__jarr(report, "faults"), i, f) {
    if (i >= MAX_FAULTS || !fl__fault_focus(f, name))
      continue;
    double s = fl__jnum(f, "start_s", 0);
    double e = fl__jisnum(f, "end_s") ? fl__jnum(f, "end_s", s) : a->end;
    double x0 = res_x(a, s), x1 = res_x(a, e);
    if (x1 - x0 < 2)
      x1 = x0 + 2;
    const char *kind = fl__jstr(f, "kind", "fault");
    fl_buf_printf(a->b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                  "fill=\"%s\" fill-opacity=\"0.18\"><title>",
                  x0, y, x1 - x0, RES_H, fl__fault_color(kind));
    fl_buf_esc(a->b, kind, 60, 0);
    fl_buf_puts(a->b, "</title></rect>");
  }
}

/* One service's row, its top at y. */
static void row(const res_axis_t *a, const json_t *report, const json_t *svc, double y) {
  fl_buf_t *b = a->b;
  const char *name = fl__jstr(svc, "name", "?");
  json_t *r = fl__jobj(svc, "resources");
  json_t *t = fl__jarr(r, "t_s"), *cpu = fl__jarr(r, "cpu_s"),
         *rss = fl__jarr(r, "rss_bytes");
  size_t n = json_array_size(t), stride = n / RES_MAX_POINTS + 1;
  /* Scales from zero: 100 % of one CPU at least, and 8 MiB at least, so a
   * small process's few kilobytes do not fill the row. */
  double max_pct = 100, max_rss = RES_MIN_RSS;
  for (size_t i = 1; i < n; i++)
    max_pct = fmax(max_pct, pct(t, cpu, i));
  for (size_t i = 0; i < n; i++)
    max_rss = fmax(max_rss, at(rss, i));
  char mem[32];
  fl_buf_printf(b,
                "<g><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"#f4f5f7\"/>",
                TL_X0, y, TL_X1 - TL_X0, RES_H);
  bands(a, report, name, y);
  /* RSS: an area from the baseline. */
  fl_buf_puts(b, "<polygon class=\"res-rss\" id=\"res-rss-");
  fl_buf_esc(b, name, 100, FL_ESC_ATTR);
  fl_buf_printf(b, "\" fill=\"#2f6db5\" fill-opacity=\"0.3\" points=\"%.1f,%.1f",
                res_x(a, at(t, 0)), y + RES_H);
  for (size_t i = 0; i < n; i += stride)
    fl_buf_printf(b, " %.1f,%.1f", res_x(a, at(t, i)),
                  y + RES_H - at(rss, i) / max_rss * (RES_H - 2));
  fl_buf_printf(b, " %.1f,%.1f\"><title>RSS, peak %s</title></polygon>",
                res_x(a, at(t, n - 1)), y + RES_H,
                fl__fmt_bytes(mem, sizeof(mem), fl__svc_peak_rss(svc)));
  /* CPU: a line of the share of one CPU between samples. */
  fl_buf_puts(b, "<polyline class=\"res-cpu\" id=\"res-cpu-");
  fl_buf_esc(b, name, 100, FL_ESC_ATTR);
  fl_buf_puts(b, "\" fill=\"none\" stroke=\"#a01c2c\" stroke-width=\"1.3\" points=\"");
  for (size_t i = 1; i < n; i += stride)
    fl_buf_printf(b, "%s%.1f,%.1f", i > 1 ? " " : "", res_x(a, at(t, i)),
                  y + RES_H - pct(t, cpu, i) / max_pct * (RES_H - 2));
  fl_buf_printf(b, "\"><title>CPU %%, %.2f CPU seconds in all</title></polyline>",
                fl__svc_cpu_s(svc));
  /* Labels left of the axis: the name and each scale's top. */
  fl_buf_printf(b,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-weight=\"bold\" "
                "font-size=\"11\">",
                TL_X0 - 8, y + 12);
  fl_buf_esc(b, name, 24, 0);
  fl_buf_printf(b,
                "</text><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" "
                "fill=\"#a01c2c\">CPU 0\xE2\x80\x93%.0f %%</text>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" "
                "fill=\"#2f6db5\">RSS 0\xE2\x80\x93%s</text></g>\n",
                TL_X0 - 8, y + 26, max_pct, TL_X0 - 8, y + 39,
                fl__fmt_bytes(mem, sizeof(mem), max_rss));
}

/* The seconds under the rows, as on the timeline. */
static void axis(const res_axis_t *a, double y) {
  double step = fl__svg_nice_step(a->end / 12);
  for (double s = 0; s <= a->end + 1e-9; s += step) {
    char tick[32];
    fl__svg_fmt_tick(tick, sizeof(tick), s);
    fl_buf_printf(
        a->b,
        "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>"
        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" "
        "fill=\"#555\">%s</text>",
        res_x(a, s), res_x(a, s), y, y + 4, res_x(a, s), y + 15, tick);
  }
  fl_buf_printf(a->b,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\" "
                "fill=\"#555\">seconds</text>",
                TL_X0 - 8, y + 15);
}

void fl__html_resources(fl_buf_t *b, const json_t *report, double end) {
  size_t i, rows = 0;
  json_t *svc;
  json_array_foreach(fl__jarr(report, "services"), i, svc) rows += has_series(svc);
  if (rows == 0)
    return;
  if (rows > RES_MAX_ROWS)
    rows = RES_MAX_ROWS;
  res_axis_t a = {b, end > 1e-3 ? end : 1e-3};
  double h = rows * (RES_H + RES_GAP) + 22;
  fl_buf_puts(b, "<section id=\"resources\"><h2>Resources</h2>\n"
                 "<p class=\"note\">Per service: CPU in % of one CPU (red line) and "
                 "resident memory (blue area), sampled about every 250 ms, on the "
                 "timeline's time axis; the faults aimed at it are the bands.</p>\n");
  fl_buf_printf(b,
                "<svg class=\"res-chart\" viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" "
                "role=\"img\" aria-label=\"resource use per service\" "
                "font-family=\"sans-serif\">\n",
                TL_W, h);
  double y = 2;
  size_t drawn = 0;
  json_array_foreach(fl__jarr(report, "services"), i, svc) {
    if (!has_series(svc) || drawn >= rows)
      continue;
    row(&a, report, svc, y);
    y += RES_H + RES_GAP;
    drawn++;
  }
  axis(&a, y - RES_GAP + 2);
  fl_buf_puts(b, "</svg></section>\n");
}
