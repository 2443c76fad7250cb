/* fl.service{...}: a service of the system under test, as a Lua object.
 *
 * The userdata is the binding itself; it is anchored in the registry for the
 * scenario's life, so the C side (exit callbacks, probes) never sees it
 * collected. The scenario's closer stops the service and frees the C object;
 * methods on it after that raise "attempt to use a stopped scenario's
 * service". */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/log.h"
#include "harness/engine.h"
#include "harness/lua_clock.h"
#include "harness/lua_core.h"
#include "harness/probe.h"
#include "harness/service.h"
#include "faults/cgroup.h"

static const char SERVICE_MT[] = "faultline.service";

typedef struct {
  fl_svc_t *svc;
  fl_scenario_t *sc;
  char *name;
  int has_probe;
  fl_probe_spec_t probe;
  char *probe_target;
  char **probe_argv;
  fl_probe_t *probing;
  fl_task_t *waiter;
  int kill_fault;        /* open "kill" fault, ended by the next start */
  int pause_fault;       /* open "pause" fault */
  int cpu_fault;         /* open "cpu" fault (svc:cpu{quota=}) */
  int mem_fault;         /* open "memory" fault (svc:memory{max=}) */
  double cpu_t0, cpu_c0; /* its start: run seconds, CPU seconds used */
  double mem_t0;
  int64_t mem_oom0; /* OOM kills before the memory fault */
  int closed;
  json_t *desc;       /* the report entry, kept when the service is freed */
  char *addr;         /* its address in the namespace layer, or NULL */
  char *netns;        /* the network namespace it runs in, or NULL */
  fl_lclock_t *clock; /* clock faults (harness/lua_clock.c), or NULL; the scenario's */
} lsvc_t;

static lsvc_t *check_svc(lua_State *L, int i) {
  lsvc_t *s = luaL_checkudata(L, i, SERVICE_MT);
  if (s->closed)
    fl_lua_error(L, "attempt to use service %s after its scenario ended", s->name);
  return s;
}

static char **strv_from_table(lua_State *L, int idx, const char *what) {
  idx = lua_absindex(L, idx);
  luaL_checktype(L, idx, LUA_TTABLE);
  int n = (int)lua_rawlen(L, idx);
  char **v = fl_calloc((size_t)n + 1, sizeof(char *));
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    if (!lua_isstring(L, -1)) {
      for (int j = 0; j < i - 1; j++)
        fl_free(v[j]);
      fl_free(v);
      fl_lua_error(L, "%s[%d] must be a string", what, i);
    }
    v[i - 1] = fl_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return v;
}

/* Returns v (which it may reallocate) with copies of extra's entries added. */
static char **strv_append(char **v, const char *const *extra) {
  size_t n = 0, m = 0;
  while (v != NULL && v[n] != NULL)
    n++;
  while (extra != NULL && extra[m] != NULL)
    m++;
  v = fl_realloc(v, (n + m + 1) * sizeof(char *));
  for (size_t i = 0; i < m; i++)
    v[n + i] = fl_strdup(extra[i]);
  v[n + m] = NULL;
  return v;
}

/* ---- closing with the scenario ------------------------------------------- */

typedef struct {
  lsvc_t *s;
  void (*done)(void *);
  void *done_arg;
} close_ctx_t;

static void closed_after_stop(fl_svc_t *svc, int64_t status, int sig, int expected,
                              void *arg) {
  close_ctx_t *c = arg;
  c->s->desc = fl_svc_to_json(c->s->svc);
  fl_svc_free(c->s->svc);
  c->s->svc = NULL;
  c->done(c->done_arg);
  fl_free(c);
}

static void end_resource_faults(lsvc_t *s);

static void svc_closer(void *data, void (*done)(void *), void *done_arg) {
  lsvc_t *s = data;
  s->closed = 1;
  end_resource_faults(s); /* with what they measured, before the stop */
  if (s->probing != NULL) {
    fl_probe_cancel(s->probing);
    s->probing = NULL;
  }
  close_ctx_t *c = fl_malloc(sizeof(*c));
  c->s = s;
  c->done = done;
  c->done_arg = done_arg;
  /* Stop, not kill: a service gets its chance to shut down cleanly. */
  fl_svc_stop(s->svc, closed_after_stop, c);
}

