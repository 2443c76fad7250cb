/* A tiny HTTP/1.1 server and keep-alive client on libuv and http-parser:
 * just what kvnode needs. Bodies are whole buffers with a hard cap; the server
 * answers one request per connection at a time (pipelined requests wait in the
 * connection's buffer and it stops reading until the answer is written). */
#include "examples/kvnode/kvnode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_URL 8192
#define CLIENT_IDLE_MS 2000 /* well below any server's keep-alive timeout */
#define CLIENT_MAX_IDLE 8

static char read_buf[64 * 1024]; /* one loop, one thread: read callbacks copy out */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  *buf = uv_buf_init(read_buf, sizeof(read_buf));
}

/* ---- server ------------------------------------------------------------- */

struct kv_sconn_s {
  uv_tcp_t tcp;
  http_parser parser;
  kv_server_t *srv;
  kv_req_t req;
  size_t url_len, body_cap, limit;
  char *in; /* received, not yet parsed */
  size_t inlen, incap;
  int busy;    /* the handler has the request and has not answered */
  int closing; /* uv_close was called */
  int dead;    /* the close callback ran: free once not busy */
  int reading;
  int in_feed;
  int close_after; /* the answer being written is the last on this connection */
  int keep_alive;
  int too_large, hstate, expect_hdr, expect_continue;
  char hname[16];
  size_t hname_len;
  kv_sconn_t *next, *prev;
};

typedef struct {
  uv_write_t w;
  kv_sconn_t *c;
  int close_after;
  char data[];
} swrite_t;

static void sconn_feed(kv_sconn_t *c);
static void on_swrite(uv_write_t *w, int status);

static void sconn_free(kv_sconn_t *c) {
  free(c->req.url);
  free(c->req.path);
  free(c->req.query);
  free(c->req.body);
  free(c->in);
  free(c);
}

static void on_sconn_close(uv_handle_t *h) {
  kv_sconn_t *c = kv_container_of(h, kv_sconn_t, tcp);
  c->dead = 1;
  if (c->prev)
    c->prev->next = c->next;
  else if (c->srv->conns == c)
    c->srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  c->next = c->prev = NULL;
  if (!c->busy)
    sconn_free(c);
}

static void sconn_close(kv_sconn_t *c) {
  if (c->closing)
    return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, on_sconn_close);
}

static kv_sconn_t *sconn_of(http_parser *p) {
  return kv_container_of(p, kv_sconn_t, parser);
}

static int on_message_begin(http_parser *p) {
  kv_sconn_t *c = sconn_of(p);
  kv_req_t *r = &c->req;
  free(r->url);
  free(r->path);
  free(r->query);
  free(r->body);
  memset(r, 0, sizeof(*r));
  c->url_len = c->body_cap = 0;
  c->too_large = c->hstate = c->expect_hdr = c->expect_continue = 0;
  c->hname_len = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  kv_sconn_t *c = sconn_of(p);
  if (c->url_len + len > MAX_URL) {
    c->url_len = MAX_URL;
    return -1;
  }
  c->req.url = kv_realloc(c->req.url, c->url_len + len + 1);
  memcpy(c->req.url + c->url_len, at, len);
  c->url_len += len;
  c->req.url[c->url_len] = '\0';
  return 0;
}

/* Only Expect matters to us; field names and values may arrive in pieces. */
static int on_header_field(http_parser *p, const char *at, size_t len) {
  kv_sconn_t *c = sconn_of(p);
  if (c->hstate != 1)
    c->hname_len = 0;
  c->hstate = 1;
  for (size_t i = 0; i < len && c->hname_len < sizeof(c->hname); i++)
    c->hname[c->hname_len++] = at[i];
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  kv_sconn_t *c = sconn_of(p);
  if (c->hstate == 1)
    c->expect_hdr = c->hname_len == 6 && strncasecmp(c->hname, "expect", 6) == 0;
  c->hstate = 2;
  if (c->expect_hdr && len >= 3 && memcmp(at, "100", 3) == 0)
    c->expect_continue = 1;
  return 0;
}

