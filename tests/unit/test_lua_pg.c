/* harness/lua_pg.c without a PostgreSQL server (tests/integration/pg_client.sh
 * runs it against one): misuse raises at the scenario's line, a refused
 * connection and a server that never answers end as "connect" errors in
 * their time, a peer that closes during the handshake too, the loop runs
 * meanwhile, and fl.pg.definite sorts the kinds. Each test writes a small
 * scenario and runs it in-process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "harness/engine.h"
#include "harness/reaper.h"

#define SCENARIO_RUN_TAG "lua-pg"
#include "tests/helpers/scenario_run.h"

static void expect_error(const char *name, const char *src, const char *part) {
  json_t *r;
  assert_int_equal(run(name, src, &r), 2);
  if (strstr(str(r, "error"), part) == NULL)
    fail_msg("'%s' not in the error '%s'", part, str(r, "error"));
  json_decref(r);
}

static void expect_pass(const char *name, const char *src) {
  json_t *r;
  int code = run(name, src, &r);
  if (code != 0)
    fail_msg("exit %d: %s", code, r ? str(r, "error") : "no report");
  json_decref(r);
}

static void test_bad_conninfo_raises(void **state) {
  expect_error("conninfo",
               "fl.scenario('s', function()\n"
               "  fl.pg.connect('host=127.0.0.1 nonsense_key=1')\n"
               "end)\n",
               "conninfo.lua:3: fl.pg.connect: bad conninfo");
}

static void test_unknown_option_raises(void **state) {
  expect_error("option",
               "fl.scenario('s', function()\n"
               "  fl.pg.connect('host=127.0.0.1', { timout = 1 })\n"
               "end)\n",
               "option.lua:3: fl.pg.connect: unknown option 'timout'");
  expect_error("negative",
               "fl.scenario('s', function()\n"
               "  fl.pg.connect('host=127.0.0.1', { timeout = -1 })\n"
               "end)\n",
               "negative.lua:3: fl.pg.connect: 'timeout' must be a positive");
}

/* A port nobody listens on: nil, a message naming the refusal, "connect". */
static void test_refused(void **state) {
  expect_pass(
      "refused",
      "fl.scenario('s', function()\n"
      "  local c, err, kind, state = fl.pg.connect('host=127.0.0.1 port=' .. fl.port()"
      " .. ' user=x connect_timeout=5')\n"
      "  fl.expect.that(c == nil and kind == 'connect' and state == nil, "
      "tostring(kind))\n"
      "  fl.expect.that(err:find('refused'), err)\n"
      "  fl.expect.that(not err:find('\\n'), 'one line')\n"
      "  fl.expect.that(fl.pg.definite(kind), 'a refusal is definite')\n"
      "end)\n");
}

/* A listener that never accepts: the handshake never ends, the connect
 * times out after `timeout` while another task keeps ticking. */
static void test_connect_timeout(void **state) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(listen(fd, 8), 0);
  socklen_t len = sizeof(sa);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
  char *src =
      fl_asprintf("fl.scenario('s', function()\n"
                  "  local ticks = 0\n"
                  "  local t = fl.spawn(function() for _ = 1, 5 do fl.sleep(0.05); ticks "
                  "= ticks + 1 end end)\n"
                  "  local t0 = fl.now()\n"
                  "  local c, err, kind = fl.pg.connect('host=127.0.0.1 port=%d user=x', "
                  "{ timeout = 0.4 })\n"
                  "  local took = fl.now() - t0\n"
                  "  t:wait()\n"
                  "  fl.expect.that(c == nil and kind == 'connect', tostring(kind))\n"
                  "  fl.expect.that(err:find('timed out'), err)\n"
                  "  fl.expect.that(took >= 0.35 and took < 3, 'took ' .. took)\n"
                  "  fl.expect.that(ticks == 5, 'the loop ran: ' .. ticks)\n"
                  "end)\n",
                  ntohs(sa.sin_port));
  expect_pass("timeout", src);
  fl_free(src);
  close(fd);
}

/* A proxy whose upstream refuses: the TCP connect succeeds, then the peer
 * closes during the startup handshake. */
static void test_closed_in_handshake(void **state) {
  expect_pass("handshake",
              "fl.scenario('s', function()\n"
              "  local p = fl.proxy{ name = 'p', upstream = '127.0.0.1:' .. fl.port() }\n"
              "  local c, err, kind = fl.pg.connect('host=127.0.0.1 port=' .. p.port .. "
              "' user=x', { timeout = 3 })\n"
              "  fl.expect.that(c == nil and kind == 'connect', tostring(kind) .. ' ' .. "
              "tostring(err))\n"
              "end)\n");
}

static void test_definite(void **state) {
  expect_pass("definite",
              "fl.scenario('s', function()\n"
              "  for _, k in ipairs({'serialization', 'deadlock', 'sql', 'connect', "
              "'closed'}) do\n"
              "    fl.expect.that(fl.pg.definite(k) == true, k)\n"
              "  end\n"
              "  for _, k in ipairs({'lost', 'server', 'timeout', 'nonsense'}) do\n"
              "    fl.expect.that(fl.pg.definite(k) == false, k)\n"
              "  end\n"
              "end)\n");
  expect_error("definite_bad",
               "fl.scenario('s', function()\n"
               "  fl.pg.definite(nil)\n"
               "end)\n",
               "definite_bad.lua:3: fl.pg.definite: an error kind");
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "__exec") == 0)
    return fl_shim_main(argc - 1, argv + 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_conninfo_raises),
      cmocka_unit_test(test_unknown_option_raises),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_connect_timeout),
      cmocka_unit_test(test_closed_in_handshake),
      cmocka_unit_test(test_definite),
  };
  return cmocka_run_group_tests(tests, scenario_dir_setup, scenario_dir_teardown);
}
