/* Toxiproxy 2.x's endpoints, answered as its api.go, proxy.go,
 * proxy_collection.go and toxic_collection.go answer them: the same checks
 * in the same order, the same status codes and error strings, the same JSON.
 * Where Toxiproxy does something odd, this does it too, and says so.
 *
 * Beyond Toxiproxy (fields its decoder would ignore, so its clients are not
 * affected): a proxy object may carry "toxics" (applied before the proxy
 * takes its first connection, all or nothing) and "from"/"to" (the link it
 * stands for, for /faultline/partition). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "faults/api_int.h"
#include "faults/toxic.h"
#include "base/alloc.h"
#include "base/prng.h"
#include "base/error.h"

enum { R_NONE, R_RESET, R_PROXIES, R_POPULATE, R_PROXY, R_TOXICS, R_TOXIC, R_VERSION };

#define BAD_BODY "bad request body: "

static int route_of(char **seg, int nseg) {
  if (nseg == 1 && strcmp(seg[0], "reset") == 0)
    return R_RESET;
  if (nseg == 1 && strcmp(seg[0], "populate") == 0)
    return R_POPULATE;
  if (nseg == 1 && strcmp(seg[0], "version") == 0)
    return R_VERSION;
  if (nseg >= 1 && strcmp(seg[0], "proxies") == 0) {
    if (nseg == 1)
      return R_PROXIES;
    if (nseg == 2)
      return R_PROXY;
    if (nseg == 3 && strcmp(seg[2], "toxics") == 0)
      return R_TOXICS;
    if (nseg == 4 && strcmp(seg[2], "toxics") == 0)
      return R_TOXIC;
  }
  return R_NONE;
}

int api_proxies_match(char **seg, int nseg, const char *method, int *method_ok) {
  int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
  int patch = strcmp(method, "PATCH") == 0, del = strcmp(method, "DELETE") == 0;
  switch (route_of(seg, nseg)) {
  case R_RESET:
  case R_POPULATE:
    *method_ok = post;
    return 1;
  case R_VERSION:
    *method_ok = get;
    return 1;
  case R_PROXIES:
  case R_TOXICS:
    *method_ok = get || post;
    return 1;
  case R_PROXY:
  case R_TOXIC:
    *method_ok = get || post || patch || del;
    return 1;
  default:
    return 0;
  }
}

/* ---- JSON of proxies and toxics ----------------------------------------- */

json_t *api_toxic_json(const json_t *t) {
  json_t *out = json_object();
  json_t *attrs = json_object_get(t, "attributes");
  json_object_set_new(out, "attributes", attrs ? json_deep_copy(attrs) : json_object());
  json_object_set(out, "name", json_object_get(t, "name"));
  json_object_set(out, "type", json_object_get(t, "type"));
  json_object_set(out, "stream", json_object_get(t, "stream"));
  json_object_set_new(out, "toxicity",
                      api_float32(json_number_value(json_object_get(t, "toxicity"))));
  return out;
}

json_t *api_toxics_json(const fl_proxy_t *p) {
  json_t *all = fl_proxy_toxics_json(p);
  json_t *out = json_array();
  static const char *const order[] = {"upstream", "downstream"};
  size_t i;
  json_t *t;
  /* Toxiproxy keeps a chain per direction and lists the upstream one
   * first, whatever order the toxics were added in. */
  for (int d = 0; d < 2; d++) {
    json_array_foreach(all, i, t) {
      const char *s = json_string_value(json_object_get(t, "stream"));
      if (s != NULL && strcmp(s, order[d]) == 0)
        json_array_append_new(out, api_toxic_json(t));
    }
  }
  json_decref(all);
  return out;
}

json_t *api_proxy_json(const api_proxy_t *ap) {
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(ap->name));
  json_object_set_new(o, "listen", json_string(ap->listen));
  json_object_set_new(o, "upstream", json_string(fl_proxy_upstream(ap->p)));
  json_object_set_new(o, "enabled", json_boolean(fl_proxy_enabled(ap->p)));
  /* Toxiproxy 2.5+ prints its Proxy struct's exported zerolog Logger, which
   * encodes as an empty object. Odd, but it is what its clients receive. */
  json_object_set_new(o, "Logger", json_object());
  json_object_set_new(o, "toxics", api_toxics_json(ap->p));
  return o;
}

