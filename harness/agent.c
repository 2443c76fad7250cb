#include "harness/agent.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/fs.h"
#include "faults/cgroup.h"
#include "faults/subproc.h"
#include "harness/reaper.h"

extern char **environ;

#define LINE_MAX_BYTES (64 * 1024)

typedef struct agent_s agent_t;

typedef struct svc_s {
  agent_t *a;
  char *name;
  uv_process_t proc;
  uv_pipe_t pipes[2]; /* stdout, stderr */
  fl_buf_t partial[2];
  char cg[512]; /* its cgroup, or "" */
  int pid;
  int open; /* handles still open: the process and its two pipes */
  int exited, status, signal;
  struct svc_s *next;
} svc_t;

struct agent_s {
  uv_loop_t *loop;
  uv_pipe_t in, out;
  fl_buf_t inbuf;
  char *run;
  char *dir;  /* STATE/<run> */
  char *file; /* STATE/<run>/agent */
  char table[64];
  fl_cg_sys_t cg;
  int cg_ok; /* cgroups detected and the agent is root */
  char cg_parent[512];
  svc_t *svcs;
  int nft_used;
  json_t *undo; /* argvs to run at the end, or NULL */
  int ending;
  uv_signal_t sigterm, sighup;
};

void fl_agent_table(const char *run_id, char *out, size_t size) {
  snprintf(out, size, "flr%s", run_id);
}

static double wall_now(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* The start time (field 22) and state (field 3) of /proc/PID/stat; 0 when
 * the process is gone. A zombie counts as gone. */
static unsigned long long proc_start(int pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')');
  if (p == NULL || p[1] == '\0' || p[2] == 'Z' || p[2] == 'X')
    return 0;
  unsigned long long start = 0;
  /* After ") ": state is field 3, start time field 22. */
  p += 2;
  for (int field = 3; field < 22 && p != NULL; field++) {
    p = strchr(p, ' ');
    if (p != NULL)
      p++;
  }
  if (p != NULL)
    start = strtoull(p, NULL, 10);
  return start;
}

/* ---- the channel ---------------------------------------------------------- */

static void write_done(uv_write_t *w, int status) {
  fl_free(w->data);
  fl_free(w);
}

/* Writes ev (stolen) as one line, with "t" the host's clock. */
static void emit(agent_t *a, json_t *ev) {
  json_object_set_new(ev, "t", json_real(wall_now()));
  char *s = json_dumps(ev, JSON_COMPACT);
  json_decref(ev);
  if (s == NULL)
    return;
  size_t n = strlen(s);
  char *line = fl_malloc(n + 1);
  memcpy(line, s, n);
  line[n] = '\n';
  free(s);
  uv_write_t *w = fl_calloc(1, sizeof(*w));
  w->data = line;
  uv_buf_t b = uv_buf_init(line, (unsigned)(n + 1));
  if (uv_write(w, (uv_stream_t *)&a->out, &b, 1, write_done) < 0) {
    fl_free(line);
    fl_free(w);
  }
}

static json_t *answer(const char *ev, const json_t *req) {
  json_t *o = json_pack("{s:s}", "ev", ev);
  json_t *seq = json_object_get(req, "seq");
  if (seq != NULL)
    json_object_set(o, "seq", seq);
  json_t *name = json_object_get(req, "name");
  if (json_is_string(name))
    json_object_set(o, "name", name);
  json_t *op = json_object_get(req, "op");
  if (json_is_string(op) && strcmp(ev, "hello") != 0)
    json_object_set(o, "op", op);
  return o;
}

