/* slow_close: data passes untouched; the end of the stream (the peer's close,
 * or a close asked by an earlier toxic) is passed on `delay` ms after it
 * reached the toxic, as Toxiproxy's slow_close. */
#include "faults/toxic.h"

#include <stdint.h>

enum { A_DELAY };

static const fl_toxic_attr_t attrs[] = {
    {"delay", 0, INT32_MAX, "ms"},
};

typedef struct {
  uint64_t close_at; /* ns, 0 until the end marker arrived */
} slow_close_state_t;
_Static_assert(sizeof(slow_close_state_t) <= sizeof(((fl_stage_t *)0)->state), "state");

static void run(fl_stage_t *st, uint64_t now) {
  slow_close_state_t *s = (slow_close_state_t *)st->state;
  while (st->in.head != NULL)
    fl_stage_emit_head(st, st->in.head->len, now);
  if (!st->in_end)
    return;
  if (s->close_at == 0)
    s->close_at = now + (uint64_t)st->toxic->attr[A_DELAY] * 1000000u;
  if (now >= s->close_at)
    fl_stage_end(st, st->in_end, now);
  else
    st->deadline = s->close_at;
}

const fl_toxic_kind_t fl_toxic_slow_close = {
    .name = "slow_close",
    .doc = "data passes; the close (EOF, or a close asked by an earlier toxic) is passed "
           "on `delay` after it came.",
    .attrs = attrs,
    .nattrs = 1,
    .run = run,
};
