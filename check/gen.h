/* A generator of random register histories, linearizable by construction:
 * concurrent processes run reads, writes and cas against simulated
 * registers; each op takes effect at a random instant inside its interval
 * (an info op at a random instant after its invoke, possibly after its
 * completion, or never). With `corrupt`, one ok read is changed so that the
 * history is surely not linearizable: to a stale value (one whose write was
 * followed by another write, both acknowledged before the read began) when
 * there is one, else to a value never written. For the property tests and
 * the benchmark; check its output with the kv model (cas-register without
 * keys). Deterministic for a given seed (drawn from base/prng.h); no global
 * state. */
#ifndef FL_GEN_H
#define FL_GEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"

typedef struct fl_gen_opts_s {
  uint64_t seed;
  size_t ops;       /* operations to invoke */
  size_t keys;      /* registers; 0: one register and no "key" field */
  size_t procs;     /* concurrent processes (at least 1) */
  double read_rate; /* fraction of reads */
  double cas_rate;  /* fraction of cas; writes are the rest */
  double info_rate; /* fraction of ops that end in info */
  int corrupt;
} fl_gen_opts_t;

/* Fills o with: seed 1, 1000 ops, 1 key, 5 procs, reads 0.5, cas 0.1,
 * info 0.02, no corruption. */
void fl_gen_opts_default(fl_gen_opts_t *o);

typedef struct fl_gen_info_s {
  size_t lines;          /* lines written */
  size_t corrupted_op;   /* index (invoke order) of the corrupted read */
  size_t corrupted_line; /* the line of its completion */
  int stale;             /* 1: a stale value, 0: a value never written */
} fl_gen_info_t;

/* Writes a history to fp. info may be NULL. Returns 0, FL_EUSAGE for bad
 * options (or corrupt with no ok read to corrupt), or -EIO. */
int fl_gen_write(FILE *fp, const fl_gen_opts_t *opts, fl_gen_info_t *info, fl_err_t *err);

#endif
