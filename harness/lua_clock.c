/* svc:clock{...}: clock faults on a service (faults/clock.h), recorded on the
 * timeline and checked.
 *
 * A service declared with clock = true is started with libfaketime preloaded
 * and a control file; each call here changes the model, rewrites the file,
 * ends the previous "clock" fault and begins one describing the new state
 * (none when the clock is back to real time). Then it checks that the change
 * took: it runs `date` under the same preload and control file and compares
 * what that reads with the real time plus the offset in the file (and, when
 * the clock drifts, how fast it runs), records the result as a check, and
 * returns it. A program that libfaketime cannot reach (static, Go) is refused
 * when it is declared; one started through a wrapper cannot be told apart,
 * which the README says. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "faults/clock.h"
#include "faults/subproc.h"
#include "base/alloc.h"
#include "base/log.h"
#include "harness/engine_int.h"
#include "harness/lua_netns.h"
#include "harness/reaper.h"

extern char **environ;

/* The check's tolerances: the skew within half a second of the asked one
 * (a process start and a `date` are milliseconds), a drift rate within 10%. */
#define SKEW_TOLERANCE_S 0.5
#define RATE_TOLERANCE 0.10
#define RATE_PROBE_S 0.3

struct fl_lclock_s {
  fl_clock_t *clock;
  fl_scenario_t *sc;
  char *name;
  uv_timer_t strobe;
  double strobe_v[2];
  int strobe_phase;
  double strobe_every;
  int fault; /* the open "clock" fault, 0 if none */
  char **probe_env;
  /* the check in flight */
  fl_subproc_t *probe;
  int probe_pid;
  fl_task_t *waiter;
  double probe_t0;
  double want_off, want_rate;
  int closed;
};

static double real_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *fl_lclock_preload(void) {
  return fl_clock_lib();
}

const char *const *fl_lclock_env(const fl_lclock_t *c) {
  return fl_clock_env(c->clock);
}

void fl_lclock_started(fl_lclock_t *c) {
  int rc = fl_clock_started(c->clock, real_now());
  if (rc < 0)
    FL_LOG(FL_LOG_WARN, "clock", "%s: cannot rewrite %s: %s", c->name,
           fl_clock_file(c->clock), uv_strerror(rc));
}

/* ---- closing with the scenario --------------------------------------------- */

static void strobe_closed(uv_handle_t *h) {
  fl_lclock_t *c = h->data;
  fl_clock_free(c->clock);
  for (size_t i = 0; c->probe_env != NULL && c->probe_env[i] != NULL; i++)
    fl_free(c->probe_env[i]);
  fl_free(c->probe_env);
  fl_free(c->name);
  fl_free(c);
}

static void release_probe(fl_lclock_t *c) {
  if (c->probe != NULL) {
    fl_subproc_cancel(c->probe);
    c->probe = NULL;
  }
  if (c->probe_pid > 0) {
    fl_clock_release_pid(c->probe_pid);
    c->probe_pid = 0;
  }
}

static void clock_closer(void *data, void (*done)(void *), void *done_arg) {
  fl_lclock_t *c = data;
  c->closed = 1;
  release_probe(c);
  uv_timer_stop(&c->strobe);
  uv_close((uv_handle_t *)&c->strobe, strobe_closed);
  done(done_arg);
}

/* ---- making one --------------------------------------------------------------- */

/* The environment of the check's `date`: faultline's, with the clock's. */
static char **probe_env(const fl_clock_t *clock, const char *lib) {
  size_t n = 0;
  while (environ[n] != NULL)
    n++;
  char **env = fl_calloc(n + 8, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
        strncmp(environ[i], "FAKETIME", 8) != 0 && strncmp(environ[i], "LC_ALL=", 7) != 0)
      env[k++] = fl_strdup(environ[i]);
  env[k++] = fl_asprintf("LD_PRELOAD=%s", lib);
  env[k++] = fl_strdup("LC_ALL=C");
  for (const char *const *e = fl_clock_env(clock); *e != NULL; e++)
    env[k++] = fl_strdup(*e);
  env[k] = NULL;
  return env;
}

