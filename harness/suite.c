#include "harness/suite.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "harness/reaper.h"
#include "reports/report.h"

typedef struct {
  char *file;
  char *name;
  char *dir;  /* its run directory */
  char *slug; /* dir relative to the suite's --out */
  uv_process_t proc;
  int started, done, code;
  double t0, took;
} job_t;

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

/* ---- finding scenario files ------------------------------------------------- */

static int has_suffix(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Lua files under path, sorted; folders named "lib" hold modules, not
 * scenarios, and are skipped. */
static void collect(const char *path, char ***files, size_t *n, size_t *cap) {
  struct stat st;
  if (stat(path, &st) != 0)
    return;
  if (S_ISREG(st.st_mode)) {
    if (*n == *cap) {
      *cap = *cap ? *cap * 2 : 16;
      *files = fl_realloc(*files, *cap * sizeof(char *));
    }
    (*files)[(*n)++] = fl_strdup(path);
    return;
  }
  char **names = S_ISDIR(st.st_mode) ? fl_list_dir(path, 1) : NULL;
  for (char **nm = names; nm != NULL && *nm != NULL; nm++) {
    if (strcmp(*nm, "lib") == 0)
      continue;
    char *full = fl_asprintf("%s/%s", path, *nm);
    struct stat s2;
    if (stat(full, &s2) == 0 && (S_ISDIR(s2.st_mode) || has_suffix(*nm, ".lua")))
      collect(full, files, n, cap);
    fl_free(full);
  }
  fl_strv_free(names);
}

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
  printf("%-7s %s :: %s (%.1f s)  %s/report.html\n", verdict, j->file, j->name, j->took,
         j->dir);
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
    args[a++] = "--only";
    args[a++] = j->name;
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
      fprintf(stderr, "faultline suite: cannot start a run: %s\n", uv_strerror(rc));
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
  fprintf(stderr, "\nfaultline suite: %s: stopping the running scenarios\n",
          signum == SIGINT ? "SIGINT" : "SIGTERM");
  for (size_t i = 0; i < s->njobs; i++)
    if (s->jobs[i].started && !s->jobs[i].done)
      uv_process_kill(&s->jobs[i].proc, SIGTERM);
}

/* ---- aggregated outputs ------------------------------------------------- */

static json_t *load_report(const char *dir, const char *rel_html) {
  char *path = fl_asprintf("%s/%s", dir, fl_report_file("json"));
  json_t *r = json_load_file(path, 0, NULL);
  fl_free(path);
  if (r != NULL && rel_html != NULL)
    json_object_set_new(r, "html", json_string(rel_html));
  return r;
}

