/* HTTP fault rules: parsing, printing, matching and the percent/first
 * decision. See http_rule.h. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "faults/http_rule.h"
#include "faults/proxy.h"
#include "base/alloc.h"
#include "base/error.h"

static const char *const ACTIONS[] = {"abort", "reset", "delay", "rewrite"};
#define NACTIONS 4

int fl_http_glob(const char *pat, const char *s) {
  const char *star = NULL, *resume = NULL;
  while (*s != '\0') {
    if (*pat == '*') {
      star = pat++;
      resume = s;
    } else if (*pat == '?' || *pat == *s) {
      pat++;
      s++;
    } else if (star != NULL) {
      pat = star + 1;
      s = ++resume;
    } else {
      return 0;
    }
  }
  while (*pat == '*')
    pat++;
  return *pat == '\0';
}

void fl_http_rule_free(fl_http_rule_t *r) {
  if (r == NULL)
    return;
  fl_free(r->name);
  fl_free(r->method);
  fl_free(r->path);
  json_decref(r->spec);
  json_decref(r->match_headers);
  json_decref(r->headers);
  json_decref(r->body);
  fl_free(r);
}

static int bad(fl_err_t *err, const char *rule, const char *field, const char *what) {
  return fl_err_set(err, FL_ECONFIG, "http fault %s: field \"%s\" %s", rule, field, what);
}

/* A whole number in [lo, hi] (a JSON real with no fraction is accepted). */
static int get_int(const json_t *v, const char *rule, const char *field, int64_t lo,
                   int64_t hi, int64_t *out, fl_err_t *err) {
  double d;
  if (json_is_integer(v))
    d = (double)json_integer_value(v);
  else if (json_is_real(v))
    d = json_real_value(v);
  else
    return bad(err, rule, field, "must be a number");
  if (d != (double)(int64_t)d || d < (double)lo || d > (double)hi)
    return fl_err_set(err, FL_ECONFIG,
                      "http fault %s: field \"%s\" must be a whole number in %lld..%lld "
                      "(got %g)",
                      rule, field, (long long)lo, (long long)hi, d);
  *out = (int64_t)d;
  return 0;
}

/* An object of string values (header names to values or globs). */
static int get_headers(const json_t *v, const char *rule, const char *field, json_t **out,
                       fl_err_t *err) {
  const char *k;
  json_t *x;
  if (!json_is_object(v))
    return bad(err, rule, field, "must be a table of header names to strings");
  json_object_foreach((json_t *)v, k, x) {
    if (!json_is_string(x) && !json_is_number(x))
      return fl_err_set(err, FL_ECONFIG,
                        "http fault %s: field \"%s.%s\" must be a string", rule, field,
                        k);
    for (const char *c = k; *c; c++)
      if (*c <= ' ' || *c == ':' || *c == 0x7f)
        return fl_err_set(err, FL_ECONFIG,
                          "http fault %s: field \"%s\": \"%s\" is not a header name",
                          rule, field, k);
  }
  json_t *copy = json_object();
  json_object_foreach((json_t *)v, k, x) {
    if (json_is_string(x))
      json_object_set(copy, k, x);
    else if (json_is_integer(x))
      json_object_set_new(copy, k,
                          json_sprintf("%lld", (long long)json_integer_value(x)));
    else
      json_object_set_new(copy, k, json_sprintf("%g", json_real_value(x)));
  }
  *out = copy;
  return 0;
}

static int check_keys(const json_t *obj, const char *const *keys, const char *rule,
                      const char *field, fl_err_t *err) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    int ok = 0;
    for (int i = 0; keys[i] != NULL; i++)
      ok |= strcmp(keys[i], k) == 0;
    if (!ok)
      return fl_err_set(err, FL_ECONFIG, "http fault %s: unknown field \"%s%s%s\"", rule,
                        field ? field : "", field ? "." : "", k);
  }
  return 0;
}

