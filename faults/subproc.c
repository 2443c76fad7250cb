#include "faults/subproc.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/error.h"

/* Output still unread this long after the child exited belongs to a
 * grandchild that kept the pipe: it is not waited for. */
#define DRAIN_GRACE_MS 500

typedef struct {
  char *buf;
  size_t len, cap;
} capbuf_t;

struct fl_subproc_s {
  uv_process_t proc;
  uv_pipe_t in, out, err;
  uv_timer_t timer;
  uv_write_t wr;
  char *input;
  capbuf_t cap[2];
  int open;       /* handles not yet closed */
  int pipes_open; /* out/err still being read */
  int exited;
  int spawned;
  int status;
  int timed_out;
  int reported;
  fl_subproc_cb cb;
  void *arg;
};

static void cap_add(capbuf_t *c, const char *p, size_t n) {
  if (c->len + n > FL_SUBPROC_CAP)
    n = FL_SUBPROC_CAP - c->len;
  if (n == 0)
    return;
  if (c->len + n + 1 > c->cap) {
    c->cap = c->cap ? c->cap * 2 : 1024;
    while (c->cap < c->len + n + 1)
      c->cap *= 2;
    c->buf = fl_realloc(c->buf, c->cap);
  }
  memcpy(c->buf + c->len, p, n);
  c->len += n;
  c->buf[c->len] = '\0';
}

static void on_closed(uv_handle_t *h) {
  fl_subproc_t *p = h->data;
  if (--p->open > 0)
    return;
  fl_free(p->cap[0].buf);
  fl_free(p->cap[1].buf);
  fl_free(p->input);
  fl_free(p);
}

static void close_one(fl_subproc_t *p, uv_handle_t *h) {
  if (h->data == p && !uv_is_closing(h))
    uv_close(h, on_closed);
}

/* Reports once, when the child is gone and its output read, then closes. */
static void maybe_finish(fl_subproc_t *p) {
  if (!p->exited || p->pipes_open > 0 || p->reported)
    return;
  p->reported = 1;
  fl_subproc_cb cb = p->cb;
  p->cb = NULL;
  if (cb != NULL) {
    fl_subproc_result_t r = {
        .status = p->status,
        .out = p->cap[0].buf ? p->cap[0].buf : "",
        .out_len = p->cap[0].len,
        .err = p->cap[1].buf ? p->cap[1].buf : "",
        .err_len = p->cap[1].len,
        .timed_out = p->timed_out,
    };
    cb(&r, p->arg);
  }
  close_one(p, (uv_handle_t *)&p->timer);
  close_one(p, (uv_handle_t *)&p->in);
  close_one(p, (uv_handle_t *)&p->out);
  close_one(p, (uv_handle_t *)&p->err);
  close_one(p, (uv_handle_t *)&p->proc);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char chunk[16 * 1024];
  buf->base = chunk;
  buf->len = sizeof(chunk);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  fl_subproc_t *p = s->data;
  int i = (uv_pipe_t *)s == &p->err;
  if (n > 0) {
    cap_add(&p->cap[i], buf->base, (size_t)n);
    return;
  }
  if (n == 0)
    return;
  uv_read_stop(s);
  p->pipes_open--;
  maybe_finish(p);
}

static void on_drain_timeout(uv_timer_t *t) {
  fl_subproc_t *p = t->data;
  if (p->exited) {
    /* A grandchild holds the pipe: what we have is what we report. */
    uv_read_stop((uv_stream_t *)&p->out);
    uv_read_stop((uv_stream_t *)&p->err);
    p->pipes_open = 0;
    maybe_finish(p);
    return;
  }
  p->timed_out = 1;
  uv_process_kill(&p->proc, SIGKILL);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int sig) {
  fl_subproc_t *p = proc->data;
  p->exited = 1;
  p->status = sig ? 128 + sig : (int)status;
  uv_timer_stop(&p->timer);
  uv_timer_start(&p->timer, on_drain_timeout, DRAIN_GRACE_MS, 0);
  maybe_finish(p);
}

static void on_written(uv_write_t *w, int status) {
  fl_subproc_t *p = w->data;
  /* EOF on the child's stdin: nft -f - reads to the end. */
  close_one(p, (uv_handle_t *)&p->in);
}