static json_t *svc_describe(void *data) {
  lsvc_t *s = data;
  if (s->svc != NULL)
    return fl_svc_to_json(s->svc);
  return s->desc != NULL ? json_deep_copy(s->desc) : json_pack("{s:s}", "name", s->name);
}

/* ---- construction ------------------------------------------------------------ */

static void read_probe(lua_State *L, int idx, lsvc_t *s) {
  static const char *const keys[] = {"kind", "target", "cmd", "timeout", "every", NULL};
  fl_lua_check_keys(L, idx, "ready probe", keys);
  lua_getfield(L, idx, "kind");
  const char *kind = lua_tostring(L, -1);
  if (kind == NULL)
    fl_lua_error(
        L, "ready: use fl.probe.tcp(addr), fl.probe.http(url), fl.probe.log(pattern) "
           "or fl.probe.cmd{...}");
  if (strcmp(kind, "tcp") == 0)
    s->probe.kind = FL_PROBE_TCP;
  else if (strcmp(kind, "http") == 0)
    s->probe.kind = FL_PROBE_HTTP;
  else if (strcmp(kind, "log") == 0)
    s->probe.kind = FL_PROBE_LOG;
  else if (strcmp(kind, "cmd") == 0)
    s->probe.kind = FL_PROBE_CMD;
  else
    fl_lua_error(L, "ready: unknown probe kind '%s'", kind);
  lua_pop(L, 1);
  lua_getfield(L, idx, "target");
  if (lua_isstring(L, -1))
    s->probe_target = fl_strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_getfield(L, idx, "cmd");
  if (lua_istable(L, -1))
    s->probe_argv = strv_from_table(L, -1, "probe cmd");
  lua_pop(L, 1);
  lua_getfield(L, idx, "timeout");
  s->probe.timeout_ms = (int)(luaL_optnumber(L, -1, 30) * 1000);
  lua_pop(L, 1);
  lua_getfield(L, idx, "every");
  s->probe.every_ms = (int)(luaL_optnumber(L, -1, 0.1) * 1000);
  lua_pop(L, 1);
  s->probe.target = s->probe_target;
  s->probe.argv = (const char *const *)s->probe_argv;
  s->has_probe = 1;
  if (s->probe.kind != FL_PROBE_CMD && s->probe_target == NULL)
    fl_lua_error(L, "ready: the %s probe needs a target", kind);
  if (s->probe.kind == FL_PROBE_CMD && s->probe_argv == NULL)
    fl_lua_error(L, "ready: the cmd probe needs a command");
}

/* Reads the options the namespace layer (harness/lua/network.lua) passes
 * from the table at index 1: the namespace the shim enters and the address
 * the service has there; clock = true preloads libfaketime for
 * svc:clock{...}. ud is the userdata's index, the cmd table just below it.
 * Leaves the stack as it was; may raise. */
static void read_placement(lua_State *L, lsvc_t *s, int ud, const char *name) {
  lua_getfield(L, 1, "netns");
  const char *netns = lua_tostring(L, -1);
  if (netns != NULL) /* a path, or the name `ip netns` knows it by */
    s->netns = netns[0] == '/' ? fl_strdup(netns) : fl_asprintf("/run/netns/%s", netns);
  lua_pop(L, 1);
  lua_getfield(L, 1, "addr");
  if (lua_isstring(L, -1))
    s->addr = fl_strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_getfield(L, 1, "clock");
  int want_clock = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (want_clock) {
    lua_rawgeti(L, ud - 1, 1);
    lua_getfield(L, 1, "cwd");
    s->clock = fl_lclock_new(L, s->sc, name, lua_tostring(L, -2), lua_tostring(L, -1));
    lua_pop(L, 2);
  }
}

/* The "env" table of the options at index 1 as a NULL-terminated list of
 * "KEY=value" (new, fl_strv_free), or NULL when there is none. */
static char **env_from_opts(lua_State *L) {
  char **env = NULL;
  lua_getfield(L, 1, "env");
  if (lua_istable(L, -1)) {
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      lua_pop(L, 1);
      n++;
    }
    env = fl_calloc((size_t)n + 1, sizeof(char *));
    int i = 0;
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1))
        env[i++] = fl_asprintf("%s=%s", lua_tostring(L, -2), lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return env;
}

