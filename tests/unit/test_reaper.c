/* harness/reaper: nobody left behind. Each test forks a stand-in for
 * faultline (a child that starts the reaper, makes process groups the way
 * the supervisor does, and tells the reaper about them), kills it with
 * SIGKILL, and checks what the reaper did: tracked groups (children
 * included) gone within 2 s, untracked ones left alone, death commands run
 * unless forgotten, a Ctrl-C of faultline's group not taking the reaper
 * down, a long death command not mistaken for faultline's death. And the
 * exec shim: the parent-death signal, a wrong PPID, bad usage.
 *
 * The test process is a child subreaper, so the orphans of the killed
 * stand-in (its groups and its reaper) come back to it and are reaped: no
 * zombie is left in a container whose init does not reap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "harness/reaper.h"
#include "tests/helpers/unit_loop.h"

typedef struct {
  char dir[64];
  pid_t standin;   /* killed at teardown if a failed test left it */
  pid_t others[4]; /* processes a test made and must not leave behind */
} fx_t;

static int setup(void **state) {
  fx_t *fx = fl_calloc(1, sizeof(*fx));
  ut_tmpdir(fx->dir, sizeof(fx->dir), "reaper");
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  if (fx->standin > 0) {
    kill(fx->standin, SIGKILL);
    waitpid(fx->standin, NULL, 0);
  }
  for (int i = 0; i < 4; i++)
    if (fx->others[i] > 0)
      kill(fx->others[i], SIGKILL);
  /* Reap whatever came back to us (the reaper, once it is done). */
  for (int i = 0; i < 200 && waitpid(-1, NULL, WNOHANG) >= 0; i++)
    uv_sleep(10);
  ut_rmdir(fx->dir);
  fl_free(fx);
  return 0;
}

/* In the stand-in: a new session running `sh -c script`, like a service's
 * group. Returns its pid (= its group). */
