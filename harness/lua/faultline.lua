-- The public "faultline" module: what `require("faultline")` returns.
-- Built on faultline.core (C); the parts that read better in Lua live here.
local core = require("faultline.core")

local fl = {}

fl.version = "0.1.0"
fl.scenario = core.scenario
fl.sleep = core.sleep
fl.now = core.now
fl.port = core.port
fl.random = core.random
fl.info = core.info
fl.json = { encode = core.json_encode, decode = core.json_decode, null = core.null }
--- The directory of the faultline binary (kvnode is built beside it).
fl.exe_dir = core.exe_dir

-- Where the caller of the caller of this function sits: "file.lua:12".
local function where(level)
  local info = debug.getinfo(level + 1, "Sl")
  if info and info.currentline and info.currentline > 0 then
    return info.short_src .. ":" .. info.currentline
  end
  return "?"
end

local function check_opts(opts, what, allowed)
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    error(what .. ": options must be a table", 3)
  end
  for k in pairs(opts) do
    if not allowed[k] then
      local names = {}
      for n in pairs(allowed) do names[#names + 1] = n end
      table.sort(names)
      error(string.format("%s: unknown option '%s' (known: %s)", what, tostring(k),
        table.concat(names, ", ")), 3)
    end
  end
  return opts
end
fl._check_opts = check_opts

--- Logging a step of the scenario: a progress line and a timeline event.
function fl.log(fmt, ...)
  core.step(select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt))
end

---------------------------------------------------------------------------
-- Tasks

local Task = {}
Task.__index = Task

--- fl.spawn(fn, ...): runs fn(...) concurrently. The task is canceled when
--- the scenario ends; t:wait() returns its results or raises its error.
function fl.spawn(fn, ...)
  return setmetatable({ handle = core.spawn(fn, ...) }, Task)
end

function Task:wait()
  local ok, res = core.join(self.handle)
  if not ok then error(res, 0) end
  return table.unpack(res, 1, res.n)
end

function Task:done()
  return core.task_done(self.handle)
end

---------------------------------------------------------------------------
-- Services and probes

fl.probe = {}
local probe_opts = { timeout = true, every = true }

function fl.probe.tcp(addr, opts)
  opts = check_opts(opts, "fl.probe.tcp", probe_opts)
  return { kind = "tcp", target = addr, timeout = opts.timeout, every = opts.every }
end

function fl.probe.http(url, opts)
  opts = check_opts(opts, "fl.probe.http", probe_opts)
  return { kind = "http", target = url, timeout = opts.timeout, every = opts.every }
end

function fl.probe.log(pattern, opts)
  opts = check_opts(opts, "fl.probe.log", probe_opts)
  return { kind = "log", target = pattern, timeout = opts.timeout, every = opts.every }
end

function fl.probe.cmd(spec)
  if type(spec) ~= "table" then error("fl.probe.cmd: a command table expected", 2) end
  local cmd = {}
  for i, v in ipairs(spec) do cmd[i] = v end
  return { kind = "cmd", cmd = cmd, timeout = spec.timeout, every = spec.every }
end

local svc = core.service_methods

--- svc:start(): starts the service and waits until its probe says ready.
function svc:start()
  local ok, err = self:_start()
  if not ok then error(err, 2) end
  return self
end

function svc:stop()
  self:_stop()
  return self
end

function svc:kill()
  self:_kill()
  return self
end

function svc:restart()
  self:_stop()
  local ok, err = self:_start()
  if not ok then error(err, 2) end
  return self
end

fl.service = core.service

--- fl.start_all(services): starts them all at once and waits until every one
--- is ready (the first that fails raises its error).
function fl.start_all(services)
  local tasks = {}
  for i, svc in ipairs(services) do tasks[i] = fl.spawn(function() svc:start() end) end
  for _, t in ipairs(tasks) do t:wait() end
  return services
end

--- fl.index_of(services, x): the position of x (a service or its name) in
--- the list, or nil.
function fl.index_of(services, x)
  local name = type(x) == "string" and x or (x ~= nil and x.name)
  for i, svc in ipairs(services) do
    if svc == x or svc.name == name then return i end
  end
  return nil
