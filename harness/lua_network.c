/* core.net_open{...}: the namespace layer (faults/netns.h) as a Lua object,
 * behind fl.network{mode = "netns"} (harness/lua/network.lua).
 *
 * Everything that changes the kernel is a script of `ip`/`nft`/`tc` commands
 * (faults/subproc.h); a call that runs one yields its task until the script
 * is over. Scripts of one network run one at a time, in the order they were
 * asked for (a queue), so a partition never races the attach of a service.
 *
 * Opening: refuse without privileges or tools; mark the run alive; remove
 * what dead runs left; read the host's routes and take a subnet that
 * overlaps none (and that no live run holds); find out what the kernel
 * offers (tbf, netem; once per process); make the bridge and the nftables
 * table. Closing (with the scenario): wait (up to 10 s) for the services'
 * processes to leave their namespaces, then remove everything, then the
 * state files. After a kill -9 the reaper runs the same by name
 * (fl_netns_death_cmd); after anything worse, the next run or
 * `faultline cleanup` does. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include "faults/clock.h"
#include "faults/netns.h"
#include "faults/nft.h"
#include "faults/subproc.h"
#include "base/alloc.h"
#include "base/log.h"
#include "harness/engine_int.h"
#include "harness/lua_netns.h"
#include "harness/reaper.h"

static const char NET_MT[] = "faultline.network";

#define STEP_TIMEOUT_MS 30000
#define DRAIN_TICK_MS 100
#define DRAIN_TICKS 100 /* 10 s for the services to leave their namespaces */

typedef struct lnet_s lnet_t;

typedef enum { OP_OPEN, OP_SCRIPT } op_kind_t;

typedef struct op_s {
  op_kind_t kind;
  lnet_t *n;
  fl_task_t *task;     /* NULL once canceled */
  fl_script_t *script; /* OP_SCRIPT: run it (taken when started) */
  fl_net_ep_t *attach; /* OP_SCRIPT: marked attached when it succeeds */
  int stage;           /* OP_OPEN */
  struct op_s *next;
} op_t;

struct lnet_s {
  fl_scenario_t *sc;
  uv_loop_t *loop;
  fl_net_t *net; /* NULL until a subnet is chosen */
  char run_id[9];
  char *want_subnet;
  char *subnet_file;
  int marked;
  int ready; /* the bridge and table exist */
  op_t *queue, *running;
  lnet_t **slot; /* the userdata's pointer, cleared when this is freed */
  int ref;       /* registry anchor of the userdata */
  int closing;
  void (*done)(void *);
  void *done_arg;
  uv_timer_t timer;
  int ticks;
};

/* What the kernel offers, found once per process. */
static fl_netns_features_t features;
static int have_features;

static lnet_t *check_net(lua_State *L, int i) {
  lnet_t **slot = luaL_checkudata(L, i, NET_MT);
  if (*slot == NULL || (*slot)->closing)
    luaL_error(L, "attempt to use the network after its scenario ended");
  return *slot;
}

/* ---- the queue ---------------------------------------------------------------- */

static void op_start(op_t *op);
static void close_continue(lnet_t *n);

static void kick(lnet_t *n) {
  if (n->running != NULL || n->queue == NULL)
    return;
  op_t *op = n->queue;
  n->queue = op->next;
  n->running = op;
  op_start(op);
}

/* Ends the running op: resumes its task with ok or (nil, msg). */
static void op_complete(op_t *op, int ok, const char *msg) {
  lnet_t *n = op->n;
  n->running = NULL;
  fl_task_t *t = op->task;
  fl_script_free(op->script);
  fl_free(op);
  if (n->closing) {
    close_continue(n);
    return;
  }
  if (t != NULL) {
    lua_State *co = fl_task_thread(t);
    if (ok) {
      lua_rawgeti(co, LUA_REGISTRYINDEX, n->ref);
      fl_task_resume(t, 1);
    } else {
      lua_pushnil(co);
      lua_pushstring(co, msg);
      fl_task_resume(t, 2);
    }
  }
  kick(n);
}

static void op_cancel(void *data) {
  op_t *op = data;
  op->task = NULL;
  lnet_t *n = op->n;
  if (n->running == op)
    return; /* it finishes on its own: a half-run script is worse than a late one */
  for (op_t **pp = &n->queue; *pp != NULL; pp = &(*pp)->next)
    if (*pp == op) {
      *pp = op->next;
      fl_script_free(op->script);
      fl_free(op);
      return;
    }
}

