/* noop: passes everything on untouched, as Toxiproxy's noop toxic. It has no
 * attributes; clients use it to test their toxic handling, and it shows what
 * the least a kind must define is: a name, a doc line and run(). */
#include "faults/toxic.h"

static void run(fl_stage_t *st, uint64_t now) {
  fl_stage_pass_all(st, now);
}

const fl_toxic_kind_t fl_toxic_noop = {
    .name = "noop",
    .doc = "passes everything on untouched (Toxiproxy's test toxic).",
    .run = run,
};
