/* What the Lua bindings of the TCP proxy (lua_proxy.c) and the UDP proxy
 * (lua_udp.c) share: a link stands for `from` reaching `to`, has a name,
 * takes part in partitions, and records its faults on the timeline with
 * those names as targets. Each binding's userdata starts with an fl_lua_link_t. */
#ifndef FL_LUA_LINK_H
#define FL_LUA_LINK_H

#include <jansson.h>
#include <lua.h>
#include <stdint.h>

#include "harness/engine.h"

typedef struct fl_lua_link_s {
  fl_scenario_t *sc;
  char *name, *from, *to;
  int cut_fault; /* the open partition of this link alone, or 0 */
  int closed;    /* its scenario ended */
} fl_lua_link_t;

/* Copies the names; name may be NULL: "from->to<suffix>", else
 * "<prefix>-<upstream>". */
void fl_lua_link_init(fl_lua_link_t *l, fl_scenario_t *sc, const char *name,
                      const char *from, const char *to, const char *upstream,
                      const char *suffix);
void fl_lua_link_free(fl_lua_link_t *l);
/* Returns new: ["from", "to"], or [name] when the ends are not named. */
json_t *fl_lua_link_targets(const fl_lua_link_t *l);
/* __index for the common fields (name, listen, upstream, from, to, port);
 * anything else is looked up in the metatable's "methods". */
int fl_lua_link_index(lua_State *L, const fl_lua_link_t *l, const char *listen,
                      const char *upstream);
/* Records the start (direction "both", "upstream" or "downstream") and the
 * end of a partition of this link alone. */
void fl_lua_link_cut_begin(fl_lua_link_t *l, const char *direction);
void fl_lua_link_cut_end(fl_lua_link_t *l);

/* Adapts a scenario closer's done(done_arg) to the one-pointer close
 * callbacks of the proxies: fl_done_new makes the context, fl_done_fire
 * calls done and frees it. */
void *fl_done_new(void (*done)(void *), void *done_arg);
void fl_done_fire(void *ctx);

/* The directions a Lua string names: "both" (default), "upstream",
 * "downstream"; raises on anything else. Returns FL_UPSTREAM | ... bits
 * and the canonical name in *name. */
int fl_lua_link_check_direction(lua_State *L, int idx, const char **name);

#endif
