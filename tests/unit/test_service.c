/* harness/service: the supervisor with real processes (/bin/sh scripts and
 * sleep), started through the exec shim. The shim is this test binary
 * itself (fl_self_exe), so main() answers "__exec" as faultline does.
 *
 * Covered: output lines time-stamped in logs/NAME.log (long lines cut, CRLF,
 * stderr), the line callback and the tail, the environment and cwd; a
 * command not found; a crash at start (with its last words in the tail); stop
 * of a service that ignores SIGTERM (SIGKILL after the grace) and of one that
 * does not; stop kills the whole process group; pause/resume as seen in
 * /proc; kill then restart; stop of a service that is down; free while
 * running. Every test ends with uv_loop_close() == 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <netinet/in.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "harness/http.h"
#include "harness/reaper.h"
#include "harness/service.h"
#include "tests/helpers/unit_loop.h"

typedef struct {
  uv_loop_t loop;
  fl_timeline_t *tl;
  char dir[64];
  fl_svc_t *svc;
  /* exit callback */
  int exits;
  int64_t status;
  int sig;
  int expected;
  uint64_t exit_ms;
  char tail_at_exit[1024];
  /* stop/kill callback */
  int waits;
  int64_t wait_status;
  int wait_sig;
  int wait_expected;
  uint64_t wait_ms;
  /* line callback */
  int lines;
  char last_line[4200];
  size_t last_len;
  int saw; /* a line containing fx.want was seen */
  const char *want;
  pid_t child; /* a pid a script printed as "child N" */
} fx_t;

static void on_exit_cb(fl_svc_t *svc, int64_t status, int sig, int expected, void *arg) {
  fx_t *fx = arg;
  fx->exits++;
  fx->status = status;
  fx->sig = sig;
  fx->expected = expected;
  fx->exit_ms = ut_ms();
  char *tail = fl_svc_tail(svc, 5);
  snprintf(fx->tail_at_exit, sizeof(fx->tail_at_exit), "%s", tail);
  fl_free(tail);
  assert_int_equal(fl_svc_pid(svc), 0);
  assert_int_equal(fl_svc_state(svc), FL_SVC_DOWN);
}

static void on_wait_cb(fl_svc_t *svc, int64_t status, int sig, int expected, void *arg) {
  fx_t *fx = arg;
  fx->waits++;
  fx->wait_status = status;
  fx->wait_sig = sig;
  fx->wait_expected = expected;
  fx->wait_ms = ut_ms();
}

static void on_line_cb(fl_svc_t *svc, const char *line, size_t len, void *arg) {
  fx_t *fx = arg;
  fx->lines++;
  assert_true(len < sizeof(fx->last_line));
  memcpy(fx->last_line, line, len);
  fx->last_line[len] = '\0';
  fx->last_len = len;
  assert_null(memchr(line, '\n', len));
  if (fx->want != NULL && strstr(fx->last_line, fx->want) != NULL)
    fx->saw = 1;
  if (strncmp(fx->last_line, "child ", 6) == 0)
    fx->child = (pid_t)atoi(fx->last_line + 6);
}

static int setup(void **state) {
  fx_t *fx = fl_calloc(1, sizeof(*fx));
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  assert_int_equal(fl_timeline_new(&fx->tl, NULL, NULL), 0);
  ut_tmpdir(fx->dir, sizeof(fx->dir), "svc");
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  fl_timeline_free(fx->tl);
  ut_rmdir(fx->dir);
  fl_free(fx);
  return 0;
}

