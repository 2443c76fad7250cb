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
}
