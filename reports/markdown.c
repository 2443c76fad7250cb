/* summary.md: a short GitHub-flavoured Markdown summary to append to a CI job
 * summary or post on a pull request. A table of every scenario (verdict,
 * duration, recovery times, checks, findings, link to report.html), then for
 * each one that did not pass, or passed with findings, its findings and failed
 * checks and the command that re-runs it. "All passed" only when nothing was
 * found. Text
 * from reports is escaped for both Markdown and the HTML GitHub allows in it,
 * so a scenario name cannot break the table or inject markup. */
#include "reports/report.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "reports/internal.h"

#define MAX_ROWS 2000
#define MAX_DETAILED 50
#define MAX_FAILED_LISTED 20
#define MAX_RECOVERIES 3
#define MAX_SERVICES_LISTED 30

/* Appends s (cut to max bytes) as inline Markdown text: on one line, with
 * HTML specials as entities and Markdown specials backslash-escaped. */
static void md_esc(fl_buf_t *b, const char *s, size_t max) {
  if (s == NULL)
    return;
  size_t n = strlen(s), cut = 0;
  if (n > max) {
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
      n--;
    cut = 1;
  }
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    switch (c) {
    case '&':
      fl_buf_puts(b, "&amp;");
      break;
    case '<':
      fl_buf_puts(b, "&lt;");
      break;
    case '>':
      fl_buf_puts(b, "&gt;");
      break;
    case '\n':
    case '\r':
    case '\t':
      fl_buf_puts(b, " ");
      break;
    case '\\':
    case '`':
    case '*':
    case '_':
    case '[':
    case ']':
    case '|':
    case '#':
    case '~':
    case '!':
      fl_buf_add(b, "\\", 1);
      fl_buf_add(b, &c, 1);
      break;
    default:
      /* Other control characters would only confuse a renderer. */
      if ((unsigned char)c >= 0x20 && c != 0x7f)
        fl_buf_add(b, &c, 1);
    }
  }
  if (cut)
    fl_buf_puts(b, "\xE2\x80\xA6");
}

/* Appends a path as a link target: characters that end or confuse a link
 * are percent-encoded. */
static void md_url(fl_buf_t *b, const char *s) {
  for (const char *p = s; *p && p - s < 2000; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c == 0x7f || strchr("()<>|[]\\\"'`", c) != NULL)
      fl_buf_printf(b, "%%%02X", c);
    else
      fl_buf_add(b, p, 1);
  }
}

static const char *verdict(const json_t *r) {
  const char *s = fl__jstr(r, "status", "error");
  return strcmp(s, "pass") == 0 ? "pass" : strcmp(s, "fail") == 0 ? "fail" : "error";
}

static const char *icon(const char *verdict) {
  return strcmp(verdict, "pass") == 0   ? "\xE2\x9C\x85"              /* ✅ */
         : strcmp(verdict, "fail") == 0 ? "\xE2\x9D\x8C"              /* ❌ */
                                        : "\xE2\x9A\xA0\xEF\xB8\x8F"; /* ⚠️ */
}

#define FINDINGS_ICON "\xF0\x9F\x94\x8D" /* 🔍: passed, and found what it looked for */
#define MAX_FINDINGS_LISTED 20

/* The findings column: "–", or "N (what, ...)" with the anomalies counted. */
static void findings_cell(fl_buf_t *b, const json_t *findings) {
  size_t i, n = json_array_size(findings);
  json_t *f;
  if (n == 0) {
    fl_buf_puts(b, "\xE2\x80\x93"); /* – */
    return;
  }
  fl_buf_printf(b, "%s %zu: ", FINDINGS_ICON, n);
  json_array_foreach(findings, i, f) {
    if (i == 3) {
      fl_buf_printf(b, ", +%zu", n - 3);
      break;
    }
    fl_buf_printf(b, "%s%.0f ", i ? ", " : "", fl__jnum(f, "count", 1));
    md_esc(b, fl__jstr(f, "what", "found"), 60);
  }
}

