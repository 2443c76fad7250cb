/* The command lines: harness/cli.c (getopt_long with one message per
 * mistake) and each command's parser (run, suite, report merge, proxy,
 * cleanup), called alone as a fuzz target would: same flags, same values,
 * one clear message for every kind of mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <string.h>

#include "harness/cli.h"
#include "harness/cmd_cleanup.h"
#include "harness/cmd_merge.h"
#include "harness/cmd_proxy.h"
#include "harness/cmd_run.h"
#include "harness/cmd_suite.h"

/* argv arrays from string literals: getopt's prototype wants char **. */
#define ARGV(...) ((char *[]){__VA_ARGS__, NULL})
#define ARGC(v) ((int)(sizeof(v) / sizeof(v[0])) - 1)
#define CALL(parse, out, err, ...)                                                       \
  parse(out, ARGC(((char *[]){__VA_ARGS__, NULL})), ARGV(__VA_ARGS__), err)

static void test_run_all_flags(void **state) {
  fl_run_args_t a;
  fl_err_t err = {0};
  assert_int_equal(CALL(fl_run_args_parse, &a, &err, "run", "x.lua", "--seed", "42",
                        "--out", "d", "--junit", "j.xml", "--only", "n", "--timeout",
                        "2.5", "-q"),
                   0);
  assert_string_equal(a.engine.file, "x.lua");
  assert_true(a.engine.seed == 42 && a.engine.seed_given);
  assert_string_equal(a.engine.out_dir, "d");
  assert_string_equal(a.engine.junit, "j.xml");
  assert_string_equal(a.engine.only, "n");
  assert_true(a.engine.timeout_s == 2.5);
  assert_int_equal(a.engine.quiet, 1);
  assert_int_equal(a.help, 0);
  assert_null(a.hosts_file);
  assert_int_equal(CALL(fl_run_args_parse, &a, &err, "run", "x.lua", "--hosts", "h.lua"),
                   0);
  assert_string_equal(a.hosts_file, "h.lua");
  assert_true(CALL(fl_run_args_parse, &a, &err, "run", "x.lua", "--hosts") < 0);
  /* Options before the file, "--opt=value", and --quiet spelled out. */
  assert_int_equal(
      CALL(fl_run_args_parse, &a, &err, "run", "--seed=7", "--quiet", "--out=o", "f.lua"),
      0);
  assert_string_equal(a.engine.file, "f.lua");
  assert_true(a.engine.seed == 7);
  assert_string_equal(a.engine.out_dir, "o");
  assert_int_equal(a.engine.quiet, 1);
  /* Nothing given: no seed, so the command picks a fresh one. */
  assert_int_equal(CALL(fl_run_args_parse, &a, &err, "run", "f.lua"), 0);
  assert_int_equal(a.engine.seed_given, 0);
  assert_null(a.engine.out_dir);
  /* "--" ends the options: a file named like one. */
  assert_int_equal(CALL(fl_run_args_parse, &a, &err, "run", "--", "--odd.lua"), 0);
  assert_string_equal(a.engine.file, "--odd.lua");
  assert_int_equal(CALL(fl_run_args_parse, &a, &err, "run", "--help"), 0);
  assert_int_equal(a.help, 1);
}

/* Each mistake: FL_EUSAGE and the message that names it. */
static void expect_run_error(char **argv, int argc, const char *msg) {
  fl_run_args_t a;
  fl_err_t err = {0};
  assert_int_equal(fl_run_args_parse(&a, argc, argv, &err), FL_EUSAGE);
  assert_int_equal(err.code, FL_EUSAGE);
  assert_string_equal(err.msg, msg);
}

#define RUN_ERROR(msg, ...)                                                              \
  expect_run_error(ARGV(__VA_ARGS__), ARGC(((char *[]){__VA_ARGS__, NULL})), msg)

static void test_run_mistakes(void **state) {
  RUN_ERROR("which scenario file?", "run");
  RUN_ERROR("which scenario file?", "run", "--quiet");
  RUN_ERROR("unknown option --frobnicate", "run", "x.lua", "--frobnicate");
  RUN_ERROR("unknown option --frobnicate", "run", "x.lua", "--frobnicate=3");
  RUN_ERROR("unknown option -x", "run", "x.lua", "-x");
  RUN_ERROR("--seed needs a value", "run", "x.lua", "--seed");
  RUN_ERROR("--seed wants a non-negative integer, not \"abc\"", "run", "x.lua", "--seed",
            "abc");
  RUN_ERROR("--seed wants a non-negative integer, not \"-1\"", "run", "x.lua", "--seed",
            "-1");
  RUN_ERROR("--timeout wants seconds, not \"0\"", "run", "x.lua", "--timeout", "0");
  RUN_ERROR("--quiet takes no value", "run", "x.lua", "--quiet=yes");
  RUN_ERROR("--o is ambiguous: --out, --only", "run", "x.lua", "--o", "d");
  RUN_ERROR("--out needs a value, not an empty one", "run", "x.lua", "--out", "");
  RUN_ERROR("--out needs a value, not an empty one", "run", "x.lua", "--out=");
  RUN_ERROR("an empty argument (\"\")", "run", "");
  RUN_ERROR("an empty argument (\"\")", "run", "--", "");
  RUN_ERROR("one scenario file at a time (got \"b.lua\" too)", "run", "a.lua", "b.lua");
}

