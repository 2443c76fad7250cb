/* Internals shared by the API's files. Calls go one way:
 *
 *   toxiproxy_api.c  (front door: routing, request ids, config, closing)
 *     -> api_proxies.c  (Toxiproxy's endpoints)  -> api_ext.c (only api_ext_reset)
 *     -> api_ext.c      (faultline's extensions) -> api_http_faults.c
 *   every one of them -> the toolbox: api_store.c (lists, freeing entries),
 *                        api_answer.c (answers), api_json.c (JSON as Go),
 *                        api_http.c (the HTTP server)
 *
 * The toolbox calls no file above it. */
#ifndef FL_API_INT_H
#define FL_API_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "faults/api_http.h"
#include "faults/proxy.h"
#include "faults/toxiproxy_api.h"
#include "faults/udp_proxy.h"

/* A TCP proxy as Toxiproxy sees it. */
typedef struct api_proxy_s {
  char *name;
  fl_proxy_t *p;
  /* Toxiproxy's "listen": the address asked for until the proxy listens,
   * then the one bound (with the real port). */
  char *listen;
  int listen_applied; /* p has been given `listen` (fl_proxy_set_listen) */
  char *from, *to;    /* the link it stands for, or NULL */
} api_proxy_t;

typedef struct api_udp_s {
  char *name;
  fl_udp_proxy_t *u;
  char *from, *to;
} api_udp_t;

/* A list of entries sorted by name (the first member of each entry). */
typedef struct api_list_s {
  void **items;
  size_t n, cap;
} api_list_t;

struct fl_api_s {
  uv_loop_t *loop;
  uv_timer_t timer; /* no timeouts: it defers the close callback */
  fl_api_httpd_t *httpd;
  api_list_t tcp; /* api_proxy_t */
  api_list_t udp; /* api_udp_t */
  uint64_t seed;
  int seed_given;
  const char *listen_override;
  uint64_t requests;
  uint32_t xid_counter;
  uint32_t xid_machine;
  int closes; /* proxies and the server still closing */
  int closing;
  void (*close_cb)(void *);
  void *close_arg;
};

/* ---- api_store.c: lists and entries ------------------------------------- */

void *api_list_find(const api_list_t *l, const char *name);
void api_list_insert(api_list_t *l, void *item);
void api_list_remove(api_list_t *l, const void *item);
void api_list_free(api_list_t *l);
/* Closing a proxy the API let go of; counted in api->closes until its close
 * callback (api_part_closed). */
void api_proxy_free(fl_api_t *api, api_proxy_t *ap);
void api_udp_free(fl_api_t *api, api_udp_t *au);
/* One part of the API has closed (a proxy, the server, the timer); when the
 * API is closing and it was the last, frees the API and calls its close
 * callback. arg is the fl_api_t. */
void api_part_closed(void *arg);

/* ---- api_answer.c: answers --------------------------------------------- */

/* A JSON answer (v stolen), Content-Type application/json. */
void api_json(fl_api_res_t *res, int status, json_t *v);
/* Toxiproxy's apiError: {"error": msg, "status": status} and a newline, sent
 * as text/plain by Go's http.Error (which overrides the JSON content type
 * Toxiproxy sets first). */
void api_error(fl_api_res_t *res, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An empty answer (204). */
void api_empty(fl_api_res_t *res, int status);

/* ---- api_json.c: JSON as Go reads and writes it ------------------------- */

/* Parses a request body as Go's json.Decoder does (the first value; what
 * follows is ignored). Returns new, or NULL with Go's wording in err. */
json_t *api_parse(const char *body, size_t len, char *err, size_t errsize);
/* The member named key: an exact match first, then one that differs only
 * in case, as encoding/json matches struct fields. Borrowed; NULL if none
 * (or JSON null, which leaves a Go field unchanged). */
json_t *api_get(const json_t *obj, const char *key);
/* Reads a string/bool/number member into *out when present; a value of
 * another type is an error worded as Go's ("json: cannot unmarshal number
 * into Go struct field Proxy.name of type string"). Returns 0 or -1. */
int api_get_str(const json_t *obj, const char *key, const char *gotype, const char **out,
                char *err, size_t errsize);
int api_get_bool(const json_t *obj, const char *key, const char *gotype, int *out,
                 char *err, size_t errsize);
int api_get_float32(const json_t *obj, const char *key, const char *gotype, double *out,
                    char *err, size_t errsize);
/* "json: cannot unmarshal <kind> into Go value of type <gotype>" */
void api_type_error(const json_t *v, const char *gotype, char *err, size_t errsize);
/* A float32 as Go prints it (shortest form): JSON integer when whole. */
json_t *api_float32(double x);
/* Serializes v compactly, escaping <, >, & and U+2028/9 as Go does.
 * Returns new (fl_free); *len set. */
char *api_dump(const json_t *v, size_t *len);

/* ---- api_proxies.c: Toxiproxy's objects and endpoints --------------------- */

/* Returns new: a proxy as Toxiproxy prints it. */
json_t *api_proxy_json(const api_proxy_t *ap);
/* Returns new: the toxics in Toxiproxy's order (upstream ones, then
 * downstream ones, each in the order added). */
json_t *api_toxics_json(const fl_proxy_t *p);
/* Returns new: one toxic with Toxiproxy's field order. */
json_t *api_toxic_json(const json_t *t);

/* Creates the proxies of a Toxiproxy populate list (the body of POST
 * /populate and the config file). Returns the HTTP status (201 or an
 * error's) and new: the list of proxies made or kept, or NULL (Go's nil);
 * the error message in err. */
int api_populate(fl_api_t *api, const json_t *list, json_t **proxies, char *err,
                 size_t errsize);

/* Endpoints. path segments after the prefix are in seg[]. */
void api_proxies_route(fl_api_t *api, const char *method, char **seg, int nseg,
                       const fl_api_req_t *req, fl_api_res_t *res);
/* Returns 1 if the route exists, 0 if not; sets *method_ok. */
int api_proxies_match(char **seg, int nseg, const char *method, int *method_ok);
/* Enables a proxy as Toxiproxy's Start does: 0, or the HTTP status of the
 * error (500, with Go's wording in err). */
int api_proxy_start(fl_api_t *api, api_proxy_t *ap, char *err, size_t errsize);

/* ---- api_ext.c: faultline's extensions ----------------------------------- */

int api_ext_match(char **seg, int nseg, const char *method, int *method_ok);
void api_ext_route(fl_api_t *api, const char *method, char **seg, int nseg,
                   const fl_api_req_t *req, fl_api_res_t *res);
/* Heals every partition and clears UDP faults (part of /reset). */
void api_ext_reset(fl_api_t *api);

/* ---- api_http_faults.c: HTTP fault rules (called by api_ext.c) ----------- */

int api_httpf_match(char **seg, int nseg, const char *method, int *method_ok);
void api_httpf_route(fl_api_t *api, const char *method, char **seg, int nseg,
                     const fl_api_req_t *req, fl_api_res_t *res);
/* Removes every proxy's HTTP fault rules (part of /reset). */
void api_httpf_reset(fl_api_t *api);

#endif