/* Frees the service (if any) and checks the loop closes: nothing left. */
static void close_loop(fx_t *fx) {
  fl_svc_free(fx->svc);
  fx->svc = NULL;
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static void new_svc(fx_t *fx, const char *name, const char *const *argv, int grace_ms) {
  fl_svc_spec_t spec = {.name = name,
                        .argv = argv,
                        .log_dir = fx->dir,
                        .run_id = "run-1",
                        .stop_grace_ms = grace_ms};
  fl_err_t err = {0};
  assert_int_equal(fl_svc_new(&fx->svc, &fx->loop, fx->tl, &spec, &err), 0);
  fl_svc_on_exit(fx->svc, on_exit_cb, fx);
  fl_svc_on_line(fx->svc, on_line_cb, fx);
}

static void start(fx_t *fx) {
  fl_err_t err = {0};
  int rc = fl_svc_start(fx->svc, &err);
  if (rc != 0)
    fail_msg("start: %s", err.msg);
  assert_true(fl_svc_pid(fx->svc) > 0);
  assert_int_equal(fl_svc_state(fx->svc), FL_SVC_RUNNING);
}

/* Waits for a line containing want. */
static void wait_line(fx_t *fx, const char *want) {
  fx->want = want;
  fx->saw = 0;
  if (!ut_run_until(&fx->loop, &fx->saw, 5000))
    fail_msg("no line with \"%s\" within 5 s", want);
}

/* Counts timeline events of this service in a state (NULL: any). */
static int count_state(fx_t *fx, const char *name, const char *st, json_t **last) {
  size_t i;
  json_t *ev;
  int n = 0;
  json_array_foreach(fl_timeline_events(fx->tl), i, ev) {
    if (strcmp(json_string_value(json_object_get(ev, "type")), "service") != 0 ||
        strcmp(json_string_value(json_object_get(ev, "service")), name) != 0)
      continue;
    if (st != NULL && strcmp(json_string_value(json_object_get(ev, "state")), st) != 0)
      continue;
    n++;
    if (last != NULL)
      *last = ev;
  }
  return n;
}

static int matches(const char *text, const char *ere) {
  regex_t re;
  assert_int_equal(regcomp(&re, ere, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
  int ok = regexec(&re, text, 0, NULL, 0) == 0;
  regfree(&re);
  return ok;
}

static void test_start_logs(void **state) {
  fx_t *fx = *state;
  /* stdout and stderr, a CRLF line, a 5000-byte line, and a last line
   * without a newline. */
  const char *argv[] = {
      "sh", "-c",
      "echo \"hello from $FL_SERVICE run=$FL_RUN_ID x=$X_EXTRA cwd=$(pwd)\"; "
      "echo 'to stderr' >&2; printf 'crlf\\r\\n'; "
      "printf '%5000s\\n' '' | tr ' ' y; printf 'the end'",
      NULL};
  const char *env[] = {"X_EXTRA=42", "FL_SERVICE=overridden?", NULL};
  fl_svc_spec_t spec = {.name = "web",
                        .argv = argv,
                        .env = env,
                        .cwd = fx->dir,
                        .log_dir = fx->dir,
                        .run_id = "run-7"};
  assert_int_equal(fl_svc_new(&fx->svc, &fx->loop, fx->tl, &spec, NULL), 0);
  fl_svc_on_exit(fx->svc, on_exit_cb, fx);
  fl_svc_on_line(fx->svc, on_line_cb, fx);
  start(fx);
  int pid = fl_svc_pid(fx->svc);
  wait_line(fx, "the end");
  assert_true(ut_run_until(&fx->loop, &fx->exits, 5000));
  assert_int_equal(fx->status, 0);
  assert_int_equal(fx->sig, 0);
  assert_int_equal(fx->lines, 6); /* hello, stderr, crlf, 4096 + 904, the end */

  char *path = fl_asprintf("%s/web.log", fx->dir);
  assert_string_equal(fl_svc_log_path(fx->svc), path);
  char *log = ut_read_file(path);
  assert_non_null(log);
  char *want = fl_asprintf("hello from web run=run-7 x=42 cwd=%s", fx->dir);
  assert_non_null(strstr(log, want));
  fl_free(want);
  /* Every line of the service has the time since the run started. */
  assert_true(matches(log, "^\\[ *[0-9]+\\.[0-9]{3}\\] hello from web"));
  assert_true(matches(log, "^\\[ *[0-9]+\\.[0-9]{3}\\] to stderr$"));
  assert_true(matches(log, "^\\[ *[0-9]+\\.[0-9]{3}\\] crlf$"));
  assert_true(matches(log, "^\\[ *[0-9]+\\.[0-9]{3}\\] y{4096}$"));
  assert_true(matches(log, "^\\[ *[0-9]+\\.[0-9]{3}\\] y{904}$"));
  assert_true(matches(log, "^\\[ *[0-9]+\\.[0-9]{3}\\] the end$"));
  char *started = fl_asprintf("-- faultline: started pid %d\n", pid);
  assert_non_null(strstr(log, started));
  fl_free(started);
  assert_non_null(strstr(log, "-- faultline: crashed: exited with code 0"));
  fl_free(log);
  fl_free(path);

  /* stdout and stderr are two pipes, read in no set order: the tail keeps
   * each one's lines in order, "to stderr" may fall anywhere. */
  char *tail = fl_svc_tail(fx->svc, 6);
  if (!matches(tail, "^  hello from web") || !matches(tail, "^  to stderr$") ||
      !matches(tail, "^  crlf\n(  to stderr\n)?  y{4096}\n(  to stderr\n)?  y{904}\n"
                     "(  to stderr\n)?  the end\n"))
    fail_msg("tail: [%s]", tail);
  char *all = fl_svc_tail(fx->svc, 100); /* more than kept: all there is */
  assert_string_equal(all, tail);
  fl_free(all);
  fl_free(tail);

  json_t *j = fl_svc_to_json(fx->svc);
  assert_string_equal(json_string_value(json_object_get(j, "name")), "web");
  assert_string_equal(json_string_value(json_object_get(j, "log")), "logs/web.log");
  assert_int_equal(json_array_size(json_object_get(j, "cmd")), 3);
  assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "pids"), 0)),
                   pid);
  json_decref(j);
  close_loop(fx);
}

