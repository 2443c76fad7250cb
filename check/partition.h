/* Splitting a history by key (P-compositionality): the checkers of a map of
 * registers, sets or counters check each key on its own. Internal to
 * check/. */
#ifndef FL_PARTITION_H
#define FL_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "check/history.h"

typedef struct fl_partition_s {
  size_t np;     /* ops->nkeys + 1: partition nkeys holds the ops without key */
  size_t *start; /* partition p is idx[start[p] .. start[p + 1]) */
  uint32_t *idx; /* op indexes, in invoke order within each partition */
} fl_partition_t;

void fl_partition_by_key(const fl_ops_t *ops, fl_partition_t *out);
void fl_partition_free(fl_partition_t *p);

/* Number of non-empty partitions. */
size_t fl_partition_count(const fl_partition_t *p);

/* The key of partition p as a new JSON value (null for the keyless one). */
json_t *fl_partition_key_json(const fl_ops_t *ops, size_t p);

/* A checker that checks each key on its own and sums per-key totals (the
 * set and counter checkers), for fl_check_per_key. */
typedef struct {
  const char *model;  /* the report's "model" */
  size_t totals_size; /* the size of the model's totals struct */
  /* Checks one key's ops (idx[0..n)): its report object into *out, its
   * totals into t (zeroed before); 0 or a negative code with err set. */
  int (*check_key)(const fl_ops_t *ops, const uint32_t *idx, size_t n, json_t **out,
                   void *t, fl_err_t *err);
  /* Adds t into sum; returns whether that key was read successfully. */
  int (*add)(void *sum, const void *t);
  /* The report of zero or several keys from the sums (all_read: there were
   * keys and every one was read). */
  json_t *(*summary)(void *sum, int all_read, size_t nkeys);
} fl_per_key_t;

/* Runs m on each key of ops. One key: that key's object; otherwise the
 * summary, with "by_key" (each key's object) when there are several. Then
 * "model", "ops", "keys" and "elapsed_s". */
int fl_check_per_key(const fl_ops_t *ops, const fl_per_key_t *m, json_t **out,
                     fl_err_t *err);

/* Monotonic clock in nanoseconds, for elapsed times. */
uint64_t fl_check_now_ns(void);

#endif
