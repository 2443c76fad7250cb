/* Recording operations: the workload runner (harness/lua/faultline.lua)
 * calls these around every client operation. Each call stamps the time on
 * the run's monotonic clock and appends a line to history.jsonl; completions
 * also feed the run's op counts and latency figures for report.json. */
#include <lauxlib.h>
#include <string.h>

#include "harness/engine.h"
#include "harness/lua_core.h"

static json_t *opt_json(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : fl_lua_to_json(L, idx);
}

/* core.history_invoke(process, f, key, value) -> time_ns */
static int l_invoke(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  int process = (int)luaL_checkinteger(L, 1);
  const char *f = luaL_checkstring(L, 2);
  const char *key = luaL_optstring(L, 3, NULL);
  json_t *value = opt_json(L, 4);
  uint64_t now = fl_scenario_record_invoke(sc, process, f, key, value);
  json_decref(value);
  lua_pushinteger(L, (lua_Integer)now);
  return 1;
}

/* core.history_complete(process, type, f, key, value, error, invoke_ns) */
static int l_complete(lua_State *L) {
  static const char *const types[] = {"ok", "fail", "info", NULL};
  fl_scenario_t *sc = fl_engine_scenario(L);
  int process = (int)luaL_checkinteger(L, 1);
  int ti = luaL_checkoption(L, 2, NULL, types);
  const char *f = luaL_checkstring(L, 3);
  const char *key = luaL_optstring(L, 4, NULL);
  json_t *value = opt_json(L, 5);
  const char *error = luaL_optstring(L, 6, NULL);
  lua_Integer invoked = luaL_optinteger(L, 7, -1);
  uint64_t now =
      fl_scenario_record_complete(sc, process, types[ti], f, key, value, error,
                                  invoked >= 0 ? (uint64_t)invoked : (uint64_t)-1);
  json_decref(value);
  lua_pushinteger(L, (lua_Integer)now);
  return 1;
}

static int l_process(lua_State *L) {
  lua_pushinteger(L, fl_scenario_next_process(fl_engine_scenario(L)));
  return 1;
}

static int l_history_flush(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  /* A check reads the file next: never from a history with a hole. */
  if (fl_scenario_check_disk(sc) < 0) {
    const char *e = fl_scenario_error(sc);
    return luaL_error(L, "%s", e ? e : "history.jsonl is incomplete");
  }
  lua_pushfstring(L, "%s/history.jsonl", fl_scenario_dir(sc));
  return 1;
}

void fl_luaopen_history(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"history_invoke", l_invoke},
      {"history_complete", l_complete},
      {"history_process", l_process},
      {"history_flush", l_history_flush},
      {NULL, NULL},
  };
  luaL_setfuncs(L, funcs, 0);
}
