/* The Lua module "faultline.core": the calls the public "faultline" module
 * (harness/lua/faultline.lua) is built on: tasks, time, ports, randomness,
 * the timeline, the one option checker and failure constructor, the build's
 * version, and the loader of faultline's embedded Lua library. */
#include <arpa/inet.h>
#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"
#include "harness/engine_int.h"
#include "harness/lua_core.h"
#include "harness/lua_hosts.h"
#include "harness/lua_netns.h"
#include "harness/reaper.h"

/* ---- misuse, options and failures -------------------------------------------- */

/* The chunk names of faultline's own modules (the files of harness/lua/), as the
 * searcher at the end of this file gives them. The libraries of scenarios/lib
 * ("faultline.lib.NAME") are the user's side: their lines are worth showing. */
#define CORE_CHUNK "=[faultline]/faultline"
#define LIB_CHUNK CORE_CHUNK ".lib."

static int is_core_chunk(const char *source) {
  return strncmp(source, CORE_CHUNK, sizeof(CORE_CHUNK) - 1) == 0 &&
         strncmp(source, LIB_CHUNK, sizeof(LIB_CHUNK) - 1) != 0;
}

/* The position of the Lua function at stack level lv when it is the user's
 * (not one of faultline's modules), pushed; 0 (nothing pushed) otherwise. */
static int push_user_frame(lua_State *L, int lv, int *exists) {
  lua_Debug ar;
  *exists = lua_getstack(L, lv, &ar);
  if (!*exists)
    return 0;
  lua_getinfo(L, "Sl", &ar);
  if (ar.currentline <= 0 || is_core_chunk(ar.source))
    return 0;
  lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
  return 1;
}

void fl_lua_where(lua_State *L, int level) {
  int exists = 1;
  for (int lv = level; exists; lv++)
    if (push_user_frame(L, lv, &exists))
      return;
  /* Nothing above level (a scenario's own function is the bottom of its
   * task): the nearest of the user's frames below it. */
  for (int lv = level - 1; lv >= 1; lv--)
    if (push_user_frame(L, lv, &exists))
      return;
  luaL_where(L, level);
}

int fl_lua_error(lua_State *L, const char *fmt, ...) {
  va_list ap;
  fl_lua_where(L, 1);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Raises "what: unknown option 'key' (known: a, b)" at the scenario's line,
 * searched from level. known[0..n) are listed in their order. */
static int unknown_option(lua_State *L, int level, const char *what, const char *key,
                          const char *const *known, size_t n) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  fl_lua_where(L, level);
  luaL_addvalue(&b);
  lua_pushfstring(L, "%s: unknown option '%s' (known: ", what, key);
  luaL_addvalue(&b);
  for (size_t i = 0; i < n; i++) {
    if (i > 0)
      luaL_addstring(&b, ", ");
    luaL_addstring(&b, known[i]);
  }
  luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return lua_error(L);
}

void fl_lua_check_keys(lua_State *L, int idx, const char *what,
                       const char *const *allowed) {
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      if (lua_type(L, -1) == LUA_TNUMBER)
        continue; /* array part: positional values */
      fl_lua_error(L, "%s: keys must be names", what);
    }
    const char *k = lua_tostring(L, -1);
    size_t n = 0;
    int ok = 0;
    for (; allowed[n] != NULL; n++)
      ok = ok || strcmp(allowed[n], k) == 0;
    if (!ok)
      unknown_option(L, 1, what, k, allowed, n);
  }
}

/* core.options(opts, what, allowed [, level]) -> opts, or a new empty table
 * when opts is nil. allowed names the keys, as a set ({timeout = true}) or a
 * list ({"timeout"}). Any other key, positional ones included, raises
 * "what: unknown option" at the first line outside faultline's own modules,
 * searched from level (as error()'s: 1 is the function that called
 * fl.options, 2, the default, its caller). Published as fl.options. */