/* A signal by name ("SIGINT", "INT") or number; 0 when unknown. */
static int signal_of(lua_State *L, int idx) {
  static const struct {
    const char *name;
    int sig;
  } sigs[] = {{"TERM", SIGTERM}, {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"HUP", SIGHUP},
              {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"PWR", SIGPWR}};
  if (lua_type(L, idx) == LUA_TNUMBER) {
    lua_Integer n = lua_tointeger(L, idx);
    return n > 0 && n < NSIG ? (int)n : 0;
  }
  const char *s = lua_tostring(L, idx);
  if (s == NULL)
    return 0;
  if (strncmp(s, "SIG", 3) == 0)
    s += 3;
  for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
    if (strcmp(sigs[i].name, s) == 0)
      return sigs[i].sig;
  return 0;
}

/* user=, group=, stop_signal=, rlimits=, umask= of the options at index 1
 * into spec (names resolved now: /etc/passwd and /etc/group are read once,
 * at declaration, not on the loop's hot path). May raise. */
static void read_identity(lua_State *L, const char *name, fl_svc_spec_t *spec) {
  lua_getfield(L, 1, "user");
  if (lua_type(L, -1) == LUA_TNUMBER) {
    spec->uid = (int)lua_tointeger(L, -1);
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    struct passwd *pw = getpwnam(lua_tostring(L, -1));
    if (pw == NULL)
      fl_lua_error(L, "fl.service %s: user '%s' does not exist here", name,
                   lua_tostring(L, -1));
    spec->uid = (int)pw->pw_uid;
    spec->gid = (int)pw->pw_gid;
  } else if (!lua_isnil(L, -1)) {
    fl_lua_error(L, "fl.service %s: 'user' is a user name or uid", name);
  }
  lua_getfield(L, 1, "group");
  if (lua_type(L, -1) == LUA_TNUMBER) {
    spec->gid = (int)lua_tointeger(L, -1);
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    struct group *gr = getgrnam(lua_tostring(L, -1));
    if (gr == NULL)
      fl_lua_error(L, "fl.service %s: group '%s' does not exist here", name,
                   lua_tostring(L, -1));
    spec->gid = (int)gr->gr_gid;
  } else if (!lua_isnil(L, -1)) {
    fl_lua_error(L, "fl.service %s: 'group' is a group name or gid", name);
  }
  lua_getfield(L, 1, "stop_signal");
  if (!lua_isnil(L, -1) && (spec->stop_signal = signal_of(L, -1)) == 0)
    fl_lua_error(
        L,
        "fl.service %s: 'stop_signal' %s is not one of SIGTERM, SIGINT, SIGQUIT, "
        "SIGHUP, SIGKILL, SIGUSR1, SIGUSR2, SIGPWR or a signal number",
        name, lua_tostring(L, -1) ? lua_tostring(L, -1) : "(not a name)");
  lua_getfield(L, 1, "umask");
  if (lua_type(L, -1) == LUA_TSTRING) { /* "077", octal as the shell writes it */
    char *end;
    long m = strtol(lua_tostring(L, -1), &end, 8);
    if (*end != '\0' || m < 0 || m > 0777)
      fl_lua_error(L, "fl.service %s: 'umask' is octal, such as \"077\"", name);
    spec->umask = (int)m;
    spec->set_umask = 1;
  } else if (lua_type(L, -1) == LUA_TNUMBER) {
    lua_Integer m = lua_tointeger(L, -1);
    if (!lua_isinteger(L, -1) || m < 0 || m > 0777)
      fl_lua_error(
          L,
          "fl.service %s: 'umask' %s is not a mode of 0 to 0777 (as a number: 0 to 511)",
          name, lua_tostring(L, -1));
    spec->umask = (int)m;
    spec->set_umask = 1;
  } else if (!lua_isnil(L, -1)) {
    fl_lua_error(L, "fl.service %s: 'umask' is octal, such as \"077\"", name);
  }
  lua_getfield(L, 1, "rlimits");
  if (lua_istable(L, -1)) {
    static const char *const limits[] = {"nofile", NULL};
    fl_lua_check_keys(L, lua_gettop(L), "fl.service rlimits", limits);
    lua_getfield(L, -1, "nofile");
    if (!lua_isnil(L, -1) && (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0))
      fl_lua_error(L, "fl.service %s: rlimits.nofile is a positive integer", name);
    spec->nofile = (long)lua_tointeger(L, -1);
    lua_pop(L, 1);
  } else if (!lua_isnil(L, -1)) {
    fl_lua_error(L, "fl.service %s: 'rlimits' is a table such as { nofile = 4096 }",
                 name);
  }
  lua_pop(L, 5);
}

