/* The timeline of report.html: one inline SVG in which every row shares one
 * time axis, so a reviewer reads down a column to see what happened at one
 * moment. From the top: fault labels, check verdicts, one lane per service
 * coloured by state, the operations (one row per client), latency of each
 * operation (log scale) and throughput per second. Fault bands run down the
 * whole height.
 *
 * Everything is bounded: operations are merged into runs and latency points
 * into grid cells until each chart holds at most FL__SVG_MAX_MARKS elements,
 * whatever the size of the history. Tooltips are SVG <title>s (no script). */
#include "reports/html_svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

/* ---- colours and names ---------------------------------------------------- */

static const char *const fault_palette[] = {
    "#7b52ab", /* 0 partition */
    "#2f6db5", /* 1 latency, jitter, slow */
    "#1f8a7f", /* 2 bandwidth, slicer, limit */
    "#a01c2c", /* 3 kill, crash */
    "#b58900", /* 4 pause, stop */
    "#c23b80", /* 5 clock */
    "#7a5230", /* 6 loss, timeout, blackhole, reset, down */
    "#55616b", /* 7.. others */
    "#6b7a1f", "#8a4b2f",
};

static int fault_color_index(const char *kind) {
  static const struct {
    const char *word;
    int idx;
  } words[] = {{"partition", 0}, {"latency", 1}, {"jitter", 1}, {"slow", 1},
               {"bandwidth", 2}, {"slicer", 2},  {"limit", 2},  {"kill", 3},
               {"crash", 3},     {"pause", 4},   {"stop", 4},   {"clock", 5},
               {"timeout", 6},   {"time", 5},    {"skew", 5},   {"loss", 6},
               {"blackhole", 6}, {"reset", 6},   {"down", 6},   {"drop", 6}};
  for (size_t i = 0; i < FL_ARRAY_SIZE(words); i++) {
    if (strstr(kind, words[i].word) != NULL)
      return words[i].idx;
  }
  unsigned h = 5381;
  for (const char *p = kind; *p; p++)
    h = h * 33 + (unsigned char)*p;
  return 7 + (int)(h % 3);
}

const char *fl__fault_color(const char *kind) {
  return fault_palette[fault_color_index(kind)];
}

/* A service state's class (its colour, in html.c's stylesheet) and name. */
static const char *state_class(const char *state, const char *prev) {
  if (strcmp(state, "ready") == 0 || strcmp(state, "resumed") == 0 ||
      strcmp(state, "up") == 0)
    return "up";
  if (strcmp(state, "starting") == 0)
    return "starting";
  if (strcmp(state, "paused") == 0)
    return "paused";
  if (strcmp(state, "stopping") == 0)
    return "stopping";
  if (strcmp(state, "stopped") == 0)
    return "stopped";
  if (strcmp(state, "killed") == 0)
    return "killed";
  /* The exit that follows a kill is the kill's doing, not a surprise. */
  if (strcmp(state, "exited") == 0)
    return prev != NULL && strcmp(prev, "killed") == 0 ? "killed" : "exited";
  if (strcmp(state, "crashed") == 0)
    return "crashed";
  return "other";
}

/* ---- helpers --------------------------------------------------------------- */

double fl__tl_x(const fl__tl_t *t, double s) {
  if (!(s > 0))
    s = 0;
  if (s > t->end)
    s = t->end;
  return TL_X0 + s / t->end * (TL_X1 - TL_X0);
}

/* How many characters an escaped string shows (an entity counts one). */
size_t fl__svg_vis_len(const char *s) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '&') {
      const unsigned char *semi = (const unsigned char *)strchr((const char *)p, ';');
      if (semi != NULL)
        p = semi;
    }
    if ((*p & 0xC0) != 0x80)
      n++;
  }
  return n;
}

