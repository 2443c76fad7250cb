/* kvnode: a small replicated key-value service over HTTP, the target that
 * faultline's demo and tests run against. One libuv loop, no threads; the only
 * blocking calls are the write and fsync of this node's own log file.
 *
 * Files: main.c (command line, signals, shutdown), http.c (tiny HTTP/1.1
 * server and keep-alive client on libuv + http-parser), store.c (the log file
 * and the key map), repl.c (request handlers and replication). See README.md
 * for the protocol. */
#ifndef KVNODE_H
#define KVNODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <http_parser.h>
#include <uv.h>

#define KV_MAX_VALUE (64 * 1024)    /* largest value a client may write */
#define KV_MAX_KEY 1024             /* longest key, after percent-decoding */
#define KV_MAX_PEERS 15             /* so at most 16 nodes */
#define KV_REPL_BATCH (1024 * 1024) /* bytes of log entries per /replicate */
#define KV_MAX_RESPONSE (16u << 20) /* cap on a response body the client reads */
#define KV_HEARTBEAT_MS 100

#define kv_container_of(ptr, type, member)                                               \
  ((type *)((char *)(ptr)-offsetof(type, member)))

/* Allocation that aborts on out-of-memory (store.c). */
void *kv_malloc(size_t n);
void *kv_realloc(void *p, size_t n);
char *kv_memdup(const void *p, size_t n); /* returns new, NUL-terminated copy */
void kv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- store.c: the log file and the key map ------------------------------ */

/* One log entry: "at index, key := val". Compare-and-set is decided by the
 * leader before it appends, so the log holds only plain writes. */
typedef struct kv_entry_s {
  uint64_t index;
  char *key; /* owned, NUL-terminated for convenience; klen excludes the NUL */
  char *val; /* owned, NUL-terminated for convenience */
  uint32_t klen, vlen;
} kv_entry_t;

typedef struct kv_slot_s kv_slot_t;

typedef struct kv_store_s {
  int fd;
  kv_entry_t *log; /* log[i] has index i + 1 */
  uint64_t last;   /* highest index held (and durable) */
  size_t cap;
  uint64_t applied; /* entries 1..applied are reflected in the map */
  kv_slot_t *slots; /* open addressing: key -> index of its latest applied entry */
  size_t nslots, nkeys;
} kv_store_t;

/* Opens (creating DIR and DIR/kvnode.log if missing) and replays the log. A
 * torn record at the end (a crash during a write) is cut off. Returns 0, or -1
 * with a message in err. The map starts empty: call kv_store_apply. */
int kv_store_open(kv_store_t *s, const char *dir, char *err, size_t errlen);
void kv_store_close(kv_store_t *s);
/* Appends n entries whose indices must be last+1, last+2, ...; writes and
 * fsyncs them before it returns. Takes the entries' key and val. A failed
 * write or fsync is fatal: the process exits rather than acknowledge data it
 * may not hold. */
void kv_store_append(kv_store_t *s, kv_entry_t *e, size_t n);
/* Applies entries up to min(upto, last) to the map. */
void kv_store_apply(kv_store_t *s, uint64_t upto);
/* Looks the key up in the map (applied state). Returns 1 and a borrowed value,
 * or 0 when absent. */
int kv_store_get(const kv_store_t *s, const char *key, size_t klen, const char **val,
                 size_t *vlen);
/* As kv_store_get, but over every entry held (applied or not), newest first. */
int kv_store_get_latest(const kv_store_t *s, const char *key, size_t klen,
                        const char **val, size_t *vlen);
/* Encodes entries from index `from` on, at most about max_bytes (at least one
 * entry when there is one). Returns new buffer in *out (NULL when empty). */
size_t kv_store_encode(const kv_store_t *s, uint64_t from, size_t max_bytes, char **out);
/* Decodes a buffer of records. Returns 0 and new entries (free each with
 * kv_entry_free, then the array with free), or -1 when the buffer is malformed. */
int kv_store_decode(const char *buf, size_t len, kv_entry_t **out, size_t *n);
void kv_entry_free(kv_entry_t *e);

/* ---- http.c: server and client ------------------------------------------ */

/* A request being served. Every request handed to the handler must be answered
 * exactly once with kv_http_respond, now or later; the connection reads no
 * further request until then. */
