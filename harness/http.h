/* An asynchronous HTTP client: libcurl's multi-socket interface driven by
 * the libuv loop (one uv_poll per socket curl asks about, one uv_timer for
 * curl's timeout), so hundreds of requests can be in flight without a thread
 * and without blocking the loop. Connections are kept alive and reused. */
#ifndef FL_HTTP_H
#define FL_HTTP_H

#include <stddef.h>
#include <uv.h>

#include "base/error.h"

typedef struct fl_http_s fl_http_t;
typedef struct fl_http_req_s fl_http_req_t;

/* The result of one request. Borrowed by the callback: copy what you keep. */
typedef struct fl_http_resp_s {
  int status;        /* 0, or a negative code: UV_ETIMEDOUT, UV_ECONNREFUSED ... */
  const char *error; /* curl's message when status < 0 */
  long code;         /* HTTP status code */
  const char *body;  /* NUL-terminated for convenience */
  size_t body_len;
  const char *headers; /* raw response header block */
  size_t headers_len;
  double elapsed_s;
  /* 1 when a byte of the request may have reached the server: libcurl wrote
   * some of it to a socket, on this connection or on an earlier one of the
   * same transfer (libcurl silently retries a request on a fresh connection
   * when a reused one dies before answering, so a request delivered on the
   * first can end in a connect error on the second). 0 only when no byte of
   * the request was ever written: the server surely never saw it. */
  int maybe_sent;
} fl_http_resp_t;

typedef void (*fl_http_cb)(const fl_http_resp_t *resp, void *arg);

typedef struct fl_http_opts_s {
  const char *method; /* "GET" when NULL */
  const char *url;
  const char *body; /* may be NULL */
  size_t body_len;
  const char *const *headers; /* NULL-terminated "Name: value" list, may be NULL */
  long timeout_ms;            /* whole request; 0 = 10 s */
  size_t max_body;            /* response bodies beyond this are an error; 0 = 16 MiB */
} fl_http_opts_t;

/* Returns new in *out. loop is borrowed and must outlive the client. */
int fl_http_new(fl_http_t **out, uv_loop_t *loop);
/* Cancels every request (their callbacks do not run) and frees the client
 * once its handles are closed. */
void fl_http_free(fl_http_t *h);

/* Starts a request. cb runs later, from the loop, exactly once, unless the
 * request is canceled first; it never runs before this returns. out_req (may
 * be NULL) receives a borrowed handle valid until cb runs. */
int fl_http_request(fl_http_t *h, const fl_http_opts_t *opts, fl_http_cb cb, void *arg,
                    fl_http_req_t **out_req);
/* Cancels a pending request: its callback will not run. */
void fl_http_cancel(fl_http_req_t *req);

#endif
