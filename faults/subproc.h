/* Child processes for the fault layers: run a command off the loop's
 * critical path, capture what it prints, and call back when it is over.
 *
 * The namespace layer drives the kernel through `ip`, `nft` and `tc`, and the
 * clock layer checks its effect with `date` under libfaketime; both go through
 * here. A script is a list of commands run one after another, stopping at the
 * first that fails (unless that step says failures do not matter, as in a
 * teardown), so a fault is set up by one call and one callback. */
#ifndef FL_SUBPROC_H
#define FL_SUBPROC_H

#include <stddef.h>
#include <uv.h>

/* What a finished command left. status: its exit code (>= 0), 128 + signal
 * when a signal ended it, or a negative libuv code when it could not be
 * started (UV_ENOENT: not installed). out and err are borrowed, NUL-ended,
 * and cut at FL_SUBPROC_CAP bytes each. */
typedef struct fl_subproc_result_s {
  int status;
  const char *out;
  size_t out_len;
  const char *err;
  size_t err_len;
  int timed_out;
} fl_subproc_result_t;

#define FL_SUBPROC_CAP (1024 * 1024)

typedef struct fl_subproc_s fl_subproc_t;
typedef void (*fl_subproc_cb)(const fl_subproc_result_t *r, void *arg);

/* Starts argv (NULL-ended; argv[0] looked up in PATH) with env (NULL =
 * faultline's own), writes input (may be NULL) to its stdin, and calls cb once
 * when it has exited and its output is read: always from the loop, never
 * before this returns. timeout_ms > 0 kills it (SIGKILL) after that long.
 * Returns 0 and, when out is not NULL, a borrowed handle valid until cb runs;
 * a spawn error is reported through cb (status < 0), not here. */
int fl_subproc_run(uv_loop_t *loop, const char *const *argv, const char *const *env,
                   const char *input, int timeout_ms, fl_subproc_cb cb, void *arg,
                   fl_subproc_t **out);
/* The child's pid (0 once it exited or if it never started). */
int fl_subproc_pid(const fl_subproc_t *p);
/* Forgets the callback (it will not run) and kills the child; the handle
 * frees itself once the child is reaped. */
void fl_subproc_cancel(fl_subproc_t *p);

/* ---- scripts ------------------------------------------------------------- */

typedef struct fl_script_s fl_script_t;

/* Flags of a step. */
enum {
  FL_STEP_IGNORE_FAIL = 1, /* a non-zero exit does not stop the script */
};

/* Returns new: an empty script. */
fl_script_t *fl_script_new(void);
/* Appends a step: argv is copied (NULL-ended), input (may be NULL) too. */
void fl_script_add(fl_script_t *s, int flags, const char *input, const char *const *argv);
/* The same, argv given as arguments ending with NULL. */
void fl_script_addl(fl_script_t *s, int flags, const char *arg0, ...)
    __attribute__((sentinel));
size_t fl_script_len(const fl_script_t *s);
/* The step at i as one line ("ip link add ..."), borrowed; NULL past the end. */
const char *fl_script_line(const fl_script_t *s, size_t i);
void fl_script_free(fl_script_t *s);

/* How a script ended. status 0: every step that matters exited 0. Otherwise
 * failed_step is the index of the step that stopped it, line its command
 * (borrowed) and result what it printed (borrowed), all valid during cb. */
typedef struct fl_script_result_s {
  int status;
  size_t failed_step;
  const char *line;
  const fl_subproc_result_t *result;
} fl_script_result_t;

typedef void (*fl_script_cb)(const fl_script_result_t *r, void *arg);

/* Runs the steps in order and calls cb once, from the loop (never before
 * this returns). Takes s: it is freed after cb returns. Each step gets
 * step_timeout_ms (0 = none). */
void fl_script_run(fl_script_t *s, uv_loop_t *loop, int step_timeout_ms, fl_script_cb cb,
                   void *arg);

/* Runs a script on a private loop until it ends: for the command line
 * (`faultline cleanup`), never on the scenario's loop. Returns the script's
 * status; when msg is not NULL and a step failed, writes a line naming the
 * command and its error there. Takes s. */
int fl_script_run_sync(fl_script_t *s, int step_timeout_ms, char *msg, size_t msg_size);

/* Is cmd an executable in PATH (or a path to one)? */
int fl_subproc_have(const char *cmd);
/* Returns new: the path cmd runs from (PATH lookup unless it holds a '/'),
 * or NULL when there is none. */
char *fl_subproc_which(const char *cmd);

#endif
