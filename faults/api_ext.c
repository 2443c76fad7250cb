/* faultline's extensions to Toxiproxy's API, under paths Toxiproxy does not
 * use so that its clients are never confused:
 *
 *   GET  /metrics                  Prometheus text: bytes per direction (with
 *                                  Toxiproxy's metric names), connections,
 *                                  toxics, partitions, UDP datagrams
 *   GET  /faultline/version        {"faultline": "0.1.0", "toxiproxy_api": ...}
 *   GET|POST /faultline/udp        UDP proxies (udp_proxy.h)
 *   GET|POST|PATCH|DELETE /faultline/udp/{name}
 *   GET|POST|DELETE /faultline/partition
 *   /faultline/proxies/{name}/http_faults[/{rule}]  HTTP fault rules
 *                                  (api_http_faults.c)
 *
 * A partition cuts proxies (TCP or UDP) without closing anything: by name,
 * or by groups of nodes for proxies that say which link they stand for
 * ("from" and "to"), as fl.partition does in scenarios. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "faults/api_int.h"
#include "base/alloc.h"
#include "base/buf.h"
#include "base/prng.h"

#ifndef FL_VERSION
#define FL_VERSION "0"
#endif

enum { X_NONE, X_METRICS, X_VERSION, X_UDPS, X_UDP, X_PARTITION };

static int xroute_of(char **seg, int nseg) {
  if (nseg == 1 && strcmp(seg[0], "metrics") == 0)
    return X_METRICS;
  if (nseg < 2 || strcmp(seg[0], "faultline") != 0)
    return X_NONE;
  if (nseg == 2 && strcmp(seg[1], "version") == 0)
    return X_VERSION;
  if (nseg == 2 && strcmp(seg[1], "udp") == 0)
    return X_UDPS;
  if (nseg == 3 && strcmp(seg[1], "udp") == 0)
    return X_UDP;
  if (nseg == 2 && strcmp(seg[1], "partition") == 0)
    return X_PARTITION;
  return X_NONE;
}

int api_ext_match(char **seg, int nseg, const char *method, int *method_ok) {
  if (api_httpf_match(seg, nseg, method, method_ok))
    return 1;
  int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
  int patch = strcmp(method, "PATCH") == 0, del = strcmp(method, "DELETE") == 0;
  switch (xroute_of(seg, nseg)) {
  case X_METRICS:
    *method_ok = 1;
    return 1; /* Toxiproxy's route takes any method */
  case X_VERSION:
    *method_ok = get;
    return 1;
  case X_UDPS:
    *method_ok = get || post;
    return 1;
  case X_UDP:
    *method_ok = get || post || patch || del;
    return 1;
  case X_PARTITION:
    *method_ok = get || post || del;
    return 1;
  default:
    return 0;
  }
}

static const char *dir_name(int d) {
  switch (d) {
  case FL_BOTH:
    return "both";
  case FL_UPSTREAM:
    return "upstream";
  case FL_DOWNSTREAM:
    return "downstream";
  default:
    return "none";
  }
}

static int dir_parse(const char *s) {
  if (strcmp(s, "both") == 0)
    return FL_BOTH;
  if (strcmp(s, "upstream") == 0)
    return FL_UPSTREAM;
  if (strcmp(s, "downstream") == 0)
    return FL_DOWNSTREAM;
  return -1;
}

static json_t *parse_body(const fl_api_req_t *req, fl_api_res_t *res) {
  char msg[512];
  json_t *v = api_parse(req->body, req->body_len, msg, sizeof(msg));
  if (v == NULL)
    api_error(res, 400, "bad request body: %s", msg);
  else if (!json_is_object(v)) {
    api_error(res, 400, "bad request body: expected a JSON object");
    json_decref(v);
    v = NULL;
  }
  return v;
}

static void set_str(char **dst, const json_t *v) {
  if (!json_is_string(v))
    return;
  fl_free(*dst);
  *dst = json_string_length(v) ? fl_strdup(json_string_value(v)) : NULL;
}

/* ---- metrics ------------------------------------------------------------ */

