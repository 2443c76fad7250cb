/* faults/cgroup.c on fake cgroup trees (a temp directory laid out like each
 * kind of machine), and on the real hierarchy as root: detached children
 * frozen, thawed and killed together. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "faults/cgroup.h"
#include "tests/helpers/test_skip.h"

static char *tree(void) {
  char tmpl[] = "/tmp/fl-cgtest-XXXXXX";
  char *d = mkdtemp(tmpl);
  assert_non_null(d);
  return fl_strdup(d);
}

static void touch(const char *dir, const char *file, const char *text) {
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", dir, file);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static char *slurp(const char *dir, const char *file) {
  static char buf[256];
  char p[512];
  snprintf(p, sizeof(p), "%s/%s", dir, file);
  FILE *f = fopen(p, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static void test_detect(void **state) {
  (void)state;
  char *d = tree();
  fl_cg_sys_t sys;
  fl_err_t err;
  fl_err_clear(&err);
  assert_true(fl_cgroup_detect(&sys, d, &err) < 0); /* nothing mounted */
  assert_int_equal(sys.kind, FL_CG_NONE);
  assert_non_null(strstr(err.msg, "no cgroup v2 hierarchy"));
  char p[512];
  snprintf(p, sizeof(p), "%s/freezer", d); /* v1 only */
  mkdir(p, 0755);
  touch(p, "cgroup.procs", "");
  assert_int_equal(fl_cgroup_detect(&sys, d, &err), 0);
  assert_int_equal(sys.kind, FL_CG_V1);
  assert_string_equal(sys.root, p);
  snprintf(p, sizeof(p), "%s/unified", d); /* hybrid: v2 beside v1 */
  mkdir(p, 0755);
  touch(p, "cgroup.procs", "");
  assert_int_equal(fl_cgroup_detect(&sys, d, &err), 0);
  assert_int_equal(sys.kind, FL_CG_HYBRID);
  assert_string_equal(sys.root, p);
  touch(d, "cgroup.controllers", "cpu memory"); /* pure v2 */
  touch(d, "cgroup.procs", "");
  assert_int_equal(fl_cgroup_detect(&sys, d, &err), 0);
  assert_int_equal(sys.kind, FL_CG_V2);
  assert_string_equal(sys.root, d);
  assert_non_null(strstr(fl_cgroup_kind_name(FL_CG_HYBRID), "hybrid"));
  fl_rm_tree(d);
  fl_free(d);
}

static void test_fake_tree_files(void **state) {
  (void)state;
  char *d = tree();
  fl_cg_sys_t sys = {.kind = FL_CG_V2};
  snprintf(sys.root, sizeof(sys.root), "%s", d);
  char parent[512], cg[512];
  fl_err_t err;
  fl_err_clear(&err);
  assert_int_equal(fl_cgroup_make_parent(&sys, 42, "run-1", parent, sizeof(parent), &err),
                   0);
  assert_non_null(strstr(parent, "/faultline-42-run-1"));
  assert_int_equal(fl_cgroup_make(parent, "db", cg, sizeof(cg), &err), 0);
  assert_int_equal(fl_cgroup_make(parent, "db", cg, sizeof(cg), &err), 0); /* reused */
  /* a fake cgroup: its files are plain files here */
  touch(cg, "cgroup.procs", "");
  touch(cg, "cgroup.freeze", "0");
  assert_int_equal(fl_cgroup_empty(cg), 1);
  touch(cg, "cgroup.procs", "101\n102\n103\n");
  pid_t pids[2];
  assert_int_equal(fl_cgroup_pids(cg, pids, 2), 3); /* counted past max */
  assert_int_equal(pids[0], 101);
  assert_int_equal(pids[1], 102);
  assert_int_equal(fl_cgroup_empty(cg), 0);
  assert_int_equal(fl_cgroup_freeze(&sys, cg, 1), 0);
  assert_string_equal(slurp(cg, "cgroup.freeze"), "1");
  assert_int_equal(fl_cgroup_freeze(&sys, cg, 0), 0);
  assert_string_equal(slurp(cg, "cgroup.freeze"), "0");
  touch(cg, "cgroup.kill", "");
  touch(cg, "cgroup.procs", "");
  assert_int_equal(fl_cgroup_signal(cg, SIGKILL), 0); /* empty: none signalled */
  assert_string_equal(slurp(cg, "cgroup.kill"), "1");
  /* v1: freezer.state */
  char v1[512];
  fl_cg_sys_t s1 = {.kind = FL_CG_V1};
  assert_int_equal(fl_cgroup_make(parent, "v1", v1, sizeof(v1), &err), 0);
  touch(v1, "freezer.state", "THAWED");
  assert_int_equal(fl_cgroup_freeze(&s1, v1, 1), 0);
  assert_string_equal(slurp(v1, "freezer.state"), "FROZEN");
  char none[512];
  assert_int_equal(fl_cgroup_make(parent, "none", none, sizeof(none), &err), 0);
  assert_int_equal(fl_cgroup_freeze(&sys, none, 1), -ENOTSUP);
  char *cmd = fl_cgroup_reaper_cmd(parent);
  assert_non_null(strstr(cmd, parent));
  assert_non_null(strstr(cmd, "cgroup.kill"));
  fl_free(cmd);
  fl_rm_tree(d);
  fl_free(d);
}

