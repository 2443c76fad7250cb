-- PostgreSQL for scenarios: a server started by faultline with its data
-- directory under the run directory, and list-append transactions over
-- fl.pg for fl.check.transactions.
--
--   local pg = require("faultline.lib.postgres")
--   local db = pg.server{}                    -- initdb + postgres on a fl.port()
--   db:start()
--   local w = fl.workload{ clients = 6, duration = 5, name = "txn",
--     ops = pg.list_append{ server = db, isolation = "serializable" } }
--   w:wait()
--   fl.check.transactions{ model = "list-append", history = w }
--
-- As root the server runs as user "postgres" (PostgreSQL refuses to run as
-- root), which must be able to reach the run directory; otherwise as
-- faultline's own user. It stops with SIGINT (PostgreSQL's fast shutdown).
--
-- The table: one row per key, `txn(k integer primary key, v text)`, the list
-- being v's comma-separated values. An append is one upsert,
--   INSERT INTO txn (k, v) VALUES ($1, $2)
--   ON CONFLICT (k) DO UPDATE SET v = txn.v || ',' || excluded.v
-- and a read is `SELECT v FROM txn WHERE k = $1`. One row per key maps
-- Elle's keys onto what PostgreSQL's isolation works on: an append takes
-- the row's lock and writes a new version of it (a write-write conflict at
-- REPEATABLE READ and SERIALIZABLE, a serial order of appends at READ
-- COMMITTED), and a read reads one row version (SSI's read locks are on the
-- row and its index entry, including the absence of a row never written).
-- The upsert appends to the row's latest version, so no append can be lost
-- to a stale read: what the levels differ in is what reads see.
local fl = require("faultline")
local txn = require("faultline.lib.txn")
local util = require("faultline.lib.util")

local M = {}

local function bin_dir(opts)
  return opts.bin or os.getenv("FL_PG_BIN") or "/usr/lib/postgresql/15/bin"
end

--- postgres.available() -> true | false, why: whether a server can be run
--- here (the binaries, and as root the postgres user and setpriv).
function M.available(bin)
  bin = bin or bin_dir({})
  local r = fl.exec{ "test", "-x", bin .. "/postgres", timeout = 5 }
  if r.code ~= 0 then return false, bin .. "/postgres not found (Debian: postgresql)" end
  if fl.exec{ "id", "-u", timeout = 5 }.stdout:match("^0") then
    if fl.exec{ "id", "postgres", timeout = 5 }.code ~= 0 then return false, "no user postgres" end
    if fl.exec{ "sh", "-c", "command -v setpriv", timeout = 5 }.code ~= 0 then
      return false, "setpriv (util-linux) not installed"
    end
  end
  return true
end

local Server = {}
Server.__index = Server

