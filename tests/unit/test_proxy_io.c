/* The TCP proxy through real sockets on 127.0.0.1: payloads intact and in
 * order under every toxic and across splice <-> toxic-chain switches,
 * half-close, resets, upstream down, descriptors, latency accuracy,
 * partition/heal, disable/enable. The proxy's loop runs on its own thread
 * (tests/helpers/proxy_harness.h); the test holds both the client and the
 * server end of each connection with plain blocking sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "faults/proxy.h"
#include "tests/helpers/proxy_harness.h"

typedef struct {
  pt_loop_t pt;
  fl_proxy_t *proxy;
  int lfd; /* the upstream server's listening socket, owned by the test */
  int port;
  int splice;
  char upstream[64];
  /* for calls on the loop thread */
  const char *arg;
  int rc;
  fl_err_t err;
  fl_proxy_stats_t stats;
  int toggles; /* toxic flips done by the flipping timer */
  uv_timer_t flip;
} fx_t;

static void do_new(void *arg) {
  fx_t *fx = arg;
  fx->rc =
      fl_proxy_new(&fx->proxy, &fx->pt.loop, "io", "127.0.0.1:0", fx->upstream, &fx->err);
  if (fx->rc == 0) {
    fl_proxy_set_splice(fx->proxy, fx->splice);
    fl_proxy_set_seed(fx->proxy, 42);
  }
}

static void do_close(void *arg) {
  fx_t *fx = arg;
  fl_proxy_close(fx->proxy, NULL, NULL);
  fx->proxy = NULL;
}

static void do_add(void *arg) {
  fx_t *fx = arg;
  json_t *spec = json_loads(fx->arg, 0, NULL);
  fx->rc = fl_proxy_add_toxic(fx->proxy, spec, &fx->err);
  json_decref(spec);
}

static void do_remove(void *arg) {
  fx_t *fx = arg;
  fx->rc = fl_proxy_remove_toxic(fx->proxy, fx->arg, &fx->err);
}

static void do_stats(void *arg) {
  fx_t *fx = arg;
  fl_proxy_stats(fx->proxy, &fx->stats);
}

static void do_partition(void *arg) {
  fx_t *fx = arg;
  fl_proxy_partition(fx->proxy, FL_BOTH);
}

static void do_heal(void *arg) {
  fx_t *fx = arg;
  fl_proxy_heal(fx->proxy);
}

static void do_disable(void *arg) {
  fx_t *fx = arg;
  fl_proxy_set_enabled(fx->proxy, 0);
}

static void do_enable(void *arg) {
  fx_t *fx = arg;
  fx->rc = fl_proxy_enable(fx->proxy, &fx->err);
}

static void add_toxic(fx_t *fx, const char *json) {
  fx->arg = json;
  pt_call(&fx->pt, do_add, fx);
  if (fx->rc != 0)
    fail_msg("add_toxic %s: %s", json, fx->err.msg);
}

static void remove_toxic(fx_t *fx, const char *name) {
  fx->arg = name;
  pt_call(&fx->pt, do_remove, fx);
  assert_int_equal(fx->rc, 0);
}

static fl_proxy_stats_t stats(fx_t *fx) {
  pt_call(&fx->pt, do_stats, fx);
  return fx->stats;
}

/* Waits until the proxy has no open connection (up to ms). */
static void wait_idle(fx_t *fx, int ms) {
  double end = pt_now_ms() + ms;
  while (stats(fx).connections_open > 0 && pt_now_ms() < end)
    pt_sleep_ms(5);
  assert_int_equal(stats(fx).connections_open, 0);
}

