/* report.html: one self-contained page per scenario, for the reviewer who
 * opens it when a run failed. It answers, top to bottom: did it pass, how do
 * I run it again, what broke when (the timeline), which checks failed and on
 * what evidence, and what the services said around each fault.
 *
 * Only inline CSS and SVG: no script, no font, no fetch, so the page opens
 * from a CI artifact anywhere and prints as it shows. */
#include "reports/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "reports/internal.h"

#define LOG_BEFORE 2.0 /* seconds of log shown before a fault starts (and ends) */
#define LOG_AFTER 2.0  /* ... and after */
#define LOG_LINES 30   /* lines per service and window */
#define LOG_LINE_MAX 300
#define LOG_FAULTS 40   /* faults that get log excerpts */
#define LOG_SERVICES 12 /* services shown per fault */
#define MAX_CHECK_CARDS 300

typedef struct {
  fl_buf_t *b;
  const json_t *report;
  const char *run_dir;
  fl__hist_t hist;
} page_t;

static const char *status_word(const char *status) {
  if (strcmp(status, "pass") == 0)
    return "PASS";
  if (strcmp(status, "fail") == 0)
    return "FAIL";
  if (strcmp(status, "unknown") == 0)
    return "UNKNOWN";
  return "ERROR";
}

/* A known status for class names, whatever the report holds. */
static const char *status_class(const char *status) {
  static const char *const known[] = {"pass", "fail", "error", "unknown"};
  for (size_t i = 0; i < FL_ARRAY_SIZE(known); i++) {
    if (strcmp(status, known[i]) == 0)
      return known[i];
  }
  return "error";
}

static void meta_item(fl_buf_t *b, const char *dt, const char *dd_escaped) {
  fl_buf_printf(b, "<div><dt>%s</dt><dd>%s</dd></div>", dt, dd_escaped);
}

static void head(page_t *p) {
  fl_buf_t *b = p->b;
  const json_t *r = p->report;
  const char *status = status_class(fl__jstr(r, "status", "error"));
  fl_buf_puts(b,
              "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
              "<meta name=\"generator\" content=\"faultline\"><title>");
  fl_buf_printf(b, "%s \xC2\xB7 ", status_word(status));
  fl_buf_esc(b, fl__jstr(r, "scenario", "scenario"), 200, FL_ESC_ONELINE);
  fl_buf_puts(b, " \xE2\x80\x94 faultline</title>\n<style>\n");
  fl_buf_puts(b, fl__html_css());
  fl_buf_printf(b, "</style></head>\n<body class=\"st-%s\">\n", status);

  size_t nfound = strcmp(status, "pass") == 0 ? fl_report_findings_count(r) : 0;
  fl_buf_printf(b, "<header class=\"top\"><div class=\"verdict v-%s\">%s", status,
                status_word(status));
  if (nfound > 0)
    fl_buf_printf(b, "<small> with %zu finding%s</small>", nfound,
                  nfound == 1 ? "" : "s");
  fl_buf_puts(b, "</div><div><h1>");
  fl_buf_esc(b, fl__jstr(r, "scenario", "(unnamed scenario)"), 400, 0);
  fl_buf_puts(b, "</h1><div class=\"file mono\">");
  fl_buf_esc(b, fl__jstr(r, "file", ""), 400, 0);
  fl_buf_puts(b, "</div></div></header>\n<dl class=\"meta\">");

  fl_buf_t v;
  fl_buf_init(&v, 4096);
  json_t *seed = json_object_get(r, "seed");
  if (json_is_integer(seed)) {
    fl_buf_printf(&v, "%" JSON_INTEGER_FORMAT, json_integer_value(seed));
    meta_item(b, "seed", fl_buf_str(&v));
  }
  if (fl__jstr(r, "started_at", NULL) != NULL) {
    fl_buf_reset(&v);
    fl_buf_esc(&v, fl__jstr(r, "started_at", ""), 64, 0);
    meta_item(b, "started", fl_buf_str(&v));
  }
  if (fl__jisnum(r, "duration_s")) {
    char d[32];
    meta_item(b, "duration", fl__fmt_secs(d, sizeof(d), fl__jnum(r, "duration_s", 0)));
  }
  if (fl__jstr(r, "run_dir", NULL) != NULL) {
    fl_buf_reset(&v);
    fl_buf_puts(&v, "<span class=\"mono\">");
    fl_buf_esc(&v, fl__jstr(r, "run_dir", ""), 400, 0);
    fl_buf_puts(&v, "</span>");
    meta_item(b, "run directory", fl_buf_str(&v));
  }
  fl_buf_reset(&v);
  fl_buf_esc(&v, fl__jstr(r, "faultline", "?"), 40, 0);
  meta_item(b, "faultline", fl_buf_str(&v));
  fl_buf_free(&v);
  fl_buf_puts(b, "</dl>\n<div class=\"rerun\"><span>re-run</span><code>");
  char *cmd = fl__rerun_command(r);
  fl_buf_esc(b, cmd, 4000, 0);
  fl_free(cmd);
  fl_buf_puts(b, "</code></div>\n");

  if (strcmp(status, "error") == 0) {
    fl_buf_puts(b, "<div class=\"errorbox\"><b>The run stopped with an error.</b> "
                   "What it recorded up to then is shown below.<pre>");
    fl_buf_esc(b, fl__jstr(r, "error", "(no message)"), 8000, 0);
    fl_buf_puts(b, "</pre></div>\n");
  }
}

