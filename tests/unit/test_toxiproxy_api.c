/* The Toxiproxy-compatible API over real HTTP: every endpoint and status
 * code with Toxiproxy's exact bodies, malformed and oversized requests, a
 * request dribbled a byte at a time, pipelining, 100 concurrent clients,
 * and, after each change through the API, bytes through the proxy behaving
 * as the toxic says (an echo server behind it).
 *
 * The API and the echo server run on a loop of their own thread
 * (tests/helpers/proxy_harness.h); the test is the client, with libcurl
 * and with raw sockets for what curl would not send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>

#include "faults/toxiproxy_api.h"
#include "tests/helpers/proxy_harness.h"

/* ---- the fixture: API and echo server on the loop thread ---------------- */

typedef struct echo_conn_s {
  uv_tcp_t tcp;
  struct echo_conn_s *next, *prev;
  struct fx_s *fx;
} echo_conn_t;

typedef struct fx_s {
  pt_loop_t pt;
  fl_api_t *api;
  uv_tcp_t echo;
  echo_conn_t *conns;
  char api_url[96];
  char echo_addr[64];
  int rc;
  fl_err_t err;
  uint64_t seed;
  int seed_given;
  const fl_api_limits_t *limits;
} fx_t;

static fx_t *FX; /* the running fixture, for the helpers */

typedef struct {
  uv_write_t w;
  char *data;
} echo_write_t;

static void echo_alloc(uv_handle_t *h, size_t n, uv_buf_t *b) {
  (void)h;
  b->base = malloc(n);
  b->len = n;
}

static void echo_conn_closed(uv_handle_t *h) {
  echo_conn_t *c = h->data;
  if (c->prev)
    c->prev->next = c->next;
  else
    c->fx->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c);
}

static void echo_written(uv_write_t *w, int status) {
  echo_write_t *ew = (echo_write_t *)w;
  (void)status;
  free(ew->data);
  free(ew);
}

static void echo_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  if (n > 0) {
    echo_write_t *ew = malloc(sizeof(*ew));
    ew->data = b->base;
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    uv_write(&ew->w, s, &out, 1, echo_written);
    return;
  }
  free(b->base);
  if (n < 0 && !uv_is_closing((uv_handle_t *)s))
    uv_close((uv_handle_t *)s, echo_conn_closed);
}

static void echo_accept(uv_stream_t *ls, int status) {
  fx_t *fx = ls->data;
  if (status < 0)
    return;
  echo_conn_t *c = calloc(1, sizeof(*c));
  c->fx = fx;
  uv_tcp_init(&fx->pt.loop, &c->tcp);
  c->tcp.data = c;
  c->next = fx->conns;
  if (fx->conns)
    fx->conns->prev = c;
  fx->conns = c;
  if (uv_accept(ls, (uv_stream_t *)&c->tcp) == 0) {
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, echo_alloc, echo_read);
  } else {
    uv_close((uv_handle_t *)&c->tcp, echo_conn_closed);
  }
}

static void do_start(void *arg) {
  fx_t *fx = arg;
  struct sockaddr_in a;
  struct sockaddr_storage sa;
  int len = sizeof(sa);
  fl_api_opts_t o = {fx->seed, fx->seed_given};
  fl_api_new(&fx->api, &fx->pt.loop, &o);
  fx->rc = fl_api_listen(fx->api, "127.0.0.1:0", fx->limits, &fx->err);
  if (fx->rc == 0)
    snprintf(fx->api_url, sizeof(fx->api_url), "http://%s", fl_api_address(fx->api));
  uv_tcp_init(&fx->pt.loop, &fx->echo);
  fx->echo.data = fx;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&fx->echo, (struct sockaddr *)&a, 0);
  uv_listen((uv_stream_t *)&fx->echo, 128, echo_accept);
  uv_tcp_getsockname(&fx->echo, (struct sockaddr *)&sa, &len);
  snprintf(fx->echo_addr, sizeof(fx->echo_addr), "127.0.0.1:%d",
           ntohs(((struct sockaddr_in *)&sa)->sin_port));
}

static void do_stop(void *arg) {
  fx_t *fx = arg;
  fl_api_close(fx->api, NULL, NULL);
  uv_close((uv_handle_t *)&fx->echo, NULL);
  for (echo_conn_t *c = fx->conns; c; c = c->next)
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
      uv_close((uv_handle_t *)&c->tcp, echo_conn_closed);
}

static int setup_with(void **state, uint64_t seed, int given,
                      const fl_api_limits_t *lim) {
  fx_t *fx = calloc(1, sizeof(*fx));
  fx->seed = seed;
  fx->seed_given = given;
  fx->limits = lim;
  pt_start(&fx->pt);
  pt_call(&fx->pt, do_start, fx);
  assert_int_equal(fx->rc, 0);
  FX = fx;
  *state = fx;
  return 0;
}

static int setup_seeded(void **state, uint64_t seed, int given) {
  return setup_with(state, seed, given, NULL);
}

static int setup(void **state) {
  return setup_seeded(state, 0, 0);
}

static int teardown(void **state) {
  fx_t *fx = *state;
  pt_call(&fx->pt, do_stop, fx);
  assert_int_equal(pt_stop(&fx->pt), 0); /* every handle closed */
  free(fx);
  FX = NULL;
  return 0;
}

/* ---- an HTTP client ----------------------------------------------------- */

typedef struct resp_s {
  long status;
  char body[1 << 16];
  size_t len;
  char headers[4096];
  size_t hlen;
} resp_t;

static size_t on_body(char *p, size_t size, size_t n, void *arg) {
  resp_t *r = arg;
  size_t k = size * n;
  size_t room = sizeof(r->body) - 1 - r->len;
  memcpy(r->body + r->len, p, k < room ? k : room);
  r->len += k < room ? k : room;
  r->body[r->len] = '\0';
  return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg) {
  resp_t *r = arg;
  size_t k = size * n;
  size_t room = sizeof(r->headers) - 1 - r->hlen;
  memcpy(r->headers + r->hlen, p, k < room ? k : room);
  r->hlen += k < room ? k : room;
  r->headers[r->hlen] = '\0';
  return k;
}

static CURL *easy_for(const char *method, const char *path, const char *body, resp_t *r,
                      struct curl_slist **hdrs) {
  char url[512];
  CURL *c = curl_easy_init();
  memset(r, 0, sizeof(*r));
  snprintf(url, sizeof(url), "%s%s", FX->api_url, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body != NULL)
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
  return c;
}

