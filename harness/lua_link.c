#include "harness/lua_link.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "faults/proxy.h"
#include "base/alloc.h"
#include "harness/engine.h"
#include "harness/lua_core.h"

void fl_lua_link_init(fl_lua_link_t *l, fl_scenario_t *sc, const char *name,
                      const char *from, const char *to, const char *upstream,
                      const char *suffix) {
  l->sc = sc;
  if (name != NULL)
    l->name = fl_strdup(name);
  else if (from != NULL && to != NULL)
    l->name = fl_asprintf("%s->%s%s", from, to, suffix);
  else
    l->name = fl_asprintf("proxy%s-%s", suffix, upstream);
  l->from = from ? fl_strdup(from) : NULL;
  l->to = to ? fl_strdup(to) : NULL;
}

void fl_lua_link_free(fl_lua_link_t *l) {
  fl_free(l->name);
  fl_free(l->from);
  fl_free(l->to);
  l->name = l->from = l->to = NULL;
}

json_t *fl_lua_link_targets(const fl_lua_link_t *l) {
  if (l->from != NULL && l->to != NULL)
    return json_pack("[s, s]", l->from, l->to);
  return json_pack("[s]", l->name);
}

int fl_lua_link_index(lua_State *L, const fl_lua_link_t *l, const char *listen,
                      const char *upstream) {
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "name") == 0) {
    lua_pushstring(L, l->name);
  } else if (strcmp(k, "listen") == 0) {
    lua_pushstring(L, listen);
  } else if (strcmp(k, "upstream") == 0) {
    lua_pushstring(L, upstream);
  } else if (strcmp(k, "from") == 0) {
    lua_pushstring(L, l->from);
  } else if (strcmp(k, "to") == 0) {
    lua_pushstring(L, l->to);
  } else if (strcmp(k, "port") == 0) {
    const char *c = listen ? strrchr(listen, ':') : NULL;
    if (c != NULL)
      lua_pushinteger(L, atoi(c + 1));
    else
      lua_pushnil(L);
  } else {
    luaL_getmetafield(L, 1, "methods");
    lua_getfield(L, -1, k);
  }
  return 1;
}

void fl_lua_link_cut_begin(fl_lua_link_t *l, const char *direction) {
  if (l->cut_fault)
    return;
  l->cut_fault = fl_timeline_fault_begin(
      fl_scenario_timeline(l->sc), "partition", fl_lua_link_targets(l),
      json_pack("{s:s, s:s}", "proxy", l->name, "direction", direction));
}

void fl_lua_link_cut_end(fl_lua_link_t *l) {
  if (l->cut_fault) {
    fl_timeline_fault_end(fl_scenario_timeline(l->sc), l->cut_fault);
    l->cut_fault = 0;
  }
}

typedef struct {
  void (*done)(void *);
  void *arg;
} done_t;

void *fl_done_new(void (*done)(void *), void *done_arg) {
  done_t *d = fl_malloc(sizeof(*d));
  d->done = done;
  d->arg = done_arg;
  return d;
}

void fl_done_fire(void *ctx) {
  done_t *d = ctx;
  d->done(d->arg);
  fl_free(d);
}

int fl_lua_link_check_direction(lua_State *L, int idx, const char **name) {
  static const char *const dirs[] = {"both", "upstream", "downstream", NULL};
  static const int bits[] = {FL_UPSTREAM | FL_DOWNSTREAM, FL_UPSTREAM, FL_DOWNSTREAM};
  int d = luaL_checkoption(L, idx, "both", dirs);
  *name = dirs[d];
  return bits[d];
}