static int on_headers_complete(http_parser *p) {
  kv_sconn_t *c = sconn_of(p);
  kv_req_t *r = &c->req;
  const char *url = r->url ? r->url : "";
  const char *q = strchr(url, '?');
  size_t plen = q ? (size_t)(q - url) : strlen(url);
  r->method = (int)p->method;
  r->path = kv_memdup(url, plen);
  r->query = q ? kv_memdup(q + 1, strlen(q + 1)) : kv_memdup("", 0);
  c->limit = c->srv->limit(r->path, c->srv->data);
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->limit) {
    c->too_large = 1;
    return -1;
  }
  if (c->expect_continue) {
    static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    swrite_t *w = kv_malloc(sizeof(*w));
    uv_buf_t buf = uv_buf_init(cont, sizeof(cont) - 1);
    w->c = c;
    w->close_after = 0;
    if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &buf, 1, on_swrite) != 0)
      free(w); /* the answer will fail the same way and close */
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  kv_sconn_t *c = sconn_of(p);
  kv_req_t *r = &c->req;
  if (r->body_len + len > c->limit) {
    c->too_large = 1;
    return -1;
  }
  if (r->body_len + len + 1 > c->body_cap) {
    c->body_cap = (r->body_len + len + 1) * 2;
    if (c->body_cap > c->limit + 1)
      c->body_cap = c->limit + 1;
    r->body = kv_realloc(r->body, c->body_cap);
  }
  memcpy(r->body + r->body_len, at, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return 0;
}

static int on_message_complete(http_parser *p) {
  kv_sconn_t *c = sconn_of(p);
  if (!c->req.body)
    c->req.body = kv_memdup("", 0);
  c->keep_alive = http_should_keep_alive(p);
  http_parser_pause(p, 1); /* one request at a time: stop here */
  return 0;
}

static const http_parser_settings server_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void on_swrite(uv_write_t *w, int status) {
  swrite_t *sw = kv_container_of(w, swrite_t, w);
  if (sw->c && (status < 0 || sw->close_after))
    sconn_close(sw->c);
  free(sw);
}

static void on_sread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  kv_sconn_t *c = kv_container_of(s, kv_sconn_t, tcp);
  if (nread < 0) {
    sconn_close(c);
    return;
  }
  if (c->inlen + (size_t)nread > c->incap) {
    c->incap = c->inlen + (size_t)nread;
    c->in = kv_realloc(c->in, c->incap);
  }
  memcpy(c->in + c->inlen, buf->base, (size_t)nread);
  c->inlen += (size_t)nread;
  sconn_feed(c);
}

/* Parses what was received until a request is complete, hands it to the
 * handler, and goes on if the handler answered at once. */
static void sconn_feed(kv_sconn_t *c) {
  c->in_feed = 1;
  while (!c->busy && !c->closing && !c->close_after && c->inlen) {
    size_t n = http_parser_execute(&c->parser, &server_settings, c->in, c->inlen);
    memmove(c->in, c->in + n, c->inlen - n);
    c->inlen -= n;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
      http_parser_pause(&c->parser, 0);
      c->busy = 1;
      c->srv->handler(&c->req, c->srv->data);
    } else if (e != HPE_OK) {
      c->busy = 1;
      c->keep_alive = 0;
      if (c->too_large)
        kv_http_respond(&c->req, 413, NULL, "too large", 9);
      else if (c->url_len >= MAX_URL)
        kv_http_respond(&c->req, 414, NULL, "uri too long", 12);
      else
        kv_http_respond(&c->req, 400, NULL, "bad request", 11);
    }
  }
  c->in_feed = 0;
  if (c->closing)
    return;
  if ((c->busy || c->close_after) && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  } else if (!c->busy && !c->close_after && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_sread) == 0)
      c->reading = 1;
    else
      sconn_close(c);
  }
}

void kv_http_respond(kv_req_t *req, int status, const char *ctype, const char *body,
                     size_t len) {
  kv_sconn_t *c = kv_container_of(req, kv_sconn_t, req);
  char head[256];
  c->busy = 0;
  if (c->dead) {
    sconn_free(c);
    return;
  }
  if (c->closing)
    return;
  if (!c->keep_alive)
    c->close_after = 1;
  int hlen = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: %s\r\n\r\n",
                      status, http_status_str((enum http_status)status),
                      ctype ? ctype : "text/plain", len,
                      c->close_after ? "close" : "keep-alive");
  swrite_t *w = kv_malloc(sizeof(*w) + (size_t)hlen + len);
  memcpy(w->data, head, (size_t)hlen);
  if (len)
    memcpy(w->data + hlen, body, len);
  w->c = c;
  w->close_after = c->close_after;
  uv_buf_t buf = uv_buf_init(w->data, (unsigned)((size_t)hlen + len));
  if (uv_write(&w->w, (uv_stream_t *)&c->tcp, &buf, 1, on_swrite) != 0) {
    free(w);
    sconn_close(c);
    return;
  }
  if (!c->in_feed)
    sconn_feed(c);
}

