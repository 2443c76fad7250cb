/* faults/clock: the skew model behind svc:clock (offset, jump, drift, reset,
 * a restart), the control file libfaketime reads, telling static and Go
 * programs apart, and sweeping libfaketime's shared memory. When libfaketime
 * is installed, a process run under it reads what the file says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "tests/helpers/test_skip.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "faults/clock.h"
#include "base/alloc.h"

static char dir[64];

static int setup(void **state) {
  snprintf(dir, sizeof(dir), "/tmp/fl-clock-test.XXXXXX");
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  return 0;
}

static void read_file(const char *path, char *buf, size_t n) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t got = fread(buf, 1, n - 1, f);
  buf[got] = '\0';
  fclose(f);
}

#define assert_near(a, b) assert_true(fabs((a) - (b)) < 1e-6)

static void test_model(void **state) {
  fl_clock_t *c;
  char sub[128], buf[128];
  snprintf(sub, sizeof(sub), "%s/clock", dir);
  assert_int_equal(fl_clock_new(&c, sub, "n1", NULL), 0);
  read_file(fl_clock_file(c), buf, sizeof(buf));
  assert_string_equal(buf, "+0.000000 x1.000000\n");
  const char *const *env = fl_clock_env(c);
  assert_non_null(strstr(env[0], "FAKETIME_TIMESTAMP_FILE=/tmp/fl-clock-test."));
  assert_string_equal(env[1], "FAKETIME_NO_CACHE=1");
  assert_string_equal(env[2], "FAKETIME_DONT_FAKE_MONOTONIC=1");
  assert_null(env[3]);

  /* The service starts at t = 1000; an offset at 1010. */
  assert_int_equal(fl_clock_started(c, 1000), 0);
  assert_int_equal(fl_clock_set_offset(c, 1010, 3600), 0);
  assert_near(fl_clock_skew(c, 1020), 3600);
  read_file(fl_clock_file(c), buf, sizeof(buf));
  assert_string_equal(buf, "+3600.000000 x1.000000\n");
  /* A jump back by a minute. */
  fl_clock_jump(c, 1030, -60);
  assert_near(fl_clock_skew(c, 1030), 3540);
  /* Drift at x2 from 1040: 10 s later the skew grew by 10 s. The file's
   * offset is relative to the process start: OFF + (t - 1000) * (2 - 1). */
  fl_clock_set_rate(c, 1040, 2);
  assert_near(fl_clock_skew(c, 1050), 3550);
  assert_near(fl_clock_file_offset(c), 3540 - 40);
  read_file(fl_clock_file(c), buf, sizeof(buf));
  assert_string_equal(buf, "+3500.000000 x2.000000\n");
  assert_near(fl_clock_file_offset(c) + (1050 - 1000) * (2 - 1), fl_clock_skew(c, 1050));
  /* Back to rate 1 at 1060: the drift is kept. */
  fl_clock_set_rate(c, 1060, 1);
  assert_near(fl_clock_skew(c, 1100), 3560);
  /* A restart at 2000 with rate 2: the file counts from the new start. */
  fl_clock_set_rate(c, 1100, 2);
  fl_clock_started(c, 2000);
  assert_near(fl_clock_skew(c, 2000), 3560 + 900);
  assert_near(fl_clock_file_offset(c), 4460);
  /* An offset sets the whole skew, whatever drifted before. */
  fl_clock_set_offset(c, 2010, -5);
  assert_near(fl_clock_skew(c, 2010), -5);
  assert_near(fl_clock_skew(c, 2020), 5);
  fl_clock_reset(c, 2030);
  assert_near(fl_clock_skew(c, 2100), 0);
  assert_near(fl_clock_rate(c), 1);
  read_file(fl_clock_file(c), buf, sizeof(buf));
  assert_string_equal(buf, "+0.000000 x1.000000\n");
  fl_clock_free(c);

  fl_clock_format(-1.5, 0.5, buf, sizeof(buf));
  assert_string_equal(buf, "-1.500000 x0.500000\n");
  /* An unwritable directory is an error with a message. */
  fl_err_t err = {0};
  assert_true(fl_clock_new(&c, "/proc/fl-no-such-dir", "x", &err) < 0);
  assert_non_null(strstr(err.msg, "/proc/fl-no-such-dir"));
}

