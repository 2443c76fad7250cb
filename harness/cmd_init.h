/* `faultline init [DIR]`: a starter layout (a scenario, a module of its own
 * under scenarios/lib/, CI files for GitHub Actions and GitLab CI) that runs
 * green as written. */
#ifndef FL_CMD_INIT_H
#define FL_CMD_INIT_H

#include <stdio.h>

#include "base/error.h"

typedef struct fl_init_args_s {
  const char *dir; /* where to write ("." by default) */
  int help;
} fl_init_args_t;

/* One embedded file: its path under DIR and its text. */
typedef struct fl_init_file_s {
  const char *path;
  const char *text;
} fl_init_file_t;

/* Parses init's arguments (argv[0] is "init") into *out with no side effect.
 * Returns 0, or FL_EUSAGE with one message in err. */
int fl_init_args_parse(fl_init_args_t *out, int argc, char **argv, fl_err_t *err);

/* The embedded files, ended by a row of NULLs. */
const fl_init_file_t *fl_init_files(void);

/* Writes the files into dir (made as needed), each line "wrote PATH" to log
 * when not NULL. Writes nothing and returns FL_EUSAGE when one of them
 * exists already; a negative errno when one cannot be written. 0 on success. */
int fl_init_write(const char *dir, FILE *log, fl_err_t *err);

/* The command: returns the exit code. */
int fl_cmd_init(int argc, char **argv);

#endif