static void test_not_found(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {"faultline-no-such-command", "--flag", NULL};
  new_svc(fx, "ghost", argv, 0);
  fl_err_t err = {0};
  assert_int_equal(fl_svc_start(fx->svc, &err), UV_ENOENT);
  assert_int_equal(err.code, UV_ENOENT);
  assert_non_null(strstr(err.msg, "faultline-no-such-command"));
  assert_non_null(strstr(err.msg, "ghost"));
  assert_int_equal(fl_svc_state(fx->svc), FL_SVC_DOWN);
  assert_int_equal(fl_svc_pid(fx->svc), 0);
  assert_int_equal(count_state(fx, "ghost", NULL, NULL), 0);
  fl_svc_free(fx->svc);

  /* A relative path is looked up from the service's cwd. */
  const char *argv2[] = {"./not-here.sh", NULL};
  fl_svc_spec_t spec = {
      .name = "ghost2", .argv = argv2, .cwd = fx->dir, .log_dir = fx->dir};
  assert_int_equal(fl_svc_new(&fx->svc, &fx->loop, fx->tl, &spec, NULL), 0);
  assert_int_equal(fl_svc_start(fx->svc, &err), UV_ENOENT);
  assert_non_null(strstr(err.msg, "./not-here.sh"));

  /* An empty command and a log directory that does not exist. */
  fl_svc_t *bad = NULL;
  const char *empty[] = {NULL};
  fl_svc_spec_t s2 = {.name = "empty", .argv = empty, .log_dir = fx->dir};
  assert_int_equal(fl_svc_new(&bad, &fx->loop, fx->tl, &s2, &err), FL_ECONFIG);
  assert_non_null(strstr(err.msg, "empty"));
  fl_svc_spec_t s3 = {.name = "nolog", .argv = argv, .log_dir = "/nonexistent-dir/logs"};
  assert_int_equal(fl_svc_new(&bad, &fx->loop, fx->tl, &s3, &err), UV_ENOENT);
  assert_non_null(strstr(err.msg, "/nonexistent-dir/logs/nolog.log"));
  assert_null(bad);
  close_loop(fx);
}