/* A parse after a failed one starts afresh (getopt keeps state between
 * calls unless reset, which would skip arguments of the next command). */
static void test_parsers_reset_getopt(void **state) {
  fl_run_args_t a;
  fl_err_t err = {0};
  /* Refused in the middle of "-xq": getopt is left pointing at the 'q'. */
  assert_int_equal(CALL(fl_run_args_parse, &a, &err, "run", "-xq", "a.lua"), FL_EUSAGE);
  assert_string_equal(err.msg, "unknown option -x");
  assert_int_equal(CALL(fl_run_args_parse, &a, &err, "run", "b.lua"), 0);
  assert_string_equal(a.engine.file, "b.lua");
  assert_int_equal(a.engine.quiet, 0);
}

static void test_suite(void **state) {
  fl_suite_args_t a;
  fl_err_t err = {0};
  assert_int_equal(CALL(fl_suite_args_parse, &a, &err, "suite", "dir1", "--jobs", "3",
                        "--shard", "2/4", "f.lua", "--out", "o", "--junit", "j",
                        "--fail-fast", "--seed", "9", "--timeout", "30", "--list"),
                   0);
  assert_int_equal(a.npaths, 2);
  assert_string_equal(a.paths[0], "dir1");
  assert_string_equal(a.paths[1], "f.lua");
  assert_int_equal(a.jobs, 3);
  assert_int_equal(a.shard_k, 2);
  assert_int_equal(a.shard_n, 4);
  assert_string_equal(a.out, "o");
  assert_string_equal(a.junit, "j");
  assert_string_equal(a.seed, "9");
  assert_string_equal(a.timeout, "30");
  assert_int_equal(a.fail_fast, 1);
  assert_int_equal(a.list, 1);
  fl_suite_args_free(&a);
  assert_int_equal(CALL(fl_suite_args_parse, &a, &err, "suite", "-j", "2", "d"), 0);
  assert_int_equal(a.jobs, 2);
  assert_int_equal(a.shard_k, 1);
  assert_int_equal(a.shard_n, 1);
  assert_null(a.out);
  fl_suite_args_free(&a);

  static const struct {
    const char *flag, *value, *msg;
  } bad[] = {
      {"--jobs", "0", "--jobs wants a number from 1 to 256, not \"0\""},
      {"--jobs", "257", "--jobs wants a number from 1 to 256, not \"257\""},
      {"--shard", "4/3", "--shard wants K/N with 1 <= K <= N, like 2/4, not \"4/3\""},
      {"--shard", "0/3", "--shard wants K/N with 1 <= K <= N, like 2/4, not \"0/3\""},
      {"--shard", "2/4x", "--shard wants K/N with 1 <= K <= N, like 2/4, not \"2/4x\""},
      {"--shard", "2", "--shard wants K/N with 1 <= K <= N, like 2/4, not \"2\""},
      {"--seed", "x", "--seed wants a non-negative integer, not \"x\""},
      {"--timeout", "-5", "--timeout wants seconds, not \"-5\""},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    char *argv[] = {"suite", "d", (char *)bad[i].flag, (char *)bad[i].value, NULL};
    assert_int_equal(fl_suite_args_parse(&a, 4, argv, &err), FL_EUSAGE);
    assert_string_equal(err.msg, bad[i].msg);
    fl_suite_args_free(&a);
  }
  assert_int_equal(CALL(fl_suite_args_parse, &a, &err, "suite", "--list"), FL_EUSAGE);
  assert_string_equal(err.msg, "which files or folders?");
  fl_suite_args_free(&a);
  assert_int_equal(CALL(fl_suite_args_parse, &a, &err, "suite", "d", "--out"), FL_EUSAGE);
  assert_string_equal(err.msg, "--out needs a value");
  fl_suite_args_free(&a);
}

