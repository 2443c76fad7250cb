/* slicer: cuts each chunk into slices of average_size +/- size_variation
 * bytes, each written on its own, `delay` microseconds apart, as Toxiproxy's
 * slicer. Slice sizes are drawn uniformly in [average - variation, average +
 * variation] (at least 1); the last slice of a chunk is what remains. */
#include "faults/toxic.h"

#include <stdint.h>

enum { A_AVERAGE, A_VARIATION, A_DELAY };

static const fl_toxic_attr_t attrs[] = {
    {"average_size", 0, INT32_MAX, "bytes"},
    {"size_variation", 0, INT32_MAX, "bytes"},
    {"delay", 0, INT32_MAX, "us"},
};

typedef struct {
  uint64_t next_at; /* ns: earliest time of the next slice */
} slicer_state_t;
_Static_assert(sizeof(slicer_state_t) <= sizeof(((fl_stage_t *)0)->state), "state");

size_t fl_slicer_size(fl_prng_t *r, int64_t average, int64_t variation,
                      size_t remaining) {
  int64_t n = average;
  if (variation > 0)
    n += fl_prng_range(r, -variation, variation);
  if (n < 1)
    n = 1;
  return (uint64_t)n < remaining ? (size_t)n : remaining;
}

static int check(const int64_t *attr, const char *toxic, fl_err_t *err) {
  if (attr[A_AVERAGE] < 1)
    return fl_err_set(err, FL_ECONFIG,
                      "toxic %s: field \"attributes.average_size\" must be >= 1", toxic);
  return 0;
}

static void run(fl_stage_t *st, uint64_t now) {
  slicer_state_t *s = (slicer_state_t *)st->state;
  uint64_t delay = (uint64_t)st->toxic->attr[A_DELAY] * 1000u;
  fl_chunk_t *c;
  while ((c = st->in.head) != NULL) {
    if (fl_stage_room(st) == 0)
      return; /* the link runs the chain again once the writer caught up */
    /* Slices of one chunk go out `delay` apart from its arrival; a timer
     * that fires late sends every slice that is due at once. */
    if (c->due == 0)
      c->due = s->next_at > c->t ? s->next_at : c->t;
    if (c->due > now) {
      st->deadline = c->due;
      return;
    }
    uint64_t due = c->due;
    size_t n = fl_slicer_size(&st->rng, st->toxic->attr[A_AVERAGE],
                              st->toxic->attr[A_VARIATION], c->len);
    c->flags |= FL_CHUNK_ALONE;
    fl_stage_emit_head(st, n, now);
    s->next_at = due + delay;
  }
  if (st->in_end)
    fl_stage_end(st, st->in_end, now);
}

const fl_toxic_kind_t fl_toxic_slicer = {
    .name = "slicer",
    .doc = "cuts each chunk into slices of average_size +/- size_variation (uniform, at "
           "least 1, the last one what remains), each written by a send of its own, "
           "`delay` apart. `average_size` must be >= 1 (Toxiproxy crashes on 0).",
    .attrs = attrs,
    .nattrs = 3,
    .check = check,
    .run = run,
};
