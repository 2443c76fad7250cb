/* Stale reads found without a search: an acknowledged read (or cas) that
 * needs a value no write can still have left in the register when it runs.
 * Internal to check/ (linear.c). */
#ifndef FL_STALE_H
#define FL_STALE_H

#include <stddef.h>
#include <stdint.h>

#include "check/history.h"

#define FL_STALE_NONE UINT32_MAX

typedef struct fl_stale_s {
  uint32_t needer;     /* the read or cas (index in ops->v) */
  uint32_t producer;   /* the latest write of the value it needs, or NONE */
  uint32_t overwriter; /* an acknowledged write of another value that began
                          after every such write completed and completed
                          before the needer began; NONE: nothing overwrote
                          (then no write of the value began in time) */
} fl_stale_t;

/* Looks at one key's ops (idx[0..n), indexes into ops->v, in invoke order).
 * va and vb are per-op value ids as linear.c interns them (a read: the value
 * read; a write: the value; a cas: old and new); null_id is the id of null,
 * the register's first value. Returns 1 and the needer that completes first
 * in *out when some needer is doomed, else 0. Each finding is certain: every
 * value the needer could see was overwritten, by an operation that surely
 * took effect, before it began. O(n log n). */
int fl_stale_find(const fl_ops_t *ops, const uint32_t *idx, size_t n, const uint32_t *va,
                  const uint32_t *vb, uint32_t null_id, fl_stale_t *out);

#endif