/* The failed checks in one glance, linked to their cards. */
static void what_broke(page_t *p) {
  fl_buf_t *b = p->b;
  json_t *checks = fl__jarr(p->report, "checks");
  size_t i, nbad = 0, n = json_array_size(checks);
  json_t *c;
  json_array_foreach(checks, i, c) nbad += strcmp(fl__jstr(c, "status", ""), "pass") != 0;
  if (nbad == 0) {
    /* "All passed" is for a run that found nothing (the findings panel
     * above says what it found). */
    if (n > 0 && fl_report_findings_count(p->report) == 0)
      fl_buf_printf(b, "<div class=\"allok\">All %zu checks passed.</div>\n", n);
    return;
  }
  fl_buf_printf(b, "<div class=\"broke\"><b>%zu of %zu checks did not pass:</b><ul>",
                nbad, n);
  json_array_foreach(checks, i, c) {
    const char *st = fl__jstr(c, "status", "unknown");
    if (strcmp(st, "pass") == 0 || i >= MAX_CHECK_CARDS)
      continue;
    fl_buf_printf(b, "<li><a href=\"#check-%zu\">", i + 1);
    fl_buf_esc(b, fl__jstr(c, "name", "check"), 200, 0);
    fl_buf_printf(b, "</a> (%s)", status_class(st));
    const char *msg = fl__jstr(c, "message", NULL);
    if (msg != NULL) {
      fl_buf_puts(b, ": ");
      fl_buf_esc(b, msg, 300, FL_ESC_ONELINE);
    }
    fl_buf_puts(b, "</li>");
  }
  fl_buf_puts(b, "</ul></div>\n");
}

static void card(fl_buf_t *b, const char *num, const char *label) {
  fl_buf_printf(b,
                "<div class=\"card\"><div class=\"num\">%s</div>"
                "<div class=\"lab\">%s</div></div>",
                num, label);
}

static void fmt_ms(char *out, size_t n, const json_t *lat, const char *key) {
  double v = fl__jnum(lat, key, 0);
  if (fl__jisnum(lat, key))
    snprintf(out, n, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : "%.2g", v);
  else
    snprintf(out, n, "\xE2\x80\x93");
}

