/* scenarios/lib/txn.lua (faultline.lib.txn): the generators' transactions
 * run against an in-memory database written in the test scenario. A
 * database that runs each transaction at once (serially) gives histories
 * fl.check.transactions accepts at serializable for both models; one that
 * reads from a snapshot taken at the start and applies the writes at the
 * end, with a wait in between, gives anomalies it finds. Also: keys retire
 * after max_writes_per_key, every write of a key has its own value,
 * reread = false never reads a key twice or after writing it, and option
 * errors name the option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "harness/engine.h"
#include "harness/reaper.h"

#define SCENARIO_RUN_TAG "lib-txn"
#include "tests/helpers/scenario_run.h"

static void expect_pass(const char *name, const char *src) {
  json_t *r;
  int code = run(name, src, &r);
  if (code != 0)
    fail_msg("exit %d: %s", code, r ? str(r, "error") : "no report");
  json_decref(r);
}

/* The in-memory database both models share: `store[k]` is a list
 * (list-append) or a value (rw-register). With `stale`, a transaction
 * reads a copy taken when it began and writes when it ends, after a wait
 * in which others run: lost updates and skew. */
static const char DB[] = "local txn = require('faultline.lib.txn')\n"
                         "local function database(model, stale)\n"
                         "  local store = {}\n"
                         "  local function copy(t) local c = {} for k, v in pairs(t) do\n"
                         "    if type(v) == 'table' then c[k] = table.move(v, 1, #v, 1, "
                         "{}) else c[k] = v end end\n"
                         "    return c end\n"
                         "  return function(ops, ctx)\n"
                         "    local view = stale and copy(store) or store\n"
                         "    local writes = {}\n"
                         "    for _, m in ipairs(ops) do\n"
                         "      local f, k, v = m[1], m[2], m[3]\n"
                         "      if f == 'r' then\n"
                         "        local x = view[k]\n"
                         "        if model == 'list-append' then m[3] = x and "
                         "table.move(x, 1, #x, 1, {}) or {}\n"
                         "        else m[3] = x == nil and fl.json.null or x end\n"
                         "      elseif f == 'append' then\n"
                         "        view[k] = view[k] or {}\n"
                         "        if stale then table.insert(view[k], v) end\n"
                         "        writes[#writes + 1] = m\n"
                         "        if not stale then table.insert(store[k], v) end\n"
                         "      else\n"
                         "        view[k] = v\n"
                         "        writes[#writes + 1] = m\n"
                         "      end\n"
                         "    end\n"
                         "    if stale then\n"
                         "      fl.sleep(0.002)\n"
                         "      for _, m in ipairs(writes) do\n"
                         "        if m[1] == 'append' then store[m[2]] = view[m[2]] else "
                         "store[m[2]] = m[3] end\n"
                         "      end\n"
                         "    end\n"
                         "    return 'ok', ops\n"
                         "  end\n"
                         "end\n";

static char *scenario(const char *body) {
  return fl_asprintf("%sfl.scenario('s', function()\n%s\nend)\n", DB, body);
}

static void test_serial_list_append_valid(void **state) {
  char *src = scenario(
      "  local gen = txn.list_append{ keys = 3, max_writes_per_key = 5, max_length = 5,\n"
      "    run = database('list-append', false) }\n"
      "  local w = fl.workload{ ops = gen, clients = 4, duration = 0.5, name = 'la' }\n"
      "  w:wait()\n"
      "  fl.expect.that(w.counts.ok > 50, 'transactions ran: ' .. w.counts.ok)\n"
      "  fl.expect.that(gen.keyspace.next_key > 3, 'keys retired: ' .. "
      "gen.keyspace.next_key)\n"
      "  for k, n in pairs(gen.keyspace.writes) do\n"
      "    fl.expect.that(n <= 5, 'at most 5 appends to key ' .. k .. ': ' .. n)\n"
      "  end\n"
      "  local r = fl.check.transactions{ model = 'list-append', history = w,\n"
      "    consistency = 'strict-serializable' }\n"
      "  fl.expect.that(r.valid == true, r.message)\n");
  expect_pass("serial_la", src);
  fl_free(src);
}

static void test_serial_rw_register_valid(void **state) {
  char *src = scenario(
      "  local gen = txn.rw_register{ keys = 3, run = database('rw-register', false) }\n"
      "  local w = fl.workload{ ops = gen, clients = 4, duration = 0.5, name = 'rw' }\n"
      "  w:wait()\n"
      "  fl.expect.that(w.counts.ok > 50, 'transactions ran: ' .. w.counts.ok)\n"
      "  local r = fl.check.transactions{ model = 'rw-register', history = w }\n"
      "  fl.expect.that(r.valid == true, r.message)\n");
  expect_pass("serial_rw", src);
  fl_free(src);
}

/* The stale database loses updates: the checker must find anomalies in the
 * generators' histories (a generator whose histories hide them would make
 * every PostgreSQL run pass). */
