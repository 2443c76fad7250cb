/* The API's front door: routing of a request to Toxiproxy's endpoints
 * (api_proxies.c) or faultline's own (api_ext.c), the request id, making the
 * server, the config file, closing. It calls the endpoint files; they call
 * back only into the toolbox (api_store.c, api_answer.c, api_json.c), never
 * into this file or each other (but for /reset's api_ext_reset).
 *
 * Routing follows Toxiproxy's gorilla/mux router: a path that matches no
 * route is 404 "404 page not found" (plain text); a path that matches with
 * another method is 405 with an empty body; the middlewares (the request id
 * header, and the 403 for browsers) run only for matched routes. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "faults/api_int.h"
#include "base/alloc.h"
#include "base/prng.h"
#include "base/log.h"

#define MAX_SEGMENTS 8
#define MAX_CONFIG_BYTES (16 * 1024 * 1024)

/* ---- answers ------------------------------------------------------------ */

/* Toxiproxy 2.5+ sets X-Toxiproxy-Request-Id (an rs/xid: 12 bytes of time,
 * machine, pid and counter in base32hex) on every routed request. */
static void request_id(fl_api_t *api, fl_api_res_t *res) {
  static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
  unsigned char id[12];
  uint32_t now = (uint32_t)time(NULL);
  uint32_t pid = (uint32_t)getpid();
  uint32_t n = ++api->xid_counter;
  char out[21];
  id[0] = (unsigned char)(now >> 24);
  id[1] = (unsigned char)(now >> 16);
  id[2] = (unsigned char)(now >> 8);
  id[3] = (unsigned char)now;
  id[4] = (unsigned char)(api->xid_machine >> 16);
  id[5] = (unsigned char)(api->xid_machine >> 8);
  id[6] = (unsigned char)api->xid_machine;
  id[7] = (unsigned char)(pid >> 8);
  id[8] = (unsigned char)pid;
  id[9] = (unsigned char)(n >> 16);
  id[10] = (unsigned char)(n >> 8);
  id[11] = (unsigned char)n;
  /* 96 bits and 4 zero bits, 5 bits a character, most significant first. */
  for (int i = 0; i < 20; i++) {
    int v = 0;
    for (int b = 0; b < 5; b++) {
      int bit = i * 5 + b;
      int set = bit < 96 ? (id[bit / 8] >> (7 - bit % 8)) & 1 : 0;
      v = v << 1 | set;
    }
    out[i] = digits[v];
  }
  out[20] = '\0';
  size_t len = strlen(res->headers);
  snprintf(res->headers + len, sizeof(res->headers) - len,
           "X-Toxiproxy-Request-Id: %s\r\n", out);
}

/* ---- routing ------------------------------------------------------------ */

/* Splits a decoded path "/a/b" into segments (copied into buf). Returns the
 * count, or -1 when it is not of the form routes have: a leading slash, no
 * empty segment, no trailing slash, no NUL. */
static int split_path(const char *path, size_t len, char *buf, size_t bufsize,
                      char **seg) {
  int n = 0;
  if (len == 0 || path[0] != '/' || len >= bufsize || memchr(path, '\0', len) != NULL)
    return -1;
  if (len == 1)
    return 0;
  memcpy(buf, path + 1, len - 1);
  buf[len - 1] = '\0';
  char *p = buf;
  for (;;) {
    char *slash = strchr(p, '/');
    if (slash != NULL)
      *slash = '\0';
    if (*p == '\0' || n == MAX_SEGMENTS)
      return -1;
    seg[n++] = p;
    if (slash == NULL)
      return n;
    p = slash + 1;
  }
}

void fl_api_handle(const fl_api_req_t *req, fl_api_res_t *res, void *arg) {
  fl_api_t *api = arg;
  char buf[2048];
  char *seg[MAX_SEGMENTS];
  int method_ok = 0;
  int found = 0, ext = 0;

  api->requests++;
  int nseg = split_path(req->path, req->path_len, buf, sizeof(buf), seg);
  if (nseg >= 0) {
    found = api_proxies_match(seg, nseg, req->method, &method_ok);
    if (!found) {
      found = api_ext_match(seg, nseg, req->method, &method_ok);
      ext = found;
    }
  }
  if (!found) {
    fl_api_res_text(res, 404, "text/plain; charset=utf-8", "404 page not found\n");
    snprintf(res->headers, sizeof(res->headers), "X-Content-Type-Options: nosniff\r\n");
    return;
  }
  if (!method_ok) {
    api_empty(res, 405);
    res->status = 405;
    return;
  }
  request_id(api, res);
  /* Toxiproxy refuses browsers, so that a web page cannot drive the API of
   * a developer's machine. */
  if (strncmp(req->user_agent, "Mozilla/", 8) == 0) {
    fl_api_res_text(res, 403, "text/plain; charset=utf-8", "User agent not allowed\n");
    size_t len = strlen(res->headers);
    snprintf(res->headers + len, sizeof(res->headers) - len,
             "X-Content-Type-Options: nosniff\r\n");
    return;
  }
  if (ext)
    api_ext_route(api, req->method, seg, nseg, req, res);
  else
    api_proxies_route(api, req->method, seg, nseg, req, res);
}

