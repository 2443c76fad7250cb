/* The node: HTTP handlers, the leader's log replication and commit rule, and
 * the requests that wait for the commit index.
 *
 * Node 0 is the leader for ever. It appends every write to its log (fsynced),
 * pushes the log to each follower with POST /replicate, counts a follower as
 * holding index i once it answered {"applied": >= i} (followers fsync before
 * they answer), and commits index i when a majority holds it. Only committed
 * entries reach the leader's map, so its reads never show a write that could
 * still be lost; acknowledgements wait for the commit of their entry. */
#include "examples/kvnode/kvnode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#define TICK_MS 20
#define FORWARD_GRACE_MS 500 /* a follower waits this much longer than the leader */

enum { WAIT_OK, WAIT_MISMATCH, WAIT_READ };

/* A request answered once the commit index reaches `index`, or with 503 at
 * `deadline`. */
struct kv_waiter_s {
  kv_waiter_t *next;
  kv_req_t *req;
  int kind;
  uint64_t index, deadline;
  char *key; /* WAIT_READ */
  size_t klen;
};

static void answer(kv_req_t *req, int status, const char *text) {
  kv_http_respond(req, status, NULL, text, strlen(text));
}

static int is_leader(const kv_node_t *n) {
  return n->id == 0;
}

static void answer_read(kv_node_t *n, kv_req_t *req, const char *key, size_t klen) {
  const char *val;
  size_t vlen;
  if (kv_store_get(&n->store, key, klen, &val, &vlen))
    kv_http_respond(req, 200, NULL, val, vlen);
  else
    answer(req, 404, "not found");
}

/* ---- waiters ------------------------------------------------------------ */

static void waiter_add(kv_node_t *n, kv_req_t *req, int kind, uint64_t index,
                       const char *key, size_t klen) {
  kv_waiter_t *w = kv_malloc(sizeof(*w));
  memset(w, 0, sizeof(*w));
  w->req = req;
  w->kind = kind;
  w->index = index;
  w->deadline = uv_now(n->loop) + n->timeout_ms;
  if (key) {
    w->key = kv_memdup(key, klen);
    w->klen = klen;
  }
  w->next = n->waiters;
  n->waiters = w;
}

/* Answers the waiters that are done: committed (when now is 0), or past their
 * deadline, or all of them (when stopping). The list is detached first
 * because an answer can run the handler for a pipelined request, which may add
 * waiters. */
static void waiters_settle(kv_node_t *n, uint64_t now) {
  kv_waiter_t *w = n->waiters, *done = NULL, *next;
  n->waiters = NULL;
  for (; w; w = next) {
    next = w->next;
    int ready = n->stopping || w->index <= n->commit || (now && now >= w->deadline);
    kv_waiter_t **list = ready ? &done : &n->waiters;
    w->next = *list;
    *list = w;
  }
  for (w = done; w; w = next) {
    next = w->next;
    if (w->index > n->commit)
      answer(w->req, 503, n->stopping ? "stopping" : "timeout");
    else if (w->kind == WAIT_OK)
      answer(w->req, 200, "ok");
    else if (w->kind == WAIT_MISMATCH)
      answer(w->req, 409, "mismatch");
    else
      answer_read(n, w->req, w->key, w->klen);
    free(w->key);
    free(w);
  }
}

/* ---- replication (leader side) ------------------------------------------ */

static void kick(kv_node_t *n, int heartbeat);

/* Commits the highest index a majority holds, applies it, answers waiters. */
static void advance_commit(kv_node_t *n) {
  uint64_t m[KV_MAX_PEERS + 1];
  int count = 0;
  m[count++] = n->store.last;
  for (int i = 0; i < n->npeers; i++)
    m[count++] = n->peers[i].match < n->store.last ? n->peers[i].match : n->store.last;
  for (int i = 1; i < count; i++) /* sort descending */
    for (int j = i; j > 0 && m[j] > m[j - 1]; j--) {
      uint64_t t = m[j];
      m[j] = m[j - 1];
      m[j - 1] = t;
    }
  uint64_t c = m[n->majority - 1];
  if (c <= n->commit)
    return;
  n->commit = c;
  kv_store_apply(&n->store, c);
  waiters_settle(n, 0);
}

