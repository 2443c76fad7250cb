/* The proxy's HTTP layer without sockets: rule parsing and matching, and
 * each action on crafted byte streams. Every stream is fed cut at every byte
 * boundary, and one byte at a time, and must give the same output as fed
 * whole: message boundaries may not depend on how reads fell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "faults/http_rule.h"
#include "faults/proxy_http.h"
#include "faults/toxic.h"
#include "base/alloc.h"
#include "base/buf.h"

/* A connection's two directions as the layer sees them. */
typedef struct {
  fl_pool_t pool;
  fl_http_rule_t *rules;
  fl_proxy_stats_t stats;
  fl_buf_t out[2];
  int end[2];
  int resets;
  int kicks;
  fl_phttp_t *h;
} rig_t;

static void emit(void *arg, int dir, fl_chunk_t *c) {
  rig_t *r = arg;
  assert_int_equal(r->end[dir], 0); /* nothing after the end */
  fl_buf_add(&r->out[dir], c->data + c->off, c->len);
  fl_chunk_free(&r->pool, c);
}

static void end(void *arg, int dir, int e) {
  rig_t *r = arg;
  assert_int_equal(r->end[dir], 0);
  r->end[dir] = e;
}

static void reset(void *arg) {
  ((rig_t *)arg)->resets++;
}

static void kick(void *arg, int dir) {
  assert_int_equal(dir, FL_HTTP_RES);
  ((rig_t *)arg)->kicks++;
}

/* rules: a JSON array of rule specs (may be NULL). */
static void rig_init(rig_t *r, const char *rules) {
  memset(r, 0, sizeof(*r));
  fl_pool_init(&r->pool);
  fl_buf_init(&r->out[0], 1u << 24);
  fl_buf_init(&r->out[1], 1u << 24);
  if (rules != NULL) {
    json_error_t je;
    json_t *a = json_loads(rules, 0, &je);
    if (a == NULL)
      fail_msg("bad test JSON: %s", je.text);
    fl_http_rule_t **tail = &r->rules;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
      fl_err_t err = {0};
      char name[16];
      snprintf(name, sizeof(name), "r%d", (int)i);
      if (fl_http_rule_parse(tail, v, NULL, name, &err) != 0)
        fail_msg("rule %zu: %s", i, err.msg);
      fl_prng_seed(&(*tail)->rng, 42 + i);
      tail = &(*tail)->next;
    }
    json_decref(a);
  }
  fl_phttp_io_t io = {.pool = &r->pool,
                      .rules = &r->rules,
                      .stats = &r->stats,
                      .emit = emit,
                      .end = end,
                      .reset = reset,
                      .kick = kick,
                      .arg = r};
  r->h = fl_phttp_new(&io);
}

static void rig_free(rig_t *r) {
  fl_phttp_free(r->h);
  while (r->rules != NULL) {
    fl_http_rule_t *x = r->rules;
    r->rules = x->next;
    fl_http_rule_free(x);
  }
  fl_buf_free(&r->out[0]);
  fl_buf_free(&r->out[1]);
  fl_pool_clear(&r->pool);
}

/* Runs dir until no delay holds it, moving the clock to each deadline. */
static uint64_t run(rig_t *r, int dir, uint64_t now) {
  for (;;) {
    uint64_t due = fl_phttp_run(r->h, dir, now);
    if (due == 0)
      return now;
    assert_true(due > now);
    now = due;
  }
}

static void feed(rig_t *r, int dir, const char *p, size_t n) {
  if (n == 0)
    return;
  fl_chunk_t *c = fl_chunk_copy(&r->pool, p, n);
  c->flags = 0;
  fl_phttp_push(r->h, dir, c);
}

typedef struct {
  const char *rules;
  const char *req;
  size_t req_len;
  const char *res;
  size_t res_len;
  int req_eof, res_eof;
} case_t;

typedef struct {
  char *out[2];
  size_t len[2];
  int end[2];
  int resets;
  uint64_t parsed, rejected;
} result_t;

/* Feeds the request stream cut at `cut` (0: whole; SIZE_MAX: one byte at a
 * time), running the request side after each piece, then the response
 * stream likewise. */
