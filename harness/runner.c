/* The runner: `faultline run`'s back end. Discovers a file's scenarios,
 * runs them one after another on one loop with SIGINT/SIGTERM handling,
 * writes the JUnit file, and folds the scenarios' outcomes into one exit
 * code. The machinery it drives (tasks, a scenario's life) is engine.c. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "harness/engine.h"
#include "harness/engine_int.h"
#include "harness/progress.h"
#include "harness/reaper.h"

int fl_exit_worst(int a, int b) {
  /* 2 (error) > 1 (a check failed) > 3 (a checker gave up) > 0. Anything
   * else (a child killed by a signal, 127 from a failed exec, a negative
   * code) is an error: the result is always one of the four. */
  static const int rank[] = {0, 2, 3, 1};
  if (a < 0 || a > 3)
    a = 2;
  if (b < 0 || b > 3)
    b = 2;
  return rank[a] >= rank[b] ? a : b;
}

static const char *signame(int signum) {
  return signum == SIGINT ? "SIGINT" : "SIGTERM";
}

static void on_signal(uv_signal_t *h, int signum) {
  fl_engine_t *e = h->data;
  fl_progress_status_clear();
  if (e->interrupted) {
    /* A second Ctrl-C: leave now; the reaper stops every service. */
    FL_LOG(FL_LOG_ERROR, "run", "interrupted again, leaving at once");
    _exit(2);
  }
  e->interrupted = 1;
  e->last_sig = signum;
  FL_LOG(FL_LOG_WARN, "run",
         "%s: stopping the scenario and its services (again to leave at once)",
         signame(signum));
  if (e->sc != NULL) {
    char *msg = fl_asprintf("interrupted by %s", signame(signum));
    fl_scenario_finish(e->sc, msg, 0);
    fl_free(msg);
  }
}

int fl_engine_list(const char *file, char ***out, fl_err_t *err) {
  fl_engine_t e = {0};
  lua_State *L = fl_engine_new_state(&e);
  char *lerr = fl_engine_load_file(L, file);
  if (lerr != NULL) {
    fl_err_set(err, FL_ESCENARIO, "%s", lerr);
    fl_free(lerr);
    lua_close(L);
    return FL_ESCENARIO;
  }
  fl_decl_t *decls;
  int n = fl_engine_declared(L, &decls);
  lua_close(L);
  if (n == 0) {
    fl_engine_decls_free(decls, n);
    return fl_err_set(err, FL_ESCENARIO, "%s declares no scenario", file);
  }
  char **names = fl_calloc((size_t)n + 1, sizeof(char *));
  for (int i = 0; i < n; i++) {
    names[i] = decls[i].name; /* moved */
    decls[i].name = NULL;
  }
  fl_engine_decls_free(decls, n);
  *out = names;
  return 0;
}

/* The engine with its loop, HTTP client and signal handlers. New; close
 * with engine_close. */
static fl_engine_t *engine_open(const fl_engine_opts_t *o) {
  int rc = fl_reaper_start();
  if (rc < 0)
    FL_LOG(FL_LOG_WARN, "run", "cannot start the reaper: %s", fl_strerror(rc));
  signal(SIGPIPE, SIG_IGN);
  fl_engine_t *e = fl_calloc(1, sizeof(*e));
  e->opts = o;
  uv_loop_init(&e->loop);
  fl_http_new(&e->http, &e->loop);
  uv_signal_init(&e->loop, &e->sigint);
  uv_signal_init(&e->loop, &e->sigterm);
  e->sigint.data = e->sigterm.data = e;
  uv_signal_start(&e->sigint, on_signal, SIGINT);
  uv_signal_start(&e->sigterm, on_signal, SIGTERM);
  return e;
}

/* Closes every handle of e and frees it; returns whether it was
 * interrupted. */
static int engine_close(fl_engine_t *e) {
  uv_close((uv_handle_t *)&e->sigint, NULL);
  uv_close((uv_handle_t *)&e->sigterm, NULL);
  fl_http_free(e->http);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&e->loop) != 0)
    FL_LOG(FL_LOG_WARN, "run", "handles left open at exit");
  int interrupted = e->interrupted;
  fl_free(e);
  return interrupted;
}

/* The scenarios to run: those the file declares (only the one named by
 * --only, if given). A file that does not load is one scenario named after
 * the file, whose outcome is the load error (new, in *load_error), so it
 * still gets a report. Returns the number (> 0), or 0 when there is nothing
 * to run (the reason logged). */
static int discover(fl_engine_t *e, fl_decl_t **out, char **load_error) {
  const fl_engine_opts_t *o = e->opts;
  lua_State *L = fl_engine_new_state(e);
  *load_error = fl_engine_load_file(L, o->file);
  fl_decl_t *decls = NULL;
  int total = 0, n = 0;
  if (*load_error == NULL) {
    total = fl_engine_declared(L, &decls);
    for (int i = 0; i < total; i++) {
      if (o->only != NULL && strcmp(o->only, decls[i].name) != 0) {
        fl_free(decls[i].name);
        continue;
      }
      decls[n++] = decls[i];
    }
  }
  lua_close(L);
  if (*load_error != NULL) {
    FL_LOG(FL_LOG_ERROR, "run", "%s", *load_error);
    const char *base = strrchr(o->file, '/');
    decls = fl_calloc(1, sizeof(*decls));
    decls[0].name = fl_strdup(base ? base + 1 : o->file);
    n = 1;
  } else if (total == 0) {
    FL_LOG(FL_LOG_ERROR, "run", "%s declares no scenario (use fl.scenario(name, fn))",
           o->file);
  } else if (n == 0) {
    FL_LOG(FL_LOG_ERROR, "run", "%s has no scenario named \"%s\"", o->file, o->only);
  }
  *out = decls;
  return n;
}

int fl_engine_run_file(const fl_engine_opts_t *o) {
  fl_engine_t *e = engine_open(o);
  fl_decl_t *decls;
  char *load_error;
  int n = discover(e, &decls, &load_error);
  int code = n == 0 ? 2 : 0;
  json_t *reports = json_array();
  for (int i = 0; i < n; i++) {
    json_t *report = NULL;
    int c =
        e->interrupted ? 2 : fl_engine_run_scenario(e, &decls[i], n, load_error, &report);
    code = fl_exit_worst(code, c);
    if (report != NULL)
      json_array_append_new(reports, report);
  }
  fl_engine_decls_free(decls, n);
  fl_free(load_error);
  if (o->junit != NULL && n > 0)
    if (fl_run_write_junit(reports, o->junit) < 0)
      code = 2;
  json_decref(reports);
  return engine_close(e) ? 2 : code;
}