/* A service that runs as another user owns the folder it runs in when
 * faultline made it (under the run directory): PostgreSQL's data directory,
 * say. Elsewhere nothing is changed. */
static void own_cwd(fl_scenario_t *sc, const char *cwd, const fl_svc_spec_t *id) {
  const char *dir = fl_scenario_dir(sc);
  size_t n = strlen(dir);
  if (id->uid <= 0 || cwd == NULL || strncmp(cwd, dir, n) != 0 || cwd[n] != '/')
    return;
  if (chown(cwd, (uid_t)id->uid, (gid_t)(id->gid > 0 ? id->gid : -1)) != 0)
    FL_LOG(FL_LOG_WARN, "svc", "cannot give %s to uid %d: %s", cwd, id->uid,
           strerror(errno));
}

/* Creates the C service s->svc from the spec pieces; takes argv and env.
 * Returns 0 or a negative code with err set. */
static int svc_create(lsvc_t *s, const char *name, char **argv, char **env,
                      const char *cwd, int grace, const fl_svc_spec_t *identity,
                      fl_err_t *err) {
  fl_scenario_t *sc = s->sc;
  char *logs = fl_asprintf("%s/logs", fl_scenario_dir(sc));
  fl_svc_spec_t spec = {.name = name,
                        .argv = (const char *const *)argv,
                        .env = (const char *const *)env,
                        .cwd = cwd,
                        .log_dir = logs,
                        .run_id = fl_scenario_run_id(sc),
                        .stop_grace_ms = grace,
                        .netns = s->netns,
                        .preload = s->clock ? fl_lclock_preload() : NULL,
                        .stop_signal = identity->stop_signal,
                        .uid = identity->uid,
                        .gid = identity->gid,
                        .umask = identity->umask,
                        .set_umask = identity->set_umask,
                        .nofile = identity->nofile};
  int rc =
      fl_svc_new(&s->svc, fl_scenario_loop(sc), fl_scenario_timeline(sc), &spec, err);
  fl_free(logs);
  fl_strv_free(argv);
  fl_strv_free(env);
  return rc;
}

/* fl.service{name=, cmd=, ...}: checks the options, builds the userdata,
 * creates the service (not started) and ties it to the scenario's life. */
