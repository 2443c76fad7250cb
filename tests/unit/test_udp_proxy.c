/* The UDP proxy through real sockets on 127.0.0.1: sessions both ways, loss
 * near the asked rate and reproducible from a seed, latency, duplicates,
 * reordering, partition, idle sessions, and configuration errors. The
 * proxy's loop runs on its own thread (tests/helpers/proxy_harness.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "faults/udp_proxy.h"
#include "tests/helpers/proxy_harness.h"

typedef struct {
  pt_loop_t pt;
  fl_udp_proxy_t *p;
  int server; /* the upstream: a UDP socket the test reads */
  int client;
  struct sockaddr_in proxy_addr;
  const char *arg;
  int dirs;
  int rc;
  uint64_t seed;
  fl_err_t err;
  fl_udp_stats_t stats;
} fx_t;

static int udp_socket(int *port) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int big = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  getsockname(fd, (struct sockaddr *)&a, &len);
  if (port != NULL)
    *port = ntohs(a.sin_port);
  return fd;
}

static void do_new(void *arg) {
  fx_t *fx = arg;
  char up[64];
  int port;
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  getsockname(fx->server, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);
  snprintf(up, sizeof(up), "127.0.0.1:%d", port);
  fx->rc = fl_udp_proxy_new(&fx->p, &fx->pt.loop, "udp", "127.0.0.1:0", up, &fx->err);
}

static void do_close(void *arg) {
  fx_t *fx = arg;
  fl_udp_proxy_close(fx->p, NULL, NULL);
}

static void do_faults(void *arg) {
  fx_t *fx = arg;
  json_t *j = json_loads(fx->arg, 0, NULL);
  fx->rc = fl_udp_proxy_set_faults(fx->p, fx->dirs, j, &fx->err);
  json_decref(j);
}

static void do_clear(void *arg) {
  fx_t *fx = arg;
  fl_udp_proxy_clear_faults(fx->p);
}

static void do_seed(void *arg) {
  fx_t *fx = arg;
  fl_udp_proxy_set_seed(fx->p, fx->seed);
}

static void do_stats(void *arg) {
  fx_t *fx = arg;
  fl_udp_proxy_stats(fx->p, &fx->stats);
}

static void do_partition(void *arg) {
  fx_t *fx = arg;
  fl_udp_proxy_partition(fx->p, fx->dirs);
}

static void do_heal(void *arg) {
  fx_t *fx = arg;
  fl_udp_proxy_heal(fx->p);
}

static void do_idle(void *arg) {
  fx_t *fx = arg;
  fl_udp_proxy_set_idle_timeout(fx->p, 100);
}

static void faults(fx_t *fx, int dirs, const char *json) {
  fx->arg = json;
  fx->dirs = dirs;
  pt_call(&fx->pt, do_faults, fx);
  if (fx->rc != 0)
    fail_msg("%s: %s", json, fx->err.msg);
}

static fl_udp_stats_t stats(fx_t *fx) {
  pt_call(&fx->pt, do_stats, fx);
  return fx->stats;
}

static int setup(void **state) {
  fx_t *fx = calloc(1, sizeof(*fx));
  fx->server = udp_socket(NULL);
  fx->client = udp_socket(NULL);
  pt_start(&fx->pt);
  pt_call(&fx->pt, do_new, fx);
  if (fx->rc != 0)
    return -1;
  const char *l = fl_udp_proxy_listen(fx->p);
  memset(&fx->proxy_addr, 0, sizeof(fx->proxy_addr));
  fx->proxy_addr.sin_family = AF_INET;
  fx->proxy_addr.sin_port = htons((uint16_t)atoi(strrchr(l, ':') + 1));
  fx->proxy_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  pt_call(&fx->pt, do_close, fx);
  int rc = pt_stop(&fx->pt);
  close(fx->server);
  close(fx->client);
  free(fx);
  return rc == 0 ? 0 : -1;
}