/* A label value with \, " and newlines escaped (the caller frees). */
static char *esc(const char *s) {
  char *out = fl_malloc(strlen(s) * 2 + 1);
  size_t n = 0;
  for (; *s; s++) {
    if (*s == '\\' || *s == '"') {
      out[n++] = '\\';
      out[n++] = *s;
    } else if (*s == '\n') {
      out[n++] = '\\';
      out[n++] = 'n';
    } else {
      out[n++] = *s;
    }
  }
  out[n] = '\0';
  return out;
}

static void help(fl_buf_t *b, const char *name, const char *type, const char *text) {
  fl_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* Escaped labels and a stats snapshot of every TCP proxy, taken once so
 * that each metric family reads the same numbers. */
typedef struct tcp_snap_s {
  size_t n;
  char **names, **lsn, **ups;
  fl_proxy_stats_t *st;
} tcp_snap_t;

/* Fills s from the API's TCP proxies (free with tcp_snap_free). */
static void tcp_snap_take(fl_api_t *api, tcp_snap_t *s) {
  size_t np = api->tcp.n;
  s->n = np;
  s->names = fl_calloc(np + 1, sizeof(char *));
  s->lsn = fl_calloc(np + 1, sizeof(char *));
  s->ups = fl_calloc(np + 1, sizeof(char *));
  s->st = fl_calloc(np + 1, sizeof(*s->st));
  for (size_t i = 0; i < np; i++) {
    api_proxy_t *ap = api->tcp.items[i];
    s->names[i] = esc(ap->name);
    s->lsn[i] = esc(ap->listen);
    s->ups[i] = esc(fl_proxy_upstream(ap->p));
    fl_proxy_stats(ap->p, &s->st[i]);
  }
}

/* Frees what tcp_snap_take allocated. */
static void tcp_snap_free(tcp_snap_t *s) {
  for (size_t i = 0; i < s->n; i++) {
    fl_free(s->names[i]);
    fl_free(s->lsn[i]);
    fl_free(s->ups[i]);
  }
  fl_free(s->names);
  fl_free(s->lsn);
  fl_free(s->ups);
  fl_free(s->st);
}

/* The byte counters, under Toxiproxy's own names and labels (METRICS.md). */
static void metrics_tcp_bytes(fl_buf_t *b, const tcp_snap_t *s) {
  char **names = s->names, **lsn = s->lsn, **ups = s->ups;
  const fl_proxy_stats_t *st = s->st;
  help(b, "toxiproxy_proxy_received_bytes_total", "counter",
       "Bytes the proxy read: from clients (upstream) or from the server (downstream).");
  for (size_t i = 0; i < s->n; i++) {
    fl_buf_printf(
        b,
        "toxiproxy_proxy_received_bytes_total{direction=\"upstream\",listener=\"%s\","
        "proxy=\"%s\",upstream=\"%s\"} %llu\n",
        lsn[i], names[i], ups[i], (unsigned long long)st[i].bytes_read_upstream);
    fl_buf_printf(
        b,
        "toxiproxy_proxy_received_bytes_total{direction=\"downstream\",listener=\"%s\","
        "proxy=\"%s\",upstream=\"%s\"} %llu\n",
        lsn[i], names[i], ups[i], (unsigned long long)st[i].bytes_read_downstream);
  }
  help(b, "toxiproxy_proxy_sent_bytes_total", "counter",
       "Bytes the proxy delivered: to the server (upstream) or to clients (downstream).");
  for (size_t i = 0; i < s->n; i++) {
    fl_buf_printf(
        b,
        "toxiproxy_proxy_sent_bytes_total{direction=\"upstream\",listener=\"%s\","
        "proxy=\"%s\",upstream=\"%s\"} %llu\n",
        lsn[i], names[i], ups[i], (unsigned long long)st[i].bytes_upstream);
    fl_buf_printf(
        b,
        "toxiproxy_proxy_sent_bytes_total{direction=\"downstream\",listener=\"%s\","
        "proxy=\"%s\",upstream=\"%s\"} %llu\n",
        lsn[i], names[i], ups[i], (unsigned long long)st[i].bytes_downstream);
  }
}

/* Connection counts and whether each TCP proxy listens. */
static void metrics_tcp_conns(fl_buf_t *b, fl_api_t *api, const tcp_snap_t *s) {
  char **names = s->names;
  const fl_proxy_stats_t *st = s->st;
  help(b, "faultline_proxy_connections_open", "gauge", "Proxied connections open now.");
  for (size_t i = 0; i < s->n; i++)
    fl_buf_printf(b, "faultline_proxy_connections_open{proxy=\"%s\"} %llu\n", names[i],
                  (unsigned long long)st[i].connections_open);
  help(b, "faultline_proxy_connections_total", "counter", "Connections accepted.");
  for (size_t i = 0; i < s->n; i++)
    fl_buf_printf(b, "faultline_proxy_connections_total{proxy=\"%s\"} %llu\n", names[i],
                  (unsigned long long)st[i].connections_total);
  help(b, "faultline_proxy_connect_errors_total", "counter",
       "Connections closed because the upstream could not be reached.");
  for (size_t i = 0; i < s->n; i++)
    fl_buf_printf(b, "faultline_proxy_connect_errors_total{proxy=\"%s\"} %llu\n",
                  names[i], (unsigned long long)st[i].connect_errors);
  help(b, "faultline_proxy_enabled", "gauge", "1 when the proxy listens.");
  for (size_t i = 0; i < s->n; i++)
    fl_buf_printf(b, "faultline_proxy_enabled{proxy=\"%s\"} %d\n", names[i],
                  fl_proxy_enabled(((api_proxy_t *)api->tcp.items[i])->p));
}

/* Toxics per stream and cut directions of each TCP proxy. */
static void metrics_tcp_faults(fl_buf_t *b, fl_api_t *api, const tcp_snap_t *s) {
  char **names = s->names;
  help(b, "faultline_proxy_toxics_active", "gauge", "Toxics on the proxy, per stream.");
  for (size_t i = 0; i < s->n; i++) {
    json_t *all = fl_proxy_toxics_json(((api_proxy_t *)api->tcp.items[i])->p);
    int up = 0, down = 0;
    size_t k;
    json_t *t;
    json_array_foreach(all, k, t) {
      if (strcmp(json_string_value(json_object_get(t, "stream")), "upstream") == 0)
        up++;
      else
        down++;
    }
    json_decref(all);
    fl_buf_printf(b,
                  "faultline_proxy_toxics_active{proxy=\"%s\",stream=\"upstream\"} %d\n",
                  names[i], up);
    fl_buf_printf(
        b, "faultline_proxy_toxics_active{proxy=\"%s\",stream=\"downstream\"} %d\n",
        names[i], down);
  }
  help(b, "faultline_proxy_partitioned", "gauge", "1 when the direction is cut.");
  for (size_t i = 0; i < s->n; i++) {
    int cut = fl_proxy_partitioned(((api_proxy_t *)api->tcp.items[i])->p);
    fl_buf_printf(b,
                  "faultline_proxy_partitioned{proxy=\"%s\",direction=\"upstream\"} %d\n",
                  names[i], (cut & FL_UPSTREAM) != 0);
    fl_buf_printf(
        b, "faultline_proxy_partitioned{proxy=\"%s\",direction=\"downstream\"} %d\n",
        names[i], (cut & FL_DOWNSTREAM) != 0);
  }
}

/* The UDP proxies' sessions and datagram counters (nothing when none). */
static void metrics_udp(fl_buf_t *b, fl_api_t *api) {
  static const struct {
    const char *name, *type, *help;
  } udp_rows[] = {
      {"faultline_udp_datagrams_received_total", "counter",
       "Datagrams that reached the proxy."},
      {"faultline_udp_datagrams_sent_total", "counter", "Datagrams sent on."},
      {"faultline_udp_datagrams_dropped_total", "counter",
       "Datagrams lost on purpose or cut."},
      {"faultline_udp_datagrams_duplicated_total", "counter", "Extra copies sent."},
      {"faultline_udp_datagrams_reordered_total", "counter", "Datagrams held back."},
  };
  size_t nu = api->udp.n;
  if (nu == 0)
    return;
  fl_udp_stats_t *us = fl_calloc(nu, sizeof(*us));
  char **un = fl_calloc(nu, sizeof(char *));
  for (size_t i = 0; i < nu; i++) {
    api_udp_t *au = api->udp.items[i];
    fl_udp_proxy_stats(au->u, &us[i]);
    un[i] = esc(au->name);
  }
  help(b, "faultline_udp_sessions_open", "gauge", "UDP sessions open now.");
  for (size_t i = 0; i < nu; i++)
    fl_buf_printf(b, "faultline_udp_sessions_open{proxy=\"%s\"} %llu\n", un[i],
                  (unsigned long long)us[i].sessions_open);
  for (size_t r = 0; r < FL_ARRAY_SIZE(udp_rows); r++) {
    help(b, udp_rows[r].name, udp_rows[r].type, udp_rows[r].help);
    for (size_t i = 0; i < nu; i++) {
      const uint64_t *v = r == 0   ? us[i].received
                          : r == 1 ? us[i].sent
                          : r == 2 ? us[i].dropped
                          : r == 3 ? us[i].duplicated
                                   : us[i].reordered;
      fl_buf_printf(b, "%s{proxy=\"%s\",direction=\"upstream\"} %llu\n", udp_rows[r].name,
                    un[i], (unsigned long long)v[0]);
      fl_buf_printf(b, "%s{proxy=\"%s\",direction=\"downstream\"} %llu\n",
                    udp_rows[r].name, un[i], (unsigned long long)v[1]);
    }
  }
  for (size_t i = 0; i < nu; i++)
    fl_free(un[i]);
  fl_free(un);
  fl_free(us);
}

/* GET /metrics: every proxy's counters, then the API's own, in the
 * Prometheus text format. */
static void metrics_ep(fl_api_t *api, fl_api_res_t *res) {
  fl_buf_t b;
  fl_buf_init(&b, 64u << 20); /* far above what any number of proxies writes */
  tcp_snap_t snap;
  tcp_snap_take(api, &snap);
  metrics_tcp_bytes(&b, &snap);
  metrics_tcp_conns(&b, api, &snap);
  metrics_tcp_faults(&b, api, &snap);
  tcp_snap_free(&snap);
  metrics_udp(&b, api);
  help(&b, "faultline_api_requests_total", "counter", "API requests answered.");
  fl_buf_printf(&b, "faultline_api_requests_total %llu\n",
                (unsigned long long)api->requests);
  help(&b, "faultline_api_connections_open", "gauge", "API connections open now.");
  fl_buf_printf(&b, "faultline_api_connections_open %d\n",
                api->httpd ? fl_api_httpd_connections(api->httpd) : 0);

  fl_free(res->body);
  res->status = 200;
  res->content_type = "text/plain; version=0.0.4; charset=utf-8";
  res->body = b.data != NULL ? b.data : fl_strdup(""); /* taken from b */
  res->body_len = b.len;
}

/* ---- UDP proxies -------------------------------------------------------- */

static json_t *udp_json(const api_udp_t *au) {
  json_t *o = fl_udp_proxy_to_json(au->u);
  if (au->from != NULL)
    json_object_set_new(o, "from", json_string(au->from));
  if (au->to != NULL)
    json_object_set_new(o, "to", json_string(au->to));
  return o;
}

static json_t *faults_json(const fl_udp_faults_t *f) {
  return json_pack("{s:f, s:i, s:i, s:f, s:f, s:i}", "loss", f->loss, "latency",
                   (int)f->latency, "jitter", (int)f->jitter, "duplicate", f->duplicate,
                   "reorder", f->reorder, "reorder_gap", (int)f->reorder_gap);
}

/* Applies {"upstream": {...}, "downstream": {...}, "both": {...}}; on an
 * error nothing changed. Returns 0, or -1 with the message in err. */
static int udp_set_faults(fl_udp_proxy_t *u, const json_t *faults, char *err, size_t n) {
  fl_udp_faults_t saved[2];
  const char *key;
  json_t *v;
  fl_err_t e;
  if (faults == NULL || json_is_null(faults))
    return 0;
  if (!json_is_object(faults)) {
    snprintf(err, n, "field \"faults\" must be an object");
    return -1;
  }
  json_object_foreach((json_t *)faults, key, v) {
    if (dir_parse(key) < 0) {
      snprintf(err, n, "field \"faults.%s\": expected upstream, downstream or both", key);
      return -1;
    }
  }
  fl_udp_proxy_get_faults(u, FL_UPSTREAM, &saved[0]);
  fl_udp_proxy_get_faults(u, FL_DOWNSTREAM, &saved[1]);
  json_object_foreach((json_t *)faults, key, v) {
    if (fl_udp_proxy_set_faults(u, dir_parse(key), v, &e) != 0) {
      snprintf(err, n, "faults.%.40s: %.400s", key, e.msg);
      for (int d = 0; d < 2; d++) {
        json_t *old = faults_json(&saved[d]);
        fl_udp_proxy_set_faults(u, d == 0 ? FL_UPSTREAM : FL_DOWNSTREAM, old, &e);
        json_decref(old);
      }
      return -1;
    }
  }
  return 0;
}

static void udp_create(fl_api_t *api, const fl_api_req_t *req, fl_api_res_t *res) {
  char msg[512];
  fl_err_t e;
  fl_udp_proxy_t *u;
  const char *name = "", *listen = "", *upstream = "";
  json_t *body = parse_body(req, res);
  if (body == NULL)
    return;
  json_t *idle = json_object_get(body, "idle_timeout_ms");
  if (api_get_str(body, "name", "UdpProxy", &name, msg, sizeof(msg)) ||
      api_get_str(body, "listen", "UdpProxy", &listen, msg, sizeof(msg)) ||
      api_get_str(body, "upstream", "UdpProxy", &upstream, msg, sizeof(msg))) {
    api_error(res, 400, "bad request body: %s", msg);
  } else if (idle != NULL && !(json_is_integer(idle) && json_integer_value(idle) >= 1)) {
    api_error(res, 400,
              "bad request body: field \"idle_timeout_ms\" must be an integer >= 1");
  } else if (name[0] == '\0') {
    api_error(res, 400, "missing required field: name");
  } else if (upstream[0] == '\0') {
    api_error(res, 400, "missing required field: upstream");
  } else if (api_list_find(&api->udp, name) != NULL) {
    api_error(res, 409, "proxy already exists");
  } else {
    if (api->listen_override != NULL || listen[0] == '\0')
      listen = api->listen_override ? api->listen_override : "127.0.0.1:0";
    int rc = fl_udp_proxy_new(&u, api->loop, name, listen, upstream, &e);
    if (rc != 0) {
      api_error(res, rc == FL_ECONFIG ? 400 : 500, "%.600s", e.msg);
      goto out;
    }
    api_udp_t *au = fl_calloc(1, sizeof(*au));
    au->name = fl_strdup(name);
    au->u = u;
    set_str(&au->from, json_object_get(body, "from"));
    set_str(&au->to, json_object_get(body, "to"));
    if (api->seed_given)
      fl_udp_proxy_set_seed(u, fl_seed_for(api->seed, name));
    if (idle != NULL)
      fl_udp_proxy_set_idle_timeout(u, (uint64_t)json_integer_value(idle));
    if (udp_set_faults(u, json_object_get(body, "faults"), msg, sizeof(msg)) != 0) {
      api_error(res, 400, "bad request body: %s", msg);
      api_udp_free(api, au);
      goto out;
    }
    api_list_insert(&api->udp, au);
    api_json(res, 201, udp_json(au));
  }
out:
  json_decref(body);
}

static void udp_update(api_udp_t *au, const fl_api_req_t *req, fl_api_res_t *res) {
  char msg[512];
  fl_err_t e;
  const char *upstream = NULL;
  json_t *body = parse_body(req, res);
  if (body == NULL)
    return;
  if (api_get_str(body, "upstream", "UdpProxy", &upstream, msg, sizeof(msg))) {
    api_error(res, 400, "bad request body: %s", msg);
  } else if (udp_set_faults(au->u, json_object_get(body, "faults"), msg, sizeof(msg)) !=
             0) {
    api_error(res, 400, "bad request body: %s", msg);
  } else if (upstream != NULL && strcmp(upstream, fl_udp_proxy_upstream(au->u)) != 0 &&
             fl_udp_proxy_set_upstream(au->u, upstream, &e) != 0) {
    api_error(res, 400, "bad request body: %.600s", e.msg);
  } else {
    set_str(&au->from, json_object_get(body, "from"));
    set_str(&au->to, json_object_get(body, "to"));
    api_json(res, 200, udp_json(au));
  }
  json_decref(body);
}

/* ---- partitions --------------------------------------------------------- */

/* A link a partition can cut: a TCP or UDP proxy. */
typedef struct link_s {
  const char *name, *protocol, *from, *to;
  fl_proxy_t *p;
  fl_udp_proxy_t *u;
} link_t;

static size_t links_of(fl_api_t *api, link_t **out) {
  size_t n = api->tcp.n + api->udp.n, k = 0;
  link_t *l = fl_calloc(n + 1, sizeof(*l));
  for (size_t i = 0; i < api->tcp.n; i++, k++) {
    api_proxy_t *ap = api->tcp.items[i];
    l[k] = (link_t){ap->name, "tcp", ap->from, ap->to, ap->p, NULL};
  }
  for (size_t i = 0; i < api->udp.n; i++, k++) {
    api_udp_t *au = api->udp.items[i];
    l[k] = (link_t){au->name, "udp", au->from, au->to, NULL, au->u};
  }
  *out = l;
  return n;
}

static int link_cut(const link_t *l) {
  return l->p ? fl_proxy_partitioned(l->p) : fl_udp_proxy_partitioned(l->u);
}

/* A list of node names: a string or an array of strings, copied into set
 * (a JSON object used as a set). Returns 0 or -1. */
static int name_set(const json_t *v, json_t *set, int group, json_t *seen) {
  size_t i;
  json_t *x;
  if (json_is_string(v)) {
    json_object_set_new(set, json_string_value(v), json_integer(group));
    return 0;
  }
  if (!json_is_array(v))
    return -1;
  json_array_foreach(v, i, x) {
    if (!json_is_string(x))
      return -1;
    if (seen != NULL && json_object_get(seen, json_string_value(x)) != NULL)
      return -2;
    json_object_set_new(set, json_string_value(x), json_integer(group));
    if (seen != NULL)
      json_object_set_new(seen, json_string_value(x), json_true());
  }
  return 0;
}

static int group_of(const json_t *set, const char *node) {
  json_t *g = node ? json_object_get(set, node) : NULL;
  return g ? (int)json_integer_value(g) : -1;
}

/* {"proxies": [...], "direction": d}: marks the named links in dirs.
 * Returns 0, or -1 with the error response written. */
static int cut_by_proxies(const json_t *body, const link_t *links, size_t n, int *dirs,
                          fl_api_res_t *res) {
  json_t *proxies = json_object_get(body, "proxies");
  int dir = FL_BOTH;
  json_t *d = json_object_get(body, "direction");
  size_t i, j;
  json_t *x;
  if (d != NULL && (!json_is_string(d) || (dir = dir_parse(json_string_value(d))) < 0)) {
    api_error(res, 400,
              "bad request body: field \"direction\" must be upstream, "
              "downstream or both");
    return -1;
  }
  if (!json_is_array(proxies) || json_array_size(proxies) == 0) {
    api_error(res, 400, "bad request body: field \"proxies\" must be a list of names");
    return -1;
  }
  json_array_foreach(proxies, j, x) {
    int hit = 0;
    if (!json_is_string(x)) {
      api_error(res, 400, "bad request body: field \"proxies\" must be a list of names");
      return -1;
    }
    for (i = 0; i < n; i++) {
      if (strcmp(links[i].name, json_string_value(x)) == 0) {
        dirs[i] = dir;
        hit = 1;
      }
    }
    if (!hit) {
      api_error(res, 404, "proxy not found");
      return -1;
    }
  }
  return 0;
}

/* {"groups": [[...], [...]]}: marks, both ways, every link between two
 * groups. Returns 0, or -1 with the error response written. */
static int cut_by_groups(const json_t *groups, const link_t *links, size_t n, int *dirs,
                         fl_api_res_t *res) {
  json_t *set = json_object(), *seen = json_object();
  int bad = !json_is_array(groups) || json_array_size(groups) < 2;
  size_t i, j;
  json_t *x;
  json_array_foreach(groups, j, x) {
    int rc = bad ? -1 : name_set(x, set, (int)j, seen);
    if (rc == -2) {
      api_error(res, 400, "bad request body: a node is in two groups");
      json_decref(set);
      json_decref(seen);
      return -1;
    }
    bad |= rc != 0;
  }
  json_decref(seen);
  if (bad) {
    json_decref(set);
    api_error(res, 400,
              "bad request body: field \"groups\" must be a list of at least "
              "two lists of node names");
    return -1;
  }
  for (i = 0; i < n; i++) {
    int a = group_of(set, links[i].from), b = group_of(set, links[i].to);
    if (a >= 0 && b >= 0 && a != b)
      dirs[i] = FL_BOTH;
  }
  json_decref(set);
  return 0;
}

/* {"from": ..., "to": ...}: marks the directions that carry bytes from a
 * `from` node to a `to` node. Returns 0, or -1 with the error written. */
static int cut_by_from_to(const json_t *from, const json_t *to, const link_t *links,
                          size_t n, int *dirs, fl_api_res_t *res) {
  json_t *fs = json_object(), *ts = json_object();
  if (from == NULL || to == NULL || name_set(from, fs, 0, NULL) != 0 ||
      name_set(to, ts, 0, NULL) != 0) {
    json_decref(fs);
    json_decref(ts);
    api_error(res, 400, "bad request body: \"from\" and \"to\" must be node names");
    return -1;
  }
  /* Bytes from a `from` node to a `to` node: its requests on from->to
   * links, the answers on to->from links. */
  for (size_t i = 0; i < n; i++) {
    if (group_of(fs, links[i].from) >= 0 && group_of(ts, links[i].to) >= 0)
      dirs[i] |= FL_UPSTREAM;
    if (group_of(ts, links[i].from) >= 0 && group_of(fs, links[i].to) >= 0)
      dirs[i] |= FL_DOWNSTREAM;
  }
  json_decref(fs);
  json_decref(ts);
  return 0;
}

/* Cuts each marked link; returns new: the array of links now cut. */
static json_t *apply_cuts(const link_t *links, size_t n, const int *dirs) {
  json_t *cut = json_array();
  for (size_t i = 0; i < n; i++) {
    if (dirs[i] == 0)
      continue;
    if (links[i].p != NULL)
      fl_proxy_partition(links[i].p, dirs[i]);
    else
      fl_udp_proxy_partition(links[i].u, dirs[i]);
    json_array_append_new(cut, json_pack("{s:s, s:s, s:s}", "name", links[i].name,
                                         "protocol", links[i].protocol, "direction",
                                         dir_name(link_cut(&links[i]))));
  }
  return cut;
}

/* POST /partition: one of three forms picks the links to cut, then cuts them. */
static void partition_post(fl_api_t *api, const fl_api_req_t *req, fl_api_res_t *res) {
  link_t *links;
  json_t *body = parse_body(req, res);
  if (body == NULL)
    return;
  size_t n = links_of(api, &links);
  int *dirs = fl_calloc(n + 1, sizeof(int));
  json_t *proxies = json_object_get(body, "proxies");
  json_t *groups = json_object_get(body, "groups");
  json_t *from = json_object_get(body, "from"), *to = json_object_get(body, "to");
  int forms = (proxies != NULL) + (groups != NULL) + (from != NULL || to != NULL);
  int rc;

  if (forms != 1) {
    api_error(res, 400,
              "bad request body: give one of \"proxies\", \"groups\", or "
              "\"from\" and \"to\"");
    goto out;
  }
  if (proxies != NULL)
    rc = cut_by_proxies(body, links, n, dirs, res);
  else if (groups != NULL)
    rc = cut_by_groups(groups, links, n, dirs, res);
  else
    rc = cut_by_from_to(from, to, links, n, dirs, res);
  if (rc != 0)
    goto out;
  json_t *cut = apply_cuts(links, n, dirs);
  if (json_array_size(cut) == 0) {
    json_decref(cut);
    api_error(res, 400, "no proxy links these groups (give proxies \"from\" and \"to\")");
    goto out;
  }
  api_json(res, 200, json_pack("{s:o}", "cut", cut));
out:
  fl_free(dirs);
  fl_free(links);
  json_decref(body);
}

static void partition_get(fl_api_t *api, fl_api_res_t *res) {
  link_t *links;
  size_t n = links_of(api, &links);
  json_t *a = json_array();
  for (size_t i = 0; i < n; i++) {
    json_t *o =
        json_pack("{s:s, s:s}", "name", links[i].name, "protocol", links[i].protocol);
    json_object_set_new(o, "from",
                        links[i].from ? json_string(links[i].from) : json_null());
    json_object_set_new(o, "to", links[i].to ? json_string(links[i].to) : json_null());
    json_object_set_new(o, "partition", json_string(dir_name(link_cut(&links[i]))));
    json_array_append_new(a, o);
  }
  fl_free(links);
  api_json(res, 200, json_pack("{s:o}", "proxies", a));
}

void api_ext_reset(fl_api_t *api) {
  api_httpf_reset(api);
  for (size_t i = 0; i < api->tcp.n; i++)
    fl_proxy_heal(((api_proxy_t *)api->tcp.items[i])->p);
  for (size_t i = 0; i < api->udp.n; i++) {
    api_udp_t *au = api->udp.items[i];
    fl_udp_proxy_heal(au->u);
    fl_udp_proxy_clear_faults(au->u);
  }
}

void api_ext_route(fl_api_t *api, const char *method, char **seg, int nseg,
                   const fl_api_req_t *req, fl_api_res_t *res) {
  int get = strcmp(method, "GET") == 0, del = strcmp(method, "DELETE") == 0;
  int ok;
  if (api_httpf_match(seg, nseg, method, &ok)) {
    api_httpf_route(api, method, seg, nseg, req, res);
    return;
  }
  switch (xroute_of(seg, nseg)) {
  case X_METRICS:
    metrics_ep(api, res);
    return;
  case X_VERSION:
    api_json(res, 200,
             json_pack("{s:s, s:s}", "faultline", FL_VERSION, "toxiproxy_api",
                       FL_API_TOXIPROXY_VERSION));
    return;
  case X_UDPS:
    if (get) {
      json_t *o = json_object();
      for (size_t i = 0; i < api->udp.n; i++) {
        api_udp_t *au = api->udp.items[i];
        json_object_set_new(o, au->name, udp_json(au));
      }
      api_json(res, 200, o);
    } else {
      udp_create(api, req, res);
    }
    return;
  case X_UDP: {
    api_udp_t *au = api_list_find(&api->udp, seg[2]);
    if (au == NULL)
      api_error(res, 404, "proxy not found");
    else if (get)
      api_json(res, 200, udp_json(au));
    else if (del) {
      api_list_remove(&api->udp, au);
      api_udp_free(api, au);
      api_empty(res, 204);
    } else
      udp_update(au, req, res);
    return;
  }
  case X_PARTITION:
    if (get)
      partition_get(api, res);
    else if (del) {
      for (size_t i = 0; i < api->tcp.n; i++)
        fl_proxy_heal(((api_proxy_t *)api->tcp.items[i])->p);
      for (size_t i = 0; i < api->udp.n; i++)
        fl_udp_proxy_heal(((api_udp_t *)api->udp.items[i])->u);
      api_empty(res, 204);
    } else
      partition_post(api, req, res);
    return;
  default:
    api_error(res, 404, "not found");
    return;
  }
}