static void test_merge(void **state) {
  fl_merge_args_t a;
  fl_err_t err = {0};
  assert_int_equal(CALL(fl_merge_args_parse, &a, &err, "merge", "s1", "--out", "m", "s2",
                        "--junit", "j.xml"),
                   0);
  assert_int_equal(a.ndirs, 2);
  assert_string_equal(a.dirs[0], "s1");
  assert_string_equal(a.dirs[1], "s2");
  assert_string_equal(a.out, "m");
  assert_string_equal(a.junit, "j.xml");
  fl_merge_args_free(&a);
  assert_int_equal(CALL(fl_merge_args_parse, &a, &err, "merge", "s1"), 0);
  assert_string_equal(a.out, ".");
  assert_null(a.junit);
  fl_merge_args_free(&a);
  assert_int_equal(CALL(fl_merge_args_parse, &a, &err, "merge", "--out", "m"), FL_EUSAGE);
  assert_string_equal(err.msg, "which folders?");
  fl_merge_args_free(&a);
  assert_int_equal(CALL(fl_merge_args_parse, &a, &err, "merge", "s1", "--bogus"),
                   FL_EUSAGE);
  assert_string_equal(err.msg, "unknown option --bogus");
  fl_merge_args_free(&a);
}

static void test_proxy(void **state) {
  fl_proxy_args_t a;
  fl_err_t err = {0};
  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy"), 0);
  assert_string_equal(a.api, "127.0.0.1:8474");
  assert_null(a.config);
  assert_int_equal(a.seed_given, 0);
  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy", "--api", "127.0.0.1:0",
                        "--config", "c.json", "--seed", "5"),
                   0);
  assert_string_equal(a.api, "127.0.0.1:0");
  assert_string_equal(a.config, "c.json");
  assert_true(a.seed == 5 && a.seed_given);
  /* toxiproxy-server's spelling, one dash, and Go's "=true" booleans. */
  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy", "-host", "::1", "-port",
                        "9000", "-config=c.json", "-proxy-metrics",
                        "-runtime-metrics=true"),
                   0);
  assert_string_equal(a.api, "[::1]:9000");
  assert_string_equal(a.config, "c.json");
  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy", "-port", "9001"), 0);
  assert_string_equal(a.api, "127.0.0.1:9001");
  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy", "-h"), 0);
  assert_int_equal(a.help, 1);

  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy", "--frobnicate"),
                   FL_EUSAGE);
  assert_string_equal(err.msg, "unknown option --frobnicate");
  assert_int_equal(
      CALL(fl_proxy_args_parse, &a, &err, "proxy", "--api", "a:1", "-port", "2"),
      FL_EUSAGE);
  assert_string_equal(err.msg, "give --api or -host/-port, not both");
  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy", "extra"), FL_EUSAGE);
  assert_string_equal(err.msg, "unexpected argument \"extra\"");
  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy", "-seed", "x"), FL_EUSAGE);
  assert_string_equal(err.msg, "--seed wants a non-negative integer, not \"x\"");
  /* Found by fuzz_cli: "-a" is "-api", and an empty address was taken. */
  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy", "-a", ""), FL_EUSAGE);
  assert_string_equal(err.msg, "--api needs a value, not an empty one");
  assert_int_equal(CALL(fl_proxy_args_parse, &a, &err, "proxy", "--api"), FL_EUSAGE);
  assert_string_equal(err.msg, "--api needs a value");
}

static void test_cleanup(void **state) {
  fl_cleanup_args_t a;
  fl_err_t err = {0};
  assert_int_equal(CALL(fl_cleanup_args_parse, &a, &err, "cleanup"), 0);
  assert_int_equal(a.dry_run, 0);
  assert_int_equal(CALL(fl_cleanup_args_parse, &a, &err, "cleanup", "-n"), 0);
  assert_int_equal(a.dry_run, 1);
  assert_int_equal(CALL(fl_cleanup_args_parse, &a, &err, "cleanup", "--dry-run"), 0);
  assert_int_equal(a.dry_run, 1);
  assert_int_equal(CALL(fl_cleanup_args_parse, &a, &err, "cleanup", "--now"), FL_EUSAGE);
  assert_string_equal(err.msg, "unknown option --now");
  assert_int_equal(CALL(fl_cleanup_args_parse, &a, &err, "cleanup", "x"), FL_EUSAGE);
  assert_string_equal(err.msg, "unexpected argument \"x\"");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_run_all_flags),
      cmocka_unit_test(test_run_mistakes),
      cmocka_unit_test(test_parsers_reset_getopt),
      cmocka_unit_test(test_suite),
      cmocka_unit_test(test_merge),
      cmocka_unit_test(test_proxy),
      cmocka_unit_test(test_cleanup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