static void cards(page_t *p) {
  fl_buf_t *b = p->b;
  const json_t *r = p->report;
  char num[160];
  size_t i;
  json_t *c;
  size_t n = 0, pass = 0;
  json_array_foreach(fl__jarr(r, "checks"), i, c) {
    n++;
    pass += strcmp(fl__jstr(c, "status", ""), "pass") == 0;
  }
  fl_buf_puts(b, "<div class=\"cards\">");
  if (n > 0) {
    snprintf(num, sizeof(num), "%s%zu</span> / %zu",
             pass < n ? "<span class=\"bad\">" : "<span>", pass, n);
    card(b, num, "checks passed");
  }
  /* Counts from the report's stats, else from the history itself. */
  json_t *ops = fl__jobj(fl__jobj(r, "stats"), "ops");
  double ok = fl__jnum(ops, "ok", -1), fail = fl__jnum(ops, "fail", -1),
         info = fl__jnum(ops, "info", -1);
  if (ops == NULL && p->hist.n > 0) {
    ok = fail = info = 0;
    for (size_t k = 0; k < p->hist.n; k++) {
      int t = p->hist.ops[k].type;
      ok += t == FL__OP_OK;
      fail += t == FL__OP_FAIL;
      info += t == FL__OP_INFO;
    }
  }
  if (ok >= 0) {
    snprintf(num, sizeof(num), "%.0f", ok);
    card(b, num, "operations ok");
    snprintf(num, sizeof(num), "<span class=\"%s\">%.0f</span>", fail > 0 ? "bad" : "",
             fail < 0 ? 0 : fail);
    card(b, num, "failed");
    snprintf(num, sizeof(num), "<span class=\"%s\">%.0f</span>", info > 0 ? "warn" : "",
             info < 0 ? 0 : info);
    card(b, num, "unknown (timed out)");
  }
  json_t *lat = fl__jobj(fl__jobj(r, "stats"), "latency_ms");
  if (lat != NULL) {
    char a[32], m[32], z[32];
    fmt_ms(a, sizeof(a), lat, "p50");
    fmt_ms(m, sizeof(m), lat, "p99");
    fmt_ms(z, sizeof(z), lat, "max");
    snprintf(num, sizeof(num), "%s / %s / %s ms", a, m, z);
    card(b, num, "latency p50 / p99 / max");
  }
  snprintf(num, sizeof(num), "%zu", json_array_size(fl__jarr(r, "faults")));
  card(b, num, "faults injected");
  fl_buf_puts(b, "</div>\n");
}

static void check_cards(page_t *p) {
  fl_buf_t *b = p->b;
  json_t *checks = fl__jarr(p->report, "checks");
  fl_buf_puts(b, "<section id=\"checks\"><h2>Checks</h2>\n");
  if (json_array_size(checks) == 0)
    fl_buf_puts(b, "<p class=\"note\">No check results were recorded.</p>\n");
  size_t i;
  json_t *c;
  json_array_foreach(checks, i, c) {
    if (i >= MAX_CHECK_CARDS) {
      fl_buf_printf(b, "<p class=\"note\">%zu more checks are in report.json.</p>\n",
                    json_array_size(checks) - i);
      break;
    }
    const char *st = status_class(fl__jstr(c, "status", "unknown"));
    fl_buf_printf(b,
                  "<div class=\"check ck-%s\" id=\"check-%zu\"><div class=\"ck-head\">"
                  "<span class=\"pill p-%s\">%s</span><span class=\"ck-name\">",
                  st, i + 1, st, status_word(st));
    fl_buf_esc(b, fl__jstr(c, "name", "check"), 400, 0);
    fl_buf_puts(b, "</span>");
    if (fl__jstr(c, "kind", NULL) != NULL) {
      fl_buf_puts(b, "<span class=\"ck-kind\">");
      fl_buf_esc(b, fl__jstr(c, "kind", ""), 60, 0);
      fl_buf_puts(b, "</span>");
    }
    if (fl__jisnum(c, "t")) {
      char s[32];
      fl_buf_printf(b, "<span class=\"ck-t\">decided at %s</span>",
                    fl__fmt_secs(s, sizeof(s), fl__jnum(c, "t", 0)));
    }
    fl_buf_puts(b, "</div>");
    if (fl__jstr(c, "message", NULL) != NULL) {
      fl_buf_puts(b, "<p class=\"ck-msg\">");
      fl_buf_esc(b, fl__jstr(c, "message", ""), FL__MSG_MAX, 0);
      fl_buf_puts(b, "</p>");
    }
    fl__html_evidence(b, c);
    fl__html_txn(b, c);
    json_t *ev = json_object_get(c, "evidence");
    if (ev != NULL && !json_is_null(ev)) {
      /* The evidence's own message, unless it only repeats the check's. */
      const char *evmsg = fl__jstr(ev, "message", NULL);
      if (evmsg != NULL && strcmp(evmsg, fl__jstr(c, "message", "")) != 0) {
        fl_buf_puts(b, "<p class=\"ck-msg\">");
        fl_buf_esc(b, evmsg, FL__MSG_MAX, 0);
        fl_buf_puts(b, "</p>");
      }
      char *js = json_dumps(ev, JSON_INDENT(2) | JSON_ENCODE_ANY);
      if (js != NULL) {
        fl_buf_puts(
            b, "<details><summary>evidence as recorded</summary><pre class=\"json\">");
        fl_buf_esc(b, js, 16000, 0);
        fl_buf_puts(b, "</pre></details>");
      }
      free(js);
    }
    fl_buf_puts(b, "</div>\n");
  }
  fl_buf_puts(b, "</section>\n");
}

