/* libFuzzer target: the proxy's HTTP layer (faults/proxy_http.c) on
 * arbitrary request and response streams, cut into pieces where the input
 * says, under rules of every action. A rejected stream is fine; a crash, a
 * leak, undefined behaviour, or an output that is not the input when no
 * rule can change it, is not.
 *
 * Input: byte 0 = where the request stream ends (as a share of the rest),
 * byte 1 = the piece size; then the request stream, then the response
 * stream. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "faults/http_rule.h"
#include "faults/proxy_http.h"
#include "faults/toxic.h"
#include "base/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
  fl_pool_t pool;
  fl_buf_t out[2];
  int resets;
} sink_t;

static void emit(void *arg, int dir, fl_chunk_t *c) {
  sink_t *s = arg;
  fl_buf_add(&s->out[dir], c->data + c->off, c->len);
  fl_chunk_free(&s->pool, c);
}

static void end(void *arg, int dir, int e) {
  (void)arg, (void)dir, (void)e;
}

static void reset(void *arg) {
  ((sink_t *)arg)->resets++;
}

static void kick(void *arg, int dir) {
  (void)arg, (void)dir;
}

static const char *const RULES[] = {
    "{\"match\":{\"method\":\"POST\",\"path\":\"/"
    "r*\"},\"abort\":{\"status\":503,\"body\":\"x\"}}",
    "{\"match\":{\"path\":\"/d*\"},\"delay\":{\"request\":5,\"response\":5}}",
    "{\"match\":{\"path\":\"/w*\"},\"rewrite\":{\"status\":500,\"body\":\"rw\"}}",
    "{\"match\":{\"path\":\"/x*\"},\"reset\":\"after\",\"percent\":50}",
    "{\"match\":{\"header\":{\"content-type\":\"a*\"}},\"abort\":{},\"direction\":"
    "\"downstream\"}",
};

static void run_case(const uint8_t *req, size_t nreq, const uint8_t *res, size_t nres,
                     size_t piece, int with_rules) {
  sink_t s;
  memset(&s, 0, sizeof(s));
  fl_pool_init(&s.pool);
  fl_buf_init(&s.out[0], 1u << 24);
  fl_buf_init(&s.out[1], 1u << 24);
  fl_http_rule_t *rules = NULL, **tail = &rules;
  for (size_t i = 0; with_rules && i < sizeof(RULES) / sizeof(RULES[0]); i++) {
    json_t *j = json_loads(RULES[i], 0, NULL);
    if (fl_http_rule_parse(tail, j, NULL, "f", NULL) != 0)
      abort();
    json_decref(j);
    tail = &(*tail)->next;
  }
  fl_proxy_stats_t stats;
  memset(&stats, 0, sizeof(stats));
  fl_phttp_io_t io = {&s.pool, &rules, &stats, emit, end, reset, kick, &s};
  fl_phttp_t *h = fl_phttp_new(&io);
  uint64_t now = 1;
  for (int dir = 0; dir < 2; dir++) {
    const uint8_t *p = dir == 0 ? req : res;
    size_t n = dir == 0 ? nreq : nres;
    for (size_t at = 0; at < n; at += piece) {
      size_t k = n - at < piece ? n - at : piece;
      fl_chunk_t *c = fl_chunk_copy(&s.pool, (const char *)p + at, k);
      c->flags = 0;
      fl_phttp_push(h, dir, c);
      for (uint64_t due; (due = fl_phttp_run(h, dir, now)) != 0;)
        now = due;
      fl_phttp_run(h, 1, now);
    }
    fl_phttp_eof(h, dir);
    for (uint64_t due; (due = fl_phttp_run(h, dir, now)) != 0;)
      now = due;
  }
  /* Without rules nothing may change: every byte goes on, in order. */
  if (!with_rules &&
      ((s.out[0].len != nreq || (nreq && memcmp(s.out[0].data, req, nreq))) ||
       (s.out[1].len != nres || (nres && memcmp(s.out[1].data, res, nres)))))
    abort();
  fl_phttp_free(h);
  while (rules != NULL) {
    fl_http_rule_t *r = rules;
    rules = r->next;
    fl_http_rule_free(r);
  }
  fl_buf_free(&s.out[0]);
  fl_buf_free(&s.out[1]);
  fl_pool_clear(&s.pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2 || size > 1 << 16)
    return 0;
  size_t rest = size - 2;
  size_t nreq = rest * data[0] / 255;
  size_t piece = (size_t)data[1] % 64 + 1;
  const uint8_t *req = data + 2, *res = data + 2 + nreq;
  run_case(req, nreq, res, rest - nreq, piece, 1);
  run_case(req, nreq, res, rest - nreq, piece, 0);
  return 0;
}
