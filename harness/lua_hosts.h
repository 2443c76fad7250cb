/* What the Lua core (harness/lua_core.c) and the engine use of fl.hosts{...}
 * (harness/lua_hosts.c): the hosts a scenario file declares itself, when no
 * `--hosts FILE` is given (--hosts wins). */
#ifndef FL_LUA_HOSTS_H
#define FL_LUA_HOSTS_H

#include <lua.h>

#include "harness/hosts.h"

/* Opens core.hosts_set and core.hosts_list on the table at the top of L's
 * stack. */
void fl_luaopen_hosts(lua_State *L);

/* The hosts L's file gave with fl.hosts{...}, or NULL when it gave none.
 * Borrowed: valid as long as L. */
const fl_hosts_t *fl_lua_hosts_declared(lua_State *L);

#endif
