/* The checkers: pure functions from a parsed history (history.h) to a JSON
 * verdict. No globals and no event loop: the Lua engine runs them on a libuv
 * worker thread, `faultline check` runs them offline.
 *
 * Every result is a new JSON object (the caller json_decref's it) with at
 * least "valid": true | false | "unknown" and "model". */
#ifndef FL_CHECK_H
#define FL_CHECK_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"
#include "check/history.h"
#include "check/linear.h"

/* What a result's "valid" says, as `faultline check` exits. */
typedef enum {
  FL_CHECK_VALID = 0,
  FL_CHECK_INVALID = 1,
  FL_CHECK_UNKNOWN = 3
} fl_check_status_t;

/* Reads "valid" out of a checker's result (borrowed). */
fl_check_status_t fl_check_status(const json_t *result);

/* ---- The models (check/models.c: one row each) ---------------------------- */

/* A checker's entry point. ops and opts (may be NULL) are borrowed; model is
 * the row's name (several rows may share one function). On success returns
 * 0 and a new JSON object in *out with at least "valid" (true, false or
 * "unknown"), "model" and, for the CLI's verdict line, "message"; else a
 * negative code with the context in err (FL_EPARSE "file:line: ..." for an
 * op the model does not know). Thread-safe: no shared state. */
typedef int fl_checker_fn(const fl_ops_t *ops, const char *model,
                          const fl_check_opts_t *opts, json_t **out, fl_err_t *err);

/* One row of the table. Every field is a static string. */
typedef struct fl_check_model_s {
  const char *name;    /* `--model NAME`, fl.check.linearizable{model = NAME} */
  const char *lua;     /* the Lua call that runs it: fl.check.<lua>{...} */
  int lua_default;     /* 1: the model fl.check.<lua> uses without model= */
  const char *ops;     /* the history kind: the f's its histories hold */
  const char *options; /* the options fl.check.<lua> takes, space-separated */
  const char *summary; /* one line for --help and the docs */
  fl_checker_fn *fn;
} fl_check_model_t;

/* The table, borrowed and static; *n is set to its length. */
const fl_check_model_t *fl_check_models(size_t *n);

/* The row of model name (may be NULL), or NULL when there is none. */
const fl_check_model_t *fl_check_model_find(const char *name);

/* Returns 1 when name is a model fl_check_ops knows (a row of the table). */
int fl_check_model_known(const char *name);

/* Writes the models' names into buf, joined by sep and the last two by last
 * ("register, cas-register, kv, set or counter"); cut to fit. Returns buf. */
char *fl_check_model_names(char *buf, size_t size, const char *sep, const char *last);

/* Parses the history at history_path and checks it against model (a row of
 * the table) within timeout_s seconds (<= 0: no
 * limit). On success returns 0 and the checker's result in *out, with
 * "file": history_path and "parse_s" added. Returns FL_EPARSE for malformed
 * history or an op the model does not know ("file:line: what" in err),
 * FL_EUSAGE for an unknown model, a negative errno for an unreadable file.
 * Thread-safe. */
int fl_check_file(const char *history_path, const char *model, double timeout_s,
                  json_t **out, fl_err_t *err);

/* The same with every option (the transactional checkers' consistency,
 * realtime and process among them); opts is borrowed. */
int fl_check_file_opts(const char *history_path, const char *model,
                       const fl_check_opts_t *opts, json_t **out, fl_err_t *err);

/* The same on parsed ops (borrowed); opts may be NULL (no budget). */
int fl_check_ops(const fl_ops_t *ops, const char *model, const fl_check_opts_t *opts,
                 json_t **out, fl_err_t *err);

/* set: adds (f "add", value an element) and reads (f "read", ok value the
 * whole set as an array); checked per key. The final read is the last ok read
 * to complete. Result:
 *   {"valid", "model": "set", "ops", "keys", "attempts", "acknowledged",
 *    "read_count", "ok_count", "lost_count", "lost": [...], "lost_adds": [OP...],
 *    "unexpected_count", "unexpected": [...], "duplicates_count",
 *    "duplicates": [...], "indeterminate_seen_count", "indeterminate_seen": [...],
 *    "indeterminate_lost_count", "concurrent_missing_count", "final_read": OP,
 *    "message", "elapsed_s"}
 * lost: acknowledged adds that completed before the final read was invoked
 * and are absent from it; unexpected: elements read that no add attempted
 * (or only adds that failed); duplicates: elements read more than once;
 * lost_adds: the acknowledged adds of the first 100 lost elements;
 * indeterminate_seen: info adds present in the read; concurrent_missing:
 * acknowledged adds that overlapped the final read and are absent (allowed).
 * valid is false when any of lost, unexpected, duplicates is non-empty, and
 * "unknown" when no read succeeded. Lists hold at most 100 elements; with
 * several keys, the per-key objects are in "by_key" and the counts are sums. */
int fl_check_set(const fl_ops_t *ops, json_t **out, fl_err_t *err);

/* counter: f "add" (integer value) and "read" (ok value an integer); checked
 * per key, starting from 0. Each ok read must lie within [lower, upper]: the
 * sum of the adds acknowledged before it was invoked, plus the negative
 * (lower) or positive (upper) values of every add that may have taken effect
 * by its completion (acknowledged adds overlapping it, info adds invoked
 * before it completed). Result:
 *   {"valid", "model": "counter", "ops", "keys", "reads", "acknowledged",
 *    "acknowledged_sum", "indeterminate", "indeterminate_sum",
 *    "error_count", "errors": [{"op": OP, "value", "lower", "upper"}...],
 *    "final_read": {"op": OP, "value", "lower", "upper"}, "message", "elapsed_s"}
 * valid is "unknown" when no read succeeded. */
int fl_check_counter(const fl_ops_t *ops, json_t **out, fl_err_t *err);

/* recovery: after a fault heals at heal_ns, the time until a run of `run`
 * consecutive ok completions begins (completions in history order; a fail or
 * info completion breaks a run). recovery_ns is measured from heal_ns to the
 * completion of the run's first op. limit_s > 0 makes it a check. Result:
 *   {"model": "recovery", "valid": bool, "recovered": bool,
 *    "recovery_ns": int | "never", "recovery_s": number | null, "run": N,
 *    "heal_ns", "limit_s" (when > 0), "failures_after_heal": n,
 *    "first_ok": OP (when recovered)}
 * valid is recovered && (limit_s <= 0 || recovery_s <= limit_s). Returns
 * FL_EUSAGE when run is 0. */
int fl_check_recovery(const fl_ops_t *ops, uint64_t heal_ns, size_t run, double limit_s,
                      json_t **out, fl_err_t *err);

/* A phase of a run: [start_ns, end_ns); end_ns UINT64_MAX for "until the
 * end". name is borrowed. */
typedef struct fl_phase_s {
  const char *name;
  uint64_t start_ns;
  uint64_t end_ns;
} fl_phase_t;

/* availability and latency per phase. An op belongs to the phase holding its
 * invoke time; ops that never completed count as info. Latencies are of ok
 * ops (nearest-rank percentiles). Result:
 *   {"model": "phases", "ops": N, "phases": [{"name", "start_s", "end_s" (null
 *    when open), "ok", "fail", "info", "total", "availability" (ok / total,
 *    null when empty), "latency_ms": {"p50", "p99", "max"} (null when no ok),
 *    "ok_per_s" (null when the phase has no length)}]}
 * Returns FL_EUSAGE when a phase ends before it starts. */
int fl_check_phases(const fl_ops_t *ops, const fl_phase_t *phases, size_t n, json_t **out,
                    fl_err_t *err);

#endif
