/* harness/hosts.c: the hosts file (what it accepts, one message naming the
 * host and the field for each mistake) and the ssh command lines (master
 * options, a short relative control socket, "--" before the address). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "harness/hosts.h"

/* Evaluates "return <expr>" and reads the result as a hosts list. */
static int from_expr(const char *expr, fl_hosts_t *out, fl_err_t *err) {
  lua_State *L = luaL_newstate();
  char code[1024];
  snprintf(code, sizeof(code), "return %s", expr);
  assert_int_equal(luaL_dostring(L, code), LUA_OK);
  int rc = fl_hosts_from_lua(L, -1, "hosts.lua", out, err);
  lua_close(L);
  return rc;
}

static void test_full_and_defaults(void **state) {
  fl_hosts_t h;
  fl_err_t err = {0};
  assert_int_equal(
      from_expr("{ { name = 'n1', address = '10.0.0.1', user = 'admin', "
                "port = 2222, identity = '/k/id', sudo = true, known_hosts = '/k/kh' }, "
                "{ name = 'n-2_b', address = 'db.example' } }",
                &h, &err),
      0);
  assert_int_equal(h.n, 2);
  assert_string_equal(h.v[0].name, "n1");
  assert_string_equal(h.v[0].address, "10.0.0.1");
  assert_string_equal(h.v[0].user, "admin");
  assert_int_equal(h.v[0].port, 2222);
  assert_string_equal(h.v[0].identity, "/k/id");
  assert_int_equal(h.v[0].sudo, 1);
  assert_string_equal(h.v[0].known_hosts, "/k/kh");
  assert_null(h.v[1].known_hosts);
  assert_null(h.v[1].user);
  assert_null(h.v[1].identity);
  assert_int_equal(h.v[1].port, 0);
  assert_int_equal(h.v[1].sudo, 0);
  assert_ptr_equal(fl_hosts_find(&h, "n-2_b"), &h.v[1]);
  assert_null(fl_hosts_find(&h, "n3"));
  fl_hosts_free(&h);
}

static void expect_error(const char *expr, const char *want) {
  fl_hosts_t h;
  fl_err_t err = {0};
  assert_int_equal(from_expr(expr, &h, &err), FL_ECONFIG);
  if (strstr(err.msg, want) == NULL)
    fail_msg("%s: message \"%s\" lacks \"%s\"", expr, err.msg, want);
  assert_int_equal(h.n, 0);
  assert_null(h.v);
}

static void test_mistakes(void **state) {
  expect_error("'n1'", "hosts.lua: want a list of hosts");
  expect_error("{}", "hosts.lua: the list of hosts is empty");
  expect_error("{ 'n1' }", "hosts.lua: host 1: want a table");
  expect_error("{ { address = '10.0.0.1' } }", "host 1: `name` wants");
  expect_error("{ { name = 'a b', address = 'x' } }", "host 1: `name` wants");
  expect_error("{ { name = 'n1' } }", "host \"n1\": `address` wants");
  expect_error("{ { name = 'n1', address = '-oProxyCommand=x' } }",
               "host \"n1\": `address` wants");
  expect_error("{ { name = 'n1', address = 'a b' } }", "host \"n1\": `address`");
  expect_error("{ { name = 'n1', address = 'x', port = 0 } }", "host \"n1\": `port`");
  expect_error("{ { name = 'n1', address = 'x', port = 70000 } }", "`port` wants");
  expect_error("{ { name = 'n1', address = 'x', port = 22.5 } }", "`port` wants");
  expect_error("{ { name = 'n1', address = 'x', port = '22' } }", "`port` wants");
  expect_error("{ { name = 'n1', address = 'x', user = '-l' } }", "`user` wants");
  expect_error("{ { name = 'n1', address = 'x', identity = 1 } }", "`identity` wants");
  expect_error("{ { name = 'n1', address = 'x', sudo = 'yes' } }", "`sudo` wants");
  expect_error("{ { name = 'n1', address = 'x', known_hosts = '' } }",
               "`known_hosts` wants");
  expect_error("{ { name = 'n1', address = 'x', adress = 'y' } }",
               "host 1: unknown field \"adress\"");
  expect_error("{ { name = 'n1', address = 'x' }, { name = 'n1', address = 'y' } }",
               "two hosts are named \"n1\"");
}

