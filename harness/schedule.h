/* The nemesis's schedule (harness/lua/nemesis.lua writes schedule.json in
 * the run directory as it goes): read back into report.json, and by
 * `faultline shrink`. */
#ifndef FL_HARNESS_SCHEDULE_H
#define FL_HARNESS_SCHEDULE_H

#include <jansson.h>

/* Sets report["schedule"] from DIR/schedule.json when the run had a
 * nemesis (nothing otherwise). A fault still open when the run ended (the
 * scenario ended without nem:stop()) gets end_s = duration_s: teardown
 * ended it there. */
void fl_schedule_add_to_report(json_t *report, const char *dir, double duration_s);

#endif
