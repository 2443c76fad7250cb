/* Readiness probes: is a service up yet? A TCP connect, an HTTP status 2xx,
 * a log line matching a pattern, or a command exiting 0, tried every
 * `every_ms` until `timeout_ms`. A probe on a service fails at once when the
 * service exits before it is ready. */
#ifndef FL_PROBE_H
#define FL_PROBE_H

#include <regex.h>
#include <uv.h>

#include "base/error.h"
#include "harness/http.h"
#include "harness/service.h"

typedef enum { FL_PROBE_TCP, FL_PROBE_HTTP, FL_PROBE_LOG, FL_PROBE_CMD } fl_probe_kind_t;

typedef struct fl_probe_spec_s {
  fl_probe_kind_t kind;
  const char *target;      /* tcp: "host:port"; http: URL; log: POSIX ERE */
  const char *const *argv; /* cmd: NULL-terminated */
  int timeout_ms;          /* 0 = 30000 */
  int every_ms;            /* 0 = 100 */
} fl_probe_spec_t;

typedef struct fl_probe_s fl_probe_t;

/* status: 0 ready; FL_ENOTREADY with msg saying why (the last attempt's
 * error, or how the service exited). msg is borrowed. */
typedef void (*fl_probe_cb)(int status, const char *msg, void *arg);

/* Starts probing. svc may be NULL (a probe of something else). cb runs once,
 * from the loop, never before this returns, unless canceled. */
int fl_probe_start(fl_probe_t **out, uv_loop_t *loop, fl_http_t *http, fl_svc_t *svc,
                   const fl_probe_spec_t *spec, fl_probe_cb cb, void *arg, fl_err_t *err);
/* Stops a probe: cb will not run. The probe frees itself. */
void fl_probe_cancel(fl_probe_t *p);
/* "tcp 127.0.0.1:7000" etc.: borrowed, for messages. */
const char *fl_probe_describe(const fl_probe_t *p);

/* Parses "host:port" (IPv4 or [IPv6]) into addr. */
int fl_parse_addr(const char *s, struct sockaddr_storage *addr, fl_err_t *err);

#endif