/* The findings of a scenario, one line each. */
static void findings_list(fl_buf_t *b, const json_t *findings) {
  size_t i;
  json_t *f;
  json_array_foreach(findings, i, f) {
    if (i == MAX_FINDINGS_LISTED) {
      fl_buf_printf(b, "- and %zu more\n", json_array_size(findings) - i);
      break;
    }
    fl_buf_printf(b, "- %s **", FINDINGS_ICON);
    md_esc(b, fl__jstr(f, "check", "check"), 200);
    fl_buf_printf(b, "** (finding): %.0f ", fl__jnum(f, "count", 1));
    md_esc(b, fl__jstr(f, "what", "found"), 200);
    size_t nops = json_array_size(fl__jarr(f, "ops"));
    if (nops > 0)
      fl_buf_printf(b, "; %zu operation%s listed in report.html", nops,
                    nops == 1 ? "" : "s");
    fl_buf_puts(b, "\n");
  }
}

static int is_recovery(const json_t *c) {
  return strcmp(fl__jstr(c, "kind", ""), "recovery") == 0 || fl__jisnum(c, "recovery_s");
}

static void recoveries(fl_buf_t *b, const json_t *r) {
  size_t i, shown = 0, total = 0;
  json_t *c;
  char s0[32], s1[32];
  json_array_foreach(fl__jarr(r, "checks"), i, c) {
    if (!is_recovery(c))
      continue;
    total++;
    if (shown == MAX_RECOVERIES)
      continue;
    if (shown++ > 0)
      fl_buf_puts(b, ", ");
    int pass = strcmp(fl__jstr(c, "status", ""), "pass") == 0;
    if (fl__jisnum(c, "recovery_s"))
      fl_buf_puts(b, fl__fmt_secs(s0, sizeof(s0), fl__jnum(c, "recovery_s", 0)));
    else
      fl_buf_puts(b, "none");
    if (fl__jisnum(c, "limit_s"))
      fl_buf_printf(b, " %s %s", pass ? "\xE2\x89\xA4" : "&gt;", /* ≤ */
                    fl__fmt_secs(s1, sizeof(s1), fl__jnum(c, "limit_s", 0)));
    if (!pass)
      fl_buf_puts(b, " \xE2\x9D\x8C");
  }
  if (total > shown)
    fl_buf_printf(b, " +%zu", total - shown);
  if (total == 0)
    fl_buf_puts(b, "\xE2\x80\x93"); /* – */
}

static void row(fl_buf_t *b, const json_t *r, const char *out) {
  const char *v = verdict(r);
  size_t i, n = 0, pass = 0;
  json_t *c;
  json_array_foreach(fl__jarr(r, "checks"), i, c) {
    n++;
    pass += strcmp(fl__jstr(c, "status", ""), "pass") == 0;
  }
  char d[32];
  json_t *findings = fl_report_findings(r);
  if (strcmp(v, "pass") == 0 && json_array_size(findings) > 0)
    fl_buf_printf(b, "| %s pass with findings | ", FINDINGS_ICON);
  else
    fl_buf_printf(b, "| %s %s | ", icon(v), v);
  md_esc(b, fl__jstr(r, "scenario", "(unnamed)"), 200);
  fl_buf_puts(b, " | ");
  md_esc(b, fl__jstr(r, "file", ""), 200);
  json_t *seed = json_object_get(r, "seed");
  if (json_is_integer(seed))
    fl_buf_printf(b, " | %" JSON_INTEGER_FORMAT, json_integer_value(seed));
  else
    fl_buf_puts(b, " | ");
  fl_buf_printf(b, " | %s | ", fl__fmt_secs(d, sizeof(d), fl__jnum(r, "duration_s", 0)));
  recoveries(b, r);
  fl_buf_printf(b, " | %zu/%zu | ", pass, n);
  findings_cell(b, findings);
  fl_buf_puts(b, " | ");
  json_decref(findings);
  char *link = fl__report_link(r, out);
  if (link != NULL) {
    fl_buf_puts(b, "[report](");
    md_url(b, link);
    fl_buf_puts(b, ")");
  }
  fl_free(link);
  fl_buf_puts(b, " |\n");
}

/* The services of a run with their last state, peak RSS and CPU seconds,
 * when the report has resource figures. */
