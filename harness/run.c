/* The run directory's files for one scenario: report.json, assembled from the
 * timeline, the services, the checks and the op counts, then its renderings
 * (the per-run formats of reports/formats.c: report.html, summary.md), which
 * are pure functions of report.json. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "check/check.h"
#include "harness/schedule.h"
#include "harness/engine_int.h"
#include "harness/progress.h"
#include "reports/report.h"

/* A word safe to paste into a POSIX shell (fl_buf_shell_quote). Returns
 * new. */
static char *shell_quote(const char *s) {
  fl_buf_t b;
  fl_buf_init(&b, 4 * strlen(s) + 3);
  fl_buf_shell_quote(&b, s);
  char *out = fl_strdup(fl_buf_str(&b));
  fl_buf_free(&b);
  return out;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double percentile(const double *v, size_t n, double p) {
  if (n == 0)
    return 0;
  size_t i = (size_t)ceil(p * (double)n) - (p > 0);
  if (i >= n)
    i = n - 1;
  return v[i];
}

static json_t *round3(double v) {
  return json_real(round(v * 1000.0) / 1000.0);
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Names the faults active over [from, to): "no fault", or "kill n1 + latency
 * n1 n2". Returns new. */
static char *phase_name(json_t *faults, double from, double to) {
  char buf[512] = "";
  size_t i;
  json_t *f;
  json_array_foreach(faults, i, f) {
    double s = json_number_value(json_object_get(f, "start_s"));
    json_t *e = json_object_get(f, "end_s");
    double end = json_is_number(e) ? json_number_value(e) : 1e18;
    if (s >= to || end <= from)
      continue;
    size_t len = strlen(buf);
    snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? " + " : "",
             json_string_value(json_object_get(f, "kind")));
    size_t j;
    json_t *t;
    json_array_foreach(json_object_get(f, "targets"), j, t) {
      len = strlen(buf);
      if (json_is_string(t))
        snprintf(buf + len, sizeof(buf) - len, " %s", json_string_value(t));
    }
  }
  return fl_strdup(buf[0] ? buf : "no fault");
}

/* Availability and latency per phase: the run cut at every fault's start
 * and end, each piece named by the faults active in it. Reads the history
 * once the scenario is over. */
static json_t *phases_json(fl_scenario_t *sc) {
  json_t *faults = fl_timeline_faults(sc->tl);
  size_t nf = json_array_size(faults);
  char *path = fl_asprintf("%s/history.jsonl", sc->dir);
  fl_ops_t *ops = NULL;
  fl_err_t err = {0};
  int rc = fl_history_read(&ops, path, &err);
  fl_free(path);
  if (rc < 0 || ops->len == 0) {
    fl_ops_free(ops);
    return NULL;
  }
  uint64_t *cuts = fl_calloc(2 * nf + 2, sizeof(uint64_t));
  size_t nc = 0;
  cuts[nc++] = 0;
  size_t i;
  json_t *f;
  json_array_foreach(faults, i, f) {
    cuts[nc++] = (uint64_t)(json_number_value(json_object_get(f, "start_s")) * 1e9);
    json_t *e = json_object_get(f, "end_s");
    if (json_is_number(e))
      cuts[nc++] = (uint64_t)(json_number_value(e) * 1e9);
  }
  qsort(cuts, nc, sizeof(uint64_t), cmp_u64);
  fl_phase_t *phases = fl_calloc(nc + 1, sizeof(fl_phase_t));
  size_t np = 0;
  for (size_t k = 0; k < nc; k++) {
    if (k + 1 < nc && cuts[k + 1] == cuts[k])
      continue;
    uint64_t end = k + 1 < nc ? cuts[k + 1] : fl_timeline_now(sc->tl);
    phases[np].start_ns = cuts[k];
    phases[np].end_ns = end;
    phases[np].name =
        phase_name(faults, (double)cuts[k] / 1e9, k + 1 < nc ? (double)end / 1e9 : 1e18);
    np++;
  }
  json_t *out = NULL;
  if (fl_check_phases(ops, phases, np, &out, &err) < 0)
    FL_LOG(FL_LOG_WARN, "report", "phases: %s", err.msg);
  for (size_t k = 0; k < np; k++)
    fl_free((char *)phases[k].name);
  fl_free(phases);
  fl_free(cuts);
  fl_ops_free(ops);
  json_t *list = out ? json_incref(json_object_get(out, "phases")) : NULL;
  json_decref(out);
  return list;
}

static json_t *stats_json(fl_scenario_t *sc) {
  json_t *stats = json_pack("{s:O}", "ops", sc->stats_ops);
  if (sc->nlat > 0) {
    qsort(sc->latencies, sc->nlat, sizeof(double), cmp_double);
    json_object_set_new(stats, "latency_ms",
                        json_pack("{s:o, s:o, s:o}", "p50",
                                  round3(percentile(sc->latencies, sc->nlat, 0.5)), "p99",
                                  round3(percentile(sc->latencies, sc->nlat, 0.99)),
                                  "max", round3(sc->latencies[sc->nlat - 1])));
  }
  json_t *phases = phases_json(sc);
  if (phases != NULL)
    json_object_set_new(stats, "phases", phases);
  return stats;
}

/* Each service's entry, with its state changes taken from the timeline. */
static json_t *services_json(fl_scenario_t *sc) {
  json_t *out = json_array();
  json_t *events = fl_timeline_events(sc->tl);
  for (describer_t *d = sc->services; d != NULL; d = d->next) {
    json_t *svc = d->fn(d->data);
    const char *name = json_string_value(json_object_get(svc, "name"));
    json_t *states = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
      if (strcmp(json_string_value(json_object_get(ev, "type")), "service") != 0)
        continue;
      if (strcmp(json_string_value(json_object_get(ev, "service")), name) != 0)
        continue;
      json_t *st = json_pack("{s:O, s:O}", "t", json_object_get(ev, "t"), "state",
                             json_object_get(ev, "state"));
      if (json_object_get(ev, "pid"))
        json_object_set(st, "pid", json_object_get(ev, "pid"));
      if (json_object_get(ev, "detail"))
        json_object_set(st, "detail", json_object_get(ev, "detail"));
      json_array_append_new(states, st);
    }
    json_object_set_new(svc, "states", states);
    json_array_append_new(out, svc);
  }
  return out;
}

