/* The API's HTTP/1.1 server: a session parses bytes with http-parser and
 * answers each request through a synchronous handler; a connection feeds a
 * session from a socket, writes its answers, and enforces the time limits.
 *
 * Bounds, since every byte here comes from a peer: the request line and
 * headers (431 past max_header), the body (413 past max_body, checked
 * against Content-Length before the body is read, so an `Expect:
 * 100-continue` client never sends it), the answers queued for a peer that
 * does not read (parsing pauses past max_queued and the socket is not read
 * meanwhile), the number of connections, and time (a request must arrive
 * whole within read_timeout_ms; an idle connection lives idle_timeout_ms). */
#include "faults/api_http.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/error.h"

#define READ_BUF_SIZE (64 * 1024)
#define DRAIN_MS 1000 /* after the last answer, read and drop for this long */

void fl_api_limits_default(fl_api_limits_t *out) {
  out->max_body = 1024 * 1024;
  out->max_header = 16 * 1024;
  out->max_queued = 1024 * 1024;
  out->max_conns = 1024;
  out->read_timeout_ms = 15000;
  out->idle_timeout_ms = 60000;
}

const char *fl_api_reason(int status) {
  switch (status) {
  case 100:
    return "Continue";
  case 200:
    return "OK";
  case 201:
    return "Created";
  case 204:
    return "No Content";
  case 400:
    return "Bad Request";
  case 403:
    return "Forbidden";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  case 409:
    return "Conflict";
  case 413:
    return "Request Entity Too Large";
  case 431:
    return "Request Header Fields Too Large";
  case 500:
    return "Internal Server Error";
  case 501:
    return "Not Implemented";
  case 503:
    return "Service Unavailable";
  default:
    return "Unknown";
  }
}

void fl_api_res_text(fl_api_res_t *res, int status, const char *content_type,
                     const char *s) {
  size_t n = strlen(s);
  res->status = status;
  res->content_type = content_type;
  fl_free(res->body);
  res->body = fl_malloc(n + 1);
  memcpy(res->body, s, n + 1);
  res->body_len = n;
}

/* ---- addresses ---------------------------------------------------------- */

int fl_api_addr_parse(const char *s, struct sockaddr_storage *out) {
  char host[128];
  const char *port;
  char *end;

  memset(out, 0, sizeof(*out));
  if (s == NULL)
    return FL_ECONFIG;
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (close == NULL || close[1] != ':' || (size_t)(close - s - 1) >= sizeof(host))
      return FL_ECONFIG;
    memcpy(host, s + 1, (size_t)(close - s - 1));
    host[close - s - 1] = '\0';
    port = close + 2;
  } else {
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof(host))
      return FL_ECONFIG;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (strchr(host, ':') != NULL)
      return FL_ECONFIG;
    port = colon + 1;
  }
  if (port[0] < '0' || port[0] > '9' || strlen(port) > 5)
    return FL_ECONFIG;
  long pn = strtol(port, &end, 10);
  if (*end != '\0' || pn > 65535)
    return FL_ECONFIG;
  if (host[0] == '\0')
    strcpy(host, "0.0.0.0");
  else if (strcasecmp(host, "localhost") == 0)
    strcpy(host, "127.0.0.1");
  if (uv_ip4_addr(host, (int)pn, (struct sockaddr_in *)out) == 0)
    return 0;
  if (uv_ip6_addr(host, (int)pn, (struct sockaddr_in6 *)out) == 0)
    return 0;
  return FL_ECONFIG;
}

void fl_api_addr_format(const struct sockaddr_storage *a, char *buf, size_t size) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (a->ss_family == AF_INET6) {
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
    inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
    snprintf(buf, size, "[%s]:%u", ip, ntohs(v6->sin6_port));
  } else {
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
    inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
    snprintf(buf, size, "%s:%u", ip, ntohs(v4->sin_port));
  }
}

/* ---- sessions ----------------------------------------------------------- */

enum { HDR_OTHER = 0, HDR_USER_AGENT, HDR_EXPECT };