static int l_service(lua_State *L) {
  static const char *const keys[] = {
      "name",  "cmd",  "env",   "cwd",         "ready",   "stop_timeout", "netns", "addr",
      "clock", "user", "group", "stop_signal", "rlimits", "umask",        NULL};
  fl_scenario_t *sc = fl_engine_scenario(L);
  fl_lua_check_keys(L, 1, "fl.service", keys);
  lua_getfield(L, 1, "name");
  const char *name = lua_tostring(L, -1);
  if (name == NULL || name[0] == '\0' || strchr(name, '/') != NULL)
    return fl_lua_error(L, "fl.service: 'name' must be a non-empty string without '/'");
  lua_getfield(L, 1, "cmd");
  if (!lua_istable(L, -1) || lua_rawlen(L, -1) == 0)
    return fl_lua_error(L, "fl.service %s: 'cmd' must be a list like {\"prog\", \"arg\"}",
                        name);

  lsvc_t *s = lua_newuserdatauv(L, sizeof(*s), 0);
  memset(s, 0, sizeof(*s));
  s->sc = sc;
  s->name = fl_strdup(name);
  s->closed = 1; /* until the C object exists */
  luaL_setmetatable(L, SERVICE_MT);
  int ud = lua_gettop(L);

  /* Placement, clock and probe before anything below allocates: they may
   * raise, and what they keep belongs to the userdata (freed by __gc). */
  read_placement(L, s, ud, name);
  fl_svc_spec_t identity = {0};
  read_identity(L, name, &identity);
  lua_getfield(L, 1, "ready");
  if (lua_istable(L, -1))
    read_probe(L, lua_gettop(L), s);
  else if (!lua_isnil(L, -1))
    return fl_lua_error(
        L, "fl.service %s: 'ready' must be a probe (fl.probe.tcp(addr) ...)", name);
  lua_pop(L, 1);
  lua_getfield(L, 1, "stop_timeout");
  double stop_s = lua_isnil(L, -1) ? 5 : lua_tonumber(L, -1);
  if (!lua_isnil(L, -1) && (!lua_isnumber(L, -1) || !(stop_s >= 0) || stop_s > 86400))
    return fl_lua_error(
        L, "fl.service %s: 'stop_timeout' %s is not a number of seconds (0 to 86400)",
        name, luaL_tolstring(L, -1, NULL));
  int grace = (int)(stop_s * 1000);
  lua_pop(L, 1);
  char **argv = strv_from_table(L, ud - 1, "cmd");
  char **env = env_from_opts(L);
  lua_getfield(L, 1, "cwd");
  const char *cwd = lua_tostring(L, -1);
  if (s->clock != NULL)
    env = strv_append(env, fl_lclock_env(s->clock));
  own_cwd(s->sc, cwd, &identity);

  fl_err_t err = {0};
  if (svc_create(s, name, argv, env, cwd, grace, &identity, &err) < 0)
    return fl_lua_error(L, "%s", err.msg);
  s->closed = 0;
  /* Anchor for the scenario's life; closed with it. */
  lua_pushvalue(L, ud);
  luaL_ref(L, LUA_REGISTRYINDEX);
  fl_scenario_on_close(sc, svc_closer, s);
  fl_scenario_add_service(sc, svc_describe, s);
  lua_pushvalue(L, ud);
  return 1;
}

/* ---- waiting ------------------------------------------------------------------ */

static void probe_cancel(void *data) {
  lsvc_t *s = data;
  if (s->probing != NULL) {
    fl_probe_t *p = s->probing;
    s->probing = NULL;
    fl_probe_cancel(p);
  }
  s->waiter = NULL;
}

static void on_probe(int status, const char *msg, void *arg) {
  lsvc_t *s = arg;
  fl_task_t *t = s->waiter;
  s->probing = NULL;
  s->waiter = NULL;
  lua_State *co = fl_task_thread(t);
  if (status == 0) {
    fl_svc_mark(s->svc, "ready", NULL);
    lua_pushboolean(co, 1);
    fl_task_resume(t, 1);
    return;
  }
  fl_svc_mark(s->svc, "not-ready", msg);
  char *tail = fl_svc_tail(s->svc, 10);
  lua_pushnil(co);
  lua_pushfstring(co, "service %s did not become ready: %s%s%s%s", s->name, msg,
                  tail[0] ? "\n  last lines of " : "",
                  tail[0] ? fl_svc_log_path(s->svc) : "", tail[0] ? ":\n" : "");
  lua_pushstring(co, tail);
  lua_concat(co, 2);
  fl_free(tail);
  fl_task_resume(t, 2);
}

/* svc:_start() -> true | nil, message. The Lua side raises. */
static int l_start(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  fl_task_t *t = fl_task_current(L);
  fl_err_t err = {0};
  if (s->clock != NULL && fl_svc_state(s->svc) == FL_SVC_DOWN)
    fl_lclock_started(s->clock); /* its skew is relative to the new process */
  int rc = fl_svc_start(s->svc, &err);
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  fl_timeline_t *tl = fl_scenario_timeline(s->sc);
  if (s->kill_fault) {
    fl_timeline_fault_end(tl, s->kill_fault);
    s->kill_fault = 0;
  }
  if (!s->has_probe) {
    fl_svc_mark(s->svc, "ready", "no readiness probe");
    lua_pushboolean(L, 1);
    return 1;
  }
  rc = fl_probe_start(&s->probing, fl_scenario_loop(s->sc), fl_scenario_http(s->sc),
                      s->svc, &s->probe, on_probe, s, &err);
  if (rc < 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "service %s: %s", s->name, err.msg);
    return 2;
  }
  s->waiter = t;
  return fl_task_yield(L, t, probe_cancel, s);
}