/* ---- reading proxies and toxics ----------------------------------------- */

typedef struct proxy_in_s {
  const char *name, *listen, *upstream;
  int enabled;
  const json_t *toxics; /* an array, or NULL */
  const char *from, *to;
} proxy_in_t;

static int get_ext_str(const json_t *obj, const char *key, const char **out, char *err,
                       size_t errsize) {
  json_t *v = json_object_get(obj, key);
  if (v == NULL || json_is_null(v))
    return 0;
  if (!json_is_string(v)) {
    snprintf(err, errsize, "field \"%s\" must be a string", key);
    return -1;
  }
  *out = json_string_value(v);
  return 0;
}

/* Reads obj as Toxiproxy decodes a Proxy (fields not given keep the values
 * in *in). Returns 0, or -1 with the decoder's message in err. */
static int read_proxy(const json_t *obj, proxy_in_t *in, char *err, size_t errsize) {
  if (json_is_null(obj))
    return 0; /* Go decodes null into a struct as nothing at all */
  if (!json_is_object(obj)) {
    api_type_error(obj, "toxiproxy.Proxy", err, errsize);
    return -1;
  }
  if (api_get_str(obj, "name", "Proxy", &in->name, err, errsize) ||
      api_get_str(obj, "listen", "Proxy", &in->listen, err, errsize) ||
      api_get_str(obj, "upstream", "Proxy", &in->upstream, err, errsize) ||
      api_get_bool(obj, "enabled", "Proxy", &in->enabled, err, errsize) ||
      get_ext_str(obj, "from", &in->from, err, errsize) ||
      get_ext_str(obj, "to", &in->to, err, errsize))
    return -1;
  json_t *t = json_object_get(obj, "toxics");
  if (t != NULL && !json_is_null(t)) {
    if (!json_is_array(t)) {
      snprintf(err, errsize, "field \"toxics\" must be a list of toxics");
      return -1;
    }
    in->toxics = t;
  }
  return 0;
}

/* Turns a toxic object, read as Toxiproxy's AddToxicJson reads it, into
 * the spec fl_proxy_add_toxic takes. taken (may be NULL) holds names used by
 * earlier toxics of the same request. Returns 0 and a new spec, or the HTTP
 * status with the message in err. */
static int toxic_spec(const json_t *in, const fl_proxy_t *p, const json_t *taken,
                      json_t **out, char *err, size_t errsize) {
  const char *name = "", *type = "", *stream = "downstream";
  double toxicity = 1.0;
  char msg[512];
  char defname[256];

  *out = NULL;
  if (!json_is_object(in) && !json_is_null(in)) {
    api_type_error(in, "toxics.ToxicWrapper", msg, sizeof(msg));
    snprintf(err, errsize, BAD_BODY "%s", msg);
    return 400;
  }
  json_t *attrs = api_get(in, "attributes");
  if (api_get_str(in, "name", "ToxicWrapper", &name, msg, sizeof(msg)) ||
      api_get_str(in, "type", "ToxicWrapper", &type, msg, sizeof(msg)) ||
      api_get_str(in, "stream", "ToxicWrapper", &stream, msg, sizeof(msg)) ||
      api_get_float32(in, "toxicity", "ToxicWrapper", &toxicity, msg, sizeof(msg))) {
    snprintf(err, errsize, BAD_BODY "%s", msg);
    return 400;
  }
  int upstream = strcasecmp(stream, "upstream") == 0;
  if (!upstream && strcasecmp(stream, "downstream") != 0) {
    snprintf(err, errsize, "stream was invalid, can be either upstream or downstream");
    return 400;
  }
  if (name[0] == '\0') {
    /* Toxiproxy names it with the stream as written ("latency_UpStream"). */
    snprintf(defname, sizeof(defname), "%s_%s", type, stream);
    name = defname;
  }
  const fl_toxic_kind_t *kind = fl_toxic_kind_find(type);
  if (kind == NULL) {
    snprintf(err, errsize, "invalid toxic type");
    return 400;
  }
  json_t *dup = p != NULL ? fl_proxy_toxic_json(p, name) : NULL;
  if (dup != NULL || (taken != NULL && json_object_get(taken, name) != NULL)) {
    json_decref(dup);
    snprintf(err, errsize, "toxic already exists");
    return 409;
  }
  if (attrs != NULL && !json_is_object(attrs)) {
    snprintf(err, errsize,
             BAD_BODY "json: cannot unmarshal %s into Go struct field .attributes",
             json_is_array(attrs) ? "array" : "value");
    return 400;
  }
  /* Toxiproxy decodes attributes into the toxic's struct: names it does
   * not know are ignored. */
  json_t *a = json_object();
  for (int i = 0; i < kind->nattrs; i++) {
    json_t *v = api_get(attrs, kind->attrs[i].name);
    if (v != NULL)
      json_object_set(a, kind->attrs[i].name, v);
  }
  json_t *spec = json_pack("{s:s, s:s, s:s, s:f, s:o}", "name", name, "type", type,
                           "stream", upstream ? "upstream" : "downstream", "toxicity",
                           toxicity, "attributes", a);
  if (spec == NULL) {
    snprintf(err, errsize, BAD_BODY "invalid name");
    return 400;
  }
  fl_toxic_t check;
  fl_err_t e;
  if (fl_toxic_parse(&check, spec, NULL, &e) != 0) {
    json_decref(spec);
    snprintf(err, errsize, BAD_BODY "%.600s", e.msg);
    return 400;
  }
  fl_toxic_clear(&check);
  *out = spec;
  return 0;
}

