/* fl.proxy{...}: a TCP fault proxy (faults/proxy.h) as a Lua object.
 *
 * A proxy stands for one directed link, `from` reaching `to`; faults on it
 * are recorded on the timeline by this binding, with those names as targets,
 * so a report says "latency on n1 -> n2" rather than a port. The userdata is
 * anchored for the scenario's life and the proxy is closed with it. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "faults/proxy.h"
#include "base/alloc.h"
#include "base/prng.h"
#include "harness/engine.h"
#include "harness/lua_core.h"
#include "harness/lua_link.h"
#include "harness/probe.h"
#include "base/error.h"

static const char PROXY_MT[] = "faultline.proxy";

typedef struct toxic_fault_s {
  char *name;
  int fault;
  struct toxic_fault_s *next;
} toxic_fault_t;

/* An HTTP fault rule's recorded fault: attrs is the fault's attrs object on
 * the timeline (a reference kept), whose counters are refreshed. */
typedef struct http_fault_s {
  char *name;
  int fault;
  json_t *attrs;
  struct http_fault_s *next;
} http_fault_t;

typedef struct {
  fl_lua_link_t link; /* first: name, ends, scenario, partition of its own */
  fl_proxy_t *p;
  int down_fault;
  toxic_fault_t *toxics;
  http_fault_t *http;
} lproxy_t;

static void http_refresh(lproxy_t *x);
static void http_forget(lproxy_t *x);

static lproxy_t *check_proxy(lua_State *L, int i) {
  lproxy_t *x = luaL_checkudata(L, i, PROXY_MT);
  if (x->link.closed)
    luaL_error(L, "attempt to use proxy %s after its scenario ended", x->link.name);
  return x;
}

static void proxy_closer(void *data, void (*done)(void *), void *done_arg) {
  lproxy_t *x = data;
  http_refresh(x); /* the report reads the counters as they end */
  x->link.closed = 1;
  fl_proxy_t *p = x->p;
  x->p = NULL;
  fl_proxy_close(p, fl_done_fire, fl_done_new(done, done_arg));
}

static int l_proxy(lua_State *L) {
  static const char *const keys[] = {"name", "listen", "upstream", "from", "to", NULL};
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_lua_check_keys(L, 1, "fl.proxy", keys);
  lua_getfield(L, 1, "upstream");
  const char *upstream = lua_tostring(L, -1);
  if (upstream == NULL)
    return luaL_error(L, "fl.proxy: 'upstream' (\"host:port\") is required");
  lua_getfield(L, 1, "listen");
  const char *listen = luaL_optstring(L, -1, "127.0.0.1:0");
  lua_getfield(L, 1, "from");
  const char *from = lua_tostring(L, -1);
  lua_getfield(L, 1, "to");
  const char *to = lua_tostring(L, -1);
  lua_getfield(L, 1, "name");
  const char *name = lua_tostring(L, -1);
  lproxy_t *x = lua_newuserdatauv(L, sizeof(*x), 0);
  memset(x, 0, sizeof(*x));
  fl_lua_link_init(&x->link, sc, name, from, to, upstream, "");
  x->link.closed = 1; /* until the proxy exists */
  luaL_setmetatable(L, PROXY_MT);
  fl_err_t err = {0};
  if (fl_proxy_new(&x->p, fl_scenario_loop(sc), x->link.name, listen, upstream, &err) < 0)
    return luaL_error(L, "fl.proxy %s: %s", x->link.name, err.msg);
  /* Each link its own stream: the run's seed and the link's name. */
  fl_proxy_set_seed(x->p, fl_seed_for(fl_scenario_seed(x->link.sc), x->link.name));
  x->link.closed = 0;
  lua_pushvalue(L, -1);
  luaL_ref(L, LUA_REGISTRYINDEX);
  fl_scenario_on_close(sc, proxy_closer, x);
  return 1;
}

/* :add_toxic{type=, name=, stream=, toxicity=, attributes={...} or the
 * attributes themselves as fields} */