static void stop_cancel(void *data) {
  lsvc_t *s = data;
  if (s->svc != NULL)
    fl_svc_cancel_wait(s->svc);
  s->waiter = NULL;
}

static void on_stopped(fl_svc_t *svc, int64_t status, int sig, int expected, void *arg) {
  lsvc_t *s = arg;
  fl_task_t *t = s->waiter;
  s->waiter = NULL;
  if (t == NULL)
    return;
  lua_State *co = fl_task_thread(t);
  lua_pushboolean(co, 1);
  fl_task_resume(t, 1);
}

static int l_stop(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  fl_task_t *t = fl_task_current(L);
  if (s->waiter != NULL)
    return fl_lua_error(L, "service %s: another task is already waiting on it", s->name);
  s->waiter = t;
  fl_svc_stop(s->svc, on_stopped, s);
  return fl_task_yield(L, t, stop_cancel, s);
}

static int l_kill(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  fl_task_t *t = fl_task_current(L);
  if (s->waiter != NULL)
    return fl_lua_error(L, "service %s: another task is already waiting on it", s->name);
  if (fl_svc_state(s->svc) != FL_SVC_DOWN && !s->kill_fault) {
    fl_timeline_t *tl = fl_scenario_timeline(s->sc);
    if (s->pause_fault) {
      fl_timeline_fault_end(tl, s->pause_fault);
      s->pause_fault = 0;
    }
    s->kill_fault = fl_timeline_fault_begin(tl, "kill", json_pack("[s]", s->name), NULL);
  }
  s->waiter = t;
  fl_svc_kill(s->svc, on_stopped, s);
  return fl_task_yield(L, t, stop_cancel, s);
}

static int l_pause(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  int rc = fl_svc_pause(s->svc);
  if (rc < 0)
    return fl_lua_error(L, "service %s: cannot pause: it is not running", s->name);
  if (!s->pause_fault)
    s->pause_fault = fl_timeline_fault_begin(fl_scenario_timeline(s->sc), "pause",
                                             json_pack("[s]", s->name), NULL);
  lua_settop(L, 1);
  return 1;
}

static int l_resume(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  int rc = fl_svc_resume(s->svc);
  if (rc < 0)
    return fl_lua_error(L, "service %s: cannot resume: it is not running", s->name);
  if (s->pause_fault) {
    fl_timeline_fault_end(fl_scenario_timeline(s->sc), s->pause_fault);
    s->pause_fault = 0;
  }
  lua_settop(L, 1);
  return 1;
}

static int l_signal(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  int sig = (int)luaL_checkinteger(L, 2);
  int rc = fl_svc_signal(s->svc, sig);
  lua_pushboolean(L, rc == 0);
  return 1;
}

/* svc:_clock{offset=, rate=, jump=, strobe={a, b}, every=} -> true, message |
 * false, message (harness/lua_clock.c); svc:clock, in harness/lua/network.lua,
 * raises on false. */
static int l_clock(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  if (s->clock == NULL)
    return fl_lua_error(L,
                        "service %s: declare it with clock = true to fault its clock "
                        "(libfaketime is preloaded when the service starts)",
                        s->name);
  return fl_lclock_apply(L, s->clock, s->name);
}

/* ---- resource faults ------------------------------------------------------- */

/* The attrs of fault id (borrowed from the timeline), to add what a fault
 * measured before it ends. */
static json_t *fault_attrs(lsvc_t *s, int id) {
  json_t *f = json_array_get(fl_timeline_faults(fl_scenario_timeline(s->sc)), id - 1);
  json_t *a = json_object_get(f, "attrs");
  return json_is_object(a) ? a : NULL;
}

static json_t *round3(double v) {
  return json_real(floor(v * 1000 + 0.5) / 1000);
}

