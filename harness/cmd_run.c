#include "harness/cmd_run.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "base/alloc.h"
#include "base/parse.h"
#include "harness/cli.h"
#include "harness/hosts.h"

static const char USAGE[] =
    "usage: faultline run FILE.lua [--seed N] [--out DIR] [--junit FILE] [--only NAME]\n"
    "                              [--timeout S] [--quiet] [--hosts FILE]\n"
    "                              [--replay RUN_DIR|SCHEDULE.json]\n"
    "\n"
    "  --seed N      the seed of every random choice (default: a new one, printed\n"
    "                and recorded, so any run can be repeated)\n"
    "  --out DIR     the run directory (default runs/<scenario>-<time>-<id>/); with\n"
    "                several scenarios, one folder per scenario inside it\n"
    "  --junit FILE  also write JUnit XML for CI\n"
    "  --only NAME   run only the scenario of that name\n"
    "  --timeout S   a scenario's time limit unless it sets its own (default 600)\n"
    "  -q, --quiet   no progress lines, only each scenario's verdict\n"
    "  --hosts FILE  remote hosts, reached over ssh (README: Running on your own\n"
    "                machines); every host must answer or the run stops (exit 2)\n"
    "  --replay R    fl.nemesis replays the schedule of run directory R (its\n"
    "                report.json) or of a schedule file (`faultline shrink` writes\n"
    "                one) at the same offsets, instead of drawing faults\n"
    "\n"
    "exit codes: 0 all checks passed, 1 a check failed, 2 usage, scenario or\n"
    "environment error, 3 a checker gave up within its time budget\n";

enum { OPT_SEED = 256, OPT_OUT, OPT_JUNIT, OPT_ONLY, OPT_TIMEOUT, OPT_HOSTS, OPT_REPLAY };

static const struct option LONGOPTS[] = {
    {"seed", required_argument, NULL, OPT_SEED},
    {"out", required_argument, NULL, OPT_OUT},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"only", required_argument, NULL, OPT_ONLY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"replay", required_argument, NULL, OPT_REPLAY},
    {"quiet", no_argument, NULL, 'q'},
    {"hosts", required_argument, NULL, OPT_HOSTS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int fl_run_args_parse(fl_run_args_t *out, int argc, char **argv, fl_err_t *err) {
  memset(out, 0, sizeof(*out));
  fl_engine_opts_t *o = &out->engine;
  fl_cli_t c;
  fl_cli_init(&c, argc, argv, "qh", LONGOPTS, 0);
  int ch;
  while ((ch = fl_cli_next(&c, err)) != FL_CLI_END) {
    switch (ch) {
    case FL_CLI_ARG:
      if (o->file != NULL)
        return fl_err_set(err, FL_EUSAGE, "one scenario file at a time (got \"%s\" too)",
                          c.arg);
      o->file = c.arg;
      break;
    case OPT_SEED:
      if (fl_parse_u64(c.arg, &o->seed) < 0)
        return fl_err_set(err, FL_EUSAGE,
                          "--seed wants a non-negative integer, not \"%s\"", c.arg);
      o->seed_given = 1;
      break;
    case OPT_OUT:
      o->out_dir = c.arg;
      break;
    case OPT_JUNIT:
      o->junit = c.arg;
      break;
    case OPT_ONLY:
      o->only = c.arg;
      break;
    case OPT_TIMEOUT:
      if (fl_parse_seconds(c.arg, &o->timeout_s) < 0)
        return fl_err_set(err, FL_EUSAGE, "--timeout wants seconds, not \"%s\"", c.arg);
      break;
    case OPT_HOSTS:
      out->hosts_file = c.arg;
      break;
    case OPT_REPLAY:
      o->replay = c.arg;
      break;
    case 'q':
      o->quiet = 1;
      break;
    case 'h':
      out->help = 1;
      return 0;
    default: /* FL_EUSAGE, the message already in err */
      return ch;
    }
  }
  if (o->file == NULL)
    return fl_err_set(err, FL_EUSAGE, "which scenario file?");
  return 0;
}

/* The file must be one Lua file we can read: a folder or a missing file is
 * a usage error before anything (a run directory, a report) is created. */
static int check_file(const char *file, fl_err_t *err) {
  struct stat st;
  if (stat(file, &st) != 0 || access(file, R_OK) != 0)
    return fl_err_set(err, FL_EUSAGE, "cannot read %s: %s", file, fl_strerror(-errno));
  if (S_ISDIR(st.st_mode))
    return fl_err_set(err, FL_EUSAGE,
                      "%s is a folder, not a scenario file (`faultline suite %s` runs "
                      "every scenario in it)",
                      file, file);
  return 0;
}

/* Random, but always printed and recorded, so any run can be repeated. */
static uint64_t fresh_seed(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20) ^ (uint64_t)ts.tv_sec) %
         1000000000ull;
}

/* --replay R: R is a run directory (its report.json) or a schedule file,
 * either holding a "schedule" list (a bare list is a schedule too). Returns
 * the file to read, new (fl_free), or NULL with the reason in err. */
static char *replay_file(const char *arg, fl_err_t *err) {
  struct stat st;
  char *path = (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
                   ? fl_asprintf("%s/report.json", arg)
                   : fl_strdup(arg);
  json_error_t je;
  json_t *j = json_load_file(path, 0, &je);
  const char *why = NULL;
  if (j == NULL)
    why = je.text;
  else if (!json_is_array(j) && !json_is_array(json_object_get(j, "schedule")))
    why = "no \"schedule\" list in it (was the run made with fl.nemesis?)";
  if (why != NULL)
    fl_err_set(err, FL_EUSAGE, "--replay %s: %s: %s", arg, path, why);
  json_decref(j);
  if (why == NULL)
    return path;
  fl_free(path);
  return NULL;
}

int fl_cmd_run(int argc, char **argv) {
  fl_run_args_t a;
  fl_err_t err = {0};
  if (fl_run_args_parse(&a, argc, argv, &err) < 0)
    return fl_cli_usage_error("run", &err);
  if (a.help) {
    fputs(USAGE, stdout);
    return 0;
  }
  if (check_file(a.engine.file, &err) < 0)
    return fl_cli_usage_error("run", &err);
  fl_hosts_t hosts = {0};
  if (a.hosts_file != NULL) {
    if (fl_hosts_load_file(a.hosts_file, &hosts, &err) < 0) {
      fprintf(stderr, "faultline run: %s\n", err.msg);
      return 2;
    }
    a.engine.hosts = &hosts;
  }
  char *replay = NULL;
  if (a.engine.replay != NULL) {
    replay = replay_file(a.engine.replay, &err);
    if (replay == NULL)
      return fl_cli_usage_error("run", &err);
    a.engine.replay = replay;
  }
  if (!a.engine.seed_given)
    a.engine.seed = fresh_seed();
  int code = fl_engine_run_file(&a.engine);
  fl_hosts_free(&hosts);
  fl_free(replay);
  return code;
}
