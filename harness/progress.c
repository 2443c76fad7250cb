#include "harness/progress.h"
#include "reports/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int use_color(void) {
  static int cached = -1;
  if (cached < 0)
    cached = isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
  return cached;
}

static int status_shown;

int fl_progress_live(int quiet) {
  return !quiet && use_color() && getenv("TERM") != NULL &&
         strcmp(getenv("TERM"), "dumb");
}

void fl_progress_status_clear(void) {
  if (status_shown) {
    fputs("\r\033[K", stdout);
    /* Now, before a log line on stderr lands after the half-drawn line. */
    fflush(stdout);
    status_shown = 0;
  }
}

void fl_progress_status(const char *line) {
  printf("\r\033[K\033[2m%s\033[0m", line);
  fflush(stdout);
  status_shown = 1;
}

static const char *color(const char *c) {
  return use_color() ? c : "";
}

#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define DIM "\033[2m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

void fl_progress_begin(const char *scenario, const char *dir, uint64_t seed, int quiet) {
  if (quiet)
    return;
  printf("%s== %s%s  (seed %llu, %s)\n", color(BOLD), scenario, color(RESET),
         (unsigned long long)seed, dir);
  fflush(stdout);
}

static const char *str(const json_t *ev, const char *k) {
  const char *s = json_string_value(json_object_get(ev, k));
  return s ? s : "";
}

static void targets(const json_t *ev, char *buf, size_t n) {
  buf[0] = '\0';
  size_t i;
  json_t *t;
  json_array_foreach(json_object_get(ev, "targets"), i, t) {
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "%s%s", i ? ", " : "",
             json_is_string(t) ? json_string_value(t) : "?");
  }
}

static void on_event(const json_t *ev, void *arg) {
  const char *type = str(ev, "type");
  double t = json_real_value(json_object_get(ev, "t"));
  char line[1024];
  line[0] = '\0';
  const char *c = "";
  if (strcmp(type, "service") == 0) {
    const char *state = str(ev, "state");
    json_int_t pid = json_integer_value(json_object_get(ev, "pid"));
    const char *detail = str(ev, "detail");
    if (strcmp(state, "crashed") == 0)
      c = RED;
    if (pid > 0 && strcmp(state, "starting") == 0)
      snprintf(line, sizeof(line), "service %s starting (pid %lld)", str(ev, "service"),
               (long long)pid);
    else if (detail[0] && strncmp(detail, state, strlen(state)) == 0 &&
             detail[strlen(state)] == ' ')
      /* "service n1 killed by signal 9 (Killed)", not "killed: killed by". */
      snprintf(line, sizeof(line), "service %s %s", str(ev, "service"), detail);
    else if (detail[0])
      snprintf(line, sizeof(line), "service %s %s: %s", str(ev, "service"), state,
               detail);
    else
      snprintf(line, sizeof(line), "service %s %s", str(ev, "service"), state);
  } else if (strcmp(type, "fault") == 0) {
    char tg[512];
    targets(ev, tg, sizeof(tg));
    json_t *groups = json_object_get(json_object_get(ev, "attrs"), "groups");
    if (json_is_array(groups)) {
      /* A partition reads best as its sides: "n2 | n1, n3". */
      tg[0] = '\0';
      size_t gi;
      json_t *g;
      json_array_foreach(groups, gi, g) {
        size_t len = strlen(tg);
        snprintf(tg + len, sizeof(tg) - len, "%s", gi ? " | " : "");
        json_t *wrap = json_pack("{s:O}", "targets", g);
        len = strlen(tg);
        targets(wrap, tg + len, sizeof(tg) - len);
        json_decref(wrap);
      }
    }
    int start = strcmp(str(ev, "phase"), "start") == 0;
    c = start ? YELLOW : "";
    /* Two toxics on one proxy: their names tell them apart. */
    json_t *attrs = json_object_get(ev, "attrs");
    const char *toxic = json_string_value(json_object_get(attrs, "toxic"));
    char part[48] = "";
    if (json_is_integer(json_object_get(attrs, "part_of")))
      snprintf(part, sizeof(part), " (part of fault %" JSON_INTEGER_FORMAT ")",
               json_integer_value(json_object_get(attrs, "part_of")));
    snprintf(line, sizeof(line), "fault %s %s [%s]%s%s%s%s", str(ev, "kind"),
             start ? "injected" : "healed", tg, toxic ? " (" : "", toxic ? toxic : "",
             toxic ? ")" : "", part);
  } else if (strcmp(type, "check") == 0) {
    const char *status = str(ev, "status");
    c = strcmp(status, "pass") == 0      ? GREEN
        : strcmp(status, "unknown") == 0 ? YELLOW
                                         : RED;
    snprintf(line, sizeof(line), "check %s: %s%s%s", str(ev, "name"),
             strcmp(status, "pass") == 0 ? "passed" : status,
             json_object_get(ev, "message") ? ": " : "", str(ev, "message"));
  } else if (strcmp(type, "step") == 0 || strcmp(type, "log") == 0) {
    snprintf(line, sizeof(line), "%s", str(ev, "message"));
  } else if (strcmp(type, "error") == 0 || strcmp(type, "failure") == 0) {
    c = RED;
    snprintf(line, sizeof(line), "%s: %s", type, str(ev, "message"));
  } else {
    return;
  }
  fl_progress_status_clear();
  printf("  %s[%8.3fs]%s %s%s%s\n", color(DIM), t, color(RESET), color(c), line,
         color(c[0] ? RESET : ""));
  fflush(stdout);
}

void fl_progress_attach(fl_timeline_t *tl, const char *scenario, int quiet) {
  if (!quiet)
    fl_timeline_set_listener(tl, on_event, NULL);
}

void fl_progress_end(const char *scenario, const char *status, double duration_s,
                     const char *run_dir, const char *error, const json_t *findings,
                     int quiet) {
  fl_progress_status_clear();
  size_t nf = json_array_size(findings);
  int pass = strcmp(status, "pass") == 0;
  if (quiet && pass && nf == 0)
    return;
  const char *c = pass ? (nf > 0 ? YELLOW : GREEN) : RED;
  char with[64] = "";
  if (pass && nf > 0)
    snprintf(with, sizeof(with), " with %zu finding%s", nf, nf == 1 ? "" : "s");
  printf("%s%s%s%s%s %s (%.1f s)\n", color(c),
         pass                             ? "PASS"
         : strcmp(status, "fail") == 0    ? "FAIL"
         : strcmp(status, "unknown") == 0 ? "UNKNOWN"
                                          : "ERROR",
         with, color(RESET), with[0] ? ":" : "", scenario, duration_s);
  size_t i;
  json_t *f;
  json_array_foreach(findings, i, f) {
    json_t *count = json_object_get(f, "count");
    printf("  finding: %s: %s (%" JSON_INTEGER_FORMAT ")\n", str(f, "check"),
           str(f, "what"), json_integer_value(count));
  }
  if (error != NULL)
    printf("  %s\n", error);
  if (run_dir != NULL)
    printf("  report: %s/%s (data: %s/%s)\n", run_dir, fl_report_file("html"), run_dir,
           fl_report_file("json"));
  fflush(stdout);
}
