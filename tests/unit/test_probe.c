/* harness/probe: readiness probes against real listeners and processes.
 * Services start through the exec shim, which is this binary (see main).
 *
 * Covered: tcp ready after a delay (a listener that opens late, and a real
 * python3 -m http.server service), tcp never ready (refused: FL_ENOTREADY
 * within the timeout, with a message), tcp whose connect hangs (SYNs
 * dropped: still fails at the timeout), http 2xx vs 500 (and 500 that turns
 * 200), log pattern (match, never, bad pattern), cmd (ready late, fails,
 * not found, hangs past the timeout and leaves no process behind), a service
 * that exits or is killed during the probe (fails fast), a service already
 * down, cancel (before and during an attempt), fl_parse_addr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/alloc.h"
#include "harness/probe.h"
#include "harness/reaper.h"
#include "tests/helpers/unit_loop.h"

typedef struct {
  uv_loop_t loop;
  fl_timeline_t *tl;
  fl_http_t *http;
  char dir[64];
  fl_svc_t *svc;
  fl_probe_t *probe;
  int calls;
  int status;
  char msg[1024];
  uint64_t t0, done_ms; /* when the probe started, and called back */
} fx_t;

static void on_probe(int status, const char *msg, void *arg) {
  fx_t *fx = arg;
  fx->calls++;
  fx->status = status;
  snprintf(fx->msg, sizeof(fx->msg), "%s", msg ? msg : "");
  fx->done_ms = ut_ms() - fx->t0;
  fx->probe = NULL; /* it frees itself */
}

static void on_probe_must_not_run(int status, const char *msg, void *arg) {
  fail_msg("callback of a canceled probe ran (%d %s)", status, msg ? msg : "");
}

static int setup(void **state) {
  fx_t *fx = fl_calloc(1, sizeof(*fx));
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(fl_timeline_new(&fx->tl, NULL, NULL), 0);
  assert_int_equal(fl_http_new(&fx->http, &fx->loop), 0);
  ut_tmpdir(fx->dir, sizeof(fx->dir), "probe");
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  fl_timeline_free(fx->tl);
  ut_rmdir(fx->dir);
  fl_free(fx);
  return 0;
}