static void play(const case_t *k, size_t cut, result_t *res) {
  rig_t r;
  rig_init(&r, k->rules);
  uint64_t now = 1;
  for (int dir = 0; dir < 2; dir++) {
    const char *s = dir == 0 ? k->req : k->res;
    size_t n = dir == 0 ? k->req_len : k->res_len;
    size_t step = cut == SIZE_MAX ? 1 : 0;
    for (size_t at = 0; at < n;) {
      size_t piece = step ? 1 : (cut > at && cut < n ? cut - at : n - at);
      feed(&r, dir, s + at, piece);
      at += piece;
      now = run(&r, dir, now);
      if (dir == 0)
        now = run(&r, FL_HTTP_RES, now); /* answers of aborts */
    }
    if (dir == 0 ? k->req_eof : k->res_eof) {
      fl_phttp_eof(r.h, dir);
      now = run(&r, dir, now);
    }
  }
  for (int d = 0; d < 2; d++) {
    res->len[d] = r.out[d].len;
    res->out[d] = fl_malloc(r.out[d].len + 1);
    memcpy(res->out[d], r.out[d].data ? r.out[d].data : "", r.out[d].len);
    res->out[d][r.out[d].len] = '\0';
    res->end[d] = r.end[d];
  }
  res->resets = r.resets;
  res->parsed = r.stats.http_parsed;
  res->rejected = r.stats.http_rejected;
  rig_free(&r);
}

static void result_free(result_t *x) {
  fl_free(x->out[0]);
  fl_free(x->out[1]);
}

/* Plays k whole and checks the output; then at every cut and byte by byte,
 * and checks each gives the same. */
static void check_case(const case_t *k, const char *want_up, const char *want_down,
                       int want_resets, result_t *whole) {
  play(k, 0, whole);
  if (want_up != NULL)
    assert_string_equal(whole->out[0], want_up);
  if (want_down != NULL)
    assert_string_equal(whole->out[1], want_down);
  assert_int_equal(whole->resets, want_resets);
  size_t longest = k->req_len > k->res_len ? k->req_len : k->res_len;
  for (size_t cut = 1; cut <= longest + 1; cut++) {
    size_t c = cut == longest + 1 ? SIZE_MAX : cut;
    result_t x;
    play(k, c, &x);
    if (x.len[0] != whole->len[0] || memcmp(x.out[0], whole->out[0], x.len[0]) != 0 ||
        x.len[1] != whole->len[1] || memcmp(x.out[1], whole->out[1], x.len[1]) != 0)
      fail_msg("cut at %zu differs:\nup: %s\ndown: %s", cut, x.out[0], x.out[1]);
    assert_int_equal(x.resets, whole->resets);
    assert_int_equal(x.end[0], whole->end[0]);
    assert_int_equal(x.end[1], whole->end[1]);
    assert_int_equal(x.parsed, whole->parsed);
    assert_int_equal(x.rejected, whole->rejected);
    result_free(&x);
  }
}

#define S(x) x, sizeof(x) - 1

/* Matching. */

static void test_glob(void **state) {
  (void)state;
  assert_true(fl_http_glob("/reserve*", "/reserve"));
  assert_true(fl_http_glob("/reserve*", "/reserve/12?x=1"));
  assert_false(fl_http_glob("/reserve*", "/reserv"));
  assert_true(fl_http_glob("/a/?/c", "/a/b/c"));
  assert_false(fl_http_glob("/a/?/c", "/a/bb/c"));
  assert_true(fl_http_glob("*", ""));
  assert_true(fl_http_glob("*/x*y", "/a/b/x1y"));
  assert_false(fl_http_glob("/x", "/x/"));
}

static fl_http_rule_t *rule(const char *json) {
  fl_http_rule_t *r;
  fl_err_t err = {0};
  json_t *j = json_loads(json, 0, NULL);
  assert_non_null(j);
  int rc = fl_http_rule_parse(&r, j, NULL, "t", &err);
  json_decref(j);
  if (rc != 0)
    fail_msg("%s", err.msg);
  return r;
}

static void test_match(void **state) {
  (void)state;
  const char *names[] = {"Host", "x-tenant", "Content-Type"};
  const char *values[] = {"h", "a", "application/json; charset=utf-8"};
  fl_http_head_t h = {"POST", "/reserve/7", 3, names, values};
  fl_http_rule_t *r = rule("{\"match\":{\"method\":\"post\",\"path\":\"/reserve*\","
                           "\"header\":{\"X-Tenant\":\"a\"}},\"abort\":{}}");
  assert_true(fl_http_rule_matches(r, &h)); /* method upper-cased, name without case */
  h.method = "GET";
  assert_false(fl_http_rule_matches(r, &h));
  h.method = "POST";
  values[1] = "b";
  assert_false(fl_http_rule_matches(r, &h));
  fl_http_rule_free(r);
  r = rule(
      "{\"match\":{\"header\":{\"content-type\":\"application/json*\"}},\"reset\":true}");
  assert_true(fl_http_rule_matches(r, &h));
  assert_int_equal(r->action, FL_HTTP_RESET);
  assert_false(r->reset_after);
  fl_http_rule_free(r);
  r = rule("{\"match\":{\"header\":{\"X-Missing\":\"*\"}},\"delay\":{\"response\":5}}");
  assert_false(fl_http_rule_matches(r, &h));
  fl_http_rule_free(r);
  r = rule("{\"reset\":\"after\"}"); /* no match: every request */
  assert_true(fl_http_rule_matches(r, &h));
  assert_true(r->reset_after);
  fl_http_rule_free(r);
}

