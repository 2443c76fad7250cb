/* A service's clock fault on the loop (clock_fault.h): changes, the strobe
 * timer and the bracketed check. */
#include "faults/clock_fault.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "faults/subproc.h"
#include "base/error.h"

extern char **environ;

/* The skew within half a second of the asked one; the rate within 5 %
 * beyond its measured interval (libfaketime's own arithmetic). */
#define SKEW_TOLERANCE_S 0.5
#define RATE_TOLERANCE 0.05
/* A rate interval wider than this (hi / lo - 1) is measured again, longer. */
#define RATE_WIDE 0.20
#define MAX_TRIES 3
static const double sleeps[MAX_TRIES] = {0.3, 1.0, 3.0};

struct fl_clock_fault_s {
  uv_loop_t *loop;
  fl_clock_t *clock;
  char *name;
  uv_timer_t strobe;
  double strobe_v[2];
  int strobe_phase;
  char **probe_env;
  /* the check in flight */
  fl_subproc_t *probe;
  int probe_pid;
  fl_clock_verify_cb cb;
  void *cb_arg;
  double t0, want_off, want_rate;
  double alt_off; /* while strobing: the file's offset in the other phase */
  int strobing;   /* the rate is not measured: the offset flips under it */
  int tries;
};

static double real_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- judging ----------------------------------------------------------------- */

static double clamp(double x, double lo, double hi) {
  return x < lo ? lo : (x > hi ? hi : x);
}

int fl_clock_judge(const fl_clock_sample_t *s, double want_off, double want_rate,
                   fl_clock_verdict_t *v) {
  /* F1 was read at a real time r1 in [R1, R2] by a process tree that started
   * at S in [t0, r1]; libfaketime gives it F1 = r1 + OFF + (r1 - S)(rate - 1),
   * so OFF = F1 - rate r1 + (rate - 1) S: linear, so its range over that
   * region is spanned by the region's corners. */
  const double r[4] = {s->r1, s->r1, s->r2, s->r2};
  const double st[4] = {s->t0, s->r1, s->t0, s->r2};
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < 4; i++) {
    double off = s->f1 - want_rate * r[i] + (want_rate - 1) * st[i];
    lo = fmin(lo, off);
    hi = fmax(hi, off);
  }
  v->want_skew = want_off;
  v->skew_lo = lo;
  v->skew_hi = hi;
  v->skew = clamp(want_off, lo, hi);
  v->took = fabs(v->skew - want_off) <= SKEW_TOLERANCE_S;
  v->want_rate = want_rate;
  v->window_s = 0;
  if (want_rate == 1 || s->n < 6)
    return 0;
  /* F2 - F1 = rate (r2 - r1) with r2 - r1 in [R3 - R2, R4 - R1]. */
  double fake = s->f2 - s->f1, wmin = s->r3 - s->r2, wmax = s->r4 - s->r1;
  v->rate_lo = wmax > 0 ? fake / wmax : 0;
  v->rate_hi = wmin > 0 ? fake / wmin : INFINITY;
  v->rate = clamp(want_rate, v->rate_lo, v->rate_hi);
  v->window_s = wmax;
  v->took = v->took && fabs(v->rate - want_rate) <= RATE_TOLERANCE * want_rate;
  return v->rate_lo <= 0 || v->rate_hi / v->rate_lo - 1 > RATE_WIDE;
}

/* ---- making, closing ------------------------------------------------------------ */

/* The environment of the check's script: this process's, with the clock's. */
static char **probe_env(const fl_clock_t *clock, const char *lib) {
  size_t n = 0;
  while (environ[n] != NULL)
    n++;
  char **env = fl_calloc(n + 8, sizeof(char *));
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
        strncmp(environ[i], "FAKETIME", 8) != 0 && strncmp(environ[i], "LC_ALL=", 7) != 0)
      env[k++] = fl_strdup(environ[i]);
  env[k++] = fl_asprintf("LD_PRELOAD=%s", lib ? lib : "");
  env[k++] = fl_strdup("LC_ALL=C");
  for (const char *const *e = fl_clock_env(clock); *e != NULL; e++)
    env[k++] = fl_strdup(*e);
  env[k] = NULL;
  return env;
}

int fl_clock_fault_new(fl_clock_fault_t **out, uv_loop_t *loop, const char *dir,
                       const char *name, fl_err_t *err) {
  fl_clock_t *clock = NULL;
  *out = NULL;
  int rc = fl_clock_new(&clock, dir, name, err);
  if (rc < 0)
    return rc;
  fl_clock_fault_t *f = fl_calloc(1, sizeof(*f));
  f->loop = loop;
  f->clock = clock;
  f->name = fl_strdup(name);
  f->probe_env = probe_env(clock, fl_clock_lib());
  uv_timer_init(loop, &f->strobe);
  f->strobe.data = f;
  *out = f;
  return 0;
}