/* Checks every toxic of a request; returns 0 and a new array of specs. */
static int toxic_specs(const json_t *list, json_t **out, char *err, size_t errsize) {
  json_t *specs = json_array(), *taken = json_object();
  size_t i;
  json_t *t;
  *out = NULL;
  json_array_foreach(list, i, t) {
    json_t *spec;
    int status = toxic_spec(t, NULL, taken, &spec, err, errsize);
    if (status) {
      json_decref(specs);
      json_decref(taken);
      return status;
    }
    json_object_set_new(taken, json_string_value(json_object_get(spec, "name")),
                        json_true());
    json_array_append_new(specs, spec);
  }
  json_decref(taken);
  *out = specs;
  return 0;
}

/* ---- proxies ------------------------------------------------------------ */

/* Go's net.Listen error, as Toxiproxy passes it on (status 500). Go names
 * the address it tried to bind, the host resolved ("localhost:3310" is shown
 * as 127.0.0.1:3310); an empty host stays empty (":3310"), as in Go. */
static void listen_error(char *err, size_t errsize, const char *listen,
                         const fl_err_t *e) {
  struct sockaddr_storage sa;
  char shown[80];
  if (listen[0] != ':' && fl_api_addr_parse(listen, &sa) == 0) {
    fl_api_addr_format(&sa, shown, sizeof(shown));
    listen = shown;
  }
  if (e->code > -30000 && e->code < 0)
    snprintf(err, errsize, "listen tcp %.200s: bind: %s", listen, fl_strerror(e->code));
  else
    snprintf(err, errsize, "listen tcp %.200s: %.500s", listen, e->msg);
}

/* An empty listen address is every address and any port, as in Go. */
static const char *listen_arg(const char *listen) {
  return listen[0] == '\0' ? ":0" : listen;
}

int api_proxy_start(fl_api_t *api, api_proxy_t *ap, char *err, size_t errsize) {
  fl_err_t e;
  if (fl_proxy_enabled(ap->p))
    return 0;
  if (!ap->listen_applied) {
    const char *l = api->listen_override ? api->listen_override : listen_arg(ap->listen);
    if (fl_proxy_set_listen(ap->p, l, &e) != 0) {
      listen_error(err, errsize, ap->listen, &e);
      return 500;
    }
    ap->listen_applied = 1;
  }
  if (fl_proxy_enable(ap->p, &e) != 0) {
    listen_error(err, errsize, ap->listen, &e);
    return 500;
  }
  fl_free(ap->listen);
  ap->listen = fl_strdup(fl_proxy_listen(ap->p));
  return 0;
}

static void set_str(char **dst, const char *s) {
  if (s == NULL)
    return;
  fl_free(*dst);
  *dst = s[0] ? fl_strdup(s) : NULL;
}

/* Makes a proxy from in (toxics already checked into specs, may be NULL).
 * Returns 0 and the entry (added to api), or an HTTP status with err. */