static void on_spawn_failed(uv_timer_t *t) {
  fl_subproc_t *p = t->data;
  p->exited = 1;
  p->pipes_open = 0;
  maybe_finish(p);
}

int fl_subproc_run(uv_loop_t *loop, const char *const *argv, const char *const *env,
                   const char *input, int timeout_ms, fl_subproc_cb cb, void *arg,
                   fl_subproc_t **out) {
  fl_subproc_t *p = fl_calloc(1, sizeof(*p));
  p->cb = cb;
  p->arg = arg;
  uv_timer_init(loop, &p->timer);
  uv_pipe_init(loop, &p->in, 0);
  uv_pipe_init(loop, &p->out, 0);
  uv_pipe_init(loop, &p->err, 0);
  p->timer.data = p->in.data = p->out.data = p->err.data = p->proc.data = p;
  p->open = 4;
  uv_stdio_container_t stdio[3];
  stdio[0].flags = input != NULL ? (UV_CREATE_PIPE | UV_READABLE_PIPE) : UV_IGNORE;
  stdio[0].data.stream = (uv_stream_t *)&p->in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&p->out;
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&p->err;
  uv_process_options_t opts = {0};
  opts.file = argv[0];
  opts.args = (char **)argv;
  opts.env = (char **)env;
  opts.exit_cb = on_exit_cb;
  opts.stdio = stdio;
  opts.stdio_count = 3;
  int rc = uv_spawn(loop, &p->proc, &opts);
  p->open++; /* uv_spawn initialises the process handle even when it fails */
  if (out != NULL)
    *out = p;
  if (rc < 0) {
    p->status = rc;
    char msg[256];
    snprintf(msg, sizeof(msg), "cannot run %s: %s", argv[0], fl_strerror(rc));
    cap_add(&p->cap[1], msg, strlen(msg));
    uv_timer_start(&p->timer, on_spawn_failed, 0, 0);
    return 0;
  }
  p->spawned = 1;
  p->pipes_open = 2;
  uv_read_start((uv_stream_t *)&p->out, on_alloc, on_read);
  uv_read_start((uv_stream_t *)&p->err, on_alloc, on_read);
  if (input != NULL) {
    p->input = fl_strdup(input);
    uv_buf_t b = uv_buf_init(p->input, (unsigned)strlen(p->input));
    p->wr.data = p;
    if (uv_write(&p->wr, (uv_stream_t *)&p->in, &b, 1, on_written) < 0)
      close_one(p, (uv_handle_t *)&p->in);
  }
  if (timeout_ms > 0)
    uv_timer_start(&p->timer, on_drain_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

int fl_subproc_pid(const fl_subproc_t *p) {
  return p->spawned && !p->exited ? p->proc.pid : 0;
}

void fl_subproc_cancel(fl_subproc_t *p) {
  p->cb = NULL;
  if (p->spawned && !p->exited)
    uv_process_kill(&p->proc, SIGKILL);
}

char *fl_subproc_which(const char *cmd) {
  if (strchr(cmd, '/') != NULL)
    return access(cmd, X_OK) == 0 ? fl_strdup(cmd) : NULL;
  const char *path = getenv("PATH");
  if (path == NULL)
    path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
  for (const char *p = path; *p;) {
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

int fl_subproc_have(const char *cmd) {
  char *p = fl_subproc_which(cmd);
  int ok = p != NULL;
  fl_free(p);
  return ok;
}

/* ---- scripts ------------------------------------------------------------- */

typedef struct {
  char **argv;
  char *input;
  char *line;
  int flags;
} step_t;

struct fl_script_s {
  step_t *steps;
  size_t n, cap;
  size_t next;
  uv_loop_t *loop;
  int timeout_ms;
  fl_script_cb cb;
  void *arg;
};

fl_script_t *fl_script_new(void) {
  return fl_calloc(1, sizeof(fl_script_t));
}

void fl_script_add(fl_script_t *s, int flags, const char *input,
                   const char *const *argv) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 8;
    s->steps = fl_realloc(s->steps, s->cap * sizeof(*s->steps));
  }
  step_t *st = &s->steps[s->n++];
  size_t argc = 0, len = 1;
  while (argv[argc] != NULL)
    len += strlen(argv[argc++]) + 1;
  st->argv = fl_calloc(argc + 1, sizeof(char *));
  st->line = fl_malloc(len);
  st->line[0] = '\0';
  for (size_t i = 0; i < argc; i++) {
    st->argv[i] = fl_strdup(argv[i]);
    if (i > 0)
      strcat(st->line, " ");
    strcat(st->line, argv[i]);
  }
  st->input = input ? fl_strdup(input) : NULL;
  st->flags = flags;
}

void fl_script_addl(fl_script_t *s, int flags, const char *arg0, ...) {
  const char *argv[32];
  size_t n = 0;
  argv[n++] = arg0;
  va_list ap;
  va_start(ap, arg0);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && n < FL_ARRAY_SIZE(argv) - 1)
    argv[n++] = a;
  va_end(ap);
  argv[n] = NULL;
  fl_script_add(s, flags, NULL, argv);
}

size_t fl_script_len(const fl_script_t *s) {
  return s->n;
}

const char *fl_script_line(const fl_script_t *s, size_t i) {
  return i < s->n ? s->steps[i].line : NULL;
}

void fl_script_free(fl_script_t *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n; i++) {
    for (size_t j = 0; s->steps[i].argv[j] != NULL; j++)
      fl_free(s->steps[i].argv[j]);
    fl_free(s->steps[i].argv);
    fl_free(s->steps[i].input);
    fl_free(s->steps[i].line);
  }
  fl_free(s->steps);
  fl_free(s);
}

