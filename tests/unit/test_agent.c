/* The remote agent (harness/agent.c) in a child process, over pipes: hello
 * says who it is and names its table; a bad request, an unknown op and a
 * signal to a service it does not run are errors that echo the request's
 * seq; stdin closing ends it and removes its state directory. And
 * fl_agent_cleanup: a dead agent's process group is killed and its state
 * removed, a live agent's state is left alone. (Starting services goes
 * through faultline's exec shim: integration/remote_agent.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "base/alloc.h"
#include "harness/agent.h"

static char root[64];

static int setup(void **state) {
  snprintf(root, sizeof(root), "/tmp/fl-test-agent.XXXXXX");
  assert_non_null(mkdtemp(root));
  return 0;
}

static int teardown(void **state) {
  char *cmd = fl_asprintf("rm -rf %s", root);
  assert_int_equal(system(cmd), 0);
  fl_free(cmd);
  return 0;
}

typedef struct {
  pid_t pid;
  FILE *to, *from;
} agent_proc_t;

static agent_proc_t spawn_agent(const char *run) {
  int in[2], out[2];
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(out), 0);
  agent_proc_t a;
  a.pid = fork();
  assert_true(a.pid >= 0);
  if (a.pid == 0) {
    close(in[1]);
    close(out[0]);
    uv_loop_t loop;
    uv_loop_init(&loop);
    _exit(fl_agent_main(&loop, run, root, in[0], out[1]));
  }
  close(in[0]);
  close(out[1]);
  a.to = fdopen(in[1], "w");
  a.from = fdopen(out[0], "r");
  return a;
}

static void say(agent_proc_t *a, const char *line) {
  fputs(line, a->to);
  fputc('\n', a->to);
  fflush(a->to);
}

static char *hear(agent_proc_t *a) {
  static char line[4096];
  assert_non_null(fgets(line, sizeof(line), a->from));
  return line;
}

static int end_agent(agent_proc_t *a) {
  fclose(a->to);
  int st = 0;
  assert_int_equal(waitpid(a->pid, &st, 0), a->pid);
  fclose(a->from);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_protocol(void **state) {
  agent_proc_t a = spawn_agent("0a0b0c0d");
  char *dir = fl_asprintf("%s/0a0b0c0d", root);
  struct stat st;
  say(&a, "{\"op\":\"hello\",\"seq\":7}");
  char *l = hear(&a);
  assert_non_null(strstr(l, "\"ev\":\"hello\""));
  assert_non_null(strstr(l, "\"seq\":7"));
  assert_non_null(strstr(l, "\"table\":\"flr0a0b0c0d\""));
  assert_non_null(strstr(l, "\"t\":"));
  assert_int_equal(stat(dir, &st), 0); /* its state, while it runs */
  say(&a, "not json");
  assert_non_null(strstr(hear(&a), "\"ev\":\"error\""));
  say(&a, "{\"op\":\"dance\",\"seq\":2}");
  l = hear(&a);
  assert_non_null(strstr(l, "unknown op \\\"dance\\\""));
  assert_non_null(strstr(l, "\"seq\":2"));
  say(&a, "{\"op\":\"signal\",\"name\":\"nope\",\"sig\":9}");
  assert_non_null(strstr(hear(&a), "no running service \\\"nope\\\""));
  say(&a, "{\"op\":\"start\",\"name\":\"a/b\",\"cmd\":[\"true\"]}");
  assert_non_null(strstr(hear(&a), "start wants a name"));
  say(&a, "{\"op\":\"start\",\"name\":\"x\",\"cmd\":[1]}");
  assert_non_null(strstr(hear(&a), "start wants a name"));
  assert_int_equal(end_agent(&a), 0);
  assert_int_equal(stat(dir, &st), -1); /* removed when stdin closed */
  fl_free(dir);
}

static void test_table_name(void **state) {
  char t[32];
  fl_agent_table("deadbeef", t, sizeof(t));
  assert_string_equal(t, "flrdeadbeef");
}

/* The start time field of /proc/PID/stat, as the agent writes it. */
static unsigned long long start_of(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')') + 2;
  for (int field = 3; field < 22; field++)
    p = strchr(p, ' ') + 1;
  return strtoull(p, NULL, 10);
}

static void write_state(const char *run, pid_t agent, unsigned long long start,
                        pid_t pg) {
  char *dir = fl_asprintf("%s/%s", root, run);
  mkdir(dir, 0700);
  char *file = fl_asprintf("%s/agent", dir);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fprintf(f, "pid %d %llu\ntable flr%s\npg %d %llu\n", (int)agent, start, run, (int)pg,
          pg > 0 ? start_of(pg) : 0ull);
  fclose(f);
  fl_free(file);
  fl_free(dir);
}

static void test_cleanup(void **state) {
  /* A dead agent's service: a process group of its own. */
  pid_t svc = fork();
  assert_true(svc >= 0);
  if (svc == 0) {
    setpgid(0, 0);
    pause();
    _exit(0);
  }
  setpgid(svc, svc);
  write_state("00000001", 999999, 1, svc); /* no such agent */
  /* A live agent (this process) whose state must stay. */
  write_state("00000002", getpid(), start_of(getpid()), 0);
  int found = fl_agent_cleanup(root, 0);
  assert_int_equal(found, 1);
  int st = 0;
  assert_int_equal(waitpid(svc, &st, 0), svc);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  struct stat sb;
  char *gone = fl_asprintf("%s/00000001", root);
  char *kept = fl_asprintf("%s/00000002/agent", root);
  assert_int_equal(stat(gone, &sb), -1);
  assert_int_equal(stat(kept, &sb), 0);
  fl_free(gone);
  fl_free(kept);
  assert_int_equal(fl_agent_cleanup(root, 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_protocol),
      cmocka_unit_test(test_table_name),
      cmocka_unit_test(test_cleanup),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