static void on_connection(uv_stream_t *server, int status) {
  kv_server_t *srv = kv_container_of(server, kv_server_t, tcp);
  if (status < 0)
    return;
  kv_sconn_t *c = kv_malloc(sizeof(*c));
  memset(c, 0, sizeof(*c));
  c->srv = srv;
  uv_tcp_init(server->loop, &c->tcp);
  c->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = c;
  srv->conns = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    sconn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  sconn_feed(c); /* starts reading */
}

int kv_http_listen(kv_server_t *srv, uv_loop_t *loop, const struct sockaddr *addr,
                   kv_http_handler_cb handler, kv_http_limit_cb limit, void *data) {
  int rc;
  memset(srv, 0, sizeof(*srv));
  srv->handler = handler;
  srv->limit = limit;
  srv->data = data;
  uv_tcp_init(loop, &srv->tcp);
  if ((rc = uv_tcp_bind(&srv->tcp, addr, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&srv->tcp, 128, on_connection)) != 0)
    uv_close((uv_handle_t *)&srv->tcp, NULL);
  return rc;
}

void kv_http_server_close(kv_server_t *srv) {
  if (!uv_is_closing((uv_handle_t *)&srv->tcp))
    uv_close((uv_handle_t *)&srv->tcp, NULL);
  for (kv_sconn_t *c = srv->conns; c; c = c->next)
    sconn_close(c);
}

/* ---- client ------------------------------------------------------------- */

enum { C_CONNECTING, C_BUSY, C_IDLE };

struct kv_cconn_s {
  uv_tcp_t tcp;
  uv_timer_t timer; /* the request's deadline, or the idle expiry */
  uv_connect_t connect;
  uv_write_t write;
  http_parser parser;
  kv_pool_t *pool;
  int state, closing, open_handles, complete, keep_alive;
  kv_http_resp_cb cb;
  void *data;
  char *out; /* the request's bytes */
  size_t outlen;
  char *body;
  size_t blen, bcap;
  kv_cconn_t *next, *prev; /* every client connection, for shutdown */
  kv_cconn_t *idle_next;
};

static kv_cconn_t *all_cconns;
static int client_down;

static void on_cconn_close(uv_handle_t *h) {
  kv_cconn_t *c = h->data;
  if (--c->open_handles)
    return;
  if (c->prev)
    c->prev->next = c->next;
  else
    all_cconns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  free(c->out);
  free(c->body);
  free(c);
}

static void cconn_close(kv_cconn_t *c) {
  if (c->closing)
    return;
  c->closing = 1;
  if (c->state == C_IDLE) {
    kv_cconn_t **pp = &c->pool->idle;
    while (*pp && *pp != c)
      pp = &(*pp)->idle_next;
    if (*pp) {
      *pp = c->idle_next;
      c->pool->nidle--;
    }
  }
  uv_close((uv_handle_t *)&c->tcp, on_cconn_close);
  uv_close((uv_handle_t *)&c->timer, on_cconn_close);
}

/* Ends the request with an error: closes the connection, then calls back. */
static void cconn_fail(kv_cconn_t *c, int err) {
  kv_http_resp_cb cb = c->cb;
  c->cb = NULL;
  cconn_close(c);
  if (cb)
    cb(err, "", 0, c->data);
}

/* The request's deadline passed, or an idle connection expired (no callback
 * is pending then, so this only closes it). */
static void on_ctimeout(uv_timer_t *t) {
  cconn_fail(t->data, UV_ETIMEDOUT);
}

static int on_cbody(http_parser *p, const char *at, size_t len) {
  kv_cconn_t *c = kv_container_of(p, kv_cconn_t, parser);
  if (c->blen + len > KV_MAX_RESPONSE)
    return -1;
  if (c->blen + len + 1 > c->bcap) {
    c->bcap = (c->blen + len + 1) * 2;
    c->body = kv_realloc(c->body, c->bcap);
  }
  memcpy(c->body + c->blen, at, len);
  c->blen += len;
  c->body[c->blen] = '\0';
  return 0;
}

