/* libFuzzer target: the command-line parsers of run, suite, report merge,
 * proxy and cleanup, which parse into an options struct with no side
 * effect. The first byte picks the command; the rest is its arguments,
 * separated by NUL bytes. A usage error is fine (it must carry a message);
 * a crash, a leak, undefined behaviour or an accepted command line that
 * breaks the options' promises (a suite with 0 jobs, a shard 3/2, a run
 * without a file) is not. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "harness/cmd_cleanup.h"
#include "harness/cmd_merge.h"
#include "harness/cmd_proxy.h"
#include "harness/cmd_run.h"
#include "harness/cmd_suite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

static void check_run(int argc, char **argv) {
  fl_run_args_t a;
  fl_err_t err = {0};
  if (fl_run_args_parse(&a, argc, argv, &err) < 0) {
    if (err.code != FL_EUSAGE || err.msg[0] == '\0')
      abort();
    return;
  }
  if (!a.help && (a.engine.file == NULL || a.engine.timeout_s < 0))
    abort();
}

static void check_suite(int argc, char **argv) {
  fl_suite_args_t a;
  fl_err_t err = {0};
  int rc = fl_suite_args_parse(&a, argc, argv, &err);
  if (rc < 0 && (err.code != FL_EUSAGE || err.msg[0] == '\0'))
    abort();
  if (rc == 0 && !a.help &&
      (a.npaths < 1 || a.jobs < 1 || a.jobs > 256 || a.shard_k < 1 ||
       a.shard_k > a.shard_n))
    abort();
  for (int i = 0; rc == 0 && i < a.npaths; i++)
    if (a.paths[i] == NULL)
      abort();
  fl_suite_args_free(&a);
}

static void check_merge(int argc, char **argv) {
  fl_merge_args_t a;
  fl_err_t err = {0};
  int rc = fl_merge_args_parse(&a, argc, argv, &err);
  if (rc < 0 && (err.code != FL_EUSAGE || err.msg[0] == '\0'))
    abort();
  if (rc == 0 && !a.help && (a.ndirs < 1 || a.out == NULL))
    abort();
  fl_merge_args_free(&a);
}

static void check_proxy(int argc, char **argv) {
  fl_proxy_args_t a;
  fl_err_t err = {0};
  if (fl_proxy_args_parse(&a, argc, argv, &err) < 0) {
    if (err.code != FL_EUSAGE || err.msg[0] == '\0')
      abort();
    return;
  }
  if (!a.help && (a.api[0] == '\0' || memchr(a.api, '\0', sizeof(a.api)) == NULL))
    abort();
}

static void check_cleanup(int argc, char **argv) {
  fl_cleanup_args_t a;
  fl_err_t err = {0};
  if (fl_cleanup_args_parse(&a, argc, argv, &err) < 0 &&
      (err.code != FL_EUSAGE || err.msg[0] == '\0'))
    abort();
}

static const struct {
  const char *name;
  void (*check)(int argc, char **argv);
} COMMANDS[] = {
    {"run", check_run},     {"suite", check_suite},     {"merge", check_merge},
    {"proxy", check_proxy}, {"cleanup", check_cleanup},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t which = data[0] % (sizeof(COMMANDS) / sizeof(COMMANDS[0]));
  /* One copy with a NUL after every argument, the last one included. */
  char *buf = fl_malloc(size);
  memcpy(buf, data + 1, size - 1);
  buf[size - 1] = '\0';
  char *argv[MAX_ARGS + 2];
  int argc = 0;
  argv[argc++] = (char *)COMMANDS[which].name;
  for (size_t i = 0; i < size - 1 && argc < MAX_ARGS + 1;) {
    argv[argc++] = buf + i;
    i += strlen(buf + i) + 1;
  }
  argv[argc] = NULL;
  COMMANDS[which].check(argc, argv);
  fl_free(buf);
  return 0;
}