/* A service that dies at once: an unexpected exit, its reason on the
 * timeline, and its last words in the tail when the exit is reported (a
 * probe's failure message quotes them). */
static void test_crash_at_start(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {"sh", "-c", "echo 'fatal: address already in use' >&2; exit 3",
                        NULL};
  for (int round = 0; round < 10; round++) {
    fx->exits = 0;
    new_svc(fx, "db", argv, 0);
    start(fx);
    int pid = fl_svc_pid(fx->svc);
    assert_true(ut_run_until(&fx->loop, &fx->exits, 5000));
    assert_int_equal(fx->status, 3);
    assert_int_equal(fx->sig, 0);
    assert_int_equal(fx->expected, 0);
    if (strstr(fx->tail_at_exit, "fatal: address already in use") == NULL)
      fail_msg("round %d: the tail at exit misses the last line: \"%s\"", round,
               fx->tail_at_exit);
    json_t *ev = NULL;
    assert_int_equal(count_state(fx, "db", "crashed", &ev), round + 1);
    assert_int_equal(json_integer_value(json_object_get(ev, "pid")), pid);
    assert_string_equal(json_string_value(json_object_get(ev, "detail")),
                        "exited with code 3");
    if (round < 9) {
      fl_svc_free(fx->svc);
      fx->svc = NULL;
    }
  }
  char *log = ut_read_file(fl_svc_log_path(fx->svc));
  assert_non_null(strstr(log, "-- faultline: crashed: exited with code 3\n"));
  free(log);
  close_loop(fx);
}

static void test_stop_ignores_term(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {"sh", "-c", "trap '' TERM; echo armed; sleep 60", NULL};
  new_svc(fx, "stubborn", argv, 300);
  start(fx);
  int pid = fl_svc_pid(fx->svc);
  wait_line(fx, "armed");
  uint64_t t0 = ut_ms();
  fl_svc_stop(fx->svc, on_wait_cb, fx);
  assert_int_equal(fx->waits, 0);
  assert_int_equal(fl_svc_state(fx->svc), FL_SVC_STOPPING);
  assert_true(ut_run_until(&fx->loop, &fx->waits, 5000));
  assert_int_equal(fx->wait_sig, SIGKILL);
  assert_int_equal(fx->wait_expected, 1);
  assert_true(fx->wait_ms - t0 >= 250);
  assert_true(fx->wait_ms - t0 < 5000);
  assert_int_equal(fx->exits, 1);
  assert_int_equal(fx->expected, 1);
  assert_true(ut_proc_dead(pid));
  assert_int_equal(count_state(fx, "stubborn", "stopping", NULL), 1);
  assert_int_equal(count_state(fx, "stubborn", "stopped", NULL), 1);
  assert_int_equal(count_state(fx, "stubborn", "crashed", NULL), 0);
  char *log = ut_read_file(fl_svc_log_path(fx->svc));
  assert_non_null(strstr(log, "sending SIGKILL"));
  free(log);
  close_loop(fx);
}

static void test_stop_graceful(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {"sleep", "60", NULL};
  new_svc(fx, "sleepy", argv, 0); /* 5 s grace: SIGTERM must do */
  start(fx);
  ut_run_for(&fx->loop, 50);
  uint64_t t0 = ut_ms();
  fl_svc_stop(fx->svc, on_wait_cb, fx);
  /* A second stop while stopping changes nothing but the callback. */
  fl_svc_stop(fx->svc, on_wait_cb, fx);
  assert_true(ut_run_until(&fx->loop, &fx->waits, 4000));
  assert_int_equal(fx->waits, 1);
  assert_int_equal(fx->wait_sig, SIGTERM);
  assert_true(fx->wait_ms - t0 < 4000);
  assert_int_equal(count_state(fx, "sleepy", "stopped", NULL), 1);
  close_loop(fx);
}

/* The service is its process group: a child of its shell, which ignores
 * SIGTERM and would outlive the shell, goes with it. */
