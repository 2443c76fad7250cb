/* The engine's machinery: tasks (coroutines) waiting and resuming on the
 * loop, the Lua state with fl.scenario, and one scenario from its run
 * directory to its report. runner.c drives a whole file with it. */
#include "harness/engine.h"

#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "check/history.h"
#include "harness/engine_int.h"
#include "harness/lua_hosts.h"
#include "harness/remote.h"
#include "harness/remote_agent.h"
#include "harness/lua_core.h"
#include "harness/progress.h"
#include "harness/reaper.h"
#include "reports/report.h"

/* How long a task may run without yielding before the count hook stops it
 * (FL_BUSY_LIMIT_S overrides it, for tests). */
static uint64_t busy_limit_ns(void) {
  static uint64_t ns;
  if (ns == 0) {
    const char *s = getenv("FL_BUSY_LIMIT_S");
    double v = s ? atof(s) : 0;
    ns = (uint64_t)((v > 0 ? v : 30) * 1e9);
  }
  return ns;
}

static const char ENGINE_KEY[] = "faultline.engine";
static const char SCENARIOS_KEY[] = "faultline.scenarios";

/* ---- accessors ------------------------------------------------------------ */

static lua_State *L_main(lua_State *L) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
  lua_State *m = lua_tothread(L, -1);
  lua_pop(L, 1);
  return m;
}

fl_engine_t *fl_engine_from_lua(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
  fl_engine_t *e = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return e;
}

fl_scenario_t *fl_engine_scenario(lua_State *L) {
  fl_engine_t *e = fl_engine_from_lua(L);
  if (e == NULL || e->sc == NULL || e->sc->L != L_main(L))
    luaL_error(L, "this call is only allowed inside a running scenario (fl.scenario)");
  return e->sc;
}

uv_loop_t *fl_engine_loop(fl_engine_t *e) {
  return &e->loop;
}

const fl_engine_opts_t *fl_engine_opts(fl_engine_t *e) {
  return e->opts;
}

const struct fl_hosts_s *fl_scenario_hosts(fl_scenario_t *sc) {
  return sc->hosts;
}

struct fl_agents_s *fl_scenario_agents(fl_scenario_t *sc) {
  return sc->agents;
}

fl_http_t *fl_engine_http(fl_engine_t *e) {
  return e->http;
}

fl_timeline_t *fl_scenario_timeline(fl_scenario_t *sc) {
  return sc->tl;
}

const char *fl_scenario_dir(fl_scenario_t *sc) {
  return sc->dir;
}

const char *fl_scenario_run_id(fl_scenario_t *sc) {
  return sc->run_id;
}

uv_loop_t *fl_scenario_loop(fl_scenario_t *sc) {
  return &sc->eng->loop;
}

fl_http_t *fl_scenario_http(fl_scenario_t *sc) {
  return sc->eng->http;
}

const char *fl_scenario_error(fl_scenario_t *sc) {
  return sc->error;
}

/* run --replay's schedule file, or NULL (the nemesis replays it). */
const char *fl_scenario_replay(fl_scenario_t *sc) {
  return sc->eng->opts->replay;
}

uint64_t fl_scenario_seed(fl_scenario_t *sc) {
  return sc->seed;
}

void fl_scenario_on_close(fl_scenario_t *sc, fl_closer_fn fn, void *data) {
  closer_t *c = fl_malloc(sizeof(*c));
  c->fn = fn;
  c->data = data;
  c->next = sc->closers;
  sc->closers = c; /* run in reverse order of registration */
}

void fl_scenario_add_service(fl_scenario_t *sc, fl_describe_fn fn, void *data) {
  describer_t *d = fl_malloc(sizeof(*d));
  d->fn = fn;
  d->data = data;
  d->next = NULL;
  describer_t **pp = &sc->services;
  while (*pp != NULL)
    pp = &(*pp)->next;
  *pp = d;
}