static int proxy_create(fl_api_t *api, const proxy_in_t *in, const json_t *specs,
                        api_proxy_t **out, char *err, size_t errsize) {
  fl_proxy_t *p;
  fl_err_t e;
  size_t i;
  json_t *spec;

  *out = NULL;
  /* A disabled proxy does not listen: it is made on a spare port and
   * stopped at once, and its address is only bound when it is enabled. */
  const char *l = api->listen_override ? api->listen_override : listen_arg(in->listen);
  int rc = fl_proxy_new(&p, api->loop, in->name, in->enabled ? l : "127.0.0.1:0",
                        in->upstream, &e);
  if (rc != 0) {
    if (strstr(e.msg, "\"upstream\"") != NULL) {
      snprintf(err, errsize, BAD_BODY "%.600s", e.msg);
      return 400;
    }
    listen_error(err, errsize, in->listen, &e);
    return 500;
  }
  api_proxy_t *ap = fl_calloc(1, sizeof(*ap));
  ap->name = fl_strdup(in->name);
  ap->p = p;
  set_str(&ap->from, in->from);
  set_str(&ap->to, in->to);
  if (in->enabled) {
    ap->listen = fl_strdup(fl_proxy_listen(p));
    ap->listen_applied = 1;
  } else {
    fl_proxy_set_enabled(p, 0);
    ap->listen = fl_strdup(in->listen);
  }
  if (api->seed_given)
    fl_proxy_set_seed(p, fl_seed_for(api->seed, in->name));
  /* The loop does not run during this call, so no connection is accepted
   * before every toxic is in place. */
  json_array_foreach(specs, i, spec) {
    if (fl_proxy_add_toxic(p, spec, &e) != 0) {
      snprintf(err, errsize, BAD_BODY "%.600s", e.msg);
      api_proxy_free(api, ap);
      return 400;
    }
  }
  api_list_insert(&api->tcp, ap);
  *out = ap;
  return 0;
}

static void remove_proxy(fl_api_t *api, api_proxy_t *ap) {
  api_list_remove(&api->tcp, ap);
  api_proxy_free(api, ap);
}

/* Toxiproxy 2.12's Proxy.Differs: the listen address resolved, compared
 * with the one the proxy has, and the upstream as written. */
static int proxy_differs(const api_proxy_t *ap, const char *listen,
                         const char *upstream) {
  struct sockaddr_storage sa;
  char norm[80];
  if (strcmp(upstream, fl_proxy_upstream(ap->p)) != 0)
    return 1;
  if (strcmp(listen, ap->listen) == 0)
    return 0;
  if (fl_api_addr_parse(listen, &sa) != 0)
    return 1;
  fl_api_addr_format(&sa, norm, sizeof(norm));
  return strcmp(norm, ap->listen) != 0;
}

/* Replaces the toxics of a proxy by specs. */
static void set_toxics(api_proxy_t *ap, const json_t *specs) {
  size_t i;
  json_t *spec;
  fl_err_t e;
  fl_proxy_remove_all_toxics(ap->p);
  json_array_foreach(specs, i, spec) fl_proxy_add_toxic(ap->p, spec, &e);
}

