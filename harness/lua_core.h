/* What the Lua bindings use of harness/lua_core.c to report misuse: the
 * scenario's file:line for errors raised in C. (fl_lua_check_keys, the C
 * face of the one option checker, is declared in engine_int.h.) */
#ifndef FL_LUA_CORE_H
#define FL_LUA_CORE_H

#include <lua.h>

/* Pushes "file.lua:12: ", the position of the first Lua function at or above
 * stack level `level` (as luaL_where's: 1 is the caller of the running C
 * function) whose code is not one of faultline's own modules
 * (the files of harness/lua/): the scenario's line, or a scenario library's.
 * When there is none at or above level, the nearest of the user's frames
 * below it; when every frame is faultline's, luaL_where(L, level). */
void fl_lua_where(lua_State *L, int level);

/* luaL_error, positioned by fl_lua_where(L, 1). Does not return. */
int fl_lua_error(lua_State *L, const char *fmt, ...);

#endif