/* Sends a request; returns the status (0 when it failed). */
static long http(const char *method, const char *path, const char *body, resp_t *r) {
  struct curl_slist *h;
  CURL *c = easy_for(method, path, body, r, &h);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return r->status;
}

static resp_t R; /* the last answer of the helpers below */

#define EXPECT(m_, p_, b_, code_, want_)                                                 \
  do {                                                                                   \
    const char *w_ = (want_);                                                            \
    http(m_, p_, b_, &R);                                                                \
    if (R.status != (code_) || (w_ != NULL && strcmp(R.body, w_) != 0))                  \
      fail_msg("%s %s: got %ld %s, want %d %s", m_, p_, R.status, R.body, code_,         \
               w_ ? w_ : "");                                                            \
  } while (0)

static int has_header(const resp_t *r, const char *line) {
  return strstr(r->headers, line) != NULL;
}

/* The "listen" of a proxy, from its JSON. */
static void listen_of(const char *name, char *out, size_t size) {
  char path[128];
  resp_t r;
  snprintf(path, sizeof(path), "/proxies/%s", name);
  assert_int_equal(http("GET", path, NULL, &r), 200);
  json_t *v = json_loads(r.body, 0, NULL);
  assert_non_null(v);
  snprintf(out, size, "%s", json_string_value(json_object_get(v, "listen")));
  json_decref(v);
}

/* Raw bytes to the API, written in pieces of `piece` bytes `gap_ms` apart;
 * reads until the server closes or `ms` pass. Returns the bytes read. */
static size_t raw(const char *data, size_t len, size_t piece, int gap_ms, char *out,
                  size_t size, int ms) {
  int fd = pt_connect(FX->api_url + strlen("http://"));
  assert_true(fd >= 0);
  for (size_t off = 0; off < len; off += piece) {
    size_t k = len - off < piece ? len - off : piece;
    if (send(fd, data + off, k, MSG_NOSIGNAL) < 0)
      break;
    if (gap_ms)
      pt_sleep_ms(gap_ms);
  }
  size_t n = 0;
  double end = pt_now_ms() + ms;
  while (n + 1 < size && pt_now_ms() < end) {
    if (!pt_wait_readable(fd, 50))
      continue;
    ssize_t k = recv(fd, out + n, size - 1 - n, 0);
    if (k <= 0)
      break;
    n += (size_t)k;
  }
  out[n] = '\0';
  close(fd);
  return n;
}

/* One request/response round trip of `len` bytes through a proxy to the
 * echo server, in ms; -1 when the connection failed. */
static double round_trip(const char *listen, size_t len) {
  char buf[4096];
  int fd = pt_connect(listen);
  if (fd < 0)
    return -1;
  memset(buf, 'x', sizeof(buf));
  double t0 = pt_now_ms();
  if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len) {
    close(fd);
    return -1;
  }
  size_t got = 0;
  while (got < len) {
    if (!pt_wait_readable(fd, 5000))
      break;
    ssize_t k = recv(fd, buf, sizeof(buf), 0);
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  double dt = pt_now_ms() - t0;
  close(fd);
  return got == len ? dt : -1;
}

static void create_echo_proxy(const char *name, char *listen, size_t size) {
  char body[256];
  snprintf(body, sizeof(body),
           "{\"name\":\"%s\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\"}", name,
           FX->echo_addr);
  EXPECT("POST", "/proxies", body, 201, NULL);
  listen_of(name, listen, size);
}

/* ---- the tests ---------------------------------------------------------- */

static void test_version(void **state) {
  (void)state;
  EXPECT("GET", "/version", NULL, 200,
         "{\"version\": \"" FL_API_TOXIPROXY_VERSION "\"}\n");
  assert_true(has_header(&R, "Content-Type: application/json;charset=utf-8"));
  assert_true(has_header(&R, "X-Toxiproxy-Request-Id: "));
  EXPECT("GET", "/faultline/version", NULL, 200, NULL);
  assert_non_null(strstr(R.body, "\"toxiproxy_api\":\"" FL_API_TOXIPROXY_VERSION "\""));
  EXPECT("POST", "/version", NULL, 405, "");
}

static void test_proxy_lifecycle(void **state) {
  char listen[64], want[512], path[64];
  (void)state;
  int port = pt_free_port();
  char body[256];
  snprintf(body, sizeof(body),
           "{\"name\":\"redis\",\"listen\":\"localhost:%d\",\"upstream\":\"%s\"}", port,
           FX->echo_addr);
  snprintf(want, sizeof(want),
           "{\"name\":\"redis\",\"listen\":\"127.0.0.1:%d\",\"upstream\":\"%s\","
           "\"enabled\":true,\"Logger\":{},\"toxics\":[]}",
           port, FX->echo_addr);
  EXPECT("POST", "/proxies", body, 201, want);
  assert_true(has_header(&R, "Content-Type: application/json\r\n"));
  EXPECT("POST", "/proxies", body, 409,
         "{\"error\":\"proxy already exists\",\"status\":409}\n");
  assert_true(has_header(&R, "Content-Type: text/plain; charset=utf-8"));
  EXPECT("GET", "/proxies/redis", NULL, 200, want);
  char index[600];
  snprintf(index, sizeof(index), "{\"redis\":%s}", want);
  EXPECT("GET", "/proxies", NULL, 200, index);
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
  assert_true(round_trip(listen, 10) >= 0);

  /* Down, as the README's "down" says: enabled false refuses connections. */
  EXPECT("POST", "/proxies/redis", "{\"enabled\":false}", 200, NULL);
  assert_non_null(strstr(R.body, "\"enabled\":false"));
  assert_int_equal(pt_connect(listen), -ECONNREFUSED);
  EXPECT("PATCH", "/proxies/redis", "{\"enabled\":true}", 200, want);
  assert_true(round_trip(listen, 10) >= 0);

  /* A new listen address moves it (a restart, as in Toxiproxy). */
  int port2 = pt_free_port();
  snprintf(body, sizeof(body), "{\"listen\":\"127.0.0.1:%d\"}", port2);
  EXPECT("POST", "/proxies/redis", body, 200, NULL);
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port2);
  assert_true(round_trip(listen, 10) >= 0);

  /* A proxy made disabled does not listen, and keeps its address as given. */
  snprintf(body, sizeof(body),
           "{\"name\":\"off\",\"listen\":\"localhost:%d\",\"upstream\":\"%s\","
           "\"enabled\":false}",
           port, FX->echo_addr);
  EXPECT("POST", "/proxies", body, 201, NULL);
  snprintf(want, sizeof(want), "\"listen\":\"localhost:%d\"", port);
  assert_non_null(strstr(R.body, want));
  snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
  assert_int_equal(pt_connect(listen), -ECONNREFUSED);

  EXPECT("DELETE", "/proxies/redis", NULL, 204, "");
  EXPECT("DELETE", "/proxies/redis", NULL, 404,
         "{\"error\":\"proxy not found\",\"status\":404}\n");
  EXPECT("GET", "/proxies/redis", NULL, 404,
         "{\"error\":\"proxy not found\",\"status\":404}\n");
  snprintf(path, sizeof(path), "/proxies/off");
  EXPECT("DELETE", path, NULL, 204, "");
  EXPECT("GET", "/proxies", NULL, 200, "{}");
}