static int l_add_toxic(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  json_t *in = fl_lua_to_json(L, 2);
  json_t *spec = json_object();
  json_t *attrs = json_object_get(in, "attributes");
  attrs = attrs ? json_incref(attrs) : json_object();
  const char *k;
  json_t *v;
  json_object_foreach(in, k, v) {
    if (strcmp(k, "type") == 0 || strcmp(k, "name") == 0 || strcmp(k, "stream") == 0 ||
        strcmp(k, "toxicity") == 0)
      json_object_set(spec, k, v);
    else if (strcmp(k, "attributes") != 0)
      json_object_set(attrs, k, v);
  }
  json_object_set_new(spec, "attributes", attrs);
  json_decref(in);
  fl_err_t err = {0};
  if (fl_proxy_add_toxic(x->p, spec, &err) < 0) {
    json_decref(spec);
    return luaL_error(L, "proxy %s: %s", x->link.name, err.msg);
  }
  const char *type = json_string_value(json_object_get(spec, "type"));
  const char *stream = json_string_value(json_object_get(spec, "stream"));
  const char *tname = json_string_value(json_object_get(spec, "name"));
  char *defname = NULL;
  if (tname == NULL)
    tname = defname = fl_asprintf("%s_%s", type, stream ? stream : "downstream");
  json_t *fattrs = json_deep_copy(json_object_get(spec, "attributes"));
  json_object_set_new(fattrs, "stream", json_string(stream ? stream : "downstream"));
  json_object_set_new(fattrs, "proxy", json_string(x->link.name));
  /* Two toxics on one proxy are two faults: the name tells them apart. */
  json_object_set_new(fattrs, "toxic", json_string(tname));
  if (json_object_get(spec, "toxicity"))
    json_object_set(fattrs, "toxicity", json_object_get(spec, "toxicity"));
  toxic_fault_t *tf = fl_malloc(sizeof(*tf));
  tf->name = fl_strdup(tname);
  tf->fault = fl_timeline_fault_begin(fl_scenario_timeline(x->link.sc), type,
                                      fl_lua_link_targets(&x->link), fattrs);
  tf->next = x->toxics;
  x->toxics = tf;
  lua_pushstring(L, tname);
  fl_free(defname);
  json_decref(spec);
  return 1;
}

static int l_update_toxic(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  const char *name = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  json_t *in = fl_lua_to_json(L, 3);
  json_t *spec = json_object();
  json_t *attrs = json_object();
  const char *k;
  json_t *v;
  json_object_foreach(in, k, v) {
    if (strcmp(k, "toxicity") == 0)
      json_object_set(spec, k, v);
    else if (strcmp(k, "attributes") == 0)
      json_object_update(attrs, v);
    else
      json_object_set(attrs, k, v);
  }
  json_object_set_new(spec, "attributes", attrs);
  json_decref(in);
  fl_err_t err = {0};
  int rc = fl_proxy_update_toxic(x->p, name, spec, &err);
  json_t *ev =
      json_pack("{s:s, s:s, s:O}", "proxy", x->link.name, "toxic", name, "spec", spec);
  json_decref(spec);
  if (rc < 0) {
    json_decref(ev);
    return luaL_error(L, "proxy %s: %s", x->link.name, err.msg);
  }
  fl_timeline_event(fl_scenario_timeline(x->link.sc), "toxic-update", ev);
  return 0;
}

/* Ends the recorded fault of the toxic called name, or of every toxic. */
static void end_toxic_fault(lproxy_t *x, const char *name) {
  toxic_fault_t **pp = &x->toxics;
  while (*pp != NULL) {
    toxic_fault_t *tf = *pp;
    if (name != NULL && strcmp(tf->name, name) != 0) {
      pp = &tf->next;
      continue;
    }
    fl_timeline_fault_end(fl_scenario_timeline(x->link.sc), tf->fault);
    *pp = tf->next;
    fl_free(tf->name);
    fl_free(tf);
  }
}

static int l_remove_toxic(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  const char *name = luaL_checkstring(L, 2);
  fl_err_t err = {0};
  if (fl_proxy_remove_toxic(x->p, name, &err) < 0)
    return luaL_error(L, "proxy %s: %s", x->link.name, err.msg);
  end_toxic_fault(x, name);
  return 0;
}

static int l_remove_all(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  fl_proxy_remove_all_toxics(x->p);
  end_toxic_fault(x, NULL);
  return 0;
}

static int l_disable(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  fl_proxy_set_enabled(x->p, 0);
  if (!x->down_fault)
    x->down_fault = fl_timeline_fault_begin(fl_scenario_timeline(x->link.sc), "down",
                                            fl_lua_link_targets(&x->link),
                                            json_pack("{s:s}", "proxy", x->link.name));
  return 0;
}

