#include "harness/cmd_suite.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/parse.h"
#include "harness/cli.h"
#include "harness/engine.h"
#include "harness/suite.h"
#include "reports/report.h"

static const char USAGE[] =
    "usage: faultline suite PATH... [--jobs N] [--shard K/N] [--out DIR] [--junit FILE]\n"
    "                       [--fail-fast] [--seed N] [--timeout S] [--list]\n"
    "\n"
    "  PATH          a scenario file, or a folder searched for *.lua (folders named\n"
    "                lib/ hold modules and are skipped)\n"
    "  -j, --jobs N  how many scenarios run at once (1 to 256, default 1)\n"
    "  --shard K/N   run only the K-th of N equal shares (CI machines in parallel;\n"
    "                join their outputs with `faultline report merge`)\n"
    "  --out DIR     where the run directories, summary.md and junit.xml go\n"
    "                (default runs/suite-<time>/)\n"
    "  --junit FILE  the JUnit XML file (default DIR/junit.xml)\n"
    "  --fail-fast   start no more scenarios once one did not pass\n"
    "  --seed N      the seed of every run (default: a new one per run)\n"
    "  --timeout S   a scenario's time limit unless it sets its own\n"
    "  --list        print the scenarios (of this shard) and run nothing\n";

enum {
  OPT_SHARD = 256,
  OPT_OUT,
  OPT_JUNIT,
  OPT_SEED,
  OPT_TIMEOUT,
  OPT_FAIL_FAST,
  OPT_LIST
};

static const struct option LONGOPTS[] = {
    {"jobs", required_argument, NULL, 'j'},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"out", required_argument, NULL, OPT_OUT},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"seed", required_argument, NULL, OPT_SEED},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"fail-fast", no_argument, NULL, OPT_FAIL_FAST},
    {"list", no_argument, NULL, OPT_LIST},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* "K/N" with 1 <= K <= N, nothing else around it. */
static int parse_shard(const char *s, int *k, int *n) {
  const char *slash = strchr(s, '/');
  char kbuf[16];
  if (slash == NULL || (size_t)(slash - s) >= sizeof(kbuf))
    return FL_EPARSE;
  memcpy(kbuf, s, (size_t)(slash - s));
  kbuf[slash - s] = '\0';
  int kk, nn;
  if (fl_parse_int(kbuf, 1, 1000000, &kk) < 0 ||
      fl_parse_int(slash + 1, 1, 1000000, &nn) < 0 || kk > nn)
    return FL_EPARSE;
  *k = kk;
  *n = nn;
  return 0;
}

/* One option's value into a; FL_EUSAGE with a message for a bad one. */
static int take(fl_suite_args_t *a, int ch, const char *v, fl_err_t *err) {
  uint64_t seed;
  double secs;
  switch (ch) {
  case 'j':
    if (fl_parse_int(v, 1, 256, &a->jobs) < 0)
      return fl_err_set(err, FL_EUSAGE, "--jobs wants a number from 1 to 256, not \"%s\"",
                        v);
    return 0;
  case OPT_SHARD:
    if (parse_shard(v, &a->shard_k, &a->shard_n) < 0)
      return fl_err_set(err, FL_EUSAGE,
                        "--shard wants K/N with 1 <= K <= N, like 2/4, not \"%s\"", v);
    return 0;
  case OPT_SEED:
    if (fl_parse_u64(v, &seed) < 0)
      return fl_err_set(err, FL_EUSAGE, "--seed wants a non-negative integer, not \"%s\"",
                        v);
    a->seed = v;
    return 0;
  case OPT_TIMEOUT:
    if (fl_parse_seconds(v, &secs) < 0)
      return fl_err_set(err, FL_EUSAGE, "--timeout wants seconds, not \"%s\"", v);
    a->timeout = v;
    return 0;
  case OPT_OUT:
    a->out = v;
    return 0;
  case OPT_JUNIT:
    a->junit = v;
    return 0;
  }
  return ch < 0 ? ch : fl_err_set(err, FL_EUSAGE, "unexpected option");
}