static int submit(lua_State *L, lnet_t *n, op_t *op) {
  fl_task_t *t = fl_task_current(L);
  op->n = n;
  op->task = t;
  op_t **pp = &n->queue;
  while (*pp != NULL)
    pp = &(*pp)->next;
  *pp = op;
  kick(n);
  return fl_task_yield(L, t, op_cancel, op);
}

/* A failed script as one line: the command and the first line it printed. */
static char *script_error(const fl_script_result_t *r) {
  const char *e = r->result && r->result->err_len ? r->result->err : "";
  size_t len = strcspn(e, "\n");
  if (len == 0 && r->result && r->result->out_len) {
    e = r->result->out;
    len = strcspn(e, "\n");
  }
  return fl_asprintf("`%s` failed (exit %d)%s%.*s", r->line, r->status, len ? ": " : "",
                     (int)len, e);
}

static void on_script(const fl_script_result_t *r, void *arg) {
  op_t *op = arg;
  op->script = NULL; /* the script frees itself */
  if (r->status != 0) {
    char *msg = script_error(r);
    op_complete(op, 0, msg);
    fl_free(msg);
    return;
  }
  if (op->attach != NULL)
    op->attach->attached = 1;
  op_complete(op, 1, NULL);
}

/* ---- opening ---------------------------------------------------------------- */

static void open_next(op_t *op);

static void on_open_script(const fl_script_result_t *r, void *arg) {
  op_t *op = arg;
  op->script = NULL;
  if (op->stage == 4 && r->status != 0) {
    char *msg = script_error(r);
    char *full = fl_asprintf("fl.network: cannot make the bridge and table: %s", msg);
    op_complete(op, 0, full);
    fl_free(full);
    fl_free(msg);
    return;
  }
  if (op->stage == 4)
    op->n->ready = 1;
  open_next(op);
}

/* Takes the subnet asked for, or the first free /24 of 10.77.0.0/16. */
static void choose_subnet(op_t *op, const char *routes) {
  lnet_t *n = op->n;
  fl_subnet_t sn;
  fl_err_t err = {0};
  char why[256];
  char *msg = NULL;
  if (n->want_subnet != NULL) {
    if (fl_subnet_parse(n->want_subnet, &sn, &err) < 0) {
      msg = fl_asprintf("fl.network: %s", err.msg);
    } else if (fl_netns_route_conflict(routes, &sn, why, sizeof(why)) == 1) {
      msg = fl_asprintf(
          "fl.network: subnet %s overlaps the host's route %s; choose another "
          "subnet (or leave it out: faultline picks a free one)",
          n->want_subnet, why);
    } else if (fl_netns_subnet_take(&sn, n->run_id, &n->subnet_file) < 0) {
      msg = fl_asprintf("fl.network: subnet %s is held by another faultline run that is "
                        "still alive; choose another",
                        n->want_subnet);
    }
  } else {
    int found = 0;
    for (uint32_t i = 0; i < 256 && !found; i++) {
      sn.net = (10u << 24) | (77u << 16) | (i << 8);
      sn.len = 24;
      if (fl_netns_route_conflict(routes, &sn, why, sizeof(why)) != 0)
        continue;
      found = fl_netns_subnet_take(&sn, n->run_id, &n->subnet_file) == 0;
    }
    if (!found)
      msg =
          fl_strdup("fl.network: no free /24 in 10.77.0.0/16 (every one overlaps a host "
                    "route or is held by a live run); give subnet = \"...\"");
  }
  if (msg == NULL && fl_net_new(&n->net, n->run_id, &sn, &err) < 0)
    msg = fl_asprintf("fl.network: %s", err.msg);
  if (msg != NULL) {
    op_complete(op, 0, msg);
    fl_free(msg);
    return;
  }
  /* Now the reaper knows the subnet's file too. */
  char *cmd = fl_netns_death_cmd(n->run_id, n->subnet_file);
  char key[32];
  snprintf(key, sizeof(key), "netns-%s", n->run_id);
  fl_reaper_forget(key);
  fl_reaper_on_death(key, cmd);
  fl_free(cmd);
  open_next(op);
}