struct fl_api_session_s {
  http_parser parser;
  fl_api_limits_t lim;
  fl_api_handler_cb handler;
  void *arg;
  fl_api_write_cb write;
  void *warg;
  /* The request being read. */
  char *url;
  size_t url_len;
  char *body;
  size_t body_len, body_cap;
  size_t header_bytes;
  char hname[16];
  size_t hname_len;
  int hname_long; /* the field name did not fit: not one we want */
  int hwhich;     /* HDR_*: which value the value callbacks append to */
  int in_value;   /* the last callback was a header value */
  char ua[256];
  size_t ua_len;
  char expect[32];
  size_t expect_len;
  int in_message;
  int error_status; /* a limit was hit: answer this and close */
  int done;
};

static fl_api_session_t *sess_of(http_parser *p) {
  return fl_container_of(p, fl_api_session_t, parser);
}

static int count_header(fl_api_session_t *s, size_t len) {
  s->header_bytes += len;
  if (s->header_bytes > s->lim.max_header) {
    s->error_status = 431;
    return -1;
  }
  return 0;
}

static int on_message_begin(http_parser *p) {
  fl_api_session_t *s = sess_of(p);
  s->url_len = 0;
  s->body_len = 0;
  s->header_bytes = 0;
  s->hname_len = 0;
  s->hname_long = 0;
  s->hwhich = HDR_OTHER;
  s->in_value = 1; /* the first field starts a new name */
  s->ua_len = 0;
  s->expect_len = 0;
  s->in_message = 1;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  fl_api_session_t *s = sess_of(p);
  if (count_header(s, len))
    return -1;
  s->url = fl_realloc(s->url, s->url_len + len + 1);
  memcpy(s->url + s->url_len, at, len);
  s->url_len += len;
  s->url[s->url_len] = '\0';
  return 0;
}