static int setup_mode(void **state, int splice) {
  fx_t *fx = calloc(1, sizeof(*fx));
  fx->splice = splice;
  fx->lfd = pt_listen(&fx->port);
  if (fx->lfd < 0)
    return -1;
  snprintf(fx->upstream, sizeof(fx->upstream), "127.0.0.1:%d", fx->port);
  pt_start(&fx->pt);
  pt_call(&fx->pt, do_new, fx);
  if (fx->rc != 0) {
    fprintf(stderr, "fl_proxy_new: %s\n", fx->err.msg);
    return -1;
  }
  *state = fx;
  return 0;
}

static int setup_splice(void **state) {
  return setup_mode(state, 1);
}

static int setup_rw(void **state) {
  return setup_mode(state, 0);
}

static int teardown(void **state) {
  fx_t *fx = *state;
  if (fx->proxy != NULL)
    pt_call(&fx->pt, do_close, fx);
  int rc = pt_stop(&fx->pt);
  close(fx->lfd);
  free(fx);
  return rc == 0 ? 0 : -1; /* uv_loop_close: a handle left open is a bug */
}

/* A proxied connection: *c is the client, *s the server's accepted end. */
static void pair(fx_t *fx, int *c, int *s) {
  *c = pt_connect(fl_proxy_listen(fx->proxy));
  assert_true(*c >= 0);
  *s = pt_accept(fx->lfd, 3000);
  assert_true(*s >= 0);
}

/* Sends n random bytes from wfd and checks rfd gets exactly them. */
static void check_stream(int wfd, int rfd, size_t n, uint64_t seed, int ms) {
  char *a = malloc(n), *b = malloc(n);
  pt_random(a, n, seed);
  size_t got = pt_xfer(wfd, a, n, rfd, b, n, ms);
  assert_int_equal(got, n);
  assert_true(pt_sum(a, n) == pt_sum(b, n));
  assert_memory_equal(a, b, n);
  free(a);
  free(b);
}

/* Both directions, then half-close each way. */
static void test_passthrough(void **state) {
  fx_t *fx = *state;
  int c, s;
  char buf[16];
  pair(fx, &c, &s);
  check_stream(c, s, 4 << 20, 1, 20000);
  check_stream(s, c, 4 << 20, 2, 20000);
  /* Half-close passes through: the server reads EOF and can still answer. */
  shutdown(c, SHUT_WR);
  assert_int_equal(pt_recv(s, buf, sizeof(buf), 2000), 0);
  assert_int_equal(pt_send_all(s, "late answer", 11), 0);
  assert_int_equal(pt_recv_all(c, buf, 11, 2000), 11);
  assert_memory_equal(buf, "late answer", 11);
  close(s);
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 2000), 0);
  close(c);
  wait_idle(fx, 2000);
  fl_proxy_stats_t st = stats(fx);
  assert_true(st.bytes_upstream == (4u << 20));
  assert_true(st.bytes_downstream == (4u << 20) + 11);
  assert_int_equal(st.connections_total, 1);
}

/* Many connections at once, each with its own payload both ways. */
static void test_parallel(void **state) {
  fx_t *fx = *state;
  enum { N = 16, LEN = 256 * 1024 };
  int c[N], s[N];
  for (int i = 0; i < N; i++)
    pair(fx, &c[i], &s[i]);
  for (int i = 0; i < N; i++) {
    check_stream(c[i], s[i], LEN, 100 + (uint64_t)i, 10000);
    check_stream(s[i], c[i], LEN, 200 + (uint64_t)i, 10000);
  }
  for (int i = 0; i < N; i++) {
    close(c[i]);
    close(s[i]);
  }
  wait_idle(fx, 2000);
}