static void test_bad_requests(void **state) {
  (void)state;
  EXPECT("POST", "/proxies", "{\"name\":", 400,
         "{\"error\":\"bad request body: unexpected EOF\",\"status\":400}\n");
  EXPECT("POST", "/proxies", "", 400,
         "{\"error\":\"bad request body: EOF\",\"status\":400}\n");
  EXPECT(
      "POST", "/proxies", "nope", 400,
      "{\"error\":\"bad request body: invalid character 'o' in literal null (expecting "
      "'u')\",\"status\":400}\n");
  EXPECT(
      "POST", "/proxies", "<html>", 400,
      "{\"error\":\"bad request body: invalid character '\\u003c' looking for beginning "
      "of value\",\"status\":400}\n");
  EXPECT("POST", "/proxies", "{\"upstream\":\"127.0.0.1:1\"}", 400,
         "{\"error\":\"missing required field: name\",\"status\":400}\n");
  EXPECT("POST", "/proxies", "{\"name\":\"a\"}", 400,
         "{\"error\":\"missing required field: upstream\",\"status\":400}\n");
  EXPECT(
      "POST", "/proxies", "{\"name\":5}", 400,
      "{\"error\":\"bad request body: json: cannot unmarshal number into Go struct field "
      "Proxy.name of type string\",\"status\":400}\n");
  EXPECT("POST", "/proxies", "[1]", 400, NULL);
  /* null decodes into nothing, in Go. */
  EXPECT("POST", "/proxies", "null", 400,
         "{\"error\":\"missing required field: name\",\"status\":400}\n");
  EXPECT("POST", "/populate", "null", 201, "{\"proxies\":null}");
  /* Field names match regardless of case, and what follows the object is
   * ignored, as Go's decoder does. */
  EXPECT(
      "POST", "/proxies",
      "{\"Name\":\"a\",\"UPSTREAM\":\"127.0.0.1:9\",\"listen\":\"127.0.0.1:0\"} trailing",
      201, NULL);

  EXPECT("POST", "/proxies/nope/toxics", "{\"type\":\"latency\"}", 404,
         "{\"error\":\"proxy not found\",\"status\":404}\n");
  EXPECT("POST", "/proxies/a/toxics", "{\"type\":\"teleport\"}", 400,
         "{\"error\":\"invalid toxic type\",\"status\":400}\n");
  EXPECT("POST", "/proxies/a/toxics", "null", 400,
         "{\"error\":\"invalid toxic type\",\"status\":400}\n");
  EXPECT("POST", "/proxies/a/toxics", "{\"type\":\"latency\",\"stream\":\"sideways\"}",
         400,
         "{\"error\":\"stream was invalid, can be either upstream or downstream\","
         "\"status\":400}\n");
  EXPECT("POST", "/proxies/a/toxics", "{\"type\":\"latency\",\"toxicity\":\"x\"}", 400,
         NULL);
  EXPECT("POST", "/proxies/a/toxics",
         "{\"type\":\"latency\",\"attributes\":{\"latency\":-5}}", 400, NULL);
  assert_non_null(strstr(R.body, "bad request body: "));
  EXPECT("POST", "/proxies/a/toxics", "{\"type\":\"latency\"}", 200, NULL);
  EXPECT("POST", "/proxies/a/toxics", "{\"type\":\"latency\"}", 409,
         "{\"error\":\"toxic already exists\",\"status\":409}\n");
  EXPECT("GET", "/proxies/a/toxics/nope", NULL, 404,
         "{\"error\":\"toxic not found\",\"status\":404}\n");
  EXPECT("POST", "/proxies/a/toxics/nope", "{}", 404,
         "{\"error\":\"toxic not found\",\"status\":404}\n");
  EXPECT("DELETE", "/proxies/a/toxics/nope", NULL, 404,
         "{\"error\":\"toxic not found\",\"status\":404}\n");

  /* Routing as gorilla/mux does it. */
  EXPECT("GET", "/nope", NULL, 404, "404 page not found\n");
  EXPECT("GET", "/proxies/", NULL, 404, "404 page not found\n");
  EXPECT("PUT", "/proxies", "{}", 405, "");
  EXPECT("GET", "/reset", NULL, 405, "");
  EXPECT("DELETE", "/proxies/a/toxics", NULL, 405, "");

  /* Browsers are refused. */
  resp_t r;
  struct curl_slist *h;
  CURL *c = easy_for("GET", "/proxies", NULL, &r, &h);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "Mozilla/5.0 (X11; Linux x86_64)");
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  assert_int_equal(r.status, 403);
  assert_string_equal(r.body, "User agent not allowed\n");
}

