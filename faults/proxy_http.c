/* The HTTP/1.x layer of a proxied connection (see proxy_http.h).
 *
 * Each direction gathers a head (start line and headers) into a buffer,
 * finding its end itself (the first empty line after any leading CR/LF),
 * and hands exactly those bytes to http-parser in one call, so the decision
 * about a message is taken before any byte of it goes on. A body is then fed
 * to the parser in pieces that never cross the end of the message: at most
 * the bytes the parser still expects for a Content-Length body or a chunk's
 * data, one byte at a time through chunked framing (a few bytes per chunk),
 * everything for a body that ends at EOF. Message boundaries are therefore
 * exact whatever way the stream was cut into reads, and body bytes stream on
 * as they come: nothing but a head is ever gathered.
 *
 * Requests and responses are paired in order through a FIFO of the requests
 * whose responses are still to come (pipelining). A request the proxy
 * answers itself (abort) is dropped and its answer takes its place in that
 * FIFO, sent by the response side when every response before it went. */
#include <http_parser.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "faults/proxy_http.h"
#include "faults/toxic.h"
#include "base/alloc.h"
#include "base/buf.h"

#define NS_PER_MS 1000000ull

enum { PH_HEAD = 0, PH_BODY, PH_PASS, PH_DROP };

/* A request whose response is still to come, with what was decided for it. */
typedef struct hreq_s {
  struct hreq_s *next;
  char *method;
  char *target;
  unsigned head : 1;        /* HEAD: the response has no body */
  unsigned connect : 1;     /* CONNECT: a 2xx answer starts a tunnel */
  unsigned aborted : 1;     /* answered by the proxy: `answer` */
  unsigned close_after : 1; /* ... then the connection closes */
  unsigned reset_after : 1; /* reset when the response comes */
  uint64_t delay_ns;        /* hold the response head this long */
  fl_buf_t answer;
  const char *rule;   /* borrowed only while deciding */
  int rw_status;      /* rewrite: 0 keeps */
  json_t *rw_headers; /* rewrite: set these (or NULL) */
  json_t *rw_body;    /* rewrite: a string replaces the body (or NULL) */
} hreq_t;

typedef struct hdir_s {
  http_parser parser;
  int phase;
  fl_chunkq_t in;
  unsigned in_eof : 1;     /* the source ended after `in` */
  unsigned ended : 1;      /* an end was passed on */
  unsigned drop : 1;       /* this message's remaining bytes are dropped */
  unsigned hdr_done : 1;   /* parser callbacks: headers complete */
  unsigned msg_done : 1;   /* ... message complete */
  unsigned in_value : 1;   /* gathering a header value */
  unsigned chunk_data : 1; /* inside a chunk's data */
  unsigned pass_after : 1; /* after this message: pass everything (upgrade) */
  int end_after;           /* FL_END_* to pass on after pend */
  fl_buf_t head;           /* the gathered head, raw */
  size_t scan;             /* where the search for its end goes on */
  fl_buf_t url;            /* request target, or reason phrase */
  fl_buf_t hs;             /* header names and values, NUL-terminated */
  uint32_t off[2 * FL_HTTP_MAX_HEADERS];
  int nh;
  int too_many;
  fl_buf_t pend;       /* decided output, sent when not held */
  uint64_t hold_until; /* a delay: nothing passes before (ns) */
} hdir_t;

struct fl_phttp_s {
  fl_phttp_io_t io;
  http_parser_settings settings;
  hdir_t d[2];
  hreq_t *fifo;
  hreq_t *fifo_tail;
};

static hdir_t *dir_of(http_parser *p) {
  fl_phttp_t *h = p->data;
  return &h->d[p->type == HTTP_REQUEST ? FL_HTTP_REQ : FL_HTTP_RES];
}

/* Parser callbacks: gather the target (or reason) and the headers. */

static int on_begin(http_parser *p) {
  hdir_t *d = dir_of(p);
  fl_buf_reset(&d->url);
  fl_buf_reset(&d->hs);
  d->nh = 0;
  d->too_many = 0;
  d->in_value = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t n) {
  fl_buf_add(&dir_of(p)->url, at, n);
  return 0;
}