/* ---- faults and the log lines around them --------------------------------- */

/* One service's log, cut into the windows of every fault shown. */
typedef struct {
  char *path;
  int err;            /* reading it failed: no log */
  fl__logwin_t *wins; /* 2 per fault: around its start, around its end */
} svclog_t;

static void fault_windows(const json_t *f, double end, double w[4], int *nwin) {
  double s = fl__jnum(f, "start_s", 0);
  double e = fl__jisnum(f, "end_s") ? fl__jnum(f, "end_s", s) : end;
  int active = !fl__jisnum(f, "end_s");
  /* Close start and end share one window (unless a second one would start
   * at least a second after the first ends); an active fault has no end. */
  if (active || e - s > LOG_BEFORE + LOG_AFTER + 1) {
    w[0] = s - LOG_BEFORE, w[1] = s + LOG_AFTER;
    w[2] = e - LOG_BEFORE, w[3] = e + LOG_AFTER;
    *nwin = active ? 1 : 2;
  } else {
    w[0] = s - LOG_BEFORE, w[1] = e + LOG_AFTER;
    *nwin = 1;
  }
}

static void log_mark(fl_buf_t *b, double t, const char *arrow, const char *kind,
                     const char *what) {
  fl_buf_printf(b, "<tr class=\"mark\"><td class=\"ts\">%.3f</td><td>%s ", t, arrow);
  fl_buf_esc(b, kind, 60, FL_ESC_ONELINE);
  fl_buf_printf(b, "%s</td></tr>", what);
}

/* The scenario's fl.log lines (events of type "step") timed in (after,
 * upto] and within window w, as marks among the service's lines. */
static void note_marks(fl_buf_t *b, const json_t *events, const fl__logwin_t *w,
                       double after, double upto) {
  size_t i;
  json_t *ev;
  json_array_foreach(events, i, ev) {
    double t = fl__jnum(ev, "t", -1);
    if (strcmp(fl__jstr(ev, "type", ""), "step") != 0 || t <= after || t > upto ||
        t < w->from || t > w->to)
      continue;
    fl_buf_printf(b,
                  "<tr class=\"mark note\"><td class=\"ts\">%.3f</td><td>\xE2\x9C\x8E "
                  "fl.log: ",
                  t);
    fl_buf_esc(b, fl__jstr(ev, "message", ""), 400, FL_ESC_ONELINE);
    fl_buf_puts(b, "</td></tr>");
  }
}

static void log_lines(fl_buf_t *b, const fl__logwin_t *w, const json_t *f,
                      const json_t *events) {
  double last = -INFINITY;
  const char *kind = fl__jstr(f, "kind", "fault");
  double s = fl__jnum(f, "start_s", 0);
  double e = fl__jnum(f, "end_s", NAN);
  int instant = !isnan(e) && e - s < 1e-3;
  /* An instant fault (a kill) gets one mark. */
  int marked_s = 0, marked_e = instant;
  char ts[32];
  fl_buf_puts(b, "<table class=\"lines\">");
  for (size_t k = 0; k <= w->n; k++) {
    double t = k < w->n ? w->ts[k] : INFINITY;
    /* The moments the fault began and ended, between the lines. */
    if (!marked_s && t >= s && s >= w->from && s <= w->to) {
      log_mark(b, s, "\xE2\x96\xB6", kind, instant ? "" : " begins");
      marked_s = 1;
    }
    if (!marked_e && t >= e && e >= w->from && e <= w->to) {
      log_mark(b, e, "\xE2\x97\x80", kind, " ends");
      marked_e = 1;
    }
    note_marks(b, events, w, last, t);
    last = t;
    if (k == w->n)
      break;
    int in = !instant && t >= s && (isnan(e) || t <= e);
    snprintf(ts, sizeof(ts), "%.3f", t);
    fl_buf_printf(b, "<tr%s><td class=\"ts\">%s</td><td>", in ? " class=\"in\"" : "", ts);
    fl_buf_esc(b, w->lines[k], 0, 0);
    fl_buf_puts(b, "</td></tr>");
  }
  fl_buf_puts(b, "</table>");
  if (w->dropped > 0)
    fl_buf_printf(b, "<div class=\"note\">%zu more lines in this window.</div>",
                  w->dropped);
}