static void test_stop_kills_group(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {"sh", "-c", "(trap '' TERM; exec sleep 60) & echo child $!; wait",
                        NULL};
  new_svc(fx, "family", argv, 0);
  start(fx);
  int pid = fl_svc_pid(fx->svc);
  wait_line(fx, "child ");
  pid_t child = fx->child;
  assert_true(child > 0);
  assert_int_equal(getpgid(child), pid);
  assert_int_equal(kill(child, 0), 0);
  fl_svc_stop(fx->svc, on_wait_cb, fx);
  assert_true(ut_run_until(&fx->loop, &fx->waits, 4000));
  assert_int_equal(fx->wait_sig, SIGTERM);
  assert_true(ut_loop_wait_state(&fx->loop, child, "", 3000));
  assert_true(ut_proc_dead(pid));
  close_loop(fx);
}

/* Paused: frozen in its cgroup (as root, where services have one), or
 * stopped by SIGSTOP (state T) in the process-group fallback. */
static int paused(fx_t *fx, int pid) {
  const char *cg = fl_svc_cgroup(fx->svc);
  if (cg == NULL)
    return ut_loop_wait_state(&fx->loop, pid, "T", 3000);
  char path[600], line[64];
  snprintf(path, sizeof(path), "%s/cgroup.events", cg);
  for (int i = 0; i < 300; i++) {
    FILE *f = fopen(path, "r");
    int frozen = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
      frozen |= strcmp(line, "frozen 1\n") == 0;
    if (f != NULL)
      fclose(f);
    if (frozen)
      return 1;
    usleep(10000);
  }
  return 0;
}

static void test_pause_resume(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {"sleep", "60", NULL};
  new_svc(fx, "frozen", argv, 0);
  assert_int_equal(fl_svc_pause(fx->svc), UV_ESRCH);
  assert_int_equal(fl_svc_resume(fx->svc), UV_ESRCH);
  assert_int_equal(fl_svc_signal(fx->svc, SIGUSR1), UV_ESRCH);
  start(fx);
  int pid = fl_svc_pid(fx->svc);
  assert_true(ut_loop_wait_state(&fx->loop, pid, "SR", 3000));

  assert_int_equal(fl_svc_pause(fx->svc), 0);
  assert_int_equal(fl_svc_state(fx->svc), FL_SVC_PAUSED);
  assert_true(paused(fx, pid));
  assert_int_equal(fl_svc_pause(fx->svc), 0); /* again: no second event */
  assert_int_equal(count_state(fx, "frozen", "paused", NULL), 1);

  assert_int_equal(fl_svc_resume(fx->svc), 0);
  assert_int_equal(fl_svc_state(fx->svc), FL_SVC_RUNNING);
  assert_true(ut_loop_wait_state(&fx->loop, pid, "SR", 3000));
  assert_int_equal(count_state(fx, "frozen", "resumed", NULL), 1);
  assert_int_equal(fx->exits, 0);

  /* Stop while paused: the SIGTERM must not stay pending. */
  assert_int_equal(fl_svc_pause(fx->svc), 0);
  assert_true(paused(fx, pid));
  fl_svc_stop(fx->svc, on_wait_cb, fx);
  assert_true(ut_run_until(&fx->loop, &fx->waits, 4000));
  assert_int_equal(fx->wait_sig, SIGTERM);
  assert_int_equal(fl_svc_pause(fx->svc), UV_ESRCH);
  close_loop(fx);
}

