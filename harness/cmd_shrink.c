/* `faultline shrink RUN_DIR`: from a failed run whose faults fl.nemesis drew,
 * the smallest schedule that still fails the same check. Delta debugging
 * (ddmin) over the set of faults, then each kept fault held for less time,
 * then a shorter nemesis window. Every candidate is a schedule file that
 * `faultline run FILE --replay CANDIDATE` applies, in a child process spawned
 * on the loop, with its own run directory under the shrink's output folder;
 * a candidate fails when any of --repeat K runs fails one of the checks the
 * original run failed (the first run with the original seed, the others
 * with seeds derived from it, since failures under faults are often a matter
 * of timing). */
#include "harness/cmd_shrink.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/parse.h"
#include "base/prng.h"
#include "harness/cli.h"

static const char USAGE[] =
    "usage: faultline shrink RUN_DIR [--budget N] [--time T] [--repeat K] [--out DIR]\n"
    "\n"
    "  RUN_DIR       a failed run whose faults fl.nemesis drew (report.json has a\n"
    "                schedule)\n"
    "  --budget N    at most N scenario runs (default 40)\n"
    "  --time T      stop starting runs after T seconds (default: no limit)\n"
    "  --repeat K    run each candidate up to K times; it fails if any run fails\n"
    "                the same check (default 1)\n"
    "  --out DIR     where candidates and their runs go (default RUN_DIR/shrink)\n"
    "\n"
    "writes DIR/schedule.json (replay it with `faultline run FILE --replay\n"
    "DIR/schedule.json`) and keeps its failing run in DIR/best/.\n"
    "exit codes: 0 a failing schedule was written, 1 the failure did not\n"
    "reproduce, 2 usage or environment error\n";

enum { OPT_BUDGET = 256, OPT_TIME, OPT_REPEAT, OPT_OUT };

static const struct option LONGOPTS[] = {
    {"budget", required_argument, NULL, OPT_BUDGET},
    {"time", required_argument, NULL, OPT_TIME},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"out", required_argument, NULL, OPT_OUT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct {
  const char *run_dir, *out;
  uint64_t budget, repeat;
  double time_s;
  int help;
  /* From the failed run. */
  const char *file, *scenario;
  uint64_t seed;
  json_t *report, *failed; /* failed: the names of the checks it failed */
  double window_s, started_s;
  /* The search. */
  uv_loop_t loop;
  uint64_t runs;
  uint64_t t0;
  char *best_dir; /* the run directory of the best failing candidate */
  int broken;     /* a child could not be started */
} shrink_t;

static int parse_args(shrink_t *s, int argc, char **argv, fl_err_t *err) {
  s->budget = 40;
  s->repeat = 1;
  fl_cli_t c;
  fl_cli_init(&c, argc, argv, "h", LONGOPTS, 0);
  int ch;
  while ((ch = fl_cli_next(&c, err)) != FL_CLI_END) {
    switch (ch) {
    case FL_CLI_ARG:
      if (s->run_dir != NULL)
        return fl_err_set(err, FL_EUSAGE, "one run directory at a time");
      s->run_dir = c.arg;
      break;
    case OPT_BUDGET:
    case OPT_REPEAT: {
      uint64_t v;
      if (fl_parse_u64(c.arg, &v) < 0 || v == 0)
        return fl_err_set(err, FL_EUSAGE, "--%s wants a whole number above 0, not \"%s\"",
                          ch == OPT_BUDGET ? "budget" : "repeat", c.arg);
      *(ch == OPT_BUDGET ? &s->budget : &s->repeat) = v;
      break;
    }
    case OPT_TIME:
      if (fl_parse_seconds(c.arg, &s->time_s) < 0)
        return fl_err_set(err, FL_EUSAGE, "--time wants seconds, not \"%s\"", c.arg);
      break;
    case OPT_OUT:
      s->out = c.arg;
      break;
    case 'h':
      s->help = 1;
      return 0;
    default:
      return ch;
    }
  }
  if (s->run_dir == NULL)
    return fl_err_set(err, FL_EUSAGE, "which run directory?");
  return 0;
}

/* Reads the failed run: its report (status fail, a schedule) and the
 * nemesis's window from schedule.json. */
static int load_run(shrink_t *s, fl_err_t *err) {
  char *path = fl_asprintf("%s/report.json", s->run_dir);
  json_error_t je;
  s->report = json_load_file(path, 0, &je);
  fl_free(path);
  if (s->report == NULL)
    return fl_err_set(err, FL_EUSAGE, "%s/report.json: %s", s->run_dir, je.text);
  const char *status = json_string_value(json_object_get(s->report, "status"));
  if (status == NULL || strcmp(status, "fail") != 0)
    return fl_err_set(err, FL_EUSAGE,
                      "%s: the run did not fail (status %s): nothing to shrink",
                      s->run_dir, status ? status : "missing");
  if (!json_is_array(json_object_get(s->report, "schedule")))
    return fl_err_set(err, FL_EUSAGE,
                      "%s: report.json has no schedule (the run had no fl.nemesis)",
                      s->run_dir);
  s->file = json_string_value(json_object_get(s->report, "file"));
  s->scenario = json_string_value(json_object_get(s->report, "scenario"));
  s->seed = (uint64_t)json_integer_value(json_object_get(s->report, "seed"));
  s->failed = json_array();
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(s->report, "checks"), i, c) {
    if (strcmp(json_string_value(json_object_get(c, "status")) ?: "", "fail") == 0)
      json_array_append(s->failed, json_object_get(c, "name"));
  }
  path = fl_asprintf("%s/schedule.json", s->run_dir);
  json_t *sj = json_load_file(path, 0, NULL);
  fl_free(path);
  s->window_s = json_number_value(json_object_get(sj, "window_s"));
  s->started_s = json_number_value(json_object_get(sj, "started_s"));
  json_decref(sj);
  return 0;
}