static int l_options(lua_State *L) {
  const char *what = luaL_checkstring(L, 2);
  luaL_checktype(L, 3, LUA_TTABLE);
  int level = (int)luaL_optinteger(L, 4, 2);
  luaL_argcheck(L, level >= 1, 4, "level must be 1 or more");
  lua_settop(L, 4);
  if (lua_isnoneornil(L, 1)) {
    lua_newtable(L);
    return 1;
  }
  if (!lua_istable(L, 1)) {
    fl_lua_where(L, level);
    lua_pushfstring(L, "%s: options must be a table, not a %s", what,
                    luaL_typename(L, 1));
    lua_concat(L, 2);
    return lua_error(L);
  }
  /* The names, collected from both forms into a set (index 5). */
  lua_newtable(L);
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, 3) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_toboolean(L, -1))
      lua_pushvalue(L, -2);
    else if (lua_type(L, -2) == LUA_TNUMBER && lua_type(L, -1) == LUA_TSTRING)
      lua_pushvalue(L, -1);
    else
      lua_pushnil(L);
    if (!lua_isnil(L, -1)) {
      lua_pushboolean(L, 1);
      lua_rawset(L, 5);
      n++;
    } else {
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      lua_pushvalue(L, -1);
      int known_key = lua_rawget(L, 5) != LUA_TNIL;
      lua_pop(L, 1);
      if (known_key)
        continue;
    }
    /* The known names, sorted, for the message (a userdata: no leak when
     * the error unwinds). */
    const char *key = luaL_tolstring(L, -1, NULL);
    const char **known = lua_newuserdatauv(L, (n ? n : 1) * sizeof(char *), 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, 5) != 0) {
      lua_pop(L, 1);
      if (i < n)
        known[i++] = lua_tostring(L, -1);
    }
    qsort(known, i, sizeof(char *), cmp_names);
    return unknown_option(L, level, what, key, known, i);
  }
  lua_settop(L, 1);
  return 1;
}

/* ---- tasks ------------------------------------------------------------------ */

static const char TASK_MT[] = "faultline.task";

static fl_task_t *check_task(lua_State *L, int i) {
  return *(fl_task_t **)luaL_checkudata(L, i, TASK_MT);
}

static void sleep_cancel(void *data) {
  fl_task_t *t = data;
  uv_timer_stop(&t->timer);
}

static void on_sleep(uv_timer_t *timer) {
  fl_task_t *t = fl_container_of(timer, fl_task_t, timer);
  fl_task_resume(t, 0);
}

static int l_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  luaL_argcheck(L, s >= 0, 1, "negative duration");
  fl_task_t *t = fl_task_current(L);
  uv_timer_start(&t->timer, on_sleep, (uint64_t)(s * 1000.0 + 0.5), 0);
  return fl_task_yield(L, t, sleep_cancel, t);
}

static int l_spawn(lua_State *L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  fl_scenario_t *sc = fl_engine_scenario(L);
  if (sc->finished)
    return luaL_error(L, "the scenario has ended");
  fl_task_t *t = fl_task_spawn(sc, L, 1, lua_gettop(L) - 1);
  fl_task_t **ud = lua_newuserdatauv(L, sizeof(*ud), 0);
  *ud = t;
  luaL_setmetatable(L, TASK_MT);
  return 1;
}

static int l_join(lua_State *L) {
  return fl_task_join(L, check_task(L, 1));
}

static int l_task_done(lua_State *L) {
  lua_pushboolean(L, check_task(L, 1)->done);
  return 1;
}

/* core.task_cancel(task) -> true, or false when it had already ended. */
static int l_task_cancel(lua_State *L) {
  lua_pushboolean(L, fl_task_cancel(L, check_task(L, 1)));
  return 1;
}

static int l_task_canceled(lua_State *L) {
  lua_pushboolean(L, check_task(L, 1)->canceled);
  return 1;
}

static int l_task_tostring(lua_State *L) {
  fl_task_t *t = check_task(L, 1);
  lua_pushfstring(L, "task %d (%s)", t->id, t->done ? "done" : "running");
  return 1;
}

/* ---- time, ports, randomness ------------------------------------------------- */

static int l_now(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  lua_pushnumber(L, fl_timeline_seconds(sc->tl));
  return 1;
}

static int l_now_ns(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  lua_pushinteger(L, (lua_Integer)fl_timeline_now(sc->tl));
  return 1;
}

/* A free loopback port: bind port 0, read the port back, close. The same
 * port is never handed out twice in one process, so concurrent services of
 * a run cannot be given the same one. */
static int l_port(lua_State *L) {
  static uint8_t given[65536 / 8];
  for (int attempt = 0; attempt < 64; attempt++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
      return luaL_error(L, "fl.port: socket: %s", strerror(errno));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
      close(fd);
      return luaL_error(L, "fl.port: %s", strerror(errno));
    }
    close(fd);
    int port = ntohs(a.sin_port);
    if (given[port / 8] & (1u << (port % 8)))
      continue;
    given[port / 8] |= (uint8_t)(1u << (port % 8));
    lua_pushinteger(L, port);
    return 1;
  }
  return luaL_error(L, "fl.port: no free port found");
}