static int on_field(http_parser *p, const char *at, size_t n) {
  hdir_t *d = dir_of(p);
  if (d->in_value || d->nh == 0) {
    if (d->nh > 0)
      fl_buf_add(&d->hs, "", 1); /* ends the value */
    if (d->nh == FL_HTTP_MAX_HEADERS) {
      d->too_many = 1;
      return 0;
    }
    d->off[2 * d->nh] = (uint32_t)d->hs.len;
    d->off[2 * d->nh + 1] = UINT32_MAX;
    d->nh++;
    d->in_value = 0;
  }
  if (!d->too_many)
    fl_buf_add(&d->hs, at, n);
  return 0;
}

static int on_value(http_parser *p, const char *at, size_t n) {
  hdir_t *d = dir_of(p);
  if (d->too_many || d->nh == 0)
    return 0;
  if (!d->in_value) {
    fl_buf_add(&d->hs, "", 1); /* ends the name */
    d->off[2 * d->nh - 1] = (uint32_t)d->hs.len;
    d->in_value = 1;
  }
  fl_buf_add(&d->hs, at, n);
  return 0;
}

static int on_headers(http_parser *p) {
  fl_phttp_t *h = p->data;
  hdir_t *d = dir_of(p);
  if (d->nh > 0) {
    if (!d->in_value) { /* a name without a value */
      fl_buf_add(&d->hs, "", 1);
      d->off[2 * d->nh - 1] = (uint32_t)d->hs.len;
    }
    fl_buf_add(&d->hs, "", 1);
  }
  d->hdr_done = 1;
  if (p->type == HTTP_RESPONSE && h->fifo != NULL && p->status_code / 100 != 1) {
    if (h->fifo->head)
      return 1; /* no body follows, whatever the headers say */
    if (h->fifo->connect && p->status_code / 100 == 2)
      return 2; /* a tunnel: what follows is not HTTP */
  }
  return 0;
}

static int on_complete(http_parser *p) {
  dir_of(p)->msg_done = 1;
  return 0;
}

static int on_chunk(http_parser *p) {
  dir_of(p)->chunk_data = p->content_length > 0;
  return 0;
}

/* Making and freeing. */

static void dir_init(fl_phttp_t *h, hdir_t *d, enum http_parser_type type) {
  http_parser_init(&d->parser, type);
  d->parser.data = h;
  fl_buf_init(&d->head, FL_HTTP_HEAD_MAX + 16);
  fl_buf_init(&d->url, FL_HTTP_HEAD_MAX);
  fl_buf_init(&d->hs, FL_HTTP_HEAD_MAX * 2);
  fl_buf_init(&d->pend, FL_HTTP_HEAD_MAX * 4 + FL_HTTP_BODY_MAX);
}

fl_phttp_t *fl_phttp_new(const fl_phttp_io_t *io) {
  fl_phttp_t *h = fl_calloc(1, sizeof(*h));
  h->io = *io;
  h->settings.on_message_begin = on_begin;
  h->settings.on_url = on_url;
  h->settings.on_status = on_url;
  h->settings.on_header_field = on_field;
  h->settings.on_header_value = on_value;
  h->settings.on_headers_complete = on_headers;
  h->settings.on_message_complete = on_complete;
  h->settings.on_chunk_header = on_chunk;
  dir_init(h, &h->d[FL_HTTP_REQ], HTTP_REQUEST);
  dir_init(h, &h->d[FL_HTTP_RES], HTTP_RESPONSE);
  return h;
}

static void req_free(hreq_t *r) {
  fl_free(r->method);
  fl_free(r->target);
  fl_buf_free(&r->answer);
  json_decref(r->rw_headers);
  json_decref(r->rw_body);
  fl_free(r);
}

void fl_phttp_free(fl_phttp_t *h) {
  if (h == NULL)
    return;
  for (int i = 0; i < 2; i++) {
    hdir_t *d = &h->d[i];
    fl_chunkq_clear(&d->in, h->io.pool);
    fl_buf_free(&d->head);
    fl_buf_free(&d->url);
    fl_buf_free(&d->hs);
    fl_buf_free(&d->pend);
  }
  while (h->fifo != NULL) {
    hreq_t *r = h->fifo;
    h->fifo = r->next;
    req_free(r);
  }
  fl_free(h);
}

void fl_phttp_push(fl_phttp_t *h, int dir, fl_chunk_t *c) {
  fl_chunkq_push(&h->d[dir].in, c);
}

void fl_phttp_eof(fl_phttp_t *h, int dir) {
  h->d[dir].in_eof = 1;
}

size_t fl_phttp_held(const fl_phttp_t *h, int dir) {
  return h->d[dir].in.bytes + h->d[dir].head.len + h->d[dir].pend.len;
}

