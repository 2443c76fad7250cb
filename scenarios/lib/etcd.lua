-- etcd helpers: a cluster of etcd members started under the run directory
-- with a fault proxy in front of each member's peer port, a client for the
-- v3 JSON gateway (base64 keys and values), leader discovery, and a
-- read/write/compare-and-set workload for fl.check.linearizable.
--
--   local etcd = require("faultline.lib.etcd")
--   local c = etcd.cluster{ nodes = 3 }
--   c:start()                                  -- every member ready (GET /health)
--   local leader = c:wait_leader(5)
--   c:put(leader, "k", "v")   c:get(c.nodes[2], "k")   c:cas(node, "k", "v", "w")
--
-- etcd members advertise one peer URL to everyone, so a proxy cannot tell
-- which member is calling: the proxy "peers->eN" in front of eN's peer port
-- carries every other member's traffic to eN. Proxies give latency,
-- bandwidth and whole-member faults; pairwise partitions need network
-- namespaces (DESIGN.md, "Two fault layers").
--
-- The binary: etcd.cluster{binary = "/path/to/etcd"}, or FL_ETCD in the
-- environment, or etcd from PATH.
local fl = require("faultline")

local M = {}

---------------------------------------------------------------------------
-- base64 (RFC 4648, with padding)

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local B64_INDEX = {}
for i = 1, 64 do B64_INDEX[B64:byte(i)] = i - 1 end

