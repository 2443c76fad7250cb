/* Internal to check/: what linear.c (the driver: keys, prefixes,
 * reports) and linear_search.c (the search on one key) share. */
#ifndef FL_LINEAR_INT_H
#define FL_LINEAR_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "check/history.h"
#include "check/intern.h"
#include "check/linear.h"
#include "check/stale.h"

/* How a run ended: decided, or out of time, memory, cancelled, or past the
 * configurations it was given (max_configs). */
enum { R_VALID = 0, R_INVALID, R_TIME, R_MEM, R_CANCEL, R_LIMIT };

#define MAX_STATES 8
#define NONE UINT32_MAX

typedef struct {
  const fl_ops_t *ops;
  fl_linear_model_t model;
  fl_intern_t values;
  const json_t **vjson; /* value id -> a JSON value with that text (borrowed) */
  size_t nvjson, capv;
  uint32_t *va, *vb;     /* per op: value ids (see lop_t) */
  uint32_t *stamp;       /* per value id: partition + 1 when observed */
  uint32_t *need, *prod; /* per value id, zero between keys (see search_t) */
  uint32_t run;          /* stamp of the current run */
  uint64_t max_configs;  /* for the next runs, 0: no limit */
  uint32_t null_id;
  uint64_t deadline_ns;
  const atomic_int *cancel;
  size_t max_memory;
  /* Totals. */
  uint64_t configs;
  size_t checked, dropped;
} ctx_t;

typedef struct {
  int status;
  int exact;       /* stuck_pos ends the shortest non-linearizable prefix */
  int has_stale;   /* stale explains stuck_op */
  uint32_t end_op; /* the op whose completion ends the prefix */
  fl_stale_t stale;
  uint32_t stuck_op; /* index in ops->v */
  uint32_t stuck_pos;
  uint32_t lin;
  uint32_t states[MAX_STATES];
  uint32_t nstates;
  int more_states;
} keyres_t;

/* Runs the search on one key's ops (idx[0..n), indexes into ops->v in
 * invoke order), keeping only the history before position cut (UINT32_MAX:
 * all of it). free_op (an op index, or NONE) does not count among the ops
 * that need a value, so that a run can get as far as that op's return.
 * count: add to c->checked and c->dropped. kr is filled: status, and for
 * R_INVALID (or R_LIMIT, when it got somewhere) the furthest return the
 * search could not pass, with the states seen there. */
void fl_linear_run(ctx_t *c, const uint32_t *idx, size_t n, uint32_t cut,
                   uint32_t free_op, int count, keyres_t *kr);

#endif