static void test_load_file(void **state) {
  char path[] = "/tmp/fl-test-hosts-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *text = "local base = '10.9.0.'\nreturn { { name = 'n1', address = base "
                     ".. '2' }, { name = 'n2', address = base .. '3', port = 22 } }\n";
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  fl_hosts_t h;
  fl_err_t err = {0};
  assert_int_equal(fl_hosts_load_file(path, &h, &err), 0);
  assert_int_equal(h.n, 2);
  assert_string_equal(h.v[1].address, "10.9.0.3");
  fl_hosts_free(&h);

  FILE *f = fopen(path, "w");
  fputs("return {\n  { name = 'n1', address = 'x' },\n  oops(\n}\n", f);
  fclose(f);
  assert_int_equal(fl_hosts_load_file(path, &h, &err), FL_ECONFIG);
  if (strstr(err.msg, path) == NULL || strstr(err.msg, ":4:") == NULL)
    fail_msg("a syntax error should name the file and line: %s", err.msg);
  f = fopen(path, "w");
  fputs("return { { name = 'n1', address = 'x', port = -1 } }\n", f);
  fclose(f);
  assert_int_equal(fl_hosts_load_file(path, &h, &err), FL_ECONFIG);
  if (strstr(err.msg, path) == NULL || strstr(err.msg, "`port`") == NULL)
    fail_msg("a bad field should name the file and the field: %s", err.msg);
  unlink(path);
  assert_int_equal(fl_hosts_load_file(path, &h, &err), FL_ECONFIG);
  assert_non_null(strstr(err.msg, path));
}

static char *joined(char **argv) {
  static char buf[1024];
  buf[0] = '\0';
  for (size_t i = 0; argv[i] != NULL; i++) {
    strcat(buf, i ? " " : "");
    strcat(buf, argv[i]);
  }
  return buf;
}

static void test_ssh_argv(void **state) {
  fl_host_t h = {.name = "n1",
                 .address = "10.0.0.1",
                 .user = "admin",
                 .known_hosts = "/k/kh",
                 .port = 2222,
                 .identity = "/k/id"};
  char *cp = fl_ssh_control_path(3);
  assert_string_equal(cp, "ssh/h3");
  const char *cmd[] = {"faultline", "agent", NULL};
  char **argv = fl_ssh_argv(&h, cp, 5, 30, cmd);
  assert_string_equal(
      joined(argv),
      "ssh -o ControlPath=ssh/h3 -o BatchMode=yes -p 2222 -l admin -i "
      "/k/id -o IdentitiesOnly=yes -o UserKnownHostsFile=/k/kh -o ControlMaster=auto -o "
      "ControlPersist=30 -o ConnectTimeout=5 -- 10.0.0.1 faultline agent");
  fl_ssh_argv_free(argv);
  fl_host_t bare = {.name = "n2", .address = "db"};
  argv = fl_ssh_argv(&bare, cp, 3, 10, NULL);
  assert_string_equal(joined(argv), "ssh -o ControlPath=ssh/h3 -o BatchMode=yes -o "
                                    "ControlMaster=auto -o ControlPersist=10 -o "
                                    "ConnectTimeout=3 -- db");
  fl_ssh_argv_free(argv);
  argv = fl_ssh_exit_argv(&h, cp);
  assert_string_equal(
      joined(argv),
      "ssh -o ControlPath=ssh/h3 -o BatchMode=yes -p 2222 "
      "-l admin -i /k/id -o IdentitiesOnly=yes -o UserKnownHostsFile=/k/kh -O exit "
      "-- 10.0.0.1");
  fl_ssh_argv_free(argv);
  fl_free(cp);
}

static void test_scp_argv(void **state) {
  fl_host_t h = {.name = "n1",
                 .address = "10.0.0.1",
                 .user = "admin",
                 .known_hosts = "/k/kh",
                 .port = 2222,
                 .identity = "/k/id"};
  char **argv = fl_scp_argv(&h, "ssh/h0", "/proc/1/exe", "/tmp/x/.tmp-ab-0");
  assert_string_equal(
      joined(argv),
      "scp -q -o ControlPath=ssh/h0 -o BatchMode=yes -P 2222 -o User=admin -i "
      "/k/id -o IdentitiesOnly=yes -o UserKnownHostsFile=/k/kh -- /proc/1/exe "
      "10.0.0.1:/tmp/x/.tmp-ab-0");
  fl_ssh_argv_free(argv);
  fl_host_t v6 = {.name = "n2", .address = "fd00::2"};
  argv = fl_scp_argv(&v6, "ssh/h1", "a", "/b");
  assert_string_equal(joined(argv),
                      "scp -q -o ControlPath=ssh/h1 -o BatchMode=yes -- a [fd00::2]:/b");
  fl_ssh_argv_free(argv);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_and_defaults), cmocka_unit_test(test_mistakes),
      cmocka_unit_test(test_load_file),         cmocka_unit_test(test_ssh_argv),
      cmocka_unit_test(test_scp_argv),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