static void send_seq(fx_t *fx, uint32_t seq) {
  char b[64];
  snprintf(b, sizeof(b), "%u", seq);
  sendto(fx->client, b, strlen(b), 0, (struct sockaddr *)&fx->proxy_addr,
         sizeof(fx->proxy_addr));
}

/* Reads datagrams from fd for up to ms (stopping earlier after quiet_ms of
 * silence), recording their numbers in order. Returns how many. */
static int recv_seqs(int fd, uint32_t *out, int max, int ms, int quiet_ms) {
  int n = 0;
  double end = pt_now_ms() + ms;
  while (pt_now_ms() < end) {
    if (!pt_wait_readable(fd, quiet_ms))
      break;
    char b[64];
    ssize_t r = recv(fd, b, sizeof(b) - 1, 0);
    if (r <= 0)
      continue;
    b[r] = '\0';
    if (n < max)
      out[n] = (uint32_t)strtoul(b, NULL, 10);
    n++;
  }
  return n;
}

/* Sends count numbered datagrams, reading what arrives as it goes so no
 * socket buffer overflows. */
static int exchange(fx_t *fx, uint32_t first, int count, uint32_t *got, int max,
                    int gap_us) {
  int n = 0;
  for (int i = 0; i < count; i++) {
    send_seq(fx, first + (uint32_t)i);
    if (gap_us > 0)
      usleep((useconds_t)gap_us);
    while (pt_wait_readable(fx->server, 0)) {
      char b[64];
      ssize_t r = recv(fx->server, b, sizeof(b) - 1, 0);
      if (r <= 0)
        break;
      b[r] = '\0';
      if (n < max)
        got[n] = (uint32_t)strtoul(b, NULL, 10);
      n++;
    }
  }
  return n + recv_seqs(fx->server, got + (n < max ? n : max), max - (n < max ? n : max),
                       3000, 700);
}

static void test_both_ways(void **state) {
  fx_t *fx = *state;
  struct sockaddr_in from;
  socklen_t len = sizeof(from);
  char b[64];
  send_seq(fx, 7);
  assert_true(pt_wait_readable(fx->server, 2000));
  ssize_t r = recvfrom(fx->server, b, sizeof(b), 0, (struct sockaddr *)&from, &len);
  assert_int_equal(r, 1);
  /* The answer goes back through the session to this client. */
  sendto(fx->server, "answer", 6, 0, (struct sockaddr *)&from, len);
  assert_int_equal(pt_recv(fx->client, b, sizeof(b), 2000), 6);
  assert_memory_equal(b, "answer", 6);
  /* A second client gets a session of its own. */
  int other = udp_socket(NULL);
  sendto(other, "x", 1, 0, (struct sockaddr *)&fx->proxy_addr, sizeof(fx->proxy_addr));
  assert_true(pt_wait_readable(fx->server, 2000));
  struct sockaddr_in from2;
  len = sizeof(from2);
  recvfrom(fx->server, b, sizeof(b), 0, (struct sockaddr *)&from2, &len);
  assert_true(from2.sin_port != from.sin_port);
  close(other);
  fl_udp_stats_t st = stats(fx);
  assert_int_equal(st.sessions_open, 2);
  assert_int_equal(st.received[0], 2);
  assert_int_equal(st.sent[1], 1);
}

static void test_loss(void **state) {
  fx_t *fx = *state;
  enum { N = 2000 };
  static uint32_t got[N], again[N];
  faults(fx, FL_UPSTREAM, "{\"loss\":0.3}");
  fx->seed = 42;
  pt_call(&fx->pt, do_seed, fx);
  int n = exchange(fx, 0, N, got, N, 100);
  print_message("loss 0.3: %d of %d arrived\n", n, N);
  /* 1,400 expected; sigma is about 20. */
  assert_true(n > 1330 && n < 1470);
  assert_int_equal(stats(fx).dropped[0], N - n);
  /* The same seed drops the same datagrams. */
  pt_call(&fx->pt, do_seed, fx);
  int m = exchange(fx, N, N, again, N, 100);
  assert_int_equal(m, n);
  for (int i = 0; i < n; i++)
    assert_int_equal(again[i], got[i] + N);
}