int fl_suite_args_parse(fl_suite_args_t *out, int argc, char **argv, fl_err_t *err) {
  memset(out, 0, sizeof(*out));
  out->jobs = out->shard_k = out->shard_n = 1;
  out->paths = fl_calloc((size_t)(argc > 0 ? argc : 1), sizeof(char *));
  fl_cli_t c;
  fl_cli_init(&c, argc, argv, "j:h", LONGOPTS, 0);
  int ch, rc;
  while ((ch = fl_cli_next(&c, err)) != FL_CLI_END) {
    if (ch == FL_CLI_ARG) {
      out->paths[out->npaths++] = c.arg;
    } else if (ch == OPT_FAIL_FAST) {
      out->fail_fast = 1;
    } else if (ch == OPT_LIST) {
      out->list = 1;
    } else if (ch == 'h') {
      out->help = 1;
      return 0;
    } else if ((rc = take(out, ch, c.arg, err)) < 0) {
      return rc;
    }
  }
  if (out->npaths == 0)
    return fl_err_set(err, FL_EUSAGE, "which files or folders?");
  return 0;
}

void fl_suite_args_free(fl_suite_args_t *a) {
  fl_free(a->paths);
  a->paths = NULL;
}

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

/* The scenario files of every path, in the order given: 0 and a new
 * NULL-terminated array (fl_strv_free), or FL_EUSAGE naming a path with
 * none. */
static int collect_all(const fl_suite_args_t *a, char ***out, fl_err_t *err) {
  char **files = NULL;
  size_t n = 0, cap = 0;
  for (int i = 0; i < a->npaths; i++) {
    size_t before = n;
    collect(a->paths[i], &files, &n, &cap);
    if (n == before) {
      for (size_t f = 0; f < n; f++)
        fl_free(files[f]);
      fl_free(files);
      return fl_err_set(err, FL_EUSAGE, "%s: no scenario file (*.lua) there",
                        a->paths[i]);
    }
  }
  files = fl_realloc(files, (n + 1) * sizeof(char *));
  files[n] = NULL;
  *out = files;
  return 0;
}

/* ---- planning the jobs ------------------------------------------------------ */

typedef struct {
  fl_suite_job_t *jobs;
  size_t njobs;
  size_t seen; /* scenarios of every shard so far: the shard rotation */
  const fl_suite_args_t *args;
  const char *out_dir;
} plan_t;

/* A run directory name no earlier job has: two files alike in their last
 * two path parts get "-2", "-3" ... Returns new. */
static char *unique_slug(const plan_t *p, const char *fslug, const char *nslug) {
  char *slug = fl_asprintf("%s--%s", fslug, nslug);
  for (size_t k = 0, dup = 1; k < p->njobs; k++) {
    if (strcmp(p->jobs[k].slug, slug) != 0)
      continue;
    fl_free(slug);
    slug = fl_asprintf("%s--%s-%zu", fslug, nslug, ++dup);
    k = (size_t)-1; /* check the new name from the start */
  }
  return slug;
}

/* Adds the file's scenarios that fall in this shard (every N-th of all
 * (file, scenario) pairs in a stable order) as jobs. Takes names. */
static void add_file_jobs(plan_t *p, const char *file, char **names) {
  /* Named by the file's folder and name only: a long absolute path would
   * push the part that tells scenarios apart past the slug's length. */
  const char *tail = file + strlen(file);
  for (int parts = 0; tail > file; tail--)
    if (tail[-1] == '/' && ++parts == 2)
      break;
  char *fslug = fl_slug(tail);
  for (char **nm = names; *nm != NULL; nm++, p->seen++) {
    if ((int)(p->seen % (size_t)p->args->shard_n) != p->args->shard_k - 1) {
      fl_free(*nm);
      continue;
    }
    char *nslug = fl_slug(*nm);
    char *slug = unique_slug(p, fslug, nslug);
    fl_free(nslug);
    p->jobs = fl_realloc(p->jobs, (p->njobs + 1) * sizeof(fl_suite_job_t));
    fl_suite_job_t *j = &p->jobs[p->njobs++];
    memset(j, 0, sizeof(*j));
    j->file = fl_strdup(file);
    j->name = *nm;
    j->slug = slug;
    j->dir = fl_asprintf("%s/%s", p->out_dir, j->slug);
  }
  fl_free(fslug);
  fl_free(names);
}

/* Lists every file's scenarios into p's jobs. Returns 0, or 2 when a file
 * could not be listed (said on stderr; its scenarios are left out). */
