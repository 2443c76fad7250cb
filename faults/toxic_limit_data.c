/* limit_data: passes at most `bytes` bytes in its direction, then closes the
 * connection, as Toxiproxy's limit_data: the close happens when data arrives
 * that would go past the limit (at once when the limit is reached exactly). */
#include "faults/toxic.h"

#include <stdint.h>

enum { A_BYTES };

static const fl_toxic_attr_t attrs[] = {
    {"bytes", 0, INT64_MAX, ""},
};

typedef struct {
  uint64_t passed; /* bytes passed so far on this connection */
} limit_state_t;
_Static_assert(sizeof(limit_state_t) <= sizeof(((fl_stage_t *)0)->state), "state");

static void run(fl_stage_t *st, uint64_t now) {
  limit_state_t *s = (limit_state_t *)st->state;
  uint64_t limit = (uint64_t)st->toxic->attr[A_BYTES];
  fl_chunk_t *c;
  while ((c = st->in.head) != NULL) {
    if (s->passed >= limit) {
      fl_stage_drop_all(st);
      fl_stage_end(st, FL_END_CLOSE, now);
      return;
    }
    uint64_t left = limit - s->passed;
    size_t n = c->len < left ? c->len : (size_t)left;
    s->passed += n;
    fl_stage_emit_head(st, n, now);
    if (s->passed >= limit) {
      fl_stage_drop_all(st);
      fl_stage_end(st, FL_END_CLOSE, now);
      return;
    }
  }
  if (st->in_end)
    fl_stage_end(st, st->in_end, now);
}

const fl_toxic_kind_t fl_toxic_limit_data = {
    .name = "limit_data",
    .doc = "passes at most `bytes` in its direction, then closes the connection once "
           "what passed is written.",
    .attrs = attrs,
    .nattrs = 1,
    .run = run,
};