static int l_random(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  uint64_t r = fl_prng_next(&sc->rng);
  int n = lua_gettop(L);
  if (n == 0) {
    lua_pushnumber(L, (double)(r >> 11) * 0x1.0p-53);
    return 1;
  }
  lua_Integer lo = 1, hi;
  if (n == 1) {
    hi = luaL_checkinteger(L, 1);
  } else {
    lo = luaL_checkinteger(L, 1);
    hi = luaL_checkinteger(L, 2);
  }
  luaL_argcheck(L, lo <= hi, n, "interval is empty");
  uint64_t span = (uint64_t)(hi - lo) + 1;
  lua_pushinteger(L, lo + (lua_Integer)(span ? r % span : r));
  return 1;
}

/* ---- the timeline and checks --------------------------------------------- */

static int l_step(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  const char *msg = luaL_checkstring(L, 1);
  fl_timeline_event(sc->tl, "step", json_pack("{s:s}", "message", msg));
  return 0;
}

#define METRIC_SERIES_MAX 64     /* series per scenario */
#define METRIC_POINTS_MAX 20000u /* points per series; later ones are counted */

/* The series called name in sc's metrics, made (with unit) when new.
 * Borrowed. Raises when there are too many series or the unit differs. */
static json_t *metric_series(lua_State *L, fl_scenario_t *sc, const char *name,
                             const char *unit) {
  if (sc->metrics == NULL)
    sc->metrics = json_array();
  size_t i;
  json_t *m;
  json_array_foreach(sc->metrics, i, m) {
    if (strcmp(json_string_value(json_object_get(m, "name")), name) != 0)
      continue;
    const char *had = json_string_value(json_object_get(m, "unit"));
    if (unit != NULL && strcmp(unit, had != NULL ? had : "") != 0)
      luaL_error(L, "'%s' is recorded in '%s', not '%s'", name, had != NULL ? had : "",
                 unit);
    return m;
  }
  if (json_array_size(sc->metrics) >= METRIC_SERIES_MAX)
    luaL_error(L, "at most %d series per scenario", METRIC_SERIES_MAX);
  m = json_pack("{s:s, s:s, s:[], s:i}", "name", name, "unit", unit != NULL ? unit : "",
                "points", "dropped", 0);
  json_array_append_new(sc->metrics, m);
  return m;
}

/* core.metric(name, value [, unit]): one point of the series name at the
 * run's clock, for report.json's "metrics" and report.html's charts. */
static int l_metric(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  const char *name = luaL_checkstring(L, 1);
  lua_Number v = luaL_checknumber(L, 2);
  const char *unit = luaL_optstring(L, 3, NULL);
  /* faultline.lua checks the arguments first, with the scenario's line. */
  luaL_argcheck(L, name[0] != '\0' && isfinite(v), 1, "a name and a finite value");
  json_t *m = metric_series(L, sc, name, unit);
  json_t *points = json_object_get(m, "points");
  if (json_array_size(points) >= METRIC_POINTS_MAX) {
    json_t *d = json_object_get(m, "dropped");
    json_integer_set(d, json_integer_value(d) + 1);
    return 0;
  }
  double t = (double)fl_timeline_now(sc->tl) / 1e9;
  json_array_append_new(points, json_pack("[f, f]", round(t * 1e6) / 1e6, (double)v));
  return 0;
}

static int l_event(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  const char *type = luaL_checkstring(L, 1);
  json_t *fields = lua_isnoneornil(L, 2) ? json_object() : fl_lua_to_json(L, 2);
  if (!json_is_object(fields)) {
    json_decref(fields);
    return luaL_argerror(L, 2, "a table of fields expected");
  }
  fl_timeline_event(sc->tl, type, fields);
  return 0;
}

static int l_record_check(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  json_t *check = fl_lua_to_json(L, 1);
  if (!json_is_string(json_object_get(check, "name"))) {
    json_decref(check);
    return luaL_error(L, "a check needs a name");
  }
  fl_scenario_add_check(sc, check);
  return 0;
}

/* core.where([level]) -> "file.lua:12": the first line outside faultline's
 * own modules, searched from level (1, the default, is the function that
 * called core.where), or "?" when there is none. */
