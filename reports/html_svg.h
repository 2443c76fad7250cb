/* What the timeline's drawing files (html_svg.c: layout, axis, faults,
 * lanes, checks; html_charts.c: operations, latency, throughput) share: the
 * geometry and the layout of one timeline. Internal to reports/. */
#ifndef FL_REPORT_HTML_SVG_H
#define FL_REPORT_HTML_SVG_H

#include "reports/internal.h"

#define FL__SVG_MAX_MARKS 4000
#define MAX_LANES 48
#define MAX_FAULTS 200
#define MAX_CHECKS 200
#define MAX_SEGS 1500 /* state segments per lane */
#define MAX_OP_ROWS 16
#define LABEL_ROWS 6

/* Geometry, in SVG user units (the SVG scales to the page width). */
#define TL_W 1200.0
#define TL_X0 150.0
#define TL_X1 (TL_W - 18.0)
#define LANE_H 22.0
#define LANE_GAP 5.0
#define LAT_H 120.0
#define THR_H 90.0
#define CHAR_W 6.3    /* average width of an 11px sans-serif character */
#define METRIC_H 60.0 /* one fl.metric chart (html_metrics.c) */
#define METRIC_GAP 14.0
#define NOTES_H 20.0 /* the row of fl.log notes */

/* One timeline being drawn: its data, time scale and layout (y of each row). */
typedef struct fl__tl_s {
  fl_buf_t *b;
  const json_t *report;
  const fl__hist_t *hist;
  double end;  /* seconds at the right edge */
  double step; /* seconds between ticks */
  /* Layout, top to bottom. */
  double y_ticks, y_labels, y_checks, y_lanes, y_ops, y_lat, y_thr, y_axis, height;
  double band_top, band_bot;
  int label_rows, nlanes, op_rows;
  double op_row_h;
  /* fl.metric's charts below throughput, fl.log's notes above the axis
   * (html_metrics.c). */
  double y_metrics, y_notes;
  int nmetrics, nnotes;
} fl__tl_t;

/* The x of time s (clamped to the axis). */
double fl__tl_x(const fl__tl_t *t, double s);
/* How many characters an escaped string shows (an entity counts one). */
size_t fl__svg_vis_len(const char *s);
/* 1, 2 or 5 times a power of ten, at least raw. */
double fl__svg_nice_step(double raw);
/* A tick value as text ("0", "2.5", "10"). */
void fl__svg_fmt_tick(char *out, size_t n, double v);

/* The rows below the lanes (html_charts.c). Each needs t->hist->n > 0. */
void fl__tl_draw_ops(fl__tl_t *t);
void fl__tl_draw_latency(fl__tl_t *t);
void fl__tl_draw_throughput(fl__tl_t *t);

/* What the scenario recorded itself (html_metrics.c): how many fl.metric
 * series and fl.log notes the timeline draws, and their rows. */
int fl__tl_metrics_count(const json_t *report);
int fl__tl_notes_count(const json_t *report);
void fl__tl_draw_metrics(fl__tl_t *t);
void fl__tl_draw_notes(fl__tl_t *t);

#endif
