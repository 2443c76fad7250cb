/* harness/resources.c: the sampler on a fake cgroup (v1 counters in plain
 * files), the /proc fallback on this test's own process group, and the
 * series' bound. Each test has its own loop and closes it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "harness/resources.h"

static void put(const char *dir, const char *file, const char *text) {
  char p[600];
  snprintf(p, sizeof(p), "%s/%s", dir, file);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static int no_pid(void *arg) {
  (void)arg;
  return 0;
}

static int own_group(void *arg) {
  (void)arg;
  return (int)getpgrp();
}

/* Uses ms of CPU (not of wall time: the machine may be loaded). */
static void burn_ms(long ms) {
  struct timespec t0, t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  do
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  while ((t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L < ms);
}

static void close_loop(uv_loop_t *loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(loop), 0);
}

/* A hybrid machine's files: cpuacct.usage and memory.stat total_rss. */
static void test_cgroup_series(void **state) {
  (void)state;
  char tmpl[] = "/tmp/fl-restest-XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  fl_cg_sys_t sys = {.kind = FL_CG_HYBRID};
  snprintf(sys.root, sizeof(sys.root), "%s/unified", d);
  snprintf(sys.ctl[FL_CG_CTL_CPUACCT], sizeof(sys.ctl[0]), "%s/cpuacct", d);
  snprintf(sys.ctl[FL_CG_CTL_MEMORY], sizeof(sys.ctl[0]), "%s/memory", d);
  char cg[512], acct[512], mem[512];
  snprintf(cg, sizeof(cg), "%s/unified/run/db", d);
  snprintf(acct, sizeof(acct), "%s/cpuacct/run/db", d);
  snprintf(mem, sizeof(mem), "%s/memory/run/db", d);
  fl_mkdir_p(cg);
  fl_mkdir_p(acct);
  fl_mkdir_p(mem);
  put(acct, "cpuacct.usage", "500000000");
  put(mem, "memory.stat", "rss 1\ntotal_rss 3000000\n");
  put(mem, "memory.oom_control", "oom_kill 0\n");
  uv_loop_t loop;
  uv_loop_init(&loop);
  fl_timeline_t *tl;
  assert_int_equal(fl_timeline_new(&tl, NULL, NULL), 0);
  fl_res_t *r;
  assert_int_equal(fl_res_new(&r, &loop, tl, &sys, cg, no_pid, NULL), 0);
  fl_res_sample(r);
  put(acct, "cpuacct.usage", "1250000000");
  put(mem, "memory.stat", "total_rss 9000000\n");
  put(mem, "memory.oom_control", "oom_kill 1\n");
  fl_res_sample(r);
  put(mem, "memory.stat", "total_rss 2000000\n");
  put(acct, "cpuacct.usage", "0"); /* a counter that went back: ignored */
  fl_res_sample(r);
  assert_true(fl_res_oom_kills(r) == 1);
  assert_true(fl_res_peak_since(r, 0) == 9000000);
  json_t *o = json_object();
  fl_res_to_json(r, o);
  json_t *res = json_object_get(o, "resources");
  assert_int_equal(json_array_size(json_object_get(res, "t_s")), 3);
  json_t *cpu = json_object_get(res, "cpu_s");
  assert_true(json_real_value(json_array_get(cpu, 0)) == 0.5);
  assert_true(json_real_value(json_array_get(cpu, 1)) == 1.25);
  assert_true(json_real_value(json_array_get(cpu, 2)) == 1.25); /* never backwards */
  assert_int_equal(
      json_integer_value(json_array_get(json_object_get(res, "rss_bytes"), 2)), 2000000);
  assert_int_equal(json_integer_value(json_object_get(o, "peak_rss_bytes")), 9000000);
  assert_true(json_real_value(json_object_get(o, "cpu_s")) == 1.25);
  json_decref(o);
  fl_res_free(r);
  close_loop(&loop);
  fl_timeline_free(tl);
  fl_rm_tree(d);
}

/* Without a cgroup: this process's group, read from /proc. */
static void test_proc_fallback(void **state) {
  (void)state;
  int64_t ns0, rss;
  assert_true(fl_res_proc_group((int)getpgrp(), &ns0, &rss) >= 1);
  assert_true(rss > 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  fl_timeline_t *tl;
  assert_int_equal(fl_timeline_new(&tl, NULL, NULL), 0);
  fl_cg_sys_t none = {0};
  fl_res_t *r;
  assert_int_equal(fl_res_new(&r, &loop, tl, &none, NULL, own_group, NULL), 0);
  double c0 = fl_res_cpu_s(r);
  burn_ms(150);
  double c1 = fl_res_cpu_s(r);
  assert_true(c1 - c0 >= 0.12); /* what this process burnt is counted (10 ms ticks) */
  assert_true(c1 >= ns0 / 1e9);
  /* the timer samples on its own, and does not keep the loop alive */
  uv_run(&loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_alive(&loop), 0);
  fl_res_free(r);
  close_loop(&loop);
  fl_timeline_free(tl);
}

/* Past FL_RES_MAX_POINTS samples the series is thinned, never grown. */
static void test_bounded(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  fl_timeline_t *tl;
  assert_int_equal(fl_timeline_new(&tl, NULL, NULL), 0);
  fl_cg_sys_t none = {0};
  fl_res_t *r;
  assert_int_equal(fl_res_new(&r, &loop, tl, &none, NULL, no_pid, NULL), 0);
  for (int i = 0; i < 3 * FL_RES_MAX_POINTS; i++)
    fl_res_sample(r);
  json_t *o = json_object();
  fl_res_to_json(r, o);
  json_t *res = json_object_get(o, "resources");
  size_t n = json_array_size(json_object_get(res, "t_s"));
  assert_true(n <= FL_RES_MAX_POINTS && n >= FL_RES_MAX_POINTS / 2);
  assert_true(json_real_value(json_object_get(res, "interval_s")) >= 1.0);
  json_decref(o);
  fl_res_free(r);
  close_loop(&loop);
  fl_timeline_free(tl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cgroup_series),
      cmocka_unit_test(test_proc_fallback),
      cmocka_unit_test(test_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
