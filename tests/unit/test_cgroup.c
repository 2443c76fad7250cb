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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detect),
      cmocka_unit_test(test_fake_tree_files),
      cmocka_unit_test(test_cleanup_finds_dead_runs),
      cmocka_unit_test(test_real_cgroup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
