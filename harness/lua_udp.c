/* fl.udp_proxy{...}: the UDP fault proxy (faults/udp_proxy.h) as a Lua
 * object. Like fl.proxy it stands for one directed link (from, to), takes
 * part in fl.partition, and records its faults on the timeline. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "faults/proxy.h"
#include "faults/udp_proxy.h"
#include "base/alloc.h"
#include "base/prng.h"
#include "harness/engine.h"
#include "harness/lua_core.h"
#include "harness/lua_link.h"

static const char UDP_MT[] = "faultline.udp_proxy";

typedef struct {
  fl_lua_link_t link; /* first: name, ends, scenario, partition of its own */
  fl_udp_proxy_t *p;
  int fault; /* open "udp" fault (loss, latency, ...) */
} ludp_t;

static ludp_t *check_udp(lua_State *L, int i) {
  ludp_t *x = luaL_checkudata(L, i, UDP_MT);
  if (x->link.closed)
    luaL_error(L, "attempt to use UDP proxy %s after its scenario ended", x->link.name);
  return x;
}

static void udp_closer(void *data, void (*done)(void *), void *done_arg) {
  ludp_t *x = data;
  x->link.closed = 1;
  fl_udp_proxy_t *p = x->p;
  x->p = NULL;
  fl_udp_proxy_close(p, fl_done_fire, fl_done_new(done, done_arg));
}

static int l_udp_proxy(lua_State *L) {
  static const char *const keys[] = {"name", "listen",       "upstream", "from",
                                     "to",   "idle_timeout", NULL};
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_lua_check_keys(L, 1, "fl.udp_proxy", keys);
  lua_getfield(L, 1, "upstream");
  const char *upstream = lua_tostring(L, -1);
  if (upstream == NULL)
    return luaL_error(L, "fl.udp_proxy: 'upstream' (\"host:port\") is required");
  lua_getfield(L, 1, "listen");
  const char *listen = luaL_optstring(L, -1, "127.0.0.1:0");
  lua_getfield(L, 1, "from");
  const char *from = lua_tostring(L, -1);
  lua_getfield(L, 1, "to");
  const char *to = lua_tostring(L, -1);
  lua_getfield(L, 1, "name");
  const char *name = lua_tostring(L, -1);
  lua_getfield(L, 1, "idle_timeout");
  double idle = luaL_optnumber(L, -1, 0);
  ludp_t *x = lua_newuserdatauv(L, sizeof(*x), 0);
  memset(x, 0, sizeof(*x));
  fl_lua_link_init(&x->link, sc, name, from, to, upstream, "/udp");
  x->link.closed = 1; /* until the proxy exists */
  luaL_setmetatable(L, UDP_MT);
  fl_err_t err = {0};
  if (fl_udp_proxy_new(&x->p, fl_scenario_loop(sc), x->link.name, listen, upstream,
                       &err) < 0)
    return luaL_error(L, "fl.udp_proxy %s: %s", x->link.name, err.msg);
  /* Each link its own stream: the run's seed and the link's name. */
  fl_udp_proxy_set_seed(x->p, fl_seed_for(fl_scenario_seed(x->link.sc), x->link.name));
  if (idle > 0)
    fl_udp_proxy_set_idle_timeout(x->p, (uint64_t)(idle * 1000));
  x->link.closed = 0;
  lua_pushvalue(L, -1);
  luaL_ref(L, LUA_REGISTRYINDEX);
  fl_scenario_on_close(sc, udp_closer, x);
  return 1;
}

/* :faults{stream="both"|"upstream"|"downstream", loss=, latency=, jitter=,
 * duplicate=, reorder=, reorder_gap=} */
