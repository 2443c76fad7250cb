/* `faultline suite PATH... [--jobs N] [--shard K/N] [--out DIR] [--junit FILE]
 * [--fail-fast] [--seed N] [--timeout S] [--list]`: every scenario of the
 * files and folders given, each in its own run process (suite.h), with one
 * aggregated junit.xml and summary.md. */
#ifndef FL_CMD_SUITE_H
#define FL_CMD_SUITE_H

#include "base/error.h"

typedef struct fl_suite_args_s {
  const char **paths; /* new array of strings borrowed from argv */
  int npaths;
  int jobs;             /* 1 to 256 */
  int shard_k, shard_n; /* this shard is the K-th of N: 1 <= K <= N */
  const char *out;      /* may be NULL: runs/suite-<time> */
  const char *junit;    /* may be NULL: <out>/junit.xml */
  const char *seed;     /* checked to be an integer, passed on as text */
  const char *timeout;  /* checked to be seconds, passed on as text */
  int fail_fast;
  int list; /* print the scenarios of this shard, run nothing */
  int help;
} fl_suite_args_t;

/* Parses suite's arguments (argv[0] is "suite") into *out with no side
 * effect but an allocation (free with fl_suite_args_free, even on error).
 * Returns 0, or FL_EUSAGE with one message in err. */
int fl_suite_args_parse(fl_suite_args_t *out, int argc, char **argv, fl_err_t *err);
void fl_suite_args_free(fl_suite_args_t *a);

/* The command: returns the exit code. */
int fl_cmd_suite(int argc, char **argv);

#endif
