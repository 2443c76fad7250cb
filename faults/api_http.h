/* A small HTTP/1.1 server on libuv and http-parser, for the fault proxy's
 * API (faults/toxiproxy_api.c): keep-alive, pipelining, chunked request
 * bodies, `Expect: 100-continue`, and hard bounds on everything a peer
 * controls (header bytes, body bytes, connections, time, queued answers).
 *
 * Handlers are synchronous: a request is answered before the next one is
 * parsed, so answers go out in order. The parsing half (a session) has no
 * socket of its own, so tests and the fuzzer can drive it with bytes. */
#ifndef FL_API_HTTP_H
#define FL_API_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/error.h"

typedef struct fl_api_req_s {
  const char *method;     /* "GET", "POST", ...; borrowed */
  const char *url;        /* the request target as sent */
  const char *path;       /* percent-decoded path, without query or fragment */
  size_t path_len;        /* the decoded path may hold a NUL */
  const char *user_agent; /* "" when absent */
  const char *body;       /* NUL-terminated for convenience; may hold NULs */
  size_t body_len;
} fl_api_req_t;

typedef struct fl_api_res_s {
  int status;               /* 200 when the handler leaves it at 0 */
  const char *content_type; /* static string, or NULL for none */
  char *body;               /* fl_malloc'ed, taken by the server; may be NULL */
  size_t body_len;
  char headers[256]; /* extra "Name: value\r\n" lines */
} fl_api_res_t;

/* Answers one request; fills res. Runs on the loop thread. */
typedef void (*fl_api_handler_cb)(const fl_api_req_t *req, fl_api_res_t *res, void *arg);

typedef struct fl_api_limits_s {
  size_t max_body;          /* bytes of a request body (413 past it) */
  size_t max_header;        /* bytes of request line and headers (431) */
  size_t max_queued;        /* answer bytes waiting for a slow reader before
                               the connection stops parsing */
  int max_conns;            /* connections at once; more are closed at accept */
  uint64_t read_timeout_ms; /* a request must arrive whole within this */
  uint64_t idle_timeout_ms; /* an idle keep-alive connection is closed after */
} fl_api_limits_t;

/* 1 MiB body, 16 KiB headers, 1 MiB queued, 1024 connections, 15 s to read
 * a request, 60 s idle (Toxiproxy's own read and idle timeouts). */
void fl_api_limits_default(fl_api_limits_t *out);

/* Sets body to a copy of s (NUL-terminated text). */
void fl_api_res_text(fl_api_res_t *res, int status, const char *content_type,
                     const char *s);
/* Returns the reason phrase of a status code ("Not Found"), borrowed. */
const char *fl_api_reason(int status);

/* ---- sessions: the protocol without a socket ---------------------------- */

typedef struct fl_api_session_s fl_api_session_t;

/* Receives bytes to send (data taken: free with fl_free). Returns nonzero
 * when the peer is slow and parsing should pause. */
typedef int (*fl_api_write_cb)(char *data, size_t len, void *arg);

/* Returns new: a session answering with handler(arg) and sending through
 * write(warg). limits is copied. */
fl_api_session_t *fl_api_session_new(const fl_api_limits_t *limits,
                                     fl_api_handler_cb handler, void *arg,
                                     fl_api_write_cb write, void *warg);
/* Parses data, answering each complete request. Returns the number of bytes
 * used: less than len when write() asked for a pause (feed the rest again
 * later) or when the connection is finished. *done is set to 1 once the
 * connection must be closed after what was written (a protocol error, a
 * limit, or a request without keep-alive); nothing more is parsed then. */
size_t fl_api_session_feed(fl_api_session_t *s, const char *data, size_t len, int *done);
/* 1 while a request has begun and is not complete. */
int fl_api_session_busy(const fl_api_session_t *s);
void fl_api_session_free(fl_api_session_t *s);

/* ---- addresses ---------------------------------------------------------- */

struct sockaddr_storage;

/* Parses "host:port" or "[v6]:port" where host is an IP address, localhost
 * (127.0.0.1) or empty (every address, 0.0.0.0). Returns 0 or FL_ECONFIG. */
int fl_api_addr_parse(const char *s, struct sockaddr_storage *out);
/* Prints an address as "1.2.3.4:80" or "[::1]:80" into buf. */
void fl_api_addr_format(const struct sockaddr_storage *a, char *buf, size_t size);

/* ---- the server --------------------------------------------------------- */

typedef struct fl_api_httpd_s fl_api_httpd_t;

/* Listens on addr ("host:port", "[v6]:port"; port 0 = any; host localhost =
 * 127.0.0.1) and answers with handler(arg). limits may be NULL (defaults).
 * Returns 0 and a new server in *out, or a negative code (UV_EADDRINUSE,
 * FL_ECONFIG) with a message naming the address. No callback runs before it
 * returns. */
int fl_api_httpd_new(fl_api_httpd_t **out, uv_loop_t *loop, const char *addr,
                     const fl_api_limits_t *limits, fl_api_handler_cb handler, void *arg,
                     fl_err_t *err);
/* The bound address ("127.0.0.1:8474"), borrowed. */
const char *fl_api_httpd_address(const fl_api_httpd_t *s);
/* Connections open now. */
int fl_api_httpd_connections(const fl_api_httpd_t *s);
/* Stops listening, closes every connection (answers being written are cut),
 * frees s in the last close callback and then calls cb(arg) (may be NULL),
 * never before this returns. */
void fl_api_httpd_close(fl_api_httpd_t *s, void (*cb)(void *arg), void *arg);

#endif
