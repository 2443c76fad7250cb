/* Pictures of a check's evidence in report.html: for a recovery or an
 * eventually check, the measured time as a bar against its limit; for a linearizability
 * failure, the operations that cannot be linearized on their own small timeline (one row
 * per process, a bar from invoke to completion, labelled "read x → 1"), with the
 * offending operation outlined. Any other evidence is shown as JSON by html.c. */
#include "reports/html_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

#define EV_MAX_OPS 40
#define EV_MAX_ROWS 12
#define EV_W 900.0
#define EV_X0 100.0
#define EV_X1 (EV_W - 20.0)
#define EV_ROW 30.0
#define EV_BEFORE 8 /* operations shown of those that completed before */

/* The measured time of a recovery (recovery_s) or an eventually (took_s)
 * check as a bar against its limit (limit_s), or a hatched bar when it never
 * came. */
static void measure_bar(fl_buf_t *b, const json_t *c) {
  int rec_kind = strcmp(fl__jstr(c, "kind", ""), "recovery") == 0;
  const char *key = fl__jisnum(c, "recovery_s") ? "recovery_s"
                    : fl__jisnum(c, "took_s")   ? "took_s"
                                                : NULL;
  int has_lim = fl__jisnum(c, "limit_s");
  double v = key != NULL ? fl__jnum(c, key, 0) : 0, lim = fl__jnum(c, "limit_s", 0);
  int ok = strcmp(fl__jstr(c, "status", ""), "pass") == 0;
  double scale = v > lim ? v : lim;
  scale = scale > 0 ? scale * 1.25 : 1;
  const double x0 = 110, x1 = 580, h = 16;
  char s0[32], s1[32];
  fl_buf_printf(b, "<svg class=\"ev-recovery\" viewBox=\"0 0 600 44\" role=\"img\" "
                   "aria-label=\"measured time against its limit\">");
  fl_buf_printf(b, "<text class=\"fl-name\" x=\"%.1f\" y=\"%.1f\">%s</text>", x0 - 8,
                8 + h / 2 + 4, rec_kind ? "recovery" : "time");
  fl_buf_printf(
      b, "<rect class=\"s-none\" x=\"%.1f\" y=\"8\" width=\"%.1f\" height=\"%.1f\"/>", x0,
      x1 - x0, h);
  const char *did = rec_kind ? "recovered in" : "took";
  if (key != NULL) {
    double w = v / scale * (x1 - x0);
    fl__fmt_secs(s0, sizeof(s0), v);
    fl_buf_printf(b,
                  "<rect class=\"%s\" x=\"%.1f\" y=\"8\" width=\"%.1f\" height=\"%.1f\">"
                  "<title>%s %s</title></rect>"
                  "<text class=\"fl-tick s\" x=\"%.1f\" y=\"38\">%s %s</text>",
                  ok ? "o-ok" : "o-fail", x0, w < 1 ? 1 : w, h, did, s0, x0, did, s0);
  } else {
    fl_buf_printf(
        b,
        "<defs><pattern id=\"evh\" width=\"6\" height=\"6\" "
        "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
        "<rect width=\"2.5\" height=\"6\" fill=\"#d62728\"/></pattern></defs>"
        "<rect fill=\"url(#evh)\" x=\"%.1f\" y=\"8\" width=\"%.1f\" "
        "height=\"%.1f\"/><text class=\"fl-tick s\" x=\"%.1f\" y=\"38\">%s</text>",
        x0, x1 - x0, h, x0, rec_kind ? "did not recover" : "never held");
  }
  if (has_lim) {
    double x = x0 + lim / scale * (x1 - x0);
    fl_buf_printf(b,
                  "<path class=\"limit\" d=\"M%.1f 3V%.1f\"/>"
                  "<text class=\"fl-tick\" x=\"%.1f\" y=\"38\">limit %s</text>",
                  x, 8 + h + 5, x, fl__fmt_secs(s1, sizeof(s1), lim));
  }
  fl_buf_puts(b, "</svg>\n");
}

