/* Terminal progress: one line per step (service started/ready, fault
 * injected/healed, check passed/failed) with the elapsed time, written to
 * stdout as the timeline records them. */
#ifndef FL_PROGRESS_H
#define FL_PROGRESS_H

#include <jansson.h>
#include <stdint.h>

#include "base/timeline.h"

void fl_progress_begin(const char *scenario, const char *dir, uint64_t seed, int quiet);
void fl_progress_attach(fl_timeline_t *tl, const char *scenario, int quiet);
/* status: "pass" | "fail" | "error"; run_dir holds report.html and
 * report.json; findings (borrowed, may be NULL) is report.json's
 * "findings": a pass with findings reads "PASS with N findings", one line
 * each below. */
void fl_progress_end(const char *scenario, const char *status, double duration_s,
                     const char *run_dir, const char *error, const json_t *findings,
                     int quiet);

/* The live status line, when stdout is a terminal and not --quiet: redrawn
 * in place under the event lines. A no-op otherwise (CI logs stay plain). */
int fl_progress_live(int quiet);
void fl_progress_status(const char *line);
void fl_progress_status_clear(void);

#endif