static void expect_error(const char *json, const char *needle) {
  fl_http_rule_t *r;
  fl_err_t err = {0};
  json_t *j = json_loads(json, 0, NULL);
  assert_non_null(j);
  assert_int_equal(fl_http_rule_parse(&r, j, NULL, "t", &err), FL_ECONFIG);
  json_decref(j);
  assert_null(r);
  if (strstr(err.msg, needle) == NULL)
    fail_msg("error '%s' does not name '%s'", err.msg, needle);
}

static void test_parse_errors(void **state) {
  (void)state;
  expect_error("{\"match\":{}}", "an action is required");
  expect_error("{\"abort\":{},\"reset\":true}", "exactly one action");
  expect_error("{\"abort\":{\"status\":99}}", "abort.status");
  expect_error("{\"abort\":{\"status\":100}}", "final status");
  expect_error("{\"reset\":\"later\"}", "\"reset\"");
  expect_error("{\"delay\":{\"request\":-1}}", "delay.request");
  expect_error("{\"delay\":{}}", "request and/or response");
  expect_error("{\"rewrite\":{}}", "status, headers or body");
  expect_error("{\"abort\":{},\"percent\":101}", "percent");
  expect_error("{\"abort\":{},\"first\":0}", "first");
  expect_error("{\"abort\":{},\"direction\":\"sideways\"}", "direction");
  expect_error("{\"abort\":{},\"bogus\":1}", "unknown field \"bogus\"");
  expect_error("{\"match\":{\"verb\":\"GET\"},\"abort\":{}}", "match.verb");
  expect_error("{\"abort\":{\"headers\":{\"Bad Name\":\"x\"}}}", "not a header name");
  expect_error("{\"delay\":{\"request\":5},\"direction\":\"downstream\"}",
               "delay.request");
}

static void test_fire_first_percent(void **state) {
  (void)state;
  fl_http_rule_t *r = rule("{\"abort\":{},\"first\":3}");
  int fired = 0;
  for (int i = 0; i < 10; i++)
    fired += fl_http_rule_fire(r);
  assert_int_equal(fired, 3);
  assert_int_equal(r->matched, 10);
  assert_int_equal(r->faulted, 3);
  fl_http_rule_free(r);

  /* percent: the same seed, the same choices; about the share asked. */
  fl_http_rule_t *a = rule("{\"abort\":{},\"percent\":20}");
  fl_http_rule_t *b = rule("{\"abort\":{},\"percent\":20}");
  fl_prng_seed(&a->rng, 99);
  fl_prng_seed(&b->rng, 99);
  int n = 0;
  for (int i = 0; i < 10000; i++) {
    int x = fl_http_rule_fire(a);
    assert_int_equal(x, fl_http_rule_fire(b));
    n += x;
  }
  assert_in_range(n, 1800, 2200);
  fl_http_rule_free(a);
  fl_http_rule_free(b);
}

/* Streams. */

#define REQ_A "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
#define REQ_R "POST /reserve/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
#define REQ_C "GET /c HTTP/1.1\r\nHost: x\r\n\r\n"
#define RES_A "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\naa"
#define RES_C                                                                            \
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nc\r\n2\r\ncc\r\n0\r\n\r\n"
#define ABORT_RULE                                                                       \
  "[{\"name\":\"r503\",\"match\":{\"method\":\"POST\",\"path\":\"/reserve*\"},"          \
  "\"abort\":{\"status\":503,\"body\":\"nope\",\"headers\":{\"Retry-After\":\"1\"}}}]"
#define ANSWER                                                                           \
  "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nRetry-After: 1\r\n"          \
  "X-Faultline-Fault: r503\r\n\r\nnope"

