/* What the service binding (harness/lua_service.c) uses of clock faults
 * (harness/lua_clock.c, over faults/clock_fault.h): fl.service{clock = true}
 * and svc:clock{...}. */
#ifndef FL_LUA_CLOCK_H
#define FL_LUA_CLOCK_H

#include <lua.h>

#include "harness/engine.h"

typedef struct fl_lclock_s fl_lclock_t;

/* The clock of service name, for fl.service{clock = true}: a control file
 * under the run directory and a closer that frees it with the scenario
 * (borrowed by the caller until then). argv0 is the command (looked up in
 * PATH, or relative to cwd, which may be NULL). Raises a Lua error when a
 * clock cannot be had: libfaketime is not installed, or the program is one
 * it cannot reach (statically linked, Go). */
fl_lclock_t *fl_lclock_new(lua_State *L, fl_scenario_t *sc, const char *name,
                           const char *argv0, const char *cwd);
/* Entries to add to the service's environment, borrowed, NULL-ended. */
const char *const *fl_lclock_env(const fl_lclock_t *c);
/* The library the shim preloads, borrowed. */
const char *fl_lclock_preload(void);
/* The service is about to start a new process: the skew is kept, counted
 * from it. */
void fl_lclock_started(fl_lclock_t *c);
/* svc:clock{...} with the options at index 2: changes the clock, records the
 * fault, checks that it took and returns true, message or false, message
 * (the Lua side raises). Waits (yields) while it checks. */
int fl_lclock_apply(lua_State *L, fl_lclock_t *c, const char *name);

#endif
