/* The charts under the service lanes of report.html's timeline, drawn from
 * history.jsonl: the operations (one row per client process, runs of
 * operations with one outcome merged into one bar), the latency of each
 * operation (log scale) and the throughput per second, stacked by outcome.
 *
 * Each chart holds at most FL__SVG_MAX_MARKS elements whatever the size of
 * the history: runs are merged with a growing gap, latency points into grid
 * cells of a growing size, throughput into at most about 400 buckets. */
#include "reports/html_svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* ---- operations --------------------------------------------------------------- */

static int row_of(const fl__tl_t *t, const fl__op_t *op) {
  return op->slot % t->op_rows;
}

static const fl__tl_t *sort_ctx;

static int cmp_ops(const void *a, const void *b) {
  const fl__op_t *x = &sort_ctx->hist->ops[*(const size_t *)a];
  const fl__op_t *y = &sort_ctx->hist->ops[*(const size_t *)b];
  int rx = row_of(sort_ctx, x), ry = row_of(sort_ctx, y);
  if (x->type != y->type)
    return x->type - y->type;
  if (rx != ry)
    return rx - ry;
  return x->inv < y->inv ? -1 : x->inv > y->inv;
}

static const char *const outcome_class[] = {"o-ok", "o-fail", "o-info"};
static const char *const outcome_name[] = {"ok", "fail", "info"};

/* Walks the sorted operations merging those of one row and outcome that
 * touch (within gap pixels) into one run; draws them when draw is set.
 * Returns the number of runs. Draw order is ok, fail, info: failures are
 * rarer and must not hide under the green. */
static size_t op_runs(const fl__tl_t *t, const size_t *idx, size_t n, double gap,
                      int draw) {
  size_t runs = 0;
  size_t i = 0;
  while (i < n) {
    const fl__op_t *op = &t->hist->ops[idx[i]];
    int row = row_of(t, op), type = op->type;
    double xs = fl__tl_x(t, op->inv), xe = fl__tl_x(t, op->comp);
    size_t count = 1;
    size_t j = i + 1;
    for (; j < n; j++) {
      const fl__op_t *o = &t->hist->ops[idx[j]];
      if (o->type != type || row_of(t, o) != row || fl__tl_x(t, o->inv) > xe + gap)
        break;
      double oe = fl__tl_x(t, o->comp);
      if (oe > xe)
        xe = oe;
      count++;
    }
    runs++;
    if (draw) {
      double y = t->y_ops + 2 + row * t->op_row_h;
      double w = xe - xs < 1.2 ? 1.2 : xe - xs;
      fl_buf_printf(t->b,
                    "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\">",
                    outcome_class[type], xs, y, w, t->op_row_h - 1);
      if (type != FL__OP_OK) {
        char s0[32];
        fl_buf_printf(t->b, "<title>%zu %s at %s</title>", count, outcome_name[type],
                      fl__fmt_secs(s0, sizeof(s0), op->inv));
      }
      fl_buf_puts(t->b, "</rect>");
    }
    i = j;
  }
  return runs;
}

void fl__tl_draw_ops(fl__tl_t *t) {
  const fl__hist_t *h = t->hist;
  fl_buf_t *b = t->b;
  fl_buf_printf(b, "<text class=\"fl-name\" x=\"%.1f\" y=\"%.1f\">operations</text>",
                TL_X0 - 8, t->y_ops + t->op_rows * t->op_row_h / 2 + 4);
  fl_buf_printf(b,
                "<rect class=\"s-none\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\"/>",
                TL_X0, t->y_ops, TL_X1 - TL_X0, t->op_rows * t->op_row_h + 3);
  size_t *idx = fl_malloc(h->n * sizeof(size_t));
  for (size_t i = 0; i < h->n; i++)
    idx[i] = i;
  sort_ctx = t;
  qsort(idx, h->n, sizeof(size_t), cmp_ops);
  sort_ctx = NULL;
  double gap = 1.0;
  while (gap < 64 && op_runs(t, idx, h->n, gap, 0) > FL__SVG_MAX_MARKS)
    gap *= 2;
  fl_buf_puts(b, "<g class=\"ops\">");
  op_runs(t, idx, h->n, gap, 1);
  fl_buf_puts(b, "</g>\n");
  fl_free(idx);
}