/* No rule matches: bytes pass unchanged, messages are counted. */
static void test_passthrough(void **state) {
  (void)state;
  case_t k = {"[{\"match\":{\"path\":\"/none\"},\"abort\":{}}]", S(REQ_A REQ_R REQ_C),
              S(RES_A RES_A RES_C), 1, 1};
  result_t w;
  check_case(&k, REQ_A REQ_R REQ_C, RES_A RES_A RES_C, 0, &w);
  assert_int_equal(w.parsed, 3);
  assert_int_equal(w.end[0], FL_END_EOF);
  assert_int_equal(w.end[1], FL_END_EOF);
  result_free(&w);
}

/* Pipelined: the middle request is answered by the proxy, in its place
 * among the responses, and its body never goes upstream. */
static void test_abort_pipelined(void **state) {
  (void)state;
  case_t k = {ABORT_RULE, S(REQ_A REQ_R REQ_C), S(RES_A RES_C), 0, 0};
  result_t w;
  check_case(&k, REQ_A REQ_C, RES_A ANSWER RES_C, 0, &w);
  assert_int_equal(w.end[1], 0); /* keep-alive */
  result_free(&w);
}

/* HTTP/1.0 without keep-alive, and a client waiting for 100 Continue: the
 * answer says Connection: close and the connection closes after it. */