static void services_table(fl_buf_t *b, const json_t *r) {
  if (!fl__report_has_resources(r))
    return;
  fl_buf_puts(b, "\n| service | last state | peak RSS | CPU s |\n|---|---|---:|---:|\n");
  size_t i;
  json_t *svc;
  json_array_foreach(fl__jarr(r, "services"), i, svc) {
    if (i >= MAX_SERVICES_LISTED) {
      fl_buf_printf(b, "| and %zu more | | | |\n",
                    json_array_size(fl__jarr(r, "services")) - i);
      break;
    }
    json_t *states = fl__jarr(svc, "states");
    json_t *last = json_array_get(states, json_array_size(states) - 1);
    char rss[32], cpu[32];
    fl__svc_resource_text(svc, rss, cpu, sizeof(rss));
    fl_buf_puts(b, "| ");
    md_esc(b, fl__jstr(svc, "name", "?"), 100);
    fl_buf_puts(b, " | ");
    md_esc(b, last != NULL ? fl__jstr(last, "state", "") : "", 40);
    if (last != NULL && fl__jstr(last, "detail", NULL) != NULL) {
      fl_buf_puts(b, ": ");
      md_esc(b, fl__jstr(last, "detail", ""), 200);
    }
    fl_buf_printf(b, " | %s | %s |\n", rss, cpu);
  }
}

static void details(fl_buf_t *b, const json_t *r, int with_findings) {
  const char *v = verdict(r);
  fl_buf_printf(b, "\n#### %s ",
                with_findings && strcmp(v, "pass") == 0 ? FINDINGS_ICON : icon(v));
  md_esc(b, fl__jstr(r, "scenario", "(unnamed)"), 200);
  fl_buf_puts(b, " \xE2\x80\x94 ");
  md_esc(b, fl__jstr(r, "file", ""), 200);
  fl_buf_puts(b, "\n\n");
  if (strcmp(v, "error") == 0) {
    fl_buf_puts(b, "- **error**: ");
    md_esc(b, fl__jstr(r, "error", "the run ended in an error"), FL__MSG_MAX);
    fl_buf_puts(b, "\n");
  }
  json_t *findings = fl_report_findings(r);
  findings_list(b, findings);
  json_decref(findings);
  size_t i, listed = 0, nbad = 0;
  json_t *c;
  json_array_foreach(fl__jarr(r, "checks"), i, c) {
    const char *st = fl__jstr(c, "status", "unknown");
    if (strcmp(st, "pass") == 0)
      continue;
    if (nbad++ >= MAX_FAILED_LISTED)
      continue;
    listed++;
    fl_buf_puts(b, "- ");
    fl_buf_puts(b, strcmp(st, "unknown") == 0 ? "\xE2\x9D\x94 " : "\xE2\x9D\x8C ");
    fl_buf_puts(b, "**");
    md_esc(b, fl__jstr(c, "name", "check"), 200);
    fl_buf_puts(b, "**");
    if (fl__jstr(c, "kind", NULL) != NULL) {
      fl_buf_puts(b, " (");
      md_esc(b, fl__jstr(c, "kind", ""), 40);
      fl_buf_puts(b, ")");
    }
    if (strcmp(st, "fail") != 0) {
      fl_buf_puts(b, " ");
      md_esc(b, st, 20);
    }
    if (fl__jstr(c, "message", NULL) != NULL) {
      fl_buf_puts(b, ": ");
      md_esc(b, fl__jstr(c, "message", ""), 600);
    }
    fl_buf_puts(b, "\n");
  }
  if (nbad > listed)
    fl_buf_printf(b, "- and %zu more\n", nbad - listed);
  services_table(b, r);
  /* A fence longer than any run of backticks in the command. */
  char *cmd = fl__rerun_command(r);
  size_t run = 0, longest = 0;
  for (const char *p = cmd; *p; p++) {
    run = *p == '`' ? run + 1 : 0;
    longest = run > longest ? run : longest;
  }
  char fence[16] = "```";
  if (longest >= 3)
    snprintf(fence, sizeof(fence), "%.*s", (int)(longest + 1 < 15 ? longest + 1 : 15),
             "```````````````");
  fl_buf_printf(b, "\nRe-run:\n\n%ssh\n", fence);
  /* Inside a fence nothing is markup, but it must stay one line per line. */
  for (const char *p = cmd; *p && p - cmd < 4000; p++) {
    if ((unsigned char)*p >= 0x20 || *p == '\t')
      fl_buf_add(b, p, 1);
  }
  fl_buf_printf(b, "\n%s\n", fence);
  fl_free(cmd);
}

/* When the report's run started, in seconds since the epoch (UTC). */
static int started_at(const json_t *r, double *out) {
  const char *s = fl__jstr(r, "started_at", NULL);
  struct tm tm = {0};
  if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                          &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  *out = (double)timegm(&tm);
  return 1;
}