fl_lclock_t *fl_lclock_new(lua_State *L, fl_scenario_t *sc, const char *name,
                           const char *argv0, const char *cwd) {
  const char *lib = fl_clock_lib();
  if (lib == NULL)
    luaL_error(L,
               "fl.service %s: clock = true needs libfaketime, which is not installed "
               "(Debian: apt-get install libfaketime; or set FL_FAKETIME_LIB)",
               name);
  if (argv0 != NULL) {
    char *path = NULL;
    if (strchr(argv0, '/') != NULL && argv0[0] != '/' && cwd != NULL) {
      char *rel = fl_asprintf("%s/%s", cwd, argv0);
      path = fl_subproc_which(rel);
      fl_free(rel);
    } else {
      path = fl_subproc_which(argv0);
    }
    char why[512];
    int rc = path ? fl_clock_binary_check(path, why, sizeof(why)) : 0;
    fl_free(path);
    if (rc < 0)
      luaL_error(L, "fl.service %s: clock = true cannot work: %s", name, why);
  }
  /* The control file is read by the service from its own working directory:
   * its path must be absolute. */
  char *abs = realpath(fl_scenario_dir(sc), NULL);
  char *dir = fl_asprintf("%s/clock", abs ? abs : fl_scenario_dir(sc));
  free(abs);
  fl_clock_t *clock = NULL;
  fl_err_t err = {0};
  int rc = fl_clock_new(&clock, dir, name, &err);
  fl_free(dir);
  if (rc < 0)
    luaL_error(L, "fl.service %s: %s", name, err.msg);

  fl_lclock_t *c = fl_calloc(1, sizeof(*c));
  c->clock = clock;
  c->sc = sc;
  c->name = fl_strdup(name);
  c->probe_env = probe_env(clock, lib);
  uv_timer_init(fl_engine_loop(sc->eng), &c->strobe);
  c->strobe.data = c;
  fl_scenario_on_close(sc, clock_closer, c);

  /* After a kill -9 of faultline the reaper kills the services; their
   * libfaketime shared memory would stay. Once per process: remove what
   * belongs to processes that are gone (zombies count as gone; give the
   * killed a moment to be reaped). */
  static int registered;
  if (!registered) {
    registered = 1;
    /* What earlier runs' services left when the reaper could not help. */
    fl_clock_sweep_shm();
    fl_reaper_on_death(
        "faketime-shm",
        "gone() { [ ! -d /proc/$1 ] || grep -q '^State:[[:space:]]*Z' /proc/$1/status "
        "2>/dev/null; }; for f in /dev/shm/faketime_shm_*; do [ -e \"$f\" ] || continue; "
        "p=${f##*_}; i=0; while [ $i -lt 20 ] && ! gone $p; do sleep 0.1; i=$((i+1)); "
        "done; "
        "gone $p && rm -f \"$f\" \"/dev/shm/sem.faketime_sem_$p\"; done");
  }
  return c;
}

/* ---- the check ---------------------------------------------------------------- */

static void probe_cancel(void *data) {
  fl_lclock_t *c = data;
  c->waiter = NULL;
  release_probe(c);
}

static void resume_with(fl_lclock_t *c, int took, const char *msg) {
  fl_task_t *t = c->waiter;
  c->waiter = NULL;
  if (t == NULL)
    return;
  lua_State *co = fl_task_thread(t);
  lua_pushboolean(co, took);
  lua_pushstring(co, msg);
  fl_task_resume(t, 2);
}