void fl_scenario_add_check(fl_scenario_t *sc, json_t *check) {
  const char *status = json_string_value(json_object_get(check, "status"));
  if (status == NULL) {
    status = "error";
    json_object_set_new(check, "status", json_string(status));
  }
  if (strcmp(status, "fail") == 0)
    sc->failed = 1;
  else if (strcmp(status, "unknown") == 0)
    sc->unknown = 1;
  else if (strcmp(status, "error") == 0)
    sc->failed = 1;
  json_object_set_new(check, "t", json_real(fl_timeline_seconds(sc->tl)));
  json_array_append(sc->checks, check);
  json_t *ev = json_deep_copy(check);
  json_object_del(ev, "t");
  json_object_del(ev, "evidence");
  fl_timeline_event(sc->tl, "check", ev);
  json_decref(check);
}

/* ---- tasks ---------------------------------------------------------------- */

static fl_task_t *task_of(lua_State *L) {
  return *(fl_task_t **)lua_getextraspace(L);
}

fl_task_t *fl_task_current(lua_State *L) {
  fl_task_t *t = task_of(L);
  if (t == NULL || t->done)
    luaL_error(L, "this call waits, so it must run in a scenario or an fl.spawn task "
                  "(not in the file's main chunk or inside a coroutine of your own)");
  return t;
}

lua_State *fl_task_thread(fl_task_t *t) {
  return t->co;
}

int fl_task_yield(lua_State *L, fl_task_t *t, fl_wait_cancel_fn cancel, void *data) {
  t->waiting = 1;
  t->cancel = cancel;
  t->cancel_data = data;
  return lua_yield(L, 0);
}

static void task_finished(fl_task_t *t);
static void on_task_timer(uv_timer_t *timer);

static void resume(fl_task_t *t, int nargs) {
  if (t->done)
    return;
  t->waiting = 0;
  t->cancel = NULL;
  t->resumed_at = uv_hrtime();
  int nres = 0;
  int rc = lua_resume(t->co, NULL, nargs, &nres);
  if (rc == LUA_YIELD) {
    lua_pop(t->co, nres);
    if (!t->waiting) {
      t->error = fl_strdup("a task yielded without waiting on anything (coroutine.yield "
                           "inside a scenario? use fl.sleep or fl.spawn)");
      t->done = 1;
      task_finished(t);
    }
    return;
  }
  if (rc == LUA_OK) {
    lua_createtable(t->co, nres, 0);
    lua_insert(t->co, -(nres + 1));
    for (int i = nres; i >= 1; i--)
      lua_rawseti(t->co, -(i + 1), i);
    lua_pushinteger(t->co, nres);
    lua_setfield(t->co, -2, "n");
    t->results_ref = luaL_ref(t->co, LUA_REGISTRYINDEX);
    t->done = 1;
    task_finished(t);
    return;
  }
  /* An error: a failed expectation is a table {fl_failure = true, message = }. */
  if (lua_istable(t->co, -1)) {
    lua_getfield(t->co, -1, "fl_failure");
    int is_failure = lua_toboolean(t->co, -1);
    lua_getfield(t->co, -2, "message");
    const char *m = lua_tostring(t->co, -1);
    t->error = fl_strdup(m ? m : "expectation failed");
    t->fail_not_error = is_failure;
  } else {
    const char *msg = lua_tostring(t->co, -1);
    if (msg == NULL)
      msg = lua_pushfstring(t->co, "(error object is a %s value)",
                            luaL_typename(t->co, -1));
    t->error = fl_strdup(msg);
    luaL_traceback(t->co, t->co, NULL, 0);
    FL_LOG(FL_LOG_INFO, "lua", "%s\n%s", msg, lua_tostring(t->co, -1));
  }
  t->done = 1;
  task_finished(t);
}

void fl_task_resume(fl_task_t *t, int nargs) {
  resume(t, nargs);
}

void fl_task_wake_later(fl_task_t *t, int nargs) {
  t->wake_nargs = nargs;
  uv_timer_start(&t->timer, on_task_timer, 0, 0);
}