function M.b64encode(s)
  s = tostring(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    out[#out + 1] = string.char(
      B64:byte((n >> 18) + 1), B64:byte(((n >> 12) & 63) + 1),
      b and B64:byte(((n >> 6) & 63) + 1) or 61, c and B64:byte((n & 63) + 1) or 61)
  end
  return table.concat(out)
end

function M.b64decode(s)
  s = tostring(s):gsub("[^%w%+/]", "")
  local out = {}
  for i = 1, #s, 4 do
    local n, k = 0, 0
    for j = i, math.min(i + 3, #s) do
      n = (n << 6) | (B64_INDEX[s:byte(j)] or 0)
      k = k + 1
    end
    n = n << (6 * (4 - k))
    local bytes = { (n >> 16) & 255, (n >> 8) & 255, n & 255 }
    out[#out + 1] = string.char(table.unpack(bytes, 1, k - 1))
  end
  return table.concat(out)
end

---------------------------------------------------------------------------
-- The cluster

local Cluster = {}
Cluster.__index = Cluster

function M.binary(opts)
  if opts and opts.binary then return opts.binary end
  local env = os.getenv("FL_ETCD")
  if env and env ~= "" then return env end
  return "etcd"
end

--- etcd.cluster{nodes=3, binary=, heartbeat_ms=100, election_ms=1000,
--- ready_timeout=20, stop_timeout=2, args={...}, network=net}: members
--- e1..eN.
---
--- Without `network` (the proxy layer): member i listens for clients on
--- 127.0.0.1:ports[i] (clients connect directly) and for peers on
--- peer_ports[i], behind the proxy c.proxies[i] ("peers->ei") whose address
--- it advertises.
---
--- On remote hosts (the run has hosts: --hosts FILE or fl.hosts{...}, and
--- hosts ~= false): member i on host i, clients on 2379 and peers on 2380
--- of the host's address, its data in its own directory there; fl.partition
--- cuts members with nftables rules on the hosts.
---
--- With network = fl.network{mode = "netns"}: each member in its own
--- namespace at net:addr("ei"), clients on port 2379 and peers on 2380 of
--- that address, no proxies; fl.partition cuts members pairwise.
function M.cluster(opts)
  opts = fl.options(opts or {}, "etcd.cluster",
    { nodes = true, binary = true, heartbeat_ms = true, election_ms = true,
      ready_timeout = true, args = true, stop_timeout = true, network = true, hosts = true })
  local n = opts.nodes or 3
  local net = opts.network
  local netns = net ~= nil and net.mode == "netns"
  -- Remote hosts (--hosts FILE or fl.hosts{...}): member i on host i, on
  -- the host's address, unless hosts = false or a network is given.
  local remote = nil
  if opts.hosts ~= false and not netns and #fl.hosts() > 0 then
    remote = fl.hosts()
    if #remote < n then
      error(string.format("etcd.cluster: %d members need %d hosts; the run has %d", n, n,
        #remote), 2)
    end
  end
  local c = setmetatable({ n = n, nodes = {}, hosts = {}, ports = {}, peer_ports = {},
    proxies = {}, ids = {}, network = net }, Cluster)
  local dir = fl.info().dir
  local peer_url = {}
  for i = 1, n do
    if remote then
      c.hosts[i] = remote[i].address
      c.ports[i], c.peer_ports[i] = 2379, 2380
      peer_url[i] = string.format("http://%s:2380", c.hosts[i])
    elseif netns then
      c.hosts[i] = net:addr("e" .. i)
      c.ports[i], c.peer_ports[i] = 2379, 2380
      peer_url[i] = string.format("http://%s:2380", c.hosts[i])
    else
      c.hosts[i] = "127.0.0.1"
      c.ports[i] = fl.port()
      c.peer_ports[i] = fl.port()
      c.proxies[i] = fl.proxy{ name = "peers->e" .. i, to = "e" .. i,
        upstream = "127.0.0.1:" .. c.peer_ports[i] }
      peer_url[i] = "http://" .. c.proxies[i].listen
    end
  end
  local initial = {}
  for i = 1, n do initial[i] = string.format("e%d=%s", i, peer_url[i]) end
  local token = "fl-" .. fl.info().run_id
  for i = 1, n do
    -- On a host: relative to the member's own directory there (the agent
    -- removes it when the run ends).
    local data = remote and "data" or (dir .. "/data/e" .. i)
    local client = string.format("http://%s:%d", c.hosts[i], c.ports[i])
    local args = { M.binary(opts), "--name", "e" .. i, "--data-dir", data,
      "--listen-client-urls", client, "--advertise-client-urls", client,
      "--listen-peer-urls", string.format("http://%s:%d", c.hosts[i], c.peer_ports[i]),
      "--initial-advertise-peer-urls", peer_url[i],
      "--initial-cluster", table.concat(initial, ","),
      "--initial-cluster-token", token, "--initial-cluster-state", "new",
      "--heartbeat-interval", tostring(opts.heartbeat_ms or 100),
      "--election-timeout", tostring(opts.election_ms or 1000),
      "--logger", "zap", "--log-outputs", "stderr" }
    for _, a in ipairs(opts.args or {}) do args[#args + 1] = a end
    -- The last member stopping waits for a quorum that is gone: it gets
    -- SIGKILL after 2 s instead of faultline's default 5 s.
    c.nodes[i] = fl.service{ name = "e" .. i, cmd = args, stop_timeout = opts.stop_timeout or 2,
      host = remote and remote[i].name or nil,
      ready = fl.probe.http(client .. "/health", { timeout = opts.ready_timeout or 20 }) }
  end
  return c
end

--- Starts every member at once (they need each other to be ready).
function Cluster:start()
  fl.start_all(self.nodes)
  return self
end

function Cluster:index(node)
  return fl.index_of(self.nodes, node)
    or error("not a member of this cluster: " .. tostring(node), 3)
end

function Cluster:url(node, path)
  local i = self:index(node)
  return string.format("http://%s:%d%s", self.hosts[i], self.ports[i], path or "")
end

--- Every member but the given ones.
function Cluster:others(...)
  local skip = {}
  for _, x in ipairs({ ... }) do skip[self:index(x)] = true end
  local out = {}
  for i, node in ipairs(self.nodes) do if not skip[i] then out[#out + 1] = node end end
  return out
end

---------------------------------------------------------------------------
-- The v3 JSON gateway

local json_headers = { ["Content-Type"] = "application/json" }

--- POST /v3/<path> with a JSON body on node. Returns the decoded answer, or
--- nil, err, code, maybe_sent: code is curl's (ECONNREFUSED, ETIMEDOUT, ...)
--- when no answer came, "HTTP" when etcd answered with an error; maybe_sent
--- is false only when the request surely never reached etcd (fl.http's
--- fourth value), true otherwise.
function Cluster:call(node, path, body, timeout)
  local r, err, code, sent = fl.http.post(self:url(node, "/v3/" .. path),
    { body = fl.json.encode(body or {}), headers = json_headers, timeout = timeout or 2 })
  if not r then return nil, err, code, sent end
  local j = fl.json.decode(r.body)
  if r.status ~= 200 then
    local msg = type(j) == "table" and (j.error or j.message) or r.body
    return nil, string.format("HTTP %d: %s", r.status, tostring(msg)), "HTTP", true
  end
  if type(j) ~= "table" then return nil, "not JSON: " .. r.body:sub(1, 200), "HTTP", true end
  return j
end

--- The value of key on node, nil when absent. A linearizable read unless
--- serializable is true (then the member answers from its own copy).
function Cluster:get(node, key, timeout, serializable)
  local j, err, code, sent = self:call(node, "kv/range",
    { key = M.b64encode(key), serializable = serializable or nil }, timeout)
  if not j then return nil, err, code, sent end
  local kv = j.kvs and j.kvs[1]
  if not kv then return nil end
  return M.b64decode(kv.value or "")
end

function Cluster:put(node, key, value, timeout)
  local j, err, code, sent = self:call(node, "kv/put",
    { key = M.b64encode(key), value = M.b64encode(value) }, timeout)
  if not j then return nil, err, code, sent end
  return true
end

--- Sets key to new if its value is old (old == nil: if the key does not
--- exist). true when it did, false when the comparison failed.
function Cluster:cas(node, key, old, new, timeout)
  local k = M.b64encode(key)
  local cmp
  if old == nil then
    cmp = { key = k, target = "CREATE", result = "EQUAL", create_revision = "0" }
  else
    cmp = { key = k, target = "VALUE", result = "EQUAL", value = M.b64encode(old) }
  end
  local j, err, code, sent = self:call(node, "kv/txn", { compare = { cmp },
    success = { { request_put = { key = k, value = M.b64encode(new) } } } }, timeout)
  if not j then return nil, err, code, sent end
  return j.succeeded == true
end

--- POST /v3/maintenance/status on node: {member_id=, leader=, raft_term=,
--- raft_index=, revision=} (ids as strings), or nil, err.
function Cluster:status(node, timeout)
  local j, err = self:call(node, "maintenance/status", {}, timeout or 1)
  if not j then return nil, err end
  local h = j.header or {}
  return { member_id = h.member_id, leader = j.leader, raft_term = tonumber(h.raft_term),
    raft_index = tonumber(j.raftIndex or j.raft_index), revision = tonumber(h.revision) }
end

--- The member that says it is the leader (its status names itself), among
--- `among` (default: every member); the highest term wins if two do (an old
--- leader that has not heard of the new term yet). nil when none does.
function Cluster:leader(among)
  local best, term
  for _, node in ipairs(among or self.nodes) do
    local s = node:alive() and self:status(node, 0.5)
    if s and s.member_id then
      self.ids[node.name] = s.member_id
      if s.leader == s.member_id and (term == nil or (s.raft_term or 0) > term) then
        best, term = node, s.raft_term or 0
      end
    end
  end
  return best
end

--- Waits until a leader is known (among the given members); returns it.
function Cluster:wait_leader(within, among, name)
  local found
  fl.expect.eventually(function()
    found = self:leader(among)
    return found ~= nil
  end, { within = within or 5, every = 0.1, name = name or "a leader is elected" })
  return found
end

--- True when every live member answers status with the same leader and
--- raft index within `slack` entries of each other (a member that was down
--- has caught up).
function Cluster:converged(slack)
  local leader, lo, hi
  for _, node in ipairs(self.nodes) do
    local s = self:status(node, 0.5)
    if not s then return false end
    if leader and s.leader ~= leader then return false end
    leader = s.leader
    lo = math.min(lo or s.raft_index, s.raft_index)
    hi = math.max(hi or s.raft_index, s.raft_index)
  end
  return leader ~= nil and leader ~= "0" and hi - lo <= (slack or 0)
end

---------------------------------------------------------------------------
-- Workload: reads, writes and compare-and-set on a few keys, for
-- fl.check.linearizable{model = "kv"}.

--- etcd.register_ops{cluster=, keys=4, mix={read=0.5, write=0.3, cas=0.2},
--- timeout=2, serializable=false}. serializable = true makes reads
--- serializable (answered by the member alone: not linearizable). Client i talks to member ((i-1) % n) + 1. Values are unique
--- integers. A write or cas failed only when it surely never reached etcd
--- (maybe_sent == false) or a cas's comparison failed; any other error,
--- an HTTP error from etcd included ("request timed out" may still commit),
--- is indeterminate. A read that errs failed (it changed nothing).
function M.register_ops(opts)
  opts = fl.options(opts, "etcd.register_ops",
    { cluster = true, keys = true, mix = true, timeout = true, serializable = true })
  local c = opts.cluster or error("etcd.register_ops: 'cluster' is required", 2)
  local serializable = opts.serializable and true or nil
  local nkeys = opts.keys or 4
  local mix = opts.mix or { read = 0.5, write = 0.3, cas = 0.2 }
  local timeout = opts.timeout or 2
  local next_value = 0
  local last_seen = {}
  local gen = {}

  function gen.next(ctx)
    local key = "k" .. fl.random(1, nkeys)
    local r = fl.random()
    if r < mix.read then return { f = "read", key = key } end
    next_value = next_value + 1
    if r < mix.read + mix.write then return { f = "write", key = key, value = next_value } end
    local seen = last_seen[ctx.client] and last_seen[ctx.client][key]
    return { f = "cas", key = key, value = { seen or fl.json.null, next_value } }
  end

  local function node_of(ctx) return c.nodes[((ctx.client - 1) % c.n) + 1] end
  local function failed(sent) return sent == false and "fail" or "info" end

  function gen.run(op, ctx)
    local node = node_of(ctx)
    local key = "fl/" .. op.key
    if op.f == "read" then
      local v, err = c:get(node, key, timeout, serializable)
      if err then return "fail", nil, err end
      v = v and (math.tointeger(tonumber(v)) or v)
      last_seen[ctx.client] = last_seen[ctx.client] or {}
      last_seen[ctx.client][op.key] = v
      return "ok", v
    elseif op.f == "write" then
      local ok, err, _, sent = c:put(node, key, tostring(op.value), timeout)
      if ok then return "ok" end
      return failed(sent), nil, err
    else
      local old, new = op.value[1], op.value[2]
      local ok, err, _, sent = c:cas(node, key, old ~= fl.json.null and tostring(old) or nil,
        tostring(new), timeout)
      if ok == true then return "ok" end
      if ok == false then return "fail", nil, "compare failed" end
      return failed(sent), nil, err
    end
  end
  return gen
end

return M
