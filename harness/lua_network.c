/* core.net_open{...}: the namespace network of faults/netns_net.h as a Lua
 * object, behind fl.network{mode = "netns"} (harness/lua/network.lua).
 *
 * A thin layer: each method checks its arguments, asks netns_net.c for the
 * step and yields its task until the step's callback resumes it (with the
 * network, or nil and the message). The network closes with the scenario;
 * the reaper holds the run's death command, so that a kill -9 of faultline
 * leaves nothing behind either. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "faults/netns_net.h"
#include "harness/engine.h"
#include "harness/lua_core.h"
#include "harness/lua_netns.h"
#include "harness/reaper.h"

static const char NET_MT[] = "faultline.network";

typedef struct lnet_s {
  fl_nsnet_t *net;
  struct lnet_s **slot; /* the userdata's pointer, cleared when this is freed */
  int ref;              /* registry anchor of the userdata */
  int closing;
  void (*done)(void *);
  void *done_arg;
} lnet_t;

/* A task waiting for a step of the network. */
typedef struct {
  lnet_t *n;
  fl_task_t *task;
  fl_nsnet_op_t *op;
  const char *prefix; /* put before a failure's message, or NULL */
} wait_t;

static lnet_t *check_net(lua_State *L, int i) {
  lnet_t **slot = luaL_checkudata(L, i, NET_MT);
  if (*slot == NULL || (*slot)->closing)
    luaL_error(L, "attempt to use the network after its scenario ended");
  return *slot;
}

static fl_net_t *ready_net(lua_State *L, lnet_t *n) {
  fl_net_t *net = fl_nsnet_net(n->net);
  if (net == NULL)
    luaL_error(L, "the network is not ready");
  return net;
}

/* ---- waiting for a step --------------------------------------------------------- */

static void on_step(int status, const char *msg, void *arg) {
  wait_t *w = arg;
  fl_task_t *t = w->task;
  lnet_t *n = w->n;
  const char *prefix = w->prefix;
  fl_free(w);
  lua_State *co = fl_task_thread(t);
  if (status == 0) {
    lua_rawgeti(co, LUA_REGISTRYINDEX, n->ref);
    fl_task_resume(t, 1);
  } else {
    lua_pushnil(co);
    if (prefix != NULL)
      lua_pushfstring(co, "%s: %s", prefix, msg);
    else
      lua_pushstring(co, msg);
    fl_task_resume(t, 2);
  }
}

static void wait_cancel(void *data) {
  wait_t *w = data;
  fl_nsnet_cancel(w->op);
  fl_free(w);
}

static wait_t *wait_new(lua_State *L, lnet_t *n) {
  wait_t *w = fl_calloc(1, sizeof(*w));
  w->n = n;
  w->task = fl_task_current(L);
  return w;
}

/* After a call that queued a step (rc 0): yield until it ends. rc 1 (nothing
 * to do): the network at once. Otherwise a Lua error with what. */
static int wait_for(lua_State *L, wait_t *w, int rc, const char *what,
                    const fl_err_t *err) {
  if (rc == 0)
    return fl_task_yield(L, w->task, wait_cancel, w);
  fl_free(w);
  if (rc == 1) {
    lua_pushvalue(L, 1);
    return 1;
  }
  return luaL_error(L, "%s: %s", what, err->msg);
}

/* ---- closing with the scenario --------------------------------------------------- */

static void net_closed(void *arg) {
  lnet_t *n = arg;
  void (*done)(void *) = n->done;
  void *done_arg = n->done_arg;
  if (n->slot != NULL)
    *n->slot = NULL;
  fl_free(n);
  done(done_arg);
}

static void net_closer(void *data, void (*done)(void *), void *done_arg) {
  lnet_t *n = data;
  n->closing = 1;
  n->done = done;
  n->done_arg = done_arg;
  fl_nsnet_close(n->net, net_closed, n);
}