static int on_cmessage_complete(http_parser *p) {
  kv_cconn_t *c = kv_container_of(p, kv_cconn_t, parser);
  c->complete = 1;
  c->keep_alive = http_should_keep_alive(p);
  http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings client_settings = {
    .on_body = on_cbody,
    .on_message_complete = on_cmessage_complete,
};

/* The response is complete: keep the connection for reuse when we can, then
 * call back with the body (which the callback only borrows). */
static void cconn_finish(kv_cconn_t *c, int leftover) {
  kv_http_resp_cb cb = c->cb;
  void *data = c->data;
  char *body = c->body;
  size_t blen = c->blen;
  int status = (int)c->parser.status_code;
  c->cb = NULL;
  c->body = NULL;
  c->blen = c->bcap = 0;
  uv_timer_stop(&c->timer);
  if (c->keep_alive && !leftover && !client_down && c->pool->nidle < CLIENT_MAX_IDLE) {
    c->state = C_IDLE;
    c->idle_next = c->pool->idle;
    c->pool->idle = c;
    c->pool->nidle++;
    uv_timer_start(&c->timer, on_ctimeout, CLIENT_IDLE_MS, 0); /* just closes */
  } else {
    cconn_close(c);
  }
  if (cb)
    cb(status, body ? body : "", blen, data);
  free(body);
}

static void on_cread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  kv_cconn_t *c = s->data;
  if (c->closing || nread == 0)
    return;
  if (c->state == C_IDLE) {
    cconn_close(c); /* the server closed it, or sent what nobody asked for */
    return;
  }
  if (nread < 0) {
    if (nread == UV_EOF) {
      http_parser_execute(&c->parser, &client_settings, NULL, 0);
      if (c->complete) {
        c->keep_alive = 0;
        cconn_finish(c, 0);
        return;
      }
    }
    cconn_fail(c, (int)nread);
    return;
  }
  size_t n = http_parser_execute(&c->parser, &client_settings, buf->base, (size_t)nread);
  if (c->complete)
    cconn_finish(c, n < (size_t)nread);
  else if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK)
    cconn_fail(c, UV_EPROTO);
}

static void on_cwrite(uv_write_t *w, int status) {
  kv_cconn_t *c = w->handle->data;
  if (status < 0 && !c->closing)
    cconn_fail(c, status);
}

static int cconn_send(kv_cconn_t *c) {
  uv_buf_t buf = uv_buf_init(c->out, (unsigned)c->outlen);
  int rc = uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, on_cwrite);
  if (rc == 0 && c->state == C_CONNECTING)
    rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_cread);
  c->state = C_BUSY;
  return rc;
}

static void on_cconnect(uv_connect_t *req, int status) {
  kv_cconn_t *c = req->handle->data;
  if (c->closing)
    return;
  if (status < 0 || (status = cconn_send(c)) != 0)
    cconn_fail(c, status);
}

int kv_http_request(kv_pool_t *pool, const char *method, const char *url,
                    const char *body, size_t len, uint64_t timeout_ms, kv_http_resp_cb cb,
                    void *data) {
  char head[MAX_URL + 256];
  kv_cconn_t *c;
  int rc;
  if (client_down)
    return UV_ECANCELED;
  int hlen = snprintf(head, sizeof(head),
                      "%s %s HTTP/1.1\r\nHost: kvnode\r\nContent-Length: %zu\r\n"
                      "Content-Type: application/octet-stream\r\n\r\n",
                      method, url, len);
  if (hlen < 0 || (size_t)hlen >= sizeof(head))
    return UV_E2BIG;
  if ((c = pool->idle) != NULL) {
    pool->idle = c->idle_next;
    pool->nidle--;
    uv_timer_stop(&c->timer);
  } else {
    c = kv_malloc(sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->pool = pool;
    c->state = C_CONNECTING;
    uv_tcp_init(pool->loop, &c->tcp);
    uv_timer_init(pool->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->open_handles = 2;
    c->next = all_cconns;
    if (all_cconns)
      all_cconns->prev = c;
    all_cconns = c;
  }
  free(c->out);
  c->outlen = (size_t)hlen + len;
  c->out = kv_malloc(c->outlen);
  memcpy(c->out, head, (size_t)hlen);
  if (len)
    memcpy(c->out + hlen, body, len);
  c->complete = 0;
  http_parser_init(&c->parser, HTTP_RESPONSE);
  if (c->state == C_CONNECTING) {
    rc =
        uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&pool->addr, on_cconnect);
    if (rc == 0)
      uv_tcp_nodelay(&c->tcp, 1);
  } else {
    rc = cconn_send(c);
  }
  if (rc != 0) {
    cconn_close(c);
    return rc;
  }
  c->cb = cb;
  c->data = data;
  uv_timer_start(&c->timer, on_ctimeout, timeout_ms, 0);
  return 0;
}

void kv_http_client_shutdown(void) {
  client_down = 1;
  for (kv_cconn_t *c = all_cconns; c; c = c->next)
    if (!c->closing)
      cconn_fail(c, UV_ECANCELED);
}
