#include "harness/service.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "faults/cgroup.h"
#include "faults/clock.h"
#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "harness/reaper.h"
#include "harness/resources.h"
#include "base/error.h"

extern char **environ;

#define TAIL_LINES 40
#define LINE_MAX_LEN 4096

/* One incarnation of the service: a process and its two output pipes. It
 * outlives a restart while its pipes drain, and frees itself when its last
 * handle is closed, whether or not the service still exists. */
typedef struct proc_s {
  uv_process_t proc;
  uv_pipe_t pipes[2];
  int open;
  fl_svc_t *svc;       /* NULL once the service let go of it */
  struct proc_s *next; /* the service's incarnations whose handles are open */
  char part[2][LINE_MAX_LEN];
  size_t plen[2];
  int preloaded; /* started with the service's preload (libfaketime) */
} proc_t;

struct fl_svc_s {
  uv_loop_t *loop;
  fl_timeline_t *tl;
  char *name;
  char **argv;
  char **env;
  char *cwd;
  char *netns;   /* the shim's --netns, or NULL */
  char *preload; /* the shim's --preload, or NULL */
  char *log_path;
  FILE *log;
  int grace_ms;

  proc_t *cur;
  proc_t *procs;
  int pid;
  fl_svc_state_t state;
  const char *exit_state; /* what an exit means: "stopped", "killed", or NULL */

  uv_timer_t timer; /* SIGKILL after the grace period; deferred callbacks */
  int freeing;
  fl_svc_exit_cb wait_cb;
  void *wait_arg;
  fl_svc_exit_cb exit_cb;
  void *exit_arg;
  fl_svc_line_cb line_cb;
  void *line_arg;

  char *tail[TAIL_LINES];
  int tail_next;
  json_t *pids;

  int stop_signal;     /* SIGTERM unless the spec said otherwise */
  char *shim_opts[12]; /* --uid N --gid N --umask N --nofile N, NULL-terminated */
  char *cg;            /* the service's cgroup, or NULL (process groups only) */
  int cg_polls;        /* after the main process exited: checks left for empty */
  int64_t exit_status;
  int exit_sig;
  pid_t exit_pgid;
  proc_t *exit_pr;

  fl_res_t *res;     /* resource sampling (harness/resources.h) */
  int64_t oom_seen;  /* the cgroup's OOM kills already told */
  int64_t mem_limit; /* bytes, 0 = none (for the OOM kill's detail) */
};

/* ---- Cgroups: one per service under one parent per run (faults/cgroup.h) */

static struct {
  int detected; /* 0: not yet, 1: usable, -1: not here (said once) */
  fl_cg_sys_t sys;
  char run_id[128]; /* the run whose parent is made */
  char parent[512];
  int at_exit;
  char *made[16]; /* parents made by this process, until removed */
  char why[200];  /* why there are no cgroups, for errors that need them */
} cg = {0};

static void cg_remember(const char *parent) {
  for (int i = 0; i < 16; i++)
    if (cg.made[i] == NULL) {
      cg.made[i] = fl_strdup(parent);
      return;
    }
}

/* A parent removed: nothing left to do for it at exit. */
static void cg_forget(const char *parent) {
  for (int i = 0; i < 16; i++)
    if (cg.made[i] != NULL && strcmp(cg.made[i], parent) == 0) {
      fl_free(cg.made[i]);
      cg.made[i] = NULL;
    }
}

/* At exit, after the loop: a service freed while its processes were still
 * leaving left its cgroup behind; wait for them and remove it. */
static void cg_at_exit(void) {
  for (int i = 0; i < 16; i++)
    if (cg.made[i] != NULL) {
      if (access(cg.made[i], F_OK) == 0)
        fl_cgroup_remove_tree(&cg.sys, cg.made[i], 1); /* at exit: may wait */
      fl_free(cg.made[i]);
      cg.made[i] = NULL;
    }
}

/* The run parent's counterparts in the v1 controller hierarchies (made
 * with the first service's): removed at exit and by the reaper too. */
static void cg_watch_ctl(const char *parent) {
  char done[FL_CG_NCTL][512];
  int n = 0;
  for (int c = 0; c < FL_CG_NCTL; c++) {
    char p[512];
    if (fl_cgroup_ctl_path(&cg.sys, parent, c, p, sizeof(p)) != 0 ||
        strcmp(p, parent) == 0) /* none, or the one v2 tree */
      continue;
    int seen = 0;
    for (int k = 0; k < n; k++)
      seen |= strcmp(done[k], p) == 0;
    if (seen)
      continue;
    snprintf(done[n++], sizeof(done[0]), "%s", p);
    fl_mkdir_p(p);
    cg_remember(p);
    char *cmd = fl_cgroup_reaper_cmd(p);
    fl_reaper_on_death(p, cmd);
    fl_free(cmd);
  }
}

