/* Small helpers for the unit tests of loop-driven modules (test_service.c,
 * test_probe.c, test_reaper.c): run a loop until a flag is set or a time
 * limit passes, scratch directories, reading files, and asking /proc about
 * a process. Header-only: everything is static inline. */
#ifndef FL_TEST_UNIT_LOOP_H
#define FL_TEST_UNIT_LOOP_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

typedef struct {
  uint64_t deadline;
  int expired;
} ut_tick_t;

static inline void ut_on_tick(uv_timer_t *t) {
  ut_tick_t *tick = t->data;
  if (uv_now(t->loop) >= tick->deadline)
    tick->expired = 1;
}

/* Runs loop until *flag is non-zero or ms have passed; returns *flag. The
 * loop keeps no handle of ours afterwards. A flag set from a timer callback
 * does not end UV_RUN_ONCE's iteration (it goes on to poll for I/O), so a
 * 10 ms tick makes every iteration short. */
static inline int ut_run_until(uv_loop_t *loop, const int *flag, uint64_t ms) {
  uv_timer_t t;
  ut_tick_t tick = {0};
  uv_update_time(loop);
  tick.deadline = uv_now(loop) + ms;
  uv_timer_init(loop, &t);
  t.data = &tick;
  uv_timer_start(&t, ut_on_tick, 10, 10);
  while (!*flag && !tick.expired)
    uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return *flag;
}

/* Runs loop for ms, whatever happens. */
static inline void ut_run_for(uv_loop_t *loop, uint64_t ms) {
  int never = 0;
  ut_run_until(loop, &never, ms);
}

/* Milliseconds on the monotonic clock. */
static inline uint64_t ut_ms(void) {
  return uv_hrtime() / 1000000;
}

/* Creates a scratch directory /tmp/fl-test-WHAT-XXXXXX into buf (>= 64). */
static inline void ut_tmpdir(char *buf, size_t size, const char *what) {
  snprintf(buf, size, "/tmp/fl-test-%s-XXXXXX", what);
  if (mkdtemp(buf) == NULL) {
    perror("mkdtemp");
    abort();
  }
}

/* Removes a scratch directory made by ut_tmpdir. */
static inline void ut_rmdir(const char *dir) {
  if (strncmp(dir, "/tmp/fl-test-", 13) != 0 || strchr(dir, '\'') != NULL)
    abort();
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", dir);
}

/* Returns new: the whole file, NUL-terminated, or NULL. */
static inline char *ut_read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return NULL;
  size_t cap = 4096, len = 0;
  char *s = malloc(cap);
  size_t n;
  while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len < 2)
      s = realloc(s, cap *= 2);
  }
  s[len] = '\0';
  fclose(f);
  return s;
}

/* The state letter of /proc/PID/stat (R, S, T, Z ...), or 0 when there is
 * no such process. A zombie counts as dead for the tests: whoever its parent
 * is (init, in a container, may not reap), it runs no more. */
static inline char ut_proc_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* "pid (comm) S ...": comm may hold spaces and parentheses. */
  char *rp = strrchr(buf, ')');
  return rp != NULL && rp[1] == ' ' ? rp[2] : 0;
}

static inline int ut_proc_dead(pid_t pid) {
  char st = ut_proc_state(pid);
  if (st == 0 || st == 'Z' || st == 'X')
    return 1;
  return kill(pid, 0) < 0 && errno == ESRCH;
}

/* Polls (without a loop) until pid is dead, for up to ms; returns whether it
 * died. Reaps it if it is our child. */
static inline int ut_wait_dead(pid_t pid, uint64_t ms) {
  uint64_t end = ut_ms() + ms;
  do {
    waitpid(pid, NULL, WNOHANG);
    if (ut_proc_dead(pid))
      return 1;
    uv_sleep(10);
  } while (ut_ms() < end);
  return 0;
}

/* Runs the loop while polling until pid's state is one of states (or, with
 * states "", until it is dead), for up to ms; returns whether it happened. */
static inline int ut_loop_wait_state(uv_loop_t *loop, pid_t pid, const char *states,
                                     uint64_t ms) {
  uint64_t end = ut_ms() + ms;
  do {
    char st = ut_proc_state(pid);
    if (states[0] == '\0' ? ut_proc_dead(pid) : (st != 0 && strchr(states, st) != NULL))
      return 1;
    ut_run_for(loop, 10);
  } while (ut_ms() < end);
  return 0;
}

#endif
