/* faultline: the command line. One table of commands; `faultline help` is
 * printed from it, and each command parses its own arguments in its
 * cmd_*.c file. */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "harness/cmd_agent.h"
#include "harness/cmd_check.h"
#include "harness/cmd_cleanup.h"
#include "harness/cmd_init.h"
#include "harness/cmd_merge.h"
#include "harness/cmd_proxy.h"
#include "harness/cmd_report.h"
#include "harness/cmd_run.h"
#include "harness/cmd_shrink.h"
#include "harness/cmd_suite.h"
#include "harness/reaper.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

/* A command's name may be two words ("report merge"): then argv[2] must be
 * the second, and the command sees argv from there. A row without help is
 * not shown (the exec shim, which faultline runs itself). */
static const struct command {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *synopsis;
  const char *help;
} COMMANDS[] = {
    {"run", fl_cmd_run,
     "FILE.lua [--seed N] [--out DIR] [--junit FILE] [--only NAME] [--timeout S] "
     "[--quiet]\n        [--replay RUN_DIR|SCHEDULE.json]",
     "run the scenarios of FILE.lua; a report per scenario under runs/"},
    {"shrink", fl_cmd_shrink, "RUN_DIR [--budget N] [--time T] [--repeat K] [--out DIR]",
     "the smallest fl.nemesis schedule that still fails the run's failed check"},
    {"suite", fl_cmd_suite,
     "PATH... [--jobs N] [--shard K/N] [--out DIR] [--junit FILE] [--fail-fast] [--seed "
     "N]\n"
     "        [--timeout S] [--list]",
     "run every scenario of the files and folders, in parallel processes"},
    {"check", fl_cmd_check, "HISTORY.jsonl... --model MODEL [--timeout S] [--json]",
     "check recorded histories offline (`faultline check --help` lists the models)"},
    {"proxy", fl_cmd_proxy, "[--api HOST:PORT] [--config FILE] [--seed N]",
     "a standalone fault proxy with Toxiproxy's HTTP API"},
    {"report merge", fl_cmd_report_merge, "DIR... [--out DIR] [--junit FILE]",
     "one summary.md and junit.xml over several suite outputs (shards)"},
    {"report", fl_cmd_report, "RUN_DIR...",
     "render report.html and summary.md again from report.json"},
    {"cleanup", fl_cmd_cleanup, "[--dry-run] [--hosts FILE]",
     "remove namespaces, links and nftables tables of runs no longer alive"},
    {"agent", fl_cmd_agent, "--run ID [--state DIR] | --cleanup [--dry-run]",
     "the remote side of a run on remote hosts (started over ssh by `run`)"},
    {"init", fl_cmd_init, "[DIR]",
     "write a starter layout: a scenario, a module under lib/, CI files"},
    {"version", cmd_version, "", "print the version"},
    {"help", cmd_help, "", "this text"},
    {"__exec", fl_shim_main, NULL, NULL},
};

#define NCOMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static int cmd_version(int argc, char **argv) {
  printf("faultline %s\n", FL_VERSION);
  return 0;
}

static int cmd_help(int argc, char **argv) {
  printf("usage: faultline <command> [options]\n\n");
  for (size_t i = 0; i < NCOMMANDS; i++) {
    if (COMMANDS[i].help == NULL)
      continue;
    if (COMMANDS[i].synopsis[0] == '\0')
      printf("  %-13s %s\n", COMMANDS[i].name, COMMANDS[i].help);
    else
      printf("  %s %s\n        %s\n", COMMANDS[i].name, COMMANDS[i].synopsis,
             COMMANDS[i].help);
  }
  printf("\n`faultline COMMAND --help` tells more about a command.\n"
         "exit codes: 0 all checks passed, 1 a check failed, 2 usage, scenario or\n"
         "environment error, 3 a checker gave up within its time budget\n");
  return 0;
}

/* How many words of argv (from argv[1]) name the row's command: 0 when
 * they do not. */
static int matches(const struct command *c, int argc, char **argv) {
  const char *space = strchr(c->name, ' ');
  if (space == NULL)
    return strcmp(argv[1], c->name) == 0 ? 1 : 0;
  size_t n = (size_t)(space - c->name);
  return argc >= 3 && strlen(argv[1]) == n && strncmp(argv[1], c->name, n) == 0 &&
                 strcmp(argv[2], space + 1) == 0
             ? 2
             : 0;
}

int main(int argc, char **argv) {
  fl_log_init();
  if (argc < 2) {
    fprintf(stderr, "faultline: which command?\n(see `faultline help`)\n");
    return 2;
  }
  /* The spellings every tool is asked with first. */
  if (strcmp(argv[1], "--version") == 0)
    return cmd_version(argc - 1, argv + 1);
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
    return cmd_help(argc - 1, argv + 1);
  for (size_t i = 0; i < NCOMMANDS; i++) {
    int words = matches(&COMMANDS[i], argc, argv);
    if (words > 0)
      return COMMANDS[i].fn(argc - words, argv + words);
  }
  fprintf(stderr, "faultline: unknown command \"%s\"\n(see `faultline help`)\n", argv[1]);
  return 2;
}