typedef struct {
  uv_process_t proc;
  int64_t status;
  int done;
} child_t;

static void child_exited(uv_process_t *p, int64_t status, int sig) {
  child_t *c = (child_t *)p;
  c->status = sig ? 2 : status;
  c->done = 1;
  uv_close((uv_handle_t *)p, NULL);
}

/* Runs `faultline run FILE --replay cand --seed seed --out dir -q` as a
 * child on the loop, its output in dir.log. Returns its exit code, or -1
 * when it could not start. */
static int run_child(shrink_t *s, const char *cand, uint64_t seed, const char *dir) {
  char exe[4096];
  size_t n = sizeof(exe);
  if (uv_exepath(exe, &n) < 0)
    return -1;
  /* Rebuilt while shrinking: the path names the faultline to run. */
  char *del = strstr(exe, " (deleted)");
  if (del != NULL && del[10] == '\0')
    *del = '\0';
  char seedbuf[32];
  snprintf(seedbuf, sizeof(seedbuf), "%llu", (unsigned long long)seed);
  char *args[] = {
      exe,     "run",   (char *)s->file, "--replay", (char *)cand,        "--seed",
      seedbuf, "--out", (char *)dir,     "--only",   (char *)s->scenario, "-q",
      NULL};
  char *log = fl_asprintf("%s.log", dir);
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  fl_free(log);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
  stdio[1].data.fd = stdio[2].data.fd = fd;
  uv_process_options_t o = {0};
  o.file = exe;
  o.args = args;
  o.exit_cb = child_exited;
  o.stdio = stdio;
  o.stdio_count = fd >= 0 ? 3 : 1;
  child_t c = {0};
  int rc = uv_spawn(&s->loop, &c.proc, &o);
  if (fd >= 0)
    close(fd);
  if (rc < 0) {
    fprintf(stderr, "shrink: cannot start %s: %s\n", exe, uv_strerror(rc));
    uv_close((uv_handle_t *)&c.proc, NULL);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    return -1;
  }
  while (!c.done)
    uv_run(&s->loop, UV_RUN_ONCE);
  uv_run(&s->loop, UV_RUN_NOWAIT);
  return (int)c.status;
}