static void fault_section(page_t *p, size_t fi, const json_t *f, svclog_t *logs,
                          size_t nsvc) {
  fl_buf_t *b = p->b;
  const char *kind = fl__jstr(f, "kind", "fault");
  char s0[32], s1[32], s2[32];
  double s = fl__jnum(f, "start_s", 0);
  fl_buf_printf(b,
                "<div class=\"fault\" id=\"fault-%zu\" style=\"--fc:%s\"><h3>"
                "<span class=\"fk\">",
                fi + 1, fl__fault_color(kind));
  fl_buf_esc(b, kind, 60, 0);
  fl_buf_puts(b, "</span> ");
  fl__fault_targets_esc(b, f, 0);
  if (fl__jisnum(f, "end_s") && fl__jnum(f, "end_s", s) - s < 1e-3) {
    fl_buf_printf(b, " <span class=\"ft\">at %s", fl__fmt_secs(s0, sizeof(s0), s));
  } else if (fl__jisnum(f, "end_s")) {
    fl_buf_printf(b, " <span class=\"ft\">from %s", fl__fmt_secs(s0, sizeof(s0), s));
    double e = fl__jnum(f, "end_s", s);
    fl_buf_printf(b, " to %s (%s)", fl__fmt_secs(s1, sizeof(s1), e),
                  fl__fmt_secs(s2, sizeof(s2), e - s));
  } else {
    fl_buf_printf(b, " <span class=\"ft\">from %s, still active when the run ended",
                  fl__fmt_secs(s0, sizeof(s0), s));
  }
  fl_buf_puts(b, "</span></h3>");
  json_t *attrs = fl__jobj(f, "attrs");
  if (attrs != NULL && json_object_size(attrs) > 0) {
    char *a = json_dumps(attrs, JSON_COMPACT | JSON_REAL_PRECISION(10));
    fl_buf_puts(b, "<div class=\"note mono\">");
    fl_buf_esc(b, a, 600, 0);
    fl_buf_puts(b, "</div>");
    free(a);
  }
  /* An HTTP fault rule's evidence: how many requests it matched and acted on. */
  if (fl__jisnum(attrs, "matched") && fl__jstr(attrs, "rule", NULL) != NULL) {
    fl_buf_puts(b, "<div class=\"note\">rule ");
    fl_buf_esc(b, fl__jstr(attrs, "rule", ""), 80, 0);
    fl_buf_printf(b, ": %.0f of %.0f matched request(s) faulted</div>",
                  fl__jnum(attrs, "faulted", 0), fl__jnum(attrs, "matched", 0));
  }
  if (logs == NULL) {
    fl_buf_puts(b, "</div>\n");
    return;
  }
  double w[4];
  int nwin;
  fault_windows(f, 0, w, &nwin);
  fl_buf_t quiet;
  fl_buf_init(&quiet, 8192);
  /* Targets first: theirs are the lines the reviewer came for. */
  for (int pass = 0; pass < 2; pass++) {
    size_t i;
    json_t *svc;
    json_array_foreach(fl__jarr(p->report, "services"), i, svc) {
      if (i >= nsvc)
        break;
      const char *name = fl__jstr(svc, "name", "?");
      int target = fl__fault_focus(f, name);
      if (target != (pass == 0))
        continue;
      fl__logwin_t *wins = &logs[i].wins[fi * 2];
      size_t lines = wins[0].n + (nwin > 1 ? wins[1].n : 0);
      if (logs[i].err || lines == 0) {
        if (quiet.len > 0)
          fl_buf_puts(&quiet, ", ");
        fl_buf_esc(&quiet, name, 60, 0);
        if (logs[i].err)
          fl_buf_puts(&quiet, " (no log file)");
        continue;
      }
      fl_buf_puts(b, "<div class=\"log\"><div class=\"log-h\">");
      fl_buf_esc(b, name, 100, 0);
      if (target)
        fl_buf_puts(b, "<span class=\"tgt\">target</span>");
      fl_buf_puts(b, " <span class=\"path mono\">");
      /* As the run directory names it, not as we reached it. */
      char *shown = fl__service_log(svc, NULL);
      fl_buf_esc(b, shown, 300, 0);
      fl_free(shown);
      fl_buf_puts(b, "</span></div>");
      for (int k = 0; k < nwin; k++) {
        if (wins[k].n == 0)
          continue;
        if (k > 0 && wins[0].n > 0)
          fl_buf_printf(b, "<div class=\"gap\">\xE2\x8B\xAE %.1f s later</div>",
                        wins[1].from - wins[0].to);
        log_lines(b, &wins[k], f, fl__jarr(p->report, "events"));
      }
      fl_buf_puts(b, "</div>");
    }
  }
  if (quiet.len > 0)
    fl_buf_printf(b,
                  "<div class=\"quiet\">Nothing logged within %g s of the fault by: %s."
                  "</div>",
                  LOG_BEFORE, fl_buf_str(&quiet));
  fl_buf_free(&quiet);
  fl_buf_puts(b, "</div>\n");
}