/* The run's parent cgroup, made on first use; NULL when cgroups are not
 * usable here (not root, none mounted), which is said once. */
static const char *cg_parent(const char *run_id) {
  fl_err_t err;
  fl_err_clear(&err);
  if (cg.detected == 0) {
    cg.detected = -1;
    if (geteuid() != 0) {
      snprintf(cg.why, sizeof(cg.why), "faultline does not run as root");
      FL_LOG(FL_LOG_WARN, "svc",
             "no cgroups (not root): kill, pause and stop reach each "
             "service's process group only, not processes that left it");
    } else if (fl_cgroup_detect(&cg.sys, "/sys/fs/cgroup", &err) != 0) {
      snprintf(cg.why, sizeof(cg.why), "%.190s", err.msg);
      FL_LOG(FL_LOG_WARN, "svc",
             "no cgroups (%s): kill, pause and stop reach each service's "
             "process group only",
             err.msg);
    } else
      cg.detected = 1;
    /* What runs killed with their reaper left (kill -9 of both), as the
     * namespace layer sweeps its own at a run's start. */
    if (cg.detected > 0)
      fl_cgroup_cleanup(&cg.sys, FL_CG_NO_WAIT, NULL, NULL); /* on the loop */
  }
  if (cg.detected < 0 || run_id == NULL)
    return NULL;
  if (strcmp(cg.run_id, run_id) != 0 || cg.parent[0] == '\0') {
    if (fl_cgroup_make_parent(&cg.sys, (int)getpid(), run_id, cg.parent,
                              sizeof(cg.parent), &err) != 0) {
      FL_LOG(FL_LOG_WARN, "svc", "no cgroups: %s; process groups only", err.msg);
      snprintf(cg.why, sizeof(cg.why), "%.190s", err.msg);
      cg.detected = -1;
      return NULL;
    }
    snprintf(cg.run_id, sizeof(cg.run_id), "%s", run_id);
    if (!cg.at_exit) {
      cg.at_exit = 1;
      atexit(cg_at_exit);
    }
    cg_remember(cg.parent);
    char *cmd = fl_cgroup_reaper_cmd(cg.parent);
    fl_reaper_on_death(cg.parent, cmd);
    fl_free(cmd);
    cg_watch_ctl(cg.parent);
  }
  return cg.parent;
}

/* Removes a service's cgroup, and the run's parent once it is the last. */
static void cg_release(const char *path) {
  fl_cgroup_freeze(&cg.sys, path, 0);
  fl_cgroup_signal(path, SIGKILL);
  if (fl_cgroup_remove(path) != 0)
    return; /* a process still leaving: the reaper or cleanup finishes it */
  fl_cgroup_remove_ctl(&cg.sys, path);
  if (cg.parent[0] != '\0' && fl_cgroup_remove(cg.parent) == 0) {
    fl_reaper_forget(cg.parent);
    cg_forget(cg.parent);
    if (fl_cgroup_remove_ctl(&cg.sys, cg.parent) == 0)
      for (int c = 0; c < FL_CG_NCTL; c++) {
        char p[512];
        if (fl_cgroup_ctl_path(&cg.sys, cg.parent, c, p, sizeof(p)) == 0) {
          fl_reaper_forget(p);
          cg_forget(p);
        }
      }
    cg.parent[0] = '\0';
    cg.run_id[0] = '\0';
  }
}

const char *fl_svc_cgroup(const fl_svc_t *s) {
  return s->cg;
}

const char *fl_svc_containment(void) {
  return cg.detected > 0 ? fl_cgroup_kind_name(cg.sys.kind) : "process groups";
}

static char **strv_dup(const char *const *v, int extra) {
  int n = 0;
  while (v != NULL && v[n] != NULL)
    n++;
  char **out = fl_calloc((size_t)(n + extra + 1), sizeof(char *));
  for (int i = 0; i < n; i++)
    out[i] = fl_strdup(v[i]);
  return out;
}

/* The environment of a service: faultline's own, then the scenario's
 * entries (which replace same-named ones), then the run marker. */
