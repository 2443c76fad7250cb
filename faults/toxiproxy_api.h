/* The fault proxy's HTTP API: Toxiproxy 2.x's endpoints, status codes,
 * error strings and JSON shapes over the TCP proxy of faults/proxy.h, plus
 * faultline's own extensions under /faultline/ and /metrics (UDP proxies,
 * partitions, Prometheus metrics). faults/PROXY_API.md documents it for
 * users; `faultline proxy` (harness/cmd_proxy.c) runs it.
 *
 * Everything runs on the caller's loop, in its thread; no call blocks. The
 * API owns every proxy made through it. */
#ifndef FL_TOXIPROXY_API_H
#define FL_TOXIPROXY_API_H

#include <stdint.h>
#include <uv.h>

#include "faults/api_http.h"
#include "base/error.h"

/* The version /version reports: the Toxiproxy release whose API this one
 * follows (clients use it to tell the 2.x API from 1.x). */
#define FL_API_TOXIPROXY_VERSION "2.12.0"

typedef struct fl_api_s fl_api_t;

typedef struct fl_api_opts_s {
  uint64_t seed;  /* with seed_given: every proxy's randomness derives from */
  int seed_given; /* the seed and the proxy's name */
  /* When not NULL, every proxy listens here ("127.0.0.1:0") whatever it
   * asks for: for the fuzzer, which must not bind the addresses it makes up. */
  const char *listen_override;
} fl_api_opts_t;

/* Returns 0 and a new API in *out (no HTTP listener yet: see fl_api_listen;
 * requests can be answered with fl_api_handle). opts may be NULL. */
int fl_api_new(fl_api_t **out, uv_loop_t *loop, const fl_api_opts_t *opts);

/* Serves the API over HTTP on addr ("127.0.0.1:8474"; port 0 = any).
 * limits may be NULL (fl_api_limits_default). UV_EADDRINUSE or FL_ECONFIG
 * with a message naming the address. */
int fl_api_listen(fl_api_t *api, const char *addr, const fl_api_limits_t *limits,
                  fl_err_t *err);
/* The HTTP address bound, "127.0.0.1:8474" (borrowed), or NULL. */
const char *fl_api_address(const fl_api_t *api);

/* Creates the proxies of a Toxiproxy config file: a JSON list of
 * {"name", "listen", "upstream", "enabled"}, where each entry may also hold
 * "toxics" (a list of toxics, applied before the proxy takes a connection)
 * and "from"/"to" (the link it stands for, for partitions). Errors are
 * FL_ECONFIG (or the bind error) naming the file and the entry; proxies
 * made before an error stay. */
int fl_api_load_config(fl_api_t *api, const char *path, fl_err_t *err);

/* Answers one request (an fl_api_handler_cb; arg is the API). */
void fl_api_handle(const fl_api_req_t *req, fl_api_res_t *res, void *arg);

/* Closes the HTTP server and every proxy; frees api in the last close
 * callback and then calls cb(arg) (may be NULL), never before this
 * returns. */
void fl_api_close(fl_api_t *api, void (*cb)(void *arg), void *arg);

#endif