int api_populate(fl_api_t *api, const json_t *list, json_t **proxies, char *err,
                 size_t errsize) {
  char msg[768];
  size_t i;
  json_t *item;
  int status = 201;

  *proxies = NULL;
  if (!json_is_array(list) && !json_is_null(list)) {
    api_type_error(list,
                   "[]struct { toxiproxy.Proxy; Enabled *bool \"json:\\\"enabled\\\"\" }",
                   msg, sizeof(msg));
    snprintf(err, errsize, BAD_BODY "%s", msg);
    return 400;
  }
  size_t n = json_array_size(list);
  proxy_in_t *in = fl_calloc(n ? n : 1, sizeof(*in));
  json_t **specs = fl_calloc(n ? n : 1, sizeof(*specs));
  /* Every entry is read and checked before anything changes. */
  json_array_foreach(list, i, item) {
    in[i].name = in[i].listen = in[i].upstream = "";
    in[i].enabled = 1;
    if (read_proxy(item, &in[i], msg, sizeof(msg)) != 0) {
      snprintf(err, errsize, BAD_BODY "%s", msg);
      status = 400;
      goto out;
    }
  }
  for (i = 0; i < n; i++) {
    if (in[i].name[0] == '\0') {
      snprintf(err, errsize, "missing required field: name at proxy %zu", i + 1);
      status = 400;
      goto out;
    }
    if (in[i].upstream[0] == '\0') {
      snprintf(err, errsize, "missing required field: upstream at proxy %zu", i + 1);
      status = 400;
      goto out;
    }
    if (in[i].toxics != NULL) {
      status = toxic_specs(in[i].toxics, &specs[i], msg, sizeof(msg));
      if (status) {
        snprintf(err, errsize, "%s at proxy %zu", msg, i + 1);
        goto out;
      }
    }
  }
  /* Then each is created, replaced, or kept when its addresses are the
   * same; an error stops there, and what was done stays done, as in
   * Toxiproxy. */
  for (i = 0; i < n; i++) {
    api_proxy_t *ap = api_list_find(&api->tcp, in[i].name);
    if (ap != NULL && !proxy_differs(ap, in[i].listen, in[i].upstream)) {
      /* Toxiproxy keeps the proxy as it is, "enabled" included. */
      if (specs[i] != NULL)
        set_toxics(ap, specs[i]);
      set_str(&ap->from, in[i].from);
      set_str(&ap->to, in[i].to);
    } else {
      /* Toxiproxy stops the old proxy first and puts the new one in its
       * place only once it listens: when that fails, the old one stays,
       * stopped. */
      api_proxy_t *old = ap;
      if (old != NULL) {
        fl_proxy_set_enabled(old->p, 0);
        api_list_remove(&api->tcp, old);
      }
      status = proxy_create(api, &in[i], specs[i], &ap, err, errsize);
      if (status) {
        if (old != NULL)
          api_list_insert(&api->tcp, old);
        goto out;
      }
      if (old != NULL)
        api_proxy_free(api, old);
    }
    if (*proxies == NULL)
      *proxies = json_array();
    json_array_append_new(*proxies, api_proxy_json(ap));
  }
  status = 201;
out:
  for (i = 0; i < n; i++)
    json_decref(specs[i]);
  fl_free(specs);
  fl_free(in);
  return status;
}

/* ---- the endpoints ------------------------------------------------------ */

static json_t *parse_body(const fl_api_req_t *req, fl_api_res_t *res) {
  char msg[512];
  json_t *v = api_parse(req->body, req->body_len, msg, sizeof(msg));
  if (v == NULL)
    api_error(res, 400, BAD_BODY "%s", msg);
  return v;
}

static void proxy_index(fl_api_t *api, fl_api_res_t *res) {
  json_t *o = json_object();
  /* The list is sorted by name, as Go prints a map's keys. */
  for (size_t i = 0; i < api->tcp.n; i++) {
    api_proxy_t *ap = api->tcp.items[i];
    json_object_set_new(o, ap->name, api_proxy_json(ap));
  }
  api_json(res, 200, o);
}

static void proxy_create_ep(fl_api_t *api, const fl_api_req_t *req, fl_api_res_t *res) {
  char msg[768];
  proxy_in_t in = {"", "", "", 1, NULL, NULL, NULL};
  json_t *specs = NULL;
  api_proxy_t *ap;
  json_t *body = parse_body(req, res);
  if (body == NULL)
    return;
  if (read_proxy(body, &in, msg, sizeof(msg)) != 0) {
    api_error(res, 400, BAD_BODY "%s", msg);
  } else if (in.name[0] == '\0') {
    api_error(res, 400, "missing required field: name");
  } else if (in.upstream[0] == '\0') {
    api_error(res, 400, "missing required field: upstream");
  } else if (api_list_find(&api->tcp, in.name) != NULL) {
    api_error(res, 409, "proxy already exists");
  } else {
    int status = in.toxics ? toxic_specs(in.toxics, &specs, msg, sizeof(msg)) : 0;
    if (status == 0)
      status = proxy_create(api, &in, specs, &ap, msg, sizeof(msg));
    if (status)
      api_error(res, status, "%s", msg);
    else
      api_json(res, 201, api_proxy_json(ap));
  }
  json_decref(specs);
  json_decref(body);
}

