/* Connections to remote hosts (issue 16): one OpenSSH master per host, made
 * at a run's start and closed at its end, every ssh a child process on the
 * run's loop (faults/subproc.h), started in the run directory so the
 * control sockets' relative paths (harness/hosts.h) resolve there. */
#ifndef FL_REMOTE_H
#define FL_REMOTE_H

#include <uv.h>

#include "base/error.h"
#include "harness/hosts.h"

/* Opens a master to every host at once (each runs `true` through it),
 * running the loop until all have answered or failed within connect_s (+5 s
 * for the whole). 0, or FL_ECONFIG with one line per host that failed
 * ("host \"n2\" (10.0.0.3): ssh: connect to host ... No route to host"); the
 * masters that did open are closed again then, so no host is left with one. */
int fl_remote_connect(uv_loop_t *loop, const fl_hosts_t *hosts, const char *run_dir,
                      int connect_s, fl_err_t *err);
/* Closes every host's master (`ssh -O exit`), running the loop until done. */
void fl_remote_disconnect(uv_loop_t *loop, const fl_hosts_t *hosts, const char *run_dir);

/* `faultline cleanup --hosts FILE`: on every host, through a master of its
 * own (control sockets in a scratch directory), runs the agent's cleanup
 * (`faultline agent --cleanup`, harness/agent.h) with whichever faultline
 * build was copied there, and prints what each host removed, each line
 * prefixed with the host's name. Runs a private loop (a command, not a run).
 * Returns 0, or 2 after naming each host it could not reach or clean. */
int fl_remote_cleanup(const fl_hosts_t *hosts, int dry);

#endif
