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
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

typedef enum { FL_CG_NONE = 0, FL_CG_V2, FL_CG_HYBRID, FL_CG_V1 } fl_cg_kind_t;

/* The controllers used for resource limits and stats. */
enum { FL_CG_CTL_CPU = 0, FL_CG_CTL_CPUACCT, FL_CG_CTL_MEMORY, FL_CG_NCTL };

typedef struct fl_cg_sys_s {
  fl_cg_kind_t kind;
  char root[256]; /* where cgroups are made: a v2 hierarchy or v1's freezer */
  /* Where each controller's cgroups are, "" when the machine has none: on
   * pure v2 the tree itself (when cgroup.controllers lists it), on hybrid
   * and v1 machines the v1 hierarchies SYSFS/cpu, SYSFS/cpuacct and
   * SYSFS/memory, where a service gets a cgroup of the same relative path
   * as its containment cgroup (fl_cgroup_ctl_path). */
  char ctl[FL_CG_NCTL][256];
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

/* ---- Resource limits and stats (the controllers of sys->ctl) ---------- */

/* The directory of containment cgroup cg (under sys->root) in controller
 * ctl's hierarchy, into out. Returns 0, or -ENOENT when the machine has no
 * such controller or cg is not under sys->root. */
int fl_cgroup_ctl_path(const fl_cg_sys_t *sys, const char *cg, int ctl, char *out,
                       size_t size);

/* Makes cg's counterpart (parents included) in every v1 controller
 * hierarchy; on pure v2 enables the cpu and memory controllers for cg's
 * parent's children (cgroup.subtree_control). Best effort: a controller
 * that cannot be set up is missing later, and the limit calls say so.
 * Returns how many controller cgroups exist for cg. */
int fl_cgroup_make_ctl(const fl_cg_sys_t *sys, const char *cg);

/* The directories a process of cg enters: cg itself and its controller
 * counterparts (v1), at most max, into dirs (each size bytes). Returns how
 * many. For the exec shim's --cgroup options. */
int fl_cgroup_enter_dirs(const fl_cg_sys_t *sys, const char *cg, char (*dirs)[512],
                         int max);

/* Removes cg's controller counterparts (v1; after the processes left).
 * Returns 0 or the first negative errno (EBUSY: a process is leaving). */
int fl_cgroup_remove_ctl(const fl_cg_sys_t *sys, const char *cg);

/* Limits cg to cpus CPUs (0.2 = 20 % of one CPU, in a 100 ms period):
 * v2 cpu.max, v1 cpu.cfs_quota_us/cpu.cfs_period_us. cpus <= 0 removes
 * the limit. Returns 0 or a negative code with the file and cause in err
 * (-ENOENT: no cpu controller here). */
int fl_cgroup_cpu_quota(const fl_cg_sys_t *sys, const char *cg, double cpus,
                        fl_err_t *err);

/* Limits cg's memory to bytes, swap included where the kernel accounts it:
 * v2 memory.max (and memory.swap.max 0), v1 memory.limit_in_bytes (and
 * memory.memsw.limit_in_bytes). bytes <= 0 removes the limit. Returns 0 or
 * a negative code with the cause in err (-ENOENT: no memory controller;
 * -EBUSY: the service uses more than bytes and cannot be shrunk to it). */
int fl_cgroup_memory_max(const fl_cg_sys_t *sys, const char *cg, int64_t bytes,
                         fl_err_t *err);

typedef struct fl_cg_stats_s {
  int64_t cpu_ns;    /* CPU time used since the cgroup was made, -1 unknown */
  int64_t rss_bytes; /* anonymous memory (v2 memory.stat anon, v1 total_rss) */
  int64_t mem_bytes; /* all charged memory, page cache included */
  int64_t oom_kills; /* processes the OOM killer killed in cg, -1 unknown */
} fl_cg_stats_t;

/* Reads cg's use now: cpu from v2 cpu.stat usage_usec (which a hybrid
 * machine's v2 tree has too) or v1 cpuacct.usage; memory from v2
 * memory.current/memory.stat or v1 memory.usage_in_bytes/memory.stat;
 * OOM kills from v2 memory.events oom_kill or v1 memory.oom_control
 * oom_kill. Fields it cannot read are -1. Returns 0 when any was read. */
int fl_cgroup_stats(const fl_cg_sys_t *sys, const char *cg, fl_cg_stats_t *out);

/* Parses a memory size: bytes, or a number with K, M, G or T (powers of
 * 1024; "64M", "1.5G", "512k"). Returns 0 with *out, or -EINVAL. */
int fl_cgroup_parse_bytes(const char *text, int64_t *out);

#endif