/* The reaper runs cmd if faultline dies before the network is closed. */
static void on_death_cmd(const char *run_id, const char *cmd, void *arg) {
  char key[32];
  (void)arg;
  snprintf(key, sizeof(key), "netns-%s", run_id);
  fl_reaper_forget(key);
  if (cmd != NULL)
    fl_reaper_on_death(key, cmd);
}

/* ---- core.net_open{subnet=} ------------------------------------------------------- */

static int l_net_open(lua_State *L) {
  static const char *const keys[] = {"subnet", NULL};
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_err_t err = {0};
  if (!lua_isnoneornil(L, 1))
    fl_lua_check_keys(L, 1, "fl.network", keys);
  if (fl_nsnet_usable(&err) < 0)
    return luaL_error(L,
                      "fl.network{mode = \"netns\"} %s; run faultline as root with the "
                      "tools installed, or use the proxy layer (fl.proxy), which needs "
                      "no privileges",
                      err.msg);
  fl_nsnet_opts_t opts = {.run_id = fl_scenario_run_id(sc),
                          .tl = fl_scenario_timeline(sc),
                          .death_cmd = on_death_cmd};
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "subnet");
    opts.subnet = lua_tostring(L, -1); /* kept alive by the table */
    lua_pop(L, 1);
  }
  lnet_t **slot = lua_newuserdatauv(L, sizeof(*slot), 0);
  *slot = NULL;
  luaL_setmetatable(L, NET_MT);
  lnet_t *n = fl_calloc(1, sizeof(*n));
  wait_t *w = wait_new(L, n);
  int rc = fl_nsnet_open(&n->net, fl_scenario_loop(sc), &opts, on_step, w, &w->op, &err);
  if (rc < 0) {
    fl_free(w);
    fl_free(n);
    return luaL_error(L, "fl.network: %s", err.msg);
  }
  n->slot = slot;
  *slot = n;
  lua_pushvalue(L, -1);
  n->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  fl_scenario_on_close(sc, net_closer, n);
  return fl_task_yield(L, w->task, wait_cancel, w);
}

/* ---- methods ------------------------------------------------------------------------
 */

static void push_ep(lua_State *L, const fl_net_ep_t *ep) {
  lua_createtable(L, 0, 6);
  lua_pushstring(L, ep->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, ep->addr_s);
  lua_setfield(L, -2, "addr");
  lua_pushstring(L, ep->ns_path);
  lua_setfield(L, -2, "netns");
  lua_pushstring(L, ep->ns);
  lua_setfield(L, -2, "ns");
  lua_pushstring(L, ep->veth);
  lua_setfield(L, -2, "veth");
  lua_pushboolean(L, ep->attached);
  lua_setfield(L, -2, "attached");
}

/* n:addr(name): the address name has (or gets) on the network. */
static int l_addr(lua_State *L) {
  lnet_t *n = check_net(L, 1);
  const char *name = luaL_checkstring(L, 2);
  fl_net_t *net = ready_net(L, n);
  if (strcmp(name, "host") == 0) {
    lua_pushstring(L, fl_net_host_addr(net));
    return 1;
  }
  fl_err_t err = {0};
  fl_net_ep_t *ep = fl_net_endpoint(net, name, 1, &err);
  if (ep == NULL)
    return luaL_error(L, "fl.network: %s", err.msg);
  lua_pushstring(L, ep->addr_s);
  return 1;
}

/* n:endpoint(name): {name, addr, netns, ns, veth, attached} or nil. */
static int l_endpoint(lua_State *L) {
  lnet_t *n = check_net(L, 1);
  fl_net_t *net = fl_nsnet_net(n->net);
  fl_net_ep_t *ep = net ? fl_net_endpoint(net, luaL_checkstring(L, 2), 0, NULL) : NULL;
  if (ep == NULL)
    lua_pushnil(L);
  else
    push_ep(L, ep);
  return 1;
}