fl_clock_t *fl_clock_fault_clock(fl_clock_fault_t *f) {
  return f->clock;
}

static void release_probe(fl_clock_fault_t *f) {
  if (f->probe != NULL) {
    fl_subproc_cancel(f->probe);
    f->probe = NULL;
  }
  if (f->probe_pid > 0) {
    fl_clock_release_pid(f->probe_pid);
    f->probe_pid = 0;
  }
}

void fl_clock_fault_verify_cancel(fl_clock_fault_t *f) {
  f->cb = NULL;
  release_probe(f);
}

static void strobe_closed(uv_handle_t *h) {
  fl_clock_fault_t *f = h->data;
  fl_clock_free(f->clock);
  for (size_t i = 0; f->probe_env[i] != NULL; i++)
    fl_free(f->probe_env[i]);
  fl_free(f->probe_env);
  fl_free(f->name);
  fl_free(f);
}

void fl_clock_fault_close(fl_clock_fault_t *f) {
  if (f == NULL)
    return;
  fl_clock_fault_verify_cancel(f);
  uv_timer_stop(&f->strobe);
  uv_close((uv_handle_t *)&f->strobe, strobe_closed);
}

int fl_clock_fault_started(fl_clock_fault_t *f) {
  return fl_clock_started(f->clock, real_now());
}

/* ---- changing it ----------------------------------------------------------------- */

static void on_strobe(uv_timer_t *t) {
  fl_clock_fault_t *f = t->data;
  f->strobe_phase ^= 1;
  int rc = fl_clock_set_offset(f->clock, real_now(), f->strobe_v[f->strobe_phase]);
  if (rc < 0)
    FL_LOG(FL_LOG_WARN, "clock", "%s: cannot rewrite %s: %s", f->name,
           fl_clock_file(f->clock), fl_strerror(rc));
}

int fl_clock_fault_apply(fl_clock_fault_t *f, const fl_clock_change_t *ch,
                         fl_err_t *err) {
  double every = ch->every > 0 ? ch->every : 1;
  if (ch->has_rate && !(ch->rate > 0 && ch->rate < 1000))
    return fl_err_set(err, FL_ECONFIG,
                      "'rate' must be between 0 and 1000 (1 = real time)");
  if (ch->every < 0 || isnan(ch->every))
    return fl_err_set(err, FL_ECONFIG, "'every' must be a positive number of seconds");
  if (ch->has_strobe && (ch->has_offset || ch->has_jump))
    return fl_err_set(err, FL_ECONFIG,
                      "'strobe' sets the offset itself; drop 'offset'/'jump'");
  double now = real_now();
  uv_timer_stop(&f->strobe);
  int rc = 0;
  if (!ch->has_offset && !ch->has_rate && !ch->has_jump && !ch->has_strobe)
    rc = fl_clock_reset(f->clock, now);
  if (rc == 0 && ch->has_rate)
    rc = fl_clock_set_rate(f->clock, now, ch->rate);
  if (rc == 0 && ch->has_offset)
    rc = fl_clock_set_offset(f->clock, now, ch->offset);
  if (rc == 0 && ch->has_jump)
    rc = fl_clock_jump(f->clock, now, ch->jump);
  if (rc == 0 && ch->has_strobe) {
    f->strobe_v[0] = ch->strobe[0];
    f->strobe_v[1] = ch->strobe[1];
    f->strobe_phase = 0;
    rc = fl_clock_set_offset(f->clock, now, f->strobe_v[0]);
    uint64_t ms = (uint64_t)(every * 1000 + 0.5);
    uv_timer_start(&f->strobe, on_strobe, ms ? ms : 1, ms ? ms : 1);
  }
  if (rc < 0)
    return fl_err_set(err, rc, "cannot write %s: %s", fl_clock_file(f->clock),
                      fl_strerror(rc));
  return 0;
}

/* ---- the check --------------------------------------------------------------------- */

static int start_probe(fl_clock_fault_t *f);

static void finish(fl_clock_fault_t *f, fl_clock_verdict_t *v) {
  fl_clock_verify_cb cb = f->cb;
  f->cb = NULL;
  if (cb != NULL)
    cb(v, f->cb_arg);
}