static void test_stale_database_found(void **state) {
  char *src = scenario(
      "  for _, model in ipairs({ 'list-append', 'rw-register' }) do\n"
      "    local make = model == 'list-append' and txn.list_append or txn.rw_register\n"
      "    local w = fl.workload{ ops = make{ keys = 2, run = database(model, true) },\n"
      "      clients = 4, duration = 0.5, name = model }\n"
      "    w:wait()\n"
      "    local r = fl.check.transactions{ model = model, history = w,\n"
      "      name = model .. ' stale' }\n"
      "    fl.expect.that(r.valid == false, model .. ': ' .. tostring(r.message))\n"
      "  end\n"
      "  fl.check.record{ name = 'done', status = 'pass' }\n");
  json_t *r;
  /* Exit 1: the two checks fail, as they must; the scenario ran to its end. */
  int code = run("stale", src, &r);
  fl_free(src);
  assert_non_null(r);
  json_t *checks = json_object_get(r, "checks");
  int failed = 0, done = 0;
  for (size_t i = 0; i < json_array_size(checks); i++) {
    json_t *c = json_array_get(checks, i);
    if (strstr(str(c, "name"), "stale") && strcmp(str(c, "status"), "fail") == 0)
      failed++;
    if (strcmp(str(c, "name"), "done") == 0)
      done = 1;
  }
  if (code != 1 || failed != 2 || !done)
    fail_msg("exit %d, %d stale checks failed, done %d: %s", code, failed, done,
             str(r, "error"));
  json_decref(r);
}

static void test_reread_false(void **state) {
  char *src = scenario(
      "  local gen = txn.list_append{ keys = 2, max_length = 6, read_ratio = 0.7,\n"
      "    reread = false, run = database('list-append', false) }\n"
      "  local ctx = { client = 1, process = 1 }\n"
      "  local reads = 0\n"
      "  for _ = 1, 500 do\n"
      "    local op = gen.next(ctx)\n"
      "    fl.expect.that(op.f == 'txn', op.f)\n"
      "    local seen = {}\n"
      "    for _, m in ipairs(op.value) do\n"
      "      if m[1] == 'r' then\n"
      "        fl.expect.that(not seen[m[2]], 'key ' .. m[2] .. ' read after use')\n"
      "        fl.expect.that(m[3] == fl.json.null, 'an invoke reads null')\n"
      "        reads = reads + 1\n"
      "      end\n"
      "      seen[m[2]] = true\n"
      "    end\n"
      "  end\n"
      "  fl.expect.that(reads > 300, 'reads were made: ' .. reads)\n"
      "  -- With reread (the default) a key is read twice somewhere in 500.\n"
      "  local g2 = txn.list_append{ keys = 2, max_length = 6, read_ratio = 0.7,\n"
      "    run = database('list-append', false) }\n"
      "  local twice = false\n"
      "  for _ = 1, 500 do\n"
      "    local seen = {}\n"
      "    for _, m in ipairs(g2.next(ctx).value) do\n"
      "      if m[1] == 'r' and seen[m[2]] then twice = true end\n"
      "      seen[m[2]] = true\n"
      "    end\n"
      "  end\n"
      "  fl.expect.that(twice, 'reread = true rereads')\n");
  expect_pass("reread", src);
  fl_free(src);
}

static void test_option_errors(void **state) {
  const char *cases[][2] = {
      {"txn.list_append{ keys = 2 }",
       "txn.list_append: 'run' (a function(ops, ctx)) is required"},
      {"txn.rw_register{ run = print, keys = 0 }",
       "txn.rw_register: 'keys' must be an integer"},
      {"txn.list_append{ run = print, min_length = 3, max_length = 2 }",
       "'min_length' and"},
      {"txn.list_append{ run = print, read_ratio = 2 }", "'read_ratio' must be"},
      {"txn.list_append{ run = print, colour = 1 }", "unknown option 'colour'"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *src = fl_asprintf("local txn = require('faultline.lib.txn')\n"
                            "fl.scenario('s', function()\n  %s\nend)\n",
                            cases[i][0]);
    json_t *r;
    assert_int_equal(run("opts", src, &r), 2);
    if (strstr(str(r, "error"), cases[i][1]) == NULL ||
        strstr(str(r, "error"), "opts.lua:4") == NULL)
      fail_msg("'%s' (at opts.lua:4) not in '%s'", cases[i][1], str(r, "error"));
    json_decref(r);
    fl_free(src);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "__exec") == 0)
    return fl_shim_main(argc - 1, argv + 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_serial_list_append_valid),
      cmocka_unit_test(test_serial_rw_register_valid),
      cmocka_unit_test(test_stale_database_found),
      cmocka_unit_test(test_reread_false),
      cmocka_unit_test(test_option_errors),
  };
  return cmocka_run_group_tests(tests, scenario_dir_setup, scenario_dir_teardown);
}
