/* fl.exec{"prog", "arg", ..., env=, cwd=, stdin=, timeout=}: runs a command
 * to completion, without blocking the loop, and returns {code=, signal=,
 * stdout=, stderr=, timed_out=}. env adds to (or, with a false value,
 * removes from) faultline's environment; cwd is the working directory;
 * stdin is written to the command's standard input, then closed. For the
 * tools a scenario needs around its services (etcdctl, redis-cli, a client
 * script). Output is capped at 4 MiB per stream; a command that outlives its
 * timeout is killed (result has timed_out = true). The command runs in its
 * own process group through the exec shim, so it dies with faultline. */
#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#include "base/alloc.h"
#include "base/fs.h"
#include "harness/engine.h"
#include "harness/lua_core.h"
#include "harness/reaper.h"

#define OUT_CAP (4u << 20)

typedef struct {
  uv_process_t proc;
  uv_pipe_t out[2];
  uv_pipe_t in; /* stdin, when the call gave one */
  uv_write_t write;
  uv_shutdown_t shut;
  char *input;
  uv_timer_t timer;
  char *buf[2];
  size_t len[2];
  int open;
  int exited;
  int64_t code;
  int sig;
  int timed_out;
  fl_task_t *task; /* NULL once canceled */
} exec_t;

static void exec_closed(uv_handle_t *h) {
  exec_t *x = h->data;
  if (--x->open > 0)
    return;
  if (x->task != NULL) {
    lua_State *co = fl_task_thread(x->task);
    lua_createtable(co, 0, 5);
    lua_pushinteger(co, (lua_Integer)x->code);
    lua_setfield(co, -2, "code");
    lua_pushinteger(co, x->sig);
    lua_setfield(co, -2, "signal");
    lua_pushlstring(co, x->buf[0] ? x->buf[0] : "", x->len[0]);
    lua_setfield(co, -2, "stdout");
    lua_pushlstring(co, x->buf[1] ? x->buf[1] : "", x->len[1]);
    lua_setfield(co, -2, "stderr");
    lua_pushboolean(co, x->timed_out);
    lua_setfield(co, -2, "timed_out");
    fl_task_resume(x->task, 1);
  }
  fl_free(x->buf[0]);
  fl_free(x->buf[1]);
  fl_free(x->input);
  fl_free(x);
}