static void faults(page_t *p) {
  fl_buf_t *b = p->b;
  json_t *fs = fl__jarr(p->report, "faults");
  json_t *svcs = fl__jarr(p->report, "services");
  size_t nf = json_array_size(fs), nsvc = json_array_size(svcs);
  fl_buf_puts(b, "<section id=\"faults\"><h2>Faults, and what the services logged around "
                 "them</h2>\n");
  if (nf == 0) {
    fl_buf_puts(b, "<p class=\"note\">No faults were injected.</p></section>\n");
    return;
  }
  if (nf > LOG_FAULTS)
    nf = LOG_FAULTS;
  if (nsvc > LOG_SERVICES)
    nsvc = LOG_SERVICES;
  /* Each log is read once, for the windows of every fault. */
  svclog_t *logs = NULL;
  if (p->run_dir != NULL && nsvc > 0) {
    logs = fl_calloc(nsvc, sizeof(svclog_t));
    for (size_t i = 0; i < nsvc; i++) {
      json_t *svc = json_array_get(svcs, i);
      logs[i].path = fl__service_log(svc, p->run_dir);
      logs[i].wins = fl_calloc(nf * 2, sizeof(fl__logwin_t));
      for (size_t k = 0; k < nf; k++) {
        double w[4];
        int nwin;
        fault_windows(json_array_get(fs, k), 0, w, &nwin);
        logs[i].wins[k * 2] = (fl__logwin_t){.from = w[0], .to = w[1]};
        /* An unused second window matches nothing. */
        logs[i].wins[k * 2 + 1] = nwin > 1 ? (fl__logwin_t){.from = w[2], .to = w[3]}
                                           : (fl__logwin_t){.from = 1, .to = 0};
      }
      logs[i].err = fl__log_windows(logs[i].path, logs[i].wins, nf * 2, LOG_LINES,
                                    LOG_LINE_MAX) != 0;
    }
  }
  for (size_t k = 0; k < nf; k++)
    fault_section(p, k, json_array_get(fs, k), logs, nsvc);
  if (json_array_size(fs) > nf)
    fl_buf_printf(b, "<p class=\"note\">%zu more faults are in report.json.</p>\n",
                  json_array_size(fs) - nf);
  for (size_t i = 0; logs != NULL && i < nsvc; i++) {
    for (size_t k = 0; k < nf * 2; k++)
      fl__logwin_clear(&logs[i].wins[k]);
    fl_free(logs[i].wins);
    fl_free(logs[i].path);
  }
  fl_free(logs);
  fl_buf_puts(b, "</section>\n");
}