static void test_latency(void **state) {
  fx_t *fx = *state;
  char b[16];
  faults(fx, FL_UPSTREAM, "{\"latency\":100}");
  double t0 = pt_now_ms();
  send_seq(fx, 1);
  assert_true(pt_wait_readable(fx->server, 2000));
  double took = pt_now_ms() - t0;
  recv(fx->server, b, sizeof(b), 0);
  print_message("latency 100 ms: arrived after %.2f ms\n", took);
  assert_true(took >= 99.5 && took < 130);
  /* Jitter: every datagram within latency +/- jitter. */
  faults(fx, FL_UPSTREAM, "{\"latency\":50,\"jitter\":20}");
  for (int i = 0; i < 10; i++) {
    t0 = pt_now_ms();
    send_seq(fx, 2);
    assert_true(pt_wait_readable(fx->server, 2000));
    took = pt_now_ms() - t0;
    recv(fx->server, b, sizeof(b), 0);
    assert_true(took >= 29.5 && took < 90);
  }
}

static void test_duplicate(void **state) {
  fx_t *fx = *state;
  enum { N = 400 };
  static uint32_t got[2 * N + 10];
  faults(fx, FL_UPSTREAM, "{\"duplicate\":1}");
  int n = exchange(fx, 0, 50, got, 2 * N, 0);
  assert_int_equal(n, 100);
  for (int i = 0; i < 50; i++)
    assert_true(got[2 * i] == (uint32_t)i && got[2 * i + 1] == (uint32_t)i);
  faults(fx, FL_UPSTREAM, "{\"duplicate\":0.25}");
  n = exchange(fx, 0, N, got, 2 * N + 10, 0);
  print_message("duplicate 0.25: %d datagrams for %d sent\n", n, N);
  assert_true(n > N + 60 && n < N + 140); /* 100 extra expected, sigma 8.7 */
}

static void test_reorder(void **state) {
  fx_t *fx = *state;
  enum { N = 300 };
  static uint32_t got[N + 10];
  int pos[N];
  faults(fx, FL_DOWNSTREAM, "{\"reorder\":0.5}"); /* the other way: no effect */
  faults(fx, FL_UPSTREAM, "{\"reorder\":0.1,\"reorder_gap\":3}");
  int n = exchange(fx, 0, N, got, N + 10, 300);
  assert_int_equal(n, N); /* nothing lost, nothing doubled */
  memset(pos, -1, sizeof(pos));
  for (int i = 0; i < N; i++) {
    assert_true(got[i] < N);
    assert_int_equal(pos[got[i]], -1);
    pos[got[i]] = i;
  }
  int late = 0;
  for (int k = 0; k < N; k++) {
    if (k + 1 < N && pos[k] > pos[k + 1]) {
      late++;
      /* A held datagram let three later ones by (unless near the end, where
       * the hold time let it go). */
      int before = 0;
      for (int j = k + 1; j < N; j++)
        before += pos[j] < pos[k];
      if (k + 10 < N)
        assert_true(before >= 3);
    }
  }
  fl_udp_stats_t st = stats(fx);
  print_message("reorder 0.1: %d late of %d (%llu held)\n", late, N,
                (unsigned long long)st.reordered[0]);
  assert_true(late > 10 && late < 60); /* about 30 */
  assert_int_equal(st.reordered[1], 0);
}

static void test_partition(void **state) {
  fx_t *fx = *state;
  char b[16];
  fx->dirs = FL_UPSTREAM;
  pt_call(&fx->pt, do_partition, fx);
  send_seq(fx, 1);
  assert_false(pt_wait_readable(fx->server, 300));
  pt_call(&fx->pt, do_heal, fx);
  send_seq(fx, 2);
  assert_true(pt_wait_readable(fx->server, 2000));
  recv(fx->server, b, sizeof(b), 0);
  assert_int_equal(b[0], '2');
  assert_int_equal(stats(fx).dropped[0], 1);
}

