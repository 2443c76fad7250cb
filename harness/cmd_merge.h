/* `faultline report merge DIR... [--out DIR] [--junit FILE]`: one
 * summary.md and junit.xml over the reports found below several folders
 * (the outputs of suite shards, or single runs). */
#ifndef FL_CMD_MERGE_H
#define FL_CMD_MERGE_H

#include "base/error.h"

typedef struct fl_merge_args_s {
  const char **dirs; /* new array of strings borrowed from argv */
  int ndirs;
  const char *out;   /* "." unless given */
  const char *junit; /* may be NULL: <out>/junit.xml */
  int help;
} fl_merge_args_t;

/* Parses merge's arguments (argv[0] is "merge") into *out with no side
 * effect but an allocation (free with fl_merge_args_free, even on error).
 * Returns 0, or FL_EUSAGE with one message in err. */
int fl_merge_args_parse(fl_merge_args_t *out, int argc, char **argv, fl_err_t *err);
void fl_merge_args_free(fl_merge_args_t *a);

/* The command (argv[0] is "merge"): returns the exit code, the worst of the
 * merged reports' statuses (2 when one has none, or nothing could be
 * written). */
int fl_cmd_report_merge(int argc, char **argv);

#endif