static int parse_match(fl_http_rule_t *r, const json_t *m, fl_err_t *err) {
  static const char *const keys[] = {"method", "path", "header", "headers", NULL};
  if (m == NULL || json_is_null(m))
    return 0;
  if (!json_is_object(m))
    return bad(err, r->name, "match", "must be a table");
  int rc = check_keys(m, keys, r->name, "match", err);
  if (rc)
    return rc;
  const json_t *v = json_object_get(m, "method");
  if (v != NULL) {
    if (!json_is_string(v) || json_string_length(v) == 0)
      return bad(err, r->name, "match.method", "must be a method name such as \"POST\"");
    r->method = fl_strdup(json_string_value(v));
    for (char *c = r->method; *c; c++)
      *c = (char)toupper((unsigned char)*c);
  }
  v = json_object_get(m, "path");
  if (v != NULL) {
    if (!json_is_string(v) || json_string_length(v) == 0)
      return bad(err, r->name, "match.path", "must be a glob such as \"/reserve*\"");
    r->path = fl_strdup(json_string_value(v));
  }
  v = json_object_get(m, "header");
  if (v == NULL)
    v = json_object_get(m, "headers");
  if (v != NULL)
    return get_headers(v, r->name, "match.header", &r->match_headers, err);
  return 0;
}

static int parse_answer(fl_http_rule_t *r, const char *what, const json_t *a,
                        fl_err_t *err) {
  static const char *const keys[] = {"status", "body", "headers", NULL};
  char field[32];
  int64_t n;
  if (!json_is_object(a))
    return bad(err, r->name, what, "must be a table {status=, body=, headers=}");
  int rc = check_keys(a, keys, r->name, what, err);
  if (rc)
    return rc;
  const json_t *v = json_object_get(a, "status");
  snprintf(field, sizeof(field), "%s.status", what);
  if (v != NULL) {
    if ((rc = get_int(v, r->name, field, 100, 999, &n, err)) != 0)
      return rc;
    if (n < 200 && strcmp(what, "abort") == 0)
      return bad(err, r->name, field, "must be a final status (200..999)");
    r->status = (int)n;
  } else if (strcmp(what, "abort") == 0) {
    r->status = 503;
  }
  v = json_object_get(a, "body");
  if (v != NULL) {
    if (!json_is_string(v))
      return bad(err, r->name, "body", "must be a string");
    if (json_string_length(v) > FL_HTTP_BODY_MAX)
      return bad(err, r->name, "body", "must be at most 1 MiB");
    r->body = json_incref((json_t *)v);
  }
  v = json_object_get(a, "headers");
  snprintf(field, sizeof(field), "%s.headers", what);
  if (v != NULL && (rc = get_headers(v, r->name, field, &r->headers, err)) != 0)
    return rc;
  if (strcmp(what, "rewrite") == 0 && r->status == 0 && r->body == NULL &&
      r->headers == NULL)
    return bad(err, r->name, "rewrite", "must give status, headers or body");
  return 0;
}

static int parse_delay(fl_http_rule_t *r, const json_t *d, fl_err_t *err) {
  static const char *const keys[] = {"request", "response", NULL};
  int64_t n;
  int rc;
  if (json_is_number(d)) { /* delay = ms: the request */
    if ((rc = get_int(d, r->name, "delay", 0, 3600000, &n, err)) != 0)
      return rc;
    r->delay_request_ms = (uint64_t)n;
    return 0;
  }
  if (!json_is_object(d))
    return bad(err, r->name, "delay", "must be a table {request = ms, response = ms}");
  if ((rc = check_keys(d, keys, r->name, "delay", err)) != 0)
    return rc;
  const json_t *v = json_object_get(d, "request");
  if (v != NULL) {
    if ((rc = get_int(v, r->name, "delay.request", 0, 3600000, &n, err)) != 0)
      return rc;
    r->delay_request_ms = (uint64_t)n;
  }
  v = json_object_get(d, "response");
  if (v != NULL) {
    if ((rc = get_int(v, r->name, "delay.response", 0, 3600000, &n, err)) != 0)
      return rc;
    r->delay_response_ms = (uint64_t)n;
  }
  if (json_object_get(d, "request") == NULL && v == NULL)
    return bad(err, r->name, "delay", "must give request and/or response (ms)");
  return 0;
}