static void on_task_timer(uv_timer_t *timer) {
  fl_task_t *t = fl_container_of(timer, fl_task_t, timer);
  /* A deferred start: the function and its arguments are on the thread. */
  if (lua_status(t->co) == LUA_OK)
    resume(t, lua_gettop(t->co) - 1);
  else
    resume(t, t->wake_nargs);
}

/* Pushes the outcome of a finished task on L: true, results... or false, err. */
static int push_outcome(lua_State *L, fl_task_t *t) {
  if (t->error != NULL) {
    lua_pushboolean(L, 0);
    lua_pushstring(L, t->error);
    return 2;
  }
  lua_pushboolean(L, 1);
  if (t->results_ref == LUA_NOREF) /* canceled: no results */
    lua_createtable(L, 0, 1);
  else
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->results_ref);
  return 2;
}

static void task_finished(fl_task_t *t) {
  fl_scenario_t *sc = t->sc;
  if (t == sc->main) {
    fl_scenario_finish(sc, t->error, t->fail_not_error);
    return;
  }
  if (t->joiner != NULL) {
    fl_task_t *j = t->joiner;
    t->joiner = NULL;
    /* Deferred, so a chain of finishing tasks never nests resumes. */
    fl_task_wake_later(j, push_outcome(j->co, t));
    return;
  }
  if (t->error != NULL && !sc->finished) {
    char *msg = fl_asprintf("a spawned task failed: %s", t->error);
    fl_scenario_finish(sc, msg, t->fail_not_error);
    fl_free(msg);
  }
}

static void join_cancel(void *data) {
  fl_task_t *target = data;
  target->joiner = NULL;
}

/* core.join(task): true, {results} or false, err, once the task is done. */
int fl_task_join(lua_State *L, fl_task_t *target) {
  fl_task_t *self = fl_task_current(L);
  if (target == self)
    return luaL_error(L, "a task cannot wait for itself");
  if (target->done)
    return push_outcome(L, target);
  if (target->joiner != NULL)
    return luaL_error(L, "task %d is already being waited for", target->id);
  target->joiner = self;
  return fl_task_yield(L, self, join_cancel, target);
}

fl_task_t *fl_task_spawn(fl_scenario_t *sc, lua_State *L, int fn_index, int nargs) {
  fn_index = lua_absindex(L, fn_index);
  fl_task_t *t = fl_calloc(1, sizeof(*t));
  t->eng = sc->eng;
  t->sc = sc;
  t->id = ++sc->ntasks;
  t->results_ref = LUA_NOREF;
  t->co = lua_newthread(L);
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  *(fl_task_t **)lua_getextraspace(t->co) = t;
  lua_pushvalue(L, fn_index);
  lua_xmove(L, t->co, 1);
  for (int i = 1; i <= nargs; i++) {
    lua_pushvalue(L, fn_index + i);
    lua_xmove(L, t->co, 1);
  }
  uv_timer_init(&sc->eng->loop, &t->timer);
  t->next = sc->tasks;
  sc->tasks = t;
  /* Starts from the loop, so a spawner runs on until its next wait. */
  t->waiting = 1;
  t->cancel = NULL;
  uv_timer_start(&t->timer, on_task_timer, 0, 0);
  return t;
}

static void cancel_task(fl_task_t *t) {
  if (t->done)
    return;
  t->done = 1;
  uv_timer_stop(&t->timer);
  if (t->cancel != NULL) {
    fl_wait_cancel_fn fn = t->cancel;
    t->cancel = NULL;
    fn(t->cancel_data);
  }
}

int fl_task_cancel(lua_State *L, fl_task_t *t) {
  if (t == task_of(L))
    return luaL_error(L, "a task cannot cancel itself (return from it instead)");
  if (t->done)
    return 0;
  fl_task_t *joiner = t->joiner;
  t->joiner = NULL;
  cancel_task(t);
  t->canceled = 1;
  if (joiner != NULL)
    fl_task_wake_later(joiner, push_outcome(joiner->co, t));
  return 1;
}