static void test_toxics(void **state) {
  char listen[64];
  (void)state;
  create_echo_proxy("db", listen, sizeof(listen));
  EXPECT(
      "POST", "/proxies/db/toxics",
      "{\"type\":\"latency\",\"attributes\":{\"latency\":1000}}", 200,
      "{\"attributes\":{\"latency\":1000,\"jitter\":0},\"name\":\"latency_downstream\","
      "\"type\":\"latency\",\"stream\":\"downstream\",\"toxicity\":1}");
  assert_true(has_header(&R, "Content-Type: application/json\r\n"));
  /* Unknown attributes are ignored, as Toxiproxy's decoder ignores them. */
  EXPECT("POST", "/proxies/db/toxics",
         "{\"type\":\"bandwidth\",\"stream\":\"upstream\",\"toxicity\":0.3,"
         "\"attributes\":{\"rate\":100,\"burst\":7}}",
         200,
         "{\"attributes\":{\"rate\":100},\"name\":\"bandwidth_upstream\",\"type\":"
         "\"bandwidth\","
         "\"stream\":\"upstream\",\"toxicity\":0.3}");
  EXPECT("POST", "/proxies/db/toxics",
         "{\"name\":\"cut\",\"type\":\"slicer\",\"attributes\":{\"average_size\":10,"
         "\"size_variation\":2,\"delay\":50}}",
         200, NULL);
  /* Listed upstream first, then downstream, each in the order added. */
  EXPECT("GET", "/proxies/db/toxics", NULL, 200, NULL);
  json_t *list = json_loads(R.body, 0, NULL);
  assert_int_equal(json_array_size(list), 3);
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 0), "name")),
                      "bandwidth_upstream");
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 1), "name")),
                      "latency_downstream");
  assert_string_equal(json_string_value(json_object_get(json_array_get(list, 2), "name")),
                      "cut");
  json_decref(list);
  EXPECT(
      "GET", "/proxies/db/toxics/cut", NULL, 200,
      "{\"attributes\":{\"average_size\":10,\"size_variation\":2,\"delay\":50},"
      "\"name\":\"cut\",\"type\":\"slicer\",\"stream\":\"downstream\",\"toxicity\":1}");
  /* Updates change attributes and toxicity only. */
  EXPECT(
      "POST", "/proxies/db/toxics/latency_downstream",
      "{\"attributes\":{\"jitter\":5},\"type\":\"timeout\",\"stream\":\"upstream\"}", 200,
      "{\"attributes\":{\"latency\":1000,\"jitter\":5},\"name\":\"latency_downstream\","
      "\"type\":\"latency\",\"stream\":\"downstream\",\"toxicity\":1}");
  EXPECT(
      "PATCH", "/proxies/db/toxics/latency_downstream", "{\"toxicity\":0.5}", 200,
      "{\"attributes\":{\"latency\":1000,\"jitter\":5},\"name\":\"latency_downstream\","
      "\"type\":\"latency\",\"stream\":\"downstream\",\"toxicity\":0.5}");
  EXPECT("POST", "/proxies/db/toxics/latency_downstream", "{\"attributes\":[1]}", 400,
         NULL);
  EXPECT("DELETE", "/proxies/db/toxics/latency_downstream", NULL, 204, "");
  EXPECT("DELETE", "/proxies/db/toxics/cut", NULL, 204, "");
  EXPECT("DELETE", "/proxies/db/toxics/bandwidth_upstream", NULL, 204, "");
  EXPECT("GET", "/proxies/db/toxics", NULL, 200, "[]");
}

static void test_noop_toxic(void **state) {
  char listen[64];
  (void)state;
  create_echo_proxy("n", listen, sizeof(listen));
  /* Toxiproxy's answer for its test toxic: no attributes, stream downstream
   * by default; attributes it does not have are ignored like any other. */
  EXPECT("POST", "/proxies/n/toxics", "{\"type\":\"noop\"}", 200,
         "{\"attributes\":{},\"name\":\"noop_downstream\",\"type\":\"noop\","
         "\"stream\":\"downstream\",\"toxicity\":1}");
  EXPECT("POST", "/proxies/n/toxics",
         "{\"type\":\"noop\",\"stream\":\"upstream\",\"attributes\":{\"x\":1}}", 200,
         "{\"attributes\":{},\"name\":\"noop_upstream\",\"type\":\"noop\","
         "\"stream\":\"upstream\",\"toxicity\":1}");
  /* Bytes pass both ways through both noops. */
  if (round_trip(listen, 3000) < 0)
    fail_msg("no echo through two noop toxics");
  EXPECT("DELETE", "/proxies/n/toxics/noop_downstream", NULL, 204, "");
  EXPECT("GET", "/proxies/n/toxics", NULL, 200, NULL);
  assert_non_null(strstr(R.body, "\"noop_upstream\""));
  assert_null(strstr(R.body, "\"noop_downstream\""));
}

static void test_bind_error_resolved(void **state) {
  char body[256], want[128];
  int port;
  (void)state;
  int lfd = pt_listen(&port);
  assert_true(lfd >= 0);
  /* Toxiproxy shows the address it tried to bind, the name resolved. */
  snprintf(body, sizeof(body),
           "{\"name\":\"b\",\"listen\":\"localhost:%d\",\"upstream\":\"%s\"}", port,
           FX->echo_addr);
  snprintf(want, sizeof(want),
           "{\"error\":\"listen tcp 127.0.0.1:%d: bind: address already in use\","
           "\"status\":500}\n",
           port);
  EXPECT("POST", "/proxies", body, 500, want);
  /* A numeric address is shown as written. */
  snprintf(body, sizeof(body),
           "{\"name\":\"b\",\"listen\":\"127.0.0.1:%d\",\"upstream\":\"%s\"}", port,
           FX->echo_addr);
  EXPECT("POST", "/proxies", body, 500, want);
  close(lfd);
}