static void close_loop(fx_t *fx) {
  fl_probe_cancel(fx->probe);
  fl_svc_free(fx->svc);
  fl_http_free(fx->http);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static int probe(fx_t *fx, fl_probe_kind_t kind, const char *target,
                 const char *const *argv, int timeout_ms, fl_err_t *err) {
  fl_probe_spec_t spec = {.kind = kind,
                          .target = target,
                          .argv = argv,
                          .timeout_ms = timeout_ms,
                          .every_ms = 50};
  fx->calls = 0;
  fx->msg[0] = '\0';
  /* The probe's deadline is on loop time: make it now, as t0 is. */
  uv_update_time(&fx->loop);
  fx->t0 = ut_ms();
  int rc =
      fl_probe_start(&fx->probe, &fx->loop, fx->http, fx->svc, &spec, on_probe, fx, err);
  if (rc == 0)
    assert_int_equal(fx->calls, 0); /* never before fl_probe_start returns */
  return rc;
}

/* Runs until the probe called back (at most 10 s). */
static void wait_probe(fx_t *fx) {
  if (!ut_run_until(&fx->loop, &fx->calls, 10000))
    fail_msg("the probe did not call back within 10 s");
  assert_int_equal(fx->calls, 1);
}

static void start_svc(fx_t *fx, const char *name, const char *const *argv) {
  fl_svc_spec_t spec = {.name = name,
                        .argv = argv,
                        .cwd = fx->dir,
                        .log_dir = fx->dir,
                        .stop_grace_ms = 1000};
  fl_err_t err = {0};
  assert_int_equal(fl_svc_new(&fx->svc, &fx->loop, fx->tl, &spec, &err), 0);
  if (fl_svc_start(fx->svc, &err) != 0)
    fail_msg("%s", err.msg);
}

/* ---- listeners ---- */

/* A port nothing listens on: bound, then closed. */
static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

/* A tiny HTTP server on the test's loop: answers every request with `code`
 * (then 200 once `fails` answers were given), and closes. */
typedef struct {
  uv_tcp_t tcp;
  int port;
  int code;
  int fails; /* answers with `code` before turning 200; -1: always */
  int answered;
} http_srv_t;

typedef struct {
  uv_tcp_t tcp;
  http_srv_t *srv;
  char buf[4096];
  size_t len;
  uv_write_t wr;
  char out[256];
  uv_buf_t ob;
} http_conn_t;

static void conn_closed(uv_handle_t *h) {
  fl_free(h->data);
}

static void on_conn_written(uv_write_t *w, int status) {
  http_conn_t *c = w->data;
  uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void on_conn_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  http_conn_t *c = h->data;
  buf->base = c->buf + c->len;
  buf->len = sizeof(c->buf) - 1 - c->len;
}

static void on_conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  http_conn_t *c = s->data;
  if (n < 0 || c->len + (size_t)n >= sizeof(c->buf) - 1) {
    uv_close((uv_handle_t *)s, conn_closed);
    return;
  }
  c->len += (size_t)n;
  c->buf[c->len] = '\0';
  if (strstr(c->buf, "\r\n\r\n") == NULL)
    return;
  uv_read_stop(s);
  http_srv_t *srv = c->srv;
  int code = (srv->fails < 0 || srv->answered < srv->fails) ? srv->code : 200;
  srv->answered++;
  int len =
      snprintf(c->out, sizeof(c->out),
               "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", code);
  c->ob = uv_buf_init(c->out, (unsigned)len);
  c->wr.data = c;
  uv_write(&c->wr, s, &c->ob, 1, on_conn_written);
}

static void on_http_conn(uv_stream_t *l, int status) {
  http_srv_t *srv = l->data;
  http_conn_t *c = fl_calloc(1, sizeof(*c));
  c->srv = srv;
  uv_tcp_init(l->loop, &c->tcp);
  c->tcp.data = c;
  uv_accept(l, (uv_stream_t *)&c->tcp);
  uv_read_start((uv_stream_t *)&c->tcp, on_conn_alloc, on_conn_read);
}

static void http_srv_start(http_srv_t *srv, uv_loop_t *loop, int code, int fails) {
  memset(srv, 0, sizeof(*srv));
  srv->code = code;
  srv->fails = fails;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(loop, &srv->tcp);
  srv->tcp.data = srv;
  assert_int_equal(uv_tcp_bind(&srv->tcp, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&srv->tcp, 64, on_http_conn), 0);
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&ss, &len);
  srv->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* A listener that opens after a delay (a service that takes time to bind). */
typedef struct {
  uv_timer_t timer;
  uv_tcp_t tcp;
  int port;
  int listening;
} late_t;

static void on_late_conn(uv_stream_t *l, int status) {
  uv_tcp_t *c = fl_malloc(sizeof(*c));
  uv_tcp_init(l->loop, c);
  c->data = c;
  uv_accept(l, (uv_stream_t *)c);
  uv_close((uv_handle_t *)c, conn_closed);
}

static void on_late_timer(uv_timer_t *t) {
  late_t *late = t->data;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", late->port, &a);
  uv_tcp_init(t->loop, &late->tcp);
  assert_int_equal(uv_tcp_bind(&late->tcp, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&late->tcp, 64, on_late_conn), 0);
  late->listening = 1;
}

/* ---- tests ---- */