/* Output. */

static void emit_bytes(fl_phttp_t *h, int dir, const char *p, size_t n) {
  while (n > 0) {
    size_t k = n < FL_CHUNK_MAX ? n : FL_CHUNK_MAX;
    fl_chunk_t *c = fl_chunk_copy(h->io.pool, p, k);
    c->flags = 0;
    h->io.emit(h->io.arg, dir, c);
    p += k;
    n -= k;
  }
}

/* Takes the first n bytes off the input's head chunk: passes them on, or
 * drops them. */
static void take(fl_phttp_t *h, int dir, size_t n, int drop) {
  hdir_t *d = &h->d[dir];
  fl_chunk_t *c = d->in.head;
  if (n >= c->len) {
    c = fl_chunkq_pop(&d->in);
    if (drop)
      fl_chunk_free(h->io.pool, c);
    else
      h->io.emit(h->io.arg, dir, c);
    return;
  }
  if (drop) {
    c->off += (uint32_t)n;
    c->len -= (uint32_t)n;
    fl_chunkq_consumed(&d->in, n);
    return;
  }
  fl_chunk_t *piece = fl_chunk_split(h->io.pool, c, n);
  fl_chunkq_consumed(&d->in, n);
  h->io.emit(h->io.arg, dir, piece);
}

/* Heads. */

static const char *hname(const hdir_t *d, int i) {
  return d->hs.data + d->off[2 * i];
}

static const char *hvalue(const hdir_t *d, int i) {
  return d->hs.data + d->off[2 * i + 1];
}

static const char *header(const hdir_t *d, const char *name) {
  for (int i = 0; i < d->nh; i++)
    if (strcasecmp(hname(d, i), name) == 0)
      return hvalue(d, i);
  return NULL;
}

/* Is name among the keys of obj (a header table), without case? */
static int in_table(const json_t *obj, const char *name) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    if (strcasecmp(k, name) == 0)
      return 1;
  }
  return 0;
}

static const char *reason(int status) {
  const char *s = http_status_str((enum http_status)status);
  return s == NULL || s[0] == '<' ? "Fault" : s;
}

static void add_headers(fl_buf_t *b, const json_t *obj, int skip_framing) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    if (skip_framing &&
        (strcasecmp(k, "Content-Length") == 0 || strcasecmp(k, "Transfer-Encoding") == 0))
      continue;
    fl_buf_printf(b, "%s: %s\r\n", k, json_string_value(v));
  }
}

/* The proxy's own answer to a request (abort). */
static void build_answer(fl_buf_t *b, const fl_http_rule_t *r, int head, int close) {
  const char *body = r->body ? json_string_value(r->body) : "";
  size_t blen = r->body ? json_string_length(r->body) : 0;
  fl_buf_init(b, blen + FL_HTTP_HEAD_MAX);
  fl_buf_printf(b, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n", r->status,
                reason(r->status), blen);
  if (r->headers != NULL)
    add_headers(b, r->headers, 1);
  fl_buf_printf(b, "X-Faultline-Fault: %s\r\n", r->name);
  if (close)
    fl_buf_puts(b, "Connection: close\r\n");
  fl_buf_puts(b, "\r\n");
  if (!head)
    fl_buf_add(b, body, blen);
}

/* The first rule of direction `dir` that matches and fires, or NULL. */
static fl_http_rule_t *decide(fl_phttp_t *h, int dir, const fl_http_head_t *view) {
  for (fl_http_rule_t *r = *h->io.rules; r != NULL; r = r->next) {
    if (r->direction != dir || !fl_http_rule_matches(r, view))
      continue;
    if (fl_http_rule_fire(r))
      return r;
  }
  return NULL;
}

static void view_of(const hdir_t *d, fl_http_head_t *v, const char **names,
                    const char **values, const char *method, const char *target) {
  for (int i = 0; i < d->nh; i++) {
    names[i] = hname(d, i);
    values[i] = hvalue(d, i);
  }
  v->method = method;
  v->target = target;
  v->nheaders = (size_t)d->nh;
  v->name = names;
  v->value = values;
}

static void fifo_push(fl_phttp_t *h, hreq_t *r) {
  if (h->fifo_tail != NULL)
    h->fifo_tail->next = r;
  else
    h->fifo = r;
  h->fifo_tail = r;
}