--- postgres.server{name="pg", port=fl.port(), bin=, settings={}}: a
--- PostgreSQL server (not started). settings are extra `-c name=value`
--- options. Fields: .service (the fl.service), .addr, .port, .dir.
function M.server(opts)
  opts = fl.options(opts, "postgres.server", { "name", "port", "bin", "settings" })
  local s = setmetatable({}, Server)
  s.name = opts.name or "pg"
  s.port = opts.port or fl.port()
  s.addr = "127.0.0.1:" .. s.port
  s.bin = bin_dir(opts)
  s.dir = fl.info().dir .. "/data/" .. s.name
  s.root = fl.exec{ "id", "-u", timeout = 5 }.stdout:match("^0%s*$") ~= nil
  local cmd = { s.bin .. "/postgres", "-D", s.dir, "-p", tostring(s.port),
    "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
    -- A process crash (kill -9) loses nothing the OS has: fsync only
    -- guards against the machine's crash, which no scenario here makes.
    "-c", "fsync=off", "-c", "shared_buffers=16MB", "-c", "max_connections=50",
    "-c", "log_min_messages=warning",
    -- Transactions append to keys in any order and deadlock now and then:
    -- found in 50 ms rather than the default second.
    "-c", "deadlock_timeout=50ms" }
  local names = {}
  for k in pairs(opts.settings or {}) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do
    cmd[#cmd + 1] = "-c"
    cmd[#cmd + 1] = k .. "=" .. tostring(opts.settings[k])
  end
  s.service = fl.service{ name = s.name, cmd = cmd, user = s.root and "postgres" or nil,
    stop_signal = "SIGINT", stop_timeout = 10,
    -- ready when it accepts sessions, not just TCP: a server still
    -- starting up (or recovering after a kill) answers "the database
    -- system is starting up" to connections it accepts
    ready = fl.probe.cmd{ s.bin .. "/pg_isready", "-q", "-h", "127.0.0.1", "-p",
      tostring(s.port), "-t", "1", timeout = 30 } }
  return s
end

-- initdb into s.dir, as the user the server runs as.
local function initdb(s)
  util.mkdir(s.dir)
  local cmd = { s.bin .. "/initdb", "-D", s.dir, "-A", "trust", "-U", "postgres", "--no-sync",
    "-E", "UTF8", "--locale=C" }
  if s.root then
    local r = fl.exec{ "chown", "postgres:postgres", s.dir, timeout = 10 }
    if r.code ~= 0 then error("postgres.server: chown " .. s.dir .. ": " .. r.stderr, 3) end
    table.insert(cmd, 1, "--init-groups")
    table.insert(cmd, 1, "--regid=postgres")
    table.insert(cmd, 1, "--reuid=postgres")
    table.insert(cmd, 1, "setpriv")
  end
  fl.exec{ "chmod", "700", s.dir, timeout = 10 }
  cmd.timeout = 60
  local r = fl.exec(cmd)
  if r.code ~= 0 then
    error(string.format("postgres.server: initdb in %s failed (user postgres must be able "
      .. "to reach the run directory: o+x on its parents): %s", s.dir,
      (r.stderr ~= "" and r.stderr or r.stdout):sub(-400)), 3)
  end
end

--- server:start(): initdb on the first start, then the service (ready when
--- it accepts sessions: pg_isready); creates the list-append table.
function Server:start()
  if not self.initialized then
    initdb(self)
    self.initialized = true
  end
  self.service:start()
  if not self.table_made then
    local c, err
    for _ = 1, 50 do -- accepting TCP is not yet accepting sessions
      c, err = fl.pg.connect(self:conninfo(), { timeout = 2 })
      if c then break end
      fl.sleep(0.1)
    end
    if not c then error("postgres.server: cannot connect: " .. tostring(err), 2) end
    assert(c:query("CREATE TABLE IF NOT EXISTS txn (k integer PRIMARY KEY, v text NOT NULL)"))
    c:close()
    self.table_made = true
  end
end

--- server:conninfo([addr]) -> a libpq conninfo for addr (default the
--- server's own; a proxy's `listen` to go through it).
function Server:conninfo(addr)
  local host, port = (addr or self.addr):match("^(.*):(%d+)$")
  return string.format("host=%s port=%s user=postgres dbname=postgres sslmode=disable "
    .. "application_name=faultline", host, port)
end

local levels = { ["serializable"] = "SERIALIZABLE", ["repeatable-read"] = "REPEATABLE READ",
  ["read-committed"] = "READ COMMITTED" }

local APPEND = "INSERT INTO txn (k, v) VALUES ($1, $2) "
  .. "ON CONFLICT (k) DO UPDATE SET v = txn.v || ',' || excluded.v"
local READ = "SELECT v FROM txn WHERE k = $1"

local function parse_list(v)
  local list = {}
  if v == nil or v == fl.json.null then return list end
  for x in v:gmatch("[^,]+") do list[#list + 1] = math.tointeger(tonumber(x)) or x end
  return list
end

-- Performs ops as one transaction on conn: "ok" | "fail" | "info", err.
-- Before COMMIT is sent, any error leaves the transaction uncommitted (the
-- server rolls back a session that ends in a transaction): "fail". An
-- error answering COMMIT is "fail" only when it is definite (a
-- serialization failure); a lost connection or a timeout there is "info".
local function transact(conn, level, ops)
  local ok, err, kind = conn:query("BEGIN ISOLATION LEVEL " .. level)
  if not ok then return "fail", err, kind end
  for _, m in ipairs(ops) do
    local rows
    if m[1] == "append" then
      rows, err, kind = conn:query(APPEND, m[2], tostring(m[3]))
    else
      rows, err, kind = conn:query(READ, m[2])
      if rows then m[3] = parse_list(rows[1] and rows[1].v) end
    end
    if not rows then
      if conn:status() == "ready" then conn:query("ROLLBACK") end
      return "fail", err, kind
    end
  end
  local tag
  ok, tag, kind = conn:query("COMMIT")
  if not ok then return fl.pg.definite(kind) and "fail" or "info", tag, kind end
  -- COMMIT of a transaction the server had already aborted answers ROLLBACK.
  if tag ~= "COMMIT" then return "fail", "COMMIT answered " .. tostring(tag), "sql" end
  return "ok"
end

--- postgres.list_append{server=, isolation="serializable", addr=, timeout=2,
--- keys=, min_length=, max_length=, read_ratio=, max_writes_per_key=}: a
--- fl.workload generator of list-append transactions on the server (or
--- through `addr`, e.g. a proxy's listen address, or a function(ctx) ->
--- addr), each client on its own connection, opened again after an error.
--- isolation is "serializable", "repeatable-read" or "read-committed".
function M.list_append(opts)
  opts = fl.options(opts, "postgres.list_append", { "server", "isolation", "addr", "timeout",
    "keys", "min_length", "max_length", "read_ratio", "max_writes_per_key" })
  local s = opts.server or error("postgres.list_append: 'server' is required", 2)
  local isolation = opts.isolation or "serializable"
  local level = levels[isolation] or error("postgres.list_append: unknown isolation '"
    .. tostring(isolation) .. "' (serializable, repeatable-read, read-committed)", 2)
  local timeout = opts.timeout or 2
  local function addr_of(ctx)
    if type(opts.addr) == "function" then return opts.addr(ctx) end
    return opts.addr or s.addr
  end
  local function run(ops, ctx)
    if ctx.pg == nil or ctx.pg:status() ~= "ready" then
      if ctx.pg then ctx.pg:close() end
      local c, err, kind = fl.pg.connect(s:conninfo(addr_of(ctx)),
        { timeout = timeout, query_timeout = timeout })
      if not c then
        ctx.pg = nil
        fl.sleep(0.05) -- not a busy loop while the server is down
        return "fail", nil, err
      end
      ctx.pg = c
    end
    local outcome, err, kind = transact(ctx.pg, level, ops)
    if outcome ~= "ok" then
      -- A serialization failure is the normal way these levels refuse.
      if kind ~= "serialization" and kind ~= "deadlock" then fl.sleep(0.01) end
      return outcome, nil, err
    end
    return "ok", ops
  end
  return txn.list_append{ run = run, keys = opts.keys or 6, min_length = opts.min_length or 2,
    max_length = opts.max_length or 4, read_ratio = opts.read_ratio or 0.5,
    max_writes_per_key = opts.max_writes_per_key or 24,
    -- READ COMMITTED reads each statement from its own snapshot: a second
    -- read of a key would show it as an internal inconsistency.
    reread = isolation ~= "read-committed" }
end

--- postgres.txn_under_faults{isolation=, clients=6, keys=6, settle=1}:
--- the PostgreSQL pack's run: a server, a proxy in front of it that every
--- client goes through (`clients->pg`), and list-append transactions from
--- `clients` clients at `isolation` while, one after another (each after
--- `settle` s of calm, default 1.5): the server is killed (kill -9) and restarted, paused
--- for 0.7 s, the clients' link gets 50 ms of latency for 1 s, and is
--- partitioned for 0.7 s. Returns the workload, after it ended.
function M.txn_under_faults(opts)
  opts = fl.options(opts, "postgres.txn_under_faults",
    { "isolation", "clients", "keys", "settle" })
  local settle = opts.settle or 1.5
  local db = M.server{}
  db:start()
  local proxy = fl.proxy{ name = "clients->pg", listen = "127.0.0.1:0", upstream = db.addr }
  local faults = { settle, 0.5, settle, 0.7, settle, 1, settle, 0.7, settle }
  local total = 0
  for _, d in ipairs(faults) do total = total + d end
  local w = fl.workload{ clients = opts.clients or 6, duration = total + 1, name = "txn",
    ops = M.list_append{ server = db, isolation = opts.isolation, addr = proxy.listen,
      keys = opts.keys, timeout = 0.5 } }
  fl.sleep(settle)
  db.service:kill()
  fl.sleep(0.5)
  db.service:start()
  fl.sleep(settle)
  db.service:pause()
  fl.sleep(0.7)
  db.service:resume()
  fl.sleep(settle)
  proxy:add_toxic{ name = "latency", type = "latency", latency = 50 }
  fl.sleep(1)
  proxy:remove_toxic("latency")
  fl.sleep(settle)
  proxy:partition()
  fl.sleep(0.7)
  proxy:heal()
  w:wait()
  return w
end

return M