static int l_where(lua_State *L) {
  int level = (int)luaL_optinteger(L, 1, 1);
  fl_lua_where(L, level);
  size_t len;
  const char *w = lua_tolstring(L, -1, &len);
  if (len >= 2 && strcmp(w + len - 2, ": ") == 0)
    lua_pushlstring(L, w, len - 2);
  else
    lua_pushliteral(L, "?");
  return 1;
}

/* core.fail(check [, level]): the one way a failed expectation stops the
 * scenario. check is {name=, kind=, status= ("fail" when nil), message=,
 * ...figures}; its message is prefixed with the scenario's file:line
 * (searched from level, as core.where's), it is recorded as a check when it
 * has a name, and {fl_failure = true, message = } is raised, which the
 * engine reports as a failure, not an error. Does not return. */
static int l_fail(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int level = (int)luaL_optinteger(L, 2, 1);
  lua_settop(L, 1);
  fl_lua_where(L, level);
  lua_getfield(L, 1, "message");
  if (!lua_isstring(L, -1)) {
    lua_pop(L, 1);
    lua_pushliteral(L, "expectation failed");
  }
  lua_concat(L, 2);
  lua_pushvalue(L, -1);
  lua_setfield(L, 1, "message");
  if (lua_getfield(L, 1, "status") == LUA_TNIL) {
    lua_pushliteral(L, "fail");
    lua_setfield(L, 1, "status");
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "name") == LUA_TSTRING)
    fl_scenario_add_check(fl_engine_scenario(L), fl_lua_to_json(L, 1));
  lua_pop(L, 1);
  lua_createtable(L, 0, 2);
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "fl_failure");
  lua_pushvalue(L, 2);
  lua_setfield(L, -2, "message");
  return lua_error(L);
}

static int l_fault_begin(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  const char *kind = luaL_checkstring(L, 1);
  json_t *targets = lua_isnoneornil(L, 2) ? json_array() : fl_lua_to_json(L, 2);
  json_t *attrs = lua_isnoneornil(L, 3) ? json_object() : fl_lua_to_json(L, 3);
  if (json_is_object(targets) && json_object_size(targets) == 0) {
    json_decref(targets);
    targets = json_array();
  }
  lua_pushinteger(L, fl_timeline_fault_begin(sc->tl, kind, targets, attrs));
  return 1;
}

static int l_fault_end(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_timeline_fault_end(sc->tl, (int)luaL_checkinteger(L, 1));
  return 0;
}

/* The faults recorded so far, as Lua tables (for fl.check.recovery). */
static int l_faults(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_lua_push_json(L, fl_timeline_faults(sc->tl));
  return 1;
}

static int l_info(lua_State *L) {
  fl_scenario_t *sc = fl_engine_scenario(L);
  lua_createtable(L, 0, 6);
  lua_pushstring(L, sc->name);
  lua_setfield(L, -2, "scenario");
  lua_pushstring(L, sc->dir);
  lua_setfield(L, -2, "dir");
  lua_pushstring(L, sc->run_id);
  lua_setfield(L, -2, "run_id");
  lua_pushinteger(L, (lua_Integer)sc->seed);
  lua_setfield(L, -2, "seed");
  lua_pushstring(L, FL_SOURCE_DIR);
  lua_setfield(L, -2, "source_dir");
  fl_lua_push_json(L, sc->stats_ops);
  lua_pushinteger(L, (lua_Integer)sc->ops_invoked);
  lua_setfield(L, -2, "invoked");
  lua_setfield(L, -2, "ops");
  return 1;
}

static int l_json_encode(lua_State *L) {
  json_t *j = fl_lua_to_json(L, 1);
  char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(j);
  lua_pushstring(L, s ? s : "null");
  free(s);
  return 1;
}

static int l_json_decode(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  json_error_t e;
  json_t *j = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
  if (j == NULL) {
    lua_pushnil(L);
    lua_pushfstring(L, "bad JSON at line %d column %d: %s", e.line, e.column, e.text);
    return 2;
  }
  fl_lua_push_json(L, j);
  json_decref(j);
  return 1;
}

/* Paths of executables the build produced (kvnode) and of the source tree,
 * so scenarios can find them from any working directory. */
static int l_exe_dir(lua_State *L) {
  const char *self = fl_self_exe();
  const char *slash = strrchr(self, '/');
  lua_pushlstring(L, self, slash ? (size_t)(slash - self) : 0);
  return 1;
}

