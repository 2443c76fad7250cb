/* What every command's front end (cmd_*.c) shares: getopt_long with one
 * message per mistake, and the one way a usage error is printed.
 *
 * A command parses its arguments into an options struct first, with no side
 * effect but getopt's own globals (nothing printed, nothing created), so a
 * test or a fuzz target can call the parser alone; only then does it act. */
#ifndef FL_CLI_H
#define FL_CLI_H

#include <getopt.h>

#include "base/error.h"

/* fl_cli_next's answer for an argument that is not an option. */
#define FL_CLI_ARG 1
/* fl_cli_next's answer when the arguments are all read. */
#define FL_CLI_END (-1)

typedef struct fl_cli_s {
  int argc;
  char **argv; /* borrowed; never reordered */
  char shortopts[64];
  const struct option *longopts; /* borrowed, ends with a zero row */
  int long_only;                 /* "-api" is "--api" (toxiproxy-server's flags) */
  int rest;                      /* after "--": the index of the next argument */
  const char *arg;               /* the value of the last option or argument */
} fl_cli_t;

/* Starts reading argv (argv[0] is the command's name, skipped). shortopts
 * and longopts are getopt_long's; every row of longopts must have flag
 * NULL. Resets getopt's globals. */
void fl_cli_init(fl_cli_t *c, int argc, char **argv, const char *shortopts,
                 const struct option *longopts, int long_only);
/* The next option's val (its value, if it takes one, in c->arg), FL_CLI_ARG
 * for a plain argument (in c->arg), FL_CLI_END when all are read, or
 * FL_EUSAGE with the message in err ("unknown option --x", "--seed needs a
 * value", "--quiet takes no value", "--o is ambiguous: --only, --out"; an
 * empty value or argument is refused too, since "" as a path would mean
 * the root or the current folder).
 * Arguments are seen in the order given; "--" ends the options. */
int fl_cli_next(fl_cli_t *c, fl_err_t *err);

/* Prints "faultline CMD: MESSAGE" and where to find help on stderr; returns
 * 2, the exit code of a usage error. */
int fl_cli_usage_error(const char *cmd, const fl_err_t *err);

#endif