static void test_kill_restart(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {"sh", "-c", "echo up $$; exec sleep 60", NULL};
  new_svc(fx, "phoenix", argv, 0);
  start(fx);
  int pid1 = fl_svc_pid(fx->svc);
  wait_line(fx, "up ");
  fl_err_t err = {0};
  assert_int_equal(fl_svc_start(fx->svc, &err), UV_EALREADY);
  assert_non_null(strstr(err.msg, "phoenix"));

  fl_svc_kill(fx->svc, on_wait_cb, fx);
  assert_int_equal(fx->waits, 0);
  assert_true(ut_run_until(&fx->loop, &fx->waits, 4000));
  assert_int_equal(fx->wait_sig, SIGKILL);
  assert_int_equal(fx->wait_expected, 1);
  assert_int_equal(count_state(fx, "phoenix", "killed", NULL), 1);
  assert_int_equal(fl_svc_state(fx->svc), FL_SVC_DOWN);

  fx->waits = 0;
  start(fx);
  int pid2 = fl_svc_pid(fx->svc);
  assert_int_not_equal(pid1, pid2);
  wait_line(fx, "up ");
  assert_int_equal(count_state(fx, "phoenix", "starting", NULL), 2);
  json_t *j = fl_svc_to_json(fx->svc);
  json_t *pids = json_object_get(j, "pids");
  assert_int_equal(json_array_size(pids), 2);
  assert_int_equal(json_integer_value(json_array_get(pids, 1)), pid2);
  json_decref(j);

  /* Both incarnations wrote to the same log. */
  char *log = ut_read_file(fl_svc_log_path(fx->svc));
  char *a = fl_asprintf("started pid %d", pid1), *b = fl_asprintf("started pid %d", pid2);
  assert_non_null(strstr(log, a));
  assert_non_null(strstr(log, b));
  assert_non_null(strstr(log, "killed by signal 9"));
  free(log);
  fl_free(a);
  fl_free(b);

  fl_svc_stop(fx->svc, on_wait_cb, fx);
  assert_true(ut_run_until(&fx->loop, &fx->waits, 4000));
  assert_true(ut_proc_dead(pid1));
  assert_true(ut_proc_dead(pid2));
  close_loop(fx);
}

/* Stop and kill of a service that is down call back, from the loop. */
static void test_stop_when_down(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {"true", NULL};
  new_svc(fx, "idle", argv, 0);
  fl_svc_stop(fx->svc, on_wait_cb, fx);
  assert_int_equal(fx->waits, 0);
  assert_true(ut_run_until(&fx->loop, &fx->waits, 2000));
  assert_int_equal(fx->wait_expected, 1);
  fx->waits = 0;
  fl_svc_kill(fx->svc, on_wait_cb, fx);
  assert_int_equal(fx->waits, 0);
  assert_true(ut_run_until(&fx->loop, &fx->waits, 2000));
  /* A canceled wait never calls back. */
  fx->waits = 0;
  fl_svc_stop(fx->svc, on_wait_cb, fx);
  fl_svc_cancel_wait(fx->svc);
  ut_run_for(&fx->loop, 50);
  assert_int_equal(fx->waits, 0);
  assert_int_equal(count_state(fx, "idle", NULL, NULL), 0);
  close_loop(fx);
}

/* Freed while running: the group is killed, no callback runs, and the
 * handles still close. */
static void test_free_running(void **state) {
  fx_t *fx = *state;
  const char *argv[] = {"sh", "-c", "sleep 60 & echo child $!; wait", NULL};
  new_svc(fx, "orphan", argv, 0);
  start(fx);
  int pid = fl_svc_pid(fx->svc);
  wait_line(fx, "child ");
  pid_t child = fx->child;
  close_loop(fx);
  assert_int_equal(fx->exits, 0);
  assert_true(ut_wait_dead(pid, 3000));
  assert_true(ut_wait_dead(child, 3000));
}

/* A process that left the group (setsid) keeps the service's output pipes
 * open. Freeing the service must not wait for it: nothing it writes would be
 * logged any more, and the run's loop has to end. */