static void maybe_done(exec_t *x) {
  /* Results go back once the process has exited and both pipes closed. */
  if (x->exited && uv_is_closing((uv_handle_t *)&x->out[0]) &&
      uv_is_closing((uv_handle_t *)&x->out[1]) &&
      !uv_is_closing((uv_handle_t *)&x->timer))
    uv_close((uv_handle_t *)&x->timer, exec_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  static char chunk[64 * 1024];
  b->base = chunk;
  b->len = sizeof(chunk);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  exec_t *x = s->data;
  int i = (uv_pipe_t *)s == &x->out[1];
  if (n < 0) {
    uv_close((uv_handle_t *)s, exec_closed);
    maybe_done(x);
    return;
  }
  size_t keep = (size_t)n;
  if (x->len[i] + keep > OUT_CAP)
    keep = OUT_CAP - x->len[i];
  if (keep > 0) {
    x->buf[i] = fl_realloc(x->buf[i], x->len[i] + keep + 1);
    memcpy(x->buf[i] + x->len[i], b->base, keep);
    x->len[i] += keep;
  }
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  exec_t *x = p->data;
  x->exited = 1;
  /* killed by a signal: 128 + the signal, as a shell says it, so that
   * `r.code == 0` never reads a killed or timed-out command as success */
  x->code = sig != 0 ? 128 + sig : status;
  x->sig = sig;
  kill(-p->pid, SIGKILL); /* whatever it left in its group */
  fl_reaper_untrack(p->pid);
  uv_close((uv_handle_t *)p, exec_closed);
  maybe_done(x);
}

static void on_timeout(uv_timer_t *t) {
  exec_t *x = t->data;
  x->timed_out = 1;
  if (!x->exited)
    kill(-x->proc.pid, SIGKILL);
}

static void exec_cancel(void *data) {
  exec_t *x = data;
  x->task = NULL;
  if (!x->exited)
    kill(-x->proc.pid, SIGKILL);
}

static void on_stdin_done(uv_shutdown_t *req, int status) {
  exec_t *x = req->data;
  (void)status;
  uv_close((uv_handle_t *)&x->in, exec_closed);
}

static void on_stdin_written(uv_write_t *req, int status) {
  exec_t *x = req->data;
  if (status < 0 || uv_shutdown(&x->shut, (uv_stream_t *)&x->in, on_stdin_done) < 0)
    uv_close((uv_handle_t *)&x->in, exec_closed);
}

/* The environment for env = {NAME = "value" | false} (index idx): faultline's
 * own, with those names replaced, added or (false) removed. A new
 * NULL-terminated array of new strings (fl_strv_free), or NULL (inherit)
 * when there is no env. Misuse raises. */
static char **exec_env(lua_State *L, int idx) {
  if (lua_isnil(L, idx))
    return NULL;
  if (!lua_istable(L, idx))
    fl_lua_error(L, "fl.exec: env must be a table of NAME = \"value\"");
  size_t n = 0, cap = 16;
  char **env = fl_calloc(cap, sizeof(char *));
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int ok = lua_type(L, -2) == LUA_TSTRING &&
             (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER ||
              (lua_isboolean(L, -1) && !lua_toboolean(L, -1)));
    if (!ok || strchr(lua_tostring(L, -2), '=') != NULL) {
      fl_strv_free(env);
      fl_lua_error(L, "fl.exec: env must map names to strings (or false to remove)");
    }
    if (n + 2 >= cap)
      env = fl_realloc(env, (cap *= 2) * sizeof(char *));
    if (lua_type(L, -1) != LUA_TBOOLEAN)
      env[n++] = fl_asprintf("%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  for (char **e = environ; e != NULL && *e != NULL; e++) {
    const char *eq = strchr(*e, '=');
    if (eq == NULL)
      continue;
    lua_pushlstring(L, *e, (size_t)(eq - *e));
    int given = lua_rawget(L, idx) != LUA_TNIL;
    lua_pop(L, 1);
    if (given)
      continue;
    if (n + 2 >= cap)
      env = fl_realloc(env, (cap *= 2) * sizeof(char *));
    env[n++] = fl_strdup(*e);
  }
  env[n] = NULL;
  return env;
}

/* The options of the call at index 1: timeout (seconds), cwd, stdin. */
static double exec_opts(lua_State *L, const char **cwd, const char **input,
                        size_t *ilen) {
  static const char *const keys[] = {"timeout", "env", "cwd", "stdin", NULL};
  if (!lua_istable(L, 1))
    fl_lua_error(L, "fl.exec: a command table like {\"prog\", \"arg\"} expected");
  fl_lua_check_keys(L, 1, "fl.exec", keys);
  double timeout = 60;
  lua_getfield(L, 1, "timeout");
  if (!lua_isnil(L, -1)) {
    if (!lua_isnumber(L, -1) || lua_tonumber(L, -1) < 0)
      fl_lua_error(L, "fl.exec: timeout must be a number of seconds");
    timeout = lua_tonumber(L, -1);
  }
  lua_getfield(L, 1, "cwd");
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
    fl_lua_error(L, "fl.exec: cwd must be a directory name");
  *cwd = lua_tostring(L, -1);
  lua_getfield(L, 1, "stdin");
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
    fl_lua_error(L, "fl.exec: stdin must be a string");
  *input = lua_tolstring(L, -1, ilen);
  lua_pop(L, 3); /* the strings stay alive: they are in the table */
  int n = (int)lua_rawlen(L, 1);
  if (n == 0)
    fl_lua_error(L, "fl.exec: an empty command");
  for (int i = 1; i <= n; i++) {
    if (lua_rawgeti(L, 1, i) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      fl_lua_error(L, "fl.exec: argument %d is not a string", i);
    lua_pop(L, 1);
  }
  return timeout;
}

/* The argv: the shim, then the command (the array part of index 1, checked
 * by exec_opts). */
static const char **exec_args(lua_State *L, const char *ppid) {
  int n = (int)lua_rawlen(L, 1);
  const char **args = fl_calloc((size_t)n + 5, sizeof(char *));
  args[0] = fl_self_exe();
  args[1] = "__exec";
  args[2] = ppid;
  args[3] = "--";
  luaL_checkstack(L, n, "fl.exec: too many arguments");
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i); /* stays on the stack: a number becomes a string there */
    args[3 + i] = lua_tostring(L, -1);
  }
  return args;
}