static char **build_env(const char *const *extra, const char *run_id, const char *name) {
  size_t n = 0, m = 0;
  while (environ[n] != NULL)
    n++;
  while (extra != NULL && extra[m] != NULL)
    m++;
  char **env = fl_calloc(n + m + 3, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const char *eq = strchr(environ[i], '=');
    size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
    int replaced = 0;
    for (size_t j = 0; j < m && !replaced; j++)
      replaced = strncmp(extra[j], environ[i], klen) == 0 && extra[j][klen] == '=';
    if (strncmp(environ[i], "FL_RUN_ID=", 10) == 0 ||
        strncmp(environ[i], "FL_SERVICE=", 11) == 0)
      replaced = 1;
    if (!replaced)
      env[k++] = fl_strdup(environ[i]);
  }
  for (size_t j = 0; j < m; j++)
    env[k++] = fl_strdup(extra[j]);
  env[k++] = fl_asprintf("FL_RUN_ID=%s", run_id ? run_id : "");
  env[k++] = fl_asprintf("FL_SERVICE=%s", name);
  return env;
}

static int res_pid(void *arg) {
  return ((fl_svc_t *)arg)->pid;
}

int fl_svc_new(fl_svc_t **out, uv_loop_t *loop, fl_timeline_t *tl,
               const fl_svc_spec_t *spec, fl_err_t *err) {
  if (spec->argv == NULL || spec->argv[0] == NULL)
    return fl_err_set(err, FL_ECONFIG, "service %s: cmd is empty", spec->name);
  char *log_path = fl_asprintf("%s/%s.log", spec->log_dir, spec->name);
  /* "e": close-on-exec, so the other services do not inherit it. */
  FILE *log = fopen(log_path, "ae");
  if (log == NULL) {
    int e = -errno;
    fl_err_set(err, e, "service %s: cannot open %s: %s", spec->name, log_path,
               strerror(errno));
    fl_free(log_path);
    return e;
  }
  fl_svc_t *s = fl_calloc(1, sizeof(*s));
  s->loop = loop;
  s->tl = tl;
  s->name = fl_strdup(spec->name);
  s->argv = strv_dup(spec->argv, 0);
  s->env = build_env(spec->env, spec->run_id, spec->name);
  s->cwd = spec->cwd ? fl_strdup(spec->cwd) : NULL;
  s->netns = spec->netns ? fl_strdup(spec->netns) : NULL;
  s->preload = spec->preload ? fl_strdup(spec->preload) : NULL;
  s->log_path = log_path;
  s->log = log;
  s->grace_ms = spec->stop_grace_ms > 0 ? spec->stop_grace_ms : 5000;
  s->pids = json_array();
  s->stop_signal = spec->stop_signal > 0 ? spec->stop_signal : SIGTERM;
  int k = 0;
  if (spec->uid > 0) {
    s->shim_opts[k++] = fl_strdup("--uid");
    s->shim_opts[k++] = fl_asprintf("%d", spec->uid);
  }
  if (spec->gid > 0) {
    s->shim_opts[k++] = fl_strdup("--gid");
    s->shim_opts[k++] = fl_asprintf("%d", spec->gid);
  }
  if (spec->set_umask) {
    s->shim_opts[k++] = fl_strdup("--umask");
    s->shim_opts[k++] = fl_asprintf("%d", spec->umask);
  }
  if (spec->nofile > 0) {
    s->shim_opts[k++] = fl_strdup("--nofile");
    s->shim_opts[k++] = fl_asprintf("%ld", spec->nofile);
  }
  const char *parent = cg_parent(spec->run_id);
  char path[512];
  if (parent != NULL &&
      fl_cgroup_make(parent, spec->name, path, sizeof(path), NULL) == 0) {
    s->cg = fl_strdup(path);
    fl_cgroup_make_ctl(&cg.sys, s->cg); /* limits and stats (v1 controllers) */
  }
  fl_res_new(&s->res, loop, tl, &cg.sys, s->cg, res_pid, s);
  uv_timer_init(loop, &s->timer);
  *out = s;
  return 0;
}

static void remember_line(fl_svc_t *s, const char *line, size_t len) {
  fl_free(s->tail[s->tail_next]);
  s->tail[s->tail_next] = fl_strndup(line, len);
  s->tail_next = (s->tail_next + 1) % TAIL_LINES;
}

/* Pushes the log to its file. A failed write (a full disk) is told to the
 * timeline, whose owner ends the run as an error: a log with a hole must not
 * pass for the whole story. */
