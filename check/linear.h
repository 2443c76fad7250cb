/* Linearizability of registers: Wing & Gong's search with Lowe's just-in-time
 * linearization and memoisation of (linearized set, model state), the
 * algorithm Porcupine uses, over C bitsets.
 *
 * Models: "register" (read, write), "cas-register" (read, write, cas with
 * value [old, new]) and "kv" (independent cas-registers, one per key). Every
 * model is checked per key (P-compositionality): a history whose ops carry
 * keys is a map of registers under any of the three names, and ops without a
 * key form one more register. A register starts as null; values compare by
 * JSON equality.
 *
 * Outcomes: fail ops are removed; an info op (or one that never completed)
 * may take effect at any point after its invoke or not at all, so the search
 * may linearize it anywhere after its invoke or drop it. Info reads are
 * dropped outright, and so are info writes and cas whose written value no
 * read and no cas ever observes (dropping them cannot change a verdict). */
#ifndef FL_LINEAR_H
#define FL_LINEAR_H

#include <jansson.h>
#include <stdatomic.h>

#include "base/error.h"
#include "check/history.h"

typedef enum {
  FL_MODEL_REGISTER = 0,
  FL_MODEL_CAS_REGISTER,
  FL_MODEL_KV
} fl_linear_model_t;

/* Budget of a check. A zeroed struct means: no time limit, the default memory
 * limit, no cancellation. */
typedef struct fl_check_opts_s {
  double timeout_s;         /* <= 0: no time limit */
  size_t max_memory;        /* bytes for the search's memo tables; 0: 1 GiB */
  const atomic_int *cancel; /* may be NULL; nonzero stops the search (unknown) */
  /* The transactional checkers (txn.h): */
  const char *consistency; /* the model checked against; NULL: serializable */
  int realtime;            /* add real-time order edges */
  int process;             /* add per-process order edges */
  int edn;                 /* fl_check_file_opts: the file is Jepsen's EDN */
} fl_check_opts_t;

/* Checks ops (borrowed) against model. opts may be NULL. On success returns 0
 * and a new JSON object in *out:
 *
 *   {"valid": true | false | "unknown", "model": "kv", "ops": N, "keys": K,
 *    "checked_ops": n, "dropped_info": d, "configurations": c, "elapsed_s": s,
 *    when false:   "invalid_keys": [...], "anomaly": {...}    (see below)
 *    when unknown: "reason": "...", "unknown_keys": [...]}
 *
 * checked_ops counts the ops the search considered, dropped_info the info
 * ops it could drop, configurations the (linearized set, state) pairs it
 * explored, over all keys.
 *
 * anomaly (for the key whose shortest non-linearizable prefix ends first):
 *   {"key": "x" | null, "op": OP, "message": "...",
 *    "possible_values": [...], "possible_values_complete": bool,
 *    "written_by": OP, "overwritten_by": OP,         (stale reads only)
 *    "concurrent": [OP...], "concurrent_omitted": n, "before": [OP...],
 *    "linearized_prefix": n, "prefix_end_line": L, "prefix_exact": bool,
 *    "ended_by": OP}                 (when a failed write ends the prefix)
 * where OP is fl_op_to_json's object. The key's history up to line
 * prefix_end_line cannot be linearized and without that line it can (when
 * prefix_exact; else the budget ran out first and it is an upper bound). op
 * is the operation no linearization of what precedes admits (a read or a
 * cas); possible_values what the register could hold when op had to take
 * effect (a sample when possible_values_complete is false); concurrent the
 * operations overlapping op (at most 32); before the last writes that
 * completed before op began; linearized_prefix the length of the longest
 * partial linearization found there. A stale read names the write it read
 * (written_by) and the acknowledged write that overwrote it before the read
 * began (overwritten_by).
 *
 * "unknown" is never a guess: the budget ran out (or cancel was set) before
 * every key was decided and none was found invalid. Returns FL_EPARSE with
 * "file:line: ..." in err when an op does not fit the model (an f it does not
 * know, a cas value that is not [old, new]). Thread-safe: no shared state. */
int fl_check_linear(const fl_ops_t *ops, fl_linear_model_t model,
                    const fl_check_opts_t *opts, json_t **out, fl_err_t *err);

/* Parses "register", "cas-register" or "kv"; returns 0 or FL_EUSAGE. */
int fl_linear_model_parse(const char *name, fl_linear_model_t *out);
const char *fl_linear_model_name(fl_linear_model_t model);

#endif