static void on_routes(const fl_subproc_result_t *r, void *arg) {
  op_t *op = arg;
  if (r->status != 0) {
    char *msg =
        fl_asprintf("fl.network: cannot read the host's routes (ip -j route): %.*s",
                    (int)strcspn(r->err, "\n"), r->err);
    op_complete(op, 0, msg);
    fl_free(msg);
    return;
  }
  choose_subnet(op, r->out);
}

static void on_features(const fl_subproc_result_t *r, void *arg) {
  op_t *op = arg;
  fl_netns_features_parse(r->out, &features);
  have_features = 1;
  open_next(op);
}

static void open_next(op_t *op) {
  lnet_t *n = op->n;
  if (n->closing && op->task == NULL) {
    op_complete(op, 0, "canceled");
    return;
  }
  switch (op->stage++) {
  case 0: {
    /* What runs that are gone left behind. */
    char **ids = fl_netns_stale_runs(NULL);
    fl_script_t *s = fl_script_new();
    for (size_t i = 0; ids[i] != NULL; i++) {
      FL_LOG(FL_LOG_INFO, "netns", "removing what run %s left behind", ids[i]);
      fl_netns_script_remove_run(s, ids[i]);
    }
    fl_netns_ids_free(ids);
    fl_clock_sweep_shm(); /* as `faultline cleanup` does */
    fl_script_run(s, n->loop, STEP_TIMEOUT_MS, on_open_script, op);
    return;
  }
  case 1: {
    const char *argv[] = {"ip", "-j", "-4", "route", "show", "table", "all", NULL};
    fl_subproc_run(n->loop, argv, NULL, NULL, STEP_TIMEOUT_MS, on_routes, op, NULL);
    return;
  }
  case 2:
    if (!have_features) {
      char *cmd = fl_netns_features_cmd(n->run_id);
      const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
      fl_subproc_run(n->loop, argv, NULL, NULL, STEP_TIMEOUT_MS, on_features, op, NULL);
      fl_free(cmd);
      return;
    }
    open_next(op);
    return;
  case 3:
    fl_script_run(fl_net_script_create(n->net), n->loop, STEP_TIMEOUT_MS, on_open_script,
                  op);
    return;
  default: {
    /* One line on what this kernel offers, and what it does not. */
    char *line = fl_asprintf(
        "netns: subnet %s on bridge %s (faultline at %s); the kernel offers "
        "nftables%s%s%s%s%s",
        fl_net_subnet_str(n->net), fl_net_bridge(n->net), fl_net_host_addr(n->net),
        features.tbf ? ", tbf" : "; no tbf (bandwidth limits unavailable)",
        features.netem ? ", netem" : "; no netem (",
        features.netem ? "" : features.netem_error,
        features.netem ? ""
                       : "): latency, jitter, loss and duplication are not available in "
                         "this layer (use a proxy's toxics)",
        "");
    fl_timeline_event(fl_scenario_timeline(n->sc), "step",
                      json_pack("{s:s}", "message", line));
    fl_free(line);
    op_complete(op, 1, NULL);
    return;
  }
  }
}

static void op_start(op_t *op) {
  if (op->kind == OP_OPEN) {
    open_next(op);
    return;
  }
  fl_script_t *s = op->script;
  op->script = NULL;
  fl_script_run(s, op->n->loop, STEP_TIMEOUT_MS, on_script, op);
}

/* ---- closing with the scenario ------------------------------------------------- */

static void timer_closed(uv_handle_t *h) {
  lnet_t *n = h->data;
  void (*done)(void *) = n->done;
  void *done_arg = n->done_arg;
  if (n->slot != NULL)
    *n->slot = NULL;
  fl_net_free(n->net);
  fl_free(n->want_subnet);
  fl_free(n->subnet_file);
  fl_free(n);
  done(done_arg);
}

static void on_teardown(const fl_script_result_t *r, void *arg) {
  lnet_t *n = arg;
  if (n->marked)
    fl_netns_run_unmark(n->run_id);
  fl_netns_subnet_release(n->subnet_file);
  char key[32];
  snprintf(key, sizeof(key), "netns-%s", n->run_id);
  fl_reaper_forget(key);
  if (n->net != NULL)
    FL_LOG(FL_LOG_INFO, "netns",
           "removed bridge %s, table bridge %s and %zu namespace(s)",
           fl_net_bridge(n->net), fl_net_table(n->net), fl_net_count(n->net));
  uv_close((uv_handle_t *)&n->timer, timer_closed);
}

