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

/* Monotonic clock in nanoseconds, for elapsed times. */
uint64_t fl_check_now_ns(void);

#endif