static int parse_action(fl_http_rule_t *r, const json_t *spec, fl_err_t *err) {
  const char *which = NULL;
  for (int i = 0; i < NACTIONS; i++) {
    if (json_object_get(spec, ACTIONS[i]) == NULL)
      continue;
    if (which != NULL)
      return fl_err_set(err, FL_ECONFIG,
                        "http fault %s: give exactly one action, not both \"%s\" and "
                        "\"%s\"",
                        r->name, which, ACTIONS[i]);
    which = ACTIONS[i];
    r->action = i + 1;
  }
  if (which == NULL)
    return fl_err_set(
        err, FL_ECONFIG,
        "http fault %s: an action is required: abort, reset, delay or rewrite", r->name);
  const json_t *a = json_object_get(spec, which);
  switch (r->action) {
  case FL_HTTP_ABORT:
  case FL_HTTP_REWRITE:
    return parse_answer(r, which, a, err);
  case FL_HTTP_DELAY:
    return parse_delay(r, a, err);
  default:
    if (json_is_true(a) ||
        (json_is_string(a) && strcmp(json_string_value(a), "before") == 0))
      return 0;
    if (json_is_string(a) && strcmp(json_string_value(a), "after") == 0) {
      r->reset_after = 1;
      return 0;
    }
    return bad(err, r->name, "reset", "must be \"before\", \"after\" or true");
  }
}

static int parse_rest(fl_http_rule_t *r, const json_t *spec, fl_err_t *err) {
  int64_t n;
  int rc;
  const json_t *v = json_object_get(spec, "percent");
  r->percent = 100;
  if (v != NULL) {
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 100)
      return bad(err, r->name, "percent", "must be a number in 0..100");
    r->percent = json_number_value(v);
  }
  v = json_object_get(spec, "first");
  if (v != NULL) {
    if ((rc = get_int(v, r->name, "first", 1, INT64_MAX / 2, &n, err)) != 0)
      return rc;
    r->first = n;
  }
  v = json_object_get(spec, "direction");
  r->direction = FL_UPSTREAM;
  if (v != NULL) {
    const char *d = json_string_value(v);
    if (d != NULL && strcmp(d, "downstream") == 0)
      r->direction = FL_DOWNSTREAM;
    else if (d == NULL || strcmp(d, "upstream") != 0)
      return bad(err, r->name, "direction", "must be \"upstream\" or \"downstream\"");
  }
  if (r->direction == FL_DOWNSTREAM && r->action == FL_HTTP_DELAY && r->delay_request_ms)
    return bad(err, r->name, "delay.request",
               "cannot apply downstream (the request went before the response)");
  if (r->direction == FL_DOWNSTREAM && r->action == FL_HTTP_RESET && r->reset_after)
    return bad(err, r->name, "reset",
               "downstream resets when the response comes: use true or \"before\"");
  return 0;
}

/* The merged spec of an update: base's, with spec's keys over it; an
 * action key given replaces base's action. */
static json_t *merged(const json_t *spec, const fl_http_rule_t *base) {
  json_t *m = json_deep_copy(base->spec);
  for (int i = 0; i < NACTIONS; i++)
    if (json_object_get(spec, ACTIONS[i]) != NULL)
      for (int j = 0; j < NACTIONS; j++)
        json_object_del(m, ACTIONS[j]);
  json_object_update(m, (json_t *)spec);
  /* null takes a field back to its default (first = null: no limit). */
  const char *k;
  json_t *v;
  void *tmp;
  json_object_foreach_safe(m, tmp, k, v) {
    if (json_is_null(v))
      json_object_del(m, k);
  }
  json_object_set_new(m, "name", json_string(base->name));
  return m;
}