static int write_json_atomic(const json_t *j, const char *path, fl_err_t *err) {
  fl_err_t e = {0};
  int rc = fl_report_write_json(j, path, &e);
  if (rc != 0) {
    FL_LOG(FL_LOG_ERROR, "report", "cannot write %s", e.msg);
    fl_err_set(err, rc, "cannot write %s", e.msg);
  }
  return rc;
}

/* report.json, then its renderings; the first failure is in err (every one
 * is printed). Returns 0 or the first failure's code. */
static int write_outputs(const json_t *r, const char *dir, fl_err_t *err) {
  char *path = fl_asprintf("%s/%s", dir, fl_report_file("json"));
  int rc = write_json_atomic(r, path, err);
  fl_free(path);
  fl_err_t e = {0};
  int rc2 = fl_report_render_run(r, dir, &e);
  if (rc2 < 0) {
    FL_LOG(FL_LOG_ERROR, "report", "cannot write %s", e.msg);
    if (rc == 0)
      fl_err_set(err, rc2, "cannot write %s", e.msg);
  }
  return rc < 0 ? rc : rc2;
}

void fl_run_write_placeholder(fl_scenario_t *sc, const char *file) {
  /* Replaced when the scenario ends. If faultline is killed first, this is
   * what the run directory says, beside timeline.jsonl and history.jsonl. */
  json_t *r = json_pack(
      "{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:f, s:s, s:s, s:[], s:[], s:[], s:[]}",
      "faultline", FL_VERSION, "scenario", sc->name, "file", file, "seed",
      (json_int_t)sc->seed, "status", "error", "error",
      "the run did not finish: faultline was killed or crashed; "
      "timeline.jsonl holds what it recorded",
      "started_at", sc->started_at, "duration_s", 0.0, "run_dir", sc->dir, "run_id",
      sc->run_id, "services", "faults", "checks", "events");
  char *path = fl_asprintf("%s/%s", sc->dir, fl_report_file("json"));
  write_json_atomic(r, path, NULL);
  fl_free(path);
  json_decref(r);
}