/* Whether the run in dir failed one of the checks the original failed. */
static int failed_same(shrink_t *s, const char *dir) {
  char *path = fl_asprintf("%s/report.json", dir);
  json_t *r = json_load_file(path, 0, NULL);
  fl_free(path);
  int same = 0;
  size_t i, k;
  json_t *c, *name;
  json_array_foreach(json_object_get(r, "checks"), i, c) {
    if (strcmp(json_string_value(json_object_get(c, "status")) ?: "", "fail") != 0)
      continue;
    json_array_foreach(s->failed, k, name) {
      if (json_equal(name, json_object_get(c, "name")))
        same = 1;
    }
  }
  json_decref(r);
  return same;
}

static int out_of_budget(shrink_t *s) {
  if (s->runs >= s->budget)
    return 1;
  return s->time_s > 0 && (double)(uv_hrtime() - s->t0) / 1e9 >= s->time_s;
}

static double total_hold(json_t *list) {
  double t = 0;
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) t += json_number_value(json_object_get(e, "duration_s"));
  return t;
}

/* Runs a candidate up to --repeat times; returns 1 when it failed the same
 * check (its run directory becomes the best), 0 when it passed every time
 * or the budget ran out first. */
static int try_candidate(shrink_t *s, json_t *list, double window, const char *what) {
  int failed = 0;
  for (uint64_t k = 0; k < s->repeat && !failed; k++) {
    if (out_of_budget(s))
      return 0;
    s->runs++;
    char *cand =
        fl_asprintf("%s/candidate-%llu.json", s->out, (unsigned long long)s->runs);
    char *dir = fl_asprintf("%s/run-%llu", s->out, (unsigned long long)s->runs);
    json_t *j = json_pack("{s:O}", "schedule", list);
    if (window > 0)
      json_object_set_new(j, "window_s", json_real(window));
    json_dump_file(j, cand, JSON_INDENT(1));
    json_decref(j);
    char name[64];
    snprintf(name, sizeof(name), "shrink-repeat-%llu", (unsigned long long)k);
    uint64_t seed = k == 0 ? s->seed : fl_seed_for(s->seed, name) % 1000000000ull;
    uint64_t t = uv_hrtime();
    int code = run_child(s, cand, seed, dir);
    if (code < 0) {
      s->broken = 1; /* no run can start: stop searching */
      s->budget = s->runs;
    }
    failed = code == 1 && failed_same(s, dir);
    printf("shrink: run %llu/%llu (%s): %zu fault(s), %.1f s held -> %s in %.1f s\n",
           (unsigned long long)s->runs, (unsigned long long)s->budget, what,
           json_array_size(list), total_hold(list),
           failed      ? "fails the same check"
           : code == 2 ? "error"
                       : "passes",
           (double)(uv_hrtime() - t) / 1e9);
    fflush(stdout);
    if (failed) {
      fl_free(s->best_dir);
      s->best_dir = dir;
    } else {
      fl_free(dir);
    }
    fl_free(cand);
  }
  return failed;
}

/* The list without elements [lo, hi), or only them (keep = 1). New. */
static json_t *slice(json_t *list, size_t lo, size_t hi, int keep) {
  json_t *out = json_array();
  for (size_t i = 0; i < json_array_size(list); i++) {
    if ((i >= lo && i < hi) == keep)
      json_array_append(out, json_array_get(list, i));
  }
  return out;
}