static void on_probe(const fl_subproc_result_t *r, void *arg) {
  fl_lclock_t *c = arg;
  c->probe = NULL;
  if (c->probe_pid > 0) {
    fl_clock_release_pid(c->probe_pid);
    c->probe_pid = 0;
  }
  double t1 = real_now();
  double obs[2] = {0, 0};
  int nobs = sscanf(r->out, "%lf %lf", &obs[0], &obs[1]);
  char msg[512];
  int took = 0;
  double skew = 0, rate = 0;
  if (r->status != 0 || nobs < 1) {
    snprintf(msg, sizeof(msg),
             "clock of %s: the check could not run (date under libfaketime: %s%.*s)",
             c->name, r->status < 0 ? uv_strerror(r->status) : "exit ",
             (int)strcspn(r->err, "\n"), r->err_len ? r->err : "no output");
  } else {
    /* The first `date` ran between t0 and t1: the skew it saw is within
     * that window of the file's offset. */
    double lo = obs[0] - t1, hi = obs[0] - c->probe_t0;
    skew = lo > c->want_off ? lo : (hi < c->want_off ? hi : c->want_off);
    took = fabs(skew - c->want_off) <= SKEW_TOLERANCE_S;
    if (c->want_rate != 1) {
      rate = nobs == 2 ? (obs[1] - obs[0]) / RATE_PROBE_S : 0;
      took = took && fabs(rate - c->want_rate) <= RATE_TOLERANCE * c->want_rate;
      snprintf(
          msg, sizeof(msg),
          "clock of %s %s: date under libfaketime read %+.3f s (want %+.3f s) and ran at "
          "x%.2f (want x%.2f)",
          c->name, took ? "took" : "did not take", skew, c->want_off, rate, c->want_rate);
    } else {
      snprintf(msg, sizeof(msg),
               "clock of %s %s: date under libfaketime read %+.3f s (want "
               "%+.3f s)",
               c->name, took ? "took" : "did not take", skew, c->want_off);
    }
  }
  fl_timeline_t *tl = fl_scenario_timeline(c->sc);
  json_t *fault =
      c->fault ? json_array_get(fl_timeline_faults(tl), (size_t)(c->fault - 1)) : NULL;
  json_t *attrs = json_object_get(fault, "attrs");
  if (json_is_object(attrs)) {
    json_object_set_new(attrs, "took", json_boolean(took));
    json_object_set_new(attrs, "observed_skew_s", json_real(skew));
  }
  json_t *check = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f}", "name", "clock fault took",
                            "kind", "clock", "status", took ? "pass" : "error", "message",
                            msg, "want_skew_s", c->want_off, "observed_skew_s", skew);
  json_object_set_new(check, "service", json_string(c->name));
  if (c->want_rate != 1) {
    json_object_set_new(check, "want_rate", json_real(c->want_rate));
    json_object_set_new(check, "observed_rate", json_real(rate));
  }
  char *name = fl_asprintf("clock of %s took", c->name);
  json_object_set_new(check, "name", json_string(name));
  fl_free(name);
  if (!c->closed)
    fl_scenario_add_check(c->sc, check);
  else
    json_decref(check);
  resume_with(c, took, msg);
}

/* Runs `date` under the preload; yields the calling task until it is done. */
static int start_probe(lua_State *L, fl_lclock_t *c) {
  fl_task_t *t = fl_task_current(L);
  c->want_off = fl_clock_file_offset(c->clock);
  c->want_rate = fl_clock_rate(c->clock);
  char sleep_s[16];
  snprintf(sleep_s, sizeof(sleep_s), "%g", c->want_rate != 1 ? RATE_PROBE_S : 0.0);
  /* The second `date` comes after a real (not faked) sleep, so the fake time
   * between the two shows the rate. */
  const char *argv[] = {"/bin/sh",
                        "-c",
                        "date +%s.%N; [ \"$1\" = 0 ] || { LD_PRELOAD= sleep \"$1\"; "
                        "date +%s.%N; }",
                        "sh",
                        sleep_s,
                        NULL};
  c->probe_t0 = real_now();
  c->waiter = t;
  fl_subproc_run(fl_engine_loop(c->sc->eng), argv, (const char *const *)c->probe_env,
                 NULL, 10000, on_probe, c, &c->probe);
  c->probe_pid = fl_subproc_pid(c->probe);
  return fl_task_yield(L, t, probe_cancel, c);
}

/* ---- changing it ------------------------------------------------------------------ */

static void on_strobe(uv_timer_t *t) {
  fl_lclock_t *c = t->data;
  c->strobe_phase ^= 1;
  fl_clock_set_offset(c->clock, real_now(), c->strobe_v[c->strobe_phase]);
}

static int opt_number(lua_State *L, int idx, const char *key, double *out) {
  lua_getfield(L, idx, key);
  int has = !lua_isnil(L, -1);
  if (has) {
    if (!lua_isnumber(L, -1))
      luaL_error(L, "svc:clock: '%s' must be a number", key);
    *out = lua_tonumber(L, -1);
  }
  lua_pop(L, 1);
  return has;
}