static void cb_count(const char *path, void *arg) {
  (void)path;
  (*(int *)arg)++;
}

/* cleanup: a dead faultline's parent is found, a live one's is not. */
static void test_cleanup_finds_dead_runs(void **state) {
  (void)state;
  char *d = tree();
  fl_cg_sys_t sys = {.kind = FL_CG_V2};
  snprintf(sys.root, sizeof(sys.root), "%s", d);
  pid_t dead = fork();
  if (dead == 0)
    _exit(0);
  waitpid(dead, NULL, 0);
  char p[512];
  assert_int_equal(fl_cgroup_make_parent(&sys, (int)dead, "gone", p, sizeof(p), NULL), 0);
  assert_int_equal(fl_cgroup_make_parent(&sys, (int)getpid(), "live", p, sizeof(p), NULL),
                   0);
  int n = 0;
  assert_int_equal(fl_cgroup_cleanup(&sys, FL_CG_DRY_RUN, cb_count, &n), 1);
  assert_int_equal(n, 1);
  n = 0;
  assert_int_equal(fl_cgroup_cleanup(&sys, FL_CG_ALL | FL_CG_DRY_RUN, cb_count, &n), 2);
  fl_rm_tree(d);
  fl_free(d);
}

/* As root on the real hierarchy: two children that left the process group
 * are frozen, thawed and killed as one. */
static void test_real_cgroup(void **state) {
  (void)state;
  fl_cg_sys_t sys;
  if (geteuid() != 0 || fl_cgroup_detect(&sys, "/sys/fs/cgroup", NULL) != 0)
    FL_SKIP("needs root and a cgroup v2 hierarchy or v1 freezer");
  char parent[512], cg[512];
  assert_int_equal(
      fl_cgroup_make_parent(&sys, (int)getpid(), "unit", parent, sizeof(parent), NULL),
      0);
  assert_int_equal(fl_cgroup_make(parent, "svc", cg, sizeof(cg), NULL), 0);
  pid_t kid = fork();
  if (kid == 0) {
    if (fl_cgroup_enter(cg, 0) != 0)
      _exit(1);
    for (int i = 0; i < 2; i++)
      if (fork() == 0) {
        setsid();
        for (;;)
          pause();
      }
    for (;;)
      pause();
  }
  int n = 0;
  for (int i = 0; i < 100 && (n = fl_cgroup_pids(cg, NULL, 0)) < 3; i++)
    usleep(10000);
  assert_int_equal(n, 3);
  assert_int_equal(fl_cgroup_freeze(&sys, cg, 1), 0);
  assert_int_equal(fl_cgroup_freeze(&sys, cg, 0), 0);
  assert_true(fl_cgroup_signal(cg, SIGKILL) >= 1);
  waitpid(kid, NULL, 0);
  for (int i = 0; i < 100 && fl_cgroup_empty(cg) == 0; i++)
    usleep(10000);
  assert_int_equal(fl_cgroup_empty(cg), 1);
  assert_int_equal(fl_cgroup_remove(cg), 0);
  assert_int_equal(fl_cgroup_remove(parent), 0);
}

