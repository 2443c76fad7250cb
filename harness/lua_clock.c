/* svc:clock{...}: clock faults on a service (faults/clock_fault.h), recorded
 * on the timeline and checked.
 *
 * A service declared with clock = true is started with libfaketime preloaded
 * and a control file; each call here parses the options into a change, lets
 * faults/clock_fault.c apply it, ends the previous "clock" fault and begins
 * one describing the new state (none when the clock is back to real time),
 * then waits for clock_fault.c's check that the change took, records it as a
 * check and returns it. A program that libfaketime cannot reach (static, Go)
 * is refused when it is declared; one started through a wrapper cannot be
 * told apart, which the README says. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "faults/clock_fault.h"
#include "faults/subproc.h"
#include "harness/engine.h"
#include "harness/lua_core.h"
#include "harness/lua_clock.h"
#include "harness/reaper.h"
#include "base/error.h"

struct fl_lclock_s {
  fl_clock_fault_t *f;
  fl_scenario_t *sc;
  char *name;
  int fault;         /* the open "clock" fault, 0 if none */
  fl_task_t *waiter; /* the task waiting for the check */
  int closed;
};

const char *fl_lclock_preload(void) {
  return fl_clock_lib();
}

const char *const *fl_lclock_env(const fl_lclock_t *c) {
  return fl_clock_env(fl_clock_fault_clock(c->f));
}

void fl_lclock_started(fl_lclock_t *c) {
  int rc = fl_clock_fault_started(c->f);
  if (rc < 0)
    FL_LOG(FL_LOG_WARN, "clock", "%s: cannot rewrite %s: %s", c->name,
           fl_clock_file(fl_clock_fault_clock(c->f)), fl_strerror(rc));
}

static void clock_closer(void *data, void (*done)(void *), void *done_arg) {
  fl_lclock_t *c = data;
  c->closed = 1;
  fl_clock_fault_close(c->f);
  fl_free(c->name);
  fl_free(c);
  done(done_arg);
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
  fl_clock_fault_t *f = NULL;
  fl_err_t err = {0};
  int rc = fl_clock_fault_new(&f, fl_scenario_loop(sc), dir, name, &err);
  fl_free(dir);
  if (rc < 0)
    luaL_error(L, "fl.service %s: %s", name, err.msg);

  fl_lclock_t *c = fl_calloc(1, sizeof(*c));
  c->f = f;
  c->sc = sc;
  c->name = fl_strdup(name);
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

static void check_cancel(void *data) {
  fl_lclock_t *c = data;
  c->waiter = NULL;
  fl_clock_fault_verify_cancel(c->f);
}

/* The verdict as a check of the scenario, and on the clock fault's record. */
static void record(fl_lclock_t *c, const fl_clock_verdict_t *v) {
  fl_timeline_t *tl = fl_scenario_timeline(c->sc);
  json_t *fault =
      c->fault ? json_array_get(fl_timeline_faults(tl), (size_t)(c->fault - 1)) : NULL;
  json_t *attrs = json_object_get(fault, "attrs");
  if (json_is_object(attrs)) {
    json_object_set_new(attrs, "took", json_boolean(v->took));
    json_object_set_new(attrs, "observed_skew_s", json_real(v->skew));
  }
  char *name = fl_asprintf("clock of %s took", c->name);
  json_t *check = json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:[f, f], s:i}", "name", name,
                            "kind", "clock", "status", v->took ? "pass" : "error",
                            "message", v->msg, "want_skew_s", v->want_skew,
                            "observed_skew_s", v->skew, "observed_skew_range_s",
                            v->skew_lo, v->skew_hi, "measurements", v->tries);
  fl_free(name);
  json_object_set_new(check, "service", json_string(c->name));
  if (v->want_rate != 1 && v->ran) {
    json_object_set_new(check, "want_rate", json_real(v->want_rate));
    json_object_set_new(check, "observed_rate", json_real(v->rate));
    json_object_set_new(
        check, "observed_rate_range",
        json_pack("[f, f]", v->rate_lo, isfinite(v->rate_hi) ? v->rate_hi : -1.0));
    json_object_set_new(check, "measured_over_s", json_real(v->window_s));
  }
  fl_scenario_add_check(c->sc, check);
}