typedef struct {
  const json_t *op;
  double inv, comp;
  int row;
  int bad;  /* the operation the checker could not place */
  int open; /* never completed (an info operation) */
} evop_t;

static int add_evop(evop_t *ops, int n, const json_t *op, int bad, long long *procs,
                    int *nprocs) {
  if (n >= EV_MAX_OPS || !json_is_object(op) || !fl__jisnum(op, "invoke_s"))
    return n;
  evop_t *e = &ops[n];
  e->op = op;
  e->inv = fl__jnum(op, "invoke_s", 0);
  e->comp = fl__jnum(op, "complete_s", NAN);
  e->open = isnan(e->comp);
  e->bad = bad;
  long long p = (long long)fl__jnum(op, "process", -1);
  int r = 0;
  while (r < *nprocs && procs[r] != p)
    r++;
  if (r == *nprocs) {
    if (*nprocs == EV_MAX_ROWS)
      return n; /* more processes than rows: left out */
    procs[(*nprocs)++] = p;
  }
  e->row = r;
  return n + 1;
}

/* Gathers into ops the operation the checker could not place (first), the
 * ones concurrent with it and the latest few before it, numbering their
 * processes into procs; returns how many operations. */
static int collect_evops(const json_t *ev, evop_t *ops, long long *procs, int *nprocs) {
  int n = add_evop(ops, 0, json_object_get(ev, "op"), 1, procs, nprocs);
  size_t i;
  json_t *op;
  json_array_foreach(fl__jarr(ev, "concurrent"), i, op) n =
      add_evop(ops, n, op, 0, procs, nprocs);
  /* Of what completed before it, the latest few: the writes it should have
   * seen are among them. */
  json_t *before = fl__jarr(ev, "before");
  size_t nb = json_array_size(before);
  for (i = nb > EV_BEFORE ? nb - EV_BEFORE : 0; i < nb; i++)
    n = add_evop(ops, n, json_array_get(before, i), 0, procs, nprocs);
  return n;
}

/* The time grid, ticks in seconds down to the bottom row bot. */
static void lin_ticks(fl_buf_t *b, double t0, double t1, double bot) {
  /* Ticks in milliseconds from the first invoke: the interesting distances
   * here are short. */
  double span = t1 - t0;
  double raw = span / 8, p = pow(10, floor(log10(raw))), f = raw / p;
  double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
  for (double s = ceil(t0 / step) * step; s <= t1; s += step) {
    double x = EV_X0 + (s - t0) / span * (EV_X1 - EV_X0);
    fl_buf_printf(b,
                  "<path class=\"grid\" d=\"M%.1f 14V%.1f\"/><text class=\"fl-tick\" "
                  "x=\"%.1f\" y=\"%.1f\">%.3f s</text>",
                  x, bot, x, bot + 14, s);
  }
}

/* One operation's bar, its tooltip and its label, on the time axis from
 * t0 over span seconds. */
