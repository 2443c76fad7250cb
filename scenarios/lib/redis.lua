-- Redis helpers: a RESP client over fl.tcp, redis-server started under the
-- run directory, a primary with replicas that reach it through proxies, and a
-- set workload (SADD of unique ids) for fl.check.set.
--
--   local redis = require("faultline.lib.redis")
--   local rs = redis.replicated{ replicas = 2 }     -- r1 primary, r2 r3 replicas
--   rs:start()
--   local c = assert(redis.connect(rs:addr(rs:primary())))
--   c:call("SADD", "s", 42)                          --> 1
--
-- The server binary: redis.replicated{binary = "/path/to/redis-server"}, or
-- FL_REDIS_SERVER in the environment, or redis-server from PATH.
local fl = require("faultline")
local util = require("faultline.lib.util")

local M = {}

-- A reply that is Redis's null ($-1 or *-1).
M.null = fl.json.null

---------------------------------------------------------------------------
-- RESP client

local Conn = {}
Conn.__index = Conn

--- redis.connect(addr, {timeout=2}) -> conn | nil, err, code
function M.connect(addr, opts)
  opts = fl.options(opts, "redis.connect", { timeout = true })
  local timeout = opts.timeout or 2
  local sock, err, code = fl.tcp.connect(addr, { timeout = timeout })
  if not sock then return nil, err, code end
  return setmetatable({ sock = sock, addr = addr, timeout = timeout }, Conn)
end

