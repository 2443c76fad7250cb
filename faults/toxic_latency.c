/* latency: delays each chunk by latency +/- jitter ms from the moment it
 * reached the toxic, as Toxiproxy's latency toxic does. Bytes keep their
 * order: a chunk whose draw would overtake the chunk before it waits for it.
 * The end of the stream follows the last chunk at once. */
#include "faults/toxic.h"

#include <stdint.h>

enum { A_LATENCY, A_JITTER };

static const fl_toxic_attr_t attrs[] = {
    {"latency", 0, INT32_MAX, "ms"},
    {"jitter", 0, INT32_MAX, "ms"},
};

typedef struct {
  uint64_t last_due; /* release time of the chunk passed last */
} latency_state_t;
_Static_assert(sizeof(latency_state_t) <= sizeof(((fl_stage_t *)0)->state), "state");

uint64_t fl_latency_delay(fl_prng_t *r, int64_t latency_ms, int64_t jitter_ms) {
  int64_t d = latency_ms;
  if (jitter_ms > 0)
    d += fl_prng_range(r, -jitter_ms, jitter_ms);
  if (d < 0)
    d = 0;
  return (uint64_t)d * 1000000u;
}

static void run(fl_stage_t *st, uint64_t now) {
  latency_state_t *s = (latency_state_t *)st->state;
  fl_chunk_t *c;
  while ((c = st->in.head) != NULL) {
    /* The delay is drawn when the chunk reaches the head, so draws happen in
     * byte order and the ordering rule is a simple max. */
    if (c->due == 0) {
      uint64_t due = c->t + fl_latency_delay(&st->rng, st->toxic->attr[A_LATENCY],
                                             st->toxic->attr[A_JITTER]);
      if (due < s->last_due)
        due = s->last_due;
      c->due = due ? due : 1;
    }
    if (c->due > now) {
      st->deadline = c->due;
      return;
    }
    s->last_due = c->due;
    fl_stage_emit_head(st, c->len, now);
  }
  if (st->in_end)
    fl_stage_end(st, st->in_end, now);
}

/* New values apply to what is held too: each held chunk is delayed again
 * from its arrival with the new latency. */
static void update(fl_stage_t *st, uint64_t now) {
  (void)now;
  for (fl_chunk_t *c = st->in.head; c != NULL; c = c->next)
    c->due = 0;
}

const fl_toxic_kind_t fl_toxic_latency = {
    .name = "latency",
    .doc = "each chunk waits latency +/- jitter (uniform) from when it reached the "
           "toxic; never before the chunk ahead of it, so order holds. The end of the "
           "stream follows the last chunk.",
    .attrs = attrs,
    .nattrs = 2,
    .update = update,
    .run = run,
};