static int l_faults(lua_State *L) {
  static const char *const dirs[] = {"both", "upstream", "downstream", NULL};
  static const int bits[] = {FL_UPSTREAM | FL_DOWNSTREAM, FL_UPSTREAM, FL_DOWNSTREAM};
  ludp_t *x = check_udp(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  json_t *spec = fl_lua_to_json(L, 2);
  const char *stream = json_string_value(json_object_get(spec, "stream"));
  int d = 0;
  if (stream != NULL) {
    for (d = 0; dirs[d] != NULL && strcmp(dirs[d], stream) != 0; d++)
      ;
    if (dirs[d] == NULL) {
      json_decref(spec);
      return luaL_error(
          L, "UDP proxy %s: stream must be both, upstream or downstream (got %s)",
          x->link.name, stream);
    }
  }
  json_t *attrs = json_deep_copy(spec);
  json_object_del(spec, "stream");
  fl_err_t err = {0};
  int rc = fl_udp_proxy_set_faults(x->p, bits[d], spec, &err);
  json_decref(spec);
  if (rc < 0) {
    json_decref(attrs);
    return luaL_error(L, "UDP proxy %s: %s", x->link.name, err.msg);
  }
  fl_timeline_t *tl = fl_scenario_timeline(x->link.sc);
  if (x->fault)
    fl_timeline_fault_end(tl, x->fault);
  json_object_set_new(attrs, "proxy", json_string(x->link.name));
  json_object_set_new(attrs, "stream", json_string(dirs[d]));
  x->fault = fl_timeline_fault_begin(tl, "udp", fl_lua_link_targets(&x->link), attrs);
  return 0;
}

static int l_clear(lua_State *L) {
  ludp_t *x = check_udp(L, 1);
  fl_udp_proxy_clear_faults(x->p);
  if (x->fault) {
    fl_timeline_fault_end(fl_scenario_timeline(x->link.sc), x->fault);
    x->fault = 0;
  }
  return 0;
}

/* Same signature as the TCP proxy's, so fl.partition can cut both. */
static int l_partition(lua_State *L) {
  ludp_t *x = check_udp(L, 1);
  const char *dir;
  int bits = fl_lua_link_check_direction(L, 2, &dir);
  fl_udp_proxy_partition(x->p, bits);
  if (!lua_toboolean(L, 3))
    fl_lua_link_cut_begin(&x->link, dir);
  return 0;
}

static int l_heal(lua_State *L) {
  ludp_t *x = check_udp(L, 1);
  fl_udp_proxy_heal(x->p);
  fl_lua_link_cut_end(&x->link);
  return 0;
}

static int l_stats(lua_State *L) {
  ludp_t *x = check_udp(L, 1);
  fl_udp_stats_t s;
  fl_udp_proxy_stats(x->p, &s);
  static const char *const dir[] = {"upstream", "downstream"};
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)s.sessions_open);
  lua_setfield(L, -2, "sessions_open");
  lua_pushinteger(L, (lua_Integer)s.sessions_total);
  lua_setfield(L, -2, "sessions_total");
  for (int i = 0; i < 2; i++) {
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, (lua_Integer)s.received[i]);
    lua_setfield(L, -2, "received");
    lua_pushinteger(L, (lua_Integer)s.sent[i]);
    lua_setfield(L, -2, "sent");
    lua_pushinteger(L, (lua_Integer)s.dropped[i]);
    lua_setfield(L, -2, "dropped");
    lua_pushinteger(L, (lua_Integer)s.duplicated[i]);
    lua_setfield(L, -2, "duplicated");
    lua_pushinteger(L, (lua_Integer)s.reordered[i]);
    lua_setfield(L, -2, "reordered");
    lua_setfield(L, -2, dir[i]);
  }
  return 1;
}

static int l_index(lua_State *L) {
  ludp_t *x = luaL_checkudata(L, 1, UDP_MT);
  return fl_lua_link_index(L, &x->link, x->p ? fl_udp_proxy_listen(x->p) : NULL,
                           x->p ? fl_udp_proxy_upstream(x->p) : NULL);
}

static int l_gc(lua_State *L) {
  ludp_t *x = luaL_checkudata(L, 1, UDP_MT);
  fl_lua_link_free(&x->link);
  return 0;
}

static const luaL_Reg methods[] = {
    {"faults", l_faults}, {"clear", l_clear}, {"partition", l_partition},
    {"heal", l_heal},     {"stats", l_stats}, {NULL, NULL},
};

void fl_luaopen_udp(lua_State *L) {
  luaL_newmetatable(L, UDP_MT);
  lua_pushcfunction(L, l_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_udp_proxy);
  lua_setfield(L, -2, "udp_proxy");
}
