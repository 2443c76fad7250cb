-- Cluster helpers for kvnode, faultline's embedded default target
-- (examples/kvnode): start N nodes with a proxy on every directed link, find
-- the leader and followers, and generate register workloads against them.
--
--   local kv = require("faultline.lib.kvnode")
--   local cluster = kv.cluster{ nodes = 3 }
--   cluster:start()
--   fl.partition{ { cluster:follower(1) }, cluster:others(cluster:follower(1)) }
local fl = require("faultline")

local M = {}

local Cluster = {}
Cluster.__index = Cluster

local function kvnode_binary(opts)
  if opts.binary then return opts.binary end
  local env = os.getenv("FL_KVNODE") or os.getenv("KVNODE")
  if env and env ~= "" then return env end
  return fl.exe_dir() .. "/kvnode"
end

--- kv.cluster{nodes=3, unsafe=false, timeout_ms=1000, binary=path, ready_timeout=10}
--- Node i (1-based) is service "n<i>"; n1 is the leader. Node i reaches node j
--- through the proxy "n<i>->n<j>"; clients reach nodes directly.
function M.cluster(opts)
  opts = fl.options(opts or {}, "kv.cluster",
    { nodes = true, unsafe = true, timeout_ms = true, binary = true, ready_timeout = true })
  local n = opts.nodes or 3
  local c = setmetatable({ n = n, nodes = {}, ports = {}, proxies = {},
    unsafe = opts.unsafe and true or false }, Cluster)
  local bin = kvnode_binary(opts)
  local dir = fl.info().dir
  for i = 1, n do c.ports[i] = fl.port() end
  for i = 1, n do
    local args = { bin, "--id", tostring(i - 1), "--listen", "127.0.0.1:" .. c.ports[i],
      "--data", dir .. "/data/n" .. i, "--timeout-ms", tostring(opts.timeout_ms or 1000) }
    for j = 1, n do
      if j ~= i then
        local p = fl.proxy{ from = "n" .. i, to = "n" .. j,
          upstream = "127.0.0.1:" .. c.ports[j] }
        c.proxies["n" .. i .. "->n" .. j] = p
        args[#args + 1] = "--peer"
        args[#args + 1] = (j - 1) .. "=" .. p.listen
      end
    end
    if c.unsafe then args[#args + 1] = "--unsafe" end
    c.nodes[i] = fl.service{ name = "n" .. i, cmd = args,
      ready = fl.probe.http(string.format("http://127.0.0.1:%d/health", c.ports[i]),
        { timeout = opts.ready_timeout or 10 }) }
  end
  return c
end

--- Starts every node at once and waits until all are ready.
function Cluster:start()
  fl.start_all(self.nodes)
  return self
end

function Cluster:leader() return self.nodes[1] end

--- The k-th follower (1-based): node k+1.
function Cluster:follower(k) return self.nodes[(k or 1) + 1] end

local function index_of(self, node)
  return fl.index_of(self.nodes, node) or error("not a node of this cluster: " .. tostring(node), 3)
end

--- Every node but the given ones.
function Cluster:others(...)
  local skip = {}
  for _, x in ipairs({ ... }) do skip[index_of(self, x)] = true end
  local out = {}
  for i, node in ipairs(self.nodes) do
    if not skip[i] then out[#out + 1] = node end
  end
  return out
end

function Cluster:url(node, path)
  return string.format("http://127.0.0.1:%d%s", self.ports[index_of(self, node)], path or "")
end

--- The node's /status as a table, or nil, err.
function Cluster:status(node)
  local r, err = fl.http.get(self:url(node, "/status"), { timeout = 1 })
  if not r then return nil, err end
  if r.status ~= 200 then return nil, "HTTP " .. r.status end
  return fl.json.decode(r.body)
end

--- True when node holds everything the leader has committed.
function Cluster:caught_up(node)
  local l = self:status(self:leader())
  local f = self:status(node)
  return l ~= nil and f ~= nil and f.applied >= l.committed
end

---------------------------------------------------------------------------
-- Workload: reads, writes and compare-and-set on a few keys, every node.

local function percent(s) return (s:gsub("[^%w%-_.~]", function(ch)
  return string.format("%%%02X", ch:byte()) end)) end

--- kv.register_ops{cluster=, keys=4, mix={read=0.5, write=0.3, cas=0.2}, timeout=2}
--- Client i talks to node ((i-1) % n) + 1. Written values are unique integers,
--- so a read names the write it saw.
function M.register_ops(opts)
  opts = fl.options(opts, "kv.register_ops",
    { cluster = true, keys = true, mix = true, timeout = true })
  local c = opts.cluster or error("kv.register_ops: 'cluster' is required", 2)
  local nkeys = opts.keys or 4
  local mix = opts.mix or { read = 0.5, write = 0.3, cas = 0.2 }
  local timeout = opts.timeout or 2
  local next_value = 0
  local last_seen = {} -- per client, per key: the last value it read

  local gen = {}
  function gen.next(ctx)
    local key = "k" .. fl.random(1, nkeys)
    local r = fl.random()
    if r < mix.read then
      return { f = "read", key = key }
    end
    next_value = next_value + 1
    if r < mix.read + mix.write then
      return { f = "write", key = key, value = next_value }
    end
    local seen = last_seen[ctx.client] and last_seen[ctx.client][key]
    return { f = "cas", key = key, value = { seen or fl.json.null, next_value } }
  end

  local function base(ctx)
    local node = c.nodes[((ctx.client - 1) % c.n) + 1]
    return string.format("http://127.0.0.1:%d", c.ports[((ctx.client - 1) % c.n) + 1]), node
  end

  --- The node a client talks to (for fl.check.isolation and friends).
  function gen.node(ctx)
    local _, node = base(ctx)
    return node.name
  end

  -- The outcome of a write or cas that got no answer. It surely did nothing
  -- only when no byte of it reached a socket (fl.http's fourth value is
  -- false); anything else may have been applied: a connect error too, since
  -- libcurl retries a request on a fresh connection when a reused one dies
  -- after carrying it.
  local function unanswered(err, sent)
    return sent == false and "fail" or "info", nil, err
  end

  -- An answer to a write or cas: 200 did it, 409 (cas) and other 4xx refused
  -- it before doing anything; 503 ("timeout", "unavailable", "stopping") and
  -- any other status may come after the leader appended it.
  local function answered(r)
    if r.status == 200 then return "ok" end
    local why = "HTTP " .. r.status .. " " .. r.body
    if r.status == 409 then return "fail", nil, "mismatch" end
    if r.status >= 400 and r.status < 500 then return "fail", nil, why end
    return "info", nil, why
  end

  function gen.run(op, ctx)
    local url = base(ctx)
    local path = "/kv/" .. percent(op.key)
    if op.f == "read" then
      -- A read changes nothing: one without a value may be recorded fail.
      local r, err = fl.http.get(url .. path, { timeout = timeout })
      if not r then return "fail", nil, err end
      if r.status == 404 then return "ok", nil end
      if r.status ~= 200 then return "fail", nil, "HTTP " .. r.status .. " " .. r.body end
      local v = math.tointeger(tonumber(r.body)) or r.body
      last_seen[ctx.client] = last_seen[ctx.client] or {}
      last_seen[ctx.client][op.key] = v
      return "ok", v
    elseif op.f == "write" then
      local r, err, _, sent = fl.http.put(url .. path, { body = tostring(op.value), timeout = timeout })
      if not r then return unanswered(err, sent) end
      return answered(r)
    else
      local old, new = op.value[1], op.value[2]
      local body = fl.json.encode({ old = old ~= fl.json.null and tostring(old) or fl.json.null,
        new = tostring(new) })
      local r, err, _, sent = fl.http.post(url .. "/cas/" .. percent(op.key),
        { body = body, timeout = timeout, headers = { ["Content-Type"] = "application/json" } })
      if not r then return unanswered(err, sent) end
      return answered(r)
    end
  end
  return gen
end

return M