static void log_flush(fl_svc_t *s) {
  errno = 0;
  if (fflush(s->log) != 0 || ferror(s->log)) {
    fl_timeline_note_write_error(s->tl, s->log_path, errno ? -errno : -EIO);
    clearerr(s->log);
  }
}

static void emit_line(proc_t *pr, const char *line, size_t len) {
  fl_svc_t *s = pr->svc;
  if (s == NULL)
    return;
  fprintf(s->log, "[%9.3f] %.*s\n", fl_timeline_seconds(s->tl), (int)len, line);
  remember_line(s, line, len);
  if (s->line_cb != NULL)
    s->line_cb(s, line, len, s->line_arg);
}

static void proc_close_cb(uv_handle_t *h) {
  proc_t *pr = h->data;
  if (--pr->open > 0)
    return;
  if (pr->svc != NULL) {
    proc_t **pp = &pr->svc->procs;
    while (*pp != pr)
      pp = &(*pp)->next;
    *pp = pr->next;
  }
  fl_free(pr);
}

static void flush_partial(proc_t *pr, int i) {
  if (pr->plen[i] > 0) {
    emit_line(pr, pr->part[i], pr->plen[i]);
    pr->plen[i] = 0;
  }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  /* Reads are consumed before the next one starts: one buffer serves all. */
  static char chunk[64 * 1024];
  buf->base = chunk;
  buf->len = sizeof(chunk);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  proc_t *pr = stream->data;
  int i = (uv_pipe_t *)stream == &pr->pipes[1];
  if (nread < 0) {
    flush_partial(pr, i);
    if (pr->svc != NULL)
      log_flush(pr->svc);
    uv_close((uv_handle_t *)stream, proc_close_cb);
    return;
  }
  const char *p = buf->base, *end = buf->base + nread;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    size_t room = LINE_MAX_LEN - pr->plen[i];
    if (n > room) {
      /* An overlong line is cut into pieces rather than grown without bound. */
      memcpy(pr->part[i] + pr->plen[i], p, room);
      pr->plen[i] = LINE_MAX_LEN;
      flush_partial(pr, i);
      p += room;
      continue;
    }
    memcpy(pr->part[i] + pr->plen[i], p, n);
    pr->plen[i] += n;
    p += n;
    if (nl != NULL) {
      if (pr->plen[i] > 0 && pr->part[i][pr->plen[i] - 1] == '\r')
        pr->plen[i]--;
      emit_line(pr, pr->part[i], pr->plen[i]);
      pr->plen[i] = 0;
      p++;
    }
  }
  if (pr->svc != NULL)
    log_flush(pr->svc);
}

static void finish_wait(fl_svc_t *s, int64_t status, int sig, int expected) {
  fl_svc_exit_cb cb = s->wait_cb;
  void *arg = s->wait_arg;
  s->wait_cb = NULL;
  if (cb != NULL)
    cb(s, status, sig, expected, arg);
}

static void svc_exited(fl_svc_t *s, proc_t *pr, pid_t pgid, int64_t status, int sig);

/* After the main process exited: the cgroup's other processes were killed;
 * the service is down once the cgroup is empty (or after 2 s, said). */
static void on_cg_poll(uv_timer_t *t) {
  fl_svc_t *s = fl_container_of(t, fl_svc_t, timer);
  int empty = fl_cgroup_empty(s->cg);
  if (empty == 0 && --s->cg_polls > 0) {
    fl_cgroup_signal(s->cg, SIGKILL);
    uv_timer_start(&s->timer, on_cg_poll, 10, 0);
    return;
  }
  if (empty == 0)
    FL_LOG(FL_LOG_WARN, "svc", "%s: processes still in %s 2 s after the kill", s->name,
           s->cg);
  svc_exited(s, s->exit_pr, s->exit_pgid, s->exit_status, s->exit_sig);
}

static void on_proc_exit(uv_process_t *p, int64_t status, int sig) {
  proc_t *pr = p->data;
  pid_t pgid = p->pid;
  /* The main process is gone; so is its group, whatever it left behind, and
   * with a cgroup every process that left the group too (setsid, daemons). */
  kill(-pgid, SIGCONT);
  kill(-pgid, SIGKILL);
  fl_reaper_untrack(pgid);
  /* libfaketime leaves shared memory named after the first process it ran in,
   * which the shim made the service's main process. */
  if (pr->preloaded)
    fl_clock_release_pid(pgid);
  uv_close((uv_handle_t *)p, proc_close_cb);
  fl_svc_t *s = pr->svc;
  if (s == NULL)
    return;
  uv_timer_stop(&s->timer);
  if (s->cg != NULL) {
    fl_cgroup_freeze(&cg.sys, s->cg, 0);
    fl_cgroup_signal(s->cg, SIGKILL);
    if (fl_cgroup_empty(s->cg) == 0) {
      s->exit_pr = pr;
      s->exit_pgid = pgid;
      s->exit_status = status;
      s->exit_sig = sig;
      s->cg_polls = 200;
      uv_timer_start(&s->timer, on_cg_poll, 1, 0);
      return;
    }
  }
  svc_exited(s, pr, pgid, status, sig);
}