static void on_replicated(int status, const char *body, size_t len, void *data) {
  kv_peer_t *p = data;
  kv_node_t *n = p->node;
  json_t *j = NULL, *applied;
  p->inflight = 0;
  if (n->stopping)
    return;
  if (status == 200 && (j = json_loadb(body, len, 0, NULL)) != NULL &&
      json_is_integer(applied = json_object_get(j, "applied")) &&
      json_integer_value(applied) >= 0) {
    uint64_t a = (uint64_t)json_integer_value(applied);
    json_decref(j);
    if (a > n->store.last) {
      kv_log("node %d holds index %llu, beyond the leader's %llu: is its data from "
             "another cluster?",
             p->id, (unsigned long long)a, (unsigned long long)n->store.last);
      a = n->store.last;
    }
    if (p->failing)
      kv_log("node %d reachable again (holds %llu)", p->id, (unsigned long long)a);
    p->match = a;
    p->known = 1;
    p->failing = 0;
    p->sent_commit = p->commit_inflight;
    /* A batch that went through well within the deadline: allow a bigger one.
     * (Growing after any success would oscillate on a slow link.) */
    if (p->bytes_inflight && uv_now(n->loop) - p->sent_at < n->timeout_ms / 4) {
      p->batch = p->batch < 4096 ? 4096 : p->batch * 2;
      if (p->batch > KV_REPL_BATCH)
        p->batch = KV_REPL_BATCH;
    }
    advance_commit(n);
    kick(n, 0);
    return;
  }
  json_decref(j);
  if (!p->failing)
    kv_log("replication to node %d failed: %s", p->id,
           status < 0 ? uv_strerror(status) : "bad answer");
  p->failing = 1;
  p->known = 0; /* it may have restarted with less: ask again before sending */
  if (status == UV_ETIMEDOUT)
    p->batch /= 2; /* so that a batch fits through a slow link in time */
}

/* Sends one /replicate to a follower: its missing suffix (up to a batch),
 * or nothing but the commit index while we do not know what it holds. */
static void replicate(kv_node_t *n, kv_peer_t *p) {
  char url[64], *buf = NULL;
  size_t len = 0;
  if (p->known)
    len = kv_store_encode(&n->store, p->match + 1, p->batch, &buf);
  snprintf(url, sizeof(url), "/replicate?commit=%llu", (unsigned long long)n->commit);
  p->commit_inflight = n->commit;
  p->bytes_inflight = len;
  p->sent_at = uv_now(n->loop);
  int rc =
      kv_http_request(&p->pool, "POST", url, buf, len, n->timeout_ms, on_replicated, p);
  free(buf);
  if (rc == 0)
    p->inflight = 1;
  else
    p->failing = 1;
}

/* Sends to every follower that is idle and behind (or to every idle one, on
 * the heartbeat). A follower whose last attempt failed waits for the
 * heartbeat, so a dead one costs a connection attempt per 100 ms, not one per
 * write. */
static void kick(kv_node_t *n, int heartbeat) {
  if (!is_leader(n) || n->stopping)
    return;
  for (int i = 0; i < n->npeers; i++) {
    kv_peer_t *p = &n->peers[i];
    if (p->inflight || (p->failing && !heartbeat))
      continue;
    if (heartbeat || !p->known || p->match < n->store.last || p->sent_commit < n->commit)
      replicate(n, p);
  }
}

static void on_tick(uv_timer_t *t) {
  kv_node_t *n = kv_container_of(t, kv_node_t, tick);
  uint64_t now = uv_now(n->loop);
  waiters_settle(n, now);
  if (now - n->last_heartbeat >= KV_HEARTBEAT_MS) {
    n->last_heartbeat = now;
    kick(n, 1);
  }
}

void kv_node_start(kv_node_t *n) {
  for (int i = 0; i < n->npeers; i++)
    n->peers[i].batch = KV_REPL_BATCH;
  if (is_leader(n)) {
    /* After a restart the leader does not know which of its entries were
     * committed; some were acknowledged. Reads wait until all it holds is
     * committed again, so they never go back in time. */
    n->read_barrier = n->store.last;
    advance_commit(n);
  } else {
    n->commit = 0; /* learnt from the leader's next /replicate */
  }
  uv_timer_init(n->loop, &n->tick);
  uv_timer_start(&n->tick, on_tick, TICK_MS, TICK_MS);
  kick(n, 1);
}