/* Ends the open cpu fault with the CPU share the service used under it. */
static void end_cpu_fault(lsvc_t *s) {
  if (!s->cpu_fault)
    return;
  fl_timeline_t *tl = fl_scenario_timeline(s->sc);
  double dt = fl_timeline_seconds(tl) - s->cpu_t0;
  double used = fl_svc_cpu_s(s->svc) - s->cpu_c0;
  json_t *a = fault_attrs(s, s->cpu_fault);
  /* The share over a window shorter than two quota periods (100 ms each)
   * says nothing about the quota: only the seconds used are given then. */
  if (a != NULL)
    json_object_set_new(a, "cpu_s_used", round3(used));
  if (a != NULL && dt >= 0.2)
    json_object_set_new(a, "cpu_share_measured", round3(used / dt));
  fl_timeline_fault_end(tl, s->cpu_fault);
  s->cpu_fault = 0;
}

/* Ends the open memory fault with the peak RSS under it and its OOM kills. */
static void end_mem_fault(lsvc_t *s) {
  if (!s->mem_fault)
    return;
  json_t *a = fault_attrs(s, s->mem_fault);
  if (a != NULL) {
    json_object_set_new(a, "peak_rss_bytes",
                        json_integer(fl_svc_peak_rss_since(s->svc, s->mem_t0)));
    json_object_set_new(a, "oom_kills",
                        json_integer(fl_svc_oom_kills(s->svc) - s->mem_oom0));
  }
  fl_timeline_fault_end(fl_scenario_timeline(s->sc), s->mem_fault);
  s->mem_fault = 0;
}

static void end_resource_faults(lsvc_t *s) {
  if (s->svc == NULL)
    return;
  end_cpu_fault(s);
  end_mem_fault(s);
}

/* The option table at index 2 of svc:cpu / svc:memory: absent, or a table
 * with only key (checked). Returns whether key was given (pushed), else
 * pushes nothing. */
