-- fl.pg against a real PostgreSQL 15 (faultline.lib.postgres's server):
-- rows, NULLs, parameters, command tags; each error kind made on purpose
-- (sql, serialization, deadlock, timeout, closed, lost, connect); the loop
-- keeps running while a query waits. Every expectation is a check whose
-- name pg_client.sh looks for.
local fl = require("faultline")
local pg = require("faultline.lib.postgres")
local util = require("faultline.lib.util")

local function same(name, got, want)
  util.check(name, got == want, string.format("got %s, want %s", tostring(got), tostring(want)))
end

fl.scenario("fl.pg against postgres", { timeout = 90 }, function()
  local db = pg.server{ name = "pg", settings = { deadlock_timeout = "100ms" } }
  db:start()
  local info = db:conninfo()
  local a = assert(fl.pg.connect(info))
  local b = assert(fl.pg.connect(info))

  -- Rows by column name, text values, NULL as fl.json.null, parameters.
  local rows, tag, n = a:query("SELECT 1 AS one, NULL::text AS nothing, $1::text AS p, $2::int + 1 AS q",
    "it's", 41)
  same("rows: one row", #rows, 1)
  same("rows: text value", rows[1].one, "1")
  same("rows: NULL is fl.json.null", rows[1].nothing, fl.json.null)
  same("rows: a text parameter", rows[1].p, "it's")
  same("rows: a number parameter", rows[1].q, "42")
  same("rows: the tag", tag, "SELECT 1")
  same("rows: the count", n, 1)
  assert(a:query("CREATE TABLE t (k int PRIMARY KEY, v int)"))
  local _, tag2, n2 = a:query("INSERT INTO t VALUES (1, 10), (2, 20), ($1, $2)", 3, nil)
  same("insert: the tag", tag2, "INSERT 0 3")
  same("insert: rows affected", n2, 3)
  local nul = a:query("SELECT v FROM t WHERE k = 3")
  same("insert: a nil parameter is NULL", nul[1].v, fl.json.null)

  -- A large parameter goes out in pieces (PQflush until the socket took it).
  local big = string.rep("x", 8 << 20)
  local len = a:query("SELECT length($1) AS n", big)
  same("large send: 8 MiB parameter arrived whole", len and len[1].n, tostring(8 << 20))
  util.check("busy: a second query on a waiting connection raises", (function()
    local t = fl.spawn(function() return a:query("SELECT pg_sleep(0.2)") end)
    fl.sleep(0.05)
    local ok, e = pcall(function() return a:query("SELECT 1") end)
    t:wait()
    return not ok and tostring(e):find("another task") ~= nil
  end)(), "conn:query while another task waits")

  -- A statement the server refuses: kind sql, SQLSTATE in the message.
  local r, err, kind, state = a:query("SELECT * FROM missing")
  same("sql: nil", r, nil)
  same("sql: kind", kind, "sql")
  same("sql: sqlstate", state, "42P01")
  util.check("sql: the message starts with the SQLSTATE", err:match("^42P01: ") ~= nil, err)
  same("sql: definite", fl.pg.definite(kind), true)
  same("sql: the connection is still usable", a:status(), "ready")

  -- A serialization failure: a's snapshot is older than b's committed update.
  assert(a:query("BEGIN ISOLATION LEVEL REPEATABLE READ"))
  assert(a:query("SELECT v FROM t WHERE k = 1"))
  assert(b:query("UPDATE t SET v = 11 WHERE k = 1"))
  r, err, kind, state = a:query("UPDATE t SET v = 12 WHERE k = 1")
  same("serialization: kind", kind, "serialization")
  same("serialization: sqlstate", state, "40001")
  assert(a:query("ROLLBACK"))

  -- A deadlock: a holds row 1 and wants 2, b holds 2 and wants 1. Both
  -- wait on the loop at once; one of them is chosen as the victim.
  assert(a:query("BEGIN"))
  assert(b:query("BEGIN"))
  assert(a:query("UPDATE t SET v = v + 1 WHERE k = 1"))
  assert(b:query("UPDATE t SET v = v + 1 WHERE k = 2"))
  local kinds = {}
  local ta = fl.spawn(function()
    local done, _, k = a:query("UPDATE t SET v = v + 1 WHERE k = 2")
    kinds[#kinds + 1] = done and "ok" or k
  end)
  fl.sleep(0.05)
  local done, _, kb = b:query("UPDATE t SET v = v + 1 WHERE k = 1")
  kinds[#kinds + 1] = done and "ok" or kb
  ta:wait()
  table.sort(kinds)
  same("deadlock: one victim", table.concat(kinds, ","), "deadlock,ok")
  a:query("ROLLBACK")
  b:query("ROLLBACK")

  -- The loop runs while a query waits: ticks during a 1 s pg_sleep.
  local ticks = 0
  local ticker = fl.spawn(function()
    for _ = 1, 100 do
      fl.sleep(0.05)
      ticks = ticks + 1
      if ticks >= 10 then return end
    end
  end)
  local t0 = fl.now()
  assert(a:query("SELECT pg_sleep(1)"))
  ticker:wait()
  util.check("loop: other tasks ran during the query", ticks >= 10 and fl.now() - t0 >= 0.9,
    string.format("%d ticks during %.2f s", ticks, fl.now() - t0))

  -- A timeout gives the session up; the next query is "closed", unsent.
  local c = assert(fl.pg.connect(info, { query_timeout = 0.3 }))
  t0 = fl.now()
  r, err, kind = c:query("SELECT pg_sleep(5)")
  local took = fl.now() - t0
  same("timeout: kind", kind, "timeout")
  util.check("timeout: after query_timeout", took >= 0.25 and took < 2, string.format("%.3f s", took))
  same("timeout: not definite", fl.pg.definite(kind), false)
  same("timeout: the connection is broken", c:status(), "broken")
  r, err, kind = c:query("SELECT 1")
  same("closed: kind", kind, "closed")
  same("closed: definite", fl.pg.definite(kind), true)
  c:close()
  same("close: status", c:status(), "closed")
  util.check("close: a closed connection raises",
    not pcall(function() return c:query("SELECT 1") end), "query after close")

  -- The server killed while a query runs: "lost"; then refused: "connect".
  local killer = fl.spawn(function()
    fl.sleep(0.3)
    db.service:kill()
  end)
  r, err, kind = a:query("SELECT pg_sleep(5)")
  killer:wait()
  util.check("lost: kind", kind == "lost" or kind == "server", tostring(kind) .. ": " .. tostring(err))
  same("lost: not definite", fl.pg.definite(kind), false)
  local d, derr, dkind = fl.pg.connect(info, { timeout = 2 })
  same("connect: refused", d, nil)
  same("connect: kind", dkind, "connect")
  util.check("connect: the message says refused", tostring(derr):match("refused") ~= nil, derr)
  b:close()
end)
