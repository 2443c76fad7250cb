/* The scenario engine: Lua 5.4 on the libuv loop.
 *
 * A scenario file declares scenarios with fl.scenario(name, fn). Each runs as
 * a coroutine (a task); tasks wait (sleep, a readiness probe, an HTTP
 * request) by yielding, and one scheduler resumes them from libuv callbacks.
 * When the scenario's task ends, with success, a Lua error, a failed
 * expectation or its time limit, every other task is canceled, services are
 * stopped, and its report is written. The next scenario still runs. */
#ifndef FL_ENGINE_H
#define FL_ENGINE_H

#include <jansson.h>
#include <lua.h>
#include <stdint.h>
#include <uv.h>

#include "base/error.h"
#include "base/timeline.h"
#include "harness/http.h"

typedef struct fl_engine_s fl_engine_t;
typedef struct fl_task_s fl_task_t;
typedef struct fl_scenario_s fl_scenario_t;

typedef struct fl_engine_opts_s {
  const char *file;    /* the scenario file */
  const char *only;    /* run only the scenario with this name (may be NULL) */
  const char *out_dir; /* may be NULL: runs/<scenario>-<time> */
  const char *junit;   /* may be NULL */
  uint64_t seed;
  int seed_given;
  double timeout_s; /* per-scenario limit unless the scenario sets one; 0 = 600 */
  int quiet;
  const struct fl_hosts_s *hosts; /* --hosts: NULL for none (harness/hosts.h) */
  const char *replay; /* --replay: a report.json or schedule file (may be NULL) */
} fl_engine_opts_t;

/* ---- the runner (runner.c) --------------------------------------------- */

/* Runs every scenario of the file (opts->file must be a readable file, not
 * a folder: the caller checks); returns the exit code (0 pass, 1 a check
 * failed, 2 error, 3 a checker gave up). Messages go to the log, progress
 * to stdout. */
int fl_engine_run_file(const fl_engine_opts_t *opts);

/* The scenario names a file declares, in order, without running any: 0 and
 * a new NULL-terminated array in *out (free with fl_strv_free), or
 * FL_ESCENARIO with the reason (the file's Lua error, or that it declares
 * none) in err. */
int fl_engine_list(const char *file, char ***out, fl_err_t *err);

/* The exit code of two outcomes together: 2 (error) over 1 (a check
 * failed) over 3 (a checker gave up) over 0. A code outside 0..3 counts as
 * 2, so the result is always one of the four. */
int fl_exit_worst(int a, int b);

/* ---- for the Lua bindings ---------------------------------------------- */

/* A wait in progress: how to cancel it when its task is canceled. */
typedef void (*fl_wait_cancel_fn)(void *data);

/* The engine and the scenario a Lua state belongs to (never NULL inside a
 * binding). */
fl_engine_t *fl_engine_from_lua(lua_State *L);
/* Raises a Lua error unless the scenario is running. Borrowed. */
fl_scenario_t *fl_engine_scenario(lua_State *L);
uv_loop_t *fl_engine_loop(fl_engine_t *e);
/* The options the engine runs with (NULL for an engine that only lists). */
const fl_engine_opts_t *fl_engine_opts(fl_engine_t *e);
fl_http_t *fl_engine_http(fl_engine_t *e);
fl_timeline_t *fl_scenario_timeline(fl_scenario_t *sc);
const char *fl_scenario_dir(fl_scenario_t *sc);
const char *fl_scenario_run_id(fl_scenario_t *sc);
uint64_t fl_scenario_seed(fl_scenario_t *sc);
/* The remote hosts the scenario runs with, connected (--hosts FILE, else the
 * file's fl.hosts{...}), or NULL when it has none. Borrowed. */
const struct fl_hosts_s *fl_scenario_hosts(fl_scenario_t *sc);
/* Their agents (harness/remote_agent.h), or NULL. Borrowed. */
struct fl_agents_s *fl_scenario_agents(fl_scenario_t *sc);
/* --replay's schedule file (a report.json or a schedule), or NULL. Borrowed. */
const char *fl_scenario_replay(fl_scenario_t *sc);
/* The loop and the HTTP client every object of the scenario lives on. */
uv_loop_t *fl_scenario_loop(fl_scenario_t *sc);
fl_http_t *fl_scenario_http(fl_scenario_t *sc);

/* The recorder (harness/recorder.c): every client operation, stamped on the
 * run's clock, into history.jsonl and the run's op counts and latencies.
 * value and error are borrowed and may be NULL. Each returns the time it
 * stamped (ns since the run began). A failed write is not returned here: it
 * is remembered, and the next fl_scenario_check_disk ends the run. */
uint64_t fl_scenario_record_invoke(fl_scenario_t *sc, int process, const char *f,
                                   const char *key, const json_t *value);
/* type is "ok", "fail" or "info"; invoked_ns is the invoke's stamp (or
 * (uint64_t)-1 when unknown), for the latency of an ok. */
uint64_t fl_scenario_record_complete(fl_scenario_t *sc, int process, const char *type,
                                     const char *f, const char *key, const json_t *value,
                                     const char *error, uint64_t invoked_ns);
/* A new process number for a client (Jepsen's: a client whose operation
 * ended in info becomes a new process). */
int fl_scenario_next_process(fl_scenario_t *sc);
/* Flushes history.jsonl and asks whether every file of the run (history,
 * timeline, service logs) got all it was given. On the first failure (a full
 * disk) it ends the scenario as an error naming the file and the cause, and
 * returns the negative code; 0 otherwise. */
int fl_scenario_check_disk(fl_scenario_t *sc);
/* The scenario's error message so far, or NULL. Borrowed. */
const char *fl_scenario_error(fl_scenario_t *sc);

/* The task running on L; raises a Lua error when L is not a faultline task
 * (the main chunk, or a coroutine of the scenario's own). */
fl_task_t *fl_task_current(lua_State *L);
/* Suspends the calling task until fl_task_resume. cancel (may be NULL) is
 * called instead if the task is canceled first. Use as
 * `return fl_task_yield(L, t, cancel, data);` */
int fl_task_yield(lua_State *L, fl_task_t *t, fl_wait_cancel_fn cancel, void *data);
/* The thread values for the resume must be pushed on fl_task_thread(t). */
lua_State *fl_task_thread(fl_task_t *t);
/* Resumes a waiting task with nargs values pushed on its thread. Runs it to
 * its next wait. Safe to call from any libuv callback. */
void fl_task_resume(fl_task_t *t, int nargs);

/* Records a check result (stolen) on the scenario: timeline + report. */
void fl_scenario_add_check(fl_scenario_t *sc, json_t *check);
/* Registers a closer run when the scenario ends (services, proxies ...).
 * The closer calls done(done_arg) once it has finished, possibly later. */
typedef void (*fl_closer_fn)(void *data, void (*done)(void *), void *done_arg);
void fl_scenario_on_close(fl_scenario_t *sc, fl_closer_fn fn, void *data);
/* Adds a service's report entry builder. */
typedef json_t *(*fl_describe_fn)(void *data);
void fl_scenario_add_service(fl_scenario_t *sc, fl_describe_fn fn, void *data);

#endif