static void test_tcp_ready_late(void **state) {
  fx_t *fx = *state;
  late_t late = {.port = free_port()};
  uv_timer_init(&fx->loop, &late.timer);
  late.timer.data = &late;
  uv_update_time(&fx->loop); /* 500 ms from now, not from a stale loop time */
  uv_timer_start(&late.timer, on_late_timer, 500, 0);
  char *addr = fl_asprintf("127.0.0.1:%d", late.port);
  assert_int_equal(probe(fx, FL_PROBE_TCP, addr, NULL, 10000, NULL), 0);
  char *desc = fl_asprintf("tcp %s", addr);
  assert_string_equal(fl_probe_describe(fx->probe), desc);
  wait_probe(fx);
  assert_int_equal(fx->status, 0);
  assert_true(late.listening);
  assert_true(fx->done_ms >= 400);
  uv_close((uv_handle_t *)&late.timer, NULL);
  uv_close((uv_handle_t *)&late.tcp, NULL);
  fl_free(desc);
  fl_free(addr);
  close_loop(fx);
}

static void test_tcp_never_ready(void **state) {
  fx_t *fx = *state;
  char *addr = fl_asprintf("127.0.0.1:%d", free_port());
  assert_int_equal(probe(fx, FL_PROBE_TCP, addr, NULL, 600, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_true(fx->done_ms >= 550);
  assert_true(fx->done_ms < 5000);
  assert_non_null(strstr(fx->msg, addr));
  assert_non_null(strstr(fx->msg, "not ready within 0.6 s"));
  assert_non_null(strstr(fx->msg, "connection refused"));
  fl_free(addr);
  close_loop(fx);
}

/* A connect that never completes (the listener's queue is full, so its SYNs
 * are dropped) must not hold the probe past its timeout. */
static void test_tcp_connect_hangs(void **state) {
  fx_t *fx = *state;
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(l, 0), 0);
  assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
  /* One connection fills a backlog of 0; it is never accepted. */
  int filler = socket(AF_INET, SOCK_STREAM, 0);
  assert_int_equal(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);

  char *addr = fl_asprintf("127.0.0.1:%d", ntohs(a.sin_port));
  assert_int_equal(probe(fx, FL_PROBE_TCP, addr, NULL, 700, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_true(fx->done_ms >= 650);
  assert_true(fx->done_ms < 5000);
  assert_non_null(strstr(fx->msg, "not ready within 0.7 s (last attempt: no answer)"));
  fl_free(addr);
  close(filler);
  close(l);
  close_loop(fx);
}

static void test_tcp_real_service(void **state) {
  fx_t *fx = *state;
  int port = free_port();
  char *script =
      fl_asprintf("sleep 0.3; exec python3 -m http.server %d --bind 127.0.0.1", port);
  const char *argv[] = {"sh", "-c", script, NULL};
  start_svc(fx, "web", argv);
  char *addr = fl_asprintf("localhost:%d", port);
  assert_int_equal(probe(fx, FL_PROBE_TCP, addr, NULL, 10000, NULL), 0);
  wait_probe(fx);
  if (fx->status != 0)
    fail_msg("%s", fx->msg);

  /* And an http probe of the same service: 200 for the directory. */
  char *url = fl_asprintf("http://127.0.0.1:%d/", port);
  assert_int_equal(probe(fx, FL_PROBE_HTTP, url, NULL, 10000, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, 0);
  /* A 404 is not ready. */
  char *missing = fl_asprintf("http://127.0.0.1:%d/missing", port);
  assert_int_equal(probe(fx, FL_PROBE_HTTP, missing, NULL, 500, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_non_null(strstr(fx->msg, "HTTP 404"));
  fl_free(missing);
  fl_free(url);
  fl_free(addr);
  fl_free(script);
  close_loop(fx);
}

static void test_http_2xx_vs_500(void **state) {
  fx_t *fx = *state;
  http_srv_t srv;
  /* Three 500s, then 200: ready on the fourth attempt. */
  http_srv_start(&srv, &fx->loop, 500, 3);
  char *url = fl_asprintf("http://127.0.0.1:%d/health", srv.port);
  assert_int_equal(probe(fx, FL_PROBE_HTTP, url, NULL, 10000, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, 0);
  assert_int_equal(srv.answered, 4);

  /* Always 500: not ready, and the message says so. */
  srv.fails = -1;
  srv.answered = 0;
  assert_int_equal(probe(fx, FL_PROBE_HTTP, url, NULL, 600, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_true(srv.answered >= 2);
  assert_non_null(strstr(fx->msg, "HTTP 500"));
  assert_non_null(strstr(fx->msg, url));
  assert_true(fx->done_ms < 5000);
  uv_close((uv_handle_t *)&srv.tcp, NULL);

  /* Nobody listening: curl's message. */
  fl_free(url);
  url = fl_asprintf("http://127.0.0.1:%d/", free_port());
  assert_int_equal(probe(fx, FL_PROBE_HTTP, url, NULL, 400, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_null(strstr(fx->msg, "no answer"));
  fl_free(url);
  close_loop(fx);
}

static void test_log_pattern(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {
      "sh", "-c", "echo booting; sleep 0.3; echo 'listening on port 8080'; exec sleep 60",
      NULL};
  start_svc(fx, "logger", argv);
  assert_int_equal(
      probe(fx, FL_PROBE_LOG, "listening on port [0-9]+$", NULL, 10000, NULL), 0);
  assert_string_equal(fl_probe_describe(fx->probe), "log /listening on port [0-9]+$/");
  wait_probe(fx);
  assert_int_equal(fx->status, 0);
  assert_true(fx->done_ms >= 150); /* it waited for the line, not the first one */

  /* A pattern that never shows. */
  assert_int_equal(probe(fx, FL_PROBE_LOG, "^ready$", NULL, 400, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_non_null(strstr(fx->msg, "no line matched /^ready$/"));

  /* A bad pattern, and a log probe without a service: errors at once. */
  fl_err_t err = {0};
  fl_probe_t *p = NULL;
  assert_int_equal(probe(fx, FL_PROBE_LOG, "([unclosed", NULL, 400, &err), FL_ECONFIG);
  assert_non_null(strstr(err.msg, "([unclosed"));
  fl_probe_spec_t spec = {.kind = FL_PROBE_LOG, .target = "x"};
  assert_int_equal(
      fl_probe_start(&p, &fx->loop, fx->http, NULL, &spec, on_probe, fx, &err),
      FL_ECONFIG);
  assert_non_null(strstr(err.msg, "needs a service"));
  ut_run_for(&fx->loop, 50);
  assert_int_equal(fx->calls, 0);
  fx->probe = NULL;
  close_loop(fx);
}

static void on_touch(uv_timer_t *t) {
  FILE *f = fopen(t->data, "w");
  assert_non_null(f);
  fclose(f);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_cmd(void **state) {
  fx_t *fx = *state;
  char *flag = fl_asprintf("%s/ready-flag", fx->dir);
  const char *argv[] = {"test", "-e", flag, NULL};
  uv_timer_t t;
  uv_timer_init(&fx->loop, &t);
  t.data = flag;
  uv_update_time(&fx->loop);
  uv_timer_start(&t, on_touch, 300, 0);
  assert_int_equal(probe(fx, FL_PROBE_CMD, NULL, argv, 10000, NULL), 0);
  assert_string_equal(fl_probe_describe(fx->probe), "cmd test");
  wait_probe(fx);
  assert_int_equal(fx->status, 0);
  assert_true(fx->done_ms >= 250);

  const char *fails[] = {"sh", "-c", "exit 7", NULL};
  assert_int_equal(probe(fx, FL_PROBE_CMD, NULL, fails, 400, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_non_null(strstr(fx->msg, "command exited with code 7"));

  const char *missing[] = {"faultline-no-such-probe", NULL};
  assert_int_equal(probe(fx, FL_PROBE_CMD, NULL, missing, 400, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_non_null(strstr(fx->msg, "faultline-no-such-probe"));

  fl_err_t err = {0};
  const char *empty[] = {NULL};
  assert_int_equal(probe(fx, FL_PROBE_CMD, NULL, empty, 400, &err), FL_ECONFIG);
  fx->probe = NULL;
  fl_free(flag);
  close_loop(fx);
}

/* A command that hangs: the probe still ends at its timeout, and the
 * command and what it started are killed. */
static void test_cmd_hangs(void **state) {
  fx_t *fx = *state;
  char *pidfile = fl_asprintf("%s/sleep.pid", fx->dir);
  char *script = fl_asprintf("sleep 30 & echo $! > %s; wait", pidfile);
  const char *argv[] = {"sh", "-c", script, NULL};
  assert_int_equal(probe(fx, FL_PROBE_CMD, NULL, argv, 700, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_true(fx->done_ms >= 650);
  assert_true(fx->done_ms < 5000);
  assert_non_null(
      strstr(fx->msg, "not ready within 0.7 s (last attempt: the command was"));
  char *pid = ut_read_file(pidfile);
  assert_non_null(pid);
  pid_t sleeper = (pid_t)atoi(pid);
  assert_true(sleeper > 0);
  assert_true(ut_loop_wait_state(&fx->loop, sleeper, "", 5000));
  free(pid);
  fl_free(script);
  fl_free(pidfile);
  close_loop(fx);
}

/* The service dies while the probe waits for it: the probe fails at once,
 * not at its timeout, and says how the service ended. */
static void test_service_exits_during_probe(void **state) {
  fx_t *fx = *state;
  char *addr = fl_asprintf("127.0.0.1:%d", free_port());
  const char *argv[] = {"sh", "-c", "sleep 0.3; exit 4", NULL};
  start_svc(fx, "quitter", argv);
  assert_int_equal(probe(fx, FL_PROBE_TCP, addr, NULL, 30000, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_true(fx->done_ms < 5000);
  assert_non_null(strstr(fx->msg, "exited with code 4"));
  assert_non_null(strstr(fx->msg, addr));
  fl_svc_free(fx->svc);

  /* Killed by a signal, while a log probe waits. */
  const char *argv2[] = {"sleep", "60", NULL};
  start_svc(fx, "victim", argv2);
  assert_int_equal(probe(fx, FL_PROBE_LOG, "never", NULL, 30000, NULL), 0);
  ut_run_for(&fx->loop, 100);
  fl_svc_signal(fx->svc, SIGKILL);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_true(fx->done_ms < 5000);
  assert_non_null(strstr(fx->msg, "killed by signal 9"));

  /* Already down when the probe starts: no 30 s wait either. */
  assert_int_equal(fl_svc_state(fx->svc), FL_SVC_DOWN);
  assert_int_equal(probe(fx, FL_PROBE_TCP, addr, NULL, 30000, NULL), 0);
  wait_probe(fx);
  assert_int_equal(fx->status, FL_ENOTREADY);
  assert_true(fx->done_ms < 5000);
  assert_non_null(strstr(fx->msg, "not running"));
  fl_free(addr);
  close_loop(fx);
}

static void on_cancel_timer(uv_timer_t *t) {
  fx_t *fx = t->data;
  fl_probe_cancel(fx->probe);
  fx->probe = NULL;
  fx->calls = -1; /* marks the cancel; on_probe_must_not_run never adds */
  uv_close((uv_handle_t *)t, NULL);
}

static void test_cancel(void **state) {
  fx_t *fx = *state;
  fl_probe_spec_t spec = {.kind = FL_PROBE_TCP, .timeout_ms = 300, .every_ms = 20};
  char *addr = fl_asprintf("127.0.0.1:%d", free_port());
  spec.target = addr;

  /* Canceled before its first attempt. */
  assert_int_equal(fl_probe_start(&fx->probe, &fx->loop, fx->http, NULL, &spec,
                                  on_probe_must_not_run, fx, NULL),
                   0);
  fl_probe_cancel(fx->probe);
  fx->probe = NULL;
  fl_probe_cancel(NULL);

  /* Canceled mid-way, with attempts in flight: a command that hangs, an
   * http request the server holds, and a log probe on a live service. */
  const char *cmd[] = {"sleep", "30", NULL};
  fl_probe_spec_t specs[3] = {
      {.kind = FL_PROBE_CMD, .argv = cmd, .timeout_ms = 300},
      {.kind = FL_PROBE_HTTP, .timeout_ms = 300},
      {.kind = FL_PROBE_LOG, .target = "never", .timeout_ms = 300},
  };
  /* A listener that accepts into its queue but never answers. */
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(l, 16), 0);
  assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
  char *url = fl_asprintf("http://127.0.0.1:%d/", ntohs(a.sin_port));
  specs[1].target = url;
  const char *argv[] = {"sleep", "60", NULL};
  start_svc(fx, "quiet", argv);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(fl_probe_start(&fx->probe, &fx->loop, fx->http,
                                    specs[i].kind == FL_PROBE_LOG ? fx->svc : NULL,
                                    &specs[i], on_probe_must_not_run, fx, NULL),
                     0);
    fx->calls = 0;
    uv_timer_t t;
    uv_timer_init(&fx->loop, &t);
    t.data = fx;
    uv_timer_start(&t, on_cancel_timer, 100, 0);
    assert_true(ut_run_until(&fx->loop, &fx->calls, 5000));
    /* Past the probe's timeout: still nothing. */
    ut_run_for(&fx->loop, 400);
  }
  close(l);
  fl_free(url);
  fl_free(addr);
  close_loop(fx);
}

static void test_parse_addr(void **state) {
  struct sockaddr_storage ss;
  fl_err_t err = {0};
  assert_int_equal(fl_parse_addr("127.0.0.1:7000", &ss, &err), 0);
  assert_int_equal(ss.ss_family, AF_INET);
  assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 7000);
  assert_int_equal(fl_parse_addr("localhost:80", &ss, &err), 0);
  assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  assert_int_equal(fl_parse_addr("[::1]:8080", &ss, &err), 0);
  assert_int_equal(ss.ss_family, AF_INET6);
  assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 8080);
  const char *bad[] = {"",
                       "7000",
                       ":7000",
                       "127.0.0.1:",
                       "127.0.0.1:x",
                       "127.0.0.1:70000",
                       "example.com:80",
                       "127.0.0.1:-1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    fl_err_clear(&err);
    if (fl_parse_addr(bad[i], &ss, &err) != UV_EINVAL)
      fail_msg("\"%s\" was accepted", bad[i]);
    assert_int_equal(err.code, UV_EINVAL);
    assert_non_null(strstr(err.msg, "address"));
  }
  /* A tcp probe with a bad address fails at start, and frees itself. */
  uv_loop_t loop;
  uv_loop_init(&loop);
  fl_probe_t *p = NULL;
  fl_probe_spec_t spec = {.kind = FL_PROBE_TCP, .target = "nowhere"};
  assert_int_equal(fl_probe_start(&p, &loop, NULL, NULL, &spec, on_probe, NULL, &err),
                   UV_EINVAL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(int argc, char **argv) {
  /* Services start through the shim, which is this binary. */
  if (argc > 1 && strcmp(argv[1], "__exec") == 0)
    return fl_shim_main(argc - 1, argv + 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_tcp_ready_late, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_never_ready, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_connect_hangs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_real_service, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_2xx_vs_500, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_pattern, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cmd, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cmd_hangs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_service_exits_during_probe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
      cmocka_unit_test(test_parse_addr),
  };
  return cmocka_run_group_tests_name("probe", tests, NULL, NULL);
}
