#include "harness/remote_agent.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/log.h"
#include "faults/subproc.h"
#include "harness/agent.h"

#define BIN_DIR FL_AGENT_STATE "/bin"

enum { PROBING, COPYING, INSTALLING, STARTING, READY, FAILED, GONE };

typedef struct conn_s {
  fl_agents_t *all;
  size_t i;
  const fl_host_t *h;
  int phase;
  int copied;
  char *fail;
  uv_process_t proc;
  uv_pipe_t in, out, err;
  int open; /* handles not yet closed */
  int exited;
  fl_buf_t line, errbuf;
  double t_sent, offset;
  json_t *hello;
} conn_t;

struct fl_agents_s {
  uv_loop_t *loop;
  const fl_hosts_t *hosts;
  char *run_dir, *run_id, *bin;
  fl_timeline_t *tl;
  conn_t *c;
  int pending; /* hosts not yet READY or FAILED */
  fl_agents_fn fn;
  void *fn_arg;
};

static double wall_now(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void set_failed(conn_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_failed(conn_t *c, const char *fmt, ...) {
  if (c->phase == FAILED || c->phase == READY)
    return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->fail = fl_strdup(msg);
  c->phase = FAILED;
  c->all->pending--;
}

/* The last non-empty line of s, into out. */
static void last_line(const char *s, size_t len, char *out, size_t size) {
  while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
    len--;
  size_t start = len;
  while (start > 0 && s[start - 1] != '\n')
    start--;
  size_t n = len - start < size - 1 ? len - start : size - 1;
  memcpy(out, s + start, n);
  out[n] = '\0';
}

/* env -C RUN_DIR ssh ... -- ADDRESS cmd... (new; free with fl_ssh_argv_free). */
static char **ssh_cmd(fl_agents_t *a, const fl_host_t *h, size_t i,
                      const char *const *cmd) {
  char *cp = fl_ssh_control_path(i);
  char **ssh = fl_ssh_argv(h, cp, 5, 30, cmd);
  fl_free(cp);
  size_t n = 0;
  while (ssh[n] != NULL)
    n++;
  char **argv = fl_calloc(n + 4, sizeof(char *));
  argv[0] = fl_strdup("env");
  argv[1] = fl_strdup("-C");
  argv[2] = fl_strdup(a->run_dir);
  memcpy(argv + 3, ssh, n * sizeof(char *));
  fl_free(ssh);
  return argv;
}

static void step_run(conn_t *c, char **argv, fl_subproc_cb cb) {
  fl_subproc_run(c->all->loop, (const char *const *)argv, NULL, NULL, 60000, cb, c, NULL);
  fl_ssh_argv_free(argv);
}

static void start_agent(conn_t *c);

static int step_ok(conn_t *c, const fl_subproc_result_t *r, const char *what) {
  if (r->status == 0)
    return 1;
  char why[400];
  last_line(r->err, r->err_len, why, sizeof(why));
  set_failed(c, "%s: %s", what,
             r->status < 0
                 ? fl_strerror(r->status)
                 : (why[0] ? why : (r->timed_out ? "no answer in time" : "failed")));
  return 0;
}

static void on_installed(const fl_subproc_result_t *r, void *arg) {
  conn_t *c = arg;
  if (step_ok(c, r, "installing faultline"))
    start_agent(c);
}

static void on_copied(const fl_subproc_result_t *r, void *arg) {
  conn_t *c = arg;
  if (!step_ok(c, r, "scp of faultline"))
    return;
  fl_agents_t *a = c->all;
  char *sh = fl_asprintf("chmod 755 %s/.tmp-%s-%zu && mv -f %s/.tmp-%s-%zu %s", BIN_DIR,
                         a->run_id, c->i, BIN_DIR, a->run_id, c->i, a->bin);
  const char *cmd[] = {sh, NULL};
  c->phase = INSTALLING;
  step_run(c, ssh_cmd(a, c->h, c->i, cmd), on_installed);
  fl_free(sh);
}

static void on_probed(const fl_subproc_result_t *r, void *arg) {
  conn_t *c = arg;
  if (!step_ok(c, r, "looking for faultline on the host"))
    return;
  if (r->out_len >= 4 && strncmp(r->out, "have", 4) == 0) {
    start_agent(c);
    return;
  }
  fl_agents_t *a = c->all;
  char *cp = fl_ssh_control_path(c->i);
  /* A name of its own until it is complete: two runs (or two hosts on
   * one filesystem) may copy at once. */
  char *dest = fl_asprintf("%s/.tmp-%s-%zu", BIN_DIR, a->run_id, c->i);
  /* Our own image, even while a rebuild relinks its path; /proc/self
   * would be scp's. */
  char self[64];
  snprintf(self, sizeof(self), "/proc/%d/exe", (int)getpid());
  char **argv = fl_scp_argv(c->h, cp, self, dest);
  size_t n = 0;
  while (argv[n] != NULL)
    n++;
  char **full = fl_calloc(n + 4, sizeof(char *));
  full[0] = fl_strdup("env");
  full[1] = fl_strdup("-C");
  full[2] = fl_strdup(a->run_dir);
  memcpy(full + 3, argv, n * sizeof(char *));
  fl_free(argv);
  fl_free(cp);
  fl_free(dest);
  c->phase = COPYING;
  c->copied = 1;
  step_run(c, full, on_copied);
}

/* ---- the agent's session ------------------------------------------------------ */

static void conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  c->open--;
}

static void write_log(fl_agents_t *a, conn_t *c, const json_t *ev) {
  const char *name = json_string_value(json_object_get(ev, "name"));
  const char *line = json_string_value(json_object_get(ev, "line"));
  if (name == NULL || line == NULL || strchr(name, '/') != NULL || name[0] == '.')
    return;
  double t = json_number_value(json_object_get(ev, "t")) - c->offset;
  char *path = fl_asprintf("%s/logs/%s.log", a->run_dir, name);
  FILE *f = fopen(path, "a");
  fl_free(path);
  if (f == NULL)
    return;
  fprintf(f, "%.6f %s %s: %s\n", t, c->h->name,
          strcmp(json_string_value(json_object_get(ev, "stream")) ?: "", "stderr") == 0
              ? "err"
              : "out",
          line);
  fclose(f);
}

static void handle_event(conn_t *c, const char *text) {
  fl_agents_t *a = c->all;
  json_t *ev = json_loads(text, 0, NULL);
  const char *kind = json_string_value(json_object_get(ev, "ev"));
  if (kind == NULL) {
    FL_LOG(FL_LOG_WARN, "remote", "host \"%s\": the agent said: %s", c->h->name, text);
  } else if (strcmp(kind, "hello") == 0 && c->phase == STARTING) {
    double t1 = wall_now();
    c->offset = json_number_value(json_object_get(ev, "t")) - (c->t_sent + t1) / 2;
    c->hello = json_incref(ev);
    c->phase = READY;
    a->pending--;
  } else if (strcmp(kind, "log") == 0) {
    write_log(a, c, ev);
  } else if (strcmp(kind, "exit") == 0 && a->tl != NULL) {
    fl_timeline_event(a->tl, "remote_exit",
                      json_pack("{s:s, s:O?, s:O?, s:O?}", "host", c->h->name, "name",
                                json_object_get(ev, "name"), "status",
                                json_object_get(ev, "status"), "signal",
                                json_object_get(ev, "signal")));
  } else if (strcmp(kind, "error") == 0) {
    FL_LOG(FL_LOG_WARN, "remote", "host \"%s\": the agent: %s", c->h->name,
           json_string_value(json_object_get(ev, "msg")));
  }
  if (ev != NULL && a->fn != NULL)
    a->fn(c->i, ev, a->fn_arg);
  json_decref(ev);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  buf->base = fl_malloc(65536);
  buf->len = 65536;
}

static void on_out(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = st->data;
  for (ssize_t k = 0; k < nread; k++) {
    if (buf->base[k] != '\n') {
      fl_buf_add(&c->line, &buf->base[k], 1);
      continue;
    }
    handle_event(c, fl_buf_str(&c->line));
    fl_buf_reset(&c->line);
  }
  fl_free(buf->base);
  if (nread < 0)
    uv_close((uv_handle_t *)st, conn_closed);
}

static void on_err(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = st->data;
  if (nread > 0)
    fl_buf_add(&c->errbuf, buf->base, (size_t)nread);
  fl_free(buf->base);
  if (nread < 0)
    uv_close((uv_handle_t *)st, conn_closed);
}

static void on_agent_exit(uv_process_t *p, int64_t status, int sig) {
  conn_t *c = p->data;
  c->exited = 1;
  char why[400];
  last_line(fl_buf_str(&c->errbuf), c->errbuf.len, why, sizeof(why));
  if (c->phase == STARTING)
    set_failed(c, "the agent ended at once (status %d): %s", (int)status,
               why[0] ? why : "no message");
  else if (c->phase == READY && !uv_is_closing((uv_handle_t *)&c->in))
    FL_LOG(FL_LOG_WARN, "remote", "host \"%s\": the agent ended (status %d): %s",
           c->h->name, (int)status, why[0] ? why : "no message");
  if (c->phase == READY)
    c->phase = GONE;
  uv_close((uv_handle_t *)p, conn_closed);
}

static void start_agent(conn_t *c) {
  fl_agents_t *a = c->all;
  const char *cmd[8];
  int k = 0;
  if (c->h->sudo) {
    cmd[k++] = "sudo";
    cmd[k++] = "-n";
  }
  cmd[k++] = a->bin;
  cmd[k++] = "agent";
  cmd[k++] = "--run";
  cmd[k++] = a->run_id;
  cmd[k] = NULL;
  char **argv = ssh_cmd(a, c->h, c->i, cmd);
  uv_pipe_init(a->loop, &c->in, 0);
  uv_pipe_init(a->loop, &c->out, 0);
  uv_pipe_init(a->loop, &c->err, 0);
  c->in.data = c->out.data = c->err.data = c->proc.data = c;
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
  stdio[0].data.stream = (uv_stream_t *)&c->in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&c->out;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&c->err;
  uv_process_options_t o = {0};
  o.file = argv[0];
  o.args = argv;
  o.exit_cb = on_agent_exit;
  o.stdio = stdio;
  o.stdio_count = 3;
  c->phase = STARTING;
  c->open = 4;
  int rc = uv_spawn(a->loop, &c->proc, &o);
  fl_ssh_argv_free(argv);
  if (rc < 0) {
    set_failed(c, "cannot start ssh: %s", uv_strerror(rc));
    c->exited = 1;
    uv_close((uv_handle_t *)&c->proc, conn_closed);
    uv_close((uv_handle_t *)&c->in, conn_closed);
    uv_close((uv_handle_t *)&c->out, conn_closed);
    uv_close((uv_handle_t *)&c->err, conn_closed);
    return;
  }
  uv_read_start((uv_stream_t *)&c->out, on_alloc, on_out);
  uv_read_start((uv_stream_t *)&c->err, on_alloc, on_err);
  c->t_sent = wall_now();
  json_t *hello = json_pack("{s:s}", "op", "hello");
  fl_agents_send(a, c->i, hello);
  json_decref(hello);
}

/* ---- the public side ------------------------------------------------------------ */

static void write_done(uv_write_t *w, int status) {
  fl_free(w->data);
  fl_free(w);
}

int fl_agents_send(fl_agents_t *a, size_t i, const json_t *req) {
  conn_t *c = &a->c[i];
  if ((c->phase != STARTING && c->phase != READY) || c->exited ||
      uv_is_closing((uv_handle_t *)&c->in))
    return UV_EPIPE;
  char *s = json_dumps(req, JSON_COMPACT);
  size_t n = strlen(s);
  char *line = fl_malloc(n + 1);
  memcpy(line, s, n);
  line[n] = '\n';
  free(s);
  uv_write_t *w = fl_calloc(1, sizeof(*w));
  w->data = line;
  uv_buf_t b = uv_buf_init(line, (unsigned)(n + 1));
  int rc = uv_write(w, (uv_stream_t *)&c->in, &b, 1, write_done);
  if (rc < 0) {
    fl_free(line);
    fl_free(w);
  }
  return rc;
}

/* /tmp/faultline-agent/bin/faultline-<version>-<size>-<mtime> (new). */
static char *remote_bin(void) {
  struct stat st;
  if (stat("/proc/self/exe", &st) != 0)
    memset(&st, 0, sizeof(st));
  return fl_asprintf("%s/faultline-%s-%lld-%lld", BIN_DIR, FL_VERSION,
                     (long long)st.st_size, (long long)st.st_mtime);
}

static void on_deadline(uv_timer_t *t) {
  fl_agents_t *a = t->data;
  for (size_t i = 0; i < a->hosts->n; i++)
    set_failed(&a->c[i], "no answer in time");
}

static void noop_close(uv_handle_t *h) {
}

static void wait_pending(fl_agents_t *a, int timeout_s) {
  uv_timer_t deadline;
  uv_timer_init(a->loop, &deadline);
  deadline.data = a;
  uv_timer_start(&deadline, on_deadline, (uint64_t)timeout_s * 1000, 0);
  while (a->pending > 0)
    uv_run(a->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&deadline, noop_close);
  uv_run(a->loop, UV_RUN_NOWAIT);
}

int fl_agents_start(uv_loop_t *loop, const fl_hosts_t *hosts, const char *run_dir,
                    const char *run_id, fl_timeline_t *tl, int timeout_s,
                    fl_agents_t **out, fl_err_t *err) {
  fl_agents_t *a = fl_calloc(1, sizeof(*a));
  a->loop = loop;
  a->hosts = hosts;
  a->run_dir = fl_strdup(run_dir);
  a->run_id = fl_strdup(run_id);
  a->bin = remote_bin();
  a->tl = tl;
  a->c = fl_calloc(hosts->n, sizeof(conn_t));
  a->pending = (int)hosts->n;
  char *probe = fl_asprintf("test -x %s && echo have || mkdir -p %s", a->bin, BIN_DIR);
  for (size_t i = 0; i < hosts->n; i++) {
    conn_t *c = &a->c[i];
    c->all = a;
    c->i = i;
    c->h = &hosts->v[i];
    fl_buf_init(&c->line, 16 * 1024 * 1024);
    fl_buf_init(&c->errbuf, 64 * 1024);
    const char *cmd[] = {probe, NULL};
    step_run(c, ssh_cmd(a, c->h, i, cmd), on_probed);
  }
  fl_free(probe);
  wait_pending(a, timeout_s);
  fl_buf_t fails;
  fl_buf_init(&fails, 64 * 1024);
  for (size_t i = 0; i < hosts->n; i++)
    if (a->c[i].phase == FAILED)
      fl_buf_printf(&fails, "%shost \"%s\" (%s): %s", fails.len ? "\n" : "",
                    hosts->v[i].name, hosts->v[i].address, a->c[i].fail);
  int rc = 0;
  if (fails.len > 0) {
    rc = fl_err_set(err, FL_ECONFIG, "cannot start faultline's agent on every host:\n%s",
                    fl_buf_str(&fails));
    fl_agents_stop(loop, a);
    a = NULL;
  }
  fl_buf_free(&fails);
  *out = a;
  return rc;
}

json_t *fl_agents_describe(const fl_agents_t *a) {
  json_t *list = json_array();
  for (size_t i = 0; a != NULL && i < a->hosts->n; i++) {
    const conn_t *c = &a->c[i];
    json_t *o = json_pack("{s:s, s:s, s:f}", "name", c->h->name, "address", c->h->address,
                          "offset_s", c->offset);
    json_object_set(o, "root", json_object_get(c->hello, "root"));
    json_object_set(o, "cgroup", json_object_get(c->hello, "cgroup"));
    json_object_set(o, "nft", json_object_get(c->hello, "nft"));
    json_object_set_new(o, "copied", json_boolean(c->copied));
    json_array_append_new(list, o);
  }
  return list;
}

double fl_agents_offset(const fl_agents_t *a, size_t i) {
  return a->c[i].offset;
}

int fl_agents_index(const fl_agents_t *a, const char *name) {
  for (size_t i = 0; i < a->hosts->n; i++)
    if (strcmp(a->hosts->v[i].name, name) == 0)
      return (int)i;
  return -1;
}

void fl_agents_on_event(fl_agents_t *a, fl_agents_fn fn, void *arg) {
  a->fn = fn;
  a->fn_arg = arg;
}

static void on_stop_deadline(uv_timer_t *t) {
  fl_agents_t *a = t->data;
  for (size_t i = 0; i < a->hosts->n; i++)
    if (!a->c[i].exited && a->c[i].open > 0)
      uv_process_kill(&a->c[i].proc, SIGKILL);
}

static int open_handles(const fl_agents_t *a) {
  int n = 0;
  for (size_t i = 0; i < a->hosts->n; i++)
    n += a->c[i].open;
  return n;
}

void fl_agents_stop(uv_loop_t *loop, fl_agents_t *a) {
  if (a == NULL)
    return;
  /* Steps still running (probe, scp) end on their own within their limit. */
  while (a->pending > 0)
    uv_run(loop, UV_RUN_ONCE);
  json_t *bye = json_pack("{s:s}", "op", "bye");
  for (size_t i = 0; i < a->hosts->n; i++) {
    conn_t *c = &a->c[i];
    if (c->open > 0) {
      fl_agents_send(a, i, bye);
      if (!uv_is_closing((uv_handle_t *)&c->in))
        uv_close((uv_handle_t *)&c->in, conn_closed);
    }
  }
  json_decref(bye);
  uv_timer_t deadline;
  uv_timer_init(loop, &deadline);
  deadline.data = a;
  uv_timer_start(&deadline, on_stop_deadline, 10000, 0);
  while (open_handles(a) > 0)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&deadline, noop_close);
  uv_run(loop, UV_RUN_NOWAIT);
  for (size_t i = 0; i < a->hosts->n; i++) {
    fl_buf_free(&a->c[i].line);
    fl_buf_free(&a->c[i].errbuf);
    fl_free(a->c[i].fail);
    json_decref(a->c[i].hello);
  }
  fl_free(a->c);
  fl_free(a->run_dir);
  fl_free(a->run_id);
  fl_free(a->bin);
  fl_free(a);
}