static void test_free_escaped_child(void **state) {
  fx_t *fx = *state;
  /* The shell waits until the child has its own session: the group is
   * killed as soon as the shell exits. */
  const char *argv[] = {"sh", "-c",
                        "setsid sh -c 'echo child $$; touch escaped; exec sleep 10' & "
                        "while [ ! -e escaped ]; do sleep 0.05; done",
                        NULL};
  fl_svc_spec_t spec = {
      .name = "daemon", .argv = argv, .cwd = fx->dir, .log_dir = fx->dir};
  assert_int_equal(fl_svc_new(&fx->svc, &fx->loop, fx->tl, &spec, NULL), 0);
  fl_svc_on_exit(fx->svc, on_exit_cb, fx);
  fl_svc_on_line(fx->svc, on_line_cb, fx);
  start(fx);
  wait_line(fx, "child ");
  pid_t escaped = fx->child;
  assert_true(ut_run_until(&fx->loop, &fx->exits, 5000));
  assert_int_equal(kill(escaped, 0), 0);
  uint64_t t0 = ut_ms();
  close_loop(fx);
  uint64_t ms = ut_ms() - t0;
  kill(escaped, SIGKILL);
  assert_true(ms < 5000);
}

/* The test's in-loop HTTP server for test_no_fd_leak: answers every
 * request with an empty 200 and keeps the connection. */
typedef struct {
  uv_tcp_t tcp;
  uv_write_t wr;
  char buf[2048];
} ka_conn_t;

static void ka_closed(uv_handle_t *h) {
  fl_free(h->data);
}

static void ka_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf) {
  ka_conn_t *c = h->data;
  *buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void ka_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  ka_conn_t *c = s->data;
  if (n < 0) {
    uv_close((uv_handle_t *)s, ka_closed);
    return;
  }
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  uv_buf_t b = uv_buf_init((char *)resp, sizeof(resp) - 1);
  if (n > 0)
    uv_write(&c->wr, s, &b, 1, NULL);
}

static void ka_connection(uv_stream_t *l, int status) {
  ka_conn_t *c = fl_calloc(1, sizeof(*c));
  uv_tcp_init(l->loop, &c->tcp);
  c->tcp.data = c;
  uv_accept(l, (uv_stream_t *)&c->tcp);
  uv_read_start((uv_stream_t *)&c->tcp, ka_alloc, ka_read);
}

static void on_ka_resp(const fl_http_resp_t *r, void *arg) {
  *(int *)arg = r->code == 200 ? 1 : 2;
}

/* A service inherits no descriptor of faultline's but its stdio: not the
 * other services' logs, not the timeline file, not the HTTP client's
 * kept-alive connections (a service holding one would keep that connection
 * open after faultline closed it, which is a fault nobody asked for). */
static void test_no_fd_leak(void **state) {
  fx_t *fx = *state;
  fl_timeline_t *tl_file;
  char *tl_path = fl_asprintf("%s/timeline.jsonl", fx->dir);
  assert_int_equal(fl_timeline_new(&tl_file, tl_path, NULL), 0);
  fl_timeline_event(tl_file, "x", NULL);

  /* A kept-alive connection of the HTTP client. */
  uv_tcp_t l;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(&fx->loop, &l);
  l.data = &l;
  assert_int_equal(uv_tcp_bind(&l, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&l, 8, ka_connection), 0);
  uv_tcp_getsockname(&l, (struct sockaddr *)&ss, &len);
  char *url =
      fl_asprintf("http://127.0.0.1:%d/", ntohs(((struct sockaddr_in *)&ss)->sin_port));
  fl_http_t *http;
  assert_int_equal(fl_http_new(&http, &fx->loop), 0);
  fl_http_opts_t o = {.url = url};
  int got = 0;
  assert_int_equal(fl_http_request(http, &o, on_ka_resp, &got, NULL), 0);
  assert_true(ut_run_until(&fx->loop, &got, 5000));
  assert_int_equal(got, 1);

  /* Another service's log is open too. */
  const char *other_argv[] = {"true", NULL};
  fl_svc_spec_t other = {.name = "other", .argv = other_argv, .log_dir = fx->dir};
  fl_svc_t *osvc;
  assert_int_equal(fl_svc_new(&osvc, &fx->loop, fx->tl, &other, NULL), 0);

  const char *argv[] = {"sh", "-c", "ls -l /proc/$$/fd/; echo done-listing", NULL};
  new_svc(fx, "fds", argv, 0);
  start(fx);
  wait_line(fx, "done-listing");
  char *log = ut_read_file(fl_svc_log_path(fx->svc));
  /* Lines look like "... 64 Nov 26 13:00 1 -> pipe:[123]". */
  int leaks = 0;
  for (char *line = strstr(log, " -> "); line != NULL; line = strstr(line + 4, " -> ")) {
    char *start_of = line;
    while (start_of > log && start_of[-1] != ' ')
      start_of--;
    int fd = atoi(start_of);
    char *eol = strchr(line, '\n');
    *eol = '\0';
    /* Whatever the test's own parent left open (a shell's fd 10) is not
     * faultline's business; its sockets and files are. */
    if (fd > 2 && (strstr(line, "socket:") != NULL || strstr(line, fx->dir) != NULL)) {
      print_message("the service inherited fd %d%s\n", fd, line);
      leaks++;
    }
    *eol = '\n';
  }
  assert_int_equal(leaks, 0);
  free(log);

  fl_svc_free(osvc);
  fl_http_free(http);
  uv_close((uv_handle_t *)&l, NULL);
  fl_timeline_free(tl_file);
  fl_free(url);
  fl_free(tl_path);
  close_loop(fx);
}