static void test_idle_and_clear(void **state) {
  fx_t *fx = *state;
  char b[16];
  pt_call(&fx->pt, do_idle, fx);
  faults(fx, FL_UPSTREAM, "{\"latency\":10000}");
  send_seq(fx, 1);
  pt_sleep_ms(50);
  /* Clearing the faults sends what was delayed at once. */
  pt_call(&fx->pt, do_clear, fx);
  assert_true(pt_wait_readable(fx->server, 1000));
  recv(fx->server, b, sizeof(b), 0);
  assert_int_equal(stats(fx).sessions_open, 1);
  pt_sleep_ms(400);
  assert_int_equal(stats(fx).sessions_open, 0);
  assert_int_equal(stats(fx).sessions_total, 1);
}

static void test_config(void **state) {
  fx_t *fx = *state;
  fx->dirs = FL_BOTH;
  static const struct {
    const char *spec, *field;
  } bad[] = {
      {"{\"loss\":2}", "\"loss\""},
      {"{\"lose\":0.1}", "\"lose\""},
      {"{\"latency\":-1}", "\"latency\""},
      {"{\"jitter\":1.5}", "\"jitter\""},
      {"{\"reorder_gap\":0}", "\"reorder_gap\""},
      {"{\"duplicate\":\"yes\"}", "\"duplicate\""},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    fx->arg = bad[i].spec;
    pt_call(&fx->pt, do_faults, fx);
    assert_int_equal(fx->rc, FL_ECONFIG);
    if (strstr(fx->err.msg, bad[i].field) == NULL)
      fail_msg("\"%s\" does not name %s", fx->err.msg, bad[i].field);
  }
  /* A failed call changed nothing; a good one changes only what it names. */
  faults(fx, FL_DOWNSTREAM, "{\"loss\":0.5,\"latency\":7}");
  json_t *j = fl_udp_proxy_to_json(fx->p);
  json_t *down = json_object_get(json_object_get(j, "faults"), "downstream");
  json_t *up = json_object_get(json_object_get(j, "faults"), "upstream");
  assert_true(json_real_value(json_object_get(down, "loss")) == 0.5);
  assert_int_equal(json_integer_value(json_object_get(down, "latency")), 7);
  assert_int_equal(json_integer_value(json_object_get(down, "reorder_gap")), 3);
  assert_true(json_real_value(json_object_get(up, "loss")) == 0.0);
  assert_string_equal(json_string_value(json_object_get(j, "protocol")), "udp");
  assert_string_equal(json_string_value(json_object_get(j, "partition")), "none");
  json_decref(j);

  fl_udp_proxy_t *q = NULL;
  uv_loop_t loop;
  uv_loop_init(&loop);
  assert_int_equal(fl_udp_proxy_new(&q, &loop, "x", fl_udp_proxy_listen(fx->p),
                                    "127.0.0.1:1", &fx->err),
                   UV_EADDRINUSE);
  assert_non_null(strstr(fx->err.msg, fl_udp_proxy_listen(fx->p)));
  assert_int_equal(
      fl_udp_proxy_new(&q, &loop, "x", "127.0.0.1:0", "some.host:53", &fx->err),
      FL_ECONFIG);
  assert_non_null(strstr(fx->err.msg, "\"upstream\""));
  assert_int_equal(
      fl_udp_proxy_new(&q, &loop, "x", "127.0.0.1:0", "127.0.0.1:0", &fx->err),
      FL_ECONFIG);
  assert_null(q);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_both_ways, setup, teardown),
      cmocka_unit_test_setup_teardown(test_loss, setup, teardown),
      cmocka_unit_test_setup_teardown(test_latency, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reorder, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partition, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_and_clear, setup, teardown),
      cmocka_unit_test_setup_teardown(test_config, setup, teardown),
  };
  return cmocka_run_group_tests_name("udp_proxy", tests, NULL, NULL);
}
