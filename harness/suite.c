#include "harness/suite.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "harness/reaper.h"
#include "reports/report.h"

typedef fl_suite_job_t job_t;

typedef struct {
  uv_loop_t loop;
  job_t *jobs;
  size_t njobs, next, running;
  int max_jobs;
  int fail_fast;
  int stop;
  const char *seed;
  const char *timeout;
  uv_signal_t sigint, sigterm;
  int interrupted;
} suite_t;

static double now_s(void) {
  return (double)uv_hrtime() / 1e9;
}

/* ---- running --------------------------------------------------------------- */

static void start_next(suite_t *s);

static void on_job_exit(uv_process_t *p, int64_t status, int sig) {
  job_t *j = p->data;
  suite_t *s = fl_container_of(p->loop, suite_t, loop);
  j->done = 1;
  j->code = sig ? 2 : (int)status;
  j->took = now_s() - j->t0;
  s->running--;
  uv_close((uv_handle_t *)p, NULL);
  const char *verdict = j->code == 0   ? "PASS"
                        : j->code == 1 ? "FAIL"
                        : j->code == 3 ? "UNKNOWN"
                                       : "ERROR";
  printf("%-7s %s :: %s (%.1f s)  %s/%s\n", verdict, j->file, j->name, j->took, j->dir,
         fl_report_file("html"));
  fflush(stdout);
  if (j->code != 0 && s->fail_fast && !s->stop) {
    s->stop = 1;
    printf("fail-fast: not starting the remaining scenarios\n");
  }
  start_next(s);
}

static void start_next(suite_t *s) {
  while (!s->stop && !s->interrupted && s->running < (size_t)s->max_jobs &&
         s->next < s->njobs) {
    job_t *j = &s->jobs[s->next++];
    char ppid[24];
    snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
    char *log = fl_asprintf("%s.out", j->dir);
    const char *args[20];
    int a = 0;
    /* Through the shim: a run dies with the suite, and its reaper then
     * stops its services. */
    args[a++] = fl_self_exe();
    args[a++] = "__exec";
    args[a++] = ppid;
    args[a++] = "--";
    /* The running binary itself, even if the file was replaced meanwhile. */
    args[a++] = "/proc/self/exe";
    args[a++] = "run";
    args[a++] = j->file;
    if (!j->whole_file) {
      args[a++] = "--only";
      args[a++] = j->name;
    }
    args[a++] = "--out";
    args[a++] = j->dir;
    if (s->seed) {
      args[a++] = "--seed";
      args[a++] = s->seed;
    }
    if (s->timeout) {
      args[a++] = "--timeout";
      args[a++] = s->timeout;
    }
    args[a] = NULL;
    /* Each run's terminal output goes to a file beside its run directory. */
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    fl_free(log);
    uv_stdio_container_t stdio[3];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
    stdio[1].data.fd = fd;
    stdio[2] = stdio[1];
    uv_process_options_t o = {0};
    o.file = "/proc/self/exe";
    o.args = (char **)args;
    o.exit_cb = on_job_exit;
    o.stdio = stdio;
    o.stdio_count = 3;
    j->proc.data = j;
    j->t0 = now_s();
    int rc = uv_spawn(&s->loop, &j->proc, &o);
    if (fd >= 0)
      close(fd);
    if (rc < 0) {
      FL_LOG(FL_LOG_ERROR, "suite", "cannot start a run of %s: %s", j->file,
             fl_strerror(rc));
      j->done = 1;
      j->code = 2;
      uv_close((uv_handle_t *)&j->proc, NULL);
      continue;
    }
    j->started = 1;
    s->running++;
  }
  if (s->running == 0) {
    uv_signal_stop(&s->sigint);
    uv_signal_stop(&s->sigterm);
  }
}

static void on_signal(uv_signal_t *h, int signum) {
  suite_t *s = h->data;
  s->interrupted = 1;
  FL_LOG(FL_LOG_WARN, "suite", "%s: stopping the running scenarios",
         signum == SIGINT ? "SIGINT" : "SIGTERM");
  for (size_t i = 0; i < s->njobs; i++)
    if (s->jobs[i].started && !s->jobs[i].done)
      uv_process_kill(&s->jobs[i].proc, SIGTERM);
}