static void on_replaced_exit(fl_svc_t *svc, int64_t status, int sig, int expected,
                             void *arg) {
  *(int *)arg = status == 0 && sig == 0 ? 1 : 2;
}

/* Runs in a copy of this binary that deleted itself first, as a relink of
 * faultline during a run does: services must still start. Exit 0 when the
 * service started and exited 0. */
static int replaced_main(void) {
  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0)
    return 10;
  self[n] = '\0';
  if (unlink(self) != 0)
    return 11;
  char dir[64];
  ut_tmpdir(dir, sizeof(dir), "svc-replaced");
  uv_loop_t loop;
  fl_timeline_t *tl;
  fl_svc_t *svc;
  uv_loop_init(&loop);
  fl_timeline_new(&tl, NULL, NULL);
  const char *argv[] = {"sh", "-c", "exit 0", NULL};
  fl_svc_spec_t spec = {.name = "after-relink", .argv = argv, .log_dir = dir};
  fl_err_t err = {0};
  if (fl_svc_new(&svc, &loop, tl, &spec, &err) != 0)
    return 12;
  int done = 0;
  fl_svc_on_exit(svc, on_replaced_exit, &done);
  int rc = fl_svc_start(svc, &err);
  if (rc != 0)
    fprintf(stderr, "replaced: %s\n", err.msg);
  else
    ut_run_until(&loop, &done, 5000);
  fl_svc_free(svc);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  fl_timeline_free(tl);
  ut_rmdir(dir);
  return rc != 0 ? 13 : done == 1 ? 0 : 14;
}

static void test_binary_replaced(void **state) {
  fx_t *fx = *state;
  char *copy = fl_asprintf("%s/copy", fx->dir);
  char *cmd = fl_asprintf("cp /proc/%d/exe '%s'", (int)getpid(), copy);
  assert_int_equal(system(cmd), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    execl(copy, copy, "__replaced", (char *)NULL);
    _exit(127);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  assert_int_equal(access(copy, F_OK), -1); /* it was really gone */
  fl_free(cmd);
  fl_free(copy);
  close_loop(fx);
}

int main(int argc, char **argv) {
  /* Services start through the shim, which is this binary. */
  if (argc > 1 && strcmp(argv[1], "__exec") == 0)
    return fl_shim_main(argc - 1, argv + 1);
  if (argc > 1 && strcmp(argv[1], "__replaced") == 0)
    return replaced_main();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_start_logs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_at_start, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_ignores_term, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_graceful, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_kills_group, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kill_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_when_down, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_running, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_escaped_child, setup, teardown),
      cmocka_unit_test_setup_teardown(test_binary_replaced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_fd_leak, setup, teardown),
  };
  return cmocka_run_group_tests_name("service", tests, NULL, NULL);
}
