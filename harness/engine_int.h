/* Internals shared by the engine's own files, and by them only: engine.c
 * (tasks, scenarios), runner.c (a scenario file from start to exit code),
 * run.c (reports), recorder.c (the history) and lua_core.c (the core
 * module: tasks, timers, the timeline). Bindings use harness/engine.h and
 * harness/lua_core.h; a binding that needs more asks for a call there.
 * tests/integration/layering.sh keeps this list true. */
#ifndef FL_ENGINE_INT_H
#define FL_ENGINE_INT_H

#include <lauxlib.h>
#include <lua.h>

#include "base/prng.h"
#include "harness/engine.h"
#include "base/timeline.h"

struct fl_task_s {
  fl_engine_t *eng;
  fl_scenario_t *sc;
  lua_State *co;
  int ref; /* registry reference anchoring the thread */
  int id;
  int done;
  int waiting; /* suspended in fl_task_yield */
  fl_wait_cancel_fn cancel;
  void *cancel_data;
  uint64_t resumed_at; /* uv_hrtime at the last resume, for the busy-loop hook */
  uv_timer_t timer;    /* fl.sleep and deferred wake-ups */
  int wake_nargs;
  int results_ref;    /* table of results once done */
  char *error;        /* set when the task failed */
  int fail_not_error; /* the error was a failed expectation */
  fl_task_t *joiner;  /* a task waiting in :wait() */
  int canceled;       /* ended by task:cancel() */
  fl_task_t *next;    /* the scenario's tasks */
};

typedef struct closer_s {
  fl_closer_fn fn;
  void *data;
  struct closer_s *next;
} closer_t;

typedef struct describer_s {
  fl_describe_fn fn;
  void *data;
  struct describer_s *next;
} describer_t;

struct fl_scenario_s {
  fl_engine_t *eng;
  lua_State *L;
  char *name;
  char *slug;
  char *dir;
  char *run_id;
  uint64_t seed;
  double timeout_s;
  char started_at[32];
  fl_timeline_t *tl;
  void *history; /* fl_history_t */
  json_t *checks;
  json_t *stats_ops;    /* {"ok":n,...} */
  uint64_t ops_invoked; /* client operations invoked so far */
  double *latencies;    /* ms of completed ops, for percentiles */
  size_t nlat, caplat;
  fl_task_t *main;
  fl_task_t *tasks;
  int ntasks;
  int finished;
  char *error; /* status error */
  int failed;  /* a check or an expectation failed */
  int unknown; /* a checker gave up */
  closer_t *closers;
  describer_t *services;
  uv_timer_t limit;
  uv_timer_t status;   /* the live status line, on a terminal */
  uv_timer_t flush;    /* history.jsonl to disk */
  json_int_t last_ops; /* completions at the last status tick */
  const char *phase;
  fl_prng_t rng; /* fl.random */
  int next_process;
  json_t *metrics; /* fl.metric's series, [{name, unit, points}], or NULL */
  const struct fl_hosts_s *hosts; /* connected remote hosts, or NULL */
  struct fl_agents_s *agents;     /* their agents (harness/remote_agent.h) */
  json_t *hosts_report;           /* report.json's hosts[], or NULL */
};

struct fl_engine_s {
  uv_loop_t loop;
  fl_http_t *http;
  const fl_engine_opts_t *opts;
  fl_scenario_t *sc; /* the running scenario */
  uv_signal_t sigint, sigterm;
  int interrupted;
  int last_sig;
};

/* lua_core.c */
int fl_luaopen_core(lua_State *L);
void fl_lua_install_searcher(lua_State *L);
/* engine.c */
/* A scenario the file declared with fl.scenario: its place in the
 * declaration table, its name (owned) and its own time limit (0 = none). */
typedef struct fl_decl_s {
  int index;
  char *name;
  double timeout_s;
} fl_decl_t;
/* A new Lua state for e (which may be a zeroed engine when only listing)
 * with faultline's modules and fl.scenario ready. Close with lua_close. */
lua_State *fl_engine_new_state(fl_engine_t *e);
/* Loads and runs the file's main chunk in L. Returns NULL, or a new
 * message (file:line: what) when it failed. */
char *fl_engine_load_file(lua_State *L, const char *file);
/* The scenarios declared in L so far, in order: returns their number and a
 * new array in *out (free with fl_engine_decls_free). */
int fl_engine_declared(lua_State *L, fl_decl_t **out);
void fl_engine_decls_free(fl_decl_t *decls, int n);
/* Runs one declared scenario to its end (or, when load_error is not NULL,
 * records that error as its outcome) in its run directory, and writes its
 * report. nscen is how many scenarios this run has (one: --out is the run
 * directory itself). Returns the exit code and the report (new, or NULL
 * when nothing could be written) in *out_report. */
int fl_engine_run_scenario(fl_engine_t *e, const fl_decl_t *d, int nscen,
                           const char *load_error, json_t **out_report);
fl_task_t *fl_task_spawn(fl_scenario_t *sc, lua_State *L, int fn_index, int nargs);
void fl_scenario_finish(fl_scenario_t *sc, const char *error, int fail_not_error);
/* Resumes t from the loop's next iteration with nargs values already pushed
 * on its thread. */
void fl_task_wake_later(fl_task_t *t, int nargs);
int fl_task_join(lua_State *L, fl_task_t *target);
/* Ends t where it waits (task:cancel()): its wait is undone, a task waiting
 * for it gets no results. Returns 1, or 0 when t had already ended; raises
 * when t is the calling task. */
int fl_task_cancel(lua_State *L, fl_task_t *t);
/* run.c */
/* Writes report.json and its renderings for a finished scenario; returns its
 * exit code and the report (new) in *out. */
int fl_run_write_report(fl_scenario_t *sc, const char *file, json_t **out);
/* Returns 0 or the write's failure (printed). */
int fl_run_write_junit(json_t *reports, const char *path);
/* Writes a report.json with status "error" at the start of a scenario. */
void fl_run_write_placeholder(fl_scenario_t *sc, const char *file);

#endif