static void populate_ep(fl_api_t *api, const fl_api_req_t *req, fl_api_res_t *res) {
  char msg[1024], perr[768];
  json_t *made = NULL;
  int status;
  json_t *body = api_parse(req->body, req->body_len, perr, sizeof(perr));
  if (body == NULL) {
    snprintf(msg, sizeof(msg), BAD_BODY "%s", perr);
    status = 400;
  } else {
    status = api_populate(api, body, &made, msg, sizeof(msg));
    json_decref(body);
  }
  /* Toxiproxy answers populate errors inside its own shape, as JSON, with
   * the proxies made before the error; no proxies print as null. */
  json_t *o = json_object();
  if (status >= 300) {
    json_object_set_new(o, "error", json_string(msg));
    json_object_set_new(o, "status", json_integer(status));
  }
  json_object_set_new(o, "proxies", made ? made : json_null());
  api_json(res, status, o);
}

static void proxy_update(fl_api_t *api, api_proxy_t *ap, const fl_api_req_t *req,
                         fl_api_res_t *res) {
  char msg[768];
  fl_err_t e;
  /* Fields not given keep the proxy's values. */
  proxy_in_t in = {
      ap->name, ap->listen, fl_proxy_upstream(ap->p), fl_proxy_enabled(ap->p), NULL,
      NULL,     NULL};
  json_t *body = parse_body(req, res);
  if (body == NULL)
    return;
  if (read_proxy(body, &in, msg, sizeof(msg)) != 0) {
    api_error(res, 400, BAD_BODY "%s", msg);
    goto out;
  }
  /* Toxiproxy restarts the proxy when an address changes, closing its
   * connections, even when only the upstream changed. */
  if (proxy_differs(ap, in.listen, in.upstream)) {
    if (strcmp(in.upstream, fl_proxy_upstream(ap->p)) != 0 &&
        fl_proxy_set_upstream(ap->p, in.upstream, &e) != 0) {
      api_error(res, 400, BAD_BODY "%.600s", e.msg);
      goto out;
    }
    fl_proxy_set_enabled(ap->p, 0);
    if (strcmp(in.listen, ap->listen) != 0) {
      char *l = fl_strdup(in.listen);
      fl_free(ap->listen);
      ap->listen = l;
      ap->listen_applied = 0;
    }
  }
  set_str(&ap->from, in.from);
  set_str(&ap->to, in.to);
  if (in.enabled != fl_proxy_enabled(ap->p)) {
    if (in.enabled) {
      int status = api_proxy_start(api, ap, msg, sizeof(msg));
      if (status) {
        api_error(res, status, "%s", msg);
        goto out;
      }
    } else {
      fl_proxy_set_enabled(ap->p, 0);
    }
  }
  api_json(res, 200, api_proxy_json(ap));
out:
  json_decref(body);
}

static void toxic_create(api_proxy_t *ap, const fl_api_req_t *req, fl_api_res_t *res) {
  char msg[768];
  json_t *spec;
  fl_err_t e;
  json_t *body = parse_body(req, res);
  if (body == NULL)
    return;
  int status = toxic_spec(body, ap->p, NULL, &spec, msg, sizeof(msg));
  json_decref(body);
  if (status) {
    api_error(res, status, "%s", msg);
    return;
  }
  const char *name = json_string_value(json_object_get(spec, "name"));
  if (fl_proxy_add_toxic(ap->p, spec, &e) != 0) {
    api_error(res, 400, BAD_BODY "%.600s", e.msg);
  } else {
    json_t *t = fl_proxy_toxic_json(ap->p, name);
    api_json(res, 200, api_toxic_json(t));
    json_decref(t);
  }
  json_decref(spec);
}

