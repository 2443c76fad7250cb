/* fl.hosts{...} (issue 16): a scenario file names its remote hosts itself,
 * in the fields of a hosts file (harness/hosts.h), when the command line
 * gives none. The hosts are read at the file's top level, before the
 * scenario starts: the engine connects to them (harness/remote.h) between
 * loading the file and starting the scenario's function. `--hosts FILE`
 * wins over fl.hosts{...}: the file's list is then ignored, with a note in
 * the log. fl.hosts() lists the hosts the run uses. */
#include "harness/lua_hosts.h"

#include <lauxlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "harness/remote_agent.h"
#include "harness/engine.h"
#include "harness/lua_core.h"

static const char HOSTS_KEY[] = "faultline.hosts";
static const char HOSTS_MT[] = "faultline.hosts_list";

static int hosts_gc(lua_State *L) {
  fl_hosts_free(lua_touserdata(L, 1));
  return 0;
}

/* The hosts --hosts gave, or NULL. */
static const fl_hosts_t *given_hosts(lua_State *L) {
  fl_engine_t *e = fl_engine_from_lua(L);
  const fl_engine_opts_t *o = e != NULL ? fl_engine_opts(e) : NULL;
  return o != NULL ? o->hosts : NULL;
}

const fl_hosts_t *fl_lua_hosts_declared(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, HOSTS_KEY);
  const fl_hosts_t *h = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return h;
}

/* core.hosts_set(list): fl.hosts{...}. */
static int l_hosts_set(lua_State *L) {
  int main_chunk = lua_pushthread(L); /* a task runs on a thread of its own */
  lua_pop(L, 1);
  if (!main_chunk)
    return fl_lua_error(L, "fl.hosts{...} belongs at the top of the file, outside "
                           "fl.scenario: hosts are connected before a scenario starts");
  if (fl_lua_hosts_declared(L) != NULL)
    return fl_lua_error(L, "fl.hosts{...}: the hosts are already given (call it once)");
  fl_hosts_t *h = lua_newuserdatauv(L, sizeof(*h), 0);
  memset(h, 0, sizeof(*h));
  luaL_setmetatable(L, HOSTS_MT); /* frees what a failed read left */
  fl_err_t err = {0};
  fl_lua_where(L, 1);
  char *where = fl_strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  size_t n = strlen(where);
  if (n >= 2 && where[n - 2] == ':' && where[n - 1] == ' ')
    where[n - 2] = '\0'; /* "file.lua:3" */
  char *what = fl_asprintf("%s: fl.hosts", where);
  fl_free(where);
  int rc = fl_hosts_from_lua(L, 1, what, h, &err);
  fl_free(what);
  if (rc < 0) {
    lua_pushstring(L, err.msg);
    return lua_error(L);
  }
  lua_setfield(L, LUA_REGISTRYINDEX, HOSTS_KEY);
  return 0;
}

static void push_host(lua_State *L, const fl_host_t *h) {
  lua_createtable(L, 0, 7);
  lua_pushstring(L, h->name);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, h->address);
  lua_setfield(L, -2, "address");
  if (h->user != NULL) {
    lua_pushstring(L, h->user);
    lua_setfield(L, -2, "user");
  }
  if (h->port > 0) {
    lua_pushinteger(L, h->port);
    lua_setfield(L, -2, "port");
  }
  if (h->identity != NULL) {
    lua_pushstring(L, h->identity);
    lua_setfield(L, -2, "identity");
  }
  lua_pushboolean(L, h->sudo);
  lua_setfield(L, -2, "sudo");
  if (h->known_hosts != NULL) {
    lua_pushstring(L, h->known_hosts);
    lua_setfield(L, -2, "known_hosts");
  }
}

/* core.hosts_list(): the hosts of the run, --hosts's or fl.hosts's, as a
 * list of new tables (empty when there are none). */