/* ---- services and phases tables ----------------------------------------------- */

/* The process ids a service had, in order: its "pids", else those its
 * states name. */
static void pids(fl_buf_t *b, const json_t *list, const json_t *states) {
  json_int_t seen[20];
  size_t n = 0, i;
  json_t *v;
  json_array_foreach(list, i, v) {
    if (n < 20 && json_is_integer(v))
      seen[n++] = json_integer_value(v);
  }
  if (list == NULL) {
    json_array_foreach(states, i, v) {
      json_t *pid = json_object_get(v, "pid");
      if (n < 20 && json_is_integer(pid) &&
          (n == 0 || seen[n - 1] != json_integer_value(pid)))
        seen[n++] = json_integer_value(pid);
    }
  }
  for (i = 0; i < n; i++)
    fl_buf_printf(b, "%s%" JSON_INTEGER_FORMAT, i ? " \xE2\x86\x92 " : "", seen[i]);
}

/* The end of the timeline's axis (html_svg.c's tl_scale), for the
 * resource charts below it. */
static double resources_end(const json_t *report, const fl__hist_t *hist) {
  double end = fl__report_end(report);
  for (size_t i = 0; i < hist->n; i++)
    if (!hist->ops[i].open && hist->ops[i].comp > end)
      end = hist->ops[i].comp;
  return end;
}

/* A service's peak RSS and CPU seconds, as two cells. */
static void resource_cells(fl_buf_t *b, const json_t *svc) {
  char rss[32], cpu[32];
  fl__svc_resource_text(svc, rss, cpu, sizeof(rss));
  fl_buf_printf(b, "<td class=\"n\">%s</td><td class=\"n\">%s</td>", rss, cpu);
}

static void services(page_t *p) {
  fl_buf_t *b = p->b;
  json_t *svcs = fl__jarr(p->report, "services");
  if (json_array_size(svcs) == 0)
    return;
  fl_buf_puts(b, "<section id=\"services\"><h2>Services</h2><table class=\"grid-t\"><tr>"
                 "<th>service</th><th>command</th><th>pids</th><th>last state</th>"
                 "<th>peak RSS</th><th>CPU s</th><th>log</th></tr>\n");
  size_t i, j;
  json_t *svc, *v;
  json_array_foreach(svcs, i, svc) {
    if (i >= 200)
      break;
    fl_buf_puts(b, "<tr><td><b>");
    fl_buf_esc(b, fl__jstr(svc, "name", "?"), 100, 0);
    fl_buf_puts(b, "</b></td><td class=\"mono\">");
    json_array_foreach(fl__jarr(svc, "cmd"), j, v) {
      if (j >= 40)
        break;
      if (j > 0)
        fl_buf_puts(b, " ");
      fl_buf_esc(b, json_string_value(v), 200, 0);
    }
    fl_buf_puts(b, "</td><td class=\"mono\">");
    json_t *states = fl__jarr(svc, "states");
    pids(b, fl__jarr(svc, "pids"), states);
    json_t *last = json_array_get(states, json_array_size(states) - 1);
    fl_buf_puts(b, "</td><td>");
    if (last != NULL) {
      char s[32];
      fl_buf_esc(b, fl__jstr(last, "state", "?"), 40, 0);
      fl_buf_printf(b, " at %s", fl__fmt_secs(s, sizeof(s), fl__jnum(last, "t", 0)));
      if (fl__jstr(last, "detail", NULL) != NULL) {
        fl_buf_puts(b, ": ");
        fl_buf_esc(b, fl__jstr(last, "detail", ""), 200, 0);
      }
    }
    fl_buf_puts(b, "</td>");
    resource_cells(b, svc);
    fl_buf_puts(b, "<td class=\"mono\">");
    const char *log = fl__jstr(svc, "log", NULL);
    if (log != NULL) {
      fl_buf_puts(b, "<a href=\"");
      fl_buf_esc(b, log, 400, FL_ESC_ATTR);
      fl_buf_puts(b, "\">");
      fl_buf_esc(b, log, 400, 0);
      fl_buf_puts(b, "</a>");
    }
    fl_buf_puts(b, "</td></tr>\n");
  }
  fl_buf_puts(b, "</table></section>\n");
}

