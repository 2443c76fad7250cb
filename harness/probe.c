#include "harness/probe.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/error.h"

struct fl_probe_s {
  uv_loop_t *loop;
  fl_http_t *http;
  fl_svc_t *svc;
  fl_probe_kind_t kind;
  char *target;
  char **argv;
  char *desc;
  regex_t re;
  int has_re;
  struct sockaddr_storage addr;
  uint64_t deadline;
  int every_ms;
  int timeout_ms;

  uv_timer_t timer;
  uv_tcp_t *tcp;      /* the connect attempt in flight */
  uv_process_t *cmd;  /* the command in flight */
  fl_http_req_t *req; /* the request in flight */
  char last_error[256];
  int done;
  int open; /* handles open */
  fl_probe_cb cb;
  void *arg;
};

int fl_parse_addr(const char *s, struct sockaddr_storage *addr, fl_err_t *err) {
  char host[256];
  const char *colon = strrchr(s, ':');
  if (colon == NULL || colon == s || colon[1] == '\0')
    return fl_err_set(err, UV_EINVAL, "bad address \"%s\": want host:port", s);
  size_t n = (size_t)(colon - s);
  if (s[0] == '[' && n >= 2 && s[n - 1] == ']') {
    s++;
    n -= 2;
  }
  if (n >= sizeof(host))
    return fl_err_set(err, UV_EINVAL, "bad address \"%s\"", s);
  memcpy(host, s, n);
  host[n] = '\0';
  if (strcmp(host, "localhost") == 0)
    strcpy(host, "127.0.0.1");
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535)
    return fl_err_set(err, UV_EINVAL, "bad port in address \"%s\"", s);
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)addr) == 0)
    return 0;
  if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)addr) == 0)
    return 0;
  return fl_err_set(err, UV_EINVAL, "bad address \"%s\": want a numeric IP and a port",
                    s);
}

static void probe_maybe_free(fl_probe_t *p) {
  if (!p->done || p->open > 0)
    return;
  if (p->has_re)
    regfree(&p->re);
  for (int i = 0; p->argv != NULL && p->argv[i] != NULL; i++)
    fl_free(p->argv[i]);
  fl_free(p->argv);
  fl_free(p->target);
  fl_free(p->desc);
  fl_free(p);
}

static void handle_closed(uv_handle_t *h) {
  fl_probe_t *p = h->data;
  if ((uv_handle_t *)&p->timer != h)
    fl_free(h);
  p->open--;
  probe_maybe_free(p);
}

/* Ends the probe: stops everything in flight, reports once. */
static void finish(fl_probe_t *p, int status, const char *msg) {
  if (p->done)
    return;
  p->done = 1;
  if (p->svc != NULL) {
    fl_svc_on_exit(p->svc, NULL, NULL);
    fl_svc_on_line(p->svc, NULL, NULL);
  }
  if (p->req != NULL) {
    fl_http_cancel(p->req);
    p->req = NULL;
  }
  if (p->tcp != NULL) {
    uv_close((uv_handle_t *)p->tcp, handle_closed);
    p->tcp = NULL;
  }
  if (p->cmd != NULL) {
    kill(-p->cmd->pid, SIGKILL);
    /* its exit callback closes it */
  }
  uv_close((uv_handle_t *)&p->timer, handle_closed);
  if (p->cb != NULL)
    p->cb(status, msg, p->arg);
}

static void attempt(fl_probe_t *p);

static void on_timer(uv_timer_t *t) {
  attempt(fl_container_of(t, fl_probe_t, timer));
}

static void fail_timeout(fl_probe_t *p) {
  char msg[512];
  snprintf(msg, sizeof(msg), "%s: not ready within %.1f s (last attempt: %s)", p->desc,
           p->timeout_ms / 1000.0, p->last_error[0] ? p->last_error : "no answer");
  finish(p, FL_ENOTREADY, msg);
}

/* The deadline passed with an attempt still in flight: a connect whose SYNs
 * are dropped or a command that hangs would otherwise hold the probe for as
 * long as the kernel or the command likes. finish() abandons the attempt.
 * An earlier attempt's error, when there is one, says more than "no answer". */
static void on_deadline(uv_timer_t *t) {
  fl_probe_t *p = fl_container_of(t, fl_probe_t, timer);
  if (p->last_error[0] == '\0')
    snprintf(p->last_error, sizeof(p->last_error), "%s",
             p->kind == FL_PROBE_CMD ? "the command was still running" : "no answer");
  fail_timeout(p);
}

/* While an attempt is in flight the timer is free: it watches the deadline.
 * retry_or_fail re-arms it for the next attempt when this one ends. */
