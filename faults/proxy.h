/* The TCP fault proxy: one listening address forwarded to one upstream, with
 * Toxiproxy's toxics applied per direction, partitions, and enable/disable.
 *
 * Everything runs on the caller's libuv loop, in its thread; no call blocks.
 * A proxy owns its listening socket and every proxied connection. Toxics use
 * Toxiproxy's names, attributes, units and JSON shapes (see faults/README.md).
 *
 * Directions, as in Toxiproxy: FL_UPSTREAM is the bytes the client sends to
 * the server, FL_DOWNSTREAM the bytes the server sends back. */
#ifndef FL_PROXY_H
#define FL_PROXY_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "base/error.h"
#include "base/timeline.h"

typedef struct fl_proxy_s fl_proxy_t;

enum { FL_UPSTREAM = 1, FL_DOWNSTREAM = 2, FL_BOTH = 3 };

typedef struct fl_proxy_stats_s {
  uint64_t connections_open;      /* proxied connections open now */
  uint64_t connections_total;     /* accepted since the proxy was made */
  uint64_t connect_errors;        /* connections closed because the upstream refused */
  uint64_t bytes_upstream;        /* bytes delivered to the server */
  uint64_t bytes_downstream;      /* bytes delivered to the client */
  uint64_t bytes_read_upstream;   /* bytes read from clients (may be swallowed) */
  uint64_t bytes_read_downstream; /* bytes read from the server */
  uint64_t http_parsed;           /* HTTP requests parsed (connections with rules) */
  uint64_t http_rejected;         /* HTTP streams the parser rejected: passed unchanged */
} fl_proxy_stats_t;

/* Makes a proxy named `name` (copied) that listens on `listen` ("host:port",
 * "[v6]:port", port 0 = any free port, host "localhost" = 127.0.0.1, empty
 * host = every address) and forwards each accepted connection to `upstream`
 * ("host:port"; a host name is resolved for each connection, off the loop).
 * It binds and listens before returning: a port in use gives UV_EADDRINUSE,
 * a malformed address FL_ECONFIG, both with a message naming the address.
 * Returns 0 and a new proxy in *out (close it with fl_proxy_close), or a
 * negative code and *out = NULL. No callback runs before it returns.
 * Ignores SIGPIPE for the process if it was at its default (writes to a
 * closed peer are errors, not signals). */
int fl_proxy_new(fl_proxy_t **out, uv_loop_t *loop, const char *name, const char *listen,
                 const char *upstream, fl_err_t *err);

/* Borrowed strings, valid until the proxy is closed or the value changes. */
const char *fl_proxy_name(const fl_proxy_t *p);
/* The bound address, "127.0.0.1:PORT" with the real port. */
const char *fl_proxy_listen(const fl_proxy_t *p);
const char *fl_proxy_upstream(const fl_proxy_t *p);

/* Changes where new connections go; open connections keep their server.
 * FL_ECONFIG on a malformed address. */
int fl_proxy_set_upstream(fl_proxy_t *p, const char *upstream, fl_err_t *err);
/* Moves the proxy to another listening address: binds the new one first, so
 * on error (UV_EADDRINUSE, FL_ECONFIG) nothing changed. Open connections stay. */
int fl_proxy_set_listen(fl_proxy_t *p, const char *listen, fl_err_t *err);

/* Seeds the proxy's randomness (toxicity decisions, jitter, slice sizes).
 * Connections opened after the call draw from the new seed; each connection
 * and toxic derive their own stream from (seed, connection number, toxic
 * number), so a run with the same seed and the same order of connections
 * makes the same choices. The default seed is derived from the name. */
void fl_proxy_set_seed(fl_proxy_t *p, uint64_t seed);

/* Adds a toxic. spec (borrowed) is Toxiproxy's toxic object:
 *   {"name": optional, default "<type>_<stream>",
 *    "type": a kind of toxic.c's table (faults/README.md lists them),
 *    "stream": "upstream"|"downstream" (default "downstream"),
 *    "toxicity": 0..1 (default 1), "attributes": {...} (defaults 0)}
 * Attributes are non-negative integers; unknown attributes, an unknown type
 * or stream, a bad value or a duplicate name give FL_ECONFIG with a message
 * naming the field. The toxic applies at once to every open connection (each
 * connection gets it with probability toxicity) and to new ones; toxics of a
 * direction chain in the order they were added. No callback runs before it
 * returns. */
int fl_proxy_add_toxic(fl_proxy_t *p, const json_t *spec, fl_err_t *err);
/* Updates the toxic called name from a partial spec (borrowed): "attributes"
 * (only those given change) and/or "toxicity" (each connection decides
 * again). Changing "type" or "stream" is FL_ECONFIG; an unknown name is
 * UV_ENOENT. Applies to open connections at once. */
int fl_proxy_update_toxic(fl_proxy_t *p, const char *name, const json_t *spec,
                          fl_err_t *err);