static int l_hosts_list(lua_State *L) {
  const fl_hosts_t *h = given_hosts(L);
  if (h == NULL)
    h = fl_lua_hosts_declared(L);
  lua_createtable(L, h != NULL ? (int)h->n : 0, 0);
  for (size_t i = 0; h != NULL && i < h->n; i++) {
    push_host(L, &h->v[i]);
    lua_rawseti(L, -2, (lua_Integer)(i + 1));
  }
  return 1;
}

/* ---- talking to the agents (the services on hosts, harness/lua/hosts.lua) -- */

/* A task waiting for an agent's answer (seq >= 0) or a service's exit
 * (name). */
typedef struct waiter_s {
  fl_task_t *task;
  int host;
  json_int_t seq;
  char *name;
  uv_timer_t timer;
  struct waiter_s *next;
} waiter_t;

typedef struct {
  lua_State *L;        /* the scenario's main state */
  fl_agents_t *agents; /* ended (and freed) before L is closed */
  const fl_hosts_t *hosts;
  int sub_ref; /* core.agent_subscribe's function, or LUA_NOREF */
  json_int_t next_seq;
  waiter_t *waiters;
} link_t;

static const char LINK_KEY[] = "faultline.agent_link";

static void waiter_closed(uv_handle_t *h) {
  waiter_t *w = h->data;
  fl_free(w->name);
  fl_free(w);
}

static void waiter_unlink(link_t *k, waiter_t *w) {
  for (waiter_t **p = &k->waiters; *p != NULL; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  uv_close((uv_handle_t *)&w->timer, waiter_closed);
}

static void on_event(size_t host, const json_t *ev, void *arg) {
  link_t *k = arg;
  const fl_hosts_t *hosts = k->hosts;
  if (k->sub_ref != LUA_NOREF) {
    lua_rawgeti(k->L, LUA_REGISTRYINDEX, k->sub_ref);
    lua_pushstring(k->L, hosts->v[host].name);
    fl_lua_push_json(k->L, ev);
    if (lua_pcall(k->L, 2, 0, 0) != LUA_OK) {
      FL_LOG(FL_LOG_WARN, "remote", "%s", lua_tostring(k->L, -1));
      lua_pop(k->L, 1);
    }
  }
  json_t *seq = json_object_get(ev, "seq");
  const char *kind = json_string_value(json_object_get(ev, "ev"));
  const char *name = json_string_value(json_object_get(ev, "name"));
  for (waiter_t *w = k->waiters, *next; w != NULL; w = next) {
    next = w->next;
    int match =
        w->host == (int)host &&
        ((w->seq >= 0 && json_is_integer(seq) && json_integer_value(seq) == w->seq) ||
         (w->name != NULL && kind != NULL && strcmp(kind, "exit") == 0 && name != NULL &&
          strcmp(name, w->name) == 0));
    if (!match)
      continue;
    fl_task_t *t = w->task;
    waiter_unlink(k, w);
    fl_lua_push_json(fl_task_thread(t), ev);
    fl_task_resume(t, 1);
  }
}

static void on_waiter_timeout(uv_timer_t *timer) {
  waiter_t *w = timer->data;
  fl_task_t *t = w->task;
  lua_State *co = fl_task_thread(t);
  lua_getfield(co, LUA_REGISTRYINDEX, LINK_KEY);
  link_t *lk = lua_touserdata(co, -1);
  lua_pop(co, 1);
  waiter_unlink(lk, w);
  lua_pushnil(co);
  lua_pushstring(co, "no answer in time");
  fl_task_resume(t, 2);
}

static void waiter_cancel(void *data) {
  waiter_t *w = data;
  lua_State *co = fl_task_thread(w->task);
  lua_getfield(co, LUA_REGISTRYINDEX, LINK_KEY);
  link_t *lk = lua_touserdata(co, -1);
  lua_pop(co, 1);
  waiter_unlink(lk, w);
}

/* The link of L's scenario to its agents; raises when it has no hosts. */
static link_t *get_link(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  lua_getfield(L, LUA_REGISTRYINDEX, LINK_KEY);
  link_t *k = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (k != NULL)
    return k;
  if (fl_scenario_agents(sc) == NULL)
    luaL_error(L, "this run has no remote hosts (give --hosts FILE or fl.hosts{...})");
  k = lua_newuserdatauv(L, sizeof(*k), 0);
  memset(k, 0, sizeof(*k));
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  k->L = lua_tothread(L, -1);
  lua_pop(L, 1);
  k->agents = fl_scenario_agents(sc);
  k->hosts = fl_scenario_hosts(sc);
  k->sub_ref = LUA_NOREF;
  lua_setfield(L, LUA_REGISTRYINDEX, LINK_KEY);
  fl_agents_on_event(k->agents, on_event, k);
  return k;
}

static int host_index(lua_State *L, link_t *k, int idx) {
  const char *name = luaL_checkstring(L, idx);
  int i = fl_agents_index(k->agents, name);
  if (i < 0)
    luaL_error(L, "no host named \"%s\" (the run's hosts: fl.hosts())", name);
  return i;
}

static int wait_for(lua_State *L, link_t *k, int host, json_int_t seq, const char *name,
                    double timeout_s) {
  fl_task_t *t = fl_task_current(L);
  waiter_t *w = fl_calloc(1, sizeof(*w));
  w->task = t;
  w->host = host;
  w->seq = seq;
  w->name = name != NULL ? fl_strdup(name) : NULL;
  w->next = k->waiters;
  k->waiters = w;
  uv_timer_init(fl_engine_loop(fl_engine_from_lua(L)), &w->timer);
  w->timer.data = w;
  uv_timer_start(&w->timer, on_waiter_timeout, (uint64_t)(timeout_s * 1000), 0);
  return fl_task_yield(L, t, waiter_cancel, w);
}

/* core.agent_call(host, request, timeout_s) -> the answer (a table), or nil
 * and why. */
static int l_agent_call(lua_State *L) {
  link_t *k = get_link(L);
  int host = host_index(L, k, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  double timeout = luaL_optnumber(L, 3, 30);
  json_t *req = fl_lua_to_json(L, 2);
  json_int_t seq = ++k->next_seq;
  json_object_set_new(req, "seq", json_integer(seq));
  int rc = fl_agents_send(k->agents, (size_t)host, req);
  json_decref(req);
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "the agent on host \"%s\" is gone", lua_tostring(L, 1));
    return 2;
  }
  return wait_for(L, k, host, seq, NULL, timeout);
}