/* ddmin over the faults of *list (steals and replaces it). */
static void shrink_set(shrink_t *s, json_t **list, double window) {
  size_t n = 2;
  while (json_array_size(*list) >= 1 && !out_of_budget(s)) {
    size_t len = json_array_size(*list);
    if (n > len)
      n = len;
    int reduced = 0;
    for (size_t pass = 0; pass < 2 && !reduced; pass++) {
      for (size_t i = 0; i < n && !reduced; i++) {
        size_t lo = i * len / n, hi = (i + 1) * len / n;
        /* pass 0: one chunk alone; pass 1: everything but it. */
        if (pass == 1 && n == 2)
          break; /* the complements of two halves are the halves */
        json_t *cand = slice(*list, lo, hi, pass == 0);
        if (json_array_size(cand) > 0 && json_array_size(cand) < len &&
            try_candidate(s, cand, window, pass == 0 ? "a subset" : "a complement")) {
          json_decref(*list);
          *list = cand;
          n = pass == 0 ? 2 : (n > 2 ? n - 1 : 2);
          reduced = 1;
        } else {
          json_decref(cand);
        }
      }
    }
    if (!reduced) {
      if (n >= len)
        break;
      n = n * 2 < len ? n * 2 : len;
    }
  }
}

/* Each kept fault held half as long, while that still fails (3 halvings at
 * most, not under 0.2 s). */
static void shrink_durations(shrink_t *s, json_t *list, double window) {
  for (size_t i = 0; i < json_array_size(list); i++) {
    json_t *e = json_array_get(list, i);
    for (int h = 0; h < 3 && !out_of_budget(s); h++) {
      double d = json_number_value(json_object_get(e, "duration_s"));
      double half = round(d * 500) / 1000;
      if (half < 0.2)
        break;
      json_t *cand = json_deep_copy(list);
      json_object_set_new(json_array_get(cand, i), "duration_s", json_real(half));
      int ok = try_candidate(s, cand, window, "a shorter fault");
      json_decref(cand);
      if (!ok)
        break;
      json_object_set_new(e, "duration_s", json_real(half));
    }
  }
}

/* The nemesis window cut to the end of the last kept fault plus a tail,
 * halved while that still fails. Returns the shortest failing window. */
static double shrink_window(shrink_t *s, json_t *list, double window) {
  if (window <= 0)
    return window;
  double last = 0;
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    double end = json_number_value(json_object_get(e, "start_s")) +
                 json_number_value(json_object_get(e, "duration_s")) - s->started_s;
    if (end > last)
      last = end;
  }
  double tail = window - last;
  while (tail > 0.5 && !out_of_budget(s)) {
    double w = round((last + tail / 2) * 10) / 10;
    if (!try_candidate(s, list, w, "a shorter run"))
      break;
    window = w;
    tail = window - last;
  }
  return window;
}

/* "1 partition of 2.1 s + 1 kill of 1.0 s", or "no fault". New. */
static char *describe(json_t *list) {
  if (json_array_size(list) == 0)
    return fl_strdup("no fault");
  if (json_array_size(list) > 3) {
    json_t *count = json_object();
    size_t k;
    json_t *x;
    json_array_foreach(list, k, x) {
      const char *kind = json_string_value(json_object_get(x, "kind"));
      json_int_t c = json_integer_value(json_object_get(count, kind ? kind : "?"));
      json_object_set_new(count, kind ? kind : "?", json_integer(c + 1));
    }
    char *out = fl_asprintf("%zu faults (", json_array_size(list));
    const char *kind;
    int first = 1;
    json_object_foreach(count, kind, x) {
      char *next = fl_asprintf("%s%s%lld %s", out, first ? "" : ", ",
                               (long long)json_integer_value(x), kind);
      fl_free(out);
      out = next;
      first = 0;
    }
    char *done = fl_asprintf("%s)", out);
    fl_free(out);
    json_decref(count);
    return done;
  }
  char *out = fl_strdup("");
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    char *next = fl_asprintf("%s%s1 %s of %.1f s", out, i ? " + " : "",
                             json_string_value(json_object_get(e, "kind")),
                             json_number_value(json_object_get(e, "duration_s")));
    fl_free(out);
    out = next;
  }
  return out;
}

static double run_seconds(const char *dir) {
  char *path = fl_asprintf("%s/report.json", dir);
  json_t *r = json_load_file(path, 0, NULL);
  fl_free(path);
  double d = json_number_value(json_object_get(r, "duration_s"));
  json_decref(r);
  return d;
}