/* ---- latency ------------------------------------------------------------------- */

void fl__tl_draw_latency(fl__tl_t *t) {
  const fl__hist_t *h = t->hist;
  fl_buf_t *b = t->b;
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < h->n; i++) {
    if (h->ops[i].open)
      continue;
    double ms = (h->ops[i].comp - h->ops[i].inv) * 1e3;
    if (ms < lo)
      lo = ms;
    if (ms > hi)
      hi = ms;
  }
  double top = t->y_lat, bot = t->y_lat + LAT_H;
  fl_buf_printf(b,
                "<text class=\"fl-name\" x=\"%.1f\" y=\"%.1f\">latency</text>"
                "<text class=\"fl-sub\" x=\"%.1f\" y=\"%.1f\">per op, log scale</text>",
                TL_X0 - 46, top + LAT_H / 2, TL_X0 - 46, top + LAT_H / 2 + 13);
  fl_buf_printf(b,
                "<rect class=\"chart\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\"/>",
                TL_X0, top, TL_X1 - TL_X0, LAT_H);
  if (hi <= 0) {
    fl_buf_printf(b,
                  "<text class=\"fl-sub s\" x=\"%.1f\" y=\"%.1f\">"
                  "no completed operations</text>",
                  TL_X0 + 8, top + 20);
    return;
  }
  if (lo < 0.01)
    lo = 0.01;
  int d0 = (int)floor(log10(lo)), d1 = (int)ceil(log10(hi));
  if (d1 <= d0)
    d1 = d0 + 1;
  double span = d1 - d0;
  for (int d = d0; d <= d1; d++) {
    double y = bot - (d - d0) / span * LAT_H;
    double v = pow(10, d);
    char lab[32];
    if (v >= 1000)
      snprintf(lab, sizeof(lab), "%g s", v / 1000);
    else
      snprintf(lab, sizeof(lab), "%g ms", v);
    fl_buf_printf(b,
                  "<path class=\"grid\" d=\"M%.1f %.1fH%.1f\"/>"
                  "<text class=\"fl-tick e\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                  TL_X0, y, TL_X1, TL_X0 - 3, y + 3.5, lab);
  }
  /* Points are merged into cells of cell x cell units, grown until the
   * chart holds at most FL__SVG_MAX_MARKS of them. */
  double cell = 2.5;
  size_t cols = 0, rows = 0, marks = 0;
  unsigned char *grid = NULL;
  for (int pass = 0; pass < 8; pass++) {
    cols = (size_t)((TL_X1 - TL_X0) / cell) + 1;
    rows = (size_t)(LAT_H / cell) + 1;
    fl_free(grid);
    grid = fl_calloc(cols * rows, 1);
    marks = 0;
    for (size_t i = 0; i < h->n; i++) {
      const fl__op_t *op = &h->ops[i];
      if (op->open)
        continue;
      double ms = (op->comp - op->inv) * 1e3;
      double ly = (log10(ms < lo ? lo : ms) - d0) / span * LAT_H;
      size_t cx = (size_t)((fl__tl_x(t, op->comp) - TL_X0) / cell);
      size_t cy = (size_t)(ly / cell);
      unsigned char bit = (unsigned char)(1u << op->type);
      if (cx < cols && cy < rows && !(grid[cy * cols + cx] & bit)) {
        grid[cy * cols + cx] |= bit;
        marks++;
      }
    }
    if (marks <= FL__SVG_MAX_MARKS)
      break;
    cell *= 1.5;
  }
  fl_buf_puts(b, "<g class=\"lat\">");
  for (int type = 0; type < 3; type++) {
    fl_buf_printf(b, "<g class=\"%s\">", outcome_class[type]);
    for (size_t cy = 0; cy < rows; cy++) {
      for (size_t cx = 0; cx < cols; cx++) {
        if (grid[cy * cols + cx] & (1u << type))
          fl_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"2.4\" height=\"2.4\"/>",
                        TL_X0 + (cx + 0.5) * cell - 1.2, bot - (cy + 0.5) * cell - 1.2);
      }
    }
    fl_buf_puts(b, "</g>");
  }
  fl_buf_puts(b, "</g>\n");
  fl_free(grid);
}