static hreq_t *fifo_pop(fl_phttp_t *h) {
  hreq_t *r = h->fifo;
  if (r != NULL) {
    h->fifo = r->next;
    if (h->fifo == NULL)
      h->fifo_tail = NULL;
    r->next = NULL;
  }
  return r;
}

/* A request head was parsed: decide and act. */
static void request_head(fl_phttp_t *h, uint64_t now) {
  hdir_t *d = &h->d[FL_HTTP_REQ];
  const char *names[FL_HTTP_MAX_HEADERS], *values[FL_HTTP_MAX_HEADERS];
  fl_http_head_t view;
  hreq_t *q = fl_calloc(1, sizeof(*q));
  h->io.stats->http_parsed++;
  q->method = fl_strdup(http_method_str((enum http_method)d->parser.method));
  q->target = fl_strdup(fl_buf_str(&d->url));
  q->head = d->parser.method == HTTP_HEAD;
  q->connect = d->parser.method == HTTP_CONNECT;
  if (d->parser.upgrade)
    d->pass_after = 1; /* the rest is another protocol (or a tunnel) */
  view_of(d, &view, names, values, q->method, q->target);
  fl_http_rule_t *r = decide(h, FL_UPSTREAM, &view);
  int forward = 1;
  if (r != NULL) {
    switch (r->action) {
    case FL_HTTP_ABORT: {
      const char *expect = header(d, "Expect");
      int has_body = !d->msg_done;
      /* A client that waits for 100 Continue did not send its body: after a
       * final answer it may send it or not, so the connection cannot be
       * reused. So for HTTP/1.0 without keep-alive, Connection: close, and
       * an upgrade. */
      int close = !http_should_keep_alive(&d->parser) || d->parser.upgrade ||
                  (has_body && expect != NULL && strcasecmp(expect, "100-continue") == 0);
      build_answer(&q->answer, r, q->head, close);
      q->aborted = 1;
      q->close_after = (unsigned)close;
      forward = 0;
      d->drop = 1;
      if (close)
        d->phase = PH_DROP; /* nothing after it is read for the upstream */
      break;
    }
    case FL_HTTP_RESET:
      if (!r->reset_after) {
        req_free(q);
        d->phase = PH_DROP;
        h->io.reset(h->io.arg);
        return;
      }
      q->reset_after = 1;
      break;
    case FL_HTTP_DELAY:
      if (r->delay_request_ms > 0)
        d->hold_until = now + r->delay_request_ms * NS_PER_MS;
      q->delay_ns = r->delay_response_ms * NS_PER_MS;
      break;
    default: /* FL_HTTP_REWRITE */
      q->rw_status = r->status;
      q->rw_headers = r->headers ? json_incref(r->headers) : NULL;
      q->rw_body = r->body ? json_incref(r->body) : NULL;
      break;
    }
  }
  if (forward)
    fl_buf_add(&d->pend, d->head.data, d->head.len);
  fifo_push(h, q);
  if (q->aborted)
    h->io.kick(h->io.arg, FL_HTTP_RES);
}

/* The head of a rewritten response (and its new body, when it has one). */
static void build_rewrite(hdir_t *d, const hreq_t *q, int status, const json_t *headers,
                          const json_t *body) {
  fl_buf_t *b = &d->pend;
  int orig = d->parser.status_code;
  fl_buf_printf(b, "HTTP/%u.%u %d %s\r\n", d->parser.http_major, d->parser.http_minor,
                status, status == orig ? fl_buf_str(&d->url) : reason(status));
  for (int i = 0; i < d->nh; i++) {
    const char *n = hname(d, i);
    if (headers != NULL && in_table(headers, n))
      continue;
    if (body != NULL &&
        (strcasecmp(n, "Content-Length") == 0 || strcasecmp(n, "Transfer-Encoding") == 0))
      continue;
    fl_buf_printf(b, "%s: %s\r\n", n, hvalue(d, i));
  }
  if (headers != NULL)
    add_headers(b, headers, body != NULL);
  int bodyless = (q != NULL && q->head) || status == 204 || status == 304 ||
                 orig == 204 || orig == 304;
  if (body != NULL) {
    fl_buf_printf(b, "Content-Length: %zu\r\n\r\n", json_string_length(body));
    if (!bodyless)
      fl_buf_add(b, json_string_value(body), json_string_length(body));
    d->drop = 1; /* the upstream's body goes nowhere */
    return;
  }
  fl_buf_puts(b, "\r\n");
}