static int write_outputs(json_t *reports, const char *out_dir, const char *junit) {
  size_t n = json_array_size(reports);
  json_t **v = fl_calloc(n + 1, sizeof(json_t *));
  for (size_t i = 0; i < n; i++)
    v[i] = json_array_get(reports, i);
  fl_err_t err = {0};
  int code = 0;
  if (fl_report_render_suite(v, n, out_dir, junit, &err) < 0) {
    fprintf(stderr, "faultline: %s\n", err.msg);
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

static int worst(int a, int b) {
  static const int rank[] = {0, 2, 3, 1};
  if (a < 0 || a > 3 || b < 0 || b > 3)
    return 2;
  return rank[a] >= rank[b] ? a : b;
}

static const char SUITE_USAGE[] =
    "usage: faultline suite PATH... [--jobs N] [--shard K/N] [--out DIR] [--junit FILE]\n"
    "                       [--fail-fast] [--seed N] [--timeout S] [--list]\n";

int fl_cmd_suite(int argc, char **argv) {
  suite_t s = {0};
  s.max_jobs = 1;
  const char *out = NULL, *junit = NULL;
  int shard_k = 1, shard_n = 1, list_only = 0;
  char **paths = fl_calloc((size_t)argc, sizeof(char *));
  int npaths = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--jobs") == 0 || strcmp(a, "-j") == 0) {
      s.max_jobs = v ? atoi(v) : 0;
      if (s.max_jobs < 1 || s.max_jobs > 256) {
        fprintf(stderr, "faultline suite: --jobs wants a number from 1 to 256\n");
        goto usage;
      }
      i++;
    } else if (strcmp(a, "--shard") == 0) {
      if (v == NULL || sscanf(v, "%d/%d", &shard_k, &shard_n) != 2 || shard_n < 1 ||
          shard_k < 1 || shard_k > shard_n) {
        fprintf(stderr,
                "faultline suite: --shard wants K/N with 1 <= K <= N, like 2/4\n");
        goto usage;
      }
      i++;
    } else if (strcmp(a, "--out") == 0 && v) {
      out = v;
      i++;
    } else if (strcmp(a, "--junit") == 0 && v) {
      junit = v;
      i++;
    } else if (strcmp(a, "--seed") == 0 && v) {
      s.seed = v;
      i++;
    } else if (strcmp(a, "--timeout") == 0 && v) {
      s.timeout = v;
      i++;
    } else if (strcmp(a, "--fail-fast") == 0) {
      s.fail_fast = 1;
    } else if (strcmp(a, "--list") == 0) {
      list_only = 1;
    } else if (a[0] == '-') {
      fprintf(stderr, "faultline suite: unknown option %s\n%s", a, SUITE_USAGE);
      goto usage;
    } else {
      paths[npaths++] = (char *)a;
    }
  }
  if (npaths == 0) {
    fprintf(stderr, "faultline suite: which files or folders?\n%s", SUITE_USAGE);
    goto usage;
  }

  char **files = NULL;
  size_t nfiles = 0, cap = 0;
  for (int i = 0; i < npaths; i++) {
    size_t before = nfiles;
    collect(paths[i], &files, &nfiles, &cap);
    if (nfiles == before) {
      fprintf(stderr, "faultline suite: %s: no scenario file (*.lua) there\n", paths[i]);
      for (size_t f = 0; f < nfiles; f++)
        fl_free(files[f]);
      fl_free(files);
      goto usage;
    }
  }
  fl_free(paths);

  /* Every (file, scenario) pair in a stable order; a shard takes every N-th. */
  size_t total = 0;
  int code = 0;
  char stamp[32];
  time_t now = time(NULL);
  struct tm lt;
  localtime_r(&now, &lt);
  strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &lt);
  char *out_dir = out ? fl_strdup(out) : fl_asprintf("runs/suite-%s", stamp);
  for (size_t f = 0; f < nfiles; f++) {
    char **names = NULL;
    if (fl_engine_list(files[f], &names) != 0) {
      code = 2;
      continue;
    }
    /* Named by the file's folder and name only: a long absolute path would
     * push the part that tells scenarios apart past the slug's length. */
    const char *tail = files[f] + strlen(files[f]);
    for (int parts = 0; tail > files[f]; tail--)
      if (tail[-1] == '/' && ++parts == 2)
        break;
    char *fslug = fl_slug(tail);
    for (char **nm = names; *nm != NULL; nm++, total++) {
      if ((int)(total % (size_t)shard_n) != shard_k - 1) {
        fl_free(*nm);
        continue;
      }
      s.jobs = fl_realloc(s.jobs, (s.njobs + 1) * sizeof(job_t));
      job_t *j = &s.jobs[s.njobs++];
      memset(j, 0, sizeof(*j));
      j->file = fl_strdup(files[f]);
      j->name = *nm;
      char *nslug = fl_slug(*nm);
      j->slug = fl_asprintf("%s--%s", fslug, nslug);
      /* Two files alike in their last two path parts: keep run dirs apart. */
      for (size_t k = 0, dup = 1; k + 1 < s.njobs; k++) {
        if (strcmp(s.jobs[k].slug, j->slug) != 0)
          continue;
        char *again = fl_asprintf("%s--%s-%zu", fslug, nslug, ++dup);
        fl_free(j->slug);
        j->slug = again;
        k = (size_t)-1; /* check the new name from the start */
      }
      j->dir = fl_asprintf("%s/%s", out_dir, j->slug);
      fl_free(nslug);
    }
    fl_free(fslug);
    fl_free(names);
  }
  for (size_t f = 0; f < nfiles; f++)
    fl_free(files[f]);
  fl_free(files);

  if (list_only) {
    for (size_t i = 0; i < s.njobs; i++)
      printf("%s :: %s\n", s.jobs[i].file, s.jobs[i].name);
  } else if (fl_mkdir_p(out_dir) < 0) {
    fprintf(stderr, "faultline suite: cannot create %s: %s\n", out_dir, strerror(errno));
    code = 2;
  } else {
    printf("suite: %zu scenario(s)%s, %d at a time, into %s\n", s.njobs,
           shard_n > 1 ? " in this shard" : "", s.max_jobs, out_dir);
    fflush(stdout);
    fl_reaper_start();
    double t0 = now_s();
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
    uv_loop_close(&s.loop);

    json_t *reports = json_array();
    size_t passed = 0, failed = 0, errors = 0, skipped = 0;
    for (size_t i = 0; i < s.njobs; i++) {
      job_t *j = &s.jobs[i];
      if (!j->started) {
        skipped++;
        continue;
      }
      code = worst(code, j->code);
      if (j->code == 0)
        passed++;
      else if (j->code == 1 || j->code == 3)
        failed++;
      else
        errors++;
      char *rel = fl_asprintf("%s/%s", j->slug, fl_report_file("html"));
      json_t *r = load_report(j->dir, rel);
      fl_free(rel);
      if (r != NULL)
        json_array_append_new(reports, r);
    }
    if (s.interrupted)
      code = 2;
    printf("suite: %zu passed, %zu failed, %zu errors%s in %.1f s\n", passed, failed,
           errors, skipped ? ", some not run" : "", now_s() - t0);
    if (write_outputs(reports, out_dir, junit) != 0)
      code = 2;
    json_decref(reports);
  }
  for (size_t i = 0; i < s.njobs; i++) {
    fl_free(s.jobs[i].file);
    fl_free(s.jobs[i].name);
    fl_free(s.jobs[i].dir);
    fl_free(s.jobs[i].slug);
  }
  fl_free(s.jobs);
  fl_free(out_dir);
  return code;