static void test_toxic_latency(void **state) {
  fx_t *fx = *state;
  int c, s;
  add_toxic(fx, "{\"type\":\"latency\",\"stream\":\"upstream\","
                "\"attributes\":{\"latency\":20,\"jitter\":15}}");
  add_toxic(fx, "{\"type\":\"latency\",\"attributes\":{\"latency\":10,\"jitter\":10}}");
  pair(fx, &c, &s);
  check_stream(c, s, 2 << 20, 3, 20000);
  check_stream(s, c, 2 << 20, 4, 20000);
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

static void test_toxic_bandwidth(void **state) {
  fx_t *fx = *state;
  int c, s;
  /* 10,000 KB/s: 2,000,000 bytes take 200 ms. */
  add_toxic(fx, "{\"type\":\"bandwidth\",\"stream\":\"upstream\","
                "\"attributes\":{\"rate\":10000}}");
  pair(fx, &c, &s);
  double t0 = pt_now_ms();
  check_stream(c, s, 2000000, 5, 20000);
  double took = pt_now_ms() - t0;
  assert_true(took >= 190);
  assert_true(took < 1500); /* generous: CI machines are busy */
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

static void test_toxic_slicer(void **state) {
  fx_t *fx = *state;
  int c, s;
  add_toxic(fx, "{\"type\":\"slicer\",\"stream\":\"upstream\",\"attributes\":"
                "{\"average_size\":1000,\"size_variation\":500,\"delay\":20}}");
  add_toxic(fx, "{\"type\":\"slicer\",\"attributes\":{\"average_size\":64}}");
  pair(fx, &c, &s);
  check_stream(c, s, 1 << 20, 6, 20000);
  check_stream(s, c, 256 << 10, 7, 20000);
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

static void test_toxic_slow_close(void **state) {
  fx_t *fx = *state;
  int c, s;
  char buf[16];
  add_toxic(fx, "{\"type\":\"slow_close\",\"attributes\":{\"delay\":300}}");
  pair(fx, &c, &s);
  check_stream(s, c, 1 << 20, 8, 20000);
  double t0 = pt_now_ms();
  close(s);
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 3000), 0);
  double took = pt_now_ms() - t0;
  assert_true(took >= 295);
  assert_true(took < 1500);
  close(c);
  wait_idle(fx, 2000);
}

static void test_toxic_limit_data(void **state) {
  fx_t *fx = *state;
  int c, s;
  enum { LIMIT = 100000, LEN = 1 << 20 };
  char *a = malloc(LEN), *b = malloc(LEN);
  add_toxic(fx, "{\"type\":\"limit_data\",\"stream\":\"upstream\","
                "\"attributes\":{\"bytes\":100000}}");
  pair(fx, &c, &s);
  pt_random(a, LEN, 9);
  /* The proxy closes after LIMIT bytes: the server gets exactly the prefix,
   * then EOF. */
  size_t got = pt_xfer(c, a, LEN, s, b, LEN, 5000);
  assert_int_equal(got, LIMIT);
  assert_memory_equal(a, b, LIMIT);
  close(c);
  close(s);
  wait_idle(fx, 2000);
  free(a);
  free(b);
}

static void test_toxic_timeout(void **state) {
  fx_t *fx = *state;
  int c, s;
  char buf[64];
  add_toxic(fx, "{\"type\":\"timeout\",\"stream\":\"upstream\","
                "\"attributes\":{\"timeout\":200}}");
  double t0 = pt_now_ms();
  pair(fx, &c, &s);
  assert_int_equal(pt_send_all(c, "swallowed", 9), 0);
  /* Nothing passes, and the connection is closed after 200 ms. */
  assert_int_equal(pt_recv(s, buf, sizeof(buf), 3000), 0);
  double took = pt_now_ms() - t0;
  assert_true(took >= 195);
  assert_true(took < 1500);
  ssize_t r = pt_recv(c, buf, sizeof(buf), 2000);
  assert_true(r == 0 || r == -ECONNRESET);
  close(c);
  close(s);
  wait_idle(fx, 2000);

  /* timeout 0 holds forever; removing it closes the connection. */
  remove_toxic(fx, "timeout_upstream");
  add_toxic(fx,
            "{\"type\":\"timeout\",\"name\":\"hold\",\"attributes\":{\"timeout\":0}}");
  pair(fx, &c, &s);
  assert_int_equal(pt_send_all(s, "swallowed", 9), 0);
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 400), -ETIMEDOUT);
  remove_toxic(fx, "hold");
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 2000), 0);
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