/* n:attach(name): makes name's namespace (once); waits; n or nil, err. */
static int l_attach(lua_State *L) {
  lnet_t *n = check_net(L, 1);
  const char *name = luaL_checkstring(L, 2);
  ready_net(L, n);
  fl_err_t err = {0};
  wait_t *w = wait_new(L, n);
  int rc = fl_nsnet_attach(n->net, name, on_step, w, &w->op, &err);
  return wait_for(L, w, rc, "fl.network", &err);
}

/* n:cut{{from, to}, ...}: replaces every cut with these (names or "host"). */
static int l_cut(lua_State *L) {
  lnet_t *n = check_net(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  ready_net(L, n);
  size_t count = lua_rawlen(L, 2);
  const char *(*pairs)[2] = lua_newuserdatauv(L, (count + 1) * sizeof(*pairs), 0);
  for (size_t i = 0; i < count; i++) {
    lua_rawgeti(L, 2, (lua_Integer)i + 1);
    for (int j = 0; j < 2; j++) {
      lua_rawgeti(L, -1, j + 1);
      pairs[i][j] = lua_tostring(L, -1); /* kept alive by the table at 2 */
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  fl_err_t err = {0};
  wait_t *w = wait_new(L, n);
  int rc = fl_nsnet_cut(n->net, (const char *const(*)[2])pairs, count, on_step, w, &w->op,
                        &err);
  return wait_for(L, w, rc, "fl.partition", &err);
}

static double opt_num(lua_State *L, int idx, const char *key, double lo, double hi) {
  lua_getfield(L, idx, key);
  double v = 0;
  if (!lua_isnil(L, -1)) {
    if (!lua_isnumber(L, -1))
      luaL_error(L, "'%s' must be a number", key);
    v = lua_tonumber(L, -1);
    if (v < lo || v > hi)
      luaL_error(L, "'%s' must be between %g and %g (got %g)", key, lo, hi, v);
  }
  lua_pop(L, 1);
  return v;
}

/* n:shape(name, "in"|"out"|"both", {rate=, delay=, jitter=, loss=, duplicate=}):
 * sets the qdiscs of name's link; an empty table removes them. */
static int l_shape(lua_State *L) {
  static const char *const dirs[] = {"both", "in", "out", NULL};
  static const int bits[] = {FL_SHAPE_IN | FL_SHAPE_OUT, FL_SHAPE_IN, FL_SHAPE_OUT};
  static const char *const keys[] = {"rate", "delay",     "jitter",
                                     "loss", "duplicate", NULL};
  lnet_t *n = check_net(L, 1);
  const char *name = luaL_checkstring(L, 2);
  int d = luaL_checkoption(L, 3, "both", dirs);
  luaL_checktype(L, 4, LUA_TTABLE);
  fl_lua_check_keys(L, 4, "shape", keys);
  ready_net(L, n);
  fl_shape_t sh = {0};
  fl_err_t err = {0};
  lua_getfield(L, 4, "rate");
  if (!lua_isnil(L, -1)) {
    sh.rate_bps = fl_rate_parse(lua_tostring(L, -1) ? lua_tostring(L, -1) : "", &err);
    if (sh.rate_bps == 0)
      return luaL_error(L, "%s", err.msg);
  }
  lua_pop(L, 1);
  sh.delay_ms = opt_num(L, 4, "delay", 0, 3600e3);
  sh.jitter_ms = opt_num(L, 4, "jitter", 0, 3600e3);
  sh.loss_pct = opt_num(L, 4, "loss", 0, 100);
  sh.duplicate_pct = opt_num(L, 4, "duplicate", 0, 100);
  wait_t *w = wait_new(L, n);
  int rc = fl_nsnet_shape(n->net, name, bits[d], &sh, on_step, w, &w->op, &err);
  if (rc == 0) {
    lua_pushinteger(L, (lua_Integer)sh.rate_bps);
    lua_setfield(L, 4, "rate_bps");
  } else if (rc < 0) {
    fl_free(w);
    return luaL_error(L, "%s", err.msg);
  }
  return wait_for(L, w, rc, "shape", &err);
}

/* ---- n:probe(a, b, seconds): do datagrams from a reach b? ----------------------------
 */

static void on_probe(int received, int sent, const char *detail, void *arg) {
  fl_task_t *t = arg;
  lua_State *co = fl_task_thread(t);
  lua_pushinteger(co, received);
  lua_pushinteger(co, sent);
  lua_pushstring(co, detail);
  fl_task_resume(t, 3);
}

static void probe_cancel(void *data) {
  fl_nsnet_probe_cancel(data);
}

static int l_probe(lua_State *L) {
  lnet_t *n = check_net(L, 1);
  const char *a = luaL_checkstring(L, 2), *b = luaL_checkstring(L, 3);
  double secs = luaL_optnumber(L, 4, 0.5);
  fl_task_t *t = fl_task_current(L);
  ready_net(L, n);
  fl_nsnet_probe_t *p;
  fl_err_t err = {0};
  if (fl_nsnet_probe(n->net, a, b, secs, on_probe, t, &p, &err) < 0)
    return luaL_error(L, "fl.expect.isolated: %s", err.msg);
  return fl_task_yield(L, t, probe_cancel, p);
}

static int l_index(lua_State *L) {
  lnet_t **slot = luaL_checkudata(L, 1, NET_MT);
  lnet_t *n = *slot;
  const char *k = luaL_checkstring(L, 2);
  fl_net_t *net = n != NULL ? fl_nsnet_net(n->net) : NULL;
  if (net != NULL) {
    if (strcmp(k, "subnet") == 0) {
      lua_pushstring(L, fl_net_subnet_str(net));
      return 1;
    }
    if (strcmp(k, "host") == 0) {
      lua_pushstring(L, fl_net_host_addr(net));
      return 1;
    }
    if (strcmp(k, "bridge") == 0 || strcmp(k, "table") == 0) {
      lua_pushstring(L, fl_net_bridge(net));
      return 1;
    }
  }
  if (n != NULL && strcmp(k, "run_id") == 0) {
    lua_pushstring(L, fl_nsnet_run_id(n->net));
    return 1;
  }
  if (strcmp(k, "features") == 0) {
    const fl_netns_features_t *f = fl_nsnet_features();
    lua_createtable(L, 0, 4);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "nftables");
    lua_pushboolean(L, f->tbf);
    lua_setfield(L, -2, "tbf");
    lua_pushboolean(L, f->netem);
    lua_setfield(L, -2, "netem");
    if (!f->netem) {
      lua_pushstring(L, f->netem_error);
      lua_setfield(L, -2, "netem_error");
    }
    return 1;
  }
  luaL_getmetafield(L, 1, "methods");
  lua_getfield(L, -1, k);
  return 1;
}

static int l_tostring(lua_State *L) {
  lnet_t **slot = luaL_checkudata(L, 1, NET_MT);
  lnet_t *n = *slot;
  fl_net_t *net = n != NULL ? fl_nsnet_net(n->net) : NULL;
  if (net == NULL)
    lua_pushstring(L, "network (closed)");
  else
    lua_pushfstring(L, "network %s (bridge %s)", fl_net_subnet_str(net),
                    fl_net_bridge(net));
  return 1;
}

static const luaL_Reg methods[] = {
    {"addr", l_addr},   {"endpoint", l_endpoint}, {"attach", l_attach}, {"cut", l_cut},
    {"shape", l_shape}, {"probe", l_probe},       {NULL, NULL},
};

void fl_luaopen_network(lua_State *L) {
  luaL_newmetatable(L, NET_MT);
  lua_pushcfunction(L, l_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_net_open);
  lua_setfield(L, -2, "net_open");
}