/* ---- making, config, closing -------------------------------------------- */

int fl_api_new(fl_api_t **out, uv_loop_t *loop, const fl_api_opts_t *opts) {
  fl_api_t *api = fl_calloc(1, sizeof(*api));
  char host[256] = "";
  api->loop = loop;
  uv_timer_init(loop, &api->timer);
  api->timer.data = api;
  if (opts != NULL) {
    api->seed = opts->seed;
    api->seed_given = opts->seed_given;
    api->listen_override = opts->listen_override;
  }
  gethostname(host, sizeof(host) - 1);
  api->xid_machine = (uint32_t)fl_mix64((uint64_t)strlen(host) ^ (uint64_t)host[0] << 8 ^
                                        (uint64_t)(unsigned char)host[1] << 16);
  api->xid_counter = (uint32_t)fl_mix64((uint64_t)time(NULL) ^ (uint64_t)getpid());
  *out = api;
  return 0;
}

int fl_api_listen(fl_api_t *api, const char *addr, const fl_api_limits_t *limits,
                  fl_err_t *err) {
  if (api->httpd != NULL)
    return fl_err_set(err, FL_ECONFIG, "the API already listens on %s",
                      fl_api_httpd_address(api->httpd));
  return fl_api_httpd_new(&api->httpd, api->loop, addr, limits, fl_api_handle, api, err);
}

const char *fl_api_address(const fl_api_t *api) {
  return api->httpd ? fl_api_httpd_address(api->httpd) : NULL;
}

int fl_api_load_config(fl_api_t *api, const char *path, fl_err_t *err) {
  char msg[1024];
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return fl_err_set(err, FL_ECONFIG, "%s: cannot read: %s", path, strerror(errno));
  char *data = fl_malloc(MAX_CONFIG_BYTES + 1);
  size_t n = fread(data, 1, MAX_CONFIG_BYTES + 1, f);
  fclose(f);
  if (n > MAX_CONFIG_BYTES) {
    fl_free(data);
    return fl_err_set(err, FL_ECONFIG, "%s: larger than %d bytes", path,
                      MAX_CONFIG_BYTES);
  }
  json_t *list = api_parse(data, n, msg, sizeof(msg));
  fl_free(data);
  if (list == NULL)
    return fl_err_set(err, FL_ECONFIG, "%s: not JSON: %s", path, msg);
  json_t *made = NULL;
  int status = api_populate(api, list, &made, msg, sizeof(msg));
  json_decref(list);
  json_decref(made);
  if (status >= 300)
    return fl_err_set(err, FL_ECONFIG, "%s: %s", path, msg);
  FL_LOG(FL_LOG_INFO, "api", "%s: %zu proxies", path, api->tcp.n);
  return 0;
}

static void on_timer_closed(uv_handle_t *h) {
  api_part_closed(h->data);
}

void fl_api_close(fl_api_t *api, void (*cb)(void *arg), void *arg) {
  if (api == NULL || api->closing)
    return;
  api->closing = 1;
  api->close_cb = cb;
  api->close_arg = arg;
  /* The timer's close callback comes from the loop, so api outlives this
   * call even when there is nothing else to close. */
  api->closes++;
  uv_close((uv_handle_t *)&api->timer, on_timer_closed);
  if (api->httpd != NULL) {
    api->closes++;
    fl_api_httpd_close(api->httpd, api_part_closed, api);
    api->httpd = NULL;
  }
  while (api->tcp.n > 0) {
    api_proxy_t *ap = api->tcp.items[api->tcp.n - 1];
    api->tcp.n--;
    api_proxy_free(api, ap);
  }
  while (api->udp.n > 0) {
    api_udp_t *au = api->udp.items[api->udp.n - 1];
    api->udp.n--;
    api_udp_free(api, au);
  }
}
