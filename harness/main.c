/* faultline: the command line. Parses arguments and hands over to the engine
 * (run), the offline checker (check) or the report writers (report). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "harness/cmd_check.h"
#include "harness/cmd_cleanup.h"
#include "harness/cmd_proxy.h"
#include "harness/cmd_report.h"
#include "harness/engine.h"
#include "harness/reaper.h"
#include "harness/suite.h"

static const char USAGE[] =
    "usage: faultline <command> [options]\n"
    "\n"
    "  run FILE.lua [--seed N] [--out DIR] [--junit FILE] [--only NAME]\n"
    "               [--timeout S] [--quiet]\n"
    "        run the scenarios of FILE.lua; a report per scenario under runs/\n"
    "  suite PATH... [--jobs N] [--shard K/N] [--out DIR] [--junit FILE] [--fail-fast]\n"
    "        run every scenario of the files and folders, in parallel processes\n"
    "  check HISTORY.jsonl... --model register|cas-register|kv|set|counter\n"
    "               [--timeout S] [--json]\n"
    "        check recorded histories offline\n"
    "  proxy [--api HOST:PORT] [--config FILE] [--seed N]\n"
    "        a standalone fault proxy with Toxiproxy's HTTP API\n"
    "  report RUN_DIR...\n"
    "        render report.html and summary.md again from report.json\n"
    "  report merge DIR... [--out DIR] [--junit FILE]\n"
    "        one summary.md and junit.xml over several suite outputs (shards)\n"
    "  cleanup [--dry-run]\n"
    "        remove namespaces, links and nftables tables of runs no longer alive\n"
    "  version       print the version\n"
    "  help          this text\n"
    "\n"
    "exit codes: 0 all checks passed, 1 a check failed, 2 usage, scenario or\n"
    "environment error, 3 a checker gave up within its time budget\n";

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "faultline: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n(see `faultline help`)\n");
  return 2;
}

static int parse_u64(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || end == s || s[0] == '-')
    return -1;
  *out = v;
  return 0;
}

static int cmd_run(int argc, char **argv) {
  fl_engine_opts_t o = {0};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int takes = strcmp(a, "--seed") == 0 || strcmp(a, "--out") == 0 ||
                strcmp(a, "--junit") == 0 || strcmp(a, "--only") == 0 ||
                strcmp(a, "--timeout") == 0;
    if (takes && v == NULL)
      return usage_error("%s needs a value", a);
    if (strcmp(a, "--seed") == 0) {
      if (parse_u64(v, &o.seed) < 0)
        return usage_error("--seed wants a non-negative integer, not \"%s\"", v);
      o.seed_given = 1;
    } else if (strcmp(a, "--out") == 0) {
      o.out_dir = v;
    } else if (strcmp(a, "--junit") == 0) {
      o.junit = v;
    } else if (strcmp(a, "--only") == 0) {
      o.only = v;
    } else if (strcmp(a, "--timeout") == 0) {
      char *end;
      o.timeout_s = strtod(v, &end);
      if (*end || o.timeout_s <= 0)
        return usage_error("--timeout wants seconds, not \"%s\"", v);
    } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
      o.quiet = 1;
      continue;
    } else if (a[0] == '-') {
      return usage_error("run: unknown option %s", a);
    } else if (o.file == NULL) {
      o.file = a;
      continue;
    } else {
      return usage_error("run: one scenario file at a time (got \"%s\" too)", a);
    }
    i++;
  }
  if (o.file == NULL)
    return usage_error("%s", "run: which scenario file?");
  if (access(o.file, R_OK) != 0)
    return usage_error("run: cannot read %s", o.file);
  if (!o.seed_given) {
    /* Random, but always recorded, so any run can be repeated. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    o.seed = ((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 20) ^ (uint64_t)ts.tv_sec) %
             1000000000ull;
  }
  return fl_engine_run_file(&o);
}

int main(int argc, char **argv) {
  fl_log_init();
  if (argc >= 2 && strcmp(argv[1], "__exec") == 0)
    return fl_shim_main(argc - 1, argv + 1);
  if (argc < 2)
    return usage_error("%s", "which command?");
  const char *cmd = argv[1];
  if (strcmp(cmd, "run") == 0)
    return cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "check") == 0)
    return fl_cmd_check(argc - 1, argv + 1);
  if (strcmp(cmd, "proxy") == 0)
    return fl_cmd_proxy(argc - 1, argv + 1);
  if (strcmp(cmd, "cleanup") == 0)
    return fl_cmd_cleanup(argc - 1, argv + 1);
  if (strcmp(cmd, "suite") == 0)
    return fl_cmd_suite(argc - 1, argv + 1);
  if (strcmp(cmd, "report") == 0 && argc >= 3 && strcmp(argv[2], "merge") == 0)
    return fl_cmd_report_merge(argc - 2, argv + 2);
  if (strcmp(cmd, "report") == 0)
    return fl_cmd_report(argc - 1, argv + 1);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("faultline %s\n", FL_VERSION);
    return 0;
  }
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    fputs(USAGE, stdout);
    return 0;
  }
  return usage_error("unknown command \"%s\"", cmd);
}