static void test_populate(void **state) {
  char body[512], listen[64];
  (void)state;
  snprintf(body, sizeof(body),
           "[{\"name\":\"one\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\"},"
           "{\"name\":\"two\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\",\"enabled\":"
           "false}]",
           FX->echo_addr, FX->echo_addr);
  EXPECT("POST", "/populate", body, 201, NULL);
  json_t *v = json_loads(R.body, 0, NULL);
  assert_int_equal(json_array_size(json_object_get(v, "proxies")), 2);
  json_decref(v);
  listen_of("one", listen, sizeof(listen));

  /* The same addresses keep the proxy (its port, its toxics). */
  EXPECT("POST", "/proxies/one/toxics", "{\"type\":\"timeout\"}", 200, NULL);
  snprintf(body, sizeof(body),
           "[{\"name\":\"one\",\"listen\":\"%s\",\"upstream\":\"%s\"}]", listen,
           FX->echo_addr);
  EXPECT("POST", "/populate", body, 201, NULL);
  assert_non_null(strstr(R.body, "\"timeout_downstream\""));
  /* Another upstream replaces it: no toxics then. */
  snprintf(body, sizeof(body),
           "[{\"name\":\"one\",\"listen\":\"%s\",\"upstream\":\"127.0.0.1:9\"}]", listen);
  EXPECT("POST", "/populate", body, 201, NULL);
  assert_null(strstr(R.body, "\"timeout_downstream\""));

  EXPECT("POST", "/populate", "[]", 201, "{\"proxies\":null}");
  EXPECT("POST", "/populate", "[{\"upstream\":\"127.0.0.1:9\"}]", 400,
         "{\"error\":\"missing required field: name at proxy 1\",\"status\":400,"
         "\"proxies\":null}");
  assert_true(has_header(&R, "Content-Type: application/json\r\n"));
  EXPECT("POST", "/populate", "[{\"name\":\"x\"},{\"name\":\"y\"}]", 400,
         "{\"error\":\"missing required field: upstream at proxy 1\",\"status\":400,"
         "\"proxies\":null}");
  EXPECT("POST", "/populate", "{}", 400, NULL);
  assert_non_null(strstr(R.body, "\"proxies\":null"));
  /* A bind error stops there; what was made before stays, and is listed. */
  int lfd, port;
  lfd = pt_listen(&port);
  snprintf(body, sizeof(body),
           "[{\"name\":\"three\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\"},"
           "{\"name\":\"four\",\"listen\":\"127.0.0.1:%d\",\"upstream\":\"%s\"}]",
           FX->echo_addr, port, FX->echo_addr);
  EXPECT("POST", "/populate", body, 500, NULL);
  assert_non_null(strstr(R.body, "bind: address already in use"));
  assert_non_null(strstr(R.body, "\"name\":\"three\""));
  EXPECT("GET", "/proxies/three", NULL, 200, NULL);
  EXPECT("GET", "/proxies/four", NULL, 404, NULL);
  /* Replacing a proxy by one that cannot listen leaves the old one, stopped. */
  snprintf(body, sizeof(body),
           "[{\"name\":\"three\",\"listen\":\"127.0.0.1:%d\",\"upstream\":\"%s\"}]", port,
           FX->echo_addr);
  EXPECT("POST", "/populate", body, 500, NULL);
  close(lfd);
  EXPECT("GET", "/proxies/three", NULL, 200, NULL);
  assert_non_null(strstr(R.body, "\"enabled\":false"));
}

static void test_reset(void **state) {
  char listen[64];
  (void)state;
  create_echo_proxy("r", listen, sizeof(listen));
  EXPECT("POST", "/proxies/r/toxics",
         "{\"type\":\"latency\",\"attributes\":{\"latency\":1000}}", 200, NULL);
  EXPECT("POST", "/proxies/r", "{\"enabled\":false}", 200, NULL);
  EXPECT("POST", "/faultline/partition", "{\"proxies\":[\"r\"]}", 200, NULL);
  EXPECT("POST", "/reset", NULL, 204, "");
  EXPECT("GET", "/proxies/r", NULL, 200, NULL);
  assert_non_null(strstr(R.body, "\"enabled\":true"));
  assert_non_null(strstr(R.body, "\"toxics\":[]"));
  double rt = round_trip(listen, 100);
  assert_true(rt >= 0 && rt < 600); /* generous: the toxic would make it 1000 */
}

/* A client written against Toxiproxy's README: create, add latency, take
 * down, reset; the bytes through the proxy say each step happened. */
static void test_latency_disable_reset_through_proxy(void **state) {
  char listen[64];
  (void)state;
  create_echo_proxy("shopify_test_redis_master", listen, sizeof(listen));
  double base = round_trip(listen, 100);
  assert_true(base >= 0 && base < 400);

  EXPECT("POST", "/proxies/shopify_test_redis_master/toxics",
         "{\"type\":\"latency\",\"attributes\":{\"latency\":600}}", 200, NULL);
  double slow = round_trip(listen, 100);
  if (slow < 595 || slow > 5000)
    fail_msg("round trip with 600 ms latency took %.1f ms", slow);

  EXPECT("POST", "/proxies/shopify_test_redis_master", "{\"enabled\":false}", 200, NULL);
  assert_int_equal(pt_connect(listen), -ECONNREFUSED);

  EXPECT("POST", "/reset", "", 204, "");
  double fast = round_trip(listen, 100);
  if (fast < 0 || fast > 400)
    fail_msg("round trip after reset took %.1f ms", fast);

  /* Upstream latency counts too, and a timeout toxic holds the bytes. */
  EXPECT(
      "POST", "/proxies/shopify_test_redis_master/toxics",
      "{\"type\":\"latency\",\"stream\":\"upstream\",\"attributes\":{\"latency\":150}}",
      200, NULL);
  slow = round_trip(listen, 100);
  if (slow < 145 || slow > 5000)
    fail_msg("round trip with 150 ms upstream latency took %.1f ms", slow);
  EXPECT("POST", "/proxies/shopify_test_redis_master/toxics", "{\"type\":\"timeout\"}",
         200, NULL);
  int fd = pt_connect(listen);
  assert_true(fd >= 0);
  assert_int_equal(send(fd, "ping", 4, MSG_NOSIGNAL), 4);
  assert_false(pt_wait_readable(fd, 400));
  /* Removing the timeout closes the connections it held, as Toxiproxy does. */
  EXPECT("DELETE", "/proxies/shopify_test_redis_master/toxics/timeout_downstream", NULL,
         204, "");
  char b[8];
  assert_true(pt_wait_readable(fd, 2000));
  assert_true(recv(fd, b, sizeof(b), 0) <= 0);
  close(fd);
}