static void test_toxic_reset_peer(void **state) {
  fx_t *fx = *state;
  int c, s;
  char buf[64];
  add_toxic(fx, "{\"type\":\"reset_peer\",\"stream\":\"upstream\","
                "\"attributes\":{\"timeout\":100}}");
  pair(fx, &c, &s);
  /* No data yet: nothing happens. */
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 200), -ETIMEDOUT);
  double t0 = pt_now_ms();
  assert_int_equal(pt_send_all(c, "hello", 5), 0);
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 2000), -ECONNRESET);
  double took = pt_now_ms() - t0;
  assert_true(took >= 95);
  assert_true(took < 1500);
  assert_int_equal(pt_recv(s, buf, sizeof(buf), 2000), -ECONNRESET);
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

/* Toxics come and go every few ms while 16 MB flow each way: no byte may be
 * lost or reordered across splice <-> chain switches. */
static void on_flip(uv_timer_t *t) {
  static const char *specs[] = {
      "{\"name\":\"f\",\"type\":\"latency\",\"stream\":\"%s\",\"attributes\":"
      "{\"latency\":3,\"jitter\":3}}",
      "{\"name\":\"f\",\"type\":\"slicer\",\"stream\":\"%s\",\"attributes\":"
      "{\"average_size\":3000,\"size_variation\":2000}}",
      "{\"name\":\"f\",\"type\":\"bandwidth\",\"stream\":\"%s\",\"attributes\":"
      "{\"rate\":200000}}",
      "{\"name\":\"f\",\"type\":\"slow_close\",\"stream\":\"%s\",\"attributes\":"
      "{\"delay\":1}}",
  };
  fx_t *fx = t->data;
  char spec[256];
  int n = fx->toggles++;
  if (n % 2 == 0) {
    snprintf(spec, sizeof(spec), specs[(n / 2) % 4],
             (n / 8) % 2 ? "upstream" : "downstream");
    json_t *j = json_loads(spec, 0, NULL);
    assert_int_equal(fl_proxy_add_toxic(fx->proxy, j, NULL), 0);
    json_decref(j);
  } else {
    assert_int_equal(fl_proxy_remove_toxic(fx->proxy, "f", NULL), 0);
  }
}

static void do_flip_start(void *arg) {
  fx_t *fx = arg;
  uv_timer_init(&fx->pt.loop, &fx->flip);
  fx->flip.data = fx;
  uv_timer_start(&fx->flip, on_flip, 7, 7);
}

static void do_flip_stop(void *arg) {
  fx_t *fx = arg;
  uv_close((uv_handle_t *)&fx->flip, NULL);
  fl_proxy_remove_all_toxics(fx->proxy);
}