void kv_node_stop(kv_node_t *n) {
  n->stopping = 1;
  uv_timer_stop(&n->tick);
  waiters_settle(n, 0);
}

/* ---- follower side ------------------------------------------------------ */

static void handle_replicate(kv_node_t *n, kv_req_t *req) {
  kv_entry_t *e;
  size_t count, take = 0, skip = 0;
  char out[64];
  const char *c = strstr(req->query, "commit=");
  if (is_leader(n)) {
    answer(req, 409, "node 0 is the leader");
    return;
  }
  if (kv_store_decode(req->body, req->body_len, &e, &count) != 0) {
    answer(req, 400, "bad records");
    return;
  }
  /* Entries we hold already are skipped (the leader's log never changes, so
   * they are the same); after a gap nothing can be taken. */
  while (skip < count && e[skip].index <= n->store.last)
    skip++;
  while (skip + take < count && e[skip + take].index == n->store.last + 1 + take)
    take++;
  if (take)
    kv_store_append(&n->store, e + skip, take); /* takes their strings */
  for (size_t i = 0; i < count; i++)
    if (i < skip || i >= skip + take)
      kv_entry_free(&e[i]);
  free(e);
  if (c) {
    uint64_t commit = strtoull(c + 7, NULL, 10);
    if (commit > n->commit)
      n->commit = commit;
  }
  kv_store_apply(&n->store, n->commit);
  snprintf(out, sizeof(out), "{\"applied\":%llu}", (unsigned long long)n->store.last);
  kv_http_respond(req, 200, "application/json", out, strlen(out));
}

typedef struct {
  kv_req_t *req;
} forward_t;

static void on_forwarded(int status, const char *body, size_t len, void *data) {
  forward_t *f = data;
  if (status == UV_ETIMEDOUT)
    answer(f->req, 503, "timeout");
  else if (status < 0)
    answer(f->req, 503, "unavailable");
  else
    kv_http_respond(f->req, status, NULL, body, len);
  free(f);
}

/* Sends the request on to the leader and relays its answer. */
static void forward(kv_node_t *n, kv_req_t *req) {
  forward_t *f = kv_malloc(sizeof(*f));
  f->req = req;
  int rc =
      kv_http_request(&n->leader->pool, http_method_str(req->method), req->url, req->body,
                      req->body_len, n->timeout_ms + FORWARD_GRACE_MS, on_forwarded, f);
  if (rc != 0) {
    free(f);
    answer(req, 503, "unavailable");
  }
}

/* ---- client API ----------------------------------------------------------- */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decodes a key. Returns new string, or NULL when it is malformed,
 * empty or too long. */
static char *decode_key(const char *s, size_t *klen) {
  size_t len = strlen(s), k = 0;
  if (len == 0)
    return NULL;
  char *key = kv_malloc(len + 1);
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%') {
      int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
      int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
      if (lo < 0) {
        free(key);
        return NULL;
      }
      key[k++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      key[k++] = s[i];
    }
  }
  key[k] = '\0';
  if (k == 0 || k > KV_MAX_KEY) {
    free(key);
    return NULL;
  }
  *klen = k;
  return key;
}

/* Appends one write to the leader's log and answers when it commits. */
static void leader_write(kv_node_t *n, kv_req_t *req, const char *key, size_t klen,
                         const char *val, size_t vlen) {
  kv_entry_t e = {.index = n->store.last + 1,
                  .key = kv_memdup(key, klen),
                  .klen = (uint32_t)klen,
                  .val = kv_memdup(val, vlen),
                  .vlen = (uint32_t)vlen};
  kv_store_append(&n->store, &e, 1);
  waiter_add(n, req, WAIT_OK, e.index, NULL, 0);
  advance_commit(n); /* a cluster of one commits at once */
  kick(n, 0);
}

/* Compare-and-set at the leader. It is decided against the latest value in
 * the log, committed or not: the log order is the order of operations, and
 * every entry in the leader's log will commit (nobody else ever appends).
 * A match appends the new value; a mismatch is answered once everything it
 * was decided against has committed, so a 409 never reflects a write that a
 * read could not yet see. */