end

---------------------------------------------------------------------------
-- HTTP

fl.http = {}
for _, m in ipairs({ "get", "put", "post", "delete", "head", "patch" }) do
  local method = m:upper()
  fl.http[m] = function(url, opts)
    return core.http(method, url, opts)
  end
end
function fl.http.request(method, url, opts)
  return core.http(method, url, opts)
end

---------------------------------------------------------------------------
-- Raw TCP, for text protocols: c:send(s), c:receive(n), c:receive_until(delim),
-- c:close(); each waits up to {timeout=} seconds and returns nil, err on failure.

--- fl.exec{"prog", "arg", timeout = 60}: runs a command to its end without
--- blocking anything: {code=, signal=, stdout=, stderr=, timed_out=}.
fl.exec = core.exec

fl.tcp = {}
function fl.tcp.connect(addr, opts)
  return core.tcp_connect(addr, opts)
end

---------------------------------------------------------------------------
-- Expectations: fail the scenario at once when they do not hold.

fl.expect = {}

local function fail(name, kind, message, level, extra)
  local msg = where(level + 1) .. ": " .. message
  local check = { name = name, kind = kind, status = "fail", message = msg }
  for k, v in pairs(extra or {}) do check[k] = v end
  core.record_check(check)
  error({ fl_failure = true, message = msg }, 0)
end

--- fl.expect.eventually(fn, {within=, every=, name=}): fn() becomes truthy
--- within `within` seconds (default 10), polled every `every` (0.1).
function fl.expect.eventually(fn, opts)
  opts = check_opts(opts, "fl.expect.eventually", { within = true, every = true, name = true })
  local within, every = opts.within or 10, opts.every or 0.1
  local name = opts.name or ("eventually at " .. where(2))
  local start = fl.now()
  local last_err
  while true do
    local ok, res = pcall(fn)
    if ok and res then
      local took = fl.now() - start
      core.record_check({ name = name, kind = "eventually", status = "pass",
        message = string.format("held after %.2f s (limit %g s)", took, within),
        took_s = took, limit_s = within })
      return res
    end
    if not ok then last_err = tostring(res) end
    if fl.now() - start >= within then
      fail(name, "eventually", string.format("%s: did not hold within %g s%s", name, within,
        last_err and (" (last error: " .. last_err .. ")") or ""), 2, { limit_s = within })
    end
    fl.sleep(every)
  end
end

--- fl.expect.always(fn, {during=, every=, name=}): fn() stays truthy for
--- `during` seconds, checked every `every`.
function fl.expect.always(fn, opts)
  opts = check_opts(opts, "fl.expect.always", { during = true, every = true, name = true })
  local during, every = opts.during or 5, opts.every or 0.1
  local name = opts.name or ("always at " .. where(2))
  local start = fl.now()
  local n = 0
  repeat
    local ok, res = pcall(fn)
    n = n + 1
    if not ok or not res then
      fail(name, "always", string.format("%s: stopped holding after %.2f s (%s)", name,
        fl.now() - start, ok and "returned " .. tostring(res) or tostring(res)), 2)
    end
    fl.sleep(every)
  until fl.now() - start >= during
  core.record_check({ name = name, kind = "always", status = "pass",
    message = string.format("held for %g s (%d probes)", during, n), during_s = during })
  return true
end

--- fl.expect.that(cond, message): a plain assertion, recorded as a check.
function fl.expect.that(cond, message, name)
  name = name or message or ("assertion at " .. where(2))
  if not cond then fail(name, "assert", message or "assertion failed", 2) end
  core.record_check({ name = name, kind = "assert", status = "pass", message = message })
  return cond
end

---------------------------------------------------------------------------
-- Workloads: clients as Jepsen processes, every operation in history.jsonl.

local Workload = {}
Workload.__index = Workload

