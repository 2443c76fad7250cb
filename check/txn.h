/* Transactional consistency: an Elle-style checker for list-append and
 * rw-register histories (Kingsbury & Alvaro, "Elle: Inferring Isolation
 * Anomalies from Experimental Observations", VLDB 2020).
 *
 * A transaction is an operation with f "txn" whose value is a list of
 * micro-operations, Jepsen's shape:
 *
 *   list-append:  ["append", k, v]   ["r", k, null | [v1, v2, ...]]
 *   rw-register:  ["w", k, v]        ["r", k, null | v]
 *
 * The invoke carries reads as null; an ok completion carries what they read
 * (its value replaces the invoke's). From appends and reads the checker
 * infers each key's version order, builds the dependency graph (ww, wr, rw
 * edges; optionally real-time and per-process order), finds its strongly
 * connected components and, per anomaly type, a shortest witness cycle:
 *
 *   G0        a cycle of write-write edges (dirty write)
 *   G1c       a cycle of ww and wr edges, at least one wr (circular information flow)
 *   G-single  a cycle with exactly one rw edge (read skew: forbidden by SI)
 *   G2-item   a cycle with rw edges (write skew: allowed by SI, not serializable)
 *   G1a       a read of a value a failed transaction wrote (aborted read)
 *   G1b       a read of a value its writer later overwrote in the same
 *             transaction (intermediate read)
 *
 * and the non-cyclic data errors every model forbids: internal (a read that
 * disagrees with the transaction's own earlier reads and writes),
 * duplicate-elements / duplicate-appends, garbage-read (a value nobody wrote),
 * incompatible-order (two reads of a key that are not prefixes of one
 * another). A cycle that needs a real-time or process edge gets the suffix
 * "-realtime" or "-process": only strict serializability forbids those.
 *
 * Pure computation (base/ and jansson), no globals: safe on any thread. */
#ifndef FL_TXN_H
#define FL_TXN_H

#include <jansson.h>

#include "base/error.h"
#include "check/history.h"
#include "check/linear.h"

typedef enum { FL_TXN_LIST_APPEND = 0, FL_TXN_RW_REGISTER } fl_txn_model_t;

/* The consistency models, weakest first. snapshot-isolation and
 * repeatable-read are incomparable (SI allows G2-item, RR allows G-single). */
typedef enum {
  FL_CM_NONE = -1,
  FL_CM_READ_UNCOMMITTED = 0,
  FL_CM_READ_COMMITTED,
  FL_CM_SNAPSHOT_ISOLATION,
  FL_CM_REPEATABLE_READ,
  FL_CM_SERIALIZABLE,
  FL_CM_STRICT_SERIALIZABLE,
  FL_CM_COUNT
} fl_txn_cm_t;

typedef struct fl_txn_opts_s {
  fl_txn_model_t model;
  fl_txn_cm_t consistency; /* what the history is checked against; FL_CM_NONE:
                              serializable */
  int realtime;            /* add real-time edges (implied by strict-serializable) */
  int process;             /* add per-process order edges */
  size_t max_witnesses;    /* per anomaly type; 0: 8 */
} fl_txn_opts_t;

/* Parses a model name ("read-committed", ...); FL_CM_NONE when unknown. */
fl_txn_cm_t fl_txn_cm_parse(const char *name);
const char *fl_txn_cm_name(fl_txn_cm_t cm);

/* Whether cm forbids the anomaly type (e.g. "G2-item"). Unknown types are
 * forbidden by every model. */
int fl_txn_cm_forbids(fl_txn_cm_t cm, const char *anomaly);

/* Checks the transactions of ops (borrowed; operations with another f are
 * an FL_EPARSE error naming their line). On success returns 0 and a new
 * object in *out:
 *
 *   {"valid": bool, "model": "list-append", "consistency": "serializable",
 *    "ops": N, "txns": ok transactions, "keys": K, "edges": {"ww": n, ...},
 *    "anomaly_types": ["G2-item", ...],      every type found
 *    "forbidden": [...], "allowed": [...],   split by the consistency model
 *    "counts": {"G2-item": n, ...},
 *    "anomalies": {"G2-item": [{"type":, "cycle": [op, ...],
 *                               "steps": [{"from":, "to":, "edge":, "key":,
 *                                          "value":, "why": "..."}],
 *                               "explanation": "..."}], ...},
 *    "not": [models violated], "satisfies": [models still satisfied],
 *    "message": "..."}
 *
 * or a negative code with err set (FL_EPARSE "file:line: ..." for a
 * malformed transaction). */
int fl_txn_check(const fl_ops_t *ops, const fl_txn_opts_t *opts, json_t **out,
                 fl_err_t *err);

/* The same on a history file (history.jsonl, or Jepsen's EDN with
 * opts->edn), streamed: each line's micro-operations go straight into the
 * checker's flat arrays (interned keys and values, one array of micro-ops,
 * no jansson tree kept per operation), and the few operations a report
 * shows are read again from their lines. model is "list-append" or
 * "rw-register"; opts (may be NULL) gives consistency, realtime, process.
 * The result is fl_txn_check's with "file" and "parse_s" (reading) added;
 * elapsed_s is the check after reading. Errors as fl_check_file's: FL_EPARSE
 * "file:line: what", FL_EUSAGE for an unknown consistency model, a negative
 * errno for an unreadable file. Thread-safe. */
int fl_txn_check_file(const char *path, const char *model, const fl_check_opts_t *opts,
                      json_t **out, fl_err_t *err);

/* The row function of check/models.c for both models (fl_checker_fn). */
int fl_checker_txn(const fl_ops_t *ops, const char *model, const fl_check_opts_t *opts,
                   json_t **out, fl_err_t *err);

#endif