static void lin_bar(fl_buf_t *b, const evop_t *e, const long long *procs, double t0,
                    double span) {
  const char *type = fl__jstr(e->op, "type", "ok");
  const char *cls = strcmp(type, "ok") == 0     ? "o-ok"
                    : strcmp(type, "fail") == 0 ? "o-fail"
                                                : "o-info";
  double xs = EV_X0 + (e->inv - t0) / span * (EV_X1 - EV_X0);
  double xe = EV_X0 + (e->comp - t0) / span * (EV_X1 - EV_X0);
  if (xe - xs < 3)
    xe = xs + 3;
  double y = 20 + e->row * EV_ROW + 4;
  fl_buf_t lb;
  fl_buf_init(&lb, 1024);
  fl__op_label_esc(&lb, e->op);
  if (strcmp(type, "ok") != 0) {
    fl_buf_puts(&lb, " (");
    fl_buf_esc(&lb, type, 10, FL_ESC_ONELINE);
    fl_buf_puts(&lb, ")");
  }
  fl_buf_printf(b, "<g class=\"evop%s\"><title>process %lld: %s\ninvoked at %.4f s, ",
                e->bad ? " bad" : "", procs[e->row], fl_buf_str(&lb), e->inv);
  if (e->open)
    fl_buf_puts(b, "never completed</title>");
  else
    fl_buf_printf(b, "completed at %.4f s</title>", e->comp);
  fl_buf_printf(b,
                "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"20\" rx=\"3\"/>",
                cls, xs, y, xe - xs);
  /* The label goes inside the bar when it fits, else to its right, or
   * (anchored at its end) to its left at the right edge. */
  double w = (double)fl__svg_vis_len(fl_buf_str(&lb)) * 7.0 + (e->bad ? 14 : 0);
  double tx = xs + 5;
  const char *tcls = "ev-in";
  if (w + 10 > xe - xs) {
    tcls = xe + 5 + w > EV_W ? "ev-left" : "ev-out";
    tx = xe + 5 + w > EV_W ? xs - 5 : xe + 5;
  }
  fl_buf_printf(b, "<text class=\"%s\" x=\"%.1f\" y=\"%.1f\">%s%s</text></g>", tcls, tx,
                y + 14, e->bad ? "\xE2\x9C\x97 " : "", fl_buf_str(&lb));
  fl_buf_free(&lb);
}

/* The operations around a linearizability anomaly, one row per process. */
static void lin_timeline(fl_buf_t *b, const json_t *ev) {
  evop_t ops[EV_MAX_OPS];
  long long procs[EV_MAX_ROWS];
  int nprocs = 0;
  int n = collect_evops(ev, ops, procs, &nprocs);
  if (n == 0)
    return;
  double lo = INFINITY, hi = -INFINITY;
  for (int k = 0; k < n; k++) {
    lo = fmin(lo, ops[k].inv);
    hi = fmax(hi, isnan(ops[k].comp) ? ops[k].inv : ops[k].comp);
  }
  /* Room on the right for the labels of the last operations. */
  double pad = (hi - lo) * 0.06 + 1e-3;
  double t0 = lo - pad, t1 = hi + 3 * pad;
  /* An operation that never completed runs off the right edge. */
  for (int k = 0; k < n; k++) {
    if (isnan(ops[k].comp))
      ops[k].comp = t1;
  }
  double height = 26 + nprocs * EV_ROW + 22;
  fl_buf_printf(b,
                "<svg class=\"ev-lin\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
                "aria-label=\"operations that cannot be linearized\">",
                EV_W, height);
  double span = t1 - t0;
  double bot = 20 + nprocs * EV_ROW;
  lin_ticks(b, t0, t1, bot);
  /* A guide at the moment the offending operation began: what completed
   * before it must be visible to it. */
  if (ops[0].bad) {
    double x = EV_X0 + (ops[0].inv - t0) / span * (EV_X1 - EV_X0);
    fl_buf_printf(b, "<path class=\"anomaly-line\" d=\"M%.1f 14V%.1f\"/>", x, bot);
  }
  for (int r = 0; r < nprocs; r++)
    fl_buf_printf(b, "<text class=\"fl-name\" x=\"%.1f\" y=\"%.1f\">process %lld</text>",
                  EV_X0 - 8, 20 + r * EV_ROW + 15, procs[r]);
  for (int k = 0; k < n; k++)
    lin_bar(b, &ops[k], procs, t0, span);
  fl_buf_puts(b, "</svg>\n");
}

void fl__html_evidence(fl_buf_t *b, const json_t *check) {
  const char *kind = fl__jstr(check, "kind", "");
  json_t *ev = fl__jobj(check, "evidence");
  int timed = strcmp(kind, "recovery") == 0 || strcmp(kind, "eventually") == 0;
  if (fl__jisnum(check, "recovery_s") || fl__jisnum(check, "took_s") ||
      (timed && fl__jisnum(check, "limit_s")))
    measure_bar(b, check);
  if (ev != NULL && fl__jisnum(json_object_get(ev, "op"), "invoke_s"))
    lin_timeline(b, ev);
}
