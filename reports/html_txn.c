/* A transactional check's witness cycles in report.html: each a small SVG
 * graph (the transactions on a circle, one arrow per dependency, labelled
 * with its kind and key), the explanation in words, and the transactions
 * with their times and what they read and wrote. */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "reports/internal.h"

enum { MAX_CYCLES_DRAWN = 12, MAX_NODES = 16 };

static const char *edge_color(const char *kind) {
  return strcmp(kind, "rw") == 0   ? "#c0392b"
         : strcmp(kind, "wr") == 0 ? "#2471a3"
         : strcmp(kind, "ww") == 0 ? "#7d3c98"
                                   : "#7f8c8d";
}

/* The graph: nodes on a circle in cycle order, arrows between them. */
static void cycle_svg(fl_buf_t *b, const json_t *steps) {
  size_t n = json_array_size(steps);
  if (n == 0 || n > MAX_NODES)
    return;
  const double w = 360, h = 250, cx = w / 2, cy = h / 2, r = n == 2 ? 70 : 90, nr = 22;
  double x[MAX_NODES], y[MAX_NODES];
  for (size_t i = 0; i < n; i++) {
    double a = -M_PI / 2 + 2 * M_PI * (double)i / (double)n;
    x[i] = cx + r * cos(a);
    y[i] = cy + r * sin(a);
  }
  fl_buf_printf(b,
                "<svg class=\"txn-cycle\" viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" "
                "height=\"%.0f\" role=\"img\" aria-label=\"dependency cycle\">",
                w, h, w, h);
  for (size_t i = 0; i < n; i++) {
    const json_t *s = json_array_get(steps, i);
    size_t j = (i + 1) % n;
    double dx = x[j] - x[i], dy = y[j] - y[i], d = sqrt(dx * dx + dy * dy);
    if (d < 1)
      continue;
    double ux = dx / d, uy = dy / d, bend = n == 2 ? 14 : 0;
    double x0 = x[i] + ux * nr - uy * bend, y0 = y[i] + uy * nr + ux * bend;
    double x1 = x[j] - ux * nr - uy * bend, y1 = y[j] - uy * nr + ux * bend;
    const char *kind = fl__jstr(s, "edge", "?");
    const char *col = edge_color(kind);
    fl_buf_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                  "stroke-width=\"2\"/>",
                  x0, y0, x1, y1, col);
    /* the arrowhead, drawn: no marker ids to clash between cycles */
    fl_buf_printf(b, "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f\" fill=\"%s\"/>",
                  x1, y1, x1 - ux * 10 - uy * 5, y1 - uy * 10 + ux * 5,
                  x1 - ux * 10 + uy * 5, y1 - uy * 10 - ux * 5, col);
    fl_buf_printf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" "
                  "fill=\"%s\">",
                  (x0 + x1) / 2 - uy * 12, (y0 + y1) / 2 + ux * 12 + 4, col);
    fl_buf_esc(b, kind, 16, 0);
    if (fl__jstr(s, "key", NULL) != NULL) {
      fl_buf_puts(b, " ");
      fl_buf_esc(b, fl__jstr(s, "key", ""), 24, 0);
    }
    fl_buf_puts(b, "</text>");
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *s = json_array_get(steps, i);
    fl_buf_printf(b,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.0f\" fill=\"#fdfefe\" "
                  "stroke=\"#34495e\" stroke-width=\"1.5\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">"
                  "T%lld</text>",
                  x[i], y[i], nr, x[i], y[i] + 4, (long long)fl__jnum(s, "from", -1));
  }
  fl_buf_puts(b, "</svg>");
}

/* The transactions of a cycle: when each ran and what it did. */
static void cycle_ops(fl_buf_t *b, const json_t *ops) {
  fl_buf_puts(b,
              "<table class=\"txn-ops\"><tr><th>txn</th><th>process</th><th>invoked</th>"
              "<th>completed</th><th>operations</th></tr>");
  size_t i;
  const json_t *op;
  json_array_foreach(ops, i, op) {
    char a[32], c[32];
    double inv = fl__jnum(op, "invoke_ns", 0) / 1e9,
           done = fl__jnum(op, "complete_ns", -1);
    fl_buf_printf(b, "<tr><td>T%lld</td><td>%lld</td><td>%s</td><td>%s</td><td><code>",
                  (long long)fl__jnum(op, "index", -1),
                  (long long)fl__jnum(op, "process", -1), fl__fmt_secs(a, sizeof(a), inv),
                  done < 0 ? "never" : fl__fmt_secs(c, sizeof(c), done / 1e9));
    char *v = json_dumps(json_object_get(op, "value"), JSON_COMPACT | JSON_ENCODE_ANY);
    fl_buf_esc(b, v ? v : "", 600, 0);
    free(v);
    fl_buf_puts(b, "</code></td></tr>");
  }
  fl_buf_puts(b, "</table>");
}

void fl__html_txn(fl_buf_t *b, const json_t *check) {
  const json_t *anomalies = json_object_get(fl__jobj(check, "evidence"), "anomalies");
  if (!json_is_object(anomalies) || json_object_size(anomalies) == 0)
    return;
  size_t drawn = 0;
  const char *type;
  const json_t *list;
  fl_buf_puts(b, "<div class=\"txn-anomalies\">");
  json_object_foreach((json_t *)anomalies, type, list) {
    size_t i;
    const json_t *a;
    json_array_foreach(list, i, a) {
      if (drawn++ >= MAX_CYCLES_DRAWN)
        break;
      fl_buf_puts(b, "<div class=\"txn-anomaly\"><h4>");
      fl_buf_esc(b, type, 40, 0);
      fl_buf_puts(b, "</h4>");
      cycle_svg(b, json_object_get(a, "steps"));
      fl_buf_puts(b, "<p class=\"ck-msg\">");
      fl_buf_esc(b, fl__jstr(a, "explanation", ""), FL__MSG_MAX, 0);
      fl_buf_puts(b, "</p>");
      const json_t *ops = json_object_get(a, "cycle");
      cycle_ops(b, ops != NULL ? ops : json_object_get(a, "ops"));
      fl_buf_puts(b, "</div>");
    }
  }
  fl_buf_puts(b, "</div>");
}