static void watch_deadline(fl_probe_t *p) {
  uint64_t now = uv_now(p->loop);
  uv_timer_start(&p->timer, on_deadline, p->deadline > now ? p->deadline - now : 0, 0);
}

static void retry_or_fail(fl_probe_t *p) {
  if (p->done)
    return;
  uint64_t now = uv_now(p->loop);
  if (now >= p->deadline) {
    fail_timeout(p);
    return;
  }
  uint64_t wait = (uint64_t)p->every_ms;
  if (now + wait > p->deadline)
    wait = p->deadline - now;
  uv_timer_start(&p->timer, on_timer, wait, 0);
}

static void on_connect(uv_connect_t *req, int status) {
  fl_probe_t *p = req->data;
  uv_tcp_t *tcp = (uv_tcp_t *)req->handle;
  fl_free(req);
  if (status == UV_ECANCELED)
    return; /* finish() closed it */
  if (p->tcp == tcp) {
    p->tcp = NULL;
    uv_close((uv_handle_t *)tcp, handle_closed);
  }
  if (status == 0) {
    finish(p, 0, NULL);
    return;
  }
  snprintf(p->last_error, sizeof(p->last_error), "%s", fl_strerror(status));
  retry_or_fail(p);
}

static void on_http(const fl_http_resp_t *r, void *arg) {
  fl_probe_t *p = arg;
  p->req = NULL;
  if (r->status == 0 && r->code >= 200 && r->code < 300) {
    finish(p, 0, NULL);
    return;
  }
  if (r->status < 0)
    snprintf(p->last_error, sizeof(p->last_error), "%s", r->error);
  else
    snprintf(p->last_error, sizeof(p->last_error), "HTTP %ld", r->code);
  retry_or_fail(p);
}

static void on_cmd_exit(uv_process_t *proc, int64_t status, int sig) {
  fl_probe_t *p = proc->data;
  /* A check leaves nothing behind: whatever the command started goes too. */
  kill(-proc->pid, SIGKILL);
  uv_close((uv_handle_t *)proc, handle_closed);
  if (p->cmd != proc)
    return;
  p->cmd = NULL;
  if (p->done)
    return;
  if (status == 0 && sig == 0) {
    finish(p, 0, NULL);
    return;
  }
  snprintf(p->last_error, sizeof(p->last_error), "command exited with %s %d",
           sig ? "signal" : "code", sig ? sig : (int)status);
  retry_or_fail(p);
}

static void attempt(fl_probe_t *p) {
  if (p->done)
    return;
  /* A service that is already down will not become ready: no exit is left
   * to tell us, so say it now rather than at the timeout. */
  if (p->svc != NULL && fl_svc_state(p->svc) == FL_SVC_DOWN) {
    char msg[512];
    snprintf(msg, sizeof(msg), "%s: the service is not running", p->desc);
    finish(p, FL_ENOTREADY, msg);
    return;
  }
  switch (p->kind) {
  case FL_PROBE_TCP: {
    p->tcp = fl_malloc(sizeof(*p->tcp));
    uv_tcp_init(p->loop, p->tcp);
    p->tcp->data = p;
    p->open++;
    uv_connect_t *req = fl_malloc(sizeof(*req));
    req->data = p;
    int rc = uv_tcp_connect(req, p->tcp, (struct sockaddr *)&p->addr, on_connect);
    if (rc < 0) {
      fl_free(req);
      uv_close((uv_handle_t *)p->tcp, handle_closed);
      p->tcp = NULL;
      snprintf(p->last_error, sizeof(p->last_error), "%s", fl_strerror(rc));
      retry_or_fail(p);
      break;
    }
    watch_deadline(p);
    break;
  }
  case FL_PROBE_HTTP: {
    fl_http_opts_t o = {.url = p->target,
                        .timeout_ms = p->every_ms > 1000 ? p->every_ms : 1000};
    int rc = fl_http_request(p->http, &o, on_http, p, &p->req);
    if (rc < 0) {
      snprintf(p->last_error, sizeof(p->last_error), "%s", fl_strerror(rc));
      retry_or_fail(p);
      break;
    }
    watch_deadline(p);
    break;
  }
  case FL_PROBE_CMD: {
    p->cmd = fl_calloc(1, sizeof(*p->cmd));
    p->cmd->data = p;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
    uv_process_options_t o = {0};
    o.file = p->argv[0];
    o.args = p->argv;
    o.exit_cb = on_cmd_exit;
    o.stdio = stdio;
    o.stdio_count = 3;
    /* Its own process group, so that abandoning it (at the deadline, on
     * cancel) also kills what it started: `sh -c 'curl ... | grep ...'`. */
    o.flags = UV_PROCESS_DETACHED;
    p->open++;
    int rc = uv_spawn(p->loop, p->cmd, &o);
    if (rc < 0) {
      uv_close((uv_handle_t *)p->cmd, handle_closed);
      p->cmd = NULL;
      snprintf(p->last_error, sizeof(p->last_error), "cannot run %s: %s", p->argv[0],
               fl_strerror(rc));
      retry_or_fail(p);
      break;
    }
    watch_deadline(p);
    break;
  }
  case FL_PROBE_LOG:
    /* Lines arrive through on_line; the timer only enforces the deadline. */
    snprintf(p->last_error, sizeof(p->last_error), "no line matched /%s/", p->target);
    retry_or_fail(p);
    break;
  }
}