static void test_toxics_change_while_flowing(void **state) {
  fx_t *fx = *state;
  int c, s;
  pair(fx, &c, &s);
  pt_call(&fx->pt, do_flip_start, fx);
  check_stream(c, s, 16 << 20, 10, 60000);
  check_stream(s, c, 16 << 20, 11, 60000);
  pt_call(&fx->pt, do_flip_stop, fx);
  assert_true(fx->toggles > 4);
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

static double round_trip(int c, int s) {
  char b;
  double t0 = pt_now_ms();
  assert_int_equal(pt_send_all(c, "p", 1), 0);
  assert_int_equal(pt_recv_all(s, &b, 1, 3000), 1);
  assert_int_equal(pt_send_all(s, "q", 1), 0);
  assert_int_equal(pt_recv_all(c, &b, 1, 3000), 1);
  return pt_now_ms() - t0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median_rtt(int c, int s, int n) {
  double v[16];
  for (int i = 0; i < n; i++)
    v[i] = round_trip(c, s);
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  return v[n / 2];
}

/* A 200 ms latency toxic adds 200 ms (+/- 5) to a round trip. */
static void test_latency_round_trip(void **state) {
  fx_t *fx = *state;
  int c, s;
  pair(fx, &c, &s);
  double base = median_rtt(c, s, 7);
  add_toxic(fx, "{\"type\":\"latency\",\"attributes\":{\"latency\":200}}");
  double with = median_rtt(c, s, 7);
  print_message("round trip %.3f ms, with 200 ms latency %.3f ms (+%.3f)\n", base, with,
                with - base);
  assert_true(with - base >= 195.0);
  assert_true(with - base <= 205.0);
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

static void do_update(void *arg) {
  fx_t *fx = arg;
  json_t *spec = json_loads(fx->arg, 0, NULL);
  fx->rc = fl_proxy_update_toxic(fx->proxy, "lat", spec, &fx->err);
  json_decref(spec);
}

/* Adding, updating and removing a toxic change a connection already open. */
static void test_toxic_changes_open_connection(void **state) {
  fx_t *fx = *state;
  int c, s;
  pair(fx, &c, &s);
  double base = median_rtt(c, s, 3);
  add_toxic(fx,
            "{\"name\":\"lat\",\"type\":\"latency\",\"attributes\":{\"latency\":50}}");
  double with = median_rtt(c, s, 3);
  assert_true(with - base >= 48 && with - base < 80);
  fx->arg = "{\"attributes\":{\"latency\":120}}";
  pt_call(&fx->pt, do_update, fx);
  assert_int_equal(fx->rc, 0);
  with = median_rtt(c, s, 3);
  assert_true(with - base >= 118 && with - base < 150);
  /* toxicity 0: this connection draws again and no longer gets it. */
  fx->arg = "{\"toxicity\":0}";
  pt_call(&fx->pt, do_update, fx);
  assert_true(median_rtt(c, s, 3) < 20);
  fx->arg = "{\"toxicity\":1}";
  pt_call(&fx->pt, do_update, fx);
  assert_true(median_rtt(c, s, 3) >= 118);
  remove_toxic(fx, "lat");
  assert_true(median_rtt(c, s, 3) < 20);
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

/* A long latency holds a bounded amount: past it the proxy stops reading
 * and the sender sees back-pressure, however much it tries to send. */
static void test_latency_memory_bound(void **state) {
  fx_t *fx = *state;
  int c, s;
  static char buf[65536];
  add_toxic(fx, "{\"type\":\"latency\",\"stream\":\"upstream\","
                "\"attributes\":{\"latency\":5000}}");
  pair(fx, &c, &s);
  size_t sent = 0;
  double end = pt_now_ms() + 1000;
  while (pt_now_ms() < end) {
    ssize_t w = send(c, buf, sizeof(buf), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w > 0)
      sent += (size_t)w;
    else
      pt_sleep_ms(5);
  }
  fl_proxy_stats_t st = stats(fx);
  size_t held = st.bytes_read_upstream - st.bytes_upstream;
  print_message("sent %zu, proxy read %llu, holds %zu\n", sent,
                (unsigned long long)st.bytes_read_upstream, held);
  assert_true(st.bytes_upstream == 0);
  assert_true(held <= (1 << 20) + (1 << 19)); /* FL_PROXY_HOLD_CAP + a read budget */
  assert_true(held >= (1 << 20));             /* and it did fill up to it */
  assert_true(sent > held);                   /* the rest waits in the kernel */
  remove_toxic(fx, "latency_upstream");
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

static void test_partition_heal(void **state) {
  fx_t *fx = *state;
  int c, s;
  char buf[64];
  pair(fx, &c, &s);
  check_stream(c, s, 1000, 12, 2000);
  pt_call(&fx->pt, do_partition, fx);
  uint64_t read_before = stats(fx).bytes_read_upstream;
  assert_int_equal(pt_send_all(c, "during", 6), 0);
  assert_int_equal(pt_send_all(s, "back", 4), 0);
  assert_int_equal(pt_recv(s, buf, sizeof(buf), 300), -ETIMEDOUT);
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 10), -ETIMEDOUT);
  /* The cut side is not read: back-pressure, not buffering. */
  assert_true(stats(fx).bytes_read_upstream == read_before);
  /* A connection made during the cut does not reach the server. */
  int c2 = pt_connect(fl_proxy_listen(fx->proxy));
  assert_true(c2 >= 0);
  assert_int_equal(pt_send_all(c2, "new", 3), 0);
  assert_int_equal(pt_accept(fx->lfd, 300), -1);
  pt_call(&fx->pt, do_heal, fx);
  assert_int_equal(pt_recv_all(s, buf, 6, 2000), 6);
  assert_memory_equal(buf, "during", 6);
  assert_int_equal(pt_recv_all(c, buf, 4, 2000), 4);
  assert_memory_equal(buf, "back", 4);
  check_stream(c, s, 1 << 20, 13, 5000);
  int s2 = pt_accept(fx->lfd, 2000);
  assert_true(s2 >= 0);
  assert_int_equal(pt_recv_all(s2, buf, 3, 2000), 3);
  assert_memory_equal(buf, "new", 3);
  close(c2);
  close(s2);
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

static void test_disable_enable(void **state) {
  fx_t *fx = *state;
  int c, s;
  char buf[16];
  char listen[64];
  snprintf(listen, sizeof(listen), "%s", fl_proxy_listen(fx->proxy));
  pair(fx, &c, &s);
  pt_call(&fx->pt, do_disable, fx);
  /* Open connections are closed, new ones refused. */
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 2000), 0);
  assert_int_equal(pt_recv(s, buf, sizeof(buf), 2000), 0);
  close(c);
  close(s);
  assert_int_equal(pt_connect(listen), -ECONNREFUSED);
  pt_call(&fx->pt, do_enable, fx);
  assert_int_equal(fx->rc, 0);
  assert_string_equal(fl_proxy_listen(fx->proxy), listen);
  pair(fx, &c, &s);
  check_stream(c, s, 1 << 16, 14, 2000);
  close(c);
  close(s);
  wait_idle(fx, 2000);
}

/* The server resets: the client sees a reset (ECONNRESET), not a plain
 * close, as faults/README.md promises ("A reset or an error on one side
 * resets the other"), and the proxy lets go. Then the other way round. */
static void test_peer_reset(void **state) {
  fx_t *fx = *state;
  int c, s;
  char buf[16];
  pair(fx, &c, &s);
  check_stream(c, s, 1000, 15, 2000);
  pt_close_reset(s);
  ssize_t r = pt_recv(c, buf, sizeof(buf), 2000);
  if (r != -ECONNRESET)
    fail_msg("upstream reset: the client read %zd, want -ECONNRESET (%d)", r,
             -ECONNRESET);
  close(c);
  wait_idle(fx, 2000);
  /* The client resetting, with data in flight both ways first. */
  pair(fx, &c, &s);
  check_stream(c, s, 1000, 16, 2000);
  pt_close_reset(c);
  r = pt_recv(s, buf, sizeof(buf), 2000);
  if (r != -ECONNRESET)
    fail_msg("client reset: the upstream read %zd, want -ECONNRESET (%d)", r,
             -ECONNRESET);
  close(s);
  wait_idle(fx, 2000);
  /* A reset right after connecting, before any byte. */
  pair(fx, &c, &s);
  pt_close_reset(s);
  r = pt_recv(c, buf, sizeof(buf), 2000);
  if (r != -ECONNRESET)
    fail_msg("early upstream reset: the client read %zd, want -ECONNRESET", r);
  close(c);
  wait_idle(fx, 2000);
}

static void do_set_upstream(void *arg) {
  fx_t *fx = arg;
  fx->rc = fl_proxy_set_upstream(fx->proxy, fx->arg, &fx->err);
}

/* Upstream down at connect: a clean close for the client, nothing hangs. */
static void test_upstream_down(void **state) {
  fx_t *fx = *state;
  char buf[16], up[64];
  snprintf(up, sizeof(up), "127.0.0.1:%d", pt_free_port());
  fx->arg = up;
  pt_call(&fx->pt, do_set_upstream, fx);
  assert_int_equal(fx->rc, 0);
  int c = pt_connect(fl_proxy_listen(fx->proxy));
  assert_true(c >= 0);
  assert_int_equal(pt_recv(c, buf, sizeof(buf), 2000), 0);
  close(c);
  wait_idle(fx, 2000);
  assert_int_equal(stats(fx).connect_errors, 1);
}

/* 1,000 connections opened and closed: no descriptor left open. */
static void test_thousand_connections(void **state) {
  fx_t *fx = *state;
  enum { BATCH = 100, ROUNDS = 10 };
  int c[BATCH], s[BATCH];
  char b;
  int before = pt_fd_count();
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < BATCH; i++)
      pair(fx, &c[i], &s[i]);
    for (int i = 0; i < BATCH; i++) {
      assert_int_equal(pt_send_all(c[i], "x", 1), 0);
      assert_int_equal(pt_recv_all(s[i], &b, 1, 2000), 1);
      assert_int_equal(pt_send_all(s[i], "y", 1), 0);
      assert_int_equal(pt_recv_all(c[i], &b, 1, 2000), 1);
    }
    /* Half of them closed by the client first, half by the server. */
    for (int i = 0; i < BATCH; i++) {
      close(i % 2 ? c[i] : s[i]);
      close(i % 2 ? s[i] : c[i]);
    }
  }
  wait_idle(fx, 5000);
  assert_int_equal(stats(fx).connections_total, BATCH * ROUNDS);
  /* Descriptors go in the close callbacks, just after the count drops. */
  double end = pt_now_ms() + 2000;
  while (pt_fd_count() != before && pt_now_ms() < end)
    pt_sleep_ms(5);
  assert_int_equal(pt_fd_count(), before);
}