static void phases(page_t *p) {
  fl_buf_t *b = p->b;
  json_t *ph = fl__jarr(fl__jobj(p->report, "stats"), "phases");
  if (json_array_size(ph) == 0)
    return;
  fl_buf_puts(b, "<section id=\"phases\"><h2>Phases</h2><table class=\"grid-t\"><tr>"
                 "<th>phase</th><th>from</th><th>to</th><th>ok</th><th>failed</th>"
                 "<th>unknown</th><th>p50 ms</th><th>p99 ms</th></tr>\n");
  size_t i;
  json_t *x;
  json_array_foreach(ph, i, x) {
    if (i >= 100)
      break;
    char s0[32], s1[32], a[32], z[32];
    fl_buf_puts(b, "<tr><td>");
    fl_buf_esc(b, fl__jstr(x, "name", ""), 100, 0);
    fmt_ms(a, sizeof(a), fl__jobj(x, "latency_ms"), "p50");
    fmt_ms(z, sizeof(z), fl__jobj(x, "latency_ms"), "p99");
    fl_buf_printf(b,
                  "</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
                  "<td class=\"n\">%.0f</td><td class=\"n\">%.0f</td><td class=\"n\">%.0f"
                  "</td><td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
                  fl__fmt_secs(s0, sizeof(s0), fl__jnum(x, "start_s", 0)),
                  fl__fmt_secs(s1, sizeof(s1), fl__jnum(x, "end_s", 0)),
                  fl__jnum(x, "ok", 0), fl__jnum(x, "fail", 0), fl__jnum(x, "info", 0), a,
                  z);
  }
  fl_buf_puts(b, "</table></section>\n");
}

int fl_report_write_html(const json_t *report, const char *run_dir, const char *path,
                         fl_err_t *err) {
  if (!json_is_object(report))
    return fl_err_set(err, FL_EPARSE, "%s: the report is not a JSON object", path);
  fl_buf_t b;
  fl_buf_init(&b, FL__HTML_MAX);
  page_t p = {&b, report, run_dir, {0}};
  fl__hist_load(&p.hist, run_dir, fl__report_end(report));

  head(&p);
  fl__html_findings(&b, report);
  what_broke(&p);
  cards(&p);
  fl_buf_puts(&b, "<section id=\"timeline\"><h2>Timeline</h2>\n");
  fl__html_timeline(&b, report, &p.hist);
  fl__html_legend(&b, report);
  if (p.hist.truncated || p.hist.bad > 0)
    fl_buf_printf(&b,
                  "<p class=\"note\">history.jsonl: %s%zu lines skipped as malformed."
                  "</p>\n",
                  p.hist.truncated ? "only the first operations are drawn; " : "",
                  p.hist.bad);
  fl_buf_puts(&b, "</section>\n");
  fl__html_resources(&b, report, resources_end(report, &p.hist));
  check_cards(&p);
  faults(&p);
  fl__html_schedule(&b, report);
  services(&p);
  phases(&p);
  fl_buf_puts(&b, "<footer>Written by faultline ");
  fl_buf_esc(&b, fl__jstr(report, "faultline", "?"), 40, 0);
  fl_buf_puts(&b, " from report.json");
  if (p.hist.found)
    fl_buf_printf(&b, " and history.jsonl (%zu operations)", p.hist.n);
  fl_buf_puts(&b, ". Re-render with <code>faultline report RUN_DIR</code>.</footer>\n"
                  "</body></html>\n");

  int rc = fl_buf_write_file(&b, path, err);
  fl__hist_free(&p.hist);
  fl_buf_free(&b);
  return rc;
}

/* The row of html (formats.c): one run's page, reports[0]. */
fl_report_writer_fn fl_report_format_html;
int fl_report_format_html(json_t *const *reports, size_t n, const char *run_dir,
                          const char *path, fl_err_t *err) {
  if (n == 0)
    return fl_err_set(err, FL_EUSAGE, "%s: no report", path);
  return fl_report_write_html(reports[0], run_dir, path, err);
}
