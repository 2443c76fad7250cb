/* HTTP fault rules of a proxy: what a rule matches (method, a glob on the
 * request target, headers), what it does (abort, reset, delay, rewrite), how
 * often (percent, first N) and its counters. Parsing from and printing to
 * the JSON shape that Lua's p:add_http_fault{} and the API's
 * /faultline/proxies/{name}/http_faults share (faults/PROXY_API.md).
 * Internal to faults/; the engine that applies rules is proxy_http.c. */
#ifndef FL_HTTP_RULE_H
#define FL_HTTP_RULE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/prng.h"

/* Largest body an abort or rewrite may carry. */
#define FL_HTTP_BODY_MAX (1024 * 1024)

enum {
  FL_HTTP_ABORT = 1, /* the proxy answers; the request never reaches upstream */
  FL_HTTP_RESET,     /* close with RST, before or after forwarding */
  FL_HTTP_DELAY,     /* hold the request and/or the response head */
  FL_HTTP_REWRITE    /* change the response's status, headers, body */
};

/* The head of one message as the matcher sees it (all borrowed). */
typedef struct fl_http_head_s {
  const char *method; /* "GET" ...; the request's, also for a response */
  const char *target; /* the request target as sent: path and query */
  size_t nheaders;
  const char *const *name; /* header names as sent */
  const char *const *value;
} fl_http_head_t;

typedef struct fl_http_rule_s {
  struct fl_http_rule_s *next; /* in the proxy's list, in the order added */
  char *name;
  json_t *spec;          /* the normalized spec (what fl_http_rule_to_json prints) */
  char *method;          /* NULL: any */
  char *path;            /* glob (* and ?) on the target; NULL: any */
  json_t *match_headers; /* object name -> value glob; NULL: none */
  int action;            /* FL_HTTP_* */
  int direction;         /* FL_UPSTREAM (default) or FL_DOWNSTREAM */
  int status;            /* abort: status; rewrite: new status or 0 */
  json_t *headers;       /* abort/rewrite: headers to set (object) or NULL */
  json_t *body;          /* abort/rewrite: a string, or NULL (rewrite: keep) */
  int reset_after;       /* reset: after forwarding the request */
  uint64_t delay_request_ms;
  uint64_t delay_response_ms;
  double percent; /* 0..100 */
  int64_t first;  /* 0: no limit */
  uint64_t matched;
  uint64_t faulted;
  fl_prng_t rng; /* percent draws, in the order requests match */
} fl_http_rule_t;

/* Parses spec (borrowed) into a new rule (*out; free with
 * fl_http_rule_free). base (may be NULL) is the rule being updated: then
 * spec gives only what changes (an action key replaces the action) and
 * the name stays. default_name names a rule whose spec has none. seed
 * seeds the percent draws (the caller derives it from the proxy's seed and
 * the rule's name). Returns 0 or FL_ECONFIG with a message naming the field. */
int fl_http_rule_parse(fl_http_rule_t **out, const json_t *spec,
                       const fl_http_rule_t *base, const char *default_name,
                       fl_err_t *err);
void fl_http_rule_free(fl_http_rule_t *r);

/* Returns new: {"name","match","action","<action>":{...},"percent","first",
 * "direction","matched","faulted"}. */
json_t *fl_http_rule_to_json(const fl_http_rule_t *r);

/* Does the head match the rule's method, target glob and headers? (Header
 * names compare without case, values by glob.) */
int fl_http_rule_matches(const fl_http_rule_t *r, const fl_http_head_t *h);
/* Counts a match and decides whether this request is faulted: within the
 * first N (when set), then a draw against percent. Counts the fault. */
int fl_http_rule_fire(fl_http_rule_t *r);

/* Glob with * (any run) and ? (one byte). */
int fl_http_glob(const char *pat, const char *s);

#endif
