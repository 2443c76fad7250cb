/* Unit tests of faults/clock_fault.c: the judge on the stamps of a quiet and
 * of a loaded machine (pure), changes and the strobe on a loop, and, where
 * libfaketime is installed, checks that run it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/helpers/test_skip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"
#include "faults/clock_fault.h"
#include "tests/helpers/unit_loop.h"

/* The stamps libfaketime would give a process tree started at s, reading
 * the fake clock at f1_at and f2_at, for a file offset off at rate. */
static double fake_at(double t, double s, double off, double rate) {
  return t + off + (t - s) * (rate - 1);
}

static void test_judge_quiet(void **state) {
  (void)state;
  fl_clock_verdict_t v;
  memset(&v, 0, sizeof(v));
  /* A skew alone: the fake read between two real ones 2 ms apart. */
  fl_clock_sample_t s = {.t0 = 100.000, .r1 = 100.010, .r2 = 100.012, .n = 3};
  s.f1 = fake_at(100.011, 100.005, 3600, 1);
  assert_int_equal(fl_clock_judge(&s, 3600, 1, &v), 0);
  assert_true(v.took);
  assert_true(fabs(v.skew - 3600) < 1e-6);
  assert_true(v.skew_lo <= 3600 && v.skew_hi >= 3600);
  /* Nothing took: the fake read is the real time. */
  s.f1 = 100.011;
  fl_clock_judge(&s, 3600, 1, &v);
  assert_false(v.took);
  assert_true(fabs(v.skew - 3600) > 3599);
}

static void test_judge_rate_loaded(void **state) {
  (void)state;
  fl_clock_verdict_t v;
  memset(&v, 0, sizeof(v));
  /* A busy machine: the tree started 0.1 s after t0, each process took
   * 50 ms to run, and a sleep of 0.3 s lasted 0.45 s. The old check divided
   * the fake time by the 0.3 s asked for and read x3.33; the bracketed one
   * knows the rate lies in [1.67, 2.5]: it took, but measure longer. */
  double S = 100.1, off = -20;
  fl_clock_sample_t s = {
      .t0 = 100.0, .r1 = 100.15, .r2 = 100.25, .r3 = 100.65, .r4 = 100.75, .n = 6};
  s.f1 = fake_at(100.2, S, off, 2);
  s.f2 = fake_at(100.7, S, off, 2);
  assert_true((s.f2 - s.f1) / 0.3 > 3.3); /* what the old check saw */
  assert_int_equal(fl_clock_judge(&s, off, 2, &v), 1);
  assert_true(v.took);
  assert_true(v.rate_lo < 2 && v.rate_hi > 2);
  assert_true(fabs(v.rate - 2) < 1e-9);
  assert_true(fabs(v.window_s - 0.6) < 1e-9);
  /* A longer, quiet measurement: narrow, not wide. */
  s = (fl_clock_sample_t){
      .t0 = 200.0, .r1 = 200.010, .r2 = 200.012, .r3 = 201.015, .r4 = 201.017, .n = 6};
  s.f1 = fake_at(200.011, 200.005, off, 2);
  s.f2 = fake_at(201.016, 200.005, off, 2);
  assert_int_equal(fl_clock_judge(&s, off, 2, &v), 0);
  assert_true(v.took);
  assert_true(v.rate_hi / v.rate_lo - 1 < 0.01);
}

static void test_judge_rate_not_taken(void **state) {
  (void)state;
  fl_clock_verdict_t v;
  memset(&v, 0, sizeof(v));
  /* The clock ran at real time although x2 was asked: even with the wide
   * brackets of a loaded machine, 2 is outside [0.83, 1.25]: a sure no. */
  fl_clock_sample_t s = {
      .t0 = 100.0, .r1 = 100.15, .r2 = 100.25, .r3 = 100.65, .r4 = 100.75, .n = 6};
  s.f1 = fake_at(100.2, 100.1, 0, 1);
  s.f2 = fake_at(100.7, 100.1, 0, 1);
  fl_clock_judge(&s, 0, 2, &v);
  assert_false(v.took);
  assert_true(v.rate_hi < 1.3 && v.rate_lo > 0.8);
  /* A slow clock (x0.5) that took. */
  s.f1 = fake_at(100.2, 100.1, 5, 0.5);
  s.f2 = fake_at(100.7, 100.1, 5, 0.5);
  fl_clock_judge(&s, 5, 0.5, &v);
  assert_true(v.took);
}

/* ---- on a loop --------------------------------------------------------------- */

typedef struct {
  uv_loop_t loop;
  char dir[256];
  fl_clock_fault_t *f;
  int done;
  fl_clock_verdict_t v;
} fx_t;