static void on_line(fl_svc_t *svc, const char *line, size_t len, void *arg) {
  fl_probe_t *p = arg;
  char buf[4097];
  if (len >= sizeof(buf))
    len = sizeof(buf) - 1;
  memcpy(buf, line, len);
  buf[len] = '\0';
  if (regexec(&p->re, buf, 0, NULL, 0) == 0)
    finish(p, 0, NULL);
}

static void on_svc_exit(fl_svc_t *svc, int64_t status, int sig, int expected, void *arg) {
  fl_probe_t *p = arg;
  char msg[512];
  if (sig)
    snprintf(msg, sizeof(msg),
             "%s: the service was killed by signal %d before it was ready", p->desc, sig);
  else
    snprintf(msg, sizeof(msg), "%s: the service exited with code %d before it was ready",
             p->desc, (int)status);
  finish(p, FL_ENOTREADY, msg);
}

int fl_probe_start(fl_probe_t **out, uv_loop_t *loop, fl_http_t *http, fl_svc_t *svc,
                   const fl_probe_spec_t *spec, fl_probe_cb cb, void *arg,
                   fl_err_t *err) {
  fl_probe_t *p = fl_calloc(1, sizeof(*p));
  p->loop = loop;
  p->http = http;
  p->svc = svc;
  p->kind = spec->kind;
  p->cb = cb;
  p->arg = arg;
  p->timeout_ms = spec->timeout_ms > 0 ? spec->timeout_ms : 30000;
  p->every_ms = spec->every_ms > 0 ? spec->every_ms : 100;
  p->target = spec->target ? fl_strdup(spec->target) : NULL;
  int rc = 0;
  switch (spec->kind) {
  case FL_PROBE_TCP:
    rc = fl_parse_addr(spec->target ? spec->target : "", &p->addr, err);
    p->desc = fl_asprintf("tcp %s", p->target);
    break;
  case FL_PROBE_HTTP:
    p->desc = fl_asprintf("http %s", p->target);
    break;
  case FL_PROBE_LOG:
    p->desc = fl_asprintf("log /%s/", p->target);
    if (svc == NULL) {
      rc = fl_err_set(err, FL_ECONFIG, "a log probe needs a service");
      break;
    }
    if (regcomp(&p->re, p->target, REG_EXTENDED | REG_NOSUB) != 0) {
      rc = fl_err_set(err, FL_ECONFIG, "bad log pattern /%s/", p->target);
      break;
    }
    p->has_re = 1;
    break;
  case FL_PROBE_CMD: {
    int n = 0;
    while (spec->argv && spec->argv[n])
      n++;
    if (n == 0) {
      p->desc = fl_strdup("cmd");
      rc = fl_err_set(err, FL_ECONFIG, "a cmd probe needs a command");
      break;
    }
    p->argv = fl_calloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++)
      p->argv[i] = fl_strdup(spec->argv[i]);
    p->desc = fl_asprintf("cmd %s", p->argv[0]);
    break;
  }
  }
  if (rc < 0) {
    p->done = 1;
    probe_maybe_free(p);
    return rc;
  }
  uv_timer_init(loop, &p->timer);
  p->timer.data = p;
  p->open++;
  p->deadline = uv_now(loop) + (uint64_t)p->timeout_ms;
  if (svc != NULL) {
    fl_svc_on_exit(svc, on_svc_exit, p);
    if (spec->kind == FL_PROBE_LOG)
      fl_svc_on_line(svc, on_line, p);
  }
  /* The first attempt runs from the loop, so cb never runs before we return. */
  uv_timer_start(&p->timer, on_timer, 0, 0);
  *out = p;
  return 0;
}

void fl_probe_cancel(fl_probe_t *p) {
  if (p == NULL || p->done)
    return;
  p->cb = NULL;
  finish(p, FL_ECANCELED, NULL);
}

const char *fl_probe_describe(const fl_probe_t *p) {
  return p->desc;
}
