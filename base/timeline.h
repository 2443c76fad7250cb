/* The timeline: one append-only record of what happened during a run, on a
 * monotonic clock (ns from the run's start). Service state changes, fault
 * start/stop, check results and scenario steps all land here; report.json is
 * built from it, never from the human log.
 *
 * Every event is also appended to a JSONL file as it is recorded (when a path
 * is given), so a run that is killed still leaves what it saw on disk and
 * `faultline report` can rebuild report.json from it. */
#ifndef FL_TIMELINE_H
#define FL_TIMELINE_H

#include <jansson.h>
#include <stdint.h>

#include "base/error.h"

typedef struct fl_timeline_s fl_timeline_t;

/* Called for every recorded event (for terminal progress). event is borrowed. */
typedef void (*fl_timeline_cb)(const json_t *event, void *arg);

/* Returns new in *out. path may be NULL (memory only). The clock starts now. */
int fl_timeline_new(fl_timeline_t **out, const char *path, fl_err_t *err);
void fl_timeline_free(fl_timeline_t *tl);
void fl_timeline_set_listener(fl_timeline_t *tl, fl_timeline_cb cb, void *arg);
/* 0 while every line reached the file; else the first write's failure (a
 * negative errno: ENOSPC, EIO, EDQUOT ...) with "cannot write PATH: cause" in
 * err. Sticky: a timeline that failed once is never complete again, and the
 * run that owns it must end as an error rather than trust it. */
int fl_timeline_write_error(const fl_timeline_t *tl, fl_err_t *err);
/* Another file of the run (a service log) failed a write with code (a
 * negative errno): remembered as the timeline's own failure when it is the
 * first, so the run's owner has one place to ask. path is copied. */
void fl_timeline_note_write_error(fl_timeline_t *tl, const char *path, int code);

/* Nanoseconds since the timeline started; seconds as a double. */
uint64_t fl_timeline_now(const fl_timeline_t *tl);
double fl_timeline_seconds(const fl_timeline_t *tl);
/* uv_hrtime() value of the timeline's zero. */
uint64_t fl_timeline_origin(const fl_timeline_t *tl);

/* Records an event of the given type. fields (may be NULL) is stolen; "type"
 * and "t" (seconds) are added to it. */
void fl_timeline_event(fl_timeline_t *tl, const char *type, json_t *fields);

/* A service changed state: starting, ready, paused, resumed, stopping,
 * stopped, killed, exited, crashed. pid <= 0 is omitted; detail may be NULL. */
void fl_timeline_service(fl_timeline_t *tl, const char *name, const char *state, int pid,
                         const char *detail);

/* A fault began. targets (array of names) and attrs (object, may be NULL) are
 * stolen. Returns the fault's id, for fl_timeline_fault_end. A fault that is
 * instantaneous (a kill) may be ended at once. A fault with attrs.group true
 * (fl.fault{}) groups the faults that begin while it is open on any of its
 * targets (any fault, when it has none): they get attrs.part_of = its id. */
int fl_timeline_fault_begin(fl_timeline_t *tl, const char *kind, json_t *targets,
                            json_t *attrs);
void fl_timeline_fault_end(fl_timeline_t *tl, int id);
/* Ends every fault that is still active (used by heal-all and at run end). */
void fl_timeline_fault_end_all(fl_timeline_t *tl, const char *kind);

/* Borrowed views for the report: the events array and the faults array
 * ({id, kind, targets, attrs, start_s, end_s}). */
json_t *fl_timeline_events(const fl_timeline_t *tl);
json_t *fl_timeline_faults(const fl_timeline_t *tl);

#endif