static void test_create_with_toxics(void **state) {
  char body[512], listen[64];
  (void)state;
  /* A proxy and its toxics in one request: the first connection already
   * has the latency. */
  snprintf(body, sizeof(body),
           "{\"name\":\"t\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\",\"toxics\":["
           "{\"type\":\"latency\",\"attributes\":{\"latency\":200}},"
           "{\"type\":\"limit_data\",\"stream\":\"upstream\",\"attributes\":{\"bytes\":"
           "100000}}]}",
           FX->echo_addr);
  EXPECT("POST", "/proxies", body, 201, NULL);
  assert_non_null(strstr(R.body, "\"limit_data_upstream\""));
  listen_of("t", listen, sizeof(listen));
  double rt = round_trip(listen, 10);
  if (rt < 190 || rt > 2500)
    fail_msg("first round trip took %.1f ms, want about 200", rt);
  /* All or nothing: a bad toxic means no proxy. */
  snprintf(body, sizeof(body),
           "{\"name\":\"u\",\"upstream\":\"%s\",\"toxics\":[{\"type\":\"latency\"},"
           "{\"type\":\"nope\"}]}",
           FX->echo_addr);
  EXPECT("POST", "/proxies", body, 400,
         "{\"error\":\"invalid toxic type\",\"status\":400}\n");
  EXPECT("GET", "/proxies/u", NULL, 404, NULL);
  snprintf(body, sizeof(body),
           "{\"name\":\"u\",\"upstream\":\"%s\",\"toxics\":[{\"type\":\"latency\"},"
           "{\"type\":\"latency\"}]}",
           FX->echo_addr);
  EXPECT("POST", "/proxies", body, 409,
         "{\"error\":\"toxic already exists\",\"status\":409}\n");
  EXPECT("GET", "/proxies/u", NULL, 404, NULL);
}

static void test_http_limits_and_framing(void **state) {
  char out[8192], req[1024];
  (void)state;
  /* A request written one byte at a time. */
  snprintf(req, sizeof(req),
           "POST /proxies HTTP/1.1\r\nHost: x\r\nContent-Length: 63\r\nConnection: "
           "close\r\n\r\n"
           "{\"name\":\"slow\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:9\"}");
  raw(req, strlen(req), 1, 1, out, sizeof(out), 5000);
  assert_non_null(strstr(out, "HTTP/1.1 201 Created\r\n"));
  assert_non_null(strstr(out, "\"name\":\"slow\""));

  /* Pipelined requests are answered in order, keep-alive between them. */
  const char *pipe = "GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /proxies/nope HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /proxies/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  raw(pipe, strlen(pipe), 4096, 0, out, sizeof(out), 5000);
  char *a = strstr(out, "HTTP/1.1 200 OK"), *b = strstr(out, "HTTP/1.1 404 Not Found");
  char *c = a ? strstr(a + 1, "HTTP/1.1 200 OK") : NULL;
  assert_true(a != NULL && b != NULL && c != NULL && a < b && b < c);

  /* Chunked bodies. */
  const char *chunked = "POST /proxies/slow/toxics HTTP/1.1\r\nHost: x\r\n"
                        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                        "5\r\n{\"typ\r\n11\r\ne\":\"latency\"}    \r\n0\r\n\r\n";
  raw(chunked, strlen(chunked), 7, 0, out, sizeof(out), 5000);
  assert_non_null(strstr(out, "HTTP/1.1 200 OK"));
  assert_non_null(strstr(out, "latency_downstream"));

  /* A body over 1 MiB is refused from its Content-Length alone. */
  const char *big =
      "POST /populate HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n[";
  raw(big, strlen(big), 4096, 0, out, sizeof(out), 5000);
  assert_non_null(strstr(out, "HTTP/1.1 413 Request Entity Too Large\r\n"));
  assert_non_null(strstr(out, "Connection: close"));
  /* ... and a chunked one when it passes the limit. */
  size_t n = 3 * 1024 * 1024;
  char *huge = malloc(n);
  size_t k = (size_t)snprintf(huge, n,
                              "POST /populate HTTP/1.1\r\nHost: x\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n");
  while (k + 70000 < n) {
    k += (size_t)snprintf(huge + k, n - k, "10000\r\n");
    memset(huge + k, ' ', 0x10000);
    k += 0x10000;
    k += (size_t)snprintf(huge + k, n - k, "\r\n");
  }
  raw(huge, k, 65536, 0, out, sizeof(out), 5000);
  assert_non_null(strstr(out, "HTTP/1.1 413 "));
  /* Headers over 16 KiB. */
  k = (size_t)snprintf(huge, n, "GET /version HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(huge + k, 'a', 20000);
  k += 20000;
  k += (size_t)snprintf(huge + k, n - k, "\r\n\r\n");
  raw(huge, k, 4096, 0, out, sizeof(out), 5000);
  assert_non_null(strstr(out, "HTTP/1.1 431 Request Header Fields Too Large\r\n"));
  free(huge);
  /* Not HTTP at all. */
  raw("\x16\x03\x01hello\r\n\r\n", 12, 100, 0, out, sizeof(out), 5000);
  assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));

  /* Expect: 100-continue, as curl sends for large bodies. */
  size_t blen = 300000;
  char *body = malloc(blen + 1);
  memset(body, ' ', blen);
  memcpy(body, "[]", 2);
  body[blen] = '\0';
  resp_t *r = malloc(sizeof(*r));
  struct curl_slist *h;
  CURL *cu = easy_for("POST", "/populate", body, r, &h);
  h = curl_slist_append(h, "Expect: 100-continue");
  curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
  assert_int_equal(curl_easy_perform(cu), CURLE_OK);
  curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &r->status);
  assert_int_equal(r->status, 201);
  assert_string_equal(r->body, "{\"proxies\":null}");
  curl_slist_free_all(h);
  curl_easy_cleanup(cu);
  free(r);
  free(body);
}