/* ---- throughput ------------------------------------------------------------------ */

/* The width in seconds of throughput bucket k: the last one may be cut by
 * the end of the run (but counts as at least half a bucket, so that a few
 * operations in its last moments do not make a spike). */
static double bucket_w(const fl__tl_t *t, double bs, size_t k) {
  double w = fmin(bs, t->end - (double)k * bs);
  return fmax(w, bs / 2);
}

void fl__tl_draw_throughput(fl__tl_t *t) {
  const fl__hist_t *h = t->hist;
  fl_buf_t *b = t->b;
  /* Buckets of one second, wider for long runs: at most about 400 bars. */
  double bs = t->end <= 400 ? 1.0 : fl__svg_nice_step(t->end / 400);
  size_t nb = (size_t)ceil(t->end / bs);
  if (nb == 0)
    nb = 1;
  double *cnt = fl_calloc(nb * 3, sizeof(double));
  for (size_t i = 0; i < h->n; i++) {
    if (h->ops[i].open)
      continue;
    size_t k = (size_t)(h->ops[i].comp / bs);
    if (k >= nb)
      k = nb - 1;
    cnt[k * 3 + h->ops[i].type] += 1;
  }
  double max = 0;
  for (size_t k = 0; k < nb; k++) {
    double tot = (cnt[k * 3] + cnt[k * 3 + 1] + cnt[k * 3 + 2]) / bucket_w(t, bs, k);
    if (tot > max)
      max = tot;
  }
  double top = t->y_thr, bot = t->y_thr + THR_H;
  double ymax = max > 0 ? fl__svg_nice_step(max / 2) * 2 : 1;
  if (ymax < max)
    ymax = fl__svg_nice_step(max);
  fl_buf_printf(b,
                "<text class=\"fl-name\" x=\"%.1f\" y=\"%.1f\">throughput</text>"
                "<text class=\"fl-sub\" x=\"%.1f\" y=\"%.1f\">ops/s%s</text>",
                TL_X0 - 46, top + THR_H / 2, TL_X0 - 46, top + THR_H / 2 + 13,
                bs > 1 ? " (averaged)" : "");
  fl_buf_printf(b,
                "<rect class=\"chart\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\"/>",
                TL_X0, top, TL_X1 - TL_X0, THR_H);
  for (int k = 0; k <= 2; k++) {
    double v = ymax * k / 2, y = bot - THR_H * k / 2;
    char lab[32];
    fl__svg_fmt_tick(lab, sizeof(lab), v);
    fl_buf_printf(b,
                  "<path class=\"grid\" d=\"M%.1f %.1fH%.1f\"/>"
                  "<text class=\"fl-tick e\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                  TL_X0, y, TL_X1, TL_X0 - 3, y + 3.5, lab);
  }
  /* Stacked bars: ok at the bottom, then info, then fail on top. */
  static const int order[] = {FL__OP_OK, FL__OP_INFO, FL__OP_FAIL};
  fl_buf_puts(b, "<g class=\"thr\">");
  for (size_t k = 0; k < nb; k++) {
    double x = fl__tl_x(t, k * bs), x2 = fl__tl_x(t, (k + 1) * bs);
    double w = x2 - x > 1.5 ? x2 - x - 0.6 : x2 - x;
    double y = bot;
    double tot = cnt[k * 3] + cnt[k * 3 + 1] + cnt[k * 3 + 2];
    if (tot == 0)
      continue;
    char s0[32];
    fl_buf_printf(b, "<g><title>%s: %.0f ok, %.0f failed, %.0f unknown</title>",
                  fl__fmt_secs(s0, sizeof(s0), k * bs), cnt[k * 3], cnt[k * 3 + 1],
                  cnt[k * 3 + 2]);
    for (int o = 0; o < 3; o++) {
      double v = cnt[k * 3 + order[o]] / bucket_w(t, bs, k);
      if (v <= 0)
        continue;
      double hgt = v / ymax * THR_H;
      y -= hgt;
      fl_buf_printf(b,
                    "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\"/>",
                    outcome_class[order[o]], x, y, w, hgt);
    }
    fl_buf_puts(b, "</g>");
  }
  fl_buf_puts(b, "</g>\n");
  fl_free(cnt);
}
