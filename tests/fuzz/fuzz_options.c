/* libFuzzer target: the one option checker every public Lua call goes
 * through, in its two faces (fl_lua_check_keys for the C bindings, the
 * public fl.options for Lua), on option tables built from arbitrary bytes.
 *
 * Input: the first line is the allowed names, comma-separated; every other
 * line is one option: "name=value" (a string key), or "#N=value" (a
 * positional key N). The first byte of value picks its type (s string,
 * n number, b boolean, t table). The oracle: the check raises exactly when
 * a string key is not allowed (fl.options: or any positional key), and the
 * message then says "unknown option". Anything else, or a crash, aborts. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness/engine_int.h"
#include "harness/lua_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_NAMES 16

typedef struct {
  char *names[MAX_NAMES + 1];
  int nnames;
  int unknown_key;    /* a string key outside names */
  int positional_key; /* a number key */
} input_t;

static int l_check_keys(lua_State *L) {
  const input_t *in = lua_touserdata(L, lua_upvalueindex(1));
  fl_lua_check_keys(L, 1, "fuzz", (const char *const *)in->names);
  return 0;
}

/* One option line into the table on top. */
static void put_option(lua_State *L, input_t *in, const char *line) {
  const char *eq = strchr(line, '=');
  if (eq == NULL || eq == line)
    return;
  const char *v = eq + 1;
  if (line[0] == '#') {
    lua_pushinteger(L, atoi(line + 1));
    in->positional_key = 1;
  } else {
    lua_pushlstring(L, line, (size_t)(eq - line));
    int ok = 0;
    for (int i = 0; i < in->nnames; i++)
      ok = ok || (strlen(in->names[i]) == (size_t)(eq - line) &&
                  memcmp(in->names[i], line, (size_t)(eq - line)) == 0);
    in->unknown_key |= !ok;
  }
  switch (v[0]) {
  case 'n':
    lua_pushnumber(L, atof(v + 1));
    break;
  case 'b':
    lua_pushboolean(L, v[1] == '1');
    break;
  case 't':
    lua_newtable(L);
    break;
  default:
    lua_pushstring(L, v[0] ? v + 1 : v);
    break;
  }
  lua_rawset(L, -3);
}

static void expect(int raised, int want, lua_State *L) {
  if (raised != want)
    abort();
  if (raised && strstr(lua_tostring(L, -1), "unknown option") == NULL &&
      strstr(lua_tostring(L, -1), "keys must be names") == NULL)
    abort();
  lua_settop(L, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  input_t in = {0};
  char *save = NULL;
  char *first = strtok_r(text, "\n", &save);
  char *rest = save;
  for (char *s2 = NULL, *n = first ? strtok_r(first, ",", &s2) : NULL;
       n != NULL && in.nnames < MAX_NAMES; n = strtok_r(NULL, ",", &s2))
    in.names[in.nnames++] = n;

  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "faultline.core", fl_luaopen_core, 0);
  lua_getfield(L, -1, "options");
  lua_setglobal(L, "options");
  lua_settop(L, 0);

  /* The options, kept in the registry for both faces. */
  lua_newtable(L);
  for (char *l = rest ? strtok_r(rest, "\n", &save) : NULL; l != NULL;
       l = strtok_r(NULL, "\n", &save))
    put_option(L, &in, l);
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);

  /* The C face: positional keys pass (the array part of a call's table). */
  lua_pushlightuserdata(L, &in);
  lua_pushcclosure(L, l_check_keys, 1);
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  expect(lua_pcall(L, 1, 0, 0) != LUA_OK, in.unknown_key, L);

  /* The Lua face, fl.options(opts, what, allowed): positional keys too. */
  lua_getglobal(L, "options");
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_pushstring(L, "fuzz");
  lua_newtable(L);
  for (int i = 0; i < in.nnames; i++) {
    lua_pushstring(L, in.names[i]);
    lua_rawseti(L, -2, i + 1);
  }
  expect(lua_pcall(L, 3, 1, 0) != LUA_OK, in.unknown_key || in.positional_key, L);

  lua_close(L);
  free(text);
  return 0;
}