static void teardown(lnet_t *n) {
  /* By name, so it also removes what a step cut short made. */
  fl_script_t *s = fl_script_new();
  fl_netns_script_remove_run(s, n->run_id);
  fl_script_run(s, n->loop, STEP_TIMEOUT_MS, on_teardown, n);
}

/* Waits for the services' processes to leave (they are being stopped by
 * their own closers), so a service shutting down still has its network. */
static void on_drain_tick(uv_timer_t *t) {
  lnet_t *n = t->data;
  const char *paths[256];
  size_t k = 0;
  for (size_t i = 0; n->net && i < fl_net_count(n->net) && k < FL_ARRAY_SIZE(paths);
       i++) {
    fl_net_ep_t *ep = fl_net_at(n->net, i);
    if (ep->attached)
      paths[k++] = ep->ns_path;
  }
  if (fl_netns_busy(paths, k) == 0 || ++n->ticks >= DRAIN_TICKS) {
    uv_timer_stop(t);
    teardown(n);
  }
}

static void close_continue(lnet_t *n) {
  /* Queued ops belong to canceled tasks: drop them. */
  while (n->queue != NULL) {
    op_t *op = n->queue;
    n->queue = op->next;
    fl_script_free(op->script);
    fl_free(op);
  }
  if (n->running != NULL)
    return; /* op_complete calls back here */
  uv_timer_start(&n->timer, on_drain_tick, 0, DRAIN_TICK_MS);
}

static void net_closer(void *data, void (*done)(void *), void *done_arg) {
  lnet_t *n = data;
  n->closing = 1;
  n->done = done;
  n->done_arg = done_arg;
  close_continue(n);
}

/* ---- core.net_open{subnet=} ------------------------------------------------------ */

static int l_net_open(lua_State *L) {
  static const char *const keys[] = {"subnet", NULL};
  fl_scenario_t *sc = fl_engine_scenario(L);
  if (!lua_isnoneornil(L, 1))
    fl_lua_check_keys(L, 1, "fl.network", keys);
  char why[256];
  if (!fl_netns_privileged(why, sizeof(why)))
    return luaL_error(
        L,
        "fl.network{mode = \"netns\"} needs root (%s) to make network "
        "namespaces, links and nftables rules, and this process does not "
        "have it; run faultline as root, or use the proxy layer (fl.proxy), "
        "which needs no privileges",
        why);
  static const char *const tools[] = {"ip", "nft", "tc"};
  static const char *const pkgs[] = {"iproute2", "nftables", "iproute2"};
  for (size_t i = 0; i < FL_ARRAY_SIZE(tools); i++)
    if (!fl_subproc_have(tools[i]))
      return luaL_error(L,
                        "fl.network{mode = \"netns\"}: `%s` is not installed (Debian: "
                        "apt-get install %s)",
                        tools[i], pkgs[i]);
  const char *subnet = NULL;
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "subnet");
    subnet = lua_tostring(L, -1);
    if (subnet != NULL) {
      fl_subnet_t sn;
      fl_err_t err = {0};
      if (fl_subnet_parse(subnet, &sn, &err) < 0)
        return luaL_error(L, "fl.network: %s", err.msg);
    }
    lua_pop(L, 1);
  }
  fl_err_t err = {0};
  const char *run_id = fl_scenario_run_id(sc);
  if (fl_netns_run_mark(run_id, &err) < 0)
    return luaL_error(L, "fl.network: %s", err.msg);

  lnet_t **slot = lua_newuserdatauv(L, sizeof(*slot), 0);
  *slot = NULL;
  luaL_setmetatable(L, NET_MT);
  lnet_t *n = fl_calloc(1, sizeof(*n));
  n->sc = sc;
  n->loop = fl_engine_loop(sc->eng);
  snprintf(n->run_id, sizeof(n->run_id), "%s", run_id);
  n->want_subnet = subnet ? fl_strdup(subnet) : NULL;
  n->marked = 1;
  n->slot = slot;
  uv_timer_init(n->loop, &n->timer);
  n->timer.data = n;
  *slot = n;
  lua_pushvalue(L, -1);
  n->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  fl_scenario_on_close(sc, net_closer, n);
  /* From here on nothing may be left behind even if faultline is killed. */
  char *cmd = fl_netns_death_cmd(n->run_id, NULL);
  char key[32];
  snprintf(key, sizeof(key), "netns-%s", n->run_id);
  fl_reaper_on_death(key, cmd);
  fl_free(cmd);

  op_t *op = fl_calloc(1, sizeof(*op));
  op->kind = OP_OPEN;
  return submit(L, n, op);
}