static void leader_cas(kv_node_t *n, kv_req_t *req, const char *key, size_t klen) {
  json_t *j = json_loadb(req->body, req->body_len, 0, NULL);
  json_t *old = json_object_get(j, "old"), *nw = json_object_get(j, "new");
  const char *cur;
  size_t curlen;
  if (!old || !(json_is_null(old) || json_is_string(old)) || !json_is_string(nw)) {
    json_decref(j);
    answer(req, 400, "body must be {\"old\": string|null, \"new\": string}");
    return;
  }
  if (json_string_length(nw) > KV_MAX_VALUE) {
    json_decref(j);
    answer(req, 413, "too large");
    return;
  }
  int found = kv_store_get_latest(&n->store, key, klen, &cur, &curlen);
  int match = json_is_null(old) ? !found
                                : found && curlen == json_string_length(old) &&
                                      memcmp(cur, json_string_value(old), curlen) == 0;
  if (match)
    leader_write(n, req, key, klen, json_string_value(nw), json_string_length(nw));
  else if (n->commit >= n->store.last)
    answer(req, 409, "mismatch");
  else
    waiter_add(n, req, WAIT_MISMATCH, n->store.last, NULL, 0);
  json_decref(j);
}

static void handle_status(kv_node_t *n, kv_req_t *req) {
  char out[256];
  snprintf(out, sizeof(out),
           "{\"id\":%d,\"role\":\"%s\",\"applied\":%llu,\"committed\":%llu,\"keys\":%zu}",
           n->id, is_leader(n) ? "leader" : "follower", (unsigned long long)n->store.last,
           (unsigned long long)n->commit, n->store.nkeys);
  kv_http_respond(req, 200, "application/json", out, strlen(out));
}

static void handle_kv(kv_node_t *n, kv_req_t *req, const char *key, size_t klen) {
  if (req->method == HTTP_GET) {
    if (is_leader(n)) {
      if (n->commit >= n->read_barrier)
        answer_read(n, req, key, klen);
      else
        waiter_add(n, req, WAIT_READ, n->read_barrier, key, klen);
    } else if (n->unsafe) {
      answer_read(n, req, key, klen); /* possibly stale: that is the point */
    } else {
      forward(n, req);
    }
  } else if (!is_leader(n)) {
    forward(n, req);
  } else if (req->method == HTTP_PUT) {
    leader_write(n, req, key, klen, req->body, req->body_len);
  } else {
    leader_cas(n, req, key, klen);
  }
}

/* Returns 1 when req uses the method, else answers 405 and returns 0. */
static int allow(kv_req_t *req, int method) {
  if (req->method == method)
    return 1;
  answer(req, 405, "method not allowed");
  return 0;
}

void kv_node_handle(kv_req_t *req, void *data) {
  kv_node_t *n = data;
  const char *path = req->path;
  int m = req->method;
  if (n->stopping) {
    answer(req, 503, "stopping");
  } else if (strcmp(path, "/health") == 0) {
    if (allow(req, HTTP_GET))
      answer(req, 200, "ok");
  } else if (strcmp(path, "/status") == 0) {
    if (allow(req, HTTP_GET))
      handle_status(n, req);
  } else if (strcmp(path, "/replicate") == 0) {
    if (allow(req, HTTP_POST))
      handle_replicate(n, req);
  } else if (strncmp(path, "/kv/", 4) == 0 || strncmp(path, "/cas/", 5) == 0) {
    int cas = path[1] == 'c';
    size_t klen;
    char *key;
    if (cas ? m != HTTP_POST : m != HTTP_GET && m != HTTP_PUT)
      answer(req, 405, "method not allowed");
    else if (!(key = decode_key(path + (cas ? 5 : 4), &klen)))
      answer(req, 400, "bad key");
    else {
      handle_kv(n, req, key, klen);
      free(key);
    }
  } else {
    answer(req, 404, "not found");
  }
}

size_t kv_node_body_limit(const char *path, void *data) {
  if (strcmp(path, "/replicate") == 0)
    return KV_REPL_BATCH + 24 + KV_MAX_KEY + KV_MAX_VALUE;
  if (strncmp(path, "/kv/", 4) == 0)
    return KV_MAX_VALUE;
  if (strncmp(path, "/cas/", 5) == 0)
    return 2 * 6 * KV_MAX_VALUE + 1024; /* two values, JSON-escaped at worst */
  return 4096;
}
