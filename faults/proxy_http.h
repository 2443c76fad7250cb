/* The HTTP/1.x layer of a proxied connection: used only on connections
 * accepted while their proxy has HTTP fault rules. It parses requests
 * (client -> upstream, dir FL_HTTP_REQ) and responses (upstream -> client,
 * FL_HTTP_RES) with http-parser, pairs responses with requests in order
 * (pipelining), decides at each request head which rule applies, and acts:
 * abort (answer from the proxy), reset (before or after forwarding), delay
 * (hold the request, or the response head), rewrite (status, headers, body of
 * the response). Bodies stream through (never buffered whole); only a head
 * is gathered (at most FL_HTTP_HEAD_MAX bytes). A stream the parser rejects
 * passes through unchanged for the rest of the connection, in both
 * directions, and is counted.
 *
 * It knows nothing of sockets: bytes come in as chunks (fl_phttp_push) and go
 * out through the callbacks of fl_phttp_io_t, so unit tests feed it crafted
 * streams. proxy_link.c puts it in front of a link's toxic chain. */
#ifndef FL_PROXY_HTTP_H
#define FL_PROXY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "faults/http_rule.h"
#include "faults/proxy.h"
#include "faults/proxy_buf.h"

/* Directions, the same numbers as the links (FL_LINK_UP, FL_LINK_DOWN). */
enum { FL_HTTP_REQ = 0, FL_HTTP_RES = 1 };

/* Largest head (request or status line and headers) gathered; a longer one
 * is rejected (passed through). */
#define FL_HTTP_HEAD_MAX (64 * 1024)
/* Most headers of one head that the matcher sees; more: rejected. */
#define FL_HTTP_MAX_HEADERS 128

typedef struct fl_phttp_s fl_phttp_t;

typedef struct fl_phttp_io_s {
  fl_pool_t *pool;              /* chunks come from and go back to it */
  fl_http_rule_t *const *rules; /* borrowed: the proxy's list head */
  fl_proxy_stats_t *stats;      /* http_parsed, http_rejected counted here */
  /* c (taken) goes on in direction dir, behind what went before. */
  void (*emit)(void *arg, int dir, fl_chunk_t *c);
  /* After what was emitted, direction dir ends: FL_END_EOF (half-close) or
   * FL_END_CLOSE (close the connection once written). Called once per dir. */
  void (*end)(void *arg, int dir, int end);
  /* Reset the connection (RST to both peers) now. */
  void (*reset)(void *arg);
  /* Direction dir has work (an abort's answer to send): run it. */
  void (*kick)(void *arg, int dir);
  void *arg;
} fl_phttp_io_t;

/* Returns new (free with fl_phttp_free); io is copied. */
fl_phttp_t *fl_phttp_new(const fl_phttp_io_t *io);
void fl_phttp_free(fl_phttp_t *h);
/* Bytes read in direction dir: c is taken. */
void fl_phttp_push(fl_phttp_t *h, int dir, fl_chunk_t *c);
/* The source of direction dir reached EOF (after what was pushed). */
void fl_phttp_eof(fl_phttp_t *h, int dir);
/* Processes what dir holds at time now (ns, uv_hrtime's clock). Returns
 * when it wants to run again (a delay's end, ns) or 0. */
uint64_t fl_phttp_run(fl_phttp_t *h, int dir, uint64_t now);
/* Bytes dir holds (unprocessed input, a gathered head), for back-pressure. */
size_t fl_phttp_held(const fl_phttp_t *h, int dir);

#endif
