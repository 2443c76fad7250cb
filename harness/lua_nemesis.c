/* What fl.nemesis (harness/lua/nemesis.lua) needs from C: a random stream
 * of its own, seeded from the run's seed and a name through the one seed
 * derivation (fl_seed_for), so the faults it draws do not depend on how many
 * numbers the workload drew before them; and the schedule `faultline run
 * --replay` asked it to replay. */
#include <lauxlib.h>
#include <stdint.h>

#include "base/prng.h"
#include "harness/engine.h"
#include "harness/lua_core.h"

static const char RNG_MT[] = "faultline.nemesis_rng";

/* core.nemesis_rng(name) -> a stream: rng:float() in [0, 1),
 * rng:int(lo, hi) in [lo, hi]. Same run seed and name, same numbers. */
static int l_rng_new(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_prng_t *r = lua_newuserdatauv(L, sizeof(*r), 0);
  fl_prng_seed(r, fl_seed_for(fl_scenario_seed(sc), name));
  luaL_setmetatable(L, RNG_MT);
  return 1;
}

static int l_rng_float(lua_State *L) {
  fl_prng_t *r = luaL_checkudata(L, 1, RNG_MT);
  lua_pushnumber(L, fl_prng_double(r));
  return 1;
}

static int l_rng_int(lua_State *L) {
  fl_prng_t *r = luaL_checkudata(L, 1, RNG_MT);
  lua_Integer lo = luaL_checkinteger(L, 2), hi = luaL_checkinteger(L, 3);
  luaL_argcheck(L, lo <= hi, 3, "interval is empty");
  lua_pushinteger(L, (lua_Integer)fl_prng_range(r, (int64_t)lo, (int64_t)hi));
  return 1;
}

/* core.nemesis_replay() -> the path given to --replay (a report.json or a
 * schedule file; cmd_run.c checked it holds a schedule), or nil. */
static int l_replay(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  const char *p = fl_scenario_replay(sc);
  if (p == NULL)
    lua_pushnil(L);
  else
    lua_pushstring(L, p);
  return 1;
}

void fl_luaopen_nemesis(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"float", l_rng_float}, {"int", l_rng_int}, {NULL, NULL}};
  luaL_newmetatable(L, RNG_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_rng_new);
  lua_setfield(L, -2, "nemesis_rng");
  lua_pushcfunction(L, l_replay);
  lua_setfield(L, -2, "nemesis_replay");
}