typedef struct kv_req_s {
  int method;  /* enum http_method */
  char *url;   /* raw request target, e.g. "/kv/a%2Fb?x=1" */
  char *path;  /* url up to '?', not decoded */
  char *query; /* after '?', or "" */
  char *body;  /* NUL-terminated */
  size_t body_len;
} kv_req_t;

typedef void (*kv_http_handler_cb)(kv_req_t *req, void *data);
/* Largest body accepted for a path; bigger bodies get 413. */
typedef size_t (*kv_http_limit_cb)(const char *path, void *data);

typedef struct kv_sconn_s kv_sconn_t;
typedef struct kv_server_s {
  uv_tcp_t tcp;
  kv_sconn_t *conns; /* every open connection */
  kv_http_handler_cb handler;
  kv_http_limit_cb limit;
  void *data;
} kv_server_t;

/* Binds and listens. Returns 0 or a libuv error code. */
int kv_http_listen(kv_server_t *srv, uv_loop_t *loop, const struct sockaddr *addr,
                   kv_http_handler_cb handler, kv_http_limit_cb limit, void *data);
/* Closes the listener and every connection. Requests still unanswered keep
 * their connection's memory until they are answered. */
void kv_http_server_close(kv_server_t *srv);
/* Answers req (copies body). ctype may be NULL for text/plain. */
void kv_http_respond(kv_req_t *req, int status, const char *ctype, const char *body,
                     size_t len);

/* Client: a pool of keep-alive connections to one address. */
typedef struct kv_cconn_s kv_cconn_t;
typedef struct kv_pool_s {
  uv_loop_t *loop;
  struct sockaddr_storage addr;
  kv_cconn_t *idle;
  int nidle;
} kv_pool_t;

/* status is the HTTP status, or a negative libuv error (UV_ETIMEDOUT,
 * UV_ECONNREFUSED, UV_ECANCELED at shutdown ...). body is borrowed for the
 * duration of the call. */
typedef void (*kv_http_resp_cb)(int status, const char *body, size_t len, void *data);

/* Sends one request with a deadline of timeout_ms for the whole exchange.
 * Returns 0 and later calls cb exactly once (never before returning), or a
 * negative libuv error and never calls cb. */
int kv_http_request(kv_pool_t *pool, const char *method, const char *url,
                    const char *body, size_t len, uint64_t timeout_ms, kv_http_resp_cb cb,
                    void *data);
/* Fails every request in flight with UV_ECANCELED and closes every client
 * connection; later kv_http_request calls return UV_ECANCELED. */
void kv_http_client_shutdown(void);

/* ---- repl.c: the node --------------------------------------------------- */

typedef struct kv_peer_s {
  struct kv_node_s *node;
  int id;
  char addr[64]; /* as given on the command line */
  kv_pool_t pool;
  /* Leader's view of this follower. */
  uint64_t match;           /* highest index it is known to hold durably */
  uint64_t sent_commit;     /* commit index it acknowledged hearing */
  uint64_t commit_inflight; /* commit index carried by the request in flight */
  int known;                /* match came from a reply since the last failure */
  int inflight;             /* one /replicate at a time */
  int failing;              /* last attempt failed: retry only on the heartbeat */
  size_t batch; /* bytes per /replicate: halved after a timeout (a slow link) */
  size_t bytes_inflight;
  uint64_t sent_at;
} kv_peer_t;

typedef struct kv_waiter_s kv_waiter_t;

typedef struct kv_node_s {
  uv_loop_t *loop;
  int id;
  int unsafe;
  uint64_t timeout_ms;
  int npeers, size, majority;
  kv_peer_t peers[KV_MAX_PEERS];
  kv_peer_t *leader; /* the peer entry for node 0, NULL on node 0 */
  kv_store_t store;
  uint64_t commit;       /* leader's commit index (as known here) */
  uint64_t read_barrier; /* leader: reads wait until commit reaches it */
  kv_waiter_t *waiters;  /* requests waiting for the commit index */
  uv_timer_t tick;       /* waiter deadlines; leader: heartbeats */
  uint64_t last_heartbeat;
  kv_server_t server;
  int stopping;
} kv_node_t;

/* Starts the replication timer (after the store is open and the server is
 * listening). */
void kv_node_start(kv_node_t *n);
/* Answers every waiting request with 503 and stops the timer. */
void kv_node_stop(kv_node_t *n);
void kv_node_handle(kv_req_t *req, void *data);
size_t kv_node_body_limit(const char *path, void *data);

#endif