void fl_scenario_finish(fl_scenario_t *sc, const char *error, int fail_not_error) {
  if (sc->finished)
    return;
  sc->finished = 1;
  uv_timer_stop(&sc->status);
  uv_timer_stop(&sc->flush);
  fl_progress_status_clear();
  /* The run loop polls in UV_RUN_ONCE steps and checks `finished` between
   * them; uv_stop makes the current step return instead of blocking. */
  uv_stop(&sc->eng->loop);
  uv_timer_stop(&sc->limit);
  if (error != NULL) {
    if (fail_not_error)
      sc->failed = 1;
    else
      sc->error = fl_strdup(error);
    fl_timeline_event(sc->tl, fail_not_error ? "failure" : "error",
                      json_pack("{s:s}", "message", error));
  }
  for (fl_task_t *t = sc->tasks; t != NULL; t = t->next)
    cancel_task(t);
}

/* ---- Lua state ------------------------------------------------------------ */

static void busy_hook(lua_State *L, lua_Debug *ar) {
  fl_task_t *t = task_of(L);
  if (t != NULL && !t->done && uv_hrtime() - t->resumed_at > busy_limit_ns())
    luaL_error(L, "the scenario ran for %d s without waiting (an endless loop?)",
               (int)(busy_limit_ns() / 1000000000ull));
}

static int l_scenario(lua_State *L) {
  luaL_checkstring(L, 1);
  int fn = 2;
  if (lua_istable(L, 2)) {
    static const char *const keys[] = {"timeout", NULL};
    fl_lua_check_keys(L, 2, "fl.scenario options", keys);
    fn = 3;
  }
  luaL_checktype(L, fn, LUA_TFUNCTION);
  lua_getfield(L, LUA_REGISTRYINDEX, SCENARIOS_KEY);
  lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    lua_getfield(L, -1, "name");
    if (strcmp(lua_tostring(L, -1), lua_tostring(L, 1)) == 0)
      return luaL_error(L, "a scenario named \"%s\" is already declared",
                        lua_tostring(L, 1));
    lua_pop(L, 2);
  }
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "name");
  lua_pushvalue(L, fn);
  lua_setfield(L, -2, "fn");
  if (fn == 3) {
    lua_getfield(L, 2, "timeout");
    lua_setfield(L, -2, "timeout");
  }
  lua_rawseti(L, -2, n + 1);
  return 0;
}

lua_State *fl_engine_new_state(fl_engine_t *e) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushlightuserdata(L, e);
  lua_setfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, SCENARIOS_KEY);
  *(fl_task_t **)lua_getextraspace(L) = NULL;
  lua_sethook(L, busy_hook, LUA_MASKCOUNT, 100000);
  fl_lua_install_searcher(L);
  /* fl.scenario lives in the core so the declaration works at load time. */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  luaL_requiref(L, "faultline.core", fl_luaopen_core, 0);
  lua_pushcfunction(L, l_scenario);
  lua_setfield(L, -2, "scenario");
  lua_pop(L, 3);
  return L;
}

/* package.path starts with the scenario file's folder, so require("lib.pg")
 * finds lib/pg.lua beside the scenario, from any working directory. */