static pid_t spawn_group(const char *script) {
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    /* Not the test's output: a process left behind would hold ctest's pipe
     * open, and ctest would wait for it. */
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    dup2(devnull, 2);
    close(devnull);
    execl("/bin/sh", "sh", "-c", script, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static int file_exists(const char *path) {
  return access(path, F_OK) == 0;
}

/* In the stand-in: waits (without a loop) for a file a script writes. */
static int wait_file(const char *path, uint64_t ms) {
  uint64_t end = ut_ms() + ms;
  while (!file_exists(path)) {
    if (ut_ms() > end)
      return 0;
    uv_sleep(10);
  }
  return 1;
}

static pid_t read_pid(const char *path) {
  char *s = ut_read_file(path);
  pid_t pid = s != NULL ? (pid_t)atoi(s) : 0;
  free(s);
  return pid;
}

/* Forks the stand-in, which runs body(dir, out_fd) and then waits to be
 * killed; body writes what the test needs to know to out_fd, one line.
 * Returns the stand-in's pid (also in fx->standin); *report gets the line. */
static pid_t fork_standin(fx_t *fx, int (*body)(const char *dir, int fd), char *report,
                          size_t size) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t parent = getpid();
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* Whatever happens to the test, the stand-in does not outlive it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(1);
    close(fds[0]);
    int rc = body(fx->dir, fds[1]);
    if (rc != 0)
      _exit(rc);
    close(fds[1]);
    for (;;)
      pause();
  }
  fx->standin = pid;
  close(fds[1]);
  /* One line: the groups it made hold the pipe too, so no EOF comes. */
  size_t len = 0;
  ssize_t n;
  while (len < size - 1 && (len == 0 || report[len - 1] != '\n') &&
         (n = read(fds[0], report + len, size - 1 - len)) > 0)
    len += (size_t)n;
  report[len] = '\0';
  close(fds[0]);
  if (len == 0) {
    int st = 0;
    waitpid(pid, &st, 0);
    fx->standin = 0;
    fail_msg("the stand-in failed (status %d)", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  }
  return pid;
}

static void kill_standin(fx_t *fx) {
  assert_int_equal(kill(fx->standin, SIGKILL), 0);
  int st;
  assert_int_equal(waitpid(fx->standin, &st, 0), fx->standin);
  fx->standin = 0;
  assert_true(WIFSIGNALED(st));
}

static int standin_groups(const char *dir, int fd) {
  if (fl_reaper_start() != 0)
    return 2;
  if (fl_reaper_start() != 0) /* idempotent */
    return 3;
  char *kid = fl_asprintf("%s/kid.pid", dir);
  char *script = fl_asprintf("sleep 60 & echo $! > %s.tmp && mv %s.tmp %s; exec sleep 60",
                             kid, kid, kid);
  pid_t tracked = spawn_group(script);
  fl_reaper_track(tracked);
  pid_t untracked = spawn_group("exec sleep 60");
  fl_reaper_track(untracked);
  fl_reaper_untrack(untracked);
  /* Death commands: k1 runs, k2 is forgotten, k3 was replaced by nothing. */
  char *c1 = fl_asprintf("echo ran > %s/k1", dir);
  char *c2 = fl_asprintf("touch %s/k2", dir);
  fl_reaper_on_death("k1", c1);
  fl_reaper_on_death("k2", c2);
  fl_reaper_forget("k2");
  fl_reaper_forget("no-such-key");
  if (!wait_file(kid, 5000))
    return 4;
  dprintf(fd, "%d %d %d\n", (int)tracked, (int)read_pid(kid), (int)untracked);
  return 0;
}

/* The point of the reaper: faultline is SIGKILLed, its groups go anyway. */
static void test_reaper_kills_groups(void **state) {
  fx_t *fx = *state;
  char report[128];
  fork_standin(fx, standin_groups, report, sizeof(report));
  int tracked = 0, kid = 0, untracked = 0;
  assert_int_equal(sscanf(report, "%d %d %d", &tracked, &kid, &untracked), 3);
  fx->others[0] = tracked;
  fx->others[1] = kid;
  fx->others[2] = untracked;
  assert_int_equal(kill(tracked, 0), 0);
  assert_int_equal(kill(kid, 0), 0);
  assert_int_equal(getpgid(kid), tracked);

  kill_standin(fx);
  assert_true(ut_wait_dead(tracked, 2000));
  assert_true(ut_wait_dead(kid, 2000));

  char *k1 = fl_asprintf("%s/k1", fx->dir), *k2 = fl_asprintf("%s/k2", fx->dir);
  uint64_t end = ut_ms() + 2000;
  while (!file_exists(k1) && ut_ms() < end)
    uv_sleep(10);
  char *ran = ut_read_file(k1);
  assert_non_null(ran);
  assert_string_equal(ran, "ran\n");
  free(ran);
  /* Commands run last to first: k2 would have run before k1. */
  assert_false(file_exists(k2));
  /* An untracked group is not the reaper's business. */
  assert_int_equal(kill(untracked, 0), 0);
  assert_false(ut_proc_dead(untracked));
  kill(untracked, SIGKILL);
  assert_true(ut_wait_dead(untracked, 2000));
  fl_free(k1);
  fl_free(k2);
}

static int standin_ctrl_c(const char *dir, int fd) {
  /* Its own group, standing for faultline's terminal group. */
  if (setpgid(0, 0) != 0)
    return 2;
  pid_t g = spawn_group("exec sleep 60");
  dprintf(fd, "%d\n", (int)g);
  close(fd);
  /* Ctrl-C reaches the whole terminal group, here as early as can be: just
   * after the reaper was forked, before it may even have run. It must not
   * take the reaper with it. Our own default SIGINT action ends us. */
  if (fl_reaper_start() != 0)
    return 3;
  fl_reaper_track(g);
  kill(0, SIGINT);
  kill(0, SIGTERM);
  kill(0, SIGHUP);
  return 5;
}

static void test_reaper_survives_ctrl_c(void **state) {
  fx_t *fx = *state;
  char report[64];
  pid_t standin = fork_standin(fx, standin_ctrl_c, report, sizeof(report));
  pid_t g = (pid_t)atoi(report);
  assert_true(g > 0);
  fx->others[0] = g;
  int st;
  assert_int_equal(waitpid(standin, &st, 0), standin);
  fx->standin = 0;
  assert_true(WIFSIGNALED(st));
  assert_true(ut_wait_dead(g, 2000));
}

static int standin_long_cmd(const char *dir, int fd) {
  if (fl_reaper_start() != 0)
    return 2;
  pid_t g = spawn_group("exec sleep 60");
  fl_reaper_track(g);
  /* A long cleanup command (many firewall rules, say): 20000 bytes, more
   * than the reaper reads at once. */
  size_t n = 20000;
  char *cmd = fl_malloc(n + 64);
  int off = snprintf(cmd, n + 64, "echo long > %s/long; : ", dir);
  memset(cmd + off, 'x', n - (size_t)off);
  cmd[n] = '\0';
  fl_reaper_on_death("long", cmd);
  fl_free(cmd);
  dprintf(fd, "%d\n", (int)g);
  return 0;
}

/* A long line on the pipe must not look like faultline's death to the
 * reaper (which would then kill every group of a live run), and the long
 * command must still run when faultline does die. */
static void test_reaper_long_command(void **state) {
  fx_t *fx = *state;
  char report[64];
  fork_standin(fx, standin_long_cmd, report, sizeof(report));
  pid_t g = (pid_t)atoi(report);
  assert_true(g > 0);
  fx->others[0] = g;
  char *marker = fl_asprintf("%s/long", fx->dir);
  /* faultline still runs: give a wrongly triggered reaper time to act. */
  uv_sleep(500);
  assert_false(ut_proc_dead(g));
  assert_false(file_exists(marker));
  kill_standin(fx);
  assert_true(ut_wait_dead(g, 2000));
  uint64_t end = ut_ms() + 2000;
  while (!file_exists(marker) && ut_ms() < end)
    uv_sleep(10);
  assert_true(file_exists(marker));
  fl_free(marker);
}

/* Without a reaper, the calls are no-ops. */
static void test_no_reaper(void **state) {
  fl_reaper_track(999999);
  fl_reaper_untrack(999999);
  fl_reaper_on_death("k", "false");
  fl_reaper_forget("k");
  const char *self = fl_self_exe();
  assert_true(self[0] == '/');
  assert_ptr_equal(fl_self_exe(), self);
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  assert_true(n > 0);
  buf[n] = '\0';
  assert_string_equal(self, buf);
}

static int standin_shim(const char *dir, int fd) {
  char ppid[24];
  snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
  pid_t svc = fork();
  if (svc == 0) {
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 1);
    dup2(devnull, 2);
    char *argv[] = {"__exec", ppid, "--", "sleep", "60", NULL};
    fl_shim_main(5, argv);
    _exit(126);
  }
  /* Wait for the exec: the shim sets the death signal before it. */
  char path[64], comm[64] = "";
  snprintf(path, sizeof(path), "/proc/%d/comm", (int)svc);
  for (int i = 0; i < 500 && strncmp(comm, "sleep", 5) != 0; i++) {
    char *s = ut_read_file(path);
    snprintf(comm, sizeof(comm), "%s", s ? s : "");
    free(s);
    uv_sleep(10);
  }
  dprintf(fd, "%d\n", (int)svc);
  return 0;
}

