#include "harness/http.h"

#include <curl/curl.h>
#include <string.h>

#include "base/alloc.h"

struct fl_http_s {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  int closing;
  fl_http_req_t *reqs; /* every pending request, for fl_http_free */
};

/* One uv_poll per socket curl is interested in. */
typedef struct {
  uv_poll_t poll;
  curl_socket_t fd;
  fl_http_t *h;
} sock_ctx_t;

struct fl_http_req_s {
  fl_http_t *h;
  CURL *easy;
  struct curl_slist *headers;
  char *body_in;
  char *buf; /* response body */
  size_t len, cap, max;
  char *hdr;
  size_t hlen, hcap;
  int too_big;
  int maybe_sent; /* a byte of the request was written to a socket */
  fl_http_cb cb;
  void *arg;
  fl_http_req_t *next, *prev;
};

static void check_done(fl_http_t *h);

static size_t append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t c = *cap ? *cap : 1024;
    while (c < *len + n + 1)
      c *= 2;
    *buf = fl_realloc(*buf, c);
    *cap = c;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = '\0';
  return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp) {
  fl_http_req_t *r = userp;
  size_t n = size * nmemb;
  if (r->len + n > r->max) {
    r->too_big = 1;
    return 0; /* makes curl abort the transfer */
  }
  return append(&r->buf, &r->len, &r->cap, data, n);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp) {
  fl_http_req_t *r = userp;
  size_t n = size * nmemb;
  if (r->hlen + n > 64 * 1024)
    return n; /* keep the first 64 KiB of headers, ignore the rest */
  return append(&r->hdr, &r->hlen, &r->hcap, data, n);
}

/* libcurl reports through its debug callback, after each write to a socket,
 * the header and body bytes it wrote (HEADER_OUT, DATA_OUT; SSL_DATA_OUT for
 * TLS records). It is the one place that sees every attempt of a transfer,
 * the silent retry on a fresh connection included, and it runs only for
 * bytes a send() accepted: a refused or failed connect never gets here. */
static int on_debug(CURL *easy, curl_infotype type, char *data, size_t size,
                    void *userp) {
  fl_http_req_t *r = userp;
  (void)easy;
  (void)data;
  if (size > 0 && (type == CURLINFO_HEADER_OUT || type == CURLINFO_DATA_OUT ||
                   type == CURLINFO_SSL_DATA_OUT))
    r->maybe_sent = 1;
  return 0;
}

static void req_unlink(fl_http_req_t *r) {
  if (r->prev != NULL)
    r->prev->next = r->next;
  else
    r->h->reqs = r->next;
  if (r->next != NULL)
    r->next->prev = r->prev;
  r->next = r->prev = NULL;
}

/* Frees a request that is no longer listed. */
static void req_free(fl_http_req_t *r) {
  curl_slist_free_all(r->headers);
  fl_free(r->body_in);
  fl_free(r->buf);
  fl_free(r->hdr);
  fl_free(r);
}

static int curl_to_uv(CURLcode c) {
  switch (c) {
  case CURLE_OPERATION_TIMEDOUT:
    return UV_ETIMEDOUT;
  case CURLE_COULDNT_CONNECT:
    return UV_ECONNREFUSED;
  case CURLE_COULDNT_RESOLVE_HOST:
    return UV_EAI_NONAME;
  case CURLE_GOT_NOTHING:
  case CURLE_RECV_ERROR:
    return UV_ECONNRESET;
  case CURLE_SEND_ERROR:
    return UV_EPIPE;
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
    return UV_EINVAL;
  default:
    return UV_EIO;
  }
}

static void check_done(fl_http_t *h) {
  CURLMsg *msg;
  int pending;
  while ((msg = curl_multi_info_read(h->multi, &pending)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *easy = msg->easy_handle;
    CURLcode rc = msg->data.result;
    fl_http_req_t *r = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    fl_http_resp_t resp = {0};
    if (rc != CURLE_OK) {
      resp.status = r->too_big ? UV_E2BIG : curl_to_uv(rc);
      resp.error = r->too_big ? "response body too large" : curl_easy_strerror(rc);
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &resp.code);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME, &resp.elapsed_s);
    /* The request size counts what libcurl issued: a second witness that
     * can only make the answer more cautious. */
    long issued = 0;
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &issued);
    resp.maybe_sent = r->maybe_sent || issued > 0;
    resp.body = r->buf ? r->buf : "";
    resp.body_len = r->len;
    resp.headers = r->hdr ? r->hdr : "";
    resp.headers_len = r->hlen;
    curl_multi_remove_handle(h->multi, easy);
    curl_easy_cleanup(easy);
    /* Off the list before the callback: it may free the client, which
     * cancels (and frees) every request still listed. */
    req_unlink(r);
    r->cb(&resp, r->arg);
    req_free(r);
    /* The callback freed the client: its multi handle is gone, and the
     * transfers that were still done will never report. */
    if (h->closing)
      return;
  }
}