/* Writes OUT/schedule.json and OUT/best (a link to the failing run), and
 * prints the before/after line. */
static int finish(shrink_t *s, json_t *list, double window) {
  json_t *j = json_pack("{s:s, s:s, s:O}", "file", s->file, "scenario", s->scenario,
                        "schedule", list);
  if (window > 0)
    json_object_set_new(j, "window_s", json_real(window));
  char *path = fl_asprintf("%s/schedule.json", s->out);
  int rc = json_dump_file(j, path, JSON_INDENT(2));
  json_decref(j);
  char *best = fl_asprintf("%s/best", s->out);
  unlink(best);
  const char *rel = strrchr(s->best_dir, '/');
  if (symlink(rel ? rel + 1 : s->best_dir, best) < 0)
    rc = -1;
  json_t *orig = json_object_get(s->report, "schedule");
  char *after = describe(list);
  printf("shrink: %zu fault(s) in %.0f s -> %s in %.0f s, %llu runs in %.0f s\n",
         json_array_size(orig),
         json_number_value(json_object_get(s->report, "duration_s")), after,
         run_seconds(s->best_dir), (unsigned long long)s->runs,
         (double)(uv_hrtime() - s->t0) / 1e9);
  printf("shrink: the smallest failing schedule: %s (its run: %s)\n"
         "replay it: faultline run %s --replay %s\n",
         path, best, s->file, path);
  fl_free(after);
  fl_free(best);
  fl_free(path);
  return rc < 0 ? 2 : 0;
}

static int search(shrink_t *s) {
  json_t *list = json_deep_copy(json_object_get(s->report, "schedule"));
  double window = s->window_s;
  if (!try_candidate(s, list, window, "the whole schedule")) {
    printf(
        "shrink: the failure did not reproduce with the whole schedule in %llu run(s); "
        "try --repeat\n",
        (unsigned long long)s->runs);
    json_decref(list);
    return 1;
  }
  json_t *none = json_array();
  if (try_candidate(s, none, window, "no fault")) {
    json_decref(list);
    list = none;
  } else {
    json_decref(none);
    shrink_set(s, &list, window);
    shrink_durations(s, list, window);
  }
  window = shrink_window(s, list, window);
  if (s->broken) {
    json_decref(list);
    return 2;
  }
  int code = finish(s, list, window);
  json_decref(list);
  return code;
}

int fl_cmd_shrink(int argc, char **argv) {
  shrink_t s = {0};
  fl_err_t err = {0};
  if (parse_args(&s, argc, argv, &err) < 0)
    return fl_cli_usage_error("shrink", &err);
  if (s.help) {
    fputs(USAGE, stdout);
    return 0;
  }
  if (load_run(&s, &err) < 0) {
    json_decref(s.report);
    json_decref(s.failed);
    return fl_cli_usage_error("shrink", &err);
  }
  char *out = s.out ? fl_strdup(s.out) : fl_asprintf("%s/shrink", s.run_dir);
  s.out = out;
  if (fl_mkdir_p(out) < 0) {
    fprintf(stderr, "faultline shrink: cannot create %s\n", out);
    fl_free(out);
    return 2;
  }
  uv_loop_init(&s.loop);
  s.t0 = uv_hrtime();
  printf("shrink: %s (%s), seed %llu, %zu fault(s), failed: %s; budget %llu runs, "
         "repeat %llu\n",
         s.scenario, s.file, (unsigned long long)s.seed,
         json_array_size(json_object_get(s.report, "schedule")),
         json_string_value(json_array_get(s.failed, 0)) ?: "?",
         (unsigned long long)s.budget, (unsigned long long)s.repeat);
  fflush(stdout);
  int code = search(&s);
  uv_loop_close(&s.loop);
  fl_free(s.best_dir);
  fl_free(out);
  json_decref(s.report);
  json_decref(s.failed);
  return code;
}