static int l_enable(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  fl_err_t err = {0};
  if (fl_proxy_enable(x->p, &err) < 0)
    return luaL_error(L, "proxy %s: cannot enable: %s", x->link.name, err.msg);
  if (x->down_fault) {
    fl_timeline_fault_end(fl_scenario_timeline(x->link.sc), x->down_fault);
    x->down_fault = 0;
  }
  return 0;
}

/* :partition([directions]) on this proxy alone; recorded unless `quiet`
 * (fl.partition records one fault for the whole cut). */
static int l_partition(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  const char *dir;
  int bits = fl_lua_link_check_direction(L, 2, &dir);
  fl_proxy_partition(x->p, bits);
  if (!lua_toboolean(L, 3))
    fl_lua_link_cut_begin(&x->link, dir);
  return 0;
}

static int l_heal(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  fl_proxy_heal(x->p);
  fl_lua_link_cut_end(&x->link);
  return 0;
}

static int l_stats(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  fl_proxy_stats_t s;
  fl_proxy_stats(x->p, &s);
  lua_createtable(L, 0, 7);
  lua_pushinteger(L, (lua_Integer)s.connections_open);
  lua_setfield(L, -2, "connections_open");
  lua_pushinteger(L, (lua_Integer)s.connections_total);
  lua_setfield(L, -2, "connections_total");
  lua_pushinteger(L, (lua_Integer)s.connect_errors);
  lua_setfield(L, -2, "connect_errors");
  lua_pushinteger(L, (lua_Integer)s.bytes_upstream);
  lua_setfield(L, -2, "bytes_upstream");
  lua_pushinteger(L, (lua_Integer)s.bytes_downstream);
  lua_setfield(L, -2, "bytes_downstream");
  lua_pushinteger(L, (lua_Integer)s.bytes_read_upstream);
  lua_setfield(L, -2, "bytes_read_upstream");
  lua_pushinteger(L, (lua_Integer)s.bytes_read_downstream);
  lua_setfield(L, -2, "bytes_read_downstream");
  return 1;
}

static int l_toxics(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  json_t *j = fl_proxy_toxics_json(x->p);
  fl_lua_push_json(L, j);
  json_decref(j);
  return 1;
}

static int l_index(lua_State *L) {
  lproxy_t *x = luaL_checkudata(L, 1, PROXY_MT);
  return fl_lua_link_index(L, &x->link, x->p ? fl_proxy_listen(x->p) : NULL,
                           x->p ? fl_proxy_upstream(x->p) : NULL);
}

static int l_gc(lua_State *L) {
  lproxy_t *x = luaL_checkudata(L, 1, PROXY_MT);
  while (x->toxics != NULL) {
    toxic_fault_t *tf = x->toxics;
    x->toxics = tf->next;
    fl_free(tf->name);
    fl_free(tf);
  }
  http_forget(x);
  fl_lua_link_free(&x->link);
  return 0;
}

static int l_tostring(lua_State *L) {
  lproxy_t *x = luaL_checkudata(L, 1, PROXY_MT);
  lua_pushfstring(L, "proxy %s (%s -> %s)", x->link.name,
                  x->p ? fl_proxy_listen(x->p) : "closed",
                  x->p ? fl_proxy_upstream(x->p) : "");
  return 1;
}

/* core.proxy_probe(proxy, seconds): connects through the proxy, sends a few
 * bytes, waits, and reports whether any reached the upstream: the isolation
 * probe behind fl.expect.isolated. Returns passed (bool), bytes through. */
typedef struct {
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t wr;
  uv_timer_t timer;
  fl_task_t *task;
  lproxy_t *x;
  uint64_t before;
  int connected;
  int open;
  int canceled;
  int err;
} iso_probe_t;

static void iso_closed(uv_handle_t *h) {
  iso_probe_t *p = h->data;
  if (--p->open == 0)
    fl_free(p);
}

static void iso_finish(iso_probe_t *p) {
  if (!uv_is_closing((uv_handle_t *)&p->timer))
    uv_close((uv_handle_t *)&p->timer, iso_closed);
  if (!uv_is_closing((uv_handle_t *)&p->tcp))
    uv_close((uv_handle_t *)&p->tcp, iso_closed);
}

static void iso_cancel(void *data) {
  iso_probe_t *p = data;
  p->canceled = 1;
  iso_finish(p);
}

