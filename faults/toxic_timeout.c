/* timeout: stops all data (it is swallowed) and closes the connection
 * `timeout` ms after the toxic began on it. timeout 0 holds the connection
 * open forever, passing nothing; removing the toxic then closes it. The
 * source's EOF closes the connection at once. As Toxiproxy's timeout. */
#include "faults/toxic.h"

#include <stdint.h>

enum { A_TIMEOUT };

static const fl_toxic_attr_t attrs[] = {
    {"timeout", 0, INT32_MAX, "ms"},
};

typedef struct {
  uint64_t fire; /* ns when the connection closes; 0 = never */
} timeout_state_t;
_Static_assert(sizeof(timeout_state_t) <= sizeof(((fl_stage_t *)0)->state), "state");

static void start(fl_stage_t *st, uint64_t now) {
  timeout_state_t *s = (timeout_state_t *)st->state;
  int64_t ms = st->toxic->attr[A_TIMEOUT];
  s->fire = ms > 0 ? now + (uint64_t)ms * 1000000u : 0;
}

static void run(fl_stage_t *st, uint64_t now) {
  timeout_state_t *s = (timeout_state_t *)st->state;
  fl_stage_drop_all(st);
  if (st->in_end || (s->fire != 0 && now >= s->fire)) {
    fl_stage_end(st, FL_END_CLOSE, now);
    return;
  }
  st->deadline = s->fire;
}

/* Removing a timeout closes the connections it held, as Toxiproxy does. */
static void stop(fl_stage_t *st, uint64_t now) {
  fl_stage_drop_all(st);
  fl_stage_end(st, FL_END_CLOSE, now);
}

const fl_toxic_kind_t fl_toxic_timeout = {
    .name = "timeout",
    .doc = "nothing passes (data is swallowed); the connection is closed `timeout` after "
           "the toxic began on it (a new connection, or the toxic added to an open one). "
           "0 = never: held open until the toxic is removed, which closes the "
           "connection, as in Toxiproxy.",
    .attrs = attrs,
    .nattrs = 1,
    .start = start,
    .update = start, /* a new timeout counts from the update, as Toxiproxy */
    .run = run,
    .stop = stop,
};
