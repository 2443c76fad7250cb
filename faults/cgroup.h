/* A cgroup per service: every process a service starts stays in it however
 * it detaches (setsid, double fork, a daemonizing shell script), so a kill
 * is a kill of all of them, a pause freezes all of them, and a service is
 * down only when its cgroup is empty.
 *
 * The containment uses a cgroup v2 hierarchy: the whole tree on a pure v2
 * machine (/sys/fs/cgroup with cgroup.controllers), or the v2 hierarchy a
 * hybrid machine mounts beside its v1 controllers (/sys/fs/cgroup/unified:
 * no controllers, but cgroup.kill and cgroup.freeze work there). A v1-only
 * machine uses the v1 freezer hierarchy (freezer.state) and kills by
 * listing cgroup.procs until it is empty. Without write access (not root)
 * or without any of these: no cgroups (fl_cgroup_detect says why), and the
 * supervisor falls back to process groups.
 *
 * Layout: ROOT/faultline-<faultline pid>-<run id>/<service>. Nothing here
 * blocks: these are writes and reads of kernel pseudo-files. */
#ifndef FL_CGROUP_H
#define FL_CGROUP_H

#include <stddef.h>
#include <sys/types.h>

#include "base/error.h"

typedef enum { FL_CG_NONE = 0, FL_CG_V2, FL_CG_HYBRID, FL_CG_V1 } fl_cg_kind_t;

typedef struct fl_cg_sys_s {
  fl_cg_kind_t kind;
  char root[256]; /* where cgroups are made: a v2 hierarchy or v1's freezer */
} fl_cg_sys_t;

/* Finds what the machine offers under sysfs (normally "/sys/fs/cgroup"; a
 * test passes a fake tree). Returns 0 with sys filled, or a negative code
 * with why in err (and sys->kind FL_CG_NONE). Writable is not tested here:
 * fl_cgroup_make_parent tells. */
int fl_cgroup_detect(fl_cg_sys_t *sys, const char *sysfs, fl_err_t *err);
const char *fl_cgroup_kind_name(fl_cg_kind_t kind);

/* Makes the run's parent, ROOT/faultline-<pid>-<run_id>, into out (size
 * bytes). Returns 0 or a negative errno (EACCES, EROFS: not root). */
int fl_cgroup_make_parent(const fl_cg_sys_t *sys, int pid, const char *run_id, char *out,
                          size_t size, fl_err_t *err);

/* Makes parent/name (an existing one is reused, emptied first). */
int fl_cgroup_make(const char *parent, const char *name, char *out, size_t size,
                   fl_err_t *err);

/* Moves pid (0: the caller) into cg. For the exec shim, before exec. */
int fl_cgroup_enter(const char *cg, pid_t pid);

/* The pids in cg, up to max; returns how many there are (may be > max), or
 * a negative errno. */
int fl_cgroup_pids(const char *cg, pid_t *pids, size_t max);

/* Sends sig to every process in cg (cgroup.kill for SIGKILL on v2). Returns
 * how many were signalled (for SIGKILL through cgroup.kill: 1 when any), or
 * a negative errno. */
int fl_cgroup_signal(const char *cg, int sig);

/* Freezes (1) or thaws (0) every process of cg. Returns 0 or a negative
 * errno (ENOTSUP without a freezer). */
int fl_cgroup_freeze(const fl_cg_sys_t *sys, const char *cg, int frozen);

/* 1 when cg holds no process, 0 when it does, negative errno. */
int fl_cgroup_empty(const char *cg);

/* Removes cg (it must be empty: kill first). Returns 0 or a negative errno
 * (EBUSY while a process is still leaving). */
int fl_cgroup_remove(const char *cg);

/* Kills every process in dir's cgroups and removes them and dir. With
 * wait, waits for the processes to leave (up to ~1 s each: this blocks,
 * for commands and exit paths only); without, what is still leaving stays
 * for a later sweep. Returns 0 or a negative errno (EBUSY: not yet empty). */
int fl_cgroup_remove_tree(const fl_cg_sys_t *sys, const char *dir, int wait);

/* The shell command that kills every process under parent and removes it,
 * for the reaper (run by /bin/sh after faultline died): new string. */
char *fl_cgroup_reaper_cmd(const char *parent);

enum {
  FL_CG_ALL = 1,     /* every faultline cgroup, live runs' too */
  FL_CG_DRY_RUN = 2, /* only say what would be removed */
  FL_CG_NO_WAIT = 4  /* never sleep (on the event loop) */
};

/* faultline cleanup: every ROOT/faultline-<pid>-* whose faultline is gone
 * (or every one, with FL_CG_ALL), its processes killed and its cgroups
 * removed; each path removed or that would be is passed to cb. Returns the
 * number found, or a negative errno. */
int fl_cgroup_cleanup(const fl_cg_sys_t *sys, unsigned flags,
                      void (*cb)(const char *path, void *arg), void *arg);

#endif
