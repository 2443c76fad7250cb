/* What every Lua binding may use besides harness/engine.h: positions at the
 * scenario's file:line for errors raised in C, the one option checker's C
 * face, Lua <-> JSON, and the openers of the bindings (the table of them is
 * in lua_core.c). A binding includes engine.h and this, never
 * engine_int.h: that one is the engine's own (engine.c, runner.c, run.c,
 * recorder.c, lua_core.c). */
#ifndef FL_LUA_CORE_H
#define FL_LUA_CORE_H

#include <jansson.h>
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

/* Checks that every key of the table at idx is one of allowed (NULL-ended);
 * raises "file:line: what: unknown option 'x'" otherwise. */
void fl_lua_check_keys(lua_State *L, int idx, const char *what,
                       const char *const *allowed);

/* lua_json.c: a Lua value as JSON (new), and a JSON value (borrowed) pushed
 * as Lua. */
json_t *fl_lua_to_json(lua_State *L, int idx);
void fl_lua_push_json(lua_State *L, const json_t *j);

/* The bindings' openers: each adds its functions to the table on top. */
void fl_luaopen_service(lua_State *L);
void fl_luaopen_http(lua_State *L);
void fl_luaopen_history(lua_State *L);
void fl_luaopen_check(lua_State *L);
void fl_luaopen_proxy(lua_State *L);
void fl_luaopen_tcp(lua_State *L);
void fl_luaopen_pg(lua_State *L); /* lua_pg.c */
void fl_luaopen_udp(lua_State *L);
void fl_luaopen_exec(lua_State *L);
void fl_luaopen_nemesis(lua_State *L); /* lua_nemesis.c */

#endif
