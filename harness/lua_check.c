/* Checkers from Lua: core.check_run(kind, args) parses the run's history and
 * runs a checker on a libuv worker thread, so a long linearizability search
 * never blocks the loop; the calling task waits for the result (a table).
 *
 *   kind "model":    {path=, model=, timeout=}         -> fl_check_file's result
 *   kind "recovery": {path=, heal_ns=, run=, limit=}   -> fl_check_recovery's
 *   kind "phases":   {path=, phases={{name=, start_ns=, end_ns=}...}}
 *   kind "ops":      {path=}  -> the paired operations, read tolerantly:
 *                     {{process=, f=, key=, value=, type=, invoke_s=,
 *                       complete_s=, result=}...} (type "info" and no
 *                     complete_s for one never completed)
 *
 * and core.check_models() lists the models (check/models.c), from which
 * harness/lua/check.lua makes fl.check.linearizable, .set, .counter ...
 */
#include <lauxlib.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "check/check.h"
#include "check/txn.h"
#include "harness/engine.h"
#include "harness/lua_core.h"
#include "base/error.h"

enum { KIND_MODEL, KIND_RECOVERY, KIND_PHASES, KIND_OPS };

typedef struct {
  uv_work_t req;
  atomic_int cancel; /* set from the loop: the search stops, "unknown" */
  fl_task_t *task;
  int canceled;
  int kind;
  char *path;
  char *model;
  char *consistency; /* the transactional checkers' model, or NULL */
  int realtime, process;
  double timeout_s;
  uint64_t heal_ns;
  size_t run;
  double limit_s;
  fl_phase_t *phases;
  size_t nphases;
  int rc;
  json_t *result;
  fl_err_t err;
} work_t;

static void work_free(work_t *w) {
  for (size_t i = 0; i < w->nphases; i++)
    fl_free((char *)w->phases[i].name);
  fl_free(w->phases);
  fl_free(w->path);
  fl_free(w->model);
  fl_free(w->consistency);
  json_decref(w->result);
  fl_free(w);
}

/* The operations of a history as a new JSON array, for the checks written
 * in Lua (isolation, minority_refuses). */
static json_t *ops_json(const fl_ops_t *ops) {
  static const char *const outcome[] = {"ok", "fail", "info"};
  json_t *a = json_array();
  for (size_t i = 0; i < ops->len; i++) {
    const fl_op_t *op = &ops->v[i];
    json_t *o = json_pack("{s:i, s:s, s:f}", "process", op->process, "f", op->f,
                          "invoke_s", (double)op->invoke_ns / 1e9);
    int done = op->complete_line != 0;
    json_object_set_new(o, "type", json_string(done ? outcome[op->type] : "info"));
    if (op->key != NULL)
      json_object_set_new(o, "key", json_string(op->key));
    if (!json_is_null(op->value))
      json_object_set(o, "value", op->value);
    if (done)
      json_object_set_new(o, "complete_s", json_real((double)op->complete_ns / 1e9));
    if (done && !json_is_null(op->result))
      json_object_set(o, "result", op->result);
    json_array_append_new(a, o);
  }
  return a;
}

/* On the worker thread: no loop, no Lua. */
static void do_work(uv_work_t *req) {
  work_t *w = req->data;
  fl_ops_t *ops = NULL;
  fl_check_opts_t o = {.timeout_s = w->timeout_s,
                       .cancel = &w->cancel,
                       .consistency = w->consistency,
                       .realtime = w->realtime,
                       .process = w->process};
  /* Transactions are streamed into the checker (check/txn_read.c). */
  if (w->kind == KIND_MODEL && fl_check_model_find(w->model)->fn == fl_checker_txn) {
    w->rc = fl_txn_check_file(w->path, w->model, &o, &w->result, &w->err);
    return;
  }
  fl_history_read_opts_t ro = {.tolerant = w->kind == KIND_OPS};
  w->rc = fl_history_read_opts(&ops, w->path, &ro, &w->err);
  if (w->rc < 0)
    return;
  if (w->kind == KIND_OPS) {
    w->result = ops_json(ops);
  } else if (w->kind == KIND_MODEL) {
    w->rc = fl_check_ops(ops, w->model, &o, &w->result, &w->err);
  } else if (w->kind == KIND_RECOVERY)
    w->rc = fl_check_recovery(ops, w->heal_ns, w->run, w->limit_s, &w->result, &w->err);
  else
    w->rc = fl_check_phases(ops, w->phases, w->nphases, &w->result, &w->err);
  fl_ops_free(ops);
}

static void after_work(uv_work_t *req, int status) {
  work_t *w = req->data;
  if (w->canceled) {
    work_free(w);
    return;
  }
  lua_State *co = fl_task_thread(w->task);
  if (w->rc < 0) {
    lua_pushnil(co);
    lua_pushstring(co, w->err.msg[0] ? w->err.msg : fl_strerror(w->rc));
    fl_task_t *t = w->task;
    work_free(w);
    fl_task_resume(t, 2);
    return;
  }
  fl_lua_push_json(co, w->result);
  fl_task_t *t = w->task;
  work_free(w);
  fl_task_resume(t, 1);
}