/* core.agent_wait_exit(host, service, timeout_s) -> the exit event, or nil
 * and why. */
static int l_agent_wait_exit(lua_State *L) {
  link_t *k = get_link(L);
  int host = host_index(L, k, 1);
  return wait_for(L, k, host, -1, luaL_checkstring(L, 2), luaL_checknumber(L, 3));
}

/* core.agent_subscribe(fn): fn(host, event) for every event of every agent,
 * from the loop (it must not wait). */
static int l_agent_subscribe(lua_State *L) {
  link_t *k = get_link(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  if (k->sub_ref != LUA_NOREF)
    luaL_unref(L, LUA_REGISTRYINDEX, k->sub_ref);
  lua_pushvalue(L, 1);
  k->sub_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* core.agent_offset(host) -> the host's clock minus ours (s). */
static int l_agent_offset(lua_State *L) {
  link_t *k = get_link(L);
  lua_pushnumber(L, fl_agents_offset(k->agents, (size_t)host_index(L, k, 1)));
  return 1;
}

void fl_luaopen_hosts(lua_State *L) {
  if (luaL_newmetatable(L, HOSTS_MT)) {
    lua_pushcfunction(L, hosts_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_hosts_set);
  lua_setfield(L, -2, "hosts_set");
  lua_pushcfunction(L, l_hosts_list);
  lua_setfield(L, -2, "hosts_list");
  static const luaL_Reg agent[] = {{"agent_call", l_agent_call},
                                   {"agent_wait_exit", l_agent_wait_exit},
                                   {"agent_subscribe", l_agent_subscribe},
                                   {"agent_offset", l_agent_offset},
                                   {NULL, NULL}};
  luaL_setfuncs(L, agent, 0);
}