static void test_binaries(void **state) {
  char why[512];
  assert_int_equal(fl_clock_binary_check("/bin/sh", why, sizeof(why)), 0);
  /* A script and a missing file: cannot tell, so no objection. */
  char script[128];
  snprintf(script, sizeof(script), "%s/script.sh", dir);
  FILE *f = fopen(script, "w");
  fputs("#!/bin/sh\necho hi\n", f);
  fclose(f);
  assert_int_equal(fl_clock_binary_check(script, why, sizeof(why)), 0);
  assert_int_equal(fl_clock_binary_check("/nonexistent/x", why, sizeof(why)), 0);
  /* A static program, built here when the toolchain can. */
  char src[128], bin[128], cmd[512];
  snprintf(src, sizeof(src), "%s/s.c", dir);
  snprintf(bin, sizeof(bin), "%s/s", dir);
  f = fopen(src, "w");
  fputs("int main(void) { return 0; }\n", f);
  fclose(f);
  snprintf(cmd, sizeof(cmd), "cc -static -o %s %s 2>/dev/null", bin, src);
  if (system(cmd) == 0) {
    assert_int_equal(fl_clock_binary_check(bin, why, sizeof(why)), FL_ENOSUPPORT);
    assert_non_null(strstr(why, "statically linked"));
  }
  if (access("/usr/bin/etcd", X_OK) == 0) {
    assert_int_equal(fl_clock_binary_check("/usr/bin/etcd", why, sizeof(why)),
                     FL_ENOSUPPORT);
    assert_non_null(strstr(why, "Go program"));
  }
}

static void test_shm(void **state) {
  char shm[128], path[256];
  snprintf(shm, sizeof(shm), "%s/shm", dir);
  mkdir(shm, 0755);
  fl_clock_set_shm_dir(shm);
  int dead = 999999999, live = (int)getpid();
  const char *fmt[] = {"%s/faketime_shm_%d", "%s/sem.faketime_sem_%d"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof(path), fmt[i], shm, dead);
    fclose(fopen(path, "w"));
    snprintf(path, sizeof(path), fmt[i], shm, live);
    fclose(fopen(path, "w"));
  }
  snprintf(path, sizeof(path), "%s/unrelated", shm);
  fclose(fopen(path, "w"));
  assert_int_equal(fl_clock_sweep_shm(), 2);
  snprintf(path, sizeof(path), "%s/faketime_shm_%d", shm, live);
  assert_int_equal(access(path, F_OK), 0);
  fl_clock_release_pid(live);
  assert_int_not_equal(access(path, F_OK), 0);
  snprintf(path, sizeof(path), "%s/unrelated", shm);
  assert_int_equal(access(path, F_OK), 0);
  fl_clock_set_shm_dir("/dev/shm");
}

/* With libfaketime installed: `date` under it reads the file's offset. */
static void test_libfaketime(void **state) {
  const char *lib = fl_clock_lib();
  if (lib == NULL) {
    FL_SKIP("libfaketime not installed (apt-get install libfaketime)");
    return;
  }
  fl_clock_t *c;
  assert_int_equal(fl_clock_new(&c, dir, "live", NULL), 0);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
  fl_clock_set_offset(c, now, 3600);
  char cmd[1024];
  char *out = fl_asprintf("%s/out", dir);
  snprintf(cmd, sizeof(cmd), "LD_PRELOAD=%s %s %s %s sh -c 'echo $$; date +%%s.%%N' > %s",
           lib, fl_clock_env(c)[0], fl_clock_env(c)[1], fl_clock_env(c)[2], out);
  assert_int_equal(system(cmd), 0);
  char buf[128];
  read_file(out, buf, sizeof(buf));
  int pid = 0;
  double seen = 0;
  assert_int_equal(sscanf(buf, "%d %lf", &pid, &seen), 2);
  assert_true(fabs(seen - now - 3600) < 2);
  fl_clock_release_pid(pid);
  snprintf(cmd, sizeof(cmd), "/dev/shm/faketime_shm_%d", pid);
  assert_int_not_equal(access(cmd, F_OK), 0);
  fl_free(out);
  fl_clock_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model),
      cmocka_unit_test(test_binaries),
      cmocka_unit_test(test_shm),
      cmocka_unit_test(test_libfaketime),
  };
  return cmocka_run_group_tests_name("clock", tests, setup, teardown);
}