/* fl.exec{"prog", "arg", ..., env =, cwd =, stdin =, timeout = S}: the
 * command is the array part. Misuse raises at the scenario's line. */
static int l_exec(lua_State *L) {
  const char *cwd, *input;
  size_t ilen = 0;
  double timeout = exec_opts(L, &cwd, &input, &ilen);
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_task_t *t = fl_task_current(L);
  char ppid[24];
  snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
  lua_getfield(L, 1, "env");
  char **env = exec_env(L, lua_gettop(L));
  const char **args = exec_args(L, ppid);
  exec_t *x = fl_calloc(1, sizeof(*x));
  uv_loop_t *loop = fl_scenario_loop(sc);
  for (int i = 0; i < 2; i++) {
    uv_pipe_init(loop, &x->out[i], 0);
    x->out[i].data = x;
  }
  uv_pipe_init(loop, &x->in, 0);
  x->in.data = x->write.data = x->shut.data = x;
  uv_timer_init(loop, &x->timer);
  x->timer.data = x->proc.data = x;
  uv_stdio_container_t stdio[3];
  stdio[0].flags = input ? UV_CREATE_PIPE | UV_READABLE_PIPE : UV_IGNORE;
  stdio[0].data.stream = (uv_stream_t *)&x->in;
  stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[1].data.stream = (uv_stream_t *)&x->out[0];
  stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
  stdio[2].data.stream = (uv_stream_t *)&x->out[1];
  uv_process_options_t o = {0};
  o.file = "/proc/self/exe"; /* the running binary, even if replaced on disk */
  o.args = (char **)args;
  o.env = env;
  o.cwd = cwd;
  o.exit_cb = on_exit_cb;
  o.stdio = stdio;
  o.stdio_count = 3;
  o.flags = UV_PROCESS_DETACHED;
  int rc = uv_spawn(loop, &x->proc, &o);
  fl_free(args);
  fl_strv_free(env);
  x->open = 5;
  if (rc < 0) {
    x->task = NULL;
    uv_close((uv_handle_t *)&x->proc, exec_closed);
    uv_close((uv_handle_t *)&x->out[0], exec_closed);
    uv_close((uv_handle_t *)&x->out[1], exec_closed);
    uv_close((uv_handle_t *)&x->in, exec_closed);
    uv_close((uv_handle_t *)&x->timer, exec_closed);
    return fl_lua_error(L, "fl.exec: cannot run%s%s: %s", cwd ? " in " : "",
                        cwd ? cwd : "", uv_strerror(rc));
  }
  fl_reaper_track(x->proc.pid);
  x->task = t;
  if (input != NULL) {
    x->input = fl_malloc(ilen + 1);
    memcpy(x->input, input, ilen);
    uv_buf_t b = uv_buf_init(x->input, (unsigned)ilen);
    if (uv_write(&x->write, (uv_stream_t *)&x->in, &b, 1, on_stdin_written) < 0)
      uv_close((uv_handle_t *)&x->in, exec_closed);
  } else {
    uv_close((uv_handle_t *)&x->in, exec_closed);
  }
  uv_read_start((uv_stream_t *)&x->out[0], on_alloc, on_read);
  uv_read_start((uv_stream_t *)&x->out[1], on_alloc, on_read);
  uv_timer_start(&x->timer, on_timeout, (uint64_t)(timeout * 1000), 0);
  return fl_task_yield(L, t, exec_cancel, x);
}

void fl_luaopen_exec(lua_State *L) {
  lua_pushcfunction(L, l_exec);
  lua_setfield(L, -2, "exec");
}
