/* bandwidth: passes at most `rate` KB/s (1 KB = 1000 bytes), as Toxiproxy's
 * bandwidth toxic. Bytes are paced in pieces of at most 20 ms worth; each
 * piece is released when it would have finished crossing a link of that
 * rate, so a burst after an idle period gets no credit. rate 0 = unlimited. */
#include "faults/toxic.h"

#include <stdint.h>

enum { A_RATE };

static const fl_toxic_attr_t attrs[] = {
    {"rate", 0, INT32_MAX, "KB/s (1 KB = 1000 bytes)"},
};

typedef struct {
  uint64_t next_free; /* ns: when the simulated link finishes what it sent */
} bandwidth_state_t;
_Static_assert(sizeof(bandwidth_state_t) <= sizeof(((fl_stage_t *)0)->state), "state");

size_t fl_bandwidth_piece(int64_t rate, size_t len) {
  /* rate KB/s is rate bytes per ms: 20 ms carry rate * 20 bytes. */
  uint64_t per = (uint64_t)rate * 20u;
  if (per < 1)
    per = 1;
  return len < per ? len : (size_t)per;
}

uint64_t fl_bandwidth_due(int64_t rate, uint64_t arrival, uint64_t *next_free, size_t n) {
  uint64_t start = arrival > *next_free ? arrival : *next_free;
  /* n bytes at rate bytes/ms take n / rate ms = n * 1e6 / rate ns. */
  uint64_t due = start + ((uint64_t)n * 1000000u + (uint64_t)rate - 1) / (uint64_t)rate;
  *next_free = due;
  return due;
}

static void run(fl_stage_t *st, uint64_t now) {
  bandwidth_state_t *s = (bandwidth_state_t *)st->state;
  int64_t rate = st->toxic->attr[A_RATE];
  fl_chunk_t *c;
  while ((c = st->in.head) != NULL) {
    if (rate <= 0) {
      fl_stage_emit_head(st, c->len, now);
      continue;
    }
    size_t piece = fl_bandwidth_piece(rate, c->len);
    if (c->due == 0)
      c->due = fl_bandwidth_due(rate, c->t, &s->next_free, piece);
    if (c->due > now) {
      st->deadline = c->due;
      return;
    }
    fl_stage_emit_head(st, piece, now);
  }
  if (st->in_end)
    fl_stage_end(st, st->in_end, now);
}

/* A new rate starts from now: what is held is paced again at that rate. */
static void update(fl_stage_t *st, uint64_t now) {
  bandwidth_state_t *s = (bandwidth_state_t *)st->state;
  s->next_free = now;
  if (st->in.head != NULL)
    st->in.head->due = 0;
}

const fl_toxic_kind_t fl_toxic_bandwidth = {
    .name = "bandwidth",
    .doc = "paced in pieces of at most 20 ms worth, each released when it would have "
           "finished crossing a link of that rate; no credit after idle. 0 = unlimited.",
    .attrs = attrs,
    .nattrs = 1,
    .update = update,
    .run = run,
};