static const luaL_Reg core_funcs[] = {
    {"sleep", l_sleep},
    {"spawn", l_spawn},
    {"join", l_join},
    {"task_done", l_task_done},
    {"task_cancel", l_task_cancel},
    {"task_canceled", l_task_canceled},
    {"now", l_now},
    {"now_ns", l_now_ns},
    {"port", l_port},
    {"random", l_random},
    {"step", l_step},
    {"event", l_event},
    {"metric", l_metric},
    {"record_check", l_record_check},
    {"where", l_where},
    {"fail", l_fail},
    {"options", l_options},
    {"fault_begin", l_fault_begin},
    {"fault_end", l_fault_end},
    {"faults", l_faults},
    {"info", l_info},
    {"json_encode", l_json_encode},
    {"json_decode", l_json_decode},
    {"exe_dir", l_exe_dir},
    {NULL, NULL},
};

/* The C bindings, each adding its calls to the core table (one row each, as
 * Lua's linit.c lists its libraries; the Lua modules built on them are
 * listed in harness/lua/faultline.lua). */
static void (*const bindings[])(lua_State *L) = {
    fl_luaopen_service, /* lua_service.c: core.service, core.service_methods */
    fl_luaopen_http,    /* lua_http.c: core.http */
    fl_luaopen_history, /* lua_history.c: core.history_* */
    fl_luaopen_check,   /* lua_check.c: core.check_run */
    fl_luaopen_proxy,   /* lua_proxy.c: core.proxy, core.proxy_probe */
    fl_luaopen_tcp,     /* lua_tcp.c: core.tcp_connect */
    fl_luaopen_udp,     /* lua_udp.c: core.udp_proxy */
    fl_luaopen_exec,    /* lua_exec.c: core.exec */
    fl_luaopen_network, /* lua_network.c: core.net_open */
    fl_luaopen_nemesis, /* lua_nemesis.c: core.nemesis_rng, core.nemesis_replay */
    fl_luaopen_pg,      /* lua_pg.c: core.pg_connect */
    fl_luaopen_hosts,   /* lua_hosts.c: core.hosts_set, core.hosts_list */
};

int fl_luaopen_core(lua_State *L) {
  luaL_newmetatable(L, TASK_MT);
  lua_pushcfunction(L, l_task_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  luaL_newlib(L, core_funcs);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  /* The build's version (CMake's project(VERSION)), as `faultline version`. */
  lua_pushstring(L, FL_VERSION);
  lua_setfield(L, -2, "version");
  for (size_t i = 0; i < sizeof(bindings) / sizeof(bindings[0]); i++)
    bindings[i](L);
  return 1;
}

/* ---- the embedded library ------------------------------------------------- */

extern const struct {
  const char *name;
  const unsigned char *src;
  size_t len;
} fl_embedded_lua[];

/* Looks a module up in FAULTLINE_LIB (a directory, for developing the
 * library without rebuilding), then in the binary. */
static int searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  if (strncmp(name, "faultline", 9) != 0)
    return 0;
  const char *dir = getenv("FAULTLINE_LIB");
  if (dir != NULL && strncmp(name, "faultline.lib.", 14) == 0) {
    lua_pushfstring(L, "%s/%s.lua", dir, name + 14);
    const char *path = lua_tostring(L, -1);
    if (luaL_loadfile(L, path) == LUA_OK) {
      lua_pushstring(L, path);
      return 2;
    }
    lua_pop(L, 2);
  }
  for (int i = 0; fl_embedded_lua[i].name != NULL; i++) {
    if (strcmp(fl_embedded_lua[i].name, name) != 0)
      continue;
    lua_pushfstring(L, "=[faultline]/%s.lua", name);
    if (luaL_loadbuffer(L, (const char *)fl_embedded_lua[i].src, fl_embedded_lua[i].len,
                        lua_tostring(L, -1)) != LUA_OK)
      return lua_error(L);
    lua_pushstring(L, name);
    return 2;
  }
  lua_pushfstring(L, "no module '%s' in faultline's library", name);
  return 1;
}

void fl_lua_install_searcher(lua_State *L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "searchers");
  /* Before the file searchers, so the library cannot be shadowed by accident. */
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = n; i >= 2; i--) {
    lua_rawgeti(L, -1, i);
    lua_rawseti(L, -2, i + 1);
  }
  lua_pushcfunction(L, searcher);
  lua_rawseti(L, -2, 2);
  lua_pop(L, 2);
}