int fl_http_rule_parse(fl_http_rule_t **out, const json_t *spec,
                       const fl_http_rule_t *base, const char *default_name,
                       fl_err_t *err) {
  static const char *const keys[] = {"name",    "match",   "abort", "reset",     "delay",
                                     "rewrite", "percent", "first", "direction", NULL};
  *out = NULL;
  const char *name = base ? base->name : default_name;
  if (!json_is_object(spec))
    return fl_err_set(err, FL_ECONFIG, "http fault: the spec must be a table");
  const json_t *jn = json_object_get(spec, "name");
  if (base == NULL && jn != NULL) {
    if (!json_is_string(jn) || json_string_length(jn) == 0)
      return fl_err_set(err, FL_ECONFIG,
                        "http fault: field \"name\" must be a non-empty string");
    name = json_string_value(jn);
  }
  int rc = check_keys(spec, keys, name, NULL, err);
  if (rc)
    return rc;
  fl_http_rule_t *r = fl_calloc(1, sizeof(*r));
  r->name = fl_strdup(name);
  r->spec = base ? merged(spec, base) : json_deep_copy(spec);
  json_object_set_new(r->spec, "name", json_string(r->name));
  if ((rc = parse_match(r, json_object_get(r->spec, "match"), err)) == 0 &&
      (rc = parse_action(r, r->spec, err)) == 0)
    rc = parse_rest(r, r->spec, err);
  if (rc) {
    fl_http_rule_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

json_t *fl_http_rule_to_json(const fl_http_rule_t *r) {
  json_t *j = json_object();
  json_object_set_new(j, "name", json_string(r->name));
  json_t *m = json_object_get(r->spec, "match");
  json_object_set_new(j, "match", m ? json_deep_copy(m) : json_object());
  const char *a = ACTIONS[r->action - 1];
  json_object_set_new(j, "action", json_string(a));
  json_object_set_new(j, a, json_deep_copy(json_object_get(r->spec, a)));
  json_object_set_new(j, "percent", json_real(r->percent));
  if (r->first > 0)
    json_object_set_new(j, "first", json_integer(r->first));
  json_object_set_new(
      j, "direction",
      json_string(r->direction == FL_DOWNSTREAM ? "downstream" : "upstream"));
  json_object_set_new(j, "matched", json_integer((json_int_t)r->matched));
  json_object_set_new(j, "faulted", json_integer((json_int_t)r->faulted));
  return j;
}

static const char *header_of(const fl_http_head_t *h, const char *name) {
  for (size_t i = 0; i < h->nheaders; i++)
    if (strcasecmp(h->name[i], name) == 0)
      return h->value[i];
  return NULL;
}

int fl_http_rule_matches(const fl_http_rule_t *r, const fl_http_head_t *h) {
  if (r->method != NULL && (h->method == NULL || strcmp(r->method, h->method) != 0))
    return 0;
  if (r->path != NULL && (h->target == NULL || !fl_http_glob(r->path, h->target)))
    return 0;
  if (r->match_headers != NULL) {
    const char *k;
    json_t *v;
    json_object_foreach(r->match_headers, k, v) {
      const char *got = header_of(h, k);
      if (got == NULL || !fl_http_glob(json_string_value(v), got))
        return 0;
    }
  }
  return 1;
}

int fl_http_rule_fire(fl_http_rule_t *r) {
  r->matched++;
  if (r->first > 0 && r->matched > (uint64_t)r->first)
    return 0;
  if (r->percent < 100 && !(fl_prng_double(&r->rng) * 100.0 < r->percent))
    return 0;
  r->faulted++;
  return 1;
}
