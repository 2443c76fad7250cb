/* The service supervisor: one fl_svc_t per service a scenario declares.
 *
 * A service runs as its own process group (its own session, in fact), started
 * through faultline's exec shim so that it dies with faultline. Its stdout and
 * stderr go, line by line and time-stamped with seconds from the run start,
 * to RUN_DIR/logs/NAME.log. State changes go to the timeline. A service is
 * its whole process group: signals go to the group, and when the main
 * process exits, whatever is left of the group is killed. */
#ifndef FL_SERVICE_H
#define FL_SERVICE_H

#include <uv.h>

#include "base/error.h"
#include "base/timeline.h"

typedef struct fl_svc_s fl_svc_t;

typedef enum {
  FL_SVC_DOWN = 0, /* never started, or exited */
  FL_SVC_RUNNING,  /* started; readiness is the probe's business */
  FL_SVC_PAUSED,
  FL_SVC_STOPPING
} fl_svc_state_t;

typedef struct fl_svc_spec_s {
  const char *name;
  const char *const *argv; /* NULL-terminated; argv[0] is looked up in PATH */
  const char *const *env;  /* extra "K=V" entries, NULL-terminated, may be NULL */
  const char *cwd;         /* may be NULL */
  const char *log_dir;     /* RUN_DIR/logs */
  const char *run_id;      /* exported to the service as FL_RUN_ID */
  int stop_grace_ms;       /* SIGTERM -> SIGKILL; 0 = 5000 */
  const char *netns;       /* may be NULL: a network namespace path the shim enters */
  const char *preload;     /* may be NULL: a library the shim preloads (libfaketime) */
  int stop_signal;         /* what stop sends first; 0 = SIGTERM */
  int uid, gid;            /* run as this user and group; 0 = as faultline */
  int umask;               /* with set_umask; else inherited */
  int set_umask;
  long nofile; /* RLIMIT_NOFILE (soft and hard); 0 = inherited */
} fl_svc_spec_t;

/* What kill, pause and stop reach here: "cgroup v2", "hybrid (...)",
 * "cgroup v1 (freezer)" or "process groups" (known after the first
 * service of a run is made). */
const char *fl_svc_containment(void);

/* The service's cgroup (a directory), or NULL when it has none. */
const char *fl_svc_cgroup(const fl_svc_t *s);

/* Called once per exit of the service's main process. */
typedef void (*fl_svc_exit_cb)(fl_svc_t *svc, int64_t status, int term_signal,
                               int expected, void *arg);
/* Called for each line the service writes (stdout or stderr), without the
 * newline. line is borrowed. */
typedef void (*fl_svc_line_cb)(fl_svc_t *svc, const char *line, size_t len, void *arg);

/* Returns new in *out; copies everything in spec. tl is borrowed. */
int fl_svc_new(fl_svc_t **out, uv_loop_t *loop, fl_timeline_t *tl,
               const fl_svc_spec_t *spec, fl_err_t *err);
/* Kills the group if it still runs, cancels callbacks, and frees the
 * service once its handles are closed: the loop must run afterwards. */
void fl_svc_free(fl_svc_t *svc);

/* Spawns the service. Returns UV_EALREADY when it is running, UV_ENOENT
 * (message names the command) when argv[0] is not found. */
int fl_svc_start(fl_svc_t *svc, fl_err_t *err);
/* SIGTERM to the group, SIGKILL after the grace period. cb (may be NULL)
 * runs when the main process has exited, from the loop, never before this
 * returns; if the service is down it runs on the next loop iteration. */
void fl_svc_stop(fl_svc_t *svc, fl_svc_exit_cb cb, void *arg);
/* SIGKILL to the group, then as fl_svc_stop. */
void fl_svc_kill(fl_svc_t *svc, fl_svc_exit_cb cb, void *arg);
/* SIGSTOP / SIGCONT to the group. Return UV_ESRCH when the service is down. */
int fl_svc_pause(fl_svc_t *svc);
int fl_svc_resume(fl_svc_t *svc);
/* Sends any signal to the group. */
int fl_svc_signal(fl_svc_t *svc, int signum);

/* Observers. Only one of each; pass NULL to remove. */
void fl_svc_on_exit(fl_svc_t *svc, fl_svc_exit_cb cb, void *arg);
void fl_svc_on_line(fl_svc_t *svc, fl_svc_line_cb cb, void *arg);
/* Cancels a pending stop/kill callback (for a task canceled while it waits). */
void fl_svc_cancel_wait(fl_svc_t *svc);

const char *fl_svc_name(const fl_svc_t *svc);
int fl_svc_pid(const fl_svc_t *svc); /* 0 when down */
fl_svc_state_t fl_svc_state(const fl_svc_t *svc);
const char *fl_svc_log_path(const fl_svc_t *svc);
/* Returns new: the last n lines the service logged, joined with "\n". */
char *fl_svc_tail(const fl_svc_t *svc, int n);
/* Returns new: {name, cmd, log, pids, resources, peak_rss_bytes, cpu_s,
 * [oom_kills]} for report.json. */
json_t *fl_svc_to_json(const fl_svc_t *svc);
/* Marks the service ready on the timeline (called by the probe). */
void fl_svc_mark(fl_svc_t *svc, const char *state, const char *detail);

/* Resource limits through the service's cgroup (faults/cgroup.h): at most
 * cpus CPUs (0.2 = 20 % of one; <= 0 lifts it), at most bytes of memory
 * (<= 0 lifts it; an OOM kill of the main process is then recorded as
 * such). They hold across restarts. Return 0, or a negative code with the
 * service and the cause in err (-ENOTSUP: no cgroup, and why). */
int fl_svc_cpu_quota(fl_svc_t *svc, double cpus, fl_err_t *err);
int fl_svc_memory_max(fl_svc_t *svc, int64_t bytes, fl_err_t *err);
/* Resource use (harness/resources.h): CPU seconds so far, read now; the
 * highest RSS sampled from from_s on; OOM kills in the cgroup so far. */
double fl_svc_cpu_s(fl_svc_t *svc);
int64_t fl_svc_peak_rss_since(const fl_svc_t *svc, double from_s);
int64_t fl_svc_oom_kills(fl_svc_t *svc);

#endif
