/* `faultline cleanup [--dry-run] [--hosts FILE]`: removes the network namespaces, links,
 * nftables tables and state files that namespace runs no longer alive left
 * behind (a faultline killed with -9 whose reaper was killed too, a reboot
 * of a container's host ...), and libfaketime's shared memory of processes
 * that are gone. With --hosts FILE: what lost runs left on those remote
 * hosts instead (harness/remote.h, fl_remote_cleanup). */
#ifndef FL_CMD_CLEANUP_H
#define FL_CMD_CLEANUP_H

#include "base/error.h"

typedef struct fl_cleanup_args_s {
  int dry_run;            /* say what would be removed, remove nothing */
  const char *hosts_file; /* --hosts FILE: clean those remote hosts instead */
  int help;
} fl_cleanup_args_t;

/* Parses cleanup's arguments (argv[0] is "cleanup") into *out with no side
 * effect. Returns 0, or FL_EUSAGE with one message in err. */
int fl_cleanup_args_parse(fl_cleanup_args_t *out, int argc, char **argv, fl_err_t *err);

/* The command: returns the exit code. */
int fl_cmd_cleanup(int argc, char **argv);

#endif