/* The service is down: every process of it is gone. */
static void svc_exited(fl_svc_t *s, proc_t *pr, pid_t pgid, int64_t status, int sig) {
  int expected = s->exit_state != NULL;
  char detail[160];
  fl_res_sample(s->res);
  int64_t ooms = fl_res_oom_kills(s->res);
  int oom = ooms > s->oom_seen && sig == SIGKILL;
  s->oom_seen = ooms;
  if (oom && !expected)
    snprintf(detail, sizeof(detail),
             "killed by the OOM killer (signal 9, memory limit %lld bytes)",
             (long long)s->mem_limit);
  else if (sig)
    snprintf(detail, sizeof(detail), "killed by signal %d (%s)", sig, strsignal(sig));
  else
    snprintf(detail, sizeof(detail), "exited with code %d", (int)status);
  fl_timeline_service(s->tl, s->name, expected ? s->exit_state : "crashed", pgid, detail);
  if (!expected)
    FL_LOG(FL_LOG_INFO, "svc", "%s: %s", s->name, detail);
  /* "killed by signal 9 (Killed)", "stopped: exited with code 0", "crashed:
   * exited with code 3": the state once, never "killed killed by ...". */
  const char *state = expected ? s->exit_state : "crashed";
  size_t sl = strlen(state);
  if (strncmp(detail, state, sl) == 0 && detail[sl] == ' ')
    fprintf(s->log, "[%9.3f] -- faultline: %s\n", fl_timeline_seconds(s->tl), detail);
  else
    fprintf(s->log, "[%9.3f] -- faultline: %s: %s\n", fl_timeline_seconds(s->tl), state,
            detail);
  log_flush(s);
  if (s->cur == pr)
    s->cur = NULL;
  s->pid = 0;
  s->state = FL_SVC_DOWN;
  s->exit_state = NULL;
  if (s->exit_cb != NULL)
    s->exit_cb(s, status, sig, expected, s->exit_arg);
  finish_wait(s, status, sig, expected);
}

static char *which(const char *cmd, const char *cwd) {
  if (strchr(cmd, '/') != NULL) {
    char *path =
        (cmd[0] == '/' || cwd == NULL) ? fl_strdup(cmd) : fl_asprintf("%s/%s", cwd, cmd);
    if (access(path, X_OK) == 0)
      return path;
    fl_free(path);
    return NULL;
  }
  const char *path = getenv("PATH");
  if (path == NULL)
    path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  const char *p = path;
  while (*p) {
    const char *colon = strchr(p, ':');
    size_t n = colon ? (size_t)(colon - p) : strlen(p);
    char *full = fl_asprintf("%.*s/%s", (int)n, p, cmd);
    struct stat st;
    if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0)
      return full;
    fl_free(full);
    p += n;
    if (*p == ':')
      p++;
  }
  return NULL;
}