int fl_report_write_markdown(json_t *const *reports, size_t n, const char *path,
                             fl_err_t *err) {
  size_t pass = 0, fail = 0, errors = 0, found = 0, nfound = 0;
  double total = 0, first = 0, last = 0;
  int spanned = 1; /* every report says when it started */
  for (size_t i = 0; i < n; i++) {
    if (!json_is_object(reports[i]))
      return fl_err_set(err, FL_EPARSE, "%s: report %zu is not a JSON object", path,
                        i + 1);
    const char *v = verdict(reports[i]);
    pass += strcmp(v, "pass") == 0;
    fail += strcmp(v, "fail") == 0;
    errors += strcmp(v, "error") == 0;
    double dur = fl__jnum(reports[i], "duration_s", 0), t0;
    total += dur;
    if (spanned && started_at(reports[i], &t0)) {
      first = i == 0 || t0 < first ? t0 : first;
      last = i == 0 || t0 + dur > last ? t0 + dur : last;
    } else {
      spanned = 0;
    }
    size_t nf = fl_report_findings_count(reports[i]);
    found += strcmp(v, "pass") == 0 && nf > 0;
    nfound += nf;
  }
  fl_buf_t b;
  fl_buf_init(&b, FL__TEXT_MAX);
  char d[32];
  fl_buf_printf(&b, "### %s faultline: ",
                n != pass   ? icon("fail")
                : found > 0 ? FINDINGS_ICON
                            : icon("pass"));
  if (n == 0)
    fl_buf_puts(&b, "no scenarios ran\n");
  else if (n == pass && found > 0)
    /* "All passed" is for runs that found nothing. */
    fl_buf_printf(&b,
                  "%zu scenario%s passed, %zu of them with findings (%zu finding%s)\n", n,
                  n == 1 ? "" : "s", found, nfound, nfound == 1 ? "" : "s");
  else if (n == pass)
    fl_buf_printf(&b, "all %zu scenario%s passed\n", n, n == 1 ? "" : "s");
  else
    fl_buf_printf(&b, "%zu of %zu scenario%s did not pass\n", fail + errors, n,
                  n == 1 ? "" : "s");
  fl_buf_printf(&b, "\n%zu passed \xC2\xB7 %zu failed \xC2\xB7 %zu error%s \xC2\xB7 ",
                pass, fail, errors, errors == 1 ? "" : "s");
  if (found > 0)
    fl_buf_printf(&b, "%zu with findings \xC2\xB7 ", found);
  /* Scenarios of a suite run side by side (-j): the wall time is the span
   * from the first start to the last end, not the sum (to the second:
   * started_at has no more). */
  if (spanned && n > 1 && last - first + 1 < total) {
    char w[32];
    fl_buf_printf(&b, "%s wall time (%s of scenario time)\n",
                  fl__fmt_secs(w, sizeof(w), last - first),
                  fl__fmt_secs(d, sizeof(d), total));
  } else {
    fl_buf_printf(&b, "%s\n", fl__fmt_secs(d, sizeof(d), total));
  }
  if (n > 0) {
    fl_buf_puts(&b,
                "\n| Verdict | Scenario | File | Seed | Duration | Recovery | Checks "
                "passed | Findings | Report |\n|---|---|---|--:|--:|---|--:|---|---|\n");
    for (size_t i = 0; i < n && i < MAX_ROWS; i++)
      row(&b, reports[i], path);
    if (n > MAX_ROWS)
      fl_buf_printf(&b, "\n%zu more scenarios are not listed.\n", n - MAX_ROWS);
  }
  size_t detailed = 0;
  for (size_t i = 0; i < n; i++) {
    size_t nf = fl_report_findings_count(reports[i]);
    if (strcmp(verdict(reports[i]), "pass") == 0 && nf == 0)
      continue;
    if (detailed++ == MAX_DETAILED) {
      fl_buf_printf(&b, "\nMore scenarios did not pass; see %s.\n",
                    fl_report_file("junit"));
      break;
    }
    details(&b, reports[i], nf > 0);
  }
  /* One run that passed has no details: its services still get a table. */
  if (n == 1 && detailed == 0 && fl__report_has_resources(reports[0])) {
    fl_buf_puts(&b, "\n#### Services\n");
    services_table(&b, reports[0]);
  }
  int rc = fl_buf_write_file(&b, path, err);
  fl_buf_free(&b);
  return rc;
}

/* The row of markdown (formats.c). */
fl_report_writer_fn fl_report_format_markdown;
int fl_report_format_markdown(json_t *const *reports, size_t n, const char *run_dir,
                              const char *path, fl_err_t *err) {
  return fl_report_write_markdown(reports, n, path, err);
}