/* ---- methods ------------------------------------------------------------------------
 */

static fl_net_ep_t *endpoint(lua_State *L, lnet_t *n, const char *name, int create) {
  if (n->net == NULL)
    luaL_error(L, "the network is not ready");
  fl_err_t err = {0};
  fl_net_ep_t *ep = fl_net_endpoint(n->net, name, create, &err);
  if (ep == NULL && create)
    luaL_error(L, "fl.network: %s", err.msg);
  return ep;
}

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
  if (strcmp(name, "host") == 0) {
    lua_pushstring(L, fl_net_host_addr(n->net));
    return 1;
  }
  lua_pushstring(L, endpoint(L, n, name, 1)->addr_s);
  return 1;
}

/* n:endpoint(name): {name, addr, netns, ns, veth, attached} or nil. */
static int l_endpoint(lua_State *L) {
  lnet_t *n = check_net(L, 1);
  fl_net_ep_t *ep =
      n->net ? fl_net_endpoint(n->net, luaL_checkstring(L, 2), 0, NULL) : NULL;
  if (ep == NULL)
    lua_pushnil(L);
  else
    push_ep(L, ep);
  return 1;
}

/* n:attach(name): makes name's namespace (once); waits; n or nil, err. */
static int l_attach(lua_State *L) {
  lnet_t *n = check_net(L, 1);
  fl_net_ep_t *ep = endpoint(L, n, luaL_checkstring(L, 2), 1);
  if (ep->attached) {
    lua_pushvalue(L, 1);
    return 1;
  }
  op_t *op = fl_calloc(1, sizeof(*op));
  op->kind = OP_SCRIPT;
  op->script = fl_net_script_attach(n->net, ep);
  op->attach = ep;
  return submit(L, n, op);
}