int fl_svc_start(fl_svc_t *s, fl_err_t *err) {
  if (s->state != FL_SVC_DOWN)
    return fl_err_set(err, UV_EALREADY, "service %s is already running (pid %d)", s->name,
                      s->pid);
  char *exe = which(s->argv[0], s->cwd);
  if (exe == NULL)
    return fl_err_set(err, UV_ENOENT, "service %s: command not found: %s", s->name,
                      s->argv[0]);
  int n = 0;
  while (s->argv[n] != NULL)
    n++;
  char ppid[24];
  snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
  char **args = fl_calloc((size_t)n + 32, sizeof(char *));
  char cgdirs[FL_CG_NCTL + 1][512];
  int k = 0;
  args[k++] = (char *)fl_self_exe();
  args[k++] = "__exec";
  args[k++] = ppid;
  if (s->netns != NULL) {
    args[k++] = "--netns";
    args[k++] = s->netns;
  }
  if (s->preload != NULL) {
    args[k++] = "--preload";
    args[k++] = s->preload;
  }
  /* The containment cgroup and its v1 controller counterparts. */
  int ncg =
      s->cg != NULL ? fl_cgroup_enter_dirs(&cg.sys, s->cg, cgdirs, FL_CG_NCTL + 1) : 0;
  for (int c = 0; c < ncg; c++) {
    args[k++] = "--cgroup";
    args[k++] = cgdirs[c];
  }
  for (int i = 0; s->shim_opts[i] != NULL; i++)
    args[k++] = s->shim_opts[i];
  args[k++] = "--";
  args[k++] = exe;
  for (int i = 1; i < n; i++)
    args[k++] = s->argv[i];

  proc_t *pr = fl_calloc(1, sizeof(*pr));
  pr->svc = s;
  pr->next = s->procs;
  s->procs = pr;
  for (int i = 0; i < 2; i++) {
    uv_pipe_init(s->loop, &pr->pipes[i], 0);
    pr->pipes[i].data = pr;
  }
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&pr->pipes[0];
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&pr->pipes[1];
  uv_process_options_t opts = {0};
  /* Exec the running image, not the path it was started from: a rebuild
   * may be relinking that path right now (it is briefly missing), or have
   * put another binary there. args[0] keeps the path, for ps. */
  opts.file = "/proc/self/exe";
  opts.args = args;
  opts.env = s->env;
  opts.cwd = s->cwd;
  opts.exit_cb = on_proc_exit;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  /* DETACHED gives the child its own session and process group, so signals
   * reach the whole service and a terminal's Ctrl-C reaches only faultline,
   * which then stops the services in order. */
  opts.flags = UV_PROCESS_DETACHED;
  pr->proc.data = pr;
  int rc = uv_spawn(s->loop, &pr->proc, &opts);
  fl_free(args);
  fl_free(exe);
  if (rc < 0) {
    pr->open = 2;
    uv_close((uv_handle_t *)&pr->pipes[0], proc_close_cb);
    uv_close((uv_handle_t *)&pr->pipes[1], proc_close_cb);
    /* uv_spawn initialised the process handle; it must be closed too. */
    pr->open++;
    uv_close((uv_handle_t *)&pr->proc, proc_close_cb);
    return fl_err_set(err, rc, "service %s: cannot start %s: %s", s->name, s->argv[0],
                      fl_strerror(rc));
  }
  pr->open = 3;
  pr->preloaded = s->preload != NULL;
  fl_reaper_track(pr->proc.pid);
  uv_read_start((uv_stream_t *)&pr->pipes[0], on_alloc, on_read);
  uv_read_start((uv_stream_t *)&pr->pipes[1], on_alloc, on_read);
  s->cur = pr;
  s->pid = pr->proc.pid;
  s->state = FL_SVC_RUNNING;
  s->exit_state = NULL;
  json_array_append_new(s->pids, json_integer(s->pid));
  fprintf(s->log, "[%9.3f] -- faultline: started pid %d\n", fl_timeline_seconds(s->tl),
          s->pid);
  log_flush(s);
  fl_timeline_service(s->tl, s->name, "starting", s->pid, NULL);
  return 0;
}

static void on_grace_over(uv_timer_t *t) {
  fl_svc_t *s = fl_container_of(t, fl_svc_t, timer);
  if (s->pid > 0) {
    FL_LOG(FL_LOG_INFO, "svc", "%s: still alive after %d ms, SIGKILL", s->name,
           s->grace_ms);
    fprintf(
        s->log,
        "[%9.3f] -- faultline: no exit %d ms after the stop signal, sending SIGKILL\n",
        fl_timeline_seconds(s->tl), s->grace_ms);
    kill(-s->pid, SIGKILL);
    if (s->cg != NULL)
      fl_cgroup_signal(s->cg, SIGKILL);
  }
}

static void on_deferred(uv_timer_t *t) {
  fl_svc_t *s = fl_container_of(t, fl_svc_t, timer);
  finish_wait(s, 0, 0, 1);
}

static void wait_exit(fl_svc_t *s, fl_svc_exit_cb cb, void *arg) {
  s->wait_cb = cb;
  s->wait_arg = arg;
  if (s->state == FL_SVC_DOWN)
    uv_timer_start(&s->timer, on_deferred, 0, 0);
}