static void poll_close_cb(uv_handle_t *handle) {
  fl_free(fl_container_of(handle, sock_ctx_t, poll));
}

static void on_poll(uv_poll_t *p, int status, int events) {
  sock_ctx_t *ctx = fl_container_of(p, sock_ctx_t, poll);
  int flags = 0;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  int running;
  fl_http_t *h = ctx->h;
  curl_multi_socket_action(h->multi, ctx->fd, flags, &running);
  check_done(h);
}

static int on_socket(CURL *easy, curl_socket_t s, int action, void *userp,
                     void *socketp) {
  fl_http_t *h = userp;
  sock_ctx_t *ctx = socketp;
  if (action == CURL_POLL_REMOVE) {
    if (ctx != NULL) {
      uv_poll_stop(&ctx->poll);
      curl_multi_assign(h->multi, s, NULL);
      uv_close((uv_handle_t *)&ctx->poll, poll_close_cb);
    }
    return 0;
  }
  if (ctx == NULL) {
    ctx = fl_calloc(1, sizeof(*ctx));
    ctx->fd = s;
    ctx->h = h;
    uv_poll_init_socket(h->loop, &ctx->poll, s);
    curl_multi_assign(h->multi, s, ctx);
  }
  int events = 0;
  if (action != CURL_POLL_OUT)
    events |= UV_READABLE;
  if (action != CURL_POLL_IN)
    events |= UV_WRITABLE;
  uv_poll_start(&ctx->poll, events, on_poll);
  return 0;
}

static void on_timeout(uv_timer_t *t) {
  fl_http_t *h = fl_container_of(t, fl_http_t, timer);
  int running;
  curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(h);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp) {
  fl_http_t *h = userp;
  if (timeout_ms < 0)
    uv_timer_stop(&h->timer);
  else
    uv_timer_start(&h->timer, on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

int fl_http_new(fl_http_t **out, uv_loop_t *loop) {
  static int global_done;
  if (!global_done) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    global_done = 1;
  }
  fl_http_t *h = fl_calloc(1, sizeof(*h));
  h->loop = loop;
  h->multi = curl_multi_init();
  uv_timer_init(loop, &h->timer);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 512L);
  *out = h;
  return 0;
}

static void timer_close_cb(uv_handle_t *handle) {
  fl_http_t *h = fl_container_of(handle, fl_http_t, timer);
  fl_free(h);
}

void fl_http_free(fl_http_t *h) {
  if (h == NULL)
    return;
  h->closing = 1;
  /* Remove every transfer; curl's socket callback closes our polls. */
  while (h->reqs != NULL)
    fl_http_cancel(h->reqs);
  curl_multi_cleanup(h->multi);
  uv_close((uv_handle_t *)&h->timer, timer_close_cb);
}

int fl_http_request(fl_http_t *h, const fl_http_opts_t *o, fl_http_cb cb, void *arg,
                    fl_http_req_t **out_req) {
  if (h->closing)
    return UV_ECANCELED;
  fl_http_req_t *r = fl_calloc(1, sizeof(*r));
  r->h = h;
  r->cb = cb;
  r->arg = arg;
  r->max = o->max_body ? o->max_body : 16u << 20;
  CURL *e = curl_easy_init();
  r->easy = e;
  curl_easy_setopt(e, CURLOPT_URL, o->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  /* VERBOSE makes libcurl call the debug callback (which then replaces its
   * printing to stderr): on_debug learns from it what reached a socket. */
  curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
  curl_easy_setopt(e, CURLOPT_DEBUGDATA, r);
  curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : 10000L);
  /* No proxy from the environment: faultline talks to loopback services. */
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  const char *method = o->method ? o->method : "GET";
  if (strcmp(method, "GET") != 0)
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0)
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  if (o->body != NULL) {
    r->body_in = fl_strndup(o->body, o->body_len);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body_in);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
  }
  /* Keep requests plain: no "Expect: 100-continue" round trip. */
  r->headers = curl_slist_append(r->headers, "Expect:");
  for (const char *const *hd = o->headers; hd != NULL && *hd != NULL; hd++)
    r->headers = curl_slist_append(r->headers, *hd);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  r->next = h->reqs;
  if (h->reqs != NULL)
    h->reqs->prev = r;
  h->reqs = r;
  CURLMcode mc = curl_multi_add_handle(h->multi, e);
  if (mc != CURLM_OK) {
    curl_easy_cleanup(e);
    req_unlink(r);
    req_free(r);
    return UV_EIO;
  }
  if (out_req != NULL)
    *out_req = r;
  return 0;
}

void fl_http_cancel(fl_http_req_t *r) {
  if (r == NULL)
    return;
  curl_multi_remove_handle(r->h->multi, r->easy);
  curl_easy_cleanup(r->easy);
  req_unlink(r);
  req_free(r);
}