static void emit_error(agent_t *a, const json_t *req, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emit_error(agent_t *a, const json_t *req, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  json_t *o = answer("error", req);
  json_object_set_new(o, "msg", json_string(msg));
  emit(a, o);
}

/* ---- state ---------------------------------------------------------------- */

static void state_add(agent_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void state_add(agent_t *a, const char *fmt, ...) {
  FILE *f = fopen(a->file, "a");
  if (f == NULL)
    return;
  va_list ap;
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fclose(f);
}

/* Removes dir and everything in it (the run's state and the services'
 * default working directories). */
static void remove_state(const char *dir) {
  fl_rm_tree(dir);
}

/* ---- services ------------------------------------------------------------- */

/* The running service of that name (an exited one may linger while a
 * process it left holds its pipes). */
static svc_t *find_svc(agent_t *a, const char *name) {
  for (svc_t *s = a->svcs; s != NULL; s = s->next)
    if (!s->exited && strcmp(s->name, name) == 0)
      return s;
  return NULL;
}

static void svc_free(svc_t *s) {
  agent_t *a = s->a;
  for (svc_t **p = &a->svcs; *p != NULL; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  fl_buf_free(&s->partial[0]);
  fl_buf_free(&s->partial[1]);
  fl_free(s->name);
  fl_free(s);
}

static void svc_handle_closed(uv_handle_t *h) {
  svc_t *s = h->data;
  if (--s->open == 0)
    svc_free(s);
}

/* The process ended: its exit event goes out now (a line it printed last may
 * still be in a pipe and follow it), its cgroup goes once empty. */
static void svc_exited(svc_t *s) {
  json_t *o = json_pack("{s:s, s:s, s:i, s:i}", "ev", "exit", "name", s->name, "status",
                        s->status, "signal", s->signal);
  emit(s->a, o);
  if (s->cg[0] != '\0')
    fl_cgroup_remove(s->cg);
  uv_close((uv_handle_t *)&s->proc, svc_handle_closed);
}

static void emit_line(svc_t *s, int i, const char *p, size_t n) {
  json_t *o = json_pack("{s:s, s:s, s:s, s:s%}", "ev", "log", "name", s->name, "stream",
                        i == 0 ? "stdout" : "stderr", "line", p, n);
  if (o != NULL)
    emit(s->a, o);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  buf->base = fl_malloc(65536);
  buf->len = 65536;
}

static void on_svc_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  svc_t *s = st->data;
  int i = st == (uv_stream_t *)&s->pipes[0] ? 0 : 1;
  fl_buf_t *pb = &s->partial[i];
  if (nread > 0) {
    for (ssize_t k = 0; k < nread; k++) {
      char c = buf->base[k];
      if (c == '\n' || pb->len + 1 >= LINE_MAX_BYTES) {
        emit_line(s, i, fl_buf_str(pb), pb->len);
        fl_buf_reset(pb);
        if (c == '\n')
          continue;
      }
      fl_buf_add(pb, &c, 1);
    }
  }
  fl_free(buf->base);
  if (nread < 0) {
    if (pb->len > 0)
      emit_line(s, i, fl_buf_str(pb), pb->len);
    fl_buf_reset(pb);
    uv_close((uv_handle_t *)st, svc_handle_closed);
  }
}

static void on_svc_exit(uv_process_t *p, int64_t status, int sig) {
  svc_t *s = p->data;
  s->exited = 1;
  s->status = (int)status;
  s->signal = sig;
  svc_exited(s);
}

/* The environment of a service: the given "K=V" entries first (getenv finds
 * them), then the agent's own. New array of borrowed strings. */
static char **svc_env(const json_t *env) {
  size_t n = 0, m = json_array_size(env);
  while (environ[n] != NULL)
    n++;
  char **out = fl_calloc(n + m + 1, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < m; i++)
    if (json_is_string(json_array_get(env, i)))
      out[k++] = (char *)json_string_value(json_array_get(env, i));
  for (size_t i = 0; i < n; i++)
    out[k++] = environ[i];
  return out;
}

/* The cgroup of a new service, into s->cg ("" without cgroups). */
static void svc_cgroup(agent_t *a, svc_t *s) {
  if (!a->cg_ok)
    return;
  if (a->cg_parent[0] == '\0' &&
      fl_cgroup_make_parent(&a->cg, (int)getpid(), a->run, a->cg_parent,
                            sizeof(a->cg_parent), NULL) != 0) {
    a->cg_ok = 0;
    a->cg_parent[0] = '\0';
    return;
  }
  if (fl_cgroup_make(a->cg_parent, s->name, s->cg, sizeof(s->cg), NULL) != 0)
    s->cg[0] = '\0';
}

static int svc_spawn(agent_t *a, svc_t *s, const json_t *cmd, const json_t *req) {
  size_t n = json_array_size(cmd);
  char **args = fl_calloc(n + 8, sizeof(char *));
  char ppid[24];
  snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
  int k = 0;
  args[k++] = (char *)fl_self_exe();
  args[k++] = "__exec";
  args[k++] = ppid;
  if (s->cg[0] != '\0') {
    args[k++] = "--cgroup";
    args[k++] = s->cg;
  }
  args[k++] = "--";
  for (size_t i = 0; i < n; i++)
    args[k++] = (char *)json_string_value(json_array_get(cmd, i));
  char **env = svc_env(json_object_get(req, "env"));
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  for (int i = 0; i < 2; i++) {
    uv_pipe_init(a->loop, &s->pipes[i], 0);
    s->pipes[i].data = s;
    stdio[i + 1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[i + 1].data.stream = (uv_stream_t *)&s->pipes[i];
  }
  uv_process_options_t o = {0};
  o.file = "/proc/self/exe";
  o.args = args;
  o.env = env;
  /* No cwd: a directory of its own under the run's state, removed with it
   * (an etcd member's data directory, say, goes when the run ends). */
  char *own = NULL;
  o.cwd = json_string_value(json_object_get(req, "cwd"));
  if (o.cwd == NULL) {
    own = fl_asprintf("%s/%s", a->dir, s->name);
    mkdir(own, 0700);
    o.cwd = own;
  }
  o.exit_cb = on_svc_exit;
  o.stdio = stdio;
  o.stdio_count = 3;
  o.flags = UV_PROCESS_DETACHED; /* a session and process group of its own */
  s->proc.data = s;
  int rc = uv_spawn(a->loop, &s->proc, &o);
  fl_free(args);
  fl_free(env);
  fl_free(own);
  return rc;
}

static void op_start(agent_t *a, const json_t *req) {
  const char *name = json_string_value(json_object_get(req, "name"));
  const json_t *cmd = json_object_get(req, "cmd");
  int bad = !json_is_array(cmd) || json_array_size(cmd) == 0;
  for (size_t i = 0; !bad && i < json_array_size(cmd); i++)
    bad = !json_is_string(json_array_get(cmd, i));
  if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL || bad) {
    emit_error(a, req, "start wants a name (no '/') and cmd, a list of strings");
    return;
  }
  if (find_svc(a, name) != NULL) {
    emit_error(a, req, "service \"%s\" is still running", name);
    return;
  }
  svc_t *s = fl_calloc(1, sizeof(*s));
  s->a = a;
  s->name = fl_strdup(name);
  fl_buf_init(&s->partial[0], LINE_MAX_BYTES);
  fl_buf_init(&s->partial[1], LINE_MAX_BYTES);
  s->next = a->svcs;
  a->svcs = s;
  svc_cgroup(a, s);
  int rc = svc_spawn(a, s, cmd, req);
  if (rc < 0) {
    emit_error(a, req, "cannot start %s: %s", json_string_value(json_array_get(cmd, 0)),
               uv_strerror(rc));
    s->open = 3;
    uv_close((uv_handle_t *)&s->proc, svc_handle_closed);
    uv_close((uv_handle_t *)&s->pipes[0], svc_handle_closed);
    uv_close((uv_handle_t *)&s->pipes[1], svc_handle_closed);
    return;
  }
  s->pid = s->proc.pid;
  s->open = 3;
  uv_read_start((uv_stream_t *)&s->pipes[0], on_alloc, on_svc_read);
  uv_read_start((uv_stream_t *)&s->pipes[1], on_alloc, on_svc_read);
  state_add(a, "pg %d %llu\n", s->pid, proc_start(s->pid));
  json_t *o = answer("started", req);
  json_object_set_new(o, "pid", json_integer(s->pid));
  json_object_set_new(o, "cgroup", json_boolean(s->cg[0] != '\0'));
  emit(a, o);
}

/* Sends sig to every process of s: its cgroup, or its process group. */
static int svc_signal(agent_t *a, svc_t *s, int sig) {
  if (s->cg[0] != '\0') {
    int n = fl_cgroup_signal(s->cg, sig);
    return n < 0 ? n : 0;
  }
  return kill(-s->pid, sig) == 0 ? 0 : -errno;
}

static void op_control(agent_t *a, const json_t *req, const char *op) {
  const char *name = json_string_value(json_object_get(req, "name"));
  svc_t *s = name != NULL ? find_svc(a, name) : NULL;
  if (s == NULL) {
    emit_error(a, req, "no running service \"%s\"", name ? name : "");
    return;
  }
  int rc;
  if (strcmp(op, "signal") == 0) {
    json_t *sig = json_object_get(req, "sig");
    if (!json_is_integer(sig) || json_integer_value(sig) < 1 ||
        json_integer_value(sig) > 64) {
      emit_error(a, req, "signal wants sig, a signal number");
      return;
    }
    rc = svc_signal(a, s, (int)json_integer_value(sig));
  } else {
    int pause = strcmp(op, "pause") == 0;
    if (s->cg[0] != '\0')
      rc = fl_cgroup_freeze(&a->cg, s->cg, pause);
    else
      rc = kill(-s->pid, pause ? SIGSTOP : SIGCONT) == 0 ? 0 : -errno;
  }
  if (rc < 0)
    emit_error(a, req, "%s %s: %s", op, name, strerror(-rc));
  else
    emit(a, answer("ok", req));
}

/* ---- nftables ------------------------------------------------------------- */

typedef struct {
  agent_t *a;
  json_t *req;
} nft_call_t;

static void on_nft(const fl_subproc_result_t *r, void *arg) {
  nft_call_t *c = arg;
  json_t *o = answer("nft", c->req);
  json_object_set_new(o, "ok", json_boolean(r->status == 0));
  if (r->status != 0)
    json_object_set_new(o, "msg",
                        json_string(r->status < 0 ? "nft is not installed"
                                                  : (r->err_len ? r->err : "failed")));
  emit(c->a, o);
  json_decref(c->req);
  fl_free(c);
}

static void op_nft(agent_t *a, const json_t *req) {
  const char *script = json_string_value(json_object_get(req, "script"));
  if (script == NULL) {
    emit_error(a, req, "nft wants script, a string");
    return;
  }
  a->nft_used = 1;
  nft_call_t *c = fl_calloc(1, sizeof(*c));
  c->a = a;
  c->req = json_deep_copy(req);
  const char *argv[] = {"nft", "-f", "-", NULL};
  fl_subproc_run(a->loop, argv, NULL, script, 10000, on_nft, c, NULL);
}

/* ---- reach: can this host open a TCP connection to addr:port? ------------- */

typedef struct {
  agent_t *a;
  json_t *req;
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_timer_t timer;
  int open, answered;
} reach_t;

static void reach_closed(uv_handle_t *h) {
  reach_t *r = h->data;
  if (--r->open == 0) {
    json_decref(r->req);
    fl_free(r);
  }
}

static void reach_answer(reach_t *r, int ok, const char *msg) {
  if (r->answered)
    return;
  r->answered = 1;
  json_t *o = answer("reach", r->req);
  json_object_set_new(o, "ok", json_boolean(ok));
  json_object_set_new(o, "msg", json_string(msg));
  emit(r->a, o);
  uv_close((uv_handle_t *)&r->tcp, reach_closed);
  uv_close((uv_handle_t *)&r->timer, reach_closed);
}

static void on_reach_connect(uv_connect_t *c, int status) {
  reach_t *r = c->data;
  if (status == UV_ECANCELED)
    return;
  reach_answer(r, status == 0, status == 0 ? "connected" : uv_strerror(status));
}

static void on_reach_timeout(uv_timer_t *t) {
  reach_answer(t->data, 0, "no answer in time");
}

static void op_reach(agent_t *a, const json_t *req) {
  const char *addr = json_string_value(json_object_get(req, "addr"));
  json_int_t port = json_integer_value(json_object_get(req, "port"));
  double timeout = json_number_value(json_object_get(req, "timeout"));
  struct sockaddr_in sa;
  if (addr == NULL || port < 1 || port > 65535 ||
      uv_ip4_addr(addr, (int)port, &sa) != 0) {
    emit_error(a, req, "reach wants addr (an IPv4 address) and port");
    return;
  }
  reach_t *r = fl_calloc(1, sizeof(*r));
  r->a = a;
  r->req = json_deep_copy(req);
  r->open = 2;
  uv_tcp_init(a->loop, &r->tcp);
  uv_timer_init(a->loop, &r->timer);
  r->tcp.data = r->timer.data = r->conn.data = r;
  uv_timer_start(&r->timer, on_reach_timeout,
                 (uint64_t)((timeout > 0 ? timeout : 1) * 1000), 0);
  int rc =
      uv_tcp_connect(&r->conn, &r->tcp, (const struct sockaddr *)&sa, on_reach_connect);
  if (rc < 0)
    reach_answer(r, 0, uv_strerror(rc));
}

/* ---- exec and undo: commands on the host, and what to run at the end ------ */

typedef struct {
  agent_t *a;
  json_t *req;
} exec_call_t;

static void on_exec(const fl_subproc_result_t *r, void *arg) {
  exec_call_t *c = arg;
  json_t *o = answer("exec", c->req);
  json_object_set_new(o, "status", json_integer(r->status));
  json_object_set_new(o, "out", json_stringn(r->out, r->out_len));
  json_object_set_new(o, "err", json_stringn(r->err, r->err_len));
  emit(c->a, o);
  json_decref(c->req);
  fl_free(c);
}

/* The strings of argv (a JSON list of strings), NULL-ended, borrowed; NULL
 * when it is not one. */
static const char **argv_of(const json_t *argv) {
  size_t n = json_array_size(argv);
  if (!json_is_array(argv) || n == 0)
    return NULL;
  const char **v = fl_calloc(n + 1, sizeof(char *));
  for (size_t i = 0; i < n; i++)
    if ((v[i] = json_string_value(json_array_get(argv, i))) == NULL) {
      fl_free(v);
      return NULL;
    }
  return v;
}

static void op_exec(agent_t *a, const json_t *req) {
  exec_call_t *c = fl_calloc(1, sizeof(*c));
  c->a = a;
  c->req = json_deep_copy(req);
  const char **argv = argv_of(json_object_get(c->req, "argv"));
  if (argv == NULL) {
    emit_error(a, req, "exec wants argv, a list of strings");
    json_decref(c->req);
    fl_free(c);
    return;
  }
  double timeout = json_number_value(json_object_get(req, "timeout"));
  fl_subproc_run(a->loop, argv, NULL, NULL, (int)((timeout > 0 ? timeout : 30) * 1000),
                 on_exec, c, NULL);
  fl_free(argv);
}

/* Registers argv to run when the agent ends (before the table goes), and
 * in the state for --cleanup. */
static void op_undo(agent_t *a, const json_t *req) {
  const json_t *argv = json_object_get(req, "argv");
  const char **v = argv_of(argv);
  if (v == NULL) {
    emit_error(a, req, "undo wants argv, a list of strings");
    return;
  }
  fl_free(v);
  if (a->undo == NULL)
    a->undo = json_array();
  for (size_t i = 0; i < json_array_size(a->undo); i++)
    if (json_equal(json_array_get(a->undo, i), argv)) {
      emit(a, answer("ok", req));
      return;
    }
  json_array_append(a->undo, (json_t *)argv);
  char *line = json_dumps(argv, JSON_COMPACT);
  state_add(a, "undo %s\n", line);
  free(line);
  emit(a, answer("ok", req));
}

/* Runs the registered undo commands (failures do not matter). */
static void run_undo(const json_t *undo) {
  if (json_array_size(undo) == 0)
    return;
  fl_script_t *sc = fl_script_new();
  for (size_t i = 0; i < json_array_size(undo); i++) {
    const char **v = argv_of(json_array_get(undo, i));
    if (v != NULL)
      fl_script_add(sc, FL_STEP_IGNORE_FAIL, NULL, v);
    fl_free(v);
  }
  fl_script_run_sync(sc, 10000, NULL, 0);
}

/* ---- the end -------------------------------------------------------------- */

static void close_if_open(uv_handle_t *h, uv_close_cb cb) {
  if (!uv_is_closing(h))
    uv_close(h, cb);
}

/* Closes every handle of the agent, so its loop ends (a command still
 * running ends within its limit). */
static void close_all(agent_t *a) {
  for (svc_t *s = a->svcs; s != NULL; s = s->next) {
    close_if_open((uv_handle_t *)&s->proc, svc_handle_closed);
    close_if_open((uv_handle_t *)&s->pipes[0], svc_handle_closed);
    close_if_open((uv_handle_t *)&s->pipes[1], svc_handle_closed);
  }
  close_if_open((uv_handle_t *)&a->in, NULL);
  close_if_open((uv_handle_t *)&a->out, NULL);
  close_if_open((uv_handle_t *)&a->sigterm, NULL);
  close_if_open((uv_handle_t *)&a->sighup, NULL);
}

/* Kills every service, removes the cgroups, the table and the state, and
 * closes the agent's handles. Blocking is fine here: the agent is leaving. */
static void agent_end(agent_t *a) {
  if (a->ending)
    return;
  a->ending = 1;
  for (svc_t *s = a->svcs; s != NULL; s = s->next)
    if (!s->exited) {
      if (s->cg[0] == '\0')
        kill(-s->pid, SIGCONT);
      svc_signal(a, s, SIGKILL);
    }
  if (a->cg_parent[0] != '\0')
    fl_cgroup_remove_tree(&a->cg, a->cg_parent, 1);
  run_undo(a->undo);
  json_decref(a->undo);
  a->undo = NULL;
  if (a->nft_used) {
    fl_script_t *sc = fl_script_new();
    fl_script_addl(sc, FL_STEP_IGNORE_FAIL, "nft", "delete", "table", "inet", a->table,
                   NULL);
    fl_script_run_sync(sc, 10000, NULL, 0);
  }
  remove_state(a->dir);
  close_all(a);
}

static void on_signal(uv_signal_t *h, int sig) {
  agent_end(h->data);
}

static void op_hello(agent_t *a, const json_t *req) {
  json_t *o = answer("hello", req);
  json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
  json_object_set_new(o, "root", json_boolean(geteuid() == 0));
  json_object_set_new(
      o, "cgroup", a->cg_ok ? json_string(fl_cgroup_kind_name(a->cg.kind)) : json_null());
  json_object_set_new(o, "nft", json_boolean(geteuid() == 0 && fl_subproc_have("nft")));
  json_object_set_new(o, "table", json_string(a->table));
  json_object_set_new(o, "version", json_string(FL_VERSION));
  emit(a, o);
}

static void handle_line(agent_t *a, const char *line) {
  json_error_t jerr;
  json_t *req = json_loads(line, 0, &jerr);
  const char *op = json_string_value(json_object_get(req, "op"));
  if (op == NULL)
    emit_error(a, req, "not a request (a JSON object with \"op\"): %s", line);
  else if (strcmp(op, "hello") == 0)
    op_hello(a, req);
  else if (strcmp(op, "start") == 0)
    op_start(a, req);
  else if (strcmp(op, "signal") == 0 || strcmp(op, "pause") == 0 ||
           strcmp(op, "resume") == 0)
    op_control(a, req, op);
  else if (strcmp(op, "nft") == 0)
    op_nft(a, req);
  else if (strcmp(op, "reach") == 0)
    op_reach(a, req);
  else if (strcmp(op, "exec") == 0)
    op_exec(a, req);
  else if (strcmp(op, "undo") == 0)
    op_undo(a, req);
  else if (strcmp(op, "bye") == 0)
    agent_end(a);
  else
    emit_error(a, req, "unknown op \"%s\"", op);
  json_decref(req);
}

static void on_in(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  agent_t *a = st->data;
  for (ssize_t k = 0; k < nread && !a->ending; k++) {
    if (buf->base[k] != '\n') {
      fl_buf_add(&a->inbuf, &buf->base[k], 1);
      continue;
    }
    handle_line(a, fl_buf_str(&a->inbuf));
    fl_buf_reset(&a->inbuf);
  }
  fl_free(buf->base);
  if (nread < 0) /* EOF or an error: faultline or the connection is gone */
    agent_end(a);
}

static int agent_state(agent_t *a, const char *state_root) {
  mkdir(state_root, 0700);
  a->dir = fl_asprintf("%s/%s", state_root, a->run);
  a->file = fl_asprintf("%s/agent", a->dir);
  if (mkdir(a->dir, 0700) != 0 && errno != EEXIST) {
    fprintf(stderr, "faultline agent: cannot create %s: %s\n", a->dir, strerror(errno));
    return -1;
  }
  state_add(a, "pid %d %llu\ntable %s\n", (int)getpid(), proc_start((int)getpid()),
            a->table);
  return 0;
}

int fl_agent_main(uv_loop_t *loop, const char *run_id, const char *state_root, int in_fd,
                  int out_fd) {
  agent_t a = {0};
  a.loop = loop;
  a.run = (char *)run_id;
  fl_agent_table(run_id, a.table, sizeof(a.table));
  signal(SIGPIPE, SIG_IGN);
  if (agent_state(&a, state_root) < 0)
    return 2;
  a.cg_ok = geteuid() == 0 && fl_cgroup_detect(&a.cg, "/sys/fs/cgroup", NULL) == 0;
  fl_buf_init(&a.inbuf, 16 * 1024 * 1024);
  uv_pipe_init(loop, &a.in, 0);
  uv_pipe_init(loop, &a.out, 0);
  uv_pipe_open(&a.in, in_fd);
  uv_pipe_open(&a.out, out_fd);
  a.in.data = &a;
  uv_signal_init(loop, &a.sigterm);
  uv_signal_init(loop, &a.sighup);
  a.sigterm.data = a.sighup.data = &a;
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  uv_signal_start(&a.sighup, on_signal, SIGHUP);
  uv_read_start((uv_stream_t *)&a.in, on_alloc, on_in);
  uv_run(loop, UV_RUN_DEFAULT);
  fl_buf_free(&a.inbuf);
  fl_free(a.dir);
  fl_free(a.file);
  return 0;
}

/* ---- cleanup of dead agents ------------------------------------------------ */

static void said_cgroup(const char *path, void *arg) {
  printf("cgroup %s: its agent is gone; %s\n", path,
         *(int *)arg ? "would remove" : "removed");
}

/* Removes what the dead agent of state file path left; run is its id. */
static void cleanup_run(const char *dir, const char *run, int dry) {
  char *path = fl_asprintf("%s/agent", dir);
  FILE *f = fopen(path, "r");
  fl_free(path);
  char line[4096], table[64] = "";
  while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
    int pg = 0;
    unsigned long long start = 0;
    if (sscanf(line, "table %63s", table) == 1)
      continue;
    if (strncmp(line, "undo ", 5) == 0) {
      json_t *argv = json_loads(line + 5, 0, NULL);
      char *shown = json_dumps(argv, JSON_COMPACT);
      printf("run %s: undo %s; %s\n", run, shown ? shown : "?",
             dry ? "would run" : "ran");
      free(shown);
      if (!dry && argv != NULL) {
        json_t *one = json_pack("[O]", argv);
        run_undo(one);
        json_decref(one);
      }
      json_decref(argv);
      continue;
    }
    if (sscanf(line, "pg %d %llu", &pg, &start) != 2 || pg <= 1)
      continue;
    /* A group with members is still ours unless its number now belongs to
     * a newer process (its leader was ours and is gone, so then another
     * group holds the number: leave it). */
    unsigned long long now = proc_start(pg);
    if (kill(-pg, 0) != 0 || (now != 0 && now != start))
      continue;
    printf("run %s: process group %d; %s\n", run, pg, dry ? "would kill" : "killed");
    if (!dry)
      kill(-pg, SIGKILL);
  }
  if (f != NULL)
    fclose(f);
  if (table[0] != '\0' && fl_subproc_have("nft") && !dry) {
    fl_script_t *sc = fl_script_new();
    fl_script_addl(sc, 0, "nft", "delete", "table", "inet", table, NULL);
    if (fl_script_run_sync(sc, 10000, NULL, 0) == 0)
      printf("run %s: nftables table inet %s; removed\n", run, table);
  } else if (table[0] != '\0' && dry) {
    printf("run %s: nftables table inet %s, if there; would remove\n", run, table);
  }
  if (!dry)
    remove_state(dir);
}

/* Is the agent of state dir alive (its pid and start time match)? */
static int agent_alive(const char *dir) {
  char *path = fl_asprintf("%s/agent", dir);
  FILE *f = fopen(path, "r");
  fl_free(path);
  int pid = 0;
  unsigned long long start = 0;
  int n = f != NULL ? fscanf(f, "pid %d %llu", &pid, &start) : 0;
  if (f != NULL)
    fclose(f);
  return n == 2 && pid > 0 && proc_start(pid) == start;
}

int fl_agent_cleanup(const char *state_root, int dry) {
  DIR *d = opendir(state_root);
  int found = 0;
  struct dirent *de;
  while (d != NULL && (de = readdir(d)) != NULL) {
    if (de->d_name[0] == '.' || strcmp(de->d_name, "bin") == 0)
      continue;
    char *dir = fl_asprintf("%s/%s", state_root, de->d_name);
    if (!agent_alive(dir)) {
      found++;
      cleanup_run(dir, de->d_name, dry);
    }
    fl_free(dir);
  }
  if (d != NULL)
    closedir(d);
  fl_cg_sys_t sys;
  if (geteuid() == 0 && fl_cgroup_detect(&sys, "/sys/fs/cgroup", NULL) == 0)
    fl_cgroup_cleanup(&sys, dry ? FL_CG_DRY_RUN : 0, said_cgroup, &dry);
  return found;
}