static void test_abort_closes(void **state) {
  (void)state;
  case_t k = {ABORT_RULE, S("POST /reserve HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello"),
              "",         0,
              0,          0};
  result_t w;
  check_case(&k, "", NULL, 0, &w);
  assert_non_null(strstr(w.out[1], "Connection: close\r\n"));
  assert_int_equal(w.end[1], FL_END_CLOSE);
  result_free(&w);
  case_t e = {ABORT_RULE,
              S("POST /reserve HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                "Content-Length: 5\r\n\r\n"),
              "",
              0,
              0,
              0};
  check_case(&e, "", NULL, 0, &w);
  assert_non_null(strstr(w.out[1], "Connection: close\r\n"));
  assert_int_equal(w.end[1], FL_END_CLOSE);
  result_free(&w);
}

/* Chunked bodies both ways, with a chunk extension and a trailer. */
static void test_chunked(void **state) {
  (void)state;
  const char *req = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5;ext=1\r\nhello\r\n3\r\n wo\r\n0\r\nX-Trailer: t\r\n\r\n" REQ_A;
  case_t k = {"[{\"match\":{\"path\":\"/never\"},\"abort\":{}}]",
              req,
              strlen(req),
              S(RES_C RES_A),
              0,
              0};
  result_t w;
  check_case(&k, req, RES_C RES_A, 0, &w);
  assert_int_equal(w.parsed, 2);
  result_free(&w);
}

/* A rewrite of a chunked response's body: a new length, the old chunks
 * dropped; the 100 Continue before it passes untouched; a HEAD response
 * keeps no body. */
static void test_rewrite(void **state) {
  (void)state;
  const char *rules = "[{\"match\":{\"path\":\"/c\"},\"rewrite\":{\"status\":500,"
                      "\"headers\":{\"X-New\":\"1\"},\"body\":\"gone\"}}]";
  case_t k = {rules, S(REQ_A REQ_C), S(RES_A RES_C), 0, 0};
  result_t w;
  check_case(&k, REQ_A REQ_C,
             RES_A "HTTP/1.1 500 Internal Server Error\r\nX-New: 1\r\nContent-Length: "
                   "4\r\n\r\ngone",
             0, &w);
  result_free(&w);
  const char *rules2 = "[{\"match\":{\"method\":\"POST\"},\"rewrite\":{\"status\":201}}]";
  case_t c = {
      rules2,
      S("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"),
      S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), 0,
      0};
  check_case(&c, NULL,
             "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: "
             "2\r\n\r\nok",
             0, &w);
  result_free(&w);
  case_t h = {"[{\"match\":{\"method\":\"HEAD\"},\"rewrite\":{\"body\":\"xyz\"}}]",
              S("HEAD /h HTTP/1.1\r\n\r\n" REQ_A),
              S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n" RES_A), 0, 0};
  check_case(&h, NULL, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" RES_A, 0, &w);
  result_free(&w);
}

/* Reset before: nothing reaches upstream; after: the request went, the
 * reset comes instead of its response. */
static void test_reset(void **state) {
  (void)state;
  case_t b = {"[{\"match\":{\"path\":\"/c\"},\"reset\":\"before\"}]", S(REQ_A REQ_C),
              S(RES_A), 0, 0};
  result_t w;
  check_case(&b, REQ_A, RES_A, 1, &w);
  result_free(&w);
  case_t a = {"[{\"match\":{\"path\":\"/c\"},\"reset\":\"after\"}]", S(REQ_A REQ_C),
              S(RES_A RES_C), 0, 0};
  check_case(&a, REQ_A REQ_C, RES_A, 1, &w);
  result_free(&w);
}

/* A delayed request holds it (and what follows); the output is whole. */
static void test_delay(void **state) {
  (void)state;
  rig_t r;
  rig_init(&r,
           "[{\"match\":{\"path\":\"/c\"},\"delay\":{\"request\":100,\"response\":50}}]");
  feed(&r, 0, S(REQ_A REQ_C REQ_A));
  uint64_t due = fl_phttp_run(r.h, 0, 1000);
  assert_int_equal(due, 1000 + 100 * 1000000ull);
  assert_int_equal(r.out[0].len, strlen(REQ_A)); /* /a went, /c waits */
  assert_int_equal(fl_phttp_run(r.h, 0, due - 1), due);
  assert_int_equal(fl_phttp_run(r.h, 0, due), 0);
  assert_string_equal(r.out[0].data, REQ_A REQ_C REQ_A);
  feed(&r, 1, S(RES_A RES_C));
  uint64_t due2 = fl_phttp_run(r.h, 1, due);
  assert_int_equal(due2, due + 50 * 1000000ull);
  assert_string_equal(r.out[1].data, RES_A);
  assert_int_equal(fl_phttp_run(r.h, 1, due2), 0);
  assert_string_equal(r.out[1].data, RES_A RES_C);
  rig_free(&r);
}

/* A stream the parser rejects passes through unchanged, both ways, and is
 * counted; an Upgrade passes through untouched after the 101. */
static void test_reject_and_upgrade(void **state) {
  (void)state;
  static const char junk[] = "GARBAGE\x01 / HTTP/9\r\n\r\n\x00\x01binary";
  const size_t jn = sizeof(junk) - 1;
  case_t k = {ABORT_RULE, junk, jn, S(RES_A), 0, 0};
  result_t w;
  check_case(&k, NULL, RES_A, 0, &w);
  assert_int_equal(w.len[0], jn);
  assert_memory_equal(w.out[0], junk, jn);
  assert_int_equal(w.rejected, 1);
  result_free(&w);
  const char *up = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
                   "Upgrade\r\n\r\n\x81\x05POST /reserve HTTP/1.1\r\n\r\n";
  const char *down = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\n\r\n\x81\x02hi HTTP/1.1 garbage";
  case_t u = {ABORT_RULE, up, strlen(up), down, strlen(down), 0, 0};
  check_case(&u, up, down, 0, &w);
  assert_int_equal(w.rejected, 0);
  assert_int_equal(w.parsed, 1);
  result_free(&w);
}

/* A downstream rule decides on the response's headers. */
static void test_downstream(void **state) {
  (void)state;
  const char *rules = "[{\"match\":{\"header\":{\"transfer-encoding\":\"chunked\"}},"
                      "\"abort\":{\"status\":502},\"direction\":\"downstream\"}]";
  case_t k = {rules, S(REQ_A REQ_C), S(RES_A RES_C), 0, 0};
  result_t w;
  check_case(&k, REQ_A REQ_C,
             RES_A "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nX-Faultline-Fault: "
                   "r0\r\n\r\n",
             0, &w);
  result_free(&w);
}

/* A body that ends at EOF (no length) streams and completes at the EOF. */
static void test_eof_body(void **state) {
  (void)state;
  case_t k = {ABORT_RULE, S(REQ_A), S("HTTP/1.0 200 OK\r\n\r\nstream until close"), 1, 1};
  result_t w;
  check_case(&k, REQ_A, "HTTP/1.0 200 OK\r\n\r\nstream until close", 0, &w);
  assert_int_equal(w.end[1], FL_END_EOF);
  result_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_glob),         cmocka_unit_test(test_match),
      cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_fire_first_percent),
      cmocka_unit_test(test_passthrough),  cmocka_unit_test(test_abort_pipelined),
      cmocka_unit_test(test_abort_closes), cmocka_unit_test(test_chunked),
      cmocka_unit_test(test_rewrite),      cmocka_unit_test(test_reset),
      cmocka_unit_test(test_delay),        cmocka_unit_test(test_reject_and_upgrade),
      cmocka_unit_test(test_downstream),   cmocka_unit_test(test_eof_body),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