static void script_step(fl_script_t *s);

static void script_done(fl_script_t *s, const fl_script_result_t *r) {
  if (s->cb != NULL)
    s->cb(r, s->arg);
  fl_script_free(s);
}

static void on_step(const fl_subproc_result_t *r, void *arg) {
  fl_script_t *s = arg;
  size_t i = s->next++;
  if (r->status != 0 && !(s->steps[i].flags & FL_STEP_IGNORE_FAIL)) {
    fl_script_result_t sr = {
        .status = r->status < 0 ? r->status : (r->status ? r->status : 1),
        .failed_step = i,
        .line = s->steps[i].line,
        .result = r,
    };
    script_done(s, &sr);
    return;
  }
  script_step(s);
}

static void free_handle(uv_handle_t *h) {
  fl_free(h);
}

static void on_empty(uv_timer_t *t) {
  fl_script_t *s = t->data;
  uv_close((uv_handle_t *)t, free_handle);
  fl_script_result_t sr = {0};
  script_done(s, &sr);
}

static void script_step(fl_script_t *s) {
  if (s->next >= s->n) {
    fl_script_result_t sr = {0};
    script_done(s, &sr);
    return;
  }
  step_t *st = &s->steps[s->next];
  fl_subproc_run(s->loop, (const char *const *)st->argv, NULL, st->input, s->timeout_ms,
                 on_step, s, NULL);
}

void fl_script_run(fl_script_t *s, uv_loop_t *loop, int step_timeout_ms, fl_script_cb cb,
                   void *arg) {
  s->loop = loop;
  s->timeout_ms = step_timeout_ms;
  s->cb = cb;
  s->arg = arg;
  s->next = 0;
  if (s->n == 0) {
    /* Still from the loop, as promised. */
    uv_timer_t *t = fl_malloc(sizeof(*t));
    uv_timer_init(loop, t);
    t->data = s;
    uv_timer_start(t, on_empty, 0, 0);
    return;
  }
  script_step(s);
}

typedef struct {
  int done;
  int status;
  char *msg;
  size_t msg_size;
} sync_t;

static void on_sync_done(const fl_script_result_t *r, void *arg) {
  sync_t *y = arg;
  y->done = 1;
  y->status = r->status;
  if (r->status != 0 && y->msg != NULL) {
    const char *e = r->result && r->result->err_len ? r->result->err : "";
    size_t n = strcspn(e, "\n");
    snprintf(y->msg, y->msg_size, "%s: %.*s", r->line, (int)n,
             n ? e : (r->status < 0 ? fl_strerror(r->status) : "failed"));
  }
}

int fl_script_run_sync(fl_script_t *s, int step_timeout_ms, char *msg, size_t msg_size) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  sync_t y = {0, 0, msg, msg_size};
  if (msg != NULL && msg_size > 0)
    msg[0] = '\0';
  fl_script_run(s, &loop, step_timeout_ms, on_sync_done, &y);
  while (!y.done)
    uv_run(&loop, UV_RUN_ONCE);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return y.status;
}