/* n:cut{{from, to}, ...}: replaces every cut with these (names or "host"). */
static int l_cut(lua_State *L) {
  lnet_t *n = check_net(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  if (n->net == NULL)
    return luaL_error(L, "the network is not ready");
  size_t count = lua_rawlen(L, 2);
  fl_nft_cut_t *cuts = fl_calloc(count + 1, sizeof(*cuts));
  for (size_t i = 0; i < count; i++) {
    lua_rawgeti(L, 2, (lua_Integer)i + 1);
    for (int j = 0; j < 2; j++) {
      lua_rawgeti(L, -1, j + 1);
      const char *name = lua_tostring(L, -1);
      uint32_t addr = 0;
      if (name != NULL && strcmp(name, "host") == 0) {
        fl_ip4_parse(fl_net_host_addr(n->net), &addr);
      } else {
        fl_net_ep_t *ep = name ? fl_net_endpoint(n->net, name, 0, NULL) : NULL;
        if (ep == NULL) {
          fl_free(cuts);
          return luaL_error(L,
                            "fl.partition: %s is not on the network (declare it after "
                            "fl.network)",
                            name ? name : "?");
        }
        addr = ep->addr;
      }
      if (j == 0)
        cuts[i].src = addr;
      else
        cuts[i].dst = addr;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  char *text = fl_nft_cut_text(fl_net_table(n->net), cuts, count);
  fl_free(cuts);
  op_t *op = fl_calloc(1, sizeof(*op));
  op->kind = OP_SCRIPT;
  op->script = fl_script_new();
  const char *argv[] = {"nft", "-f", "-", NULL};
  fl_script_add(op->script, 0, text, argv);
  fl_free(text);
  return submit(L, n, op);
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
  static const char *const keys[] = {"rate", "delay",     "jitter",
                                     "loss", "duplicate", NULL};
  lnet_t *n = check_net(L, 1);
  const char *name = luaL_checkstring(L, 2);
  int d = luaL_checkoption(L, 3, "both", dirs);
  luaL_checktype(L, 4, LUA_TTABLE);
  fl_lua_check_keys(L, 4, "shape", keys);
  fl_net_ep_t *ep = endpoint(L, n, name, 0);
  if (ep == NULL || !ep->attached)
    return luaL_error(L, "%s is not in a network namespace", name);
  fl_shape_t sh = {0};
  lua_getfield(L, 4, "rate");
  if (!lua_isnil(L, -1)) {
    fl_err_t err = {0};
    sh.rate_bps = fl_rate_parse(lua_tostring(L, -1) ? lua_tostring(L, -1) : "", &err);
    if (sh.rate_bps == 0)
      return luaL_error(L, "%s", err.msg);
  }
  lua_pop(L, 1);
  sh.delay_ms = opt_num(L, 4, "delay", 0, 3600e3);
  sh.jitter_ms = opt_num(L, 4, "jitter", 0, 3600e3);
  sh.loss_pct = opt_num(L, 4, "loss", 0, 100);
  sh.duplicate_pct = opt_num(L, 4, "duplicate", 0, 100);
  if (fl_shape_needs_netem(&sh) && !features.netem)
    return luaL_error(L,
                      "this kernel has no netem qdisc (%s): latency, jitter, loss and "
                      "duplication cannot be had in the namespace layer; use a proxy's "
                      "toxics for them",
                      features.netem_error);
  if (sh.rate_bps > 0 && !fl_shape_needs_netem(&sh) && !features.tbf)
    return luaL_error(L,
                      "this kernel has no tbf qdisc: bandwidth limits cannot be had in "
                      "the namespace layer; use a proxy's bandwidth toxic");
  op_t *op = fl_calloc(1, sizeof(*op));
  op->kind = OP_SCRIPT;
  op->script = fl_script_new();
  if (d == 0 || d == 1)
    fl_net_script_shape(op->script, ep, FL_SHAPE_IN, &sh);
  if (d == 0 || d == 2)
    fl_net_script_shape(op->script, ep, FL_SHAPE_OUT, &sh);
  lua_pushinteger(L, (lua_Integer)sh.rate_bps);
  lua_setfield(L, 4, "rate_bps");
  return submit(L, n, op);
}

/* ---- n:probe(a, b, seconds): do datagrams from a reach b? -------------------------- */

typedef struct {
  uv_udp_t rx, tx;
  uv_timer_t timer;
  struct sockaddr_in to;
  fl_task_t *task;
  int open;
  int sent, received, ticks, nticks;
  char detail[160];
} probe_t;

static void probe_closed(uv_handle_t *h) {
  probe_t *p = h->data;
  if (--p->open == 0)
    fl_free(p);
}

static void probe_close(probe_t *p) {
  uv_handle_t *hs[] = {(uv_handle_t *)&p->rx, (uv_handle_t *)&p->tx,
                       (uv_handle_t *)&p->timer};
  for (size_t i = 0; i < FL_ARRAY_SIZE(hs); i++)
    if (hs[i]->data == p && !uv_is_closing(hs[i]))
      uv_close(hs[i], probe_closed);
}

static void probe_cancel(void *data) {
  probe_close(data);
}

static void probe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  static char chunk[2048];
  buf->base = chunk;
  buf->len = sizeof(chunk);
}

static void probe_recv(uv_udp_t *u, ssize_t nread, const uv_buf_t *buf,
                       const struct sockaddr *from, unsigned flags) {
  probe_t *p = u->data;
  if (nread > 0)
    p->received++;
}

static void probe_tick(uv_timer_t *t) {
  probe_t *p = t->data;
  if (p->ticks++ < p->nticks) {
    static char msg[] = "faultline isolation probe";
    uv_buf_t b = uv_buf_init(msg, sizeof(msg) - 1);
    if (uv_udp_try_send(&p->tx, &b, 1, (const struct sockaddr *)&p->to) >= 0)
      p->sent++;
    return;
  }
  fl_task_t *task = p->task;
  probe_close(p);
  lua_State *co = fl_task_thread(task);
  lua_pushinteger(co, p->received);
  lua_pushinteger(co, p->sent);
  lua_pushstring(co, p->detail);
  fl_task_resume(task, 3);
}

/* A UDP socket of the side called name: in its namespace, or faultline's own
 * for "host". Returns the fd and its address. */
static int side_socket(lnet_t *n, const char *name, uint32_t *addr, int *fd) {
  if (strcmp(name, "host") == 0) {
    fl_ip4_parse(fl_net_host_addr(n->net), addr);
    *fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return *fd < 0 ? UV_EINVAL : 0;
  }
  fl_net_ep_t *ep = fl_net_endpoint(n->net, name, 0, NULL);
  if (ep == NULL || !ep->attached)
    return UV_ENOENT;
  *addr = ep->addr;
  return fl_netns_socket(ep->ns_path, AF_INET, SOCK_DGRAM, fd);
}

static int l_probe(lua_State *L) {
  lnet_t *n = check_net(L, 1);
  const char *a = luaL_checkstring(L, 2), *b = luaL_checkstring(L, 3);
  double secs = luaL_optnumber(L, 4, 0.5);
  fl_task_t *t = fl_task_current(L);
  uint32_t a_addr, b_addr;
  int afd = -1, bfd = -1;
  if (n->net == NULL)
    return luaL_error(L, "the network is not ready");
  int rc = side_socket(n, a, &a_addr, &afd);
  if (rc == 0)
    rc = side_socket(n, b, &b_addr, &bfd);
  if (rc < 0) {
    if (afd >= 0)
      close(afd);
    return luaL_error(L, "fl.expect.isolated: cannot open a socket as %s: %s",
                      afd < 0 ? a : b, uv_strerror(rc));
  }
  probe_t *p = fl_calloc(1, sizeof(*p));
  p->task = t;
  p->nticks = 5;
  uv_udp_init(n->loop, &p->rx);
  uv_udp_init(n->loop, &p->tx);
  uv_timer_init(n->loop, &p->timer);
  p->rx.data = p->tx.data = p->timer.data = p;
  p->open = 3;
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(b_addr);
  struct sockaddr_in ta = sa;
  ta.sin_addr.s_addr = htonl(a_addr);
  socklen_t len = sizeof(sa);
  char as[16], bs[16];
  fl_ip4_format(a_addr, as, sizeof(as));
  fl_ip4_format(b_addr, bs, sizeof(bs));
  if (bind(bfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      bind(afd, (struct sockaddr *)&ta, sizeof(ta)) != 0 ||
      getsockname(bfd, (struct sockaddr *)&sa, &len) != 0 ||
      uv_udp_open(&p->rx, bfd) < 0) {
    close(afd);
    close(bfd);
    probe_close(p);
    return luaL_error(L, "fl.expect.isolated: cannot bind the probe's sockets (%s, %s)",
                      as, bs);
  }
  if (uv_udp_open(&p->tx, afd) < 0) {
    close(afd);
    probe_close(p);
    return luaL_error(L, "fl.expect.isolated: cannot use the probe's socket in %s", a);
  }
  p->to = sa;
  snprintf(p->detail, sizeof(p->detail), "UDP from %s (%s) to %s (%s:%d)", a, as, b, bs,
           ntohs(sa.sin_port));
  uv_udp_recv_start(&p->rx, probe_alloc, probe_recv);
  uint64_t every = (uint64_t)(secs * 1000 / p->nticks);
  uv_timer_start(&p->timer, probe_tick, 0, every ? every : 1);
  return fl_task_yield(L, t, probe_cancel, p);
}

static int l_index(lua_State *L) {
  lnet_t **slot = luaL_checkudata(L, 1, NET_MT);
  lnet_t *n = *slot;
  const char *k = luaL_checkstring(L, 2);
  if (n != NULL && n->net != NULL) {
    if (strcmp(k, "subnet") == 0) {
      lua_pushstring(L, fl_net_subnet_str(n->net));
      return 1;
    }
    if (strcmp(k, "host") == 0) {
      lua_pushstring(L, fl_net_host_addr(n->net));
      return 1;
    }
    if (strcmp(k, "bridge") == 0 || strcmp(k, "table") == 0) {
      lua_pushstring(L, fl_net_bridge(n->net));
      return 1;
    }
  }
  if (n != NULL && strcmp(k, "run_id") == 0) {
    lua_pushstring(L, n->run_id);
    return 1;
  }
  if (strcmp(k, "features") == 0) {
    lua_createtable(L, 0, 4);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "nftables");
    lua_pushboolean(L, features.tbf);
    lua_setfield(L, -2, "tbf");
    lua_pushboolean(L, features.netem);
    lua_setfield(L, -2, "netem");
    if (!features.netem) {
      lua_pushstring(L, features.netem_error);
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
  if (n == NULL || n->net == NULL)
    lua_pushstring(L, "network (closed)");
  else
    lua_pushfstring(L, "network %s (bridge %s)", fl_net_subnet_str(n->net),
                    fl_net_bridge(n->net));
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
