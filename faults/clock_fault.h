/* A service's clock fault on the loop: the changes (offset, rate, jump,
 * strobe) applied to its libfaketime control file (clock.h), the strobe's
 * timer, and the check that a change took, for any C caller (the Lua
 * binding harness/lua_clock.c is one; tests/unit/test_clock_fault.c another).
 *
 * The check runs a small shell script under the same preload and control
 * file, which reads the fake clock between two reads of the real one, twice,
 * a real sleep apart:  R1 F1 R2 (sleep) R3 F2 R4. Each fake read is thus
 * bracketed by real times that certainly came before and after it, so the
 * skew and the rate it shows are known to lie in intervals
 * (fl_clock_judge), however slowly the machine ran the processes: a busy
 * machine widens the intervals, it cannot move them. A change "did not
 * take" only when the wanted value lies outside its interval (beyond a small
 * tolerance for libfaketime's arithmetic). When the rate's interval is too
 * wide to say much (over 20 %), the check measures again over a longer
 * sleep (0.3 s, 1 s, 3 s); still wide, it says it took within what could be
 * measured, and how wide that was, and never fails from noise. */
#ifndef FL_CLOCK_FAULT_H
#define FL_CLOCK_FAULT_H

#include <stddef.h>
#include <uv.h>

#include "base/error.h"
#include "faults/clock.h"

typedef struct fl_clock_fault_s fl_clock_fault_t;

/* A change. No has_* set: back to real time (no skew, rate 1). */
typedef struct fl_clock_change_s {
  int has_offset, has_rate, has_jump, has_strobe;
  double offset;    /* the skew from now on, seconds */
  double rate;      /* how fast the clock runs from now on, 0 < rate < 1000 */
  double jump;      /* added to the skew, seconds */
  double strobe[2]; /* the skew alternates between these ... */
  double every;     /* ... every this many seconds (> 0; 1 when 0) */
} fl_clock_change_t;

/* What a check found. */
typedef struct fl_clock_verdict_s {
  int ran;  /* 0: the check could not run (msg says why) */
  int took; /* the change is in effect, as far as could be measured */
  double want_skew, skew, skew_lo, skew_hi; /* skew: the value of [lo, hi] nearest want */
  double want_rate, rate, rate_lo, rate_hi; /* rate: likewise; only when want_rate != 1 */
  double window_s; /* the real time the rate was measured over (0: not measured) */
  int tries;       /* measurements made */
  char msg[512];
} fl_clock_verdict_t;

/* The six stamps of one measurement (CLOCK_REALTIME seconds; F* fake), and
 * t0, the real time just before the script was started. */
typedef struct fl_clock_sample_s {
  double t0, r1, f1, r2;
  double r3, f2, r4; /* only with rate != 1 */
  int n;             /* how many stamps the script printed (3 or 6) */
} fl_clock_sample_t;

/* Judges one sample against the file's offset (what a process started at
 * t0 sees at first) and the rate; fills v (msg left to the caller). Pure:
 * tests give it the stamps of a loaded machine. Returns 1 when the rate's
 * interval is wider than 20 % (measure again, longer), else 0. */
int fl_clock_judge(const fl_clock_sample_t *s, double want_off, double want_rate,
                   fl_clock_verdict_t *v);

/* Returns new in *out: the clock of service name, its control file in dir
 * (fl_clock_new). Errors: the file cannot be written. */
int fl_clock_fault_new(fl_clock_fault_t **out, uv_loop_t *loop, const char *dir,
                       const char *name, fl_err_t *err);
/* Stops the strobe and any check (its callback does not run) and frees f
 * once its timer closed. Accepts NULL. */
void fl_clock_fault_close(fl_clock_fault_t *f);
/* The clock model and its file, borrowed. */
fl_clock_t *fl_clock_fault_clock(fl_clock_fault_t *f);

/* Applies a change now (a running strobe stops first). Errors: FL_ECONFIG
 * for a bad value (naming it), a negative errno when the file cannot be
 * written. */
int fl_clock_fault_apply(fl_clock_fault_t *f, const fl_clock_change_t *ch, fl_err_t *err);
/* The service starts a new process now: its skew is kept, counted from it. */
int fl_clock_fault_started(fl_clock_fault_t *f);

/* Checks that the clock is what the model says: cb(v, arg) from the loop,
 * after one to three measurements (at most about 5 s). Errors: FL_ENOSUPPORT
 * (no libfaketime), UV_EBUSY (a check is running); then cb never runs. */
typedef void (*fl_clock_verify_cb)(const fl_clock_verdict_t *v, void *arg);
int fl_clock_fault_verify(fl_clock_fault_t *f, fl_clock_verify_cb cb, void *arg,
                          fl_err_t *err);
/* Stops a running check; its callback does not run. */
void fl_clock_fault_verify_cancel(fl_clock_fault_t *f);

#endif