static void add_scenario_dir_to_path(lua_State *L, const char *file) {
  const char *slash = strrchr(file, '/');
  lua_getglobal(L, "package");
  if (slash == NULL)
    lua_pushliteral(L, ".");
  else
    lua_pushlstring(L, file, slash == file ? 1 : (size_t)(slash - file));
  const char *dir = lua_tostring(L, -1);
  lua_getfield(L, -2, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", dir, dir, lua_tostring(L, -1));
  lua_setfield(L, -4, "path");
  lua_pop(L, 3);
}

char *fl_engine_load_file(lua_State *L, const char *file) {
  add_scenario_dir_to_path(L, file);
  if (luaL_loadfile(L, file) != LUA_OK || lua_pcall(L, 0, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    char *out = fl_strdup(msg ? msg : "error loading the scenario file");
    lua_pop(L, 1);
    return out;
  }
  return NULL;
}

int fl_engine_declared(lua_State *L, fl_decl_t **out) {
  lua_getfield(L, LUA_REGISTRYINDEX, SCENARIOS_KEY);
  int n = (int)lua_rawlen(L, -1);
  fl_decl_t *decls = fl_calloc((size_t)n + 1, sizeof(*decls));
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    lua_getfield(L, -1, "name");
    lua_getfield(L, -2, "timeout");
    decls[i - 1].index = i;
    decls[i - 1].name = fl_strdup(lua_tostring(L, -2));
    decls[i - 1].timeout_s = lua_tonumber(L, -1);
    lua_pop(L, 3);
  }
  lua_pop(L, 1);
  *out = decls;
  return n;
}

void fl_engine_decls_free(fl_decl_t *decls, int n) {
  for (int i = 0; decls != NULL && i < n; i++)
    fl_free(decls[i].name);
  fl_free(decls);
}

/* ---- running one scenario -------------------------------------------------- */

/* Empties a previous run directory that --out points at again, so stale
 * data (a service's data directory, an old history) cannot leak into this
 * run. Anything that is not a faultline run directory is left alone. */
static int prepare_dir(const char *dir) {
  char **names = fl_list_dir(dir, 0);
  int empty = names == NULL || names[0] == NULL; /* missing counts as empty */
  fl_strv_free(names);
  if (empty)
    return 0;
  char *marker = fl_asprintf("%s/%s", dir, fl_report_file("json"));
  int is_run = access(marker, F_OK) == 0;
  fl_free(marker);
  if (!is_run)
    return UV_EEXIST;
  return fl_rm_tree(dir);
}

static void on_limit(uv_timer_t *t) {
  fl_scenario_t *sc = fl_container_of(t, fl_scenario_t, limit);
  char *msg =
      fl_asprintf("the scenario's time limit of %.0f s was reached", sc->timeout_s);
  fl_scenario_finish(sc, msg, 0);
  fl_free(msg);
}

typedef struct {
  int pending;
  uv_loop_t *loop;
} closing_t;

int fl_scenario_check_disk(fl_scenario_t *sc) {
  fl_err_t err = {0};
  int rc = fl_history_flush(sc->history) < 0 ? fl_history_write_error(sc->history, &err)
                                             : fl_timeline_write_error(sc->tl, &err);
  if (rc < 0 && sc->error == NULL) {
    /* What the run recorded has a hole: no verdict may be drawn from it, so
     * the scenario ends as an error, whatever its checks said so far. */
    FL_LOG(FL_LOG_ERROR, "run", "%s", err.msg);
    if (sc->finished)
      sc->error = fl_strdup(err.msg);
    else
      fl_scenario_finish(sc, err.msg, 0);
  }
  return rc;
}

/* history.jsonl is buffered; a flush every 200 ms bounds what a killed run
 * can lose, and finds a full disk within that time. */
static void on_flush(uv_timer_t *t) {
  fl_scenario_t *sc = fl_container_of(t, fl_scenario_t, flush);
  fl_scenario_check_disk(sc);
}

/* The live status line: elapsed, throughput, active faults. */
static void on_status(uv_timer_t *t) {
  fl_scenario_t *sc = fl_container_of(t, fl_scenario_t, status);
  json_int_t ops = 0;
  const char *k;
  json_t *v;
  json_object_foreach(sc->stats_ops, k, v) ops += json_integer_value(v);
  double rate = (double)(ops - sc->last_ops) * 2; /* ticks are 500 ms apart */
  sc->last_ops = ops;
  char faults[256] = "";
  size_t i, n = 0;
  json_t *f;
  json_array_foreach(fl_timeline_faults(sc->tl), i, f) {
    if (!json_is_null(json_object_get(f, "end_s")))
      continue;
    size_t len = strlen(faults);
    if (len < sizeof(faults) - 40)
      snprintf(faults + len, sizeof(faults) - len, "%s%s", n ? ", " : "",
               json_string_value(json_object_get(f, "kind")));
    n++;
  }
  char line[512];
  snprintf(line, sizeof(line), "  %s · %s · %.1f s · %.0f ops/s · faults: %s", sc->name,
           sc->phase ? sc->phase : "running", fl_timeline_seconds(sc->tl), rate,
           n ? faults : "none");
  fl_progress_status(line);
}

static void closer_done(void *arg) {
  closing_t *c = arg;
  c->pending--;
  uv_stop(c->loop);
}

static void task_timer_closed(uv_handle_t *h) {
  fl_task_t *t = fl_container_of((uv_timer_t *)h, fl_task_t, timer);
  fl_free(t->error);
  fl_free(t);
}

static void noop_close(uv_handle_t *h) {
}

static void scenario_free(fl_scenario_t *sc) {
  fl_timeline_free(sc->tl);
  json_decref(sc->checks);
  json_decref(sc->metrics);
  json_decref(sc->hosts_report);
  json_decref(sc->stats_ops);
  fl_free(sc->latencies);
  fl_free(sc->error);
  fl_free(sc->name);
  fl_free(sc->slug);
  fl_free(sc->dir);
  fl_free(sc->run_id);
  fl_free(sc);
}

/* Where the scenario's run directory is: --out itself for a file of one
 * scenario, a folder per scenario inside --out for several, or a new
 * runs/<scenario>-<time>-<run id> by default. Returns new. */
static char *scenario_dir(const fl_engine_opts_t *o, const fl_scenario_t *sc, int nscen,
                          time_t now) {
  if (o->out_dir != NULL && nscen == 1)
    return fl_strdup(o->out_dir);
  if (o->out_dir != NULL)
    return fl_asprintf("%s/%s", o->out_dir, sc->slug);
  char stamp[32];
  struct tm lt;
  localtime_r(&now, &lt);
  strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &lt);
  return fl_asprintf("runs/%s-%s-%s", sc->slug, stamp, sc->run_id);
}