static void toxic_update(api_proxy_t *ap, const char *name, const fl_api_req_t *req,
                         fl_api_res_t *res) {
  char msg[512];
  fl_err_t e;
  /* Toxiproxy looks for the toxic before it reads the body. */
  json_t *cur = fl_proxy_toxic_json(ap->p, name);
  if (cur == NULL) {
    api_error(res, 404, "toxic not found");
    return;
  }
  const fl_toxic_kind_t *kind =
      fl_toxic_kind_find(json_string_value(json_object_get(cur, "type")));
  double toxicity = json_number_value(json_object_get(cur, "toxicity"));
  json_decref(cur);
  json_t *body = parse_body(req, res);
  if (body == NULL)
    return;
  json_t *attrs = api_get(body, "attributes");
  if (!json_is_object(body) && !json_is_null(body)) {
    api_type_error(body,
                   "struct { Attributes interface {} \"json:\\\"attributes\\\"\"; "
                   "Toxicity float32 \"json:\\\"toxicity\\\"\" }",
                   msg, sizeof(msg));
    api_error(res, 400, BAD_BODY "%s", msg);
  } else if (api_get_float32(body, "toxicity", "", &toxicity, msg, sizeof(msg)) != 0) {
    api_error(res, 400, BAD_BODY "%s", msg);
  } else if (attrs != NULL && !json_is_object(attrs)) {
    api_error(res, 400,
              BAD_BODY "json: cannot unmarshal %s into Go struct field .attributes",
              json_is_array(attrs) ? "array" : "value");
  } else {
    /* Only the attributes and the toxicity change; name, type and stream in
     * the body are ignored. Toxiproxy restarts the toxic on every update,
     * which draws toxicity again, so it is always passed on. */
    json_t *a = json_object();
    for (int i = 0; kind != NULL && i < kind->nattrs; i++) {
      json_t *v = api_get(attrs, kind->attrs[i].name);
      if (v != NULL)
        json_object_set(a, kind->attrs[i].name, v);
    }
    json_t *spec = json_pack("{s:o, s:f}", "attributes", a, "toxicity", toxicity);
    if (fl_proxy_update_toxic(ap->p, name, spec, &e) != 0) {
      if (e.code == UV_ENOENT)
        api_error(res, 404, "toxic not found");
      else
        api_error(res, 400, BAD_BODY "%.600s", e.msg);
    } else {
      json_t *t = fl_proxy_toxic_json(ap->p, name);
      api_json(res, 200, api_toxic_json(t));
      json_decref(t);
    }
    json_decref(spec);
  }
  json_decref(body);
}

static void reset_ep(fl_api_t *api, fl_api_res_t *res) {
  char msg[512];
  /* Toxiproxy stops at the first proxy it cannot start again and answers
   * 500; the proxies before it are already reset. */
  for (size_t i = 0; i < api->tcp.n; i++) {
    api_proxy_t *ap = api->tcp.items[i];
    int status = api_proxy_start(api, ap, msg, sizeof(msg));
    if (status) {
      api_error(res, status, "%s", msg);
      return;
    }
    fl_proxy_remove_all_toxics(ap->p);
  }
  api_ext_reset(api);
  api_empty(res, 204);
}

void api_proxies_route(fl_api_t *api, const char *method, char **seg, int nseg,
                       const fl_api_req_t *req, fl_api_res_t *res) {
  int route = route_of(seg, nseg);
  int get = strcmp(method, "GET") == 0, del = strcmp(method, "DELETE") == 0;
  api_proxy_t *ap = NULL;

  switch (route) {
  case R_VERSION:
    /* Toxiproxy 2.7+ writes this by hand, with a space and a newline. */
    fl_api_res_text(res, 200, "application/json;charset=utf-8",
                    "{\"version\": \"" FL_API_TOXIPROXY_VERSION "\"}\n");
    return;
  case R_RESET:
    reset_ep(api, res);
    return;
  case R_POPULATE:
    populate_ep(api, req, res);
    return;
  case R_PROXIES:
    if (get)
      proxy_index(api, res);
    else
      proxy_create_ep(api, req, res);
    return;
  default:
    break;
  }
  ap = api_list_find(&api->tcp, seg[1]);
  if (ap == NULL) {
    api_error(res, 404, "proxy not found");
    return;
  }
  if (route == R_PROXY) {
    if (get)
      api_json(res, 200, api_proxy_json(ap));
    else if (del) {
      remove_proxy(api, ap);
      api_empty(res, 204);
    } else
      proxy_update(api, ap, req, res);
  } else if (route == R_TOXICS) {
    if (get)
      api_json(res, 200, api_toxics_json(ap->p));
    else
      toxic_create(ap, req, res);
  } else {
    fl_err_t e;
    json_t *t;
    if (get) {
      t = fl_proxy_toxic_json(ap->p, seg[3]);
      if (t == NULL)
        api_error(res, 404, "toxic not found");
      else
        api_json(res, 200, api_toxic_json(t));
      json_decref(t);
    } else if (del) {
      if (fl_proxy_remove_toxic(ap->p, seg[3], &e) != 0)
        api_error(res, 404, "toxic not found");
      else
        api_empty(res, 204);
    } else {
      toxic_update(ap, seg[3], req, res);
    }
  }
}