static void test_concurrent_clients(void **state) {
  enum { N = 100 };
  (void)state;
  CURLM *m = curl_multi_init();
  static resp_t rs[N];
  CURL *cs[N];
  struct curl_slist *hs[N];
  char bodies[N][160];
  for (int i = 0; i < N; i++) {
    snprintf(bodies[i], sizeof(bodies[i]),
             "{\"name\":\"c%03d\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\"}", i,
             FX->echo_addr);
    cs[i] = easy_for("POST", "/proxies", bodies[i], &rs[i], &hs[i]);
    curl_easy_setopt(cs[i], CURLOPT_FORBID_REUSE, 1L);
    curl_multi_add_handle(m, cs[i]);
  }
  int running = 1;
  double end = pt_now_ms() + 15000;
  while (running && pt_now_ms() < end) {
    curl_multi_perform(m, &running);
    if (running)
      curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  int created = 0;
  for (int i = 0; i < N; i++) {
    curl_easy_getinfo(cs[i], CURLINFO_RESPONSE_CODE, &rs[i].status);
    created += rs[i].status == 201;
    curl_multi_remove_handle(m, cs[i]);
    curl_easy_cleanup(cs[i]);
    curl_slist_free_all(hs[i]);
  }
  curl_multi_cleanup(m);
  assert_int_equal(created, N);
  EXPECT("GET", "/proxies", NULL, 200, NULL);
  json_t *v = json_loads(R.body, 0, NULL);
  assert_int_equal(json_object_size(v), N);
  json_decref(v);
  char listen[64];
  listen_of("c042", listen, sizeof(listen));
  assert_true(round_trip(listen, 10) >= 0);
}

static void test_metrics(void **state) {
  char listen[64];
  (void)state;
  create_echo_proxy("m", listen, sizeof(listen));
  assert_true(round_trip(listen, 1000) >= 0);
  EXPECT("POST", "/proxies/m/toxics", "{\"type\":\"latency\"}", 200, NULL);
  EXPECT("GET", "/metrics", NULL, 200, NULL);
  assert_true(has_header(&R, "Content-Type: text/plain; version=0.0.4"));
  char want[256];
  snprintf(want, sizeof(want),
           "toxiproxy_proxy_sent_bytes_total{direction=\"upstream\",listener=\"%s\","
           "proxy=\"m\",upstream=\"%s\"} 1000\n",
           listen, FX->echo_addr);
  if (strstr(R.body, want) == NULL)
    fail_msg("no %s in\n%s", want, R.body);
  assert_non_null(strstr(R.body, "faultline_proxy_connections_total{proxy=\"m\"} 1\n"));
  assert_non_null(strstr(
      R.body, "faultline_proxy_toxics_active{proxy=\"m\",stream=\"downstream\"} 1\n"));
}

static void test_partition(void **state) {
  char body[256], ab[64], ba[64];
  (void)state;
  snprintf(
      body, sizeof(body),
      "{\"name\":\"a_b\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\",\"from\":\"a\","
      "\"to\":\"b\"}",
      FX->echo_addr);
  EXPECT("POST", "/proxies", body, 201, NULL);
  assert_null(strstr(R.body, "\"from\"")); /* Toxiproxy's shape is kept */
  snprintf(
      body, sizeof(body),
      "{\"name\":\"b_a\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"%s\",\"from\":\"b\","
      "\"to\":\"a\"}",
      FX->echo_addr);
  EXPECT("POST", "/proxies", body, 201, NULL);
  listen_of("a_b", ab, sizeof(ab));
  listen_of("b_a", ba, sizeof(ba));

  EXPECT("POST", "/faultline/partition", "{\"groups\":[[\"a\"],[\"b\"]]}", 200,
         "{\"cut\":[{\"name\":\"a_b\",\"protocol\":\"tcp\",\"direction\":\"both\"},"
         "{\"name\":\"b_a\",\"protocol\":\"tcp\",\"direction\":\"both\"}]}");
  int fd = pt_connect(ab);
  assert_true(fd >= 0);
  assert_int_equal(send(fd, "x", 1, MSG_NOSIGNAL), 1);
  assert_false(pt_wait_readable(fd, 300)); /* nothing crosses */
  EXPECT("GET", "/faultline/partition", NULL, 200, NULL);
  assert_non_null(strstr(R.body, "\"partition\":\"both\""));
  EXPECT("DELETE", "/faultline/partition", NULL, 204, "");
  assert_true(pt_wait_readable(fd, 2000)); /* held bytes flow after healing */
  close(fd);

  EXPECT("POST", "/faultline/partition", "{\"from\":\"a\",\"to\":[\"b\"]}", 200,
         "{\"cut\":[{\"name\":\"a_b\",\"protocol\":\"tcp\",\"direction\":\"upstream\"},"
         "{\"name\":\"b_a\",\"protocol\":\"tcp\",\"direction\":\"downstream\"}]}");
  EXPECT("DELETE", "/faultline/partition", NULL, 204, "");
  EXPECT("POST", "/faultline/partition",
         "{\"proxies\":[\"a_b\"],\"direction\":\"upstream\"}", 200, NULL);
  EXPECT("POST", "/faultline/partition", "{\"proxies\":[\"zz\"]}", 404,
         "{\"error\":\"proxy not found\",\"status\":404}\n");
  EXPECT("POST", "/faultline/partition", "{\"groups\":[[\"x\"],[\"y\"]]}", 400, NULL);
  EXPECT("POST", "/faultline/partition", "{\"groups\":[[\"a\"],[\"a\"]]}", 400, NULL);
  EXPECT("POST", "/faultline/partition", "{}", 400, NULL);
  EXPECT("POST", "/reset", NULL, 204, "");
  assert_true(round_trip(ab, 10) >= 0);
}

static void test_udp(void **state) {
  char body[256];
  (void)state;
  int ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(ufd, (struct sockaddr *)&a, sizeof(a));
  getsockname(ufd, (struct sockaddr *)&a, &alen);
  snprintf(body, sizeof(body),
           "{\"name\":\"dns\",\"upstream\":\"127.0.0.1:%d\",\"faults\":{\"downstream\":"
           "{\"latency\":10}}}",
           ntohs(a.sin_port));
  EXPECT("POST", "/faultline/udp", body, 201, NULL);
  EXPECT("POST", "/faultline/udp", body, 409, NULL);
  json_t *v = json_loads(R.body, 0, NULL);
  json_decref(v);
  EXPECT("GET", "/faultline/udp/dns", NULL, 200, NULL);
  v = json_loads(R.body, 0, NULL);
  assert_non_null(v);
  char listen[64];
  snprintf(listen, sizeof(listen), "%s", json_string_value(json_object_get(v, "listen")));
  json_decref(v);

  /* A datagram crosses, then a cut stops the next one. */
  int cfd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in p;
  memset(&p, 0, sizeof(p));
  p.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &p.sin_addr);
  p.sin_port = htons((uint16_t)atoi(strrchr(listen, ':') + 1));
  char buf[16];
  sendto(cfd, "hi", 2, 0, (struct sockaddr *)&p, sizeof(p));
  assert_true(pt_wait_readable(ufd, 2000));
  assert_int_equal(recv(ufd, buf, sizeof(buf), 0), 2);
  EXPECT(
      "POST", "/faultline/partition",
      "{\"proxies\":[\"dns\"],\"direction\":\"upstream\"}", 200,
      "{\"cut\":[{\"name\":\"dns\",\"protocol\":\"udp\",\"direction\":\"upstream\"}]}");
  sendto(cfd, "hi", 2, 0, (struct sockaddr *)&p, sizeof(p));
  assert_false(pt_wait_readable(ufd, 300));
  EXPECT("DELETE", "/faultline/partition", NULL, 204, "");

  EXPECT("PATCH", "/faultline/udp/dns", "{\"faults\":{\"both\":{\"loss\":0.25}}}", 200,
         NULL);
  assert_non_null(strstr(R.body, "\"loss\":0.25"));
  EXPECT("PATCH", "/faultline/udp/dns", "{\"faults\":{\"both\":{\"loss\":7}}}", 400,
         NULL);
  EXPECT("PATCH", "/faultline/udp/dns", "{\"faults\":{\"sideways\":{}}}", 400, NULL);
  EXPECT("GET", "/faultline/udp", NULL, 200, NULL);
  assert_non_null(strstr(R.body, "\"dns\":{"));
  EXPECT("GET", "/metrics", NULL, 200, NULL);
  assert_non_null(strstr(R.body, "faultline_udp_datagrams_received_total{proxy=\"dns\","
                                 "direction=\"upstream\"} 2\n"));
  EXPECT("DELETE", "/faultline/udp/dns", NULL, 204, "");
  EXPECT("DELETE", "/faultline/udp/dns", NULL, 404, NULL);
  close(cfd);
  close(ufd);
}