static int resource_opt(lua_State *L, const char *what, const char *key) {
  if (lua_isnoneornil(L, 2))
    return 0;
  if (!lua_istable(L, 2))
    return fl_lua_error(L,
                        "%s: a table such as { %s = ... } expected, or nothing to "
                        "lift the limit",
                        what, key);
  const char *const keys[] = {key, NULL};
  fl_lua_check_keys(L, 2, what, keys);
  lua_getfield(L, 2, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  return 1;
}

/* svc:cpu{quota = 0.2} limits the service to 0.2 CPUs; svc:cpu() lifts it. */
static int l_cpu(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  double quota = 0;
  if (resource_opt(L, "svc:cpu", "quota")) {
    if (!lua_isnumber(L, -1) || !(lua_tonumber(L, -1) > 0) || lua_tonumber(L, -1) > 4096)
      return fl_lua_error(L,
                          "service %s: svc:cpu: 'quota' is a positive number of CPUs "
                          "(0.2 = 20 %% of one CPU), not %s",
                          s->name, luaL_tolstring(L, -1, NULL));
    quota = lua_tonumber(L, -1);
  }
  fl_err_t err = {0};
  if ((quota > 0 || s->cpu_fault) && fl_svc_cpu_quota(s->svc, quota, &err) < 0)
    return fl_lua_error(L, "%s", err.msg);
  end_cpu_fault(s);
  if (quota > 0) {
    fl_timeline_t *tl = fl_scenario_timeline(s->sc);
    s->cpu_fault = fl_timeline_fault_begin(tl, "cpu", json_pack("[s]", s->name),
                                           json_pack("{s:o}", "quota", round3(quota)));
    s->cpu_t0 = fl_timeline_seconds(tl);
    s->cpu_c0 = fl_svc_cpu_s(s->svc);
  }
  lua_settop(L, 1);
  return 1;
}

/* svc:memory{max = "64M"} limits the service's memory; svc:memory() lifts it. */
static int l_memory(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  int64_t bytes = 0;
  if (resource_opt(L, "svc:memory", "max")) {
    const char *text = lua_type(L, -1) == LUA_TNUMBER || lua_type(L, -1) == LUA_TSTRING
                           ? lua_tostring(L, -1)
                           : NULL;
    if (fl_cgroup_parse_bytes(text, &bytes) < 0 || bytes < 4096)
      return fl_lua_error(L,
                          "service %s: svc:memory: 'max' is a size in bytes or a string "
                          "such as \"64M\" (K, M, G), at least 4096 bytes, not %s",
                          s->name, luaL_tolstring(L, -1, NULL));
  }
  fl_err_t err = {0};
  if ((bytes > 0 || s->mem_fault) && fl_svc_memory_max(s->svc, bytes, &err) < 0)
    return fl_lua_error(L, "%s", err.msg);
  end_mem_fault(s);
  if (bytes > 0) {
    fl_timeline_t *tl = fl_scenario_timeline(s->sc);
    s->mem_fault =
        fl_timeline_fault_begin(tl, "memory", json_pack("[s]", s->name),
                                json_pack("{s:I}", "max_bytes", (json_int_t)bytes));
    s->mem_t0 = fl_timeline_seconds(tl);
    s->mem_oom0 = fl_svc_oom_kills(s->svc);
  }
  lua_settop(L, 1);
  return 1;
}

/* svc:_limited() -> whether a cpu or memory limit is on (for fl.heal). */
static int l_limited(lua_State *L) {
  lsvc_t *s = luaL_checkudata(L, 1, SERVICE_MT);
  lua_pushboolean(L, !s->closed && (s->cpu_fault || s->mem_fault));
  return 1;
}

static int l_alive(lua_State *L) {
  lsvc_t *s = check_svc(L, 1);
  lua_pushboolean(L, fl_svc_state(s->svc) != FL_SVC_DOWN);
  return 1;
}

static int l_index(lua_State *L) {
  lsvc_t *s = luaL_checkudata(L, 1, SERVICE_MT);
  const char *k = luaL_checkstring(L, 2);
  if (strcmp(k, "name") == 0) {
    lua_pushstring(L, s->name);
    return 1;
  }
  if (strcmp(k, "pid") == 0) {
    if (s->svc != NULL && fl_svc_pid(s->svc) > 0)
      lua_pushinteger(L, fl_svc_pid(s->svc));
    else
      lua_pushnil(L);
    return 1;
  }
  if (strcmp(k, "log") == 0) {
    lua_pushstring(L, s->svc ? fl_svc_log_path(s->svc) : NULL);
    return 1;
  }
  if (strcmp(k, "addr") == 0 || strcmp(k, "netns") == 0) {
    lua_pushstring(L, k[0] == 'a' ? s->addr : s->netns);
    return 1;
  }
  /* Methods, and whatever the Lua side added to the metatable's methods. */
  luaL_getmetafield(L, 1, "methods");
  lua_getfield(L, -1, k);
  return 1;
}

static int l_gc(lua_State *L) {
  lsvc_t *s = luaL_checkudata(L, 1, SERVICE_MT);
  /* The scenario's closer has stopped and freed the service by now. */
  if (s->svc != NULL) {
    fl_svc_free(s->svc);
    s->svc = NULL;
  }
  json_decref(s->desc);
  s->desc = NULL;
  fl_free(s->name);
  fl_free(s->probe_target);
  fl_strv_free(s->probe_argv);
  fl_free(s->addr);
  fl_free(s->netns);
  s->addr = s->netns = NULL;
  s->name = NULL;
  s->probe_target = NULL;
  s->probe_argv = NULL;
  return 0;
}

static int l_tostring(lua_State *L) {
  lsvc_t *s = luaL_checkudata(L, 1, SERVICE_MT);
  lua_pushfstring(L, "service %s", s->name);
  return 1;
}

static const luaL_Reg methods[] = {
    {"_start", l_start},  {"_stop", l_stop},       {"_kill", l_kill},
    {"pause", l_pause},   {"resume", l_resume},    {"signal", l_signal},
    {"alive", l_alive},   {"_clock", l_clock},     {"cpu", l_cpu},
    {"memory", l_memory}, {"_limited", l_limited}, {NULL, NULL},
};

void fl_luaopen_service(lua_State *L) {
  luaL_newmetatable(L, SERVICE_MT);
  lua_pushcfunction(L, l_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newlib(L, methods);
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, "methods");
  /* core.service_methods: where faultline.lua adds start/stop/restart. */
  lua_setfield(L, -3, "service_methods");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_service);
  lua_setfield(L, -2, "service");
}