/* A scenario in memory, before anything of it exists on disk. Returns new
 * (free with scenario_free). */
static fl_scenario_t *scenario_new(fl_engine_t *e, const fl_decl_t *d, int nscen) {
  const fl_engine_opts_t *o = e->opts;
  fl_scenario_t *sc = fl_calloc(1, sizeof(*sc));
  sc->eng = e;
  sc->name = fl_strdup(d->name);
  sc->slug = fl_slug(d->name);
  sc->seed = o->seed;
  sc->timeout_s =
      d->timeout_s > 0 ? d->timeout_s : (o->timeout_s > 0 ? o->timeout_s : 600);
  sc->checks = json_array();
  sc->stats_ops = json_pack("{s:i, s:i, s:i}", "ok", 0, "fail", 0, "info", 0);
  fl_prng_seed(&sc->rng, sc->seed);
  /* The run id tells concurrent runs apart (namespaces, run directories);
   * it must differ between runs of the same seed, so it is not seeded. */
  fl_prng_t id_rng;
  fl_prng_seed(&id_rng, uv_hrtime() ^ ((uint64_t)getpid() << 32));
  sc->run_id = fl_asprintf("%08x", (unsigned)(fl_prng_next(&id_rng) & 0xffffffffu));
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(sc->started_at, sizeof(sc->started_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
  sc->dir = scenario_dir(o, sc, nscen, now);
  return sc;
}

/* Creates the run directory with its logs/ folder, timeline.jsonl and
 * history.jsonl. Returns 0, or a negative code with the reason logged. */
static int scenario_open_outputs(fl_scenario_t *sc, const fl_engine_opts_t *o) {
  int rc = prepare_dir(sc->dir);
  if (rc < 0) {
    FL_LOG(FL_LOG_ERROR, "run",
           "--out %s: the directory is not empty and holds no earlier faultline run "
           "(no report.json): choose another",
           sc->dir);
    return rc;
  }
  char *logs = fl_asprintf("%s/logs", sc->dir);
  rc = fl_mkdir_p(logs);
  fl_free(logs);
  if (rc < 0) {
    FL_LOG(FL_LOG_ERROR, "run", "cannot create the run directory %s: %s", sc->dir,
           fl_strerror(rc));
    return rc;
  }
  fl_err_t err = {0};
  char *tl_path = fl_asprintf("%s/timeline.jsonl", sc->dir);
  rc = fl_timeline_new(&sc->tl, tl_path, &err);
  fl_free(tl_path);
  if (rc < 0) {
    FL_LOG(FL_LOG_ERROR, "run", "%s", err.msg);
    return rc;
  }
  fl_progress_attach(sc->tl, sc->name, o->quiet);
  char *hist_path = fl_asprintf("%s/history.jsonl", sc->dir);
  rc = fl_history_open((fl_history_t **)&sc->history, hist_path, &err);
  fl_free(hist_path);
  if (rc < 0)
    FL_LOG(FL_LOG_ERROR, "run", "%s", err.msg);
  return rc;
}

/* Connects to the scenario's remote hosts, --hosts's or else the file's
 * fl.hosts{...} (harness/remote.h). Returns NULL, or why not (new). */
static char *connect_hosts(fl_engine_t *e, fl_scenario_t *sc) {
  const fl_hosts_t *declared = fl_lua_hosts_declared(sc->L);
  const fl_hosts_t *hosts = e->opts->hosts != NULL ? e->opts->hosts : declared;
  if (e->opts->hosts != NULL && declared != NULL)
    FL_LOG(FL_LOG_WARN, "hosts",
           "the file's fl.hosts{...} is ignored: --hosts FILE wins");
  if (hosts == NULL)
    return NULL;
  fl_err_t err = {0};
  if (fl_remote_connect(&e->loop, hosts, sc->dir, 5, &err) < 0)
    return fl_strdup(err.msg);
  if (fl_agents_start(&e->loop, hosts, sc->dir, sc->run_id, sc->tl, 60, &sc->agents,
                      &err) < 0) {
    fl_remote_disconnect(&e->loop, hosts, sc->dir);
    return fl_strdup(err.msg);
  }
  sc->hosts = hosts;
  sc->hosts_report = fl_agents_describe(sc->agents);
  return NULL;
}

/* Loads the file in the scenario's own Lua state, starts its function as
 * the main task with the scenario's timers, and runs the loop until the
 * scenario finishes. A file that does not load finishes it at once. */
static void scenario_execute(fl_engine_t *e, fl_scenario_t *sc, const fl_decl_t *d) {
  sc->L = fl_engine_new_state(e);
  char *lerr = fl_engine_load_file(sc->L, e->opts->file);
  if (lerr == NULL)
    lerr = connect_hosts(e, sc);
  if (lerr != NULL) {
    sc->error = lerr;
    sc->finished = 1;
    return;
  }
  lua_State *L = sc->L;
  lua_getfield(L, LUA_REGISTRYINDEX, SCENARIOS_KEY);
  lua_rawgeti(L, -1, d->index);
  lua_getfield(L, -1, "fn");
  /* Same seed, same choices: math.random follows the run's seed too. */
  lua_getglobal(L, "math");
  lua_getfield(L, -1, "randomseed");
  lua_pushinteger(L, (lua_Integer)sc->seed);
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  sc->main = fl_task_spawn(sc, L, -1, 0);
  lua_pop(L, 3);
  uv_timer_init(&e->loop, &sc->limit);
  uv_timer_start(&sc->limit, on_limit, (uint64_t)(sc->timeout_s * 1000), 0);
  uv_timer_init(&e->loop, &sc->flush);
  uv_timer_start(&sc->flush, on_flush, 200, 200);
  uv_timer_init(&e->loop, &sc->status);
  if (fl_progress_live(e->opts->quiet))
    uv_timer_start(&sc->status, on_status, 500, 500);
  if (e->interrupted)
    fl_scenario_finish(sc, "interrupted", 0);
  while (!sc->finished)
    uv_run(&e->loop, UV_RUN_ONCE);
}

/* Runs the closers in reverse order of registration (workloads, proxies,
 * services), waits until all have finished, ends the faults still open and
 * closes the history, so the report sees everything recorded. */
static void scenario_teardown(fl_engine_t *e, fl_scenario_t *sc) {
  sc->phase = "stopping services";
  closing_t closing = {0, &e->loop};
  for (closer_t *c = sc->closers; c != NULL; c = c->next)
    closing.pending++;
  for (closer_t *c = sc->closers; c != NULL; c = c->next)
    c->fn(c->data, closer_done, &closing);
  while (closing.pending > 0)
    uv_run(&e->loop, UV_RUN_ONCE);
  fl_timeline_fault_end_all(sc->tl, NULL);
  fl_scenario_check_disk(sc);
  if (fl_history_close(sc->history) < 0 && sc->error == NULL)
    sc->error = fl_asprintf("cannot write %s/history.jsonl: %s", sc->dir,
                            "the last lines did not reach the disk");
  sc->history = NULL;
}

/* Frees what the scenario registered, closes its handles and its Lua state
 * (after the handles: a task's timer refers to its thread), and sc. */
static void scenario_release(fl_engine_t *e, fl_scenario_t *sc) {
  while (sc->closers != NULL) {
    closer_t *c = sc->closers;
    sc->closers = c->next;
    fl_free(c);
  }
  while (sc->services != NULL) {
    describer_t *dd = sc->services;
    sc->services = dd->next;
    fl_free(dd);
  }
  for (fl_task_t *t = sc->tasks, *next; t != NULL; t = next) {
    next = t->next;
    uv_close((uv_handle_t *)&t->timer, task_timer_closed);
  }
  if (sc->main != NULL) {
    uv_close((uv_handle_t *)&sc->limit, noop_close);
    uv_close((uv_handle_t *)&sc->status, noop_close);
    uv_close((uv_handle_t *)&sc->flush, noop_close);
  }
  uv_run(&e->loop, UV_RUN_NOWAIT);
  if (sc->L != NULL)
    lua_close(sc->L);
  e->sc = NULL;
  scenario_free(sc);
}

int fl_engine_run_scenario(fl_engine_t *e, const fl_decl_t *d, int nscen,
                           const char *load_error, json_t **out_report) {
  const fl_engine_opts_t *o = e->opts;
  fl_scenario_t *sc = scenario_new(e, d, nscen);
  if (scenario_open_outputs(sc, o) < 0) {
    /* Nothing ran: no loop handle, no Lua state. */
    fl_history_close(sc->history);
    scenario_free(sc);
    return 2;
  }
  e->sc = sc;
  /* From here on, a run that dies still leaves a report with status error. */
  fl_run_write_placeholder(sc, o->file);
  fl_progress_begin(sc->name, sc->dir, sc->seed, o->quiet);
  fl_timeline_event(sc->tl, "scenario",
                    json_pack("{s:s, s:s, s:I}", "name", sc->name, "phase", "start",
                              "seed", (json_int_t)sc->seed));
  if (load_error != NULL) {
    sc->error = fl_strdup(load_error);
    sc->finished = 1;
  } else {
    scenario_execute(e, sc, d);
  }
  scenario_teardown(e, sc);
  if (sc->hosts != NULL) {
    fl_agents_stop(&e->loop, sc->agents);
    sc->agents = NULL;
    fl_remote_disconnect(&e->loop, sc->hosts, sc->dir);
  }
  int code = fl_run_write_report(sc, o->file, out_report);
  scenario_release(e, sc);
  return code;
}
