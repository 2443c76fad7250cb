/* Nobody left behind: the exec shim and the reaper.
 *
 * Every service is started through the shim (`faultline __exec PPID -- cmd`),
 * which sets PR_SET_PDEATHSIG so the kernel kills the service when faultline
 * dies, then execs the command. A service may fork children of its own (a
 * shell, nginx workers), which the death signal does not reach; those share
 * the service's process group. So a run also forks a reaper at start: a tiny
 * process in its own session that learns every process group faultline
 * creates through a pipe and, when the pipe reaches EOF (faultline exited,
 * however it died, SIGKILL included), kills what is left of each group. */
#ifndef FL_REAPER_H
#define FL_REAPER_H

#include <sys/types.h>

/* Forks the reaper. Call before the loop starts any thread. Returns 0 or a
 * negative errno. Idempotent. */
int fl_reaper_start(void);
/* Tells the reaper a group exists / is gone. No-ops without a reaper. */
void fl_reaper_track(pid_t pgid);
void fl_reaper_untrack(pid_t pgid);
/* Registers a command line the reaper runs with /bin/sh when faultline dies
 * without undoing it (namespace and firewall cleanup). key identifies it for
 * fl_reaper_forget. */
void fl_reaper_on_death(const char *key, const char *shell_cmd);
void fl_reaper_forget(const char *key);

/* The shim's entry point: argv = {"__exec", PPID, [--netns PATH],
 * [--preload LIB], "--", cmd, args...}: it enters the network namespace at
 * PATH (setns) and puts LIB first in LD_PRELOAD before exec. Never returns on
 * success. */
int fl_shim_main(int argc, char **argv);

/* The path of the running faultline binary, borrowed. */
const char *fl_self_exe(void);

#endif