static void on_verdict(const fl_clock_verdict_t *v, void *arg) {
  fl_lclock_t *c = arg;
  record(c, v);
  fl_task_t *t = c->waiter;
  c->waiter = NULL;
  if (t == NULL)
    return;
  lua_State *co = fl_task_thread(t);
  lua_pushboolean(co, v->ran && v->took);
  lua_pushstring(co, v->msg);
  fl_task_resume(t, 2);
}

/* ---- changing it ------------------------------------------------------------------ */

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

/* The options at idx as a change; *check whether to verify it. Raises on
 * misuse. */
static void read_change(lua_State *L, int idx, fl_clock_change_t *ch, int *check) {
  static const char *const keys[] = {"offset", "rate",  "jump", "strobe",
                                     "every",  "check", NULL};
  memset(ch, 0, sizeof(*ch));
  *check = 1;
  if (lua_isnoneornil(L, idx))
    return;
  if (!lua_istable(L, idx))
    luaL_error(L, "svc:clock: options must be a table, e.g. {offset = 3600}");
  fl_lua_check_keys(L, idx, "svc:clock", keys);
  ch->has_offset = opt_number(L, idx, "offset", &ch->offset);
  ch->has_rate = opt_number(L, idx, "rate", &ch->rate);
  ch->has_jump = opt_number(L, idx, "jump", &ch->jump);
  if (opt_number(L, idx, "every", &ch->every) && !(ch->every > 0))
    luaL_error(L, "svc:clock: 'every' must be a positive number of seconds");
  lua_getfield(L, idx, "strobe");
  if (!lua_isnil(L, -1)) {
    if (!lua_istable(L, -1) || lua_rawlen(L, -1) != 2)
      luaL_error(L, "svc:clock: 'strobe' must be two offsets, e.g. {-60, 60}");
    for (int i = 0; i < 2; i++) {
      lua_rawgeti(L, -1, i + 1);
      if (!lua_isnumber(L, -1))
        luaL_error(L, "svc:clock: 'strobe' must be two offsets, e.g. {-60, 60}");
      ch->strobe[i] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    ch->has_strobe = 1;
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "check");
  if (!lua_isnil(L, -1))
    *check = lua_toboolean(L, -1);
  lua_pop(L, 1);
}

/* The timeline: one fault per state, the previous one ended. */
static void record_fault(fl_lclock_t *c, const char *name, const fl_clock_change_t *ch) {
  fl_timeline_t *tl = fl_scenario_timeline(c->sc);
  if (c->fault) {
    fl_timeline_fault_end(tl, c->fault);
    c->fault = 0;
  }
  fl_clock_t *clock = fl_clock_fault_clock(c->f);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
  double skew = fl_clock_skew(clock, now), r = fl_clock_rate(clock);
  if (!ch->has_strobe && fabs(skew) <= 1e-9 && r == 1)
    return;
  json_t *attrs =
      json_pack("{s:s, s:f, s:f}", "layer", "libfaketime", "offset_s", skew, "rate", r);
  if (ch->has_jump)
    json_object_set_new(attrs, "jump_s", json_real(ch->jump));
  if (ch->has_strobe) {
    json_object_set_new(attrs, "strobe_s",
                        json_pack("[f, f]", ch->strobe[0], ch->strobe[1]));
    json_object_set_new(attrs, "every_s", json_real(ch->every > 0 ? ch->every : 1));
  }
  c->fault = fl_timeline_fault_begin(tl, "clock", json_pack("[s]", name), attrs);
}

int fl_lclock_apply(lua_State *L, fl_lclock_t *c, const char *name) {
  fl_clock_change_t ch;
  int check;
  read_change(L, 2, &ch, &check);
  if (check && c->waiter != NULL)
    return luaL_error(L, "svc:clock: another task is checking %s's clock", name);
  fl_err_t err = {0};
  if (fl_clock_fault_apply(c->f, &ch, &err) < 0)
    return luaL_error(L, "svc:clock: %s", err.msg);
  record_fault(c, name, &ch);
  if (!check) {
    lua_pushboolean(L, 1);
    lua_pushstring(L, "not checked (check = false)");
    return 2;
  }
  if (fl_clock_fault_verify(c->f, on_verdict, c, &err) < 0) {
    lua_pushboolean(L, 0);
    lua_pushfstring(L, "clock of %s: the check could not run: %s", name, err.msg);
    return 2;
  }
  c->waiter = fl_task_current(L);
  return fl_task_yield(L, c->waiter, check_cancel, c);
}