void fl_svc_stop(fl_svc_t *s, fl_svc_exit_cb cb, void *arg) {
  wait_exit(s, cb, arg);
  if (s->state == FL_SVC_DOWN || s->exit_state != NULL)
    return;
  s->exit_state = "stopped";
  s->state = FL_SVC_STOPPING;
  fl_timeline_service(s->tl, s->name, "stopping", s->pid, NULL);
  /* A stopped process would keep SIGTERM pending: continue it. With a
   * cgroup, thaw it and tell every process, as systemd's control-group
   * mode does: a worker that left the group hears it too. */
  if (s->cg != NULL) {
    fl_cgroup_freeze(&cg.sys, s->cg, 0);
    fl_cgroup_signal(s->cg, s->stop_signal);
  }
  kill(-s->pid, s->stop_signal);
  kill(-s->pid, SIGCONT);
  uv_timer_start(&s->timer, on_grace_over, (uint64_t)s->grace_ms, 0);
}

void fl_svc_kill(fl_svc_t *s, fl_svc_exit_cb cb, void *arg) {
  wait_exit(s, cb, arg);
  if (s->state == FL_SVC_DOWN)
    return;
  s->exit_state = "killed";
  s->state = FL_SVC_STOPPING;
  if (s->cg != NULL) /* every process of the service, however detached */
    fl_cgroup_signal(s->cg, SIGKILL);
  kill(-s->pid, SIGKILL);
}

void fl_svc_cancel_wait(fl_svc_t *s) {
  s->wait_cb = NULL;
}

int fl_svc_signal(fl_svc_t *s, int signum) {
  if (s->pid <= 0)
    return UV_ESRCH;
  return kill(-s->pid, signum) == 0 ? 0 : -errno;
}

int fl_svc_pause(fl_svc_t *s) {
  if (s->state != FL_SVC_RUNNING && s->state != FL_SVC_PAUSED)
    return UV_ESRCH;
  int rc =
      s->cg != NULL ? fl_cgroup_freeze(&cg.sys, s->cg, 1) : fl_svc_signal(s, SIGSTOP);
  if (rc == 0 && s->state != FL_SVC_PAUSED) {
    s->state = FL_SVC_PAUSED;
    fl_timeline_service(s->tl, s->name, "paused", s->pid, NULL);
  }
  return rc;
}

int fl_svc_resume(fl_svc_t *s) {
  if (s->state != FL_SVC_PAUSED && s->state != FL_SVC_RUNNING)
    return UV_ESRCH;
  int rc =
      s->cg != NULL ? fl_cgroup_freeze(&cg.sys, s->cg, 0) : fl_svc_signal(s, SIGCONT);
  if (rc == 0 && s->state == FL_SVC_PAUSED) {
    s->state = FL_SVC_RUNNING;
    fl_timeline_service(s->tl, s->name, "resumed", s->pid, NULL);
  }
  return rc;
}

void fl_svc_on_exit(fl_svc_t *s, fl_svc_exit_cb cb, void *arg) {
  s->exit_cb = cb;
  s->exit_arg = arg;
}

void fl_svc_on_line(fl_svc_t *s, fl_svc_line_cb cb, void *arg) {
  s->line_cb = cb;
  s->line_arg = arg;
}

const char *fl_svc_name(const fl_svc_t *s) {
  return s->name;
}

int fl_svc_pid(const fl_svc_t *s) {
  return s->pid;
}

fl_svc_state_t fl_svc_state(const fl_svc_t *s) {
  return s->state;
}

const char *fl_svc_log_path(const fl_svc_t *s) {
  return s->log_path;
}

char *fl_svc_tail(const fl_svc_t *s, int n) {
  if (n > TAIL_LINES)
    n = TAIL_LINES;
  size_t total = 1;
  int start = (s->tail_next - n + TAIL_LINES) % TAIL_LINES;
  for (int i = 0; i < n; i++) {
    const char *l = s->tail[(start + i) % TAIL_LINES];
    if (l != NULL)
      total += strlen(l) + 3;
  }
  char *out = fl_malloc(total);
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    const char *l = s->tail[(start + i) % TAIL_LINES];
    if (l == NULL)
      continue;
    strcat(out, "  ");
    strcat(out, l);
    strcat(out, "\n");
  }
  return out;
}

json_t *fl_svc_to_json(const fl_svc_t *s) {
  json_t *cmd = json_array();
  for (int i = 0; s->argv[i] != NULL; i++)
    json_array_append_new(cmd, json_string(s->argv[i]));
  const char *base = strrchr(s->log_path, '/');
  char *log = fl_asprintf("logs/%s", base ? base + 1 : s->log_path);
  json_t *o = json_pack("{s:s, s:o, s:s, s:O}", "name", s->name, "cmd", cmd, "log", log,
                        "pids", s->pids);
  fl_free(log);
  fl_res_to_json(s->res, o);
  if (s->oom_seen > 0)
    json_object_set_new(o, "oom_kills", json_integer(s->oom_seen));
  return o;
}