static int plan_jobs(plan_t *p, char **files) {
  int code = 0;
  for (char **f = files; *f != NULL; f++) {
    char **names = NULL;
    fl_err_t err = {0};
    if (fl_engine_list(*f, &names, &err) < 0) {
      fprintf(stderr, "faultline suite: %s\n", err.msg);
      code = 2;
      /* Still a job: its run records the error in a report, so the suite's
       * summary.md and junit.xml count it instead of reading "all passed". */
      const char *base = strrchr(*f, '/');
      names = fl_calloc(2, sizeof(char *));
      names[0] = fl_strdup(base != NULL ? base + 1 : *f);
      size_t first = p->njobs;
      add_file_jobs(p, *f, names);
      for (size_t k = first; k < p->njobs; k++)
        p->jobs[k].whole_file = 1;
      continue;
    }
    add_file_jobs(p, *f, names);
  }
  return code;
}

/* ---- running and summing up ------------------------------------------------- */

/* Counts the outcomes, gathers the reports and writes the aggregated
 * outputs. Returns the suite's exit code. */
static int summarize(const fl_suite_args_t *a, fl_suite_job_t *jobs, size_t njobs,
                     const char *out_dir, double took) {
  json_t *reports = json_array();
  size_t passed = 0, failed = 0, errors = 0, skipped = 0;
  int code = 0;
  for (size_t i = 0; i < njobs; i++) {
    fl_suite_job_t *j = &jobs[i];
    if (!j->started) {
      skipped++;
      continue;
    }
    code = fl_exit_worst(code, j->code);
    if (j->code == 0)
      passed++;
    else if (j->code == 1 || j->code == 3)
      failed++;
    else
      errors++;
    /* The report's own link (report.html beside its run_dir) is what the
     * writers join to run_dir, wherever --junit puts the file. */
    json_t *r = fl_suite_load_report(j->dir, NULL);
    if (r != NULL)
      json_array_append_new(reports, r);
  }
  printf("suite: %zu passed, %zu failed, %zu errors%s in %.1f s\n", passed, failed,
         errors, skipped ? ", some not run" : "", took);
  fl_suite_print_findings(reports);
  if (fl_suite_write_outputs(reports, out_dir, a->junit) != 0)
    code = 2;
  json_decref(reports);
  return code;
}

static int run_jobs(const fl_suite_args_t *a, fl_suite_job_t *jobs, size_t njobs,
                    const char *out_dir) {
  int rc = fl_mkdir_p(out_dir);
  if (rc < 0) {
    fprintf(stderr, "faultline suite: cannot create %s: %s\n", out_dir, fl_strerror(rc));
    return 2;
  }
  printf("suite: %zu scenario(s)%s, %d at a time, into %s\n", njobs,
         a->shard_n > 1 ? " in this shard" : "", a->jobs, out_dir);
  fflush(stdout);
  fl_suite_opts_t o = {a->jobs, a->fail_fast, a->seed, a->timeout};
  double t0 = (double)uv_hrtime() / 1e9;
  int interrupted = fl_suite_run(jobs, njobs, &o);
  int code = summarize(a, jobs, njobs, out_dir, (double)uv_hrtime() / 1e9 - t0);
  return interrupted ? 2 : code;
}

static char *default_out_dir(void) {
  char stamp[32];
  time_t now = time(NULL);
  struct tm lt;
  localtime_r(&now, &lt);
  strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &lt);
  return fl_asprintf("runs/suite-%s", stamp);
}

int fl_cmd_suite(int argc, char **argv) {
  fl_suite_args_t a;
  fl_err_t err = {0};
  char **files = NULL;
  int code = 2;
  if (fl_suite_args_parse(&a, argc, argv, &err) < 0 ||
      (!a.help && collect_all(&a, &files, &err) < 0)) {
    code = fl_cli_usage_error("suite", &err);
    goto out;
  }
  if (a.help) {
    fputs(USAGE, stdout);
    code = 0;
    goto out;
  }
  char *out_dir = a.out ? fl_strdup(a.out) : default_out_dir();
  plan_t p = {.args = &a, .out_dir = out_dir};
  code = plan_jobs(&p, files);
  if (a.list) {
    for (size_t i = 0; i < p.njobs; i++)
      printf("%s :: %s\n", p.jobs[i].file, p.jobs[i].name);
  } else {
    code = fl_exit_worst(code, run_jobs(&a, p.jobs, p.njobs, out_dir));
  }
  fl_suite_jobs_free(p.jobs, p.njobs);
  fl_free(out_dir);
out:
  fl_strv_free(files);
  fl_suite_args_free(&a);
  return code;
}