usage:
  fl_free(paths);
  return 2;
}

/* ---- report merge ------------------------------------------------------------ */

/* Adds every report.json found below dir (its own and its subfolders'). */
static void gather(const char *dir, const char *rel, json_t *reports) {
  char *path = fl_asprintf("%s/%s", dir, fl_report_file("json"));
  struct stat st;
  if (stat(path, &st) == 0) {
    const char *file = fl_report_file("html");
    char *html = rel[0] ? fl_asprintf("%s/%s", rel, file) : fl_strdup(file);
    json_t *r = load_report(dir, html);
    fl_free(html);
    if (r != NULL)
      json_array_append_new(reports, r);
  }
  fl_free(path);
  char **names = fl_list_dir(dir, 1);
  for (char **nm = names; nm != NULL && *nm != NULL; nm++) {
    if (strcmp(*nm, "logs") == 0 || strcmp(*nm, "data") == 0)
      continue;
    char *sub = fl_asprintf("%s/%s", dir, *nm);
    if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
      char *subrel = rel[0] ? fl_asprintf("%s/%s", rel, *nm) : fl_strdup(*nm);
      gather(sub, subrel, reports);
      fl_free(subrel);
    }
    fl_free(sub);
  }
  fl_strv_free(names);
}

int fl_cmd_report_merge(int argc, char **argv) {
  const char *out = ".", *junit = NULL;
  json_t *reports = json_array();
  int ndirs = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else if (strcmp(argv[i], "--junit") == 0 && i + 1 < argc) {
      junit = argv[++i];
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "faultline report merge: unknown option %s\n", argv[i]);
      json_decref(reports);
      return 2;
    } else {
      gather(argv[i], argv[i], reports);
      ndirs++;
    }
  }
  if (ndirs == 0) {
    fprintf(stderr, "usage: faultline report merge DIR... [--out DIR] [--junit FILE]\n");
    json_decref(reports);
    return 2;
  }
  int code = 0;
  size_t i;
  json_t *r;
  json_array_foreach(reports, i, r) {
    const char *st = json_string_value(json_object_get(r, "status"));
    code = worst(code, st == NULL                ? 2
                       : strcmp(st, "pass") == 0 ? 0
                       : strcmp(st, "fail") == 0 ? 1
                                                 : 2);
  }
  printf("merged %zu report(s)\n", json_array_size(reports));
  if (fl_mkdir_p(out) < 0 || write_outputs(reports, out, junit) != 0)
    code = 2;
  json_decref(reports);
  return code;
}