static void describe(const fl_clock_fault_t *f, fl_clock_verdict_t *v, int wide) {
  int n = snprintf(v->msg, sizeof(v->msg),
                   "clock of %s %s: date under libfaketime read %+.3f s (want %+.3f s)",
                   f->name, v->took ? "took" : "did not take", v->skew, v->want_skew);
  if (v->want_rate == 1 || n < 0 || (size_t)n >= sizeof(v->msg))
    return;
  if (v->window_s == 0) {
    snprintf(v->msg + n, sizeof(v->msg) - (size_t)n,
             " (its rate x%.2f is not measured while the strobe flips the offset)",
             v->want_rate);
    return;
  }
  snprintf(v->msg + n, sizeof(v->msg) - (size_t)n,
           " and ran at x%.2f (want x%.2f; measured x%.2f..x%.2f over %.1f s%s)", v->rate,
           v->want_rate, v->rate_lo, v->rate_hi, v->window_s,
           wide ? ", no closer on this busy machine" : "");
}

static void on_probe(const fl_subproc_result_t *r, void *arg) {
  fl_clock_fault_t *f = arg;
  f->probe = NULL;
  if (f->probe_pid > 0) {
    fl_clock_release_pid(f->probe_pid);
    f->probe_pid = 0;
  }
  fl_clock_verdict_t v;
  memset(&v, 0, sizeof(v));
  fl_clock_sample_t s = {.t0 = f->t0};
  s.n =
      sscanf(r->out, "%lf %lf %lf %lf %lf %lf", &s.r1, &s.f1, &s.r2, &s.r3, &s.f2, &s.r4);
  int need = f->want_rate != 1 && !f->strobing ? 6 : 3;
  v.tries = ++f->tries;
  if (r->status != 0 || s.n < need) {
    snprintf(v.msg, sizeof(v.msg),
             "clock of %s: the check could not run (date under libfaketime: %s%.*s)",
             f->name, r->status < 0 ? fl_strerror(r->status) : "exit ",
             (int)strcspn(r->err, "\n"), r->err_len ? r->err : "no output");
    finish(f, &v);
    return;
  }
  v.ran = 1;
  if (f->strobing)
    s.n = 3;
  int wide = fl_clock_judge(&s, f->want_off, f->want_rate, &v);
  if (f->strobing && !v.took) /* the strobe may have flipped before the read */
    wide = fl_clock_judge(&s, f->alt_off, f->want_rate, &v);
  /* Outside its interval is a sure answer; inside but wide, measure longer. */
  if (v.took && wide && f->tries < MAX_TRIES) {
    int rc = start_probe(f);
    if (rc == 0)
      return;
    v.ran = 0;
    snprintf(v.msg, sizeof(v.msg), "clock of %s: the check could not run again: %s",
             f->name, fl_strerror(rc));
    finish(f, &v);
    return;
  }
  describe(f, &v, wide);
  finish(f, &v);
}

static int start_probe(fl_clock_fault_t *f) {
  char sleep_s[16];
  snprintf(sleep_s, sizeof(sleep_s), "%g",
           f->want_rate != 1 && !f->strobing ? sleeps[f->tries] : 0.0);
  /* real, fake, real; then after a real (not faked) sleep the same again. */
  const char *argv[] = {
      "/bin/sh",
      "-c",
      "r() { LD_PRELOAD= date +%s.%N; }; r; date +%s.%N; r; "
      "[ \"$1\" = 0 ] || { LD_PRELOAD= sleep \"$1\"; r; date +%s.%N; r; }",
      "sh",
      sleep_s,
      NULL};
  f->t0 = real_now();
  int rc = fl_subproc_run(f->loop, argv, (const char *const *)f->probe_env, NULL, 15000,
                          on_probe, f, &f->probe);
  f->probe_pid = rc == 0 && f->probe ? fl_subproc_pid(f->probe) : 0;
  return rc;
}

int fl_clock_fault_verify(fl_clock_fault_t *f, fl_clock_verify_cb cb, void *arg,
                          fl_err_t *err) {
  if (fl_clock_lib() == NULL)
    return fl_err_set(err, FL_ENOSUPPORT, "libfaketime is not installed");
  if (f->cb != NULL || f->probe != NULL)
    return fl_err_set(err, UV_EBUSY, "a check of %s's clock is running", f->name);
  f->cb = cb;
  f->cb_arg = arg;
  f->want_off = fl_clock_file_offset(f->clock);
  f->want_rate = fl_clock_rate(f->clock);
  f->strobing = uv_is_active((uv_handle_t *)&f->strobe);
  f->alt_off = f->want_off + f->strobe_v[!f->strobe_phase] - f->strobe_v[f->strobe_phase];
  f->tries = 0;
  int rc = start_probe(f);
  if (rc < 0) {
    f->cb = NULL;
    return fl_err_set(err, rc, "cannot run the check of %s's clock: %s", f->name,
                      fl_strerror(rc));
  }
  return 0;
}