#define BOTH_MODES(t)                                                                    \
  cmocka_unit_test_setup_teardown(t, setup_splice, teardown),                            \
      cmocka_unit_test_setup_teardown(t, setup_rw, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      BOTH_MODES(test_passthrough),
      BOTH_MODES(test_parallel),
      BOTH_MODES(test_toxic_latency),
      cmocka_unit_test_setup_teardown(test_toxic_bandwidth, setup_splice, teardown),
      BOTH_MODES(test_toxic_slicer),
      cmocka_unit_test_setup_teardown(test_toxic_slow_close, setup_splice, teardown),
      cmocka_unit_test_setup_teardown(test_toxic_limit_data, setup_splice, teardown),
      cmocka_unit_test_setup_teardown(test_toxic_timeout, setup_splice, teardown),
      cmocka_unit_test_setup_teardown(test_toxic_reset_peer, setup_splice, teardown),
      BOTH_MODES(test_toxics_change_while_flowing),
      cmocka_unit_test_setup_teardown(test_latency_round_trip, setup_splice, teardown),
      cmocka_unit_test_setup_teardown(test_latency_memory_bound, setup_splice, teardown),
      BOTH_MODES(test_toxic_changes_open_connection),
      BOTH_MODES(test_partition_heal),
      cmocka_unit_test_setup_teardown(test_disable_enable, setup_splice, teardown),
      BOTH_MODES(test_peer_reset),
      cmocka_unit_test_setup_teardown(test_upstream_down, setup_splice, teardown),
      cmocka_unit_test_setup_teardown(test_thousand_connections, setup_splice, teardown),
  };
  return cmocka_run_group_tests_name("proxy_io", tests, NULL, NULL);
}