void fl_svc_mark(fl_svc_t *s, const char *state, const char *detail) {
  fl_timeline_service(s->tl, s->name, state, s->pid, detail);
}

static void svc_timer_closed(uv_handle_t *h) {
  fl_svc_t *s = fl_container_of((uv_timer_t *)h, fl_svc_t, timer);
  for (int i = 0; i < TAIL_LINES; i++)
    fl_free(s->tail[i]);
  fl_strv_free(s->argv);
  fl_strv_free(s->env);
  fl_free(s->cwd);
  fl_free(s->netns);
  fl_free(s->preload);
  for (int i = 0; s->shim_opts[i] != NULL; i++)
    fl_free(s->shim_opts[i]);
  fl_free(s->log_path);
  fl_free(s->name);
  json_decref(s->pids);
  fl_free(s);
}

void fl_svc_free(fl_svc_t *s) {
  if (s == NULL || s->freeing)
    return;
  s->freeing = 1;
  fl_res_free(s->res);
  s->res = NULL;
  if (s->cur != NULL) {
    /* Still running at free: kill it, and let the incarnation drain alone. */
    kill(-s->pid, SIGCONT);
    kill(-s->pid, SIGKILL);
    s->cur = NULL;
  }
  if (s->cg != NULL) {
    cg_release(s->cg);
    fl_free(s->cg);
    s->cg = NULL;
  }
  for (proc_t *pr = s->procs; pr != NULL; pr = pr->next) {
    pr->svc = NULL;
    /* Nothing read from here on would be logged, so close the pipes now
     * rather than wait for their EOF: a process that left the group
     * (setsid) can hold them open for ever, and the loop would never end.
     * The process handle stays open until the exit is reaped. */
    for (int i = 0; i < 2; i++)
      if (!uv_is_closing((uv_handle_t *)&pr->pipes[i]))
        uv_close((uv_handle_t *)&pr->pipes[i], proc_close_cb);
  }
  s->procs = NULL;
  fclose(s->log);
  s->log = NULL;
  s->wait_cb = NULL;
  s->exit_cb = NULL;
  s->line_cb = NULL;
  uv_close((uv_handle_t *)&s->timer, svc_timer_closed);
}

/* ---- Resource limits (svc:cpu, svc:memory) --------------------------------- */

/* Puts "service NAME: " before err's message. */
static void err_prefix(fl_err_t *err, const fl_svc_t *s) {
  if (err == NULL)
    return;
  char msg[sizeof(err->msg)];
  snprintf(msg, sizeof(msg), "%s", err->msg);
  snprintf(err->msg, sizeof(err->msg), "service %.100s: %.900s", s->name, msg);
}

/* Why s cannot have limits, into err; 0 when it can. */
static int need_cgroup(const fl_svc_t *s, const char *what, fl_err_t *err) {
  if (s->cg != NULL)
    return 0;
  return fl_err_set(err, -ENOTSUP,
                    "service %s: %s needs a cgroup (faultline as root on a machine "
                    "with cgroups), and it has none: %s",
                    s->name, what, cg.why[0] ? cg.why : "no cgroup could be made");
}

int fl_svc_cpu_quota(fl_svc_t *s, double cpus, fl_err_t *err) {
  int rc = need_cgroup(s, "a CPU quota", err);
  if (rc == 0 && (rc = fl_cgroup_cpu_quota(&cg.sys, s->cg, cpus, err)) < 0)
    err_prefix(err, s);
  return rc;
}

int fl_svc_memory_max(fl_svc_t *s, int64_t bytes, fl_err_t *err) {
  int rc = need_cgroup(s, "a memory limit", err);
  if (rc == 0 && (rc = fl_cgroup_memory_max(&cg.sys, s->cg, bytes, err)) < 0)
    err_prefix(err, s);
  if (rc == 0)
    s->mem_limit = bytes > 0 ? bytes : 0;
  return rc;
}

double fl_svc_cpu_s(fl_svc_t *s) {
  return fl_res_cpu_s(s->res);
}

int64_t fl_svc_peak_rss_since(const fl_svc_t *s, double from_s) {
  return fl_res_peak_since(s->res, from_s);
}

int64_t fl_svc_oom_kills(fl_svc_t *s) {
  return fl_res_oom_kills(s->res);
}
