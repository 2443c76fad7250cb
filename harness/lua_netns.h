/* What the Lua core (harness/lua_core.c) opens of the namespace layer's
 * binding (harness/lua_network.c, over faults/netns_net.h). */
#ifndef FL_LUA_NETNS_H
#define FL_LUA_NETNS_H

#include <lua.h>

/* Opens core.net_open (the namespace layer's entry; see lua_network.c) on the
 * table at the top of L's stack. */
void fl_luaopen_network(lua_State *L);

#endif
