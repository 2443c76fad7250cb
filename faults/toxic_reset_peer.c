/* reset_peer: once data (or the end of the stream) reaches the toxic, waits
 * `timeout` ms and then resets the connection: both peers see a TCP RST
 * (SO_LINGER 0), as Toxiproxy's reset_peer. Nothing passes meanwhile: the
 * data is dropped, as a reset discards unsent data. */
#include "faults/toxic.h"

#include <stdint.h>

enum { A_TIMEOUT };

static const fl_toxic_attr_t attrs[] = {
    {"timeout", 0, INT32_MAX, "ms"},
};

typedef struct {
  uint64_t fire; /* ns when the reset happens; 0 until data arrived */
} reset_state_t;
_Static_assert(sizeof(reset_state_t) <= sizeof(((fl_stage_t *)0)->state), "state");

static void run(fl_stage_t *st, uint64_t now) {
  reset_state_t *s = (reset_state_t *)st->state;
  if (s->fire == 0 && (st->in.head != NULL || st->in_end))
    s->fire = now + (uint64_t)st->toxic->attr[A_TIMEOUT] * 1000000u + 1;
  /* The end marker stays pending: if the toxic is removed before it fires,
   * the default stop passes it on. */
  fl_stage_drop_all(st);
  if (s->fire == 0)
    return;
  if (now >= s->fire)
    fl_stage_reset_conn(st);
  else
    st->deadline = s->fire;
}

const fl_toxic_kind_t fl_toxic_reset_peer = {
    .name = "reset_peer",
    .doc = "once data (or EOF) reaches it, waits `timeout` and resets the connection: "
           "both peers see an RST. Nothing passes meanwhile.",
    .attrs = attrs,
    .nattrs = 1,
    .run = run,
};