int fl_run_write_report(fl_scenario_t *sc, const char *file, json_t **out) {
  const char *status = sc->error ? "error" : sc->failed ? "fail" : "pass";
  int code = sc->error ? 2 : sc->failed ? 1 : sc->unknown ? 3 : 0;
  double duration = fl_timeline_seconds(sc->tl);
  fl_timeline_event(
      sc->tl, "scenario",
      json_pack("{s:s, s:s, s:s}", "name", sc->name, "phase", "end", "status", status));

  char *qfile = shell_quote(file);
  char *qname = shell_quote(sc->name);
  /* A replayed run is run again with the same schedule, not a new draw. */
  const char *replay = fl_scenario_replay(sc);
  char *qreplay = replay != NULL ? shell_quote(replay) : NULL;
  char *command = fl_asprintf("faultline run %s --seed %llu --only %s%s%s", qfile,
                              (unsigned long long)sc->seed, qname,
                              qreplay ? " --replay " : "", qreplay ? qreplay : "");
  fl_free(qfile);
  fl_free(qname);
  fl_free(qreplay);

  json_t *r = json_object();
  json_object_set_new(r, "faultline", json_string(FL_VERSION));
  json_object_set_new(r, "scenario", json_string(sc->name));
  json_object_set_new(r, "file", json_string(file));
  json_object_set_new(r, "seed", json_integer((json_int_t)sc->seed));
  json_object_set_new(r, "status", json_string(status));
  if (sc->error)
    json_object_set_new(r, "error", json_string(sc->error));
  json_object_set_new(r, "command", json_string(command));
  json_object_set_new(r, "started_at", json_string(sc->started_at));
  json_object_set_new(r, "duration_s", round3(duration));
  json_object_set_new(r, "run_dir", json_string(sc->dir));
  json_object_set_new(r, "run_id", json_string(sc->run_id));
  json_object_set_new(r, "html", json_string(fl_report_file("html")));
  json_object_set_new(r, "services", services_json(sc));
  json_object_set(r, "faults", fl_timeline_faults(sc->tl));
  fl_schedule_add_to_report(r, sc->dir, duration); /* "schedule", when fl.nemesis ran */
  if (fl_scenario_replay(sc) != NULL && json_object_get(r, "schedule") == NULL)
    FL_LOG(FL_LOG_WARN, "run",
           "--replay: scenario '%s' made no fl.nemesis; nothing was replayed", sc->name);
  json_object_set(r, "checks", sc->checks);
  json_object_set(r, "events", fl_timeline_events(sc->tl));
  json_object_set_new(r, "stats", stats_json(sc));
  json_object_set_new(r, "findings", fl_report_findings(r));
  if (sc->hosts_report != NULL)
    json_object_set(r, "hosts", sc->hosts_report);
  if (sc->metrics != NULL)
    json_object_set(r, "metrics", sc->metrics);
  fl_free(command);

  fl_err_t err = {0};
  if (fl_report_validate(r, &err) < 0)
    FL_LOG(FL_LOG_WARN, "report", "report.json does not match its schema: %s", err.msg);
  fl_err_clear(&err);
  if (write_outputs(r, sc->dir, &err) < 0) {
    /* A report that could not be written (a full disk) is no verdict: the
     * run is an error, and report.json says so if there is room for it. */
    code = 2;
    if (sc->error == NULL) {
      sc->error = fl_asprintf("%s", err.msg);
      status = "error";
      json_object_set_new(r, "status", json_string(status));
      json_object_set_new(r, "error", json_string(sc->error));
      write_outputs(r, sc->dir, NULL);
    }
  }

  /* The terminal says UNKNOWN where a checker gave up and nothing failed
   * (exit 3); report.json keeps its three statuses. */
  fl_progress_end(sc->name, code == 3 ? "unknown" : status, duration, sc->dir, sc->error,
                  json_object_get(r, "findings"), sc->eng->opts->quiet);
  *out = r;
  return code;
}

int fl_run_write_junit(json_t *reports, const char *path) {
  size_t n = json_array_size(reports);
  json_t **v = fl_calloc(n + 1, sizeof(json_t *));
  for (size_t i = 0; i < n; i++)
    v[i] = json_array_get(reports, i);
  fl_err_t err = {0};
  int rc = fl_report_render("junit", v, n, NULL, path, &err);
  if (rc < 0)
    FL_LOG(FL_LOG_ERROR, "report", "cannot write %s", err.msg);
  fl_free(v);
  return rc;
}