static void work_cancel(void *data) {
  work_t *w = data;
  /* The search stops at its next budget check; its result is dropped.
   * (uv_cancel succeeds only while it is still queued; after_work runs
   * either way, with UV_ECANCELED or not, and frees it.) */
  atomic_store(&w->cancel, 1);
  uv_cancel((uv_req_t *)&w->req);
  w->canceled = 1;
}

static double opt_number(lua_State *L, int t, const char *k, double def) {
  lua_getfield(L, t, k);
  double v = luaL_optnumber(L, -1, def);
  lua_pop(L, 1);
  return v;
}

static int l_check_run(lua_State *L) {
  static const char *const kinds[] = {"model", "recovery", "phases", "ops", NULL};
  int kind = luaL_checkoption(L, 1, NULL, kinds);
  luaL_checktype(L, 2, LUA_TTABLE);
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_task_t *t = fl_task_current(L);
  lua_getfield(L, 2, "path");
  const char *path = luaL_checkstring(L, -1);
  work_t *w = fl_calloc(1, sizeof(*w));
  w->kind = kind;
  w->path = fl_strdup(path);
  lua_pop(L, 1);
  if (kind == KIND_MODEL) {
    lua_getfield(L, 2, "model");
    const char *model = luaL_checkstring(L, -1);
    if (!fl_check_model_known(model)) {
      char names[256];
      work_free(w);
      return luaL_error(L, "unknown model '%s' (%s)", model,
                        fl_check_model_names(names, sizeof(names), ", ", " or "));
    }
    w->model = fl_strdup(model);
    lua_pop(L, 1);
    w->timeout_s = opt_number(L, 2, "timeout", 60);
    lua_getfield(L, 2, "consistency");
    const char *cm = luaL_optstring(L, -1, NULL);
    if (cm != NULL && fl_txn_cm_parse(cm) == FL_CM_NONE) {
      work_free(w);
      return luaL_error(
          L,
          "unknown consistency model '%s' (read-uncommitted, read-committed, "
          "snapshot-isolation, repeatable-read, serializable, "
          "strict-serializable)",
          cm);
    }
    w->consistency = cm ? fl_strdup(cm) : NULL;
    lua_pop(L, 1);
    lua_getfield(L, 2, "realtime");
    w->realtime = lua_toboolean(L, -1);
    lua_getfield(L, 2, "process");
    w->process = lua_toboolean(L, -1);
    lua_pop(L, 2);
  } else if (kind == KIND_RECOVERY) {
    w->heal_ns = (uint64_t)opt_number(L, 2, "heal_ns", 0);
    w->run = (size_t)opt_number(L, 2, "run", 5);
    w->limit_s = opt_number(L, 2, "limit", 0);
  } else if (kind == KIND_PHASES) {
    lua_getfield(L, 2, "phases");
    luaL_checktype(L, -1, LUA_TTABLE);
    w->nphases = lua_rawlen(L, -1);
    w->phases = fl_calloc(w->nphases + 1, sizeof(fl_phase_t));
    for (size_t i = 0; i < w->nphases; i++) {
      lua_rawgeti(L, -1, (lua_Integer)i + 1);
      lua_getfield(L, -1, "name");
      w->phases[i].name = fl_strdup(luaL_optstring(L, -1, "phase"));
      lua_pop(L, 1);
      w->phases[i].start_ns = (uint64_t)opt_number(L, -1, "start_ns", 0);
      double end = opt_number(L, -1, "end_ns", -1);
      w->phases[i].end_ns = end < 0 ? UINT64_MAX : (uint64_t)end;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  w->task = t;
  w->req.data = w;
  int rc = uv_queue_work(fl_scenario_loop(sc), &w->req, do_work, after_work);
  if (rc < 0) {
    work_free(w);
    return luaL_error(L, "cannot queue the check: %s", fl_strerror(rc));
  }
  return fl_task_yield(L, t, work_cancel, w);
}

/* core.check_models() -> the rows of check/models.c, in order:
 * {{name=, lua=, lua_default=, ops=, summary=, options={...}}...}. check.lua
 * makes fl.check.<lua> from them. */
static int l_check_models(lua_State *L) {
  size_t n;
  const fl_check_model_t *m = fl_check_models(&n);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_createtable(L, 0, 6);
    lua_pushstring(L, m[i].name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, m[i].lua);
    lua_setfield(L, -2, "lua");
    lua_pushboolean(L, m[i].lua_default);
    lua_setfield(L, -2, "lua_default");
    lua_pushstring(L, m[i].ops);
    lua_setfield(L, -2, "ops");
    lua_pushstring(L, m[i].summary);
    lua_setfield(L, -2, "summary");
    lua_newtable(L);
    int k = 0;
    for (const char *p = m[i].options; *p != '\0';) {
      size_t len = strcspn(p, " ");
      if (len > 0) {
        lua_pushlstring(L, p, len);
        lua_rawseti(L, -2, ++k);
      }
      p += len + (p[len] == ' ');
    }
    lua_setfield(L, -2, "options");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  return 1;
}

void fl_luaopen_check(lua_State *L) {
  lua_pushcfunction(L, l_check_run);
  lua_setfield(L, -2, "check_run");
  lua_pushcfunction(L, l_check_models);
  lua_setfield(L, -2, "check_models");
}