int fl_suite_run(fl_suite_job_t *jobs, size_t njobs, const fl_suite_opts_t *o) {
  suite_t s = {0};
  s.jobs = jobs;
  s.njobs = njobs;
  s.max_jobs = o->max_jobs > 0 ? o->max_jobs : 1;
  s.fail_fast = o->fail_fast;
  s.seed = o->seed;
  s.timeout = o->timeout;
  int rc = fl_reaper_start();
  if (rc < 0)
    FL_LOG(FL_LOG_WARN, "suite", "cannot start the reaper: %s", fl_strerror(rc));
  uv_loop_init(&s.loop);
  uv_signal_init(&s.loop, &s.sigint);
  uv_signal_init(&s.loop, &s.sigterm);
  s.sigint.data = s.sigterm.data = &s;
  uv_signal_start(&s.sigint, on_signal, SIGINT);
  uv_signal_start(&s.sigterm, on_signal, SIGTERM);
  start_next(&s);
  uv_run(&s.loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&s.sigint, NULL);
  uv_close((uv_handle_t *)&s.sigterm, NULL);
  uv_run(&s.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&s.loop) != 0)
    FL_LOG(FL_LOG_WARN, "suite", "handles left open at exit");
  return s.interrupted;
}

void fl_suite_jobs_free(fl_suite_job_t *jobs, size_t njobs) {
  for (size_t i = 0; jobs != NULL && i < njobs; i++) {
    fl_free(jobs[i].file);
    fl_free(jobs[i].name);
    fl_free(jobs[i].dir);
    fl_free(jobs[i].slug);
  }
  fl_free(jobs);
}

/* ---- aggregated outputs ------------------------------------------------- */

json_t *fl_suite_load_report(const char *dir, const char *rel_html) {
  char *path = fl_asprintf("%s/%s", dir, fl_report_file("json"));
  json_t *r = json_load_file(path, 0, NULL);
  fl_free(path);
  if (r != NULL && rel_html != NULL)
    json_object_set_new(r, "html", json_string(rel_html));
  return r;
}

int fl_suite_write_outputs(json_t *reports, const char *out_dir, const char *junit) {
  size_t n = json_array_size(reports);
  json_t **v = fl_calloc(n + 1, sizeof(json_t *));
  for (size_t i = 0; i < n; i++)
    v[i] = json_array_get(reports, i);
  fl_err_t err = {0};
  int code = 0;
  if (fl_report_render_suite(v, n, out_dir, junit, &err) < 0) {
    FL_LOG(FL_LOG_ERROR, "suite", "%s", err.msg);
    code = 2;
  }
  char *md = fl_report_suite_path("markdown", out_dir, junit);
  char *jx = fl_report_suite_path("junit", out_dir, junit);
  printf("summary: %s\njunit:   %s\n", md, jx);
  fl_free(md);
  fl_free(jx);
  fl_free(v);
  return code;
}

void fl_suite_print_findings(const json_t *reports) {
  size_t i, n = 0;
  json_t *r;
  json_array_foreach(reports, i, r) {
    const char *st = json_string_value(json_object_get(r, "status"));
    n += st != NULL && strcmp(st, "pass") == 0 && fl_report_findings_count(r) > 0;
  }
  if (n == 0)
    return;
  printf("findings: %zu scenario%s passed with findings:", n, n == 1 ? "" : "s");
  size_t shown = 0;
  json_array_foreach(reports, i, r) {
    const char *st = json_string_value(json_object_get(r, "status"));
    if (st == NULL || strcmp(st, "pass") != 0)
      continue;
    json_t *f = fl_report_findings(r);
    if (json_array_size(f) > 0 && shown++ < 10) {
      json_t *first = json_array_get(f, 0);
      const char *name = json_string_value(json_object_get(r, "scenario"));
      const char *what = json_string_value(json_object_get(first, "what"));
      /* "3 duplicates", or the check's own words when they give the
       * count already ("3 order(s) reserved twice") */
      char count[32];
      snprintf(count, sizeof(count), "%" JSON_INTEGER_FORMAT " ",
               json_integer_value(json_object_get(first, "count")));
      int said = what != NULL && strncmp(what, count, strlen(count)) == 0;
      printf("%s %s (%s%s%s)", shown > 1 ? "," : "", name != NULL ? name : "?",
             said ? "" : count, what != NULL ? what : "found",
             json_array_size(f) > 1 ? ", ..." : "");
    }
    json_decref(f);
  }
  printf("%s\n", shown > 10 ? ", ..." : "");
}