static void iso_timer(uv_timer_t *t) {
  iso_probe_t *p = t->data;
  fl_task_t *task = p->task;
  uint64_t through = 0;
  if (p->x->p != NULL) {
    fl_proxy_stats_t s;
    fl_proxy_stats(p->x->p, &s);
    through = s.bytes_upstream - p->before;
  }
  int connected = p->connected, err = p->err;
  iso_finish(p);
  lua_State *co = fl_task_thread(task);
  lua_pushboolean(co, through == 0);
  lua_pushinteger(co, (lua_Integer)through);
  lua_pushstring(co, connected ? "connected, bytes sent" : fl_strerror(err));
  fl_task_resume(task, 3);
}

static void iso_written(uv_write_t *w, int status) {
}

static void iso_connected(uv_connect_t *c, int status) {
  iso_probe_t *p = c->data;
  if (status == UV_ECANCELED || p->canceled)
    return;
  if (status < 0) {
    p->err = status;
    return;
  }
  p->connected = 1;
  static char msg[] = "faultline isolation probe\r\n";
  uv_buf_t b = uv_buf_init(msg, sizeof(msg) - 1);
  uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, iso_written);
}

static int l_proxy_probe(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  double secs = luaL_optnumber(L, 2, 0.5);
  fl_task_t *t = fl_task_current(L);
  struct sockaddr_storage addr;
  fl_err_t err = {0};
  if (fl_parse_addr(fl_proxy_listen(x->p), &addr, &err) < 0)
    return luaL_error(L, "%s", err.msg);
  iso_probe_t *p = fl_calloc(1, sizeof(*p));
  p->task = t;
  p->x = x;
  fl_proxy_stats_t s;
  fl_proxy_stats(x->p, &s);
  p->before = s.bytes_upstream;
  uv_loop_t *loop = fl_scenario_loop(x->link.sc);
  uv_tcp_init(loop, &p->tcp);
  uv_timer_init(loop, &p->timer);
  p->tcp.data = p->timer.data = p->conn.data = p;
  p->open = 2;
  int rc = uv_tcp_connect(&p->conn, &p->tcp, (struct sockaddr *)&addr, iso_connected);
  if (rc < 0)
    p->err = rc;
  uv_timer_start(&p->timer, iso_timer, (uint64_t)(secs * 1000), 0);
  return fl_task_yield(L, t, iso_cancel, p);
}

/* HTTP fault rules: each rule is a fault on the timeline, named after the
 * rule, of kind "http_<action>", whose attrs carry its spec and counters
 * (matched, faulted), refreshed when it changes, ends or is listed and
 * when the scenario ends. */

static const char *http_action(const json_t *j) {
  const char *a = json_string_value(json_object_get(j, "action"));
  return a ? a : "fault";
}

/* attrs of the rule's fault from its JSON (borrowed). */
static json_t *http_attrs(lproxy_t *x, const json_t *j) {
  json_t *a = json_deep_copy(j);
  json_object_set_new(a, "proxy", json_string(x->link.name));
  json_object_set(a, "rule", json_object_get(j, "name"));
  json_object_del(a, "name");
  return a;
}

static void http_refresh(lproxy_t *x) {
  if (x->p == NULL)
    return;
  for (http_fault_t *h = x->http; h != NULL; h = h->next) {
    json_t *j = fl_proxy_http_fault_json(x->p, h->name);
    if (j == NULL)
      continue;
    json_object_set(h->attrs, "matched", json_object_get(j, "matched"));
    json_object_set(h->attrs, "faulted", json_object_get(j, "faulted"));
    json_decref(j);
  }
}

static void http_forget(lproxy_t *x) {
  while (x->http != NULL) {
    http_fault_t *h = x->http;
    x->http = h->next;
    json_decref(h->attrs);
    fl_free(h->name);
    fl_free(h);
  }
}

static http_fault_t **http_slot(lproxy_t *x, const char *name) {
  http_fault_t **pp = &x->http;
  while (*pp != NULL && strcmp((*pp)->name, name) != 0)
    pp = &(*pp)->next;
  return pp;
}

/* :add_http_fault{name=, match=, abort=|reset=|delay=|rewrite=, percent=,
 * first=, direction=} -> the rule's name */