static void mkdir_in(const char *dir, const char *sub, char *out, size_t size) {
  snprintf(out, size, "%s/%s", dir, sub);
  assert_int_equal(fl_mkdir_p(out), 0);
}

/* A hybrid machine: containment in unified/, limits and stats in the v1
 * cpu, cpuacct and memory hierarchies under the same relative path. */
static void test_hybrid_limits_and_stats(void **state) {
  (void)state;
  char *d = tree();
  char uni[512], cpu[512], acct[512], mem[512];
  mkdir_in(d, "unified", uni, sizeof(uni));
  touch(uni, "cgroup.procs", "");
  mkdir_in(d, "cpu", cpu, sizeof(cpu));
  touch(cpu, "cpu.cfs_quota_us", "-1");
  mkdir_in(d, "cpuacct", acct, sizeof(acct));
  touch(acct, "cpuacct.usage", "0");
  mkdir_in(d, "memory", mem, sizeof(mem));
  touch(mem, "memory.limit_in_bytes", "9223372036854771712");
  fl_cg_sys_t sys;
  assert_int_equal(fl_cgroup_detect(&sys, d, NULL), 0);
  assert_int_equal(sys.kind, FL_CG_HYBRID);
  assert_string_equal(sys.ctl[FL_CG_CTL_CPU], cpu);
  assert_string_equal(sys.ctl[FL_CG_CTL_CPUACCT], acct);
  assert_string_equal(sys.ctl[FL_CG_CTL_MEMORY], mem);
  char parent[512], cg[512], p[512];
  assert_int_equal(fl_cgroup_make_parent(&sys, 42, "r", parent, sizeof(parent), NULL), 0);
  assert_int_equal(fl_cgroup_make(parent, "db", cg, sizeof(cg), NULL), 0);
  assert_int_equal(fl_cgroup_make_ctl(&sys, cg), 3); /* cpu, cpuacct, memory */
  char dirs[4][512];
  assert_int_equal(fl_cgroup_enter_dirs(&sys, cg, dirs, 4), 4);
  assert_string_equal(dirs[0], cg);
  assert_int_equal(fl_cgroup_ctl_path(&sys, cg, FL_CG_CTL_MEMORY, p, sizeof(p)), 0);
  assert_non_null(strstr(p, "/memory/faultline-42-r/db"));
  assert_int_equal(fl_cgroup_ctl_path(&sys, "/elsewhere/x", FL_CG_CTL_CPU, p, sizeof(p)),
                   -ENOENT);
  /* limits: the files as the kernel shows them, written as it wants */
  char c[512], a[512], m[512];
  fl_cgroup_ctl_path(&sys, cg, FL_CG_CTL_CPU, c, sizeof(c));
  fl_cgroup_ctl_path(&sys, cg, FL_CG_CTL_CPUACCT, a, sizeof(a));
  fl_cgroup_ctl_path(&sys, cg, FL_CG_CTL_MEMORY, m, sizeof(m));
  touch(c, "cpu.cfs_quota_us", "-1");
  touch(c, "cpu.cfs_period_us", "100000");
  touch(m, "memory.limit_in_bytes", "9223372036854771712");
  touch(m, "memory.memsw.limit_in_bytes", "9223372036854771712");
  assert_int_equal(fl_cgroup_cpu_quota(&sys, cg, 0.2, NULL), 0);
  assert_string_equal(slurp(c, "cpu.cfs_quota_us"), "20000");
  assert_string_equal(slurp(c, "cpu.cfs_period_us"), "100000");
  assert_int_equal(fl_cgroup_cpu_quota(&sys, cg, 0, NULL), 0);
  assert_string_equal(slurp(c, "cpu.cfs_quota_us"), "-1");
  assert_int_equal(fl_cgroup_memory_max(&sys, cg, 64 << 20, NULL), 0);
  assert_string_equal(slurp(m, "memory.limit_in_bytes"), "67108864");
  assert_string_equal(slurp(m, "memory.memsw.limit_in_bytes"), "67108864");
  assert_int_equal(fl_cgroup_memory_max(&sys, cg, 0, NULL), 0);
  assert_string_equal(slurp(m, "memory.limit_in_bytes"), "-1");
  assert_string_equal(slurp(m, "memory.memsw.limit_in_bytes"), "-1");
  /* stats */
  touch(a, "cpuacct.usage", "1500000000\n");
  touch(m, "memory.usage_in_bytes", "9000000\n");
  touch(m, "memory.stat",
        "cache 100\nrss 5\nrss_huge 0\ntotal_cache 100\n"
        "total_rss 1048576\ntotal_rss_huge 0\n");
  touch(m, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
  fl_cg_stats_t st;
  assert_int_equal(fl_cgroup_stats(&sys, cg, &st), 0);
  assert_true(st.cpu_ns == 1500000000);
  assert_true(st.rss_bytes == 1048576); /* total_rss, not rss nor total_rss_huge */
  assert_true(st.mem_bytes == 9000000);
  assert_true(st.oom_kills == 2);
  /* the sweep finds the dead run's parent in every hierarchy */
  int n = 0;
  assert_int_equal(fl_cgroup_cleanup(&sys, FL_CG_ALL | FL_CG_DRY_RUN, cb_count, &n), 4);
  assert_int_equal(n, 4);
  fl_rm_tree(d);
  fl_free(d);
}

/* A v1-only machine: the freezer for containment, the same controllers. */
static void test_v1_detect_controllers(void **state) {
  (void)state;
  char *d = tree();
  char fr[512], mem[512];
  mkdir_in(d, "freezer", fr, sizeof(fr));
  touch(fr, "cgroup.procs", "");
  mkdir_in(d, "memory", mem, sizeof(mem));
  touch(mem, "memory.limit_in_bytes", "-1");
  fl_cg_sys_t sys;
  assert_int_equal(fl_cgroup_detect(&sys, d, NULL), 0);
  assert_int_equal(sys.kind, FL_CG_V1);
  assert_string_equal(sys.ctl[FL_CG_CTL_MEMORY], mem);
  assert_string_equal(sys.ctl[FL_CG_CTL_CPU], ""); /* not mounted here */
  char parent[512], cg[512];
  assert_int_equal(fl_cgroup_make_parent(&sys, 7, "r", parent, sizeof(parent), NULL), 0);
  assert_int_equal(fl_cgroup_make(parent, "db", cg, sizeof(cg), NULL), 0);
  fl_err_t err;
  fl_err_clear(&err);
  assert_int_equal(fl_cgroup_cpu_quota(&sys, cg, 0.5, &err), -ENOENT);
  assert_non_null(strstr(err.msg, "no cpu cgroup controller"));
  fl_rm_tree(d);
  fl_free(d);
}

/* Pure v2: one tree, controllers enabled through cgroup.subtree_control. */
static void test_v2_limits_and_stats(void **state) {
  (void)state;
  char *d = tree();
  touch(d, "cgroup.controllers", "cpuset cpu io memory pids\n");
  touch(d, "cgroup.procs", "");
  touch(d, "cgroup.subtree_control", "");
  fl_cg_sys_t sys;
  assert_int_equal(fl_cgroup_detect(&sys, d, NULL), 0);
  assert_int_equal(sys.kind, FL_CG_V2);
  assert_string_equal(sys.ctl[FL_CG_CTL_CPU], d);
  assert_string_equal(sys.ctl[FL_CG_CTL_MEMORY], d);
  assert_string_equal(sys.ctl[FL_CG_CTL_CPUACCT], "");
  char parent[512], cg[512];
  assert_int_equal(fl_cgroup_make_parent(&sys, 42, "r", parent, sizeof(parent), NULL), 0);
  assert_string_equal(slurp(d, "cgroup.subtree_control"), "+memory"); /* the last write */
  assert_int_equal(fl_cgroup_make(parent, "db", cg, sizeof(cg), NULL), 0);
  touch(parent, "cgroup.subtree_control", "");
  assert_int_equal(fl_cgroup_make_ctl(&sys, cg), 2);
  char dirs[4][512];
  assert_int_equal(fl_cgroup_enter_dirs(&sys, cg, dirs, 4), 1); /* one tree */
  touch(cg, "cpu.max", "max 100000");
  touch(cg, "memory.max", "max");
  touch(cg, "memory.swap.max", "max");
  assert_int_equal(fl_cgroup_cpu_quota(&sys, cg, 0.2, NULL), 0);
  assert_string_equal(slurp(cg, "cpu.max"), "20000 100000");
  assert_int_equal(fl_cgroup_cpu_quota(&sys, cg, -1, NULL), 0);
  assert_string_equal(slurp(cg, "cpu.max"), "max 100000");
  assert_int_equal(fl_cgroup_cpu_quota(&sys, cg, 0.001, NULL), 0);
  assert_string_equal(slurp(cg, "cpu.max"), "1000 100000"); /* the kernel's least */
  assert_int_equal(fl_cgroup_memory_max(&sys, cg, 48 << 20, NULL), 0);
  assert_string_equal(slurp(cg, "memory.max"), "50331648");
  assert_string_equal(slurp(cg, "memory.swap.max"), "0");
  assert_int_equal(fl_cgroup_memory_max(&sys, cg, 0, NULL), 0);
  assert_string_equal(slurp(cg, "memory.max"), "max");
  assert_string_equal(slurp(cg, "memory.swap.max"), "max");
  touch(cg, "cpu.stat", "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n");
  touch(cg, "memory.current", "4194304\n");
  touch(cg, "memory.stat", "anon_thp 0\nanon 2097152\nfile 4096\n");
  touch(cg, "memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
  fl_cg_stats_t st;
  assert_int_equal(fl_cgroup_stats(&sys, cg, &st), 0);
  assert_true(st.cpu_ns == 2500000000LL);
  assert_true(st.rss_bytes == 2097152); /* anon, not anon_thp */
  assert_true(st.mem_bytes == 4194304);
  assert_true(st.oom_kills == 1);
  /* without the memory controller: no memory figures, and a clear error */
  touch(d, "cgroup.controllers", "cpu pids\n");
  assert_int_equal(fl_cgroup_detect(&sys, d, NULL), 0);
  fl_err_t err;
  fl_err_clear(&err);
  assert_int_equal(fl_cgroup_memory_max(&sys, cg, 1 << 20, &err), -ENOENT);
  assert_non_null(strstr(err.msg, "no memory cgroup controller"));
  assert_int_equal(fl_cgroup_stats(&sys, cg, &st), 0);
  assert_true(st.cpu_ns == 2500000000LL && st.rss_bytes == -1 && st.oom_kills == -1);
  fl_rm_tree(d);
  fl_free(d);
}

static void test_parse_bytes(void **state) {
  (void)state;
  int64_t v;
  assert_int_equal(fl_cgroup_parse_bytes("64M", &v), 0);
  assert_true(v == 64 << 20);
  assert_int_equal(fl_cgroup_parse_bytes("1.5G", &v), 0);
  assert_true(v == 3LL << 29);
  assert_int_equal(fl_cgroup_parse_bytes("512k", &v), 0);
  assert_true(v == 512 << 10);
  assert_int_equal(fl_cgroup_parse_bytes("4096", &v), 0);
  assert_true(v == 4096);
  assert_int_equal(fl_cgroup_parse_bytes("64MB", &v), 0);
  assert_true(v == 64 << 20);
  assert_int_equal(fl_cgroup_parse_bytes("64X", &v), -EINVAL);
  assert_int_equal(fl_cgroup_parse_bytes("", &v), -EINVAL);
  assert_int_equal(fl_cgroup_parse_bytes("-1M", &v), -EINVAL);
  assert_int_equal(fl_cgroup_parse_bytes(NULL, &v), -EINVAL);
}

/* As root: a real cgroup with its controller counterparts counts the CPU a
 * child burns and the memory it holds, and takes a quota. */
static void test_real_stats(void **state) {
  (void)state;
  fl_cg_sys_t sys;
  if (geteuid() != 0 || fl_cgroup_detect(&sys, "/sys/fs/cgroup", NULL) != 0 ||
      !sys.ctl[FL_CG_CTL_CPU][0] || !sys.ctl[FL_CG_CTL_MEMORY][0])
    FL_SKIP("needs root and cpu and memory cgroup controllers");
  char parent[512], cg[512], dirs[4][512];
  assert_int_equal(
      fl_cgroup_make_parent(&sys, (int)getpid(), "stats", parent, sizeof(parent), NULL),
      0);
  assert_int_equal(fl_cgroup_make(parent, "svc", cg, sizeof(cg), NULL), 0);
  fl_cgroup_make_ctl(&sys, cg);
  int nd = fl_cgroup_enter_dirs(&sys, cg, dirs, 4);
  assert_int_equal(fl_cgroup_cpu_quota(&sys, cg, 0.5, NULL), 0);
  assert_int_equal(fl_cgroup_memory_max(&sys, cg, 256 << 20, NULL), 0);
  int pipefd[2];
  assert_int_equal(pipe(pipefd), 0);
  pid_t kid = fork();
  if (kid == 0) {
    for (int i = 0; i < nd; i++)
      if (fl_cgroup_enter(dirs[i], 0) != 0)
        _exit(1);
    size_t n = 8 << 20;
    volatile char *mem = malloc(n);
    for (size_t i = 0; i < n; i += 4096)
      mem[i] = 1;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do /* 0.4 s of CPU, less under load */
      clock_gettime(CLOCK_MONOTONIC, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 400000000L);
    (void)!write(pipefd[1], "x", 1);
    for (;;)
      pause();
  }
  char c;
  assert_int_equal(read(pipefd[0], &c, 1), 1);
  fl_cg_stats_t st;
  assert_int_equal(fl_cgroup_stats(&sys, cg, &st), 0);
  assert_true(st.cpu_ns > 50000000); /* at least 50 ms counted */
  assert_true(st.rss_bytes >= 4 << 20);
  assert_true(st.oom_kills == 0);
  kill(kid, SIGKILL);
  waitpid(kid, NULL, 0);
  close(pipefd[0]);
  close(pipefd[1]);
  for (int i = 0; i < 100 && fl_cgroup_empty(cg) == 0; i++)
    usleep(10000);
  assert_int_equal(fl_cgroup_remove(cg), 0);
  assert_int_equal(fl_cgroup_remove_ctl(&sys, cg), 0);
  assert_int_equal(fl_cgroup_remove(parent), 0);
  assert_int_equal(fl_cgroup_remove_ctl(&sys, parent), 0);
  char p[512];
  for (int k = 0; k < FL_CG_NCTL; k++)
    if (fl_cgroup_ctl_path(&sys, parent, k, p, sizeof(p)) == 0)
      assert_int_not_equal(access(p, F_OK), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detect),
      cmocka_unit_test(test_fake_tree_files),
      cmocka_unit_test(test_cleanup_finds_dead_runs),
      cmocka_unit_test(test_real_cgroup),
      cmocka_unit_test(test_hybrid_limits_and_stats),
      cmocka_unit_test(test_v1_detect_controllers),
      cmocka_unit_test(test_v2_limits_and_stats),
      cmocka_unit_test(test_parse_bytes),
      cmocka_unit_test(test_real_stats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