/* The shim: its service dies with faultline (PR_SET_PDEATHSIG). */
static void test_shim_parent_death(void **state) {
  fx_t *fx = *state;
  char report[64];
  fork_standin(fx, standin_shim, report, sizeof(report));
  pid_t svc = (pid_t)atoi(report);
  assert_true(svc > 0);
  fx->others[0] = svc;
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/comm", (int)svc);
  char *comm = ut_read_file(path);
  assert_non_null(comm);
  assert_string_equal(comm, "sleep\n"); /* the shim exec'd the service */
  free(comm);
  assert_false(ut_proc_dead(svc));
  kill_standin(fx);
  assert_true(ut_wait_dead(svc, 2000));
}

/* A shim whose parent is not the one named (it died before the shim could
 * ask for the death signal) gives up instead of running the service. */
static void test_shim_wrong_parent_and_usage(void **state) {
  pid_t pid = fork();
  if (pid == 0) {
    char *argv[] = {"__exec", "1", "--", "sleep", "60", NULL};
    _exit(fl_shim_main(5, argv) == 0 ? 0 : 100);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 127);

  /* Bad usage: a message (to a muted stderr here) and 127. */
  fflush(stderr);
  int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
  dup2(devnull, 2);
  char *bad1[] = {"__exec", "123", NULL};
  int rc1 = fl_shim_main(2, bad1);
  char *bad2[] = {"__exec", "123", "sleep", "60", NULL};
  int rc2 = fl_shim_main(4, bad2);
  dup2(saved, 2);
  close(saved);
  close(devnull);
  assert_int_equal(rc1, 127);
  assert_int_equal(rc2, 127);

  /* A command that cannot be executed: the shim says so and returns 127. */
  pid = fork();
  if (pid == 0) {
    char ppid[24];
    snprintf(ppid, sizeof(ppid), "%d", (int)getppid());
    dup2(open("/dev/null", O_WRONLY), 2);
    char *argv[] = {"__exec", ppid, "--", "/nonexistent/cmd", NULL};
    _exit(fl_shim_main(4, argv));
  }
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 127);
}

int main(void) {
  /* Orphans of the killed stand-ins come back to us, to be reaped. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reaper_kills_groups, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reaper_survives_ctrl_c, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reaper_long_command, setup, teardown),
      cmocka_unit_test(test_no_reaper),
      cmocka_unit_test_setup_teardown(test_shim_parent_death, setup, teardown),
      cmocka_unit_test(test_shim_wrong_parent_and_usage),
  };
  return cmocka_run_group_tests_name("reaper", tests, NULL, NULL);
}