--- fl.workload{clients=N, rate=ops/s (all clients), duration=s, ops=gen}
--- gen is a table: gen.next(ctx) -> {f=, key=, value=}, and
--- gen.run(op, ctx) -> "ok"|"fail"|"info", value, error.
--- ctx = {client = i, process = p, random = fl.random}.
function fl.workload(opts)
  opts = check_opts(opts, "fl.workload", { clients = true, rate = true, duration = true,
    ops = true, name = true })
  local clients = opts.clients or 5
  local duration = opts.duration or error("fl.workload: 'duration' (seconds) is required", 2)
  local gen = opts.ops
  if type(gen) ~= "table" or type(gen.next) ~= "function" or type(gen.run) ~= "function" then
    error("fl.workload: 'ops' must be a generator with next(ctx) and run(op, ctx)", 2)
  end
  local w = setmetatable({ tasks = {}, counts = { ok = 0, fail = 0, info = 0 },
    name = opts.name or "workload", nodes = {} }, Workload)
  local interval = opts.rate and (clients / opts.rate) or nil
  local stop_at = fl.now() + duration
  for i = 1, clients do
    w.tasks[i] = fl.spawn(function()
      local ctx = { client = i, process = core.history_process(), random = fl.random }
      -- Which node a client talks to, when the generator says: the
      -- isolation checks group processes by it.
      local node = gen.node and gen.node(ctx)
      w.nodes[ctx.process] = node
      local next_at = fl.now() + (interval and interval * (i - 1) / clients or 0)
      while fl.now() < stop_at and not w.stopped do
        if interval then
          local d = next_at - fl.now()
          if d > 0 then fl.sleep(d) end
          next_at = math.max(next_at + interval, fl.now() - interval)
          if fl.now() >= stop_at or w.stopped then break end
        end
        local op = gen.next(ctx)
        local t0 = core.history_invoke(ctx.process, op.f, op.key, op.value)
        local outcome, value, err = gen.run(op, ctx)
        if outcome ~= "ok" and outcome ~= "fail" and outcome ~= "info" then
          error("workload generator's run() returned '" .. tostring(outcome) ..
            "' (want ok, fail or info)")
        end
        if value == nil and outcome ~= "ok" then value = op.value end
        if value == nil and outcome == "ok" and op.f ~= "read" then value = op.value end
        core.history_complete(ctx.process, outcome, op.f, op.key, value, err, t0)
        w.counts[outcome] = w.counts[outcome] + 1
        -- An indeterminate op leaves its process hanging, as in Jepsen: the
        -- client carries on as a new process.
        if outcome == "info" then
          ctx.process = core.history_process()
          w.nodes[ctx.process] = node
        end
      end
    end)
  end
  return w
end

--- w:wait(): until every client has finished; returns the counts.
function Workload:wait()
  for _, t in ipairs(self.tasks) do t:wait() end
  self.history = core.history_flush()
  return self.counts
end

function Workload:stop()
  self.stopped = true
  return self:wait()
end

---------------------------------------------------------------------------
-- Recording your own operations (for workloads written by hand).

fl.history = {}
function fl.history.process() return core.history_process() end
function fl.history.invoke(process, f, key, value)
  return core.history_invoke(process, f, key, value)
end
function fl.history.complete(process, outcome, f, key, value, err, t0)
  return core.history_complete(process, outcome, f, key, value, err, t0)
end
function fl.history.path() return core.history_flush() end

---------------------------------------------------------------------------
-- Faults recorded by the scenario itself (anything faultline does not do).

function fl.fault(kind, targets, attrs)
  local id = core.fault_begin(kind, targets, attrs)
  return { stop = function() core.fault_end(id) end, id = id }
end

fl.check = require("faultline.check")(fl, core)
local proxy = require("faultline.proxy")(fl, core)
fl.proxy, fl.partition, fl.heal = proxy.proxy, proxy.partition, proxy.heal
fl.udp_proxy = proxy.udp_proxy
fl.expect.isolated = proxy.isolated
-- The namespace layer wraps the calls above: they dispatch to nftables for
-- services in network namespaces and stay the proxy layer's otherwise.
local network = require("faultline.network")(fl, core, proxy)
fl.network, fl.service = network.network, network.service
fl.partition, fl.heal, fl.expect.isolated = network.partition, network.heal, network.isolated

return fl
