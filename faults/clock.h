/* Clock faults: what time a service thinks it is, through libfaketime.
 *
 * A service declared with a clock is started with libfaketime preloaded (the
 * exec shim sets LD_PRELOAD just before exec, so faultline itself never loads
 * it) and told to read its fake time from a control file on every call
 * (FAKETIME_TIMESTAMP_FILE, FAKETIME_NO_CACHE=1). faultline rewrites that file
 * (write to a temporary, rename: a reader sees the old line or the new one)
 * to skew, drift, jump or strobe the service's wall clock. Only the wall
 * clock moves (FAKETIME_DONT_FAKE_MONOTONIC=1), as on a machine whose clock
 * is off: timers on the monotonic clock keep real time.
 *
 * The model. The skew D(t) = fake - real the service sees is
 *   D(t) = offset + drift + (t - since) * (rate - 1)
 * where `since` is when the rate last changed and `drift` what the rate had
 * added until then. libfaketime's line "+OFF xRATE" gives a process started
 * at S the skew OFF + (t - S) * (RATE - 1) (a rate scales the time elapsed
 * since the process started), so the file gets OFF = D(now) - (now - S) *
 * (rate - 1), written again whenever the model or S (a restart) changes.
 *
 * Caveats, said where they bite: a statically linked program does not go
 * through the dynamic linker, and a Go program reads the clock through the
 * vDSO without libc: libfaketime cannot reach either (fl_clock_binary_check).
 * libfaketime leaves shared memory in /dev/shm for every process tree it
 * starts in; fl_clock_release_pid removes it when the process is gone. */
#ifndef FL_CLOCK_H
#define FL_CLOCK_H

#include <stddef.h>

#include "base/error.h"

typedef struct fl_clock_s fl_clock_t;

/* The libfaketime library to preload (borrowed): $FL_FAKETIME_LIB, else the
 * multi-threaded build (libfaketimeMT.so.1, safe in threaded services), else
 * libfaketime.so.1, in Debian's and the upstream install's directories. NULL
 * when there is none. */
const char *fl_clock_lib(void);

/* Returns new in *out: a clock for service name, its control file
 * dir/name.faketime (dir is created; it should be absolute) written with no
 * skew. Errors: the file cannot be written. */
int fl_clock_new(fl_clock_t **out, const char *dir, const char *name, fl_err_t *err);
/* Frees; the control file stays (it is part of the run's record). */
void fl_clock_free(fl_clock_t *c);

/* The environment a preloaded process needs, "K=V" entries, NULL-ended,
 * borrowed (LD_PRELOAD is not among them: the shim sets it). */
const char *const *fl_clock_env(const fl_clock_t *c);
const char *fl_clock_file(const fl_clock_t *c);

/* Changes, at real time now (CLOCK_REALTIME seconds), each rewriting the
 * file. Return 0 or a negative errno (the file could not be written). */
int fl_clock_set_offset(fl_clock_t *c, double now, double offset); /* D(now) := offset */
int fl_clock_set_rate(fl_clock_t *c, double now, double rate);     /* from now on */
int fl_clock_jump(fl_clock_t *c, double now, double by);           /* D += by */
int fl_clock_reset(fl_clock_t *c, double now);                     /* no skew, rate 1 */
/* A new process tree starts now (the service's start): OFF is relative to it. */
int fl_clock_started(fl_clock_t *c, double now);

/* D(now): the skew the service sees. */
double fl_clock_skew(const fl_clock_t *c, double now);
double fl_clock_rate(const fl_clock_t *c);
/* OFF, the offset in the file: what a process started now sees at first. */
double fl_clock_file_offset(const fl_clock_t *c);

/* The file's line for an offset and a rate: "+3600.000000 x1.000000". */
void fl_clock_format(double offset, double rate, char *buf, size_t size);

/* Removes the shared memory libfaketime made for the process tree whose first
 * process was pid (call once it has exited). */
void fl_clock_release_pid(int pid);
/* Removes libfaketime's shared memory of every process that is gone; returns
 * how many files. */
int fl_clock_sweep_shm(void);
/* Tests point this at a scratch directory ("/dev/shm" by default). */
void fl_clock_set_shm_dir(const char *dir);

/* Can libfaketime reach the program at path? 0 yes (or cannot tell: a
 * script, a non-ELF file); FL_ENOSUPPORT with the reason in why for a
 * statically linked or a Go program. */
int fl_clock_binary_check(const char *path, char *why, size_t why_size);

#endif