local function encode(args)
  local out = { "*" .. #args .. "\r\n" }
  for _, a in ipairs(args) do
    a = tostring(a)
    out[#out + 1] = "$" .. #a .. "\r\n" .. a .. "\r\n"
  end
  return table.concat(out)
end
M.encode = encode

-- One reply. An error reply inside an array (EXEC) becomes {err = "..."};
-- at the top level it is returned as nil, message, "REPLY".
local function read_reply(sock, o, top)
  local line, err, code = sock:receive_until("\r\n", o)
  if not line then return nil, err, code end
  local t, rest = line:sub(1, 1), line:sub(2)
  if t == "+" then return rest end
  if t == "-" then
    if top then return nil, rest, "REPLY" end
    return { err = rest }
  end
  if t == ":" then return math.tointeger(tonumber(rest)) end
  if t == "$" then
    local n = math.tointeger(tonumber(rest))
    if n == nil then return nil, "bad bulk length: " .. line, "PROTOCOL" end
    if n < 0 then return M.null end
    local data, e2, c2 = sock:receive(n + 2, o)
    if not data then return nil, e2, c2 end
    return data:sub(1, n)
  end
  if t == "*" then
    local n = math.tointeger(tonumber(rest))
    if n == nil then return nil, "bad array length: " .. line, "PROTOCOL" end
    if n < 0 then return M.null end
    local arr = {}
    for i = 1, n do
      local v, e2, c2 = read_reply(sock, o, false)
      if v == nil then return nil, e2, c2 end
      arr[i] = v
    end
    return arr
  end
  return nil, "unexpected reply: " .. line, "PROTOCOL"
end

--- conn:call(cmd, args...) -> reply | nil, err, code, maybe_sent. code is
--- "REPLY" for a Redis error reply (the connection stays usable), otherwise
--- a transport error (ETIMEDOUT, EOF, ECONNRESET, ...) after which the
--- connection is closed: make a new one. maybe_sent is false only when no
--- byte of the command was written (the server surely never saw it), true
--- when it may have run: the send went out, or part of it did.
function Conn:call(...)
  if self.closed then return nil, "connection closed", "CLOSED", false end
  local o = { timeout = self.timeout }
  local ok, err, code, sent = self.sock:send(encode({ ... }), o)
  if not ok then
    self:close()
    return nil, err, code, sent ~= false
  end
  local v, e2, c2 = read_reply(self.sock, o, true)
  if v == nil and c2 ~= "REPLY" then self:close() end
  if v == nil then return nil, e2, c2, true end
  return v
end

function Conn:close()
  if not self.closed then
    self.closed = true
    pcall(self.sock.close, self.sock)
  end
end

--- One command on a fresh connection: redis.call(addr, {timeout=}, cmd, ...)
--- -> reply | nil, err, code, maybe_sent (false when the connect failed).
function M.call(addr, opts, ...)
  local c, err, code = M.connect(addr, opts)
  if not c then return nil, err, code, false end
  local v, e2, c2, sent = c:call(...)
  c:close()
  return v, e2, c2, sent
end

--- INFO's "key:value" lines as a table.
function M.parse_info(text)
  local t = {}
  for line in tostring(text):gmatch("[^\r\n]+") do
    local k, v = line:match("^([%w_]+):(.*)$")
    if k then t[k] = v end
  end
  return t
end

---------------------------------------------------------------------------
-- Servers

local function server_binary(opts)
  if opts.binary then return opts.binary end
  local env = os.getenv("FL_REDIS_SERVER")
  if env and env ~= "" then return env end
  return "redis-server"
end
M.binary = server_binary

--- redis.server{name=, port=, binary=, args={...}, replicaof="host:port"}:
--- a redis-server on 127.0.0.1 without persistence, its working directory
--- under the run directory. Returns the (unstarted) service.
function M.server(opts)
  opts = fl.options(opts, "redis.server",
    { name = true, port = true, binary = true, args = true, replicaof = true,
      ready_timeout = true })
  local name = opts.name or "redis"
  local port = opts.port or fl.port()
  local dir = fl.info().dir .. "/data/" .. name
  util.mkdir(dir)
  os.remove(dir .. "/dump.rdb")   -- a reused --out directory must not feed old data
  local cmd = { server_binary(opts), "--port", tostring(port), "--bind", "127.0.0.1",
    "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no",
    "--logfile", "", "--repl-diskless-sync-delay", "0", "--repl-timeout", "5" }
  if opts.replicaof then
    local h, p = opts.replicaof:match("^(.*):(%d+)$")
    cmd[#cmd + 1] = "--replicaof"
    cmd[#cmd + 1] = h
    cmd[#cmd + 1] = p
  end
  for _, a in ipairs(opts.args or {}) do cmd[#cmd + 1] = a end
  return fl.service{ name = name, cmd = cmd,
    ready = fl.probe.log("Ready to accept connections", { timeout = opts.ready_timeout or 10 }) },
    port
end

---------------------------------------------------------------------------
-- A primary with replicas

local Set = {}
Set.__index = Set

--- redis.replicated{replicas=2, binary=, args={...}}: node r1 is the primary,
--- r2.. its replicas. Every directed pair of nodes has a proxy "ri->rj", and a
--- node replicates from another through its proxy, so fl.partition{{"r1"},
--- {"r2","r3"}} cuts replication both ways while clients (which connect
--- directly) still reach every node.
function M.replicated(opts)
  opts = fl.options(opts or {}, "redis.replicated",
    { replicas = true, binary = true, args = true })
  local n = (opts.replicas or 2) + 1
  local rs = setmetatable({ n = n, nodes = {}, ports = {}, proxies = {}, role = {} }, Set)
  for i = 1, n do rs.ports[i] = fl.port() end
  for i = 1, n do
    for j = 1, n do
      if i ~= j then
        rs.proxies["r" .. i .. "->r" .. j] = fl.proxy{ from = "r" .. i, to = "r" .. j,
          upstream = "127.0.0.1:" .. rs.ports[j] }
      end
    end
  end
  for i = 1, n do
    rs.nodes[i] = M.server{ name = "r" .. i, port = rs.ports[i], binary = opts.binary,
      args = opts.args,
      replicaof = i > 1 and rs.proxies["r" .. i .. "->r1"].listen or nil }
    rs.role[i] = i == 1 and "primary" or "replica"
  end
  rs.current = 1
  return rs
end

function Set:index(node)
  return fl.index_of(self.nodes, node)
    or error("not a node of this replica set: " .. tostring(node), 3)
end

function Set:start()
  fl.start_all(self.nodes)
  return self
end

--- The node clients write to (r1 until rs:use(node)).
function Set:primary() return self.nodes[self.current] end

--- Every node but the given ones.
function Set:others(...)
  local skip = {}
  for _, x in ipairs({ ... }) do skip[self:index(x)] = true end
  local out = {}
  for i, node in ipairs(self.nodes) do if not skip[i] then out[#out + 1] = node end end
  return out
end

function Set:replicas() return self:others(self:primary()) end

--- A node's client address ("127.0.0.1:port").
function Set:addr(node) return "127.0.0.1:" .. self.ports[self:index(node)] end

--- One command against a node on a fresh connection.
function Set:call(node, ...)
  return M.call(self:addr(node), { timeout = 2 }, ...)
end

--- INFO <section> of a node, parsed; nil, err when it does not answer.
function Set:info(node, section)
  local v, err = self:call(node, "INFO", section or "replication")
  if type(v) ~= "string" then return nil, err end
  return M.parse_info(v)
end

--- REPLICAOF NO ONE on node. Clients keep writing where they did until
--- rs:use(node).
function Set:promote(node)
  local v, err = self:call(node, "REPLICAOF", "NO", "ONE")
  if v ~= "OK" then error("REPLICAOF NO ONE on " .. node.name .. ": " .. tostring(err), 2) end
  fl.log("%s promoted to primary", node.name)
  return self
end

--- Points clients (rs:primary(), redis.set_adds targets) at node.
function Set:use(node)
  self.current = self:index(node)
  fl.log("clients now write to %s", node.name)
  return self
end

--- node replicates from primary, through the proxy node->primary.
function Set:follow(node, primary)
  local p = self.proxies[node.name .. "->" .. primary.name]
  local h, port = p.listen:match("^(.*):(%d+)$")
  local v, err = self:call(node, "REPLICAOF", h, port)
  if v ~= "OK" then error("REPLICAOF on " .. node.name .. ": " .. tostring(err), 2) end
  fl.log("%s now replicates from %s", node.name, primary.name)
  return self
end

--- True when node is a replica whose link to its primary is up and which has
--- applied everything the primary has sent (offsets equal).
function Set:in_sync(node, primary)
  primary = primary or self:primary()
  local r, p = self:info(node), self:info(primary)
  if not r or not p then return false end
  return r.role == "slave" and r.master_link_status == "up"
    and r.slave_repl_offset == p.master_repl_offset
end

--- SMEMBERS key on node as a sorted list of integers (other members as strings).
function Set:members(node, key)
  local v, err, code = self:call(node, "SMEMBERS", key)
  if type(v) ~= "table" then return nil, err, code end
  return M.sorted_members(v)
end

function M.sorted_members(v)
  local out = {}
  for i, x in ipairs(v) do out[i] = math.tointeger(tonumber(x)) or x end
  table.sort(out, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  return out
end

---------------------------------------------------------------------------
-- Workload: SADD of unique ids, for fl.workload and fl.check.set.

--- redis.set_adds{target=function() return addr end, key="s", timeout=1}
--- Each client keeps one connection to the current target and makes a new one
--- when the target changes or the connection breaks. SADD answered 1 is ok;
--- a failed connect, a send of which no byte was written, or an error reply
--- (READONLY, NOREPLICAS...: refused before running) fails; anything else
--- (a timeout or a broken connection after sending, an odd answer) is
--- indeterminate (info).
function M.set_adds(opts)
  opts = fl.options(opts, "redis.set_adds", { target = true, key = true, timeout = true })
  local target = opts.target or error("redis.set_adds: 'target' is required", 2)
  local key = opts.key or "s"
  local timeout = opts.timeout or 1
  local next_id = 0
  local conns = {}
  local gen = {}
  function gen.next()
    next_id = next_id + 1
    return { f = "add", key = key, value = next_id }
  end
  function gen.run(op, ctx)
    local addr = target()
    local c = conns[ctx.client]
    if c and (c.closed or c.addr ~= addr) then
      c:close()
      c = nil
    end
    if not c then
      local err, code
      c, err, code = M.connect(addr, { timeout = timeout })
      if not c then return "fail", nil, err end
      conns[ctx.client] = c
    end
    local v, err, code, sent = c:call("SADD", key, op.value)
    if v == 1 then return "ok" end
    if code == "REPLY" then return "fail", nil, err end
    -- 0 says the id was already there: the add happened, just not now.
    if v ~= nil then return "info", nil, "SADD answered " .. tostring(v) end
    return sent == false and "fail" or "info", nil, err
  end
  function gen.close()
    for _, c in pairs(conns) do c:close() end
    conns = {}
  end
  return gen
end

--- Records a final read of the set on node as an f="read" operation.
function M.read_set(rs, node, key)
  local p = fl.history.process()
  local t0 = fl.history.invoke(p, "read", key or "s", nil)
  local v, err = rs:members(node, key or "s")
  if v then
    fl.history.complete(p, "ok", "read", key or "s", v, nil, t0)
  else
    fl.history.complete(p, "fail", "read", key or "s", nil, err, t0)
  end
  return v, err
end

return M