/* A response head was parsed: pair it with its request, decide and act. */
static void response_head(fl_phttp_t *h, uint64_t now) {
  hdir_t *d = &h->d[FL_HTTP_RES];
  int status = d->parser.status_code;
  if (status / 100 == 1 && status != 101) { /* 100 Continue and the like */
    fl_buf_add(&d->pend, d->head.data, d->head.len);
    return;
  }
  hreq_t *q = fifo_pop(h);
  const char *names[FL_HTTP_MAX_HEADERS], *values[FL_HTTP_MAX_HEADERS];
  fl_http_head_t view;
  view_of(d, &view, names, values, q ? q->method : NULL, q ? q->target : NULL);
  fl_http_rule_t *r = decide(h, FL_DOWNSTREAM, &view);
  if ((q != NULL && q->reset_after) || (r != NULL && r->action == FL_HTTP_RESET)) {
    if (q != NULL)
      req_free(q);
    d->phase = PH_DROP;
    h->io.reset(h->io.arg);
    return;
  }
  uint64_t delay = q ? q->delay_ns : 0;
  if (r != NULL && r->action == FL_HTTP_DELAY && r->delay_response_ms * NS_PER_MS > delay)
    delay = r->delay_response_ms * NS_PER_MS;
  if (delay > 0)
    d->hold_until = now + delay;
  if (r != NULL && r->action == FL_HTTP_ABORT) {
    fl_buf_t a;
    build_answer(&a, r, q && q->head, !http_should_keep_alive(&d->parser));
    fl_buf_add(&d->pend, a.data, a.len);
    fl_buf_free(&a);
    d->drop = 1;
  } else if (r != NULL && r->action == FL_HTTP_REWRITE) {
    build_rewrite(d, q, r->status ? r->status : status, r->headers, r->body);
  } else if (q != NULL && (q->rw_status || q->rw_headers || q->rw_body)) {
    build_rewrite(d, q, q->rw_status ? q->rw_status : status, q->rw_headers, q->rw_body);
  } else {
    fl_buf_add(&d->pend, d->head.data, d->head.len);
  }
  if (d->parser.upgrade || (q != NULL && q->connect && status / 100 == 2))
    d->pass_after = 1;
  if (q != NULL)
    req_free(q);
}

/* The parser rejected a stream: from here on both directions pass bytes
 * through unchanged, each after what it already decided. */
static void reject(fl_phttp_t *h, int dir) {
  h->io.stats->http_rejected++;
  for (int i = 0; i < 2; i++) {
    hdir_t *d = &h->d[i];
    if (d->phase == PH_DROP)
      continue;
    if ((d->phase == PH_HEAD || i == dir) && d->head.len > 0)
      fl_buf_add(&d->pend, d->head.data, d->head.len);
    fl_buf_reset(&d->head);
    d->phase = PH_PASS;
    d->drop = 0;
  }
}

/* Where the gathered head ends (exclusive), or 0 while it does not. */
static size_t head_end(hdir_t *d) {
  const char *s = d->head.data;
  size_t len = d->head.len, i = 0;
  while (i < len && (s[i] == '\r' || s[i] == '\n'))
    i++; /* CR/LF between messages, which parsers skip */
  if (i == len)
    return 0;
  if (d->scan > i)
    i = d->scan;
  for (; i < len; i++) {
    if (s[i] != '\n')
      continue;
    if (i + 1 < len && s[i + 1] == '\n')
      return i + 2;
    if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n')
      return i + 3;
    if (i + 2 >= len)
      break;
  }
  d->scan = i;
  return 0;
}

/* A message ended: ready for the next one. */
static void message_done(hdir_t *d) {
  d->msg_done = 0;
  d->hdr_done = 0;
  d->drop = 0;
  d->chunk_data = 0;
  if (d->pass_after && d->phase != PH_DROP)
    d->phase = PH_PASS;
  else if (d->phase == PH_BODY)
    d->phase = PH_HEAD;
}

/* Gathers the head from the input's first chunk; parses and decides when it
 * is whole. */