double fl__svg_nice_step(double raw) {
  double p = pow(10, floor(log10(raw)));
  double f = raw / p;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

void fl__svg_fmt_tick(char *out, size_t n, double v) {
  snprintf(out, n, "%g", fabs(v) < 1e-9 ? 0.0 : v);
}

/* ---- fault labels: packed into rows so that none overlaps ------------------- */

typedef struct {
  const json_t *f;
  double xs, xe;
  int row; /* -1: no room for a label */
  int instant, active;
  char *label; /* new, escaped */
} band_t;

static int collect_bands(fl__tl_t *t, band_t *bands) {
  size_t i;
  json_t *f;
  int n = 0;
  double row_end[LABEL_ROWS];
  for (int r = 0; r < LABEL_ROWS; r++)
    row_end[r] = -1e9;
  json_array_foreach(fl__jarr(t->report, "faults"), i, f) {
    if (n == MAX_FAULTS)
      break;
    /* A part of a group (the kill inside fl.fault{kind = "failover"}) is
     * drawn as the group's one entry; the lanes still show what it did. */
    if (fl__jisnum(fl__jobj(f, "attrs"), "part_of"))
      continue;
    band_t *bd = &bands[n++];
    bd->f = f;
    double s = fl__jnum(f, "start_s", 0);
    bd->active = !fl__jisnum(f, "end_s");
    double e = bd->active ? t->end : fl__jnum(f, "end_s", s);
    bd->xs = fl__tl_x(t, s);
    bd->xe = fl__tl_x(t, e);
    bd->instant = !bd->active && bd->xe - bd->xs < 2.5;
    if (bd->xe - bd->xs < 2.5)
      bd->xe = bd->xs + 2.5;
    fl_buf_t lb;
    fl_buf_init(&lb, 1024);
    fl_buf_esc(&lb, fl__jstr(f, "kind", "fault"), 40, FL_ESC_ONELINE);
    if (json_array_size(fl__jarr(f, "targets")) > 0) {
      fl_buf_puts(&lb, " ");
      fl__fault_targets_esc(&lb, f, FL_ESC_ONELINE);
    }
    /* Two toxics on one proxy: their names tell the two entries apart. */
    const char *toxic = fl__jstr(fl__jobj(f, "attrs"), "toxic", NULL);
    if (toxic == NULL) /* two HTTP fault rules likewise */
      toxic = fl__jstr(fl__jobj(f, "attrs"), "rule", NULL);
    if (toxic != NULL) {
      fl_buf_puts(&lb, " (");
      fl_buf_esc(&lb, toxic, 40, FL_ESC_ONELINE);
      fl_buf_puts(&lb, ")");
    }
    if (bd->active)
      fl_buf_puts(&lb, " \xE2\x86\x92"); /* → still active at the end */
    bd->label = fl_strdup(fl_buf_str(&lb));
    fl_buf_free(&lb);
    double w = (double)fl__svg_vis_len(bd->label) * 6.9 + 10;
    /* A label may start left of its band when the band sits at the right edge. */
    double lx = bd->xs + w > TL_X1 ? TL_X1 - w : bd->xs;
    bd->row = -1;
    for (int r = 0; r < LABEL_ROWS; r++) {
      if (row_end[r] < lx - 3) {
        bd->row = r;
        row_end[r] = lx + w;
        if (r + 1 > t->label_rows)
          t->label_rows = r + 1;
        break;
      }
    }
  }
  return n;
}

static void draw_band(fl__tl_t *t, const band_t *bd) {
  fl_buf_t *b = t->b;
  const char *color = fl__fault_color(fl__jstr(bd->f, "kind", ""));
  char s0[32], s1[32];
  double start = fl__jnum(bd->f, "start_s", 0);
  fl_buf_printf(b, "<g class=\"fault\"><title>fault #%d ", (int)fl__jnum(bd->f, "id", 0));
  fl_buf_puts(b, bd->label);
  fl_buf_printf(b, "\nfrom %s", fl__fmt_secs(s0, sizeof(s0), start));
  if (bd->active)
    fl_buf_puts(b, ", still active at the end");
  else
    fl_buf_printf(b, " to %s",
                  fl__fmt_secs(s1, sizeof(s1), fl__jnum(bd->f, "end_s", start)));
  json_t *attrs = fl__jobj(bd->f, "attrs");
  if (attrs != NULL && json_object_size(attrs) > 0) {
    char *a = json_dumps(attrs, JSON_COMPACT);
    fl_buf_puts(b, "\n");
    fl_buf_esc(b, a, 300, 0);
    free(a);
  }
  fl_buf_puts(b, "</title>");
  double h = t->band_bot - t->band_top;
  if (bd->instant) {
    fl_buf_printf(b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"2.5\" height=\"%.1f\" "
                  "fill=\"%s\" fill-opacity=\".75\"/>",
                  bd->xs - 1.25, t->band_top, h, color);
  } else {
    fl_buf_printf(b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                  "fill=\"%s\" fill-opacity=\".10\"/>",
                  bd->xs, t->band_top, bd->xe - bd->xs, h, color);
    fl_buf_printf(b, "<path d=\"M%.1f %.1fv%.1f\" stroke=\"%s\" stroke-width=\"1.2\"/>",
                  bd->xs, t->band_top, h, color);
    if (!bd->active)
      fl_buf_printf(b,
                    "<path d=\"M%.1f %.1fv%.1f\" stroke=\"%s\" stroke-width=\"1.2\" "
                    "stroke-dasharray=\"4 3\"/>",
                    bd->xe, t->band_top, h, color);
  }
  if (bd->row >= 0) {
    double w = (double)fl__svg_vis_len(bd->label) * 6.9 + 10;
    double lx = bd->xs + w > TL_X1 ? TL_X1 - w : bd->xs;
    double ly = t->y_labels + bd->row * 17.0;
    fl_buf_printf(b, "<path d=\"M%.1f %.1fV%.1f\" stroke=\"%s\" stroke-width=\"1.2\"/>",
                  bd->xs, ly + 15, t->band_top, color);
    fl_buf_printf(b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"15\" rx=\"3\" "
                  "fill=\"%s\"/><text class=\"fl-label\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                  lx, ly, w, color, lx + 5, ly + 11, bd->label);
  }
  fl_buf_puts(b, "</g>\n");
}

/* Hatching over the lanes of the services a fault is aimed at. */
static void draw_band_targets(fl__tl_t *t, const band_t *bd) {
  size_t i;
  int ci = fault_color_index(fl__jstr(bd->f, "kind", ""));
  json_t *svc;
  json_array_foreach(fl__jarr(t->report, "services"), i, svc) {
    if ((int)i >= t->nlanes)
      break;
    const char *name = fl__jstr(svc, "name", "");
    if (!fl__fault_focus(bd->f, name))
      continue;
    double y = t->y_lanes + (double)i * (LANE_H + LANE_GAP);
    fl_buf_printf(t->b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                  "fill=\"url(#fh%d)\" stroke=\"%s\" stroke-width=\"1.5\"/>",
                  bd->xs, y + 1, bd->xe - bd->xs, LANE_H - 2, ci, fault_palette[ci]);
  }
}

/* ---- service lanes ------------------------------------------------------------ */

/* "state (detail)", or the detail alone when it starts with the state's
 * word: "killed by signal 9 (Killed)", not "killed (killed by ...)". */
static void state_text(fl_buf_t *b, const char *state, const char *detail, size_t max,
                       int flags) {
  size_t sl = strlen(state);
  if (detail != NULL && strncmp(detail, state, sl) == 0 && detail[sl] == ' ') {
    fl_buf_esc(b, detail, max, flags);
    return;
  }
  fl_buf_esc(b, state, 40, flags);
  if (detail != NULL) {
    fl_buf_puts(b, " (");
    fl_buf_esc(b, detail, max, flags);
    fl_buf_puts(b, ")");
  }
}

static void draw_lane(fl__tl_t *t, const json_t *svc, double y) {
  fl_buf_t *b = t->b;
  fl_buf_puts(b, "<g class=\"lane\">");
  fl_buf_printf(b, "<text class=\"fl-name\" x=\"%.1f\" y=\"%.1f\">", TL_X0 - 8,
                y + LANE_H / 2 + 4);
  fl_buf_esc(b, fl__jstr(svc, "name", "?"), 22, FL_ESC_ONELINE);
  fl_buf_puts(b, "</text>");
  fl_buf_printf(b,
                "<rect class=\"s-none\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\"/>",
                TL_X0, y, TL_X1 - TL_X0, LANE_H);
  json_t *states = fl__jarr(svc, "states");
  size_t n = json_array_size(states);
  const char *prev = NULL;
  int pid = 0;
  for (size_t i = 0; i < n && i < MAX_SEGS; i++) {
    json_t *st = json_array_get(states, i);
    const char *state = fl__jstr(st, "state", "?");
    const char *cls = state_class(state, prev);
    if (fl__jisnum(st, "pid"))
      pid = (int)fl__jnum(st, "pid", 0);
    double s = fl__jnum(st, "t", 0);
    double e = t->end;
    /* A segment lasts until the next state change. */
    if (i + 1 < n)
      e = fl__jnum(json_array_get(states, i + 1), "t", e);
    if (strcmp(cls, "stopped") == 0 && i + 1 == n && s >= t->end - 1e-9) {
      prev = state;
      continue;
    }
    double xs = fl__tl_x(t, s), xe = fl__tl_x(t, e);
    if (xe < xs)
      xe = xs;
    /* The exit after a kill continues the killed segment's look. */
    char ss[32], es[32];
    fl_buf_printf(b,
                  "<rect class=\"s-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                  "height=\"%.1f\"><title>",
                  cls, xs, y + 1, xe - xs < 0.8 ? 0.8 : xe - xs, LANE_H - 2);
    fl_buf_esc(b, fl__jstr(svc, "name", "?"), 60, 0);
    fl_buf_puts(b, ": ");
    const char *detail = fl__jstr(st, "detail", NULL);
    state_text(b, state, detail, 200, 0);
    fl_buf_printf(b, "\n%s \xE2\x80\x93 %s", fl__fmt_secs(ss, sizeof(ss), s),
                  fl__fmt_secs(es, sizeof(es), e));
    if (pid > 0)
      fl_buf_printf(b, ", pid %d", pid);
    fl_buf_puts(b, "</title></rect>");
    /* Name the states that are not "up" where there is room. */
    if (strcmp(cls, "up") != 0) {
      fl_buf_t lb;
      fl_buf_init(&lb, 512);
      /* The exit after a kill reads as the kill, with its signal. */
      state_text(&lb, strcmp(cls, "killed") == 0 ? "killed" : state, detail, 30,
                 FL_ESC_ONELINE);
      /* Without its detail if that is what does not fit. */
      if (fl__svg_vis_len(fl_buf_str(&lb)) * CHAR_W + 6 >= xe - xs) {
        fl_buf_reset(&lb);
        fl_buf_esc(&lb, strcmp(cls, "killed") == 0 ? "killed" : state, 20,
                   FL_ESC_ONELINE);
      }
      if (fl__svg_vis_len(fl_buf_str(&lb)) * CHAR_W + 6 < xe - xs)
        fl_buf_printf(b, "<text class=\"fl-seg t-%s\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                      cls, xs + 4, y + LANE_H / 2 + 4, fl_buf_str(&lb));
      fl_buf_free(&lb);
    }
    prev = state;
  }
  fl_buf_puts(b, "</g>\n");
}

/* ---- check verdicts ---------------------------------------------------------- */

/* Where a check's mark goes: its evidence operation (what went wrong, when)
 * or its "t". Returns 0 when the check has neither. */
static int check_time(const json_t *c, double *s, double *e) {
  json_t *op = json_object_get(fl__jobj(c, "evidence"), "op");
  if (fl__jisnum(op, "invoke_s")) {
    *s = fl__jnum(op, "invoke_s", 0);
    *e = fl__jnum(op, "complete_s", *s);
    return 1;
  }
  if (fl__jisnum(c, "t")) {
    *s = *e = fl__jnum(c, "t", 0);
    return 1;
  }
  return 0;
}

static int count_timed_checks(const json_t *report) {
  size_t i;
  json_t *c;
  int n = 0;
  double s, e;
  json_array_foreach(fl__jarr(report, "checks"), i, c) n += check_time(c, &s, &e);
  return n;
}

/* What is already drawn in the checks row: every marker (placed first) and
 * the labels placed so far. A label goes where it overlaps neither. */
typedef struct {
  double from[2 * MAX_CHECKS], to[2 * MAX_CHECKS];
  int n;
} spans_t;

static void spans_add(spans_t *sp, double from, double to) {
  if (sp->n < 2 * MAX_CHECKS) {
    sp->from[sp->n] = from;
    sp->to[sp->n++] = to;
  }
}

static int spans_take(spans_t *sp, double from, double to) {
  if (from < TL_X0 - 60 || to > TL_W)
    return 0;
  for (int i = 0; i < sp->n; i++) {
    if (from < sp->to[i] + 2 && to > sp->from[i] - 2)
      return 0;
  }
  spans_add(sp, from, to);
  return 1;
}

/* Tries a label right of x, then left of it. Returns its x, or -1. */
static double place_label(spans_t *sp, double x, double w) {
  if (spans_take(sp, x + 9, x + 9 + w))
    return x + 9;
  if (spans_take(sp, x - 9 - w, x - 9))
    return x - 9 - w;
  return -1;
}

static void draw_check(fl__tl_t *t, size_t i, const json_t *c, spans_t *sp) {
  fl_buf_t *b = t->b;
  const char *status = fl__jstr(c, "status", "unknown");
  int bad = strcmp(status, "pass") != 0;
  double s, e;
  if (!check_time(c, &s, &e))
    return;
  double x = fl__tl_x(t, e), y = t->y_checks + 9;
  fl_buf_printf(b, "<g class=\"check c-%s\"><title>",
                bad ? (strcmp(status, "unknown") == 0 ? "unknown" : "fail") : "pass");
  fl_buf_esc(b, fl__jstr(c, "name", "check"), 200, 0);
  fl_buf_puts(b, ": ");
  fl_buf_esc(b, status, 20, 0);
  const char *msg = fl__jstr(c, "message", NULL);
  if (msg != NULL) {
    fl_buf_puts(b, "\n");
    fl_buf_esc(b, msg, 600, 0);
  }
  fl_buf_printf(b,
                "</title><a href=\"#check-%zu\"><path d=\"M%.1f %.1fl6 6l-6 6l-6 -6z\"/>",
                i + 1, x, y - 6);
  json_t *op = json_object_get(fl__jobj(c, "evidence"), "op");
  if (bad) {
    /* Name what failed: the operation if there is one, else the check, or
     * where that does not fit, the check's kind. */
    fl_buf_t lb;
    fl_buf_init(&lb, 1024);
    fl_buf_puts(&lb, "\xE2\x9C\x97 "); /* ✗ */
    if (op != NULL)
      fl__op_label_esc(&lb, op);
    else
      fl_buf_esc(&lb, fl__jstr(c, "name", "check"), 30, FL_ESC_ONELINE);
    double lx = place_label(sp, x, (double)fl__svg_vis_len(fl_buf_str(&lb)) * 6.8);
    if (lx < 0 && op == NULL && fl__jstr(c, "kind", NULL) != NULL) {
      fl_buf_reset(&lb);
      fl_buf_puts(&lb, "\xE2\x9C\x97 ");
      fl_buf_esc(&lb, fl__jstr(c, "kind", ""), 20, FL_ESC_ONELINE);
      lx = place_label(sp, x, (double)fl__svg_vis_len(fl_buf_str(&lb)) * 6.8);
    }
    /* Left of the marker, the label is anchored at its end: where it ends
     * does not depend on the width estimate. */
    if (lx >= 0)
      fl_buf_printf(b, "<text class=\"fl-check-label%s\" x=\"%.1f\" y=\"%.1f\">%s</text>",
                    lx < x ? " e" : "", lx < x ? x - 9 : lx, y + 4, fl_buf_str(&lb));
    fl_buf_free(&lb);
  }
  fl_buf_puts(b, "</a>");
  /* The operation that could not be linearized, marked down the chart. */
  if (op != NULL && bad) {
    double xs = fl__tl_x(t, s), xe = fl__tl_x(t, e);
    if (xe - xs < 4)
      xs -= 2, xe += 2;
    double top = t->y_lanes;
    double bot = t->op_rows > 0 ? t->y_ops + t->op_rows * t->op_row_h + 4 : top;
    fl_buf_printf(b,
                  "<rect class=\"anomaly\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                  "height=\"%.1f\"/><path class=\"anomaly-line\" d=\"M%.1f %.1fV%.1f\"/>",
                  xs, top - 2, xe - xs, bot - top + 4, x, y + 6, t->band_bot);
  }
  fl_buf_puts(b, "</g>\n");
}

/* Passed checks first, so that failed ones are drawn on top; of those, the
 * ones with an operation as evidence get their labels placed first. */
static void draw_checks(fl__tl_t *t) {
  size_t i;
  json_t *c;
  spans_t sp = {.n = 0};
  fl_buf_printf(t->b, "<text class=\"fl-name\" x=\"%.1f\" y=\"%.1f\">checks</text>",
                TL_X0 - 8, t->y_checks + 13);
  json_array_foreach(fl__jarr(t->report, "checks"), i, c) {
    double s, e;
    if (i < MAX_CHECKS && check_time(c, &s, &e))
      spans_add(&sp, fl__tl_x(t, e) - 6, fl__tl_x(t, e) + 6);
  }
  for (int pass = 0; pass < 3; pass++) {
    json_array_foreach(fl__jarr(t->report, "checks"), i, c) {
      if (i >= MAX_CHECKS)
        break;
      int bad = strcmp(fl__jstr(c, "status", "unknown"), "pass") != 0;
      int has_op = json_object_get(fl__jobj(c, "evidence"), "op") != NULL;
      int want = !bad ? 0 : has_op ? 1 : 2;
      if (want == pass)
        draw_check(t, i, c, &sp);
    }
  }
}

/* ---- the whole timeline --------------------------------------------------------- */

static void draw_axis(fl__tl_t *t) {
  fl_buf_t *b = t->b;
  fl_buf_puts(b, "<g class=\"axis\">");
  for (double s = 0; s <= t->end + 1e-9; s += t->step) {
    double x = fl__tl_x(t, s);
    char lab[32];
    fl__svg_fmt_tick(lab, sizeof(lab), s);
    fl_buf_printf(b, "<path class=\"grid\" d=\"M%.1f %.1fV%.1f\"/>", x, t->band_top,
                  t->band_bot);
    fl_buf_printf(b, "<text class=\"fl-tick\" x=\"%.1f\" y=\"%.1f\">%s</text>", x,
                  t->y_axis + 13, lab);
    fl_buf_printf(b, "<text class=\"fl-tick\" x=\"%.1f\" y=\"%.1f\">%s</text>", x,
                  t->y_ticks + 10, lab);
  }
  fl_buf_printf(b, "<text class=\"fl-sub\" x=\"%.1f\" y=\"%.1f\">seconds</text>",
                TL_X0 - 8, t->y_axis + 13);
  fl_buf_puts(b, "</g>\n");
}

/* Sets t's time scale (end, tick step) and its row counts: service lanes
 * and operation rows. */
static void tl_scale(fl__tl_t *t, const json_t *report, const fl__hist_t *hist) {
  t->end = fl__report_end(report);
  for (size_t i = 0; i < hist->n; i++) {
    if (!hist->ops[i].open && hist->ops[i].comp > t->end)
      t->end = hist->ops[i].comp;
  }
  t->step = fl__svg_nice_step(t->end / 12);
  size_t nsvc = json_array_size(fl__jarr(report, "services"));
  t->nlanes = nsvc > MAX_LANES ? MAX_LANES : (int)nsvc;
  if (hist->n > 0) {
    t->op_rows = hist->nslots < 1             ? 1
                 : hist->nslots > MAX_OP_ROWS ? MAX_OP_ROWS
                                              : hist->nslots;
    t->op_row_h = t->op_rows <= 6 ? 6 : t->op_rows <= 10 ? 5 : 4;
  }
}

/* Sets the y of each part of t, top to bottom, and the total height. */
static void tl_layout(fl__tl_t *t, int checks_row) {
  double y = 2;
  t->y_ticks = y;
  y += 16;
  t->y_labels = y;
  y += t->label_rows * 17.0 + (t->label_rows ? 3 : 0);
  t->band_top = y;
  t->y_checks = y;
  y += checks_row ? 22 : 4;
  t->y_lanes = y;
  y += t->nlanes * (LANE_H + LANE_GAP);
  if (t->op_rows > 0) {
    t->y_ops = y;
    y += t->op_rows * t->op_row_h + 14;
    t->y_lat = y;
    y += LAT_H + 20;
    t->y_thr = y;
    y += THR_H;
  } else {
    y += 24;
  }
  if (t->nmetrics > 0) {
    t->y_metrics = y + METRIC_GAP;
    y += t->nmetrics * (METRIC_H + METRIC_GAP) + 4;
  }
  if (t->nnotes > 0) {
    t->y_notes = y + 2;
    y += NOTES_H + 4;
  }
  t->band_bot = y;
  t->y_axis = y;
  t->height = y + 22;
}

/* The <svg> start tag and the hatch patterns fault bands fill with. */
static void tl_open(fl_buf_t *b, double height) {
  fl_buf_printf(b,
                "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
                "viewBox=\"0 0 %.0f %.0f\" role=\"img\" aria-label=\"timeline of "
                "services, faults and operations\">\n",
                TL_W, height);
  fl_buf_puts(b, "<defs>");
  for (size_t i = 0; i < FL_ARRAY_SIZE(fault_palette); i++)
    fl_buf_printf(b,
                  "<pattern id=\"fh%zu\" width=\"7\" height=\"7\" "
                  "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
                  "<rect width=\"3\" height=\"7\" fill=\"%s\" fill-opacity=\".55\"/>"
                  "</pattern>",
                  i, fault_palette[i]);
  fl_buf_puts(b, "</defs>\n");
}

/* The operations, latency and throughput rows, or why they are missing. */
static void tl_draw_history(fl__tl_t *t, const fl__hist_t *hist) {
  if (t->op_rows > 0) {
    fl__tl_draw_ops(t);
    fl__tl_draw_latency(t);
    fl__tl_draw_throughput(t);
    return;
  }
  fl_buf_printf(t->b,
                "<text class=\"fl-sub s\" x=\"%.1f\" y=\"%.1f\">"
                "%s</text>",
                TL_X0 + 6, t->y_lanes + t->nlanes * (LANE_H + LANE_GAP) + 16,
                hist->found ? "history.jsonl holds no operations"
                            : "no history.jsonl beside report.json: operations, "
                              "latency and throughput are not drawn");
}

void fl__html_timeline(fl_buf_t *b, const json_t *report, const fl__hist_t *hist) {
  fl__tl_t t;
  memset(&t, 0, sizeof(t));
  t.b = b;
  t.report = report;
  t.hist = hist;
  tl_scale(&t, report, hist);

  band_t *bands = fl_calloc(MAX_FAULTS, sizeof(band_t));
  int nbands = collect_bands(&t, bands);
  int checks_row = count_timed_checks(report) > 0;
  t.nmetrics = fl__tl_metrics_count(report);
  t.nnotes = fl__tl_notes_count(report);
  tl_layout(&t, checks_row);
  tl_open(b, t.height);

  draw_axis(&t);
  for (int i = 0; i < nbands; i++)
    draw_band(&t, &bands[i]);
  size_t i;
  json_t *svc;
  json_array_foreach(fl__jarr(report, "services"), i, svc) {
    if ((int)i >= t.nlanes)
      break;
    draw_lane(&t, svc, t.y_lanes + (double)i * (LANE_H + LANE_GAP));
  }
  for (int k = 0; k < nbands; k++)
    draw_band_targets(&t, &bands[k]);
  tl_draw_history(&t, hist);
  if (t.nmetrics > 0)
    fl__tl_draw_metrics(&t);
  if (t.nnotes > 0)
    fl__tl_draw_notes(&t);
  if (checks_row)
    draw_checks(&t);
  fl_buf_puts(b, "</svg>\n");
  for (int k = 0; k < nbands; k++)
    fl_free(bands[k].label);
  fl_free(bands);
}

/* ---- legend ------------------------------------------------------------------------ */

static void swatch(fl_buf_t *b, const char *cls, const char *style, const char *label) {
  fl_buf_printf(b,
                "<span class=\"key\"><svg width=\"14\" height=\"10\"><rect class=\"%s\" "
                "width=\"14\" height=\"10\"%s/></svg>%s</span>",
                cls, style, label);
}

void fl__html_legend(fl_buf_t *b, const json_t *report) {
  static const char *const states[][2] = {
      {"up", "up"},           {"starting", "starting"},
      {"paused", "paused"},   {"stopping", "stopping"},
      {"stopped", "stopped"}, {"killed", "killed"},
      {"exited", "exited"},   {"crashed", "crashed"},
      {"other", "other"}};
  int seen[FL_ARRAY_SIZE(states)] = {0};
  size_t i, j;
  json_t *svc, *st, *f;
  json_array_foreach(fl__jarr(report, "services"), i, svc) {
    const char *prev = NULL;
    json_array_foreach(fl__jarr(svc, "states"), j, st) {
      const char *state = fl__jstr(st, "state", "?");
      const char *cls = state_class(state, prev);
      for (size_t k = 0; k < FL_ARRAY_SIZE(states); k++)
        seen[k] |= strcmp(states[k][0], cls) == 0;
      prev = state;
    }
  }
  fl_buf_puts(b, "<div class=\"legend\"><span class=\"legend-h\">services</span>");
  for (size_t k = 0; k < FL_ARRAY_SIZE(states); k++) {
    if (seen[k]) {
      char cls[32];
      snprintf(cls, sizeof(cls), "s-%s", states[k][0]);
      swatch(b, cls, "", states[k][1]);
    }
  }
  fl_buf_puts(b, "<span class=\"legend-h\">operations</span>");
  swatch(b, "o-ok", "", "ok");
  swatch(b, "o-fail", "", "failed");
  swatch(b, "o-info", "", "unknown (info)");
  int kinds_seen[FL_ARRAY_SIZE(fault_palette)] = {0};
  int any = 0;
  json_array_foreach(fl__jarr(report, "faults"), i, f) {
    int ci = fault_color_index(fl__jstr(f, "kind", ""));
    if (kinds_seen[ci] || i >= MAX_FAULTS)
      continue;
    kinds_seen[ci] = 1;
    if (!any)
      fl_buf_puts(b, "<span class=\"legend-h\">faults</span>");
    any = 1;
    char style[64];
    snprintf(style, sizeof(style), " fill=\"%s\"", fault_palette[ci]);
    /* Name every kind that shares this colour. */
    fl_buf_t names;
    fl_buf_init(&names, 4096);
    size_t k;
    json_t *g;
    json_array_foreach(fl__jarr(report, "faults"), k, g) {
      const char *kind = fl__jstr(g, "kind", "");
      if (k >= MAX_FAULTS || fault_color_index(kind) != ci)
        continue;
      size_t m;
      json_t *h;
      int dup = 0;
      json_array_foreach(fl__jarr(report, "faults"), m, h) {
        if (m >= k)
          break;
        dup |= strcmp(fl__jstr(h, "kind", ""), kind) == 0;
      }
      if (dup)
        continue;
      if (names.len > 0)
        fl_buf_puts(&names, ", ");
      fl_buf_esc(&names, kind, 40, FL_ESC_ONELINE);
    }
    swatch(b, "fault-key", style, fl_buf_str(&names));
    fl_buf_free(&names);
  }
  fl_buf_puts(b, "<span class=\"legend-h\">checks</span><span class=\"key\">"
                 "<svg width=\"12\" height=\"12\"><path class=\"c-pass\" "
                 "d=\"M6 0l6 6l-6 6l-6 -6z\"/></svg>passed</span><span class=\"key\">"
                 "<svg width=\"12\" height=\"12\"><path class=\"c-fail\" "
                 "d=\"M6 0l6 6l-6 6l-6 -6z\"/></svg>failed"
                 "</span></div>\n");
}
