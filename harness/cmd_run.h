/* `faultline run FILE.lua [--seed N] [--out DIR] [--junit FILE] [--only NAME]
 * [--timeout S] [--quiet]`: the scenarios of one file, through the runner. */
#ifndef FL_CMD_RUN_H
#define FL_CMD_RUN_H

#include "base/error.h"
#include "harness/engine.h"

typedef struct fl_run_args_s {
  fl_engine_opts_t engine; /* strings borrowed from argv; seed_given 0 = random */
  int help;                /* --help: print the usage, do nothing else */
  const char *hosts_file;  /* --hosts FILE (harness/hosts.h), NULL for none */
} fl_run_args_t;

/* Parses run's arguments (argv[0] is "run") into *out, with no side effect
 * (nothing printed or touched; getopt's globals reset). Returns 0, or
 * FL_EUSAGE with one message in err. Whether the file exists is not its
 * business: fl_cmd_run checks that next. */
int fl_run_args_parse(fl_run_args_t *out, int argc, char **argv, fl_err_t *err);

/* The command: returns the exit code. */
int fl_cmd_run(int argc, char **argv);

#endif