static int setup(void **state) {
  fx_t *fx = fl_calloc(1, sizeof(*fx));
  uv_loop_init(&fx->loop);
  ut_tmpdir(fx->dir, sizeof(fx->dir), "clock-fault");
  fl_err_t err = {0};
  if (fl_clock_fault_new(&fx->f, &fx->loop, fx->dir, "svc", &err) != 0)
    fail_msg("%s", err.msg);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  fl_clock_fault_close(fx->f);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  ut_rmdir(fx->dir);
  fl_free(fx);
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_apply_and_strobe(void **state) {
  fx_t *fx = *state;
  fl_clock_t *c = fl_clock_fault_clock(fx->f);
  fl_err_t err = {0};
  fl_clock_change_t ch = {.has_offset = 1, .offset = 60};
  assert_int_equal(fl_clock_fault_apply(fx->f, &ch, &err), 0);
  assert_true(fabs(fl_clock_skew(c, now_s()) - 60) < 0.01);
  ch = (fl_clock_change_t){.has_jump = 1, .jump = -10};
  assert_int_equal(fl_clock_fault_apply(fx->f, &ch, &err), 0);
  assert_true(fabs(fl_clock_skew(c, now_s()) - 50) < 0.01);
  /* Bad values name themselves and change nothing. */
  ch = (fl_clock_change_t){.has_rate = 1, .rate = 0};
  assert_int_equal(fl_clock_fault_apply(fx->f, &ch, &err), FL_ECONFIG);
  assert_non_null(strstr(err.msg, "'rate'"));
  ch = (fl_clock_change_t){.has_strobe = 1, .has_offset = 1, .strobe = {1, 2}};
  assert_int_equal(fl_clock_fault_apply(fx->f, &ch, &err), FL_ECONFIG);
  assert_true(fabs(fl_clock_skew(c, now_s()) - 50) < 0.01);
  /* The strobe flips between its two offsets on the loop. */
  ch = (fl_clock_change_t){.has_strobe = 1, .strobe = {-5, 5}, .every = 0.03};
  assert_int_equal(fl_clock_fault_apply(fx->f, &ch, &err), 0);
  int seen_lo = 0, seen_hi = 0;
  for (int i = 0; i < 40 && !(seen_lo && seen_hi); i++) {
    ut_run_for(&fx->loop, 10);
    double d = fl_clock_skew(c, now_s());
    seen_lo |= fabs(d + 5) < 0.01;
    seen_hi |= fabs(d - 5) < 0.01;
  }
  assert_true(seen_lo && seen_hi);
  /* No change at all: back to real time, the strobe stopped. */
  ch = (fl_clock_change_t){0};
  assert_int_equal(fl_clock_fault_apply(fx->f, &ch, &err), 0);
  ut_run_for(&fx->loop, 80);
  assert_true(fabs(fl_clock_skew(c, now_s())) < 1e-6);
  assert_true(fl_clock_rate(c) == 1);
}

static void on_verdict(const fl_clock_verdict_t *v, void *arg) {
  fx_t *fx = arg;
  fx->v = *v;
  fx->done = 1;
}

static void verify(fx_t *fx) {
  fl_err_t err = {0};
  fx->done = 0;
  if (fl_clock_fault_verify(fx->f, on_verdict, fx, &err) != 0)
    fail_msg("%s", err.msg);
  assert_false(fx->done); /* never before it returns */
  assert_true(ut_run_until(&fx->loop, &fx->done, 20000));
  print_message("%s\n", fx->v.msg);
  assert_true(fx->v.ran);
}

static void test_verify_with_libfaketime(void **state) {
  fx_t *fx = *state;
  if (fl_clock_lib() == NULL) {
    FL_SKIP("libfaketime is not installed (apt-get install libfaketime)");
  }
  fl_err_t err = {0};
  fl_clock_change_t ch = {.has_offset = 1, .offset = 3600};
  assert_int_equal(fl_clock_fault_apply(fx->f, &ch, &err), 0);
  verify(fx);
  assert_true(fx->v.took);
  assert_true(fabs(fx->v.skew - 3600) < 0.5);
  ch = (fl_clock_change_t){.has_rate = 1, .rate = 3};
  assert_int_equal(fl_clock_fault_apply(fx->f, &ch, &err), 0);
  verify(fx);
  assert_true(fx->v.took);
  assert_true(fx->v.rate_lo <= 3 * 1.05 && fx->v.rate_hi >= 3 * 0.95);
  assert_true(fx->v.window_s > 0.29);
  /* One check at a time; a canceled one never calls back. */
  assert_int_equal(fl_clock_fault_verify(fx->f, on_verdict, fx, &err), 0);
  fx->done = 0;
  assert_int_equal(fl_clock_fault_verify(fx->f, on_verdict, fx, &err), UV_EBUSY);
  fl_clock_fault_verify_cancel(fx->f);
  ut_run_for(&fx->loop, 500);
  assert_false(fx->done);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_judge_quiet),
      cmocka_unit_test(test_judge_rate_loaded),
      cmocka_unit_test(test_judge_rate_not_taken),
      cmocka_unit_test_setup_teardown(test_apply_and_strobe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_with_libfaketime, setup, teardown),
  };
  return cmocka_run_group_tests_name("clock_fault", tests, NULL, NULL);
}
