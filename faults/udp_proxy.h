/* The UDP fault proxy: datagrams from each client address are forwarded to
 * the upstream from a socket of their own (a session), so the upstream's
 * answers find their way back; sessions end after an idle timeout. Per
 * direction it can drop, delay (latency +/- jitter), duplicate and reorder
 * datagrams, and cut the direction (partition). Toxiproxy has no UDP; the
 * fault names and units are ours (faults/README.md).
 *
 * Directions as in proxy.h: FL_UPSTREAM client -> server, FL_DOWNSTREAM back.
 * Everything runs on the caller's loop; no call blocks. */
#ifndef FL_UDP_PROXY_H
#define FL_UDP_PROXY_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "faults/proxy.h"
#include "base/error.h"

typedef struct fl_udp_proxy_s fl_udp_proxy_t;

/* The faults of one direction; all zero = pass everything at once. */
typedef struct fl_udp_faults_s {
  double loss;          /* "loss": chance a datagram is dropped, 0..1 */
  uint32_t latency;     /* "latency": ms added to every datagram */
  uint32_t jitter;      /* "jitter": ms, uniform +/- around latency; may reorder */
  double duplicate;     /* "duplicate": chance a datagram is sent twice, 0..1 */
  double reorder;       /* "reorder": chance a datagram is held back, 0..1 */
  uint32_t reorder_gap; /* "reorder_gap": held until this many later datagrams of
                           its session went by (default 3), at most 500 ms */
} fl_udp_faults_t;

typedef struct fl_udp_stats_s {
  uint64_t sessions_open;
  uint64_t sessions_total;
  /* [0] upstream, [1] downstream */
  uint64_t received[2];   /* datagrams that reached the proxy */
  uint64_t sent[2];       /* datagrams sent on (duplicates included) */
  uint64_t dropped[2];    /* lost on purpose, cut by a partition, or over a cap */
  uint64_t duplicated[2]; /* extra copies sent */
  uint64_t reordered[2];  /* datagrams held back */
} fl_udp_stats_t;

/* Makes a UDP proxy: binds `listen` ("host:port", port 0 = any; IP address
 * or localhost) and forwards to `upstream` (an IP address or localhost and a
 * port; no name lookup). UV_EADDRINUSE or FL_ECONFIG with a message naming
 * the address. Returns 0 and a new proxy in *out (close it with
 * fl_udp_proxy_close). No callback runs before it returns. */
int fl_udp_proxy_new(fl_udp_proxy_t **out, uv_loop_t *loop, const char *name,
                     const char *listen, const char *upstream, fl_err_t *err);

/* Borrowed strings; listen has the real port. */
const char *fl_udp_proxy_name(const fl_udp_proxy_t *p);
const char *fl_udp_proxy_listen(const fl_udp_proxy_t *p);
const char *fl_udp_proxy_upstream(const fl_udp_proxy_t *p);
/* New sessions go to the new upstream; open ones keep theirs. */
int fl_udp_proxy_set_upstream(fl_udp_proxy_t *p, const char *upstream, fl_err_t *err);

/* Seeds every random choice (loss, jitter, duplicates, reordering), drawn in
 * the order datagrams arrive. The default seed comes from the name. */
void fl_udp_proxy_set_seed(fl_udp_proxy_t *p, uint64_t seed);

/* Sets faults of the given directions (FL_UPSTREAM, FL_DOWNSTREAM or
 * FL_BOTH) from spec (borrowed): an object with any of "loss", "latency",
 * "jitter", "duplicate", "reorder", "reorder_gap"; keys not given keep their
 * value. A bad value or an unknown key is FL_ECONFIG naming it, and nothing
 * changes. Applies to datagrams that arrive from now on. */
int fl_udp_proxy_set_faults(fl_udp_proxy_t *p, int directions, const json_t *spec,
                            fl_err_t *err);
/* The faults of one direction (FL_UPSTREAM or FL_DOWNSTREAM). */
void fl_udp_proxy_get_faults(const fl_udp_proxy_t *p, int direction,
                             fl_udp_faults_t *out);
/* Back to no fault both ways (held datagrams go out at once). */
void fl_udp_proxy_clear_faults(fl_udp_proxy_t *p);

/* Drops every datagram of the given directions until fl_udp_proxy_heal. */
void fl_udp_proxy_partition(fl_udp_proxy_t *p, int directions);
void fl_udp_proxy_heal(fl_udp_proxy_t *p);
int fl_udp_proxy_partitioned(const fl_udp_proxy_t *p);

/* Sessions without traffic for ms end (default 60,000; minimum 1). */
void fl_udp_proxy_set_idle_timeout(fl_udp_proxy_t *p, uint64_t ms);

/* Returns new: {"name","listen","upstream","protocol":"udp","partition":
 * "none"|"upstream"|"downstream"|"both","faults":{"upstream":{...},
 * "downstream":{...}}}. */
json_t *fl_udp_proxy_to_json(const fl_udp_proxy_t *p);
void fl_udp_proxy_stats(const fl_udp_proxy_t *p, fl_udp_stats_t *out);

/* Closes the sockets and timers, drops what is held, frees p in the last
 * close callback and then calls cb(arg) (may be NULL); never before this
 * returns. p must not be used after. */
void fl_udp_proxy_close(fl_udp_proxy_t *p, void (*cb)(void *arg), void *arg);

#endif