int fl_lclock_apply(lua_State *L, fl_lclock_t *c, const char *name) {
  static const char *const keys[] = {"offset", "rate",  "jump", "strobe",
                                     "every",  "check", NULL};
  int has_opts = lua_istable(L, 2);
  if (!has_opts && !lua_isnoneornil(L, 2))
    return luaL_error(L, "svc:clock: options must be a table, e.g. {offset = 3600}");
  double offset = 0, rate = 1, jump = 0, every = 1;
  int h_off = 0, h_rate = 0, h_jump = 0, h_strobe = 0, check = 1;
  if (has_opts) {
    fl_lua_check_keys(L, 2, "svc:clock", keys);
    h_off = opt_number(L, 2, "offset", &offset);
    h_rate = opt_number(L, 2, "rate", &rate);
    h_jump = opt_number(L, 2, "jump", &jump);
    if (opt_number(L, 2, "every", &every) && !(every > 0))
      return luaL_error(L, "svc:clock: 'every' must be a positive number of seconds");
    lua_getfield(L, 2, "strobe");
    if (!lua_isnil(L, -1)) {
      if (!lua_istable(L, -1) || lua_rawlen(L, -1) != 2)
        return luaL_error(L, "svc:clock: 'strobe' must be two offsets, e.g. {-60, 60}");
      for (int i = 0; i < 2; i++) {
        lua_rawgeti(L, -1, i + 1);
        if (!lua_isnumber(L, -1))
          return luaL_error(L, "svc:clock: 'strobe' must be two offsets, e.g. {-60, 60}");
        c->strobe_v[i] = lua_tonumber(L, -1);
        lua_pop(L, 1);
      }
      h_strobe = 1;
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "check");
    if (!lua_isnil(L, -1))
      check = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (h_rate && !(rate > 0 && rate < 1000))
    return luaL_error(L, "svc:clock: 'rate' must be between 0 and 1000 (1 = real time)");
  if (h_strobe && (h_off || h_jump))
    return luaL_error(L,
                      "svc:clock: 'strobe' sets the offset itself; drop 'offset'/'jump'");

  double now = real_now();
  uv_timer_stop(&c->strobe);
  int rc = 0;
  int reset = !h_off && !h_rate && !h_jump && !h_strobe;
  if (reset) {
    rc = fl_clock_reset(c->clock, now);
  } else {
    if (h_rate)
      rc = fl_clock_set_rate(c->clock, now, rate);
    if (rc == 0 && h_off)
      rc = fl_clock_set_offset(c->clock, now, offset);
    if (rc == 0 && h_jump)
      rc = fl_clock_jump(c->clock, now, jump);
    if (rc == 0 && h_strobe) {
      c->strobe_phase = 0;
      c->strobe_every = every;
      rc = fl_clock_set_offset(c->clock, now, c->strobe_v[0]);
      uint64_t ms = (uint64_t)(every * 1000 + 0.5);
      uv_timer_start(&c->strobe, on_strobe, ms ? ms : 1, ms ? ms : 1);
    }
  }
  if (rc < 0)
    return luaL_error(L, "svc:clock: cannot write %s: %s", fl_clock_file(c->clock),
                      uv_strerror(rc));

  /* The timeline: one fault per state, the previous one ended. */
  fl_timeline_t *tl = fl_scenario_timeline(c->sc);
  if (c->fault) {
    fl_timeline_fault_end(tl, c->fault);
    c->fault = 0;
  }
  double skew = fl_clock_skew(c->clock, now), r = fl_clock_rate(c->clock);
  if (h_strobe || fabs(skew) > 1e-9 || r != 1) {
    json_t *attrs =
        json_pack("{s:s, s:f, s:f}", "layer", "libfaketime", "offset_s", skew, "rate", r);
    if (h_jump)
      json_object_set_new(attrs, "jump_s", json_real(jump));
    if (h_strobe) {
      json_object_set_new(attrs, "strobe_s",
                          json_pack("[f, f]", c->strobe_v[0], c->strobe_v[1]));
      json_object_set_new(attrs, "every_s", json_real(every));
    }
    c->fault = fl_timeline_fault_begin(tl, "clock", json_pack("[s]", name), attrs);
  }
  if (!check) {
    lua_pushboolean(L, 1);
    lua_pushstring(L, "not checked (check = false)");
    return 2;
  }
  if (c->waiter != NULL)
    return luaL_error(L, "svc:clock: another task is checking %s's clock", name);
  return start_probe(L, c);
}