/* Field names and values may arrive in pieces: a name starts after a value. */
static int on_header_field(http_parser *p, const char *at, size_t len) {
  fl_api_session_t *s = sess_of(p);
  if (count_header(s, len))
    return -1;
  if (s->in_value) {
    s->hname_len = 0;
    s->hname_long = 0;
    s->in_value = 0;
  }
  for (size_t i = 0; i < len; i++) {
    if (s->hname_len + 1 >= sizeof(s->hname)) {
      s->hname_long = 1;
      break;
    }
    char c = at[i];
    s->hname[s->hname_len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  s->hname[s->hname_len] = '\0';
  return 0;
}

static void append_trunc(char *buf, size_t size, size_t *n, const char *at, size_t len) {
  if (*n + 1 >= size)
    return;
  size_t room = size - 1 - *n;
  if (len > room)
    len = room;
  memcpy(buf + *n, at, len);
  *n += len;
  buf[*n] = '\0';
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  fl_api_session_t *s = sess_of(p);
  if (count_header(s, len))
    return -1;
  if (!s->in_value) {
    s->in_value = 1;
    s->hwhich = HDR_OTHER;
    if (!s->hname_long && strcmp(s->hname, "user-agent") == 0) {
      s->hwhich = HDR_USER_AGENT;
      s->ua_len = 0;
    } else if (!s->hname_long && strcmp(s->hname, "expect") == 0) {
      s->hwhich = HDR_EXPECT;
      s->expect_len = 0;
    }
  }
  if (s->hwhich == HDR_USER_AGENT)
    append_trunc(s->ua, sizeof(s->ua), &s->ua_len, at, len);
  else if (s->hwhich == HDR_EXPECT)
    append_trunc(s->expect, sizeof(s->expect), &s->expect_len, at, len);
  return 0;
}

static int on_headers_complete(http_parser *p) {
  fl_api_session_t *s = sess_of(p);
  /* Content-Length is known before the body: refuse a large body at once,
   * so that a client waiting for "100 Continue" never sends it. */
  if ((p->flags & F_CONTENTLENGTH) && p->content_length != ULLONG_MAX &&
      p->content_length > s->lim.max_body) {
    s->error_status = 413;
    return -1;
  }
  if (s->expect_len > 0 && strcasecmp(s->expect, "100-continue") == 0 &&
      p->http_major == 1 && p->http_minor >= 1) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *m = fl_malloc(sizeof(cont) - 1);
    memcpy(m, cont, sizeof(cont) - 1);
    s->write(m, sizeof(cont) - 1, s->warg);
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  fl_api_session_t *s = sess_of(p);
  if (s->body_len + len > s->lim.max_body) {
    s->error_status = 413;
    return -1;
  }
  if (s->body_len + len + 1 > s->body_cap) {
    size_t cap = s->body_cap ? s->body_cap : 1024;
    while (cap < s->body_len + len + 1)
      cap *= 2;
    if (cap > s->lim.max_body + 1)
      cap = s->lim.max_body + 1;
    s->body = fl_realloc(s->body, cap);
    s->body_cap = cap;
  }
  memcpy(s->body + s->body_len, at, len);
  s->body_len += len;
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes %XX escapes of src[0..len) into a new string. Returns NULL on a
 * malformed escape, which Go's server answers with 400. */
static char *path_decode(const char *src, size_t len, size_t *out_len) {
  char *out = fl_malloc(len + 1);
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (src[i] == '%') {
      if (i + 2 >= len) {
        fl_free(out);
        return NULL;
      }
      int a = hexval(src[i + 1]), b = hexval(src[i + 2]);
      if (a < 0 || b < 0) {
        fl_free(out);
        return NULL;
      }
      out[n++] = (char)(a * 16 + b);
      i += 2;
    } else {
      out[n++] = src[i];
    }
  }
  out[n] = '\0';
  *out_len = n;
  return out;
}

static void http_date(char *buf, size_t size) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, size, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* Formats and sends res; frees its body. */
static int send_response(fl_api_session_t *s, fl_api_res_t *res, int keep_alive,
                         int http10) {
  char date[64];
  char head[1024];
  int status = res->status ? res->status : 200;
  int has_len = !(status == 204 || status == 304 || status < 200);
  size_t n;

  http_date(date, sizeof(date));
  n = (size_t)snprintf(head, sizeof(head), "HTTP/1.%d %d %s\r\n", http10 ? 0 : 1, status,
                       fl_api_reason(status));
  if (!keep_alive)
    n += (size_t)snprintf(head + n, sizeof(head) - n, "Connection: close\r\n");
  else if (http10)
    n += (size_t)snprintf(head + n, sizeof(head) - n, "Connection: keep-alive\r\n");
  if (has_len)
    n += (size_t)snprintf(head + n, sizeof(head) - n, "Content-Length: %zu\r\n",
                          res->body_len);
  if (res->content_type != NULL && has_len)
    n += (size_t)snprintf(head + n, sizeof(head) - n, "Content-Type: %s\r\n",
                          res->content_type);
  n += (size_t)snprintf(head + n, sizeof(head) - n, "Date: %s\r\n%s\r\n", date,
                        res->headers);
  if (n >= sizeof(head))
    n = sizeof(head) - 1;
  size_t blen = has_len ? res->body_len : 0;
  char *out = fl_malloc(n + blen);
  memcpy(out, head, n);
  if (blen)
    memcpy(out + n, res->body, blen);
  fl_free(res->body);
  res->body = NULL;
  return s->write(out, n + blen, s->warg);
}

/* Go's server answers protocol errors with the status line as plain text
 * and closes; we do the same. */
static void send_error(fl_api_session_t *s, int status) {
  fl_api_res_t res;
  char text[80];
  memset(&res, 0, sizeof(res));
  snprintf(text, sizeof(text), "%d %s", status, fl_api_reason(status));
  fl_api_res_text(&res, status, "text/plain; charset=utf-8", text);
  send_response(s, &res, 0, 0);
  s->done = 1;
}

static int on_message_complete(http_parser *p) {
  fl_api_session_t *s = sess_of(p);
  fl_api_req_t req;
  fl_api_res_t res;
  struct http_parser_url u;
  const char *path = "";
  size_t plen = 0;
  char *decoded;
  size_t dlen = 0;

  s->in_message = 0;
  if (s->url == NULL) {
    s->url = fl_strdup("");
    s->url_len = 0;
  }
  http_parser_url_init(&u);
  if (http_parser_parse_url(s->url, s->url_len, 0, &u) == 0 &&
      (u.field_set & (1 << UF_PATH))) {
    path = s->url + u.field_data[UF_PATH].off;
    plen = u.field_data[UF_PATH].len;
  }
  decoded = path_decode(path, plen, &dlen);
  if (decoded == NULL) {
    send_error(s, 400);
    http_parser_pause(p, 1);
    return 0;
  }
  if (s->body == NULL) {
    s->body = fl_malloc(1);
    s->body_cap = 1;
  }
  s->body[s->body_len] = '\0';

  memset(&req, 0, sizeof(req));
  req.method = http_method_str((enum http_method)p->method);
  req.url = s->url;
  req.path = decoded;
  req.path_len = dlen;
  req.user_agent = s->ua_len ? s->ua : "";
  req.body = s->body;
  req.body_len = s->body_len;
  memset(&res, 0, sizeof(res));
  s->handler(&req, &res, s->arg);
  fl_free(decoded);

  /* An upgrade request is answered, and then the connection ends: what
   * follows it is not HTTP/1.1 we could parse. */
  int keep_alive = http_should_keep_alive(p) && !p->upgrade;
  int slow = send_response(s, &res, keep_alive, p->http_major == 1 && p->http_minor == 0);
  if (s->body_cap > 64 * 1024) {
    fl_free(s->body);
    s->body = NULL;
    s->body_cap = 0;
  }
  s->body_len = 0;
  if (!keep_alive)
    s->done = 1;
  if (!keep_alive || slow)
    http_parser_pause(p, 1);
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

fl_api_session_t *fl_api_session_new(const fl_api_limits_t *limits,
                                     fl_api_handler_cb handler, void *arg,
                                     fl_api_write_cb write, void *warg) {
  fl_api_session_t *s = fl_calloc(1, sizeof(*s));
  s->lim = *limits;
  s->handler = handler;
  s->arg = arg;
  s->write = write;
  s->warg = warg;
  http_parser_init(&s->parser, HTTP_REQUEST);
  return s;
}

size_t fl_api_session_feed(fl_api_session_t *s, const char *data, size_t len, int *done) {
  *done = s->done;
  if (s->done || len == 0)
    return s->done ? len : 0;
  http_parser_pause(&s->parser, 0);
  size_t used = http_parser_execute(&s->parser, &settings, data, len);
  enum http_errno e = HTTP_PARSER_ERRNO(&s->parser);
  if (e == HPE_PAUSED) {
    http_parser_pause(&s->parser, 0);
  } else if (e != HPE_OK) {
    send_error(s, s->error_status ? s->error_status : 400);
    used = len;
  } else if (s->parser.upgrade && !s->done) {
    /* http-parser stops after the headers of an upgrade; we answered. */
    s->done = 1;
  }
  if (s->done)
    used = len;
  *done = s->done;
  return used;
}

int fl_api_session_busy(const fl_api_session_t *s) {
  return s->in_message;
}

void fl_api_session_free(fl_api_session_t *s) {
  if (s == NULL)
    return;
  fl_free(s->url);
  fl_free(s->body);
  fl_free(s);
}

/* ---- connections and the server ----------------------------------------- */

typedef struct httpd_conn_s httpd_conn_t;

struct fl_api_httpd_s {
  uv_loop_t *loop;
  uv_tcp_t listener;
  fl_api_limits_t lim;
  fl_api_handler_cb handler;
  void *arg;
  char address[80];
  httpd_conn_t *conns;
  int nconns;
  int handles; /* open handles: the listener and two per connection */
  int closing;
  void (*close_cb)(void *);
  void *close_arg;
  char rbuf[READ_BUF_SIZE]; /* one loop, one thread: reads land here */
};

struct httpd_conn_s {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_shutdown_t shutdown;
  fl_api_httpd_t *srv;
  fl_api_session_t *sess;
  httpd_conn_t *next, *prev;
  size_t queued; /* answer bytes handed to uv_write and not yet written */
  char *pending; /* bytes read and not parsed (parsing paused) */
  size_t pending_len;
  int handles;
  int closing;
  int done;     /* no more requests: shut down once queued is 0 */
  int draining; /* shut down: reading and dropping until EOF */
  int reading;
  int peer_eof;  /* the peer sent its FIN */
  int req_timer; /* the timer counts down a request's read timeout */
};

typedef struct {
  uv_write_t req;
  httpd_conn_t *c;
  size_t len;
  char *data;
} conn_write_t;

static void maybe_free_server(fl_api_httpd_t *s) {
  if (!s->closing || s->handles > 0)
    return;
  void (*cb)(void *) = s->close_cb;
  void *arg = s->close_arg;
  fl_free(s);
  if (cb != NULL)
    cb(arg);
}

static void on_conn_handle_closed(uv_handle_t *h) {
  httpd_conn_t *c = h->data;
  fl_api_httpd_t *s = c->srv;
  s->handles--;
  if (--c->handles > 0)
    return;
  fl_api_session_free(c->sess);
  fl_free(c->pending);
  fl_free(c);
  maybe_free_server(s);
}

static void conn_close(httpd_conn_t *c) {
  if (c->closing)
    return;
  c->closing = 1;
  fl_api_httpd_t *s = c->srv;
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  s->nconns--;
  uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_timer(uv_timer_t *t) {
  conn_close(t->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  httpd_conn_t *c = h->data;
  (void)suggested;
  *buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void on_shutdown(uv_shutdown_t *req, int status) {
  httpd_conn_t *c = req->data;
  if (status < 0)
    conn_close(c);
}

/* Every answer is written: end with a FIN, then read what the peer still
 * sends until its EOF (or DRAIN_MS), so that unread bytes do not turn our
 * close into a reset that could destroy the answer in flight. */
static void conn_finish(httpd_conn_t *c) {
  if (c->closing || c->draining)
    return;
  if (c->peer_eof) {
    conn_close(c); /* nothing more can come: a plain close is a FIN */
    return;
  }
  c->draining = 1;
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    conn_close(c);
    return;
  }
  if (!c->reading) {
    c->reading = 1;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  }
  uv_timer_start(&c->timer, on_timer, DRAIN_MS, 0);
}

static void conn_arm_timer(httpd_conn_t *c) {
  if (c->draining || c->closing)
    return;
  if (fl_api_session_busy(c->sess)) {
    if (!c->req_timer) {
      c->req_timer = 1;
      uv_timer_start(&c->timer, on_timer, c->srv->lim.read_timeout_ms, 0);
    }
  } else {
    c->req_timer = 0;
    uv_timer_start(&c->timer, on_timer, c->srv->lim.idle_timeout_ms, 0);
  }
}

/* Feeds data to the session; keeps what it did not take. */
static void conn_feed(httpd_conn_t *c, const char *data, size_t len) {
  int done = 0;
  size_t used = fl_api_session_feed(c->sess, data, len, &done);
  if (c->closing)
    return;
  if (done) {
    c->done = 1;
    fl_free(c->pending);
    c->pending = NULL;
    c->pending_len = 0;
    if (c->queued == 0)
      conn_finish(c);
    return;
  }
  if (used < len) {
    char *rest = fl_malloc(len - used);
    memcpy(rest, data + used, len - used);
    fl_free(c->pending);
    c->pending = rest;
    c->pending_len = len - used;
  }
  /* A peer that sends requests without reading the answers waits. */
  if ((c->pending != NULL || c->queued > c->srv->lim.max_queued) && c->reading) {
    c->reading = 0;
    uv_read_stop((uv_stream_t *)&c->tcp);
  }
  conn_arm_timer(c);
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf) {
  httpd_conn_t *c = st->data;
  if (c->closing)
    return;
  if (nread < 0) {
    /* Answers still being written go out before the close. */
    if (nread == UV_EOF && c->queued > 0 && !c->draining) {
      c->peer_eof = 1;
      c->done = 1;
      c->reading = 0;
      uv_read_stop(st);
      return;
    }
    conn_close(c);
    return;
  }
  if (nread == 0 || c->draining || c->done)
    return;
  conn_feed(c, buf->base, (size_t)nread);
}

static void on_written(uv_write_t *req, int status) {
  conn_write_t *w = fl_container_of(req, conn_write_t, req);
  httpd_conn_t *c = w->c;
  c->queued -= w->len;
  fl_free(w->data);
  fl_free(w);
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  if (c->done) {
    if (c->queued == 0)
      conn_finish(c);
    return;
  }
  /* Resume a paused session once the peer caught up. */
  if (c->queued > c->srv->lim.max_queued / 2)
    return;
  if (c->pending != NULL) {
    char *p = c->pending;
    size_t n = c->pending_len;
    c->pending = NULL;
    c->pending_len = 0;
    conn_feed(c, p, n);
    fl_free(p);
    if (c->closing || c->done || c->pending != NULL || c->queued > c->srv->lim.max_queued)
      return;
  }
  if (c->pending == NULL && !c->reading && !c->draining && !c->done) {
    c->reading = 1;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  }
}

static int conn_write(char *data, size_t len, void *arg) {
  httpd_conn_t *c = arg;
  if (c->closing) {
    fl_free(data);
    return 1;
  }
  conn_write_t *w = fl_malloc(sizeof(*w));
  w->c = c;
  w->len = len;
  w->data = data;
  uv_buf_t b = uv_buf_init(data, (unsigned)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
    fl_free(data);
    fl_free(w);
    conn_close(c);
    return 1;
  }
  c->queued += len;
  return c->queued > c->srv->lim.max_queued;
}

static void on_connection(uv_stream_t *ls, int status) {
  fl_api_httpd_t *s = ls->data;
  if (status < 0 || s->closing)
    return;
  httpd_conn_t *c = fl_calloc(1, sizeof(*c));
  c->srv = s;
  uv_tcp_init(s->loop, &c->tcp);
  uv_timer_init(s->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->handles = 2;
  s->handles += 2;
  c->sess = fl_api_session_new(&s->lim, s->handler, s->arg, conn_write, c);
  c->next = s->conns;
  if (s->conns != NULL)
    s->conns->prev = c;
  s->conns = c;
  s->nconns++;
  if (uv_accept(ls, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  if (s->nconns > s->lim.max_conns) {
    FL_LOG(FL_LOG_WARN, "api", "%d connections: closing a new one", s->nconns - 1);
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->reading = 1;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  conn_arm_timer(c);
}

static void on_listener_closed(uv_handle_t *h) {
  fl_api_httpd_t *s = h->data;
  s->handles--;
  maybe_free_server(s);
}

int fl_api_httpd_new(fl_api_httpd_t **out, uv_loop_t *loop, const char *addr,
                     const fl_api_limits_t *limits, fl_api_handler_cb handler, void *arg,
                     fl_err_t *err) {
  struct sockaddr_storage sa;
  int len = sizeof(sa);
  int rc;

  *out = NULL;
  if (fl_api_addr_parse(addr, &sa) != 0)
    return fl_err_set(err, FL_ECONFIG,
                      "--api: expected HOST:PORT with an IP address or localhost, "
                      "not \"%s\"",
                      addr ? addr : "");
  fl_api_httpd_t *s = fl_calloc(1, sizeof(*s));
  s->loop = loop;
  if (limits != NULL)
    s->lim = *limits;
  else
    fl_api_limits_default(&s->lim);
  s->handler = handler;
  s->arg = arg;
  uv_tcp_init(loop, &s->listener);
  s->listener.data = s;
  s->handles = 1;
  rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&sa, 0);
  if (rc == 0)
    rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
  if (rc == 0)
    rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&sa, &len);
  if (rc != 0) {
    fl_err_set(err, rc, "cannot listen on %s: %s", addr, fl_strerror(rc));
    s->closing = 1;
    uv_close((uv_handle_t *)&s->listener, on_listener_closed);
    return rc;
  }
  fl_api_addr_format(&sa, s->address, sizeof(s->address));
  *out = s;
  return 0;
}

const char *fl_api_httpd_address(const fl_api_httpd_t *s) {
  return s->address;
}

int fl_api_httpd_connections(const fl_api_httpd_t *s) {
  return s->nconns;
}

void fl_api_httpd_close(fl_api_httpd_t *s, void (*cb)(void *arg), void *arg) {
  if (s == NULL || s->closing)
    return;
  s->closing = 1;
  s->close_cb = cb;
  s->close_arg = arg;
  uv_close((uv_handle_t *)&s->listener, on_listener_closed);
  while (s->conns != NULL)
    conn_close(s->conns);
}