static int l_add_http_fault(lua_State *L) {
  static const char *const keys[] = {"name",    "match",   "abort", "reset",     "delay",
                                     "rewrite", "percent", "first", "direction", NULL};
  lproxy_t *x = check_proxy(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  fl_lua_check_keys(L, 2, "proxy:add_http_fault", keys);
  json_t *spec = fl_lua_to_json(L, 2);
  fl_err_t err = {0};
  char *name = NULL;
  int rc = fl_proxy_add_http_fault(x->p, spec, &name, &err);
  json_decref(spec);
  if (rc < 0)
    return luaL_error(L, "proxy %s: %s", x->link.name, err.msg);
  json_t *j = fl_proxy_http_fault_json(x->p, name);
  char kind[32];
  snprintf(kind, sizeof(kind), "http_%s", http_action(j));
  http_fault_t *h = fl_calloc(1, sizeof(*h));
  h->name = name;
  h->attrs = http_attrs(x, j);
  json_decref(j);
  h->fault =
      fl_timeline_fault_begin(fl_scenario_timeline(x->link.sc), kind,
                              fl_lua_link_targets(&x->link), json_incref(h->attrs));
  h->next = x->http;
  x->http = h;
  lua_pushstring(L, name);
  return 1;
}

/* :update_http_fault(name, {percent=, ...}): recorded as an event; the
 * fault's attrs take the new spec. */
static int l_update_http_fault(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  const char *name = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  json_t *spec = fl_lua_to_json(L, 3);
  fl_err_t err = {0};
  int rc = fl_proxy_update_http_fault(x->p, name, spec, &err);
  if (rc < 0) {
    json_decref(spec);
    return luaL_error(L, "proxy %s: %s", x->link.name, err.msg);
  }
  json_t *j = fl_proxy_http_fault_json(x->p, name);
  http_fault_t *h = *http_slot(x, name);
  if (h != NULL) {
    json_t *a = http_attrs(x, j);
    json_object_update(h->attrs, a);
    json_decref(a);
  }
  fl_timeline_event(
      fl_scenario_timeline(x->link.sc), "http-fault-update",
      json_pack("{s:s, s:s, s:o}", "proxy", x->link.name, "rule", name, "spec", spec));
  json_decref(j);
  return 0;
}

static int l_remove_http_fault(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  const char *name = luaL_checkstring(L, 2);
  http_refresh(x);
  fl_err_t err = {0};
  if (fl_proxy_remove_http_fault(x->p, name, &err) < 0)
    return luaL_error(L, "proxy %s: %s", x->link.name, err.msg);
  http_fault_t **pp = http_slot(x, name), *h = *pp;
  if (h != NULL) {
    fl_timeline_fault_end(fl_scenario_timeline(x->link.sc), h->fault);
    *pp = h->next;
    json_decref(h->attrs);
    fl_free(h->name);
    fl_free(h);
  }
  return 0;
}

static int l_http_faults(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  http_refresh(x);
  json_t *j = fl_proxy_http_faults_json(x->p);
  fl_lua_push_json(L, j);
  json_decref(j);
  return 1;
}

static int l_http_stats(lua_State *L) {
  lproxy_t *x = check_proxy(L, 1);
  fl_proxy_stats_t s;
  fl_proxy_stats(x->p, &s);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)s.http_parsed);
  lua_setfield(L, -2, "parsed");
  lua_pushinteger(L, (lua_Integer)s.http_rejected);
  lua_setfield(L, -2, "rejected");
  return 1;
}

static const luaL_Reg methods[] = {
    {"add_toxic", l_add_toxic},
    {"update_toxic", l_update_toxic},
    {"remove_toxic", l_remove_toxic},
    {"remove_all_toxics", l_remove_all},
    {"disable", l_disable},
    {"enable", l_enable},
    {"partition", l_partition},
    {"heal", l_heal},
    {"stats", l_stats},
    {"toxics", l_toxics},
    {"add_http_fault", l_add_http_fault},
    {"update_http_fault", l_update_http_fault},
    {"remove_http_fault", l_remove_http_fault},
    {"http_faults", l_http_faults},
    {"http_stats", l_http_stats},
    {NULL, NULL},
};

void fl_luaopen_proxy(lua_State *L) {
  luaL_newmetatable(L, PROXY_MT);
  lua_pushcfunction(L, l_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_proxy);
  lua_setfield(L, -2, "proxy");
  lua_pushcfunction(L, l_proxy_probe);
  lua_setfield(L, -2, "proxy_probe");
}