static void take_head(fl_phttp_t *h, int dir, uint64_t now) {
  hdir_t *d = &h->d[dir];
  fl_chunk_t *c = d->in.head;
  size_t before = d->head.len;
  size_t n = c->len;
  if (before + n > FL_HTTP_HEAD_MAX)
    n = FL_HTTP_HEAD_MAX - before;
  fl_buf_add(&d->head, c->data + c->off, n);
  size_t end = head_end(d);
  if (end == 0) {
    take(h, dir, n, 1);
    if (d->head.len >= FL_HTTP_HEAD_MAX)
      reject(h, dir);
    return;
  }
  take(h, dir, end - before, 1);
  d->head.len = end;
  d->scan = 0;
  size_t used = http_parser_execute(&d->parser, &h->settings, d->head.data, end);
  if (HTTP_PARSER_ERRNO(&d->parser) != HPE_OK || !d->hdr_done || d->too_many ||
      (used != end && !d->parser.upgrade)) {
    reject(h, dir);
    return;
  }
  d->phase = PH_BODY;
  if (dir == FL_HTTP_REQ)
    request_head(h, now);
  else
    response_head(h, now);
  fl_buf_reset(&d->head);
  if (d->msg_done)
    message_done(d);
}

/* Feeds body bytes from the input's first chunk, never past the message. */
static void take_body(fl_phttp_t *h, int dir) {
  hdir_t *d = &h->d[dir];
  http_parser *p = &d->parser;
  fl_chunk_t *c = d->in.head;
  size_t n = c->len;
  if (p->flags & F_CHUNKED) {
    if (!d->chunk_data)
      n = 1;
    else if (p->content_length < n)
      n = (size_t)p->content_length;
  } else if (p->content_length != ULLONG_MAX && p->content_length < n) {
    n = (size_t)p->content_length;
  }
  size_t used = http_parser_execute(p, &h->settings, c->data + c->off, n);
  if (HTTP_PARSER_ERRNO(p) != HPE_OK || used != n) {
    reject(h, dir);
    return;
  }
  if ((p->flags & F_CHUNKED) && d->chunk_data && p->content_length == 0)
    d->chunk_data = 0;
  take(h, dir, n, d->drop);
  if (d->msg_done)
    message_done(d);
}

/* The response side, between responses: sends the proxy's answers that are
 * next in line. Returns 1 when it sent one. */
static int send_answers(fl_phttp_t *h) {
  hdir_t *d = &h->d[FL_HTTP_RES];
  int sent = 0;
  while (d->phase == PH_HEAD && d->head.len == 0 && h->fifo != NULL && h->fifo->aborted &&
         d->end_after == 0) {
    hreq_t *q = fifo_pop(h);
    fl_buf_add(&d->pend, q->answer.data, q->answer.len);
    if (q->close_after)
      d->end_after = FL_END_CLOSE;
    req_free(q);
    sent = 1;
  }
  return sent;
}

static void flush_pend(fl_phttp_t *h, int dir) {
  hdir_t *d = &h->d[dir];
  if (d->pend.len > 0) {
    emit_bytes(h, dir, d->pend.data, d->pend.len);
    fl_buf_reset(&d->pend);
  }
  if (d->end_after != 0 && !d->ended) {
    h->io.end(h->io.arg, dir, d->end_after);
    d->ended = 1;
    d->phase = PH_DROP;
  }
}

/* The source ended: an EOF-delimited body completes; an unfinished head
 * goes on as it is; then the end. */
static void at_eof(fl_phttp_t *h, int dir) {
  hdir_t *d = &h->d[dir];
  if (d->phase == PH_BODY)
    http_parser_execute(&d->parser, &h->settings, NULL, 0);
  if (d->head.len > 0 && d->phase != PH_DROP)
    emit_bytes(h, dir, d->head.data, d->head.len);
  fl_buf_reset(&d->head);
  if (!d->ended) {
    h->io.end(h->io.arg, dir, FL_END_EOF);
    d->ended = 1;
  }
}

uint64_t fl_phttp_run(fl_phttp_t *h, int dir, uint64_t now) {
  hdir_t *d = &h->d[dir];
  for (;;) {
    if (d->hold_until > now)
      return d->hold_until;
    d->hold_until = 0;
    flush_pend(h, dir);
    if (d->ended)
      break;
    if (dir == FL_HTTP_RES && send_answers(h))
      continue;
    if (d->in.head == NULL)
      break;
    switch (d->phase) {
    case PH_PASS:
      take(h, dir, d->in.head->len, 0);
      break;
    case PH_DROP:
      take(h, dir, d->in.head->len, 1);
      break;
    case PH_HEAD:
      take_head(h, dir, now);
      break;
    default:
      take_body(h, dir);
      break;
    }
  }
  if (d->ended) {
    fl_chunkq_clear(&d->in, h->io.pool);
    return 0;
  }
  if (d->in_eof && d->in.head == NULL)
    at_eof(h, dir);
  return 0;
}