/* Removes a toxic. What it held is passed on in order (nothing is lost),
 * except for timeout, whose removal closes the connections it held, as in
 * Toxiproxy. UV_ENOENT when there is no such toxic. */
int fl_proxy_remove_toxic(fl_proxy_t *p, const char *name, fl_err_t *err);
void fl_proxy_remove_all_toxics(fl_proxy_t *p);

/* HTTP fault rules (faults/README.md, "HTTP faults"). spec (borrowed) is
 *   {"name": optional, default "http-<n>",
 *    "match": {"method": "POST", "path": glob, "header": {name: glob}},
 *    exactly one of "abort": {"status","body","headers"},
 *      "reset": "before"|"after"|true, "delay": {"request","response"} ms,
 *      "rewrite": {"status","headers","body"},
 *    "percent": 0..100 (default 100), "first": N, "direction":
 *    "upstream"|"downstream"}.
 * Connections accepted while the proxy has at least one rule parse HTTP/1.x
 * and apply the rules (a rule added later applies at their next request);
 * connections opened before the first rule keep the byte path. Returns 0
 * (and the rule's name, new, in *name_out when not NULL) or FL_ECONFIG
 * naming the field; a duplicate name is FL_ECONFIG. */
int fl_proxy_add_http_fault(fl_proxy_t *p, const json_t *spec, char **name_out,
                            fl_err_t *err);
/* Changes the rule called name: the fields spec gives replace its own (an
 * action key replaces the action); counters stay. UV_ENOENT when none. */
int fl_proxy_update_http_fault(fl_proxy_t *p, const char *name, const json_t *spec,
                               fl_err_t *err);
/* Removes a rule; decisions already taken for requests in flight stay.
 * UV_ENOENT when none. */
int fl_proxy_remove_http_fault(fl_proxy_t *p, const char *name, fl_err_t *err);
/* Returns new: the rules with their counters, in order (http_rule.h). */
json_t *fl_proxy_http_faults_json(const fl_proxy_t *p);
/* Returns new: one rule, or NULL when there is none of that name. */
json_t *fl_proxy_http_fault_json(const fl_proxy_t *p, const char *name);

/* Disabled: stop listening (new connections are refused) and close every
 * open connection. Enabled again: bind the same address (same port). If that
 * bind fails the proxy stays disabled (fl_proxy_enabled says 0); use
 * fl_proxy_enable to learn why. */
void fl_proxy_set_enabled(fl_proxy_t *p, int enabled);
/* As fl_proxy_set_enabled(p, 1), returning 0 or the bind error. */
int fl_proxy_enable(fl_proxy_t *p, fl_err_t *err);
int fl_proxy_enabled(const fl_proxy_t *p);

/* Blackholes the given directions (FL_UPSTREAM, FL_DOWNSTREAM or FL_BOTH),
 * added to those already cut: connections stay open and nothing passes. The
 * proxy stops reading the cut side, so the sender sees back-pressure and
 * nothing is buffered without bound; bytes held when the cut began are held,
 * not dropped. A connection accepted during a cut is not passed to the
 * upstream until the heal (a cut drops handshakes too). fl_proxy_heal undoes
 * every cut; the held bytes then flow in order, as TCP delivers after a real
 * partition heals. */
void fl_proxy_partition(fl_proxy_t *p, int directions);
void fl_proxy_heal(fl_proxy_t *p);
/* The directions cut now (0 when healed). */
int fl_proxy_partitioned(const fl_proxy_t *p);

/* Returns new: {"name","listen","upstream","enabled","toxics":[...]} as
 * Toxiproxy's GET /proxies/{name}. */
json_t *fl_proxy_to_json(const fl_proxy_t *p);
/* Returns new: the toxic's {"name","type","stream","toxicity","attributes"},
 * or NULL when there is none of that name. */
json_t *fl_proxy_toxic_json(const fl_proxy_t *p, const char *name);
/* Returns new: the array of toxics, in order. */
json_t *fl_proxy_toxics_json(const fl_proxy_t *p);

void fl_proxy_stats(const fl_proxy_t *p, fl_proxy_stats_t *out);

/* Records toxics added and removed, partitions and disable periods on tl
 * (borrowed; NULL stops recording) as faults of kind "toxic", "partition" and
 * "down" whose target is the proxy's name. tl must outlive the proxy or be
 * unset before it goes. */
void fl_proxy_set_timeline(fl_proxy_t *p, fl_timeline_t *tl);

/* Uses splice(2) for directions without toxics (the default where the
 * kernel has it) or plain read/write (0). For tests and benchmarks; takes
 * effect at the next read. */
void fl_proxy_set_splice(fl_proxy_t *p, int on);

/* Closes the listening socket and every connection (the peers see a close),
 * frees p in the last close callback and then calls cb(arg) (cb may be
 * NULL). p must not be used after this call. The callback never runs before
 * fl_proxy_close returns. */
void fl_proxy_close(fl_proxy_t *p, void (*cb)(void *arg), void *arg);

#endif