/* Small limits: answers queue for a client that does not read (parsing
 * pauses and resumes), the read and idle timeouts, the connection cap. */
static fl_api_limits_t small_limits;

static int setup_small(void **state) {
  fl_api_limits_default(&small_limits);
  small_limits.max_queued = 2048;
  small_limits.max_conns = 4;
  small_limits.read_timeout_ms = 300;
  small_limits.idle_timeout_ms = 600;
  return setup_with(state, 0, 0, &small_limits);
}

static void test_backpressure_and_timeouts(void **state) {
  enum { N = 400 };
  (void)state;
  static const char one[] = "GET /version HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t len = (sizeof(one) - 1) * N;
  char *reqs = malloc(len + 1);
  for (int i = 0; i < N; i++)
    memcpy(reqs + i * (sizeof(one) - 1), one, sizeof(one) - 1);
  int fd = pt_connect(FX->api_url + strlen("http://"));
  assert_true(fd >= 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  size_t off = 0;
  while (off < len) {
    ssize_t k = send(fd, reqs + off, len - off, MSG_NOSIGNAL);
    assert_true(k > 0);
    off += (size_t)k;
  }
  pt_sleep_ms(100); /* the server fills its queue and pauses */
  size_t cap = 1 << 20, n = 0;
  char *out = malloc(cap);
  int answers = 0;
  double end = pt_now_ms() + 10000;
  while (answers < N && pt_now_ms() < end) {
    if (!pt_wait_readable(fd, 100))
      continue;
    ssize_t k = recv(fd, out + n, cap - 1 - n, 0);
    if (k <= 0)
      break;
    n += (size_t)k;
    out[n] = '\0';
    answers = 0;
    for (char *p = out; (p = strstr(p, "HTTP/1.1 200 OK")) != NULL; p++)
      answers++;
  }
  assert_int_equal(answers, N);
  close(fd);
  free(out);
  free(reqs);

  /* Half a request, then silence: closed after the read timeout. */
  fd = pt_connect(FX->api_url + strlen("http://"));
  assert_int_equal(send(fd, "GET /vers", 9, MSG_NOSIGNAL), 9);
  double t0 = pt_now_ms();
  char b[256];
  assert_true(pt_wait_readable(fd, 3000));
  assert_true(recv(fd, b, sizeof(b), 0) <= 0);
  double dt = pt_now_ms() - t0;
  if (dt < 250 || dt > 2500)
    fail_msg("read timeout after %.0f ms, want about 300", dt);
  close(fd);
  /* An idle keep-alive connection: closed after the idle timeout. */
  fd = pt_connect(FX->api_url + strlen("http://"));
  t0 = pt_now_ms();
  assert_true(pt_wait_readable(fd, 3000));
  assert_true(recv(fd, b, sizeof(b), 0) <= 0);
  dt = pt_now_ms() - t0;
  if (dt < 550 || dt > 3000)
    fail_msg("idle timeout after %.0f ms, want about 600", dt);
  close(fd);

  /* Past max_conns, a new connection is closed at once. */
  int fds[5];
  for (int i = 0; i < 5; i++) {
    fds[i] = pt_connect(FX->api_url + strlen("http://"));
    assert_true(fds[i] >= 0);
    pt_sleep_ms(20);
  }
  assert_true(pt_wait_readable(fds[4], 2000));
  assert_true(recv(fds[4], b, sizeof(b), 0) <= 0);
  assert_false(pt_wait_readable(fds[0], 100));
  for (int i = 0; i < 5; i++)
    close(fds[i]);
}

/* With toxicity 0.5, which connections get a latency toxic is the same
 * under the same --seed. */
static int seed_setup(void **state) {
  return setup_seeded(state, 1234, 1);
}

static unsigned seeded_pattern(void) {
  char listen[64];
  unsigned bits = 0;
  create_echo_proxy("s", listen, sizeof(listen));
  EXPECT("POST", "/proxies/s/toxics",
         "{\"type\":\"latency\",\"toxicity\":0.5,\"attributes\":{\"latency\":250}}", 200,
         NULL);
  for (int i = 0; i < 8; i++) {
    double rt = round_trip(listen, 10);
    assert_true(rt >= 0);
    bits = bits << 1 | (rt > 125);
  }
  return bits;
}

static void test_seed_reproducible(void **state) {
  unsigned first = seeded_pattern();
  teardown(state);
  seed_setup(state);
  unsigned second = seeded_pattern();
  assert_int_equal(first, second);
  assert_true(first != 0 && first != 0xff); /* 0.5 hits some, not all */
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_version, setup, teardown),
      cmocka_unit_test_setup_teardown(test_proxy_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
      cmocka_unit_test_setup_teardown(test_toxics, setup, teardown),
      cmocka_unit_test_setup_teardown(test_noop_toxic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bind_error_resolved, setup, teardown),
      cmocka_unit_test_setup_teardown(test_populate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_latency_disable_reset_through_proxy, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_create_with_toxics, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_limits_and_framing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_clients, setup, teardown),
      cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partition, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backpressure_and_timeouts, setup_small,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_seed_reproducible, seed_setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
