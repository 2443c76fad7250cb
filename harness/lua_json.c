/* Lua values <-> jansson values. A table whose keys are 1..n is an array
 * (an empty table is an empty object unless it carries the `fl.array`
 * marker), integers stay integers, other tables are objects keyed by their
 * string (or number) keys. */
#include <lauxlib.h>
#include <math.h>

#include "harness/engine.h"
#include "harness/lua_core.h"

#define MAX_DEPTH 64

static json_t *to_json(lua_State *L, int idx, int depth) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
  case LUA_TNIL:
    return json_null();
  case LUA_TLIGHTUSERDATA:
    /* fl.json.null: a null that can sit in a Lua array. */
    if (lua_touserdata(L, idx) == NULL)
      return json_null();
    return json_string("<userdata>");
  case LUA_TBOOLEAN:
    return json_boolean(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx))
      return json_integer((json_int_t)lua_tointeger(L, idx));
    if (!isfinite(lua_tonumber(L, idx)))
      return json_null();
    return json_real(lua_tonumber(L, idx));
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    json_t *j = json_stringn(s, len);
    /* Not UTF-8: keep the bytes visible rather than lose the value. */
    return j != NULL ? j : json_string("<binary>");
  }
  case LUA_TTABLE: {
    if (depth > MAX_DEPTH)
      luaL_error(L, "value nested too deeply to convert to JSON");
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    int is_array = n > 0;
    if (n == 0 && luaL_getmetafield(L, idx, "__fl_array") != LUA_TNIL) {
      lua_pop(L, 1);
      return json_array();
    }
    if (is_array) {
      /* Only an array when it has no other keys. */
      lua_Integer count = 0;
      lua_pushnil(L);
      while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        count++;
      }
      is_array = count == n;
    }
    if (is_array) {
      json_t *a = json_array();
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        json_array_append_new(a, to_json(L, -1, depth + 1));
        lua_pop(L, 1);
      }
      return a;
    }
    json_t *o = json_object();
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      const char *k;
      if (lua_type(L, -2) == LUA_TSTRING) {
        k = lua_tostring(L, -2);
      } else if (lua_type(L, -2) == LUA_TNUMBER) {
        lua_pushvalue(L, -2); /* a copy: tostring must not convert the key itself */
        k = lua_tostring(L, -1);
        json_object_set_new(o, k, to_json(L, -2, depth + 1));
        lua_pop(L, 2);
        continue;
      } else {
        lua_pop(L, 1);
        continue;
      }
      json_object_set_new(o, k, to_json(L, -1, depth + 1));
      lua_pop(L, 1);
    }
    return o;
  }
  default:
    return json_string(luaL_tolstring(L, idx, NULL));
  }
}

json_t *fl_lua_to_json(lua_State *L, int idx) {
  int top = lua_gettop(L);
  json_t *j = to_json(L, idx, 0);
  lua_settop(L, top);
  return j;
}

void fl_lua_push_json(lua_State *L, const json_t *j) {
  luaL_checkstack(L, 4, "JSON too deep");
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    lua_createtable(L, 0, (int)json_object_size(j));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)j, k, v) {
      fl_lua_push_json(L, v);
      lua_setfield(L, -2, k);
    }
    break;
  }
  case JSON_ARRAY: {
    lua_createtable(L, (int)json_array_size(j), 0);
    /* Marked, so an empty array stays an array on its way back to JSON. */
    if (luaL_newmetatable(L, "faultline.array")) {
      lua_pushboolean(L, 1);
      lua_setfield(L, -2, "__fl_array");
    }
    lua_setmetatable(L, -2);
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) {
      fl_lua_push_json(L, v);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    break;
  }
  case JSON_STRING:
    lua_pushlstring(L, json_string_value(j), json_string_length(j));
    break;
  case JSON_INTEGER:
    lua_pushinteger(L, (lua_Integer)json_integer_value(j));
    break;
  case JSON_REAL:
    lua_pushnumber(L, json_real_value(j));
    break;
  case JSON_TRUE:
    lua_pushboolean(L, 1);
    break;
  case JSON_FALSE:
    lua_pushboolean(L, 0);
    break;
  default:
    lua_pushnil(L);
    break;
  }
}
