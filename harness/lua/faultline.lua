-- The public "faultline" module: what `require("faultline")` returns.
-- Built on faultline.core (C); the parts that read better in Lua live here.
local core = require("faultline.core")

local fl = {}

--- The version of this faultline, from the build (`faultline version`).
fl.version = core.version
fl.scenario = core.scenario
fl.sleep = core.sleep
fl.now = core.now
fl.port = core.port
fl.random = core.random
fl.info = core.info
fl.json = { encode = core.json_encode, decode = core.json_decode, null = core.null }
--- The directory of the faultline binary (kvnode is built beside it).
fl.exe_dir = core.exe_dir

--- fl.options(opts, what, allowed [, level]) -> opts (or {} when nil): the
--- one option checker. `allowed` names the keys, as a set {timeout = true}
--- or a list {"timeout"}; any other key raises "what: unknown option 'k'
--- (known: ...)" at the caller's file:line. `level` is error()'s: 2 (the
--- default) is the caller of the function that calls fl.options. Every
--- public call checks its options with it; scenario libraries should too.
fl.options = core.options
-- The name it had before it was public; kept for libraries written then.
fl._check_opts = core.options

-- "file.lua:12": where the scenario called into faultline.
local where = core.where

-- What faultline's own modules share beyond fl and core: handed to each
-- module as its third argument (see `modules` at the end of this file).
local kit = {}

--- Raises msg at the scenario's line (the first caller outside faultline's
--- own modules): for misuse, like error(msg, 2) from a public call.
function kit.misuse(msg)
  error(where() .. ": " .. msg, 0)
end

--- The name of a service or a name.
function kit.name_of(x, what)
  if type(x) == "string" then return x end
  local ok, n = pcall(function() return x.name end)
  if ok and type(n) == "string" then return n end
  kit.misuse((what or "fl.partition") .. ": a member must be a service or a name, not "
    .. tostring(x))
end

--- A group: a list of members, or one member (a service, a name).
function kit.list_of(x)
  if type(x) ~= "table" or (getmetatable(x) and x.name) then return { x } end
  return x
end

--- f(...), with an error it raises (misuse found in C, positioned at its
--- Lua caller: faultline's module, or nobody when called through pcall)
--- raised again as "what: message" at the scenario's line.
function kit.call(what, f, ...)
  local res = table.pack(pcall(f, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local msg = res[2]
  if type(msg) ~= "string" then error(msg, 0) end
  local here = where() .. ": "
  if msg:sub(1, #here) == here then msg = msg:sub(#here + 1) end
  msg = msg:gsub("^%[faultline%]/faultline[^:]*:%d+: ", "")
  error(here .. (what and (what .. ": ") or "") .. msg, 0)
end

-- The scenario's fl.log lines, {t =, message =} in order (what
-- fl.check.recovery{after = {log = ...}} looks up).
kit.notes = {}

--- Logging a step of the scenario: a progress line and a timeline event
--- (report.html shows it on the timeline and among the log excerpts).
function fl.log(fmt, ...)
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or tostring(fmt)
  -- The first 10000 are enough to find an event by; a soak that logs
  -- forever does not grow this list forever.
  if #kit.notes < 10000 then kit.notes[#kit.notes + 1] = { t = fl.now(), message = msg } end
  core.step(msg)
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

--- t:cancel(): ends the task where it waits (its fl.sleep, fl.exec, HTTP
--- call...); true, or false when it had already ended. A t:wait() after it
--- returns nothing.
function Task:cancel()
  return kit.call("task:cancel", core.task_cancel, self.handle)
end

--- t:canceled(): whether t:cancel() ended the task.
function Task:canceled()
  return core.task_canceled(self.handle)
end

---------------------------------------------------------------------------
-- Services and probes

fl.probe = {}
local probe_opts = { timeout = true, every = true }

function fl.probe.tcp(addr, opts)
  opts = fl.options(opts, "fl.probe.tcp", probe_opts)
  return { kind = "tcp", target = addr, timeout = opts.timeout, every = opts.every }
end

function fl.probe.http(url, opts)
  opts = fl.options(opts, "fl.probe.http", probe_opts)
  return { kind = "http", target = url, timeout = opts.timeout, every = opts.every }
end

function fl.probe.log(pattern, opts)
  opts = fl.options(opts, "fl.probe.log", probe_opts)
  return { kind = "log", target = pattern, timeout = opts.timeout, every = opts.every }
end

function fl.probe.cmd(spec)
  if type(spec) ~= "table" then kit.misuse("fl.probe.cmd: a command table expected") end
  local cmd, named = {}, {}
  for k, v in pairs(spec) do
    if math.type(k) == "integer" and k >= 1 and k <= #spec then cmd[k] = v else named[k] = v end
  end
  fl.options(named, "fl.probe.cmd", probe_opts)
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
-- The C call itself: no Lua frame between it and the scenario, so its
-- errors carry the scenario's line.
fl.tcp.connect = core.tcp_connect

---------------------------------------------------------------------------
-- Expectations: fail the scenario at once when they do not hold.

fl.expect = {}

-- A failed expectation: recorded as a check, and the scenario stops (core.fail,
-- the one failure constructor, prefixes the scenario's file:line).
local function fail(name, kind, message, extra)
  local check = { name = name, kind = kind, status = "fail", message = message }
  for k, v in pairs(extra or {}) do check[k] = v end
  core.fail(check)
end
kit.fail = core.fail

--- fl.expect.eventually(fn, {within=, every=, name=}): fn() becomes truthy
--- within `within` seconds (default 10), polled every `every` (0.1).
function fl.expect.eventually(fn, opts)
  opts = fl.options(opts, "fl.expect.eventually", { within = true, every = true, name = true })
  local within, every = opts.within or 10, opts.every or 0.1
  local name = opts.name or ("eventually at " .. where())
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
        last_err and (" (last error: " .. last_err .. ")") or ""), { limit_s = within })
    end
    fl.sleep(every)
  end
end

--- fl.expect.always(fn, {during=, every=, name=}): fn() stays truthy for
--- `during` seconds, checked every `every`.
function fl.expect.always(fn, opts)
  opts = fl.options(opts, "fl.expect.always", { during = true, every = true, name = true })
  local during, every = opts.during or 5, opts.every or 0.1
  local name = opts.name or ("always at " .. where())
  local start = fl.now()
  local n = 0
  repeat
    local ok, res = pcall(fn)
    n = n + 1
    if not ok or not res then
      fail(name, "always", string.format("%s: stopped holding after %.2f s (%s)", name,
        fl.now() - start, ok and "returned " .. tostring(res) or tostring(res)))
    end
    fl.sleep(every)
  until fl.now() - start >= during
  core.record_check({ name = name, kind = "always", status = "pass",
    message = string.format("held for %g s (%d probes)", during, n), during_s = during })
  return true
end

--- fl.expect.that(cond, message): a plain assertion, recorded as a check.
function fl.expect.that(cond, message, name)
  -- Named by its message when no name is given: a pass then does not say
  -- it twice ("x ok: x ok"); a failure's message gets the line it failed at.
  local said = name ~= nil and message or nil
  name = name or message or ("assertion at " .. where())
  if not cond then fail(name, "assert", message or "assertion failed") end
  core.record_check({ name = name, kind = "assert", status = "pass", message = said })
  return cond
end

---------------------------------------------------------------------------
-- Workloads: clients as Jepsen processes, every operation in history.jsonl.

local nworkloads = 0 -- workloads made in this scenario, for their file names
local Workload = {}
Workload.__index = Workload

--- fl.workload{clients=N, rate=ops/s (all clients), duration=s, ops=gen}
--- gen is a table: gen.next(ctx) -> {f=, key=, value=}, and
--- gen.run(op, ctx) -> "ok"|"fail"|"info", value, error.
--- ctx = {client = i, process = p, random = fl.random}.
function fl.workload(opts)
  opts = fl.options(opts, "fl.workload", { clients = true, rate = true, duration = true,
    ops = true, name = true })
  local clients = opts.clients or 5
  local duration = opts.duration or error("fl.workload: 'duration' (seconds) is required", 2)
  for _, k in ipairs({ "clients", "rate", "duration" }) do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v <= 0) then
      error(string.format("fl.workload: '%s' must be a number above 0, not %s", k,
        type(v) == "string" and string.format("%q", v) or tostring(v)), 2)
    end
  end
  if math.type(clients) ~= "integer" then
    error("fl.workload: 'clients' must be a whole number, not " .. tostring(clients), 2)
  end
  local gen = opts.ops
  if type(gen) ~= "table" or type(gen.next) ~= "function" or type(gen.run) ~= "function" then
    error("fl.workload: 'ops' must be a generator with next(ctx) and run(op, ctx)", 2)
  end
  nworkloads = nworkloads + 1
  local w = setmetatable({ tasks = {}, counts = { ok = 0, fail = 0, info = 0 },
    name = opts.name or "workload", nodes = {}, processes = {}, index = nworkloads },
    Workload)
  local interval = opts.rate and (clients / opts.rate) or nil
  local stop_at = fl.now() + duration
  for i = 1, clients do
    w.tasks[i] = fl.spawn(function()
      local ctx = { client = i, process = core.history_process(), random = fl.random }
      w.processes[ctx.process] = true
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
          local def = debug.getinfo(gen.run, "S")
          error(string.format("%s:%d: the workload generator's run() returned '%s' " ..
            "(want \"ok\", \"fail\" or \"info\")", def.short_src, def.linedefined,
            tostring(outcome)), 0)
        end
        if value == nil and outcome ~= "ok" then value = op.value end
        if value == nil and outcome == "ok" and op.f ~= "read" then value = op.value end
        core.history_complete(ctx.process, outcome, op.f, op.key, value, err, t0)
        w.counts[outcome] = w.counts[outcome] + 1
        -- An indeterminate op leaves its process hanging, as in Jepsen: the
        -- client carries on as a new process.
        if outcome == "info" then
          ctx.process = core.history_process()
          w.processes[ctx.process] = true
          w.nodes[ctx.process] = node
        end
      end
    end)
  end
  return w
end

-- The lines of history.jsonl that belong to w's processes, in a file of
-- their own beside it: a check given `history = w` sees w's operations only,
-- not those of other workloads that happen to use the same keys. The writer
-- puts "process" first on every line, so a pattern finds it.
local function own_history(w)
  local all = core.history_flush()
  local path = string.format("%s/history-w%d-%s.jsonl", all:match("^(.*)/[^/]*$") or ".",
    w.index, (w.name:gsub("[^%w_.-]", "_")))
  local out = assert(io.open(path, "w"))
  for line in io.lines(all) do
    local p = line:match('^{"process":(%-?%d+),')
    if p and w.processes[tonumber(p)] then out:write(line, "\n") end
  end
  assert(out:close())
  return path
end

--- w:wait(): until every client has finished; returns the counts. After it,
--- w.history is the path of w's own operations (history-wN-NAME.jsonl).
function Workload:wait()
  for _, t in ipairs(self.tasks) do t:wait() end
  if not self.history then self.history = own_history(self) end
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
  if math.type(process) ~= "integer" then
    kit.misuse("fl.history.invoke: process must be an integer (fl.history.process()), not "
      .. tostring(process))
  end
  if type(f) ~= "string" then
    kit.misuse("fl.history.invoke: f must be the operation's name, not " .. tostring(f))
  end
  return kit.call("fl.history.invoke", core.history_invoke, process, f, key, value)
end
local outcomes = { ok = true, fail = true, info = true }
function fl.history.complete(process, outcome, f, key, value, err, t0)
  if math.type(process) ~= "integer" then
    kit.misuse("fl.history.complete: process must be an integer (fl.history.process()), not "
      .. tostring(process))
  end
  if not outcomes[outcome] then
    kit.misuse("fl.history.complete: outcome '" .. tostring(outcome)
      .. "' is not ok, fail or info")
  end
  if type(f) ~= "string" then
    kit.misuse("fl.history.complete: f must be the operation's name, not " .. tostring(f))
  end
  return kit.call("fl.history.complete", core.history_complete, process, outcome, f, key,
    value, err, t0)
end
function fl.history.path() return core.history_flush() end

---------------------------------------------------------------------------
-- Faults recorded by the scenario itself (anything faultline does not do).

-- A fault the scenario began: f:done() (or f:stop()) ends it, once.
local Fault = {}
Fault.__index = Fault

--- f:done(): the fault is over: the system under test has finished reacting
--- (a failover ended when the promotion finished). Recovery is measured
--- from here. Calling it again does nothing. Returns the fault's duration.
function Fault:done()
  if not self.ended then
    self.ended = fl.now()
    core.fault_end(self.id)
  end
  return self.ended - self.start
end

local fault_opts = { kind = true, targets = true, attrs = true }

--- fl.fault{kind=, targets={...}, attrs={...}} or fl.fault(kind, targets,
--- attrs): records a fault the scenario injects itself (a failover, a
--- command of its own) on the timeline, from now until f:done(). Faults
--- faultline records while it is active on the same targets (the kill of
--- the old primary) are its parts: the recovery and availability checks
--- measure the whole from this one.
function fl.fault(kind, targets, attrs)
  if type(kind) == "table" then
    local spec = fl.options(kind, "fl.fault", fault_opts)
    kind, targets, attrs = spec.kind, spec.targets, spec.attrs
  end
  if type(kind) ~= "string" or kind == "" then
    kit.misuse("fl.fault: 'kind' (a string, e.g. \"failover\") is required")
  end
  if targets ~= nil and type(targets) ~= "table" then
    kit.misuse("fl.fault: 'targets' must be a list of services or names")
  end
  if attrs ~= nil and type(attrs) ~= "table" then
    kit.misuse("fl.fault: 'attrs' must be a table")
  end
  local names = {}
  for i, x in ipairs(targets or {}) do names[i] = kit.name_of(x, "fl.fault") end
  local a = {}
  for k, v in pairs(attrs or {}) do a[k] = v end
  -- A group: faults faultline records while it is open on its targets get
  -- attrs.part_of = its id (base/timeline.c).
  a.group = true
  local id = core.fault_begin(kind, names, a)
  local f = setmetatable({ id = id, kind = kind, targets = names, start = fl.now() }, Fault)
  -- f.stop(), the form it had before f:done(), with or without the colon.
  f.stop = function() return f:done() end
  return f
end

--- fl.metric(name, value [, unit]): one point of a time series of your own
--- (a replica's lag, a queue's length), kept in report.json's "metrics" and
--- drawn in report.html below throughput, on the timeline's time axis.
function fl.metric(name, value, unit)
  if type(name) ~= "string" or name == "" then
    kit.misuse("fl.metric: a name (a non-empty string) is required, not " .. tostring(name))
  end
  if math.type(value) == nil or value ~= value or value == math.huge or value == -math.huge then
    kit.misuse(string.format("fl.metric: '%s': the value must be a finite number, not %s",
      name, tostring(value)))
  end
  if unit ~= nil and type(unit) ~= "string" then
    kit.misuse("fl.metric: '" .. name .. "': the unit must be a string, not " .. tostring(unit))
  end
  kit.call("fl.metric", core.metric, name, value, unit)
end

---------------------------------------------------------------------------
-- Fault layers: the proxy layer (faultline.proxy) and the namespace layer
-- (faultline.network) each cut, heal and probe the members they own.
-- fl.partition, fl.heal, fl.expect.isolated and fl.service ask them in the
-- order of `modules` below; no layer replaces another's function.
--
-- A layer is a table {name =, owns(name) -> bool, partition(spec, plan),
-- heal(), isolated(a, b, opts), place(spec) -> spec (optional: fl.service
-- specs pass through it)}. The last layer owns every name (the fallback).

local layers = {}

-- The members a partition spec names, and its shape checked once for every
-- layer: {from =, to =} (one way) or a list of groups.
local function plan_of(spec)
  if type(spec) ~= "table" then kit.misuse("fl.partition: a table of groups expected") end
  local plan = { names = {} }
  local function add(group)
    local names = {}
    for _, x in ipairs(kit.list_of(group)) do
      local n = kit.name_of(x)
      names[#names + 1] = n
      plan.names[#plan.names + 1] = n
    end
    return names
  end
  if spec.from ~= nil or spec.to ~= nil then
    fl.options(spec, "fl.partition", { "from", "to" }, 3)
    plan.from, plan.to = add(spec.from or {}), add(spec.to or {})
  else
    for k in pairs(spec) do
      if math.type(k) ~= "integer" then
        kit.misuse("fl.partition: unknown option '" .. tostring(k)
          .. "' (known: from, to, or a list of groups)")
      end
    end
    plan.groups = {}
    local seen = {}
    for i, g in ipairs(spec) do
      local names = {}
      for _, n in ipairs(add(g)) do
        if seen[n] and seen[n] ~= i then
          kit.misuse("fl.partition: " .. n .. " is in two groups")
        end
        if not seen[n] then names[#names + 1] = n end
        seen[n] = i
      end
      plan.groups[i] = names
    end
  end
  return plan
end

-- The layer for a set of member names: the first that owns all of them.
-- With `strict`, a layer that owns some but not all is an error (a partition
-- cannot span two layers).
local function layer_for(names, what, strict)
  for _, layer in ipairs(layers) do
    local yes, no = {}, {}
    for _, n in ipairs(names) do
      if layer.owns(n) then yes[#yes + 1] = n else no[#no + 1] = n end
    end
    if #no == 0 and #yes > 0 then return layer end
    if strict and #yes > 0 then
      kit.misuse(string.format("%s: %s %s in the %s layer and %s %s not; partition one "
        .. "layer at a time", what, table.concat(yes, ", "), #yes == 1 and "is" or "are",
        layer.name, table.concat(no, ", "), #no == 1 and "is" or "are"))
    end
  end
  return layers[#layers]
end

--- fl.partition{ {"a"}, {"b", "c"} } | fl.partition{from = {...}, to = {...}}:
--- cuts the links between the groups (or one way), in the layer that owns
--- the members; a partition already in place there is healed first.
function fl.partition(spec)
  local plan = plan_of(spec)
  return layer_for(plan.names, "fl.partition", true).partition(spec, plan)
end

--- fl.heal(): ends the partition of every layer.
function fl.heal()
  for _, layer in ipairs(layers) do layer.heal() end
end

--- fl.expect.isolated(a, b, {name=, wait=}): a cannot reach b, probed in the
--- layer that owns both. Recorded as a check; the scenario stops if not.
function fl.expect.isolated(a, b, opts)
  opts = fl.options(opts, "fl.expect.isolated", { "name", "wait" })
  local an, bn = kit.name_of(a, "fl.expect.isolated"), kit.name_of(b, "fl.expect.isolated")
  return layer_for({ an, bn }, "fl.expect.isolated", false).isolated(an, bn, opts)
end

--- fl.service{name=, cmd=, ...}: a service, placed by the layers that place
--- services (the namespace layer gives it its namespace and address).
function fl.service(spec)
  if type(spec) == "table" then
    for _, layer in ipairs(layers) do
      if layer.place then spec = layer.place(spec) end
    end
  end
  -- Through kit.call: Lua 5.4 keeps this frame under a C function even in a
  -- tail call, and the errors the C side raises belong at the scenario's line.
  return kit.call(nil, core.service, spec)
end

---------------------------------------------------------------------------
-- The modules of faultline's Lua side (harness/lua/*.lua), in the order they
-- load and, for fault layers, the order they are asked: one row each, as
-- Lua's linit.c lists its libraries. A module is
-- `return function(fl, core, kit) ... return M end`; `as` publishes M as
-- fl[as], `exports` publishes the listed fields of M in fl, and M.layer,
-- when a module has one, joins `layers` above.
local modules = {
  { name = "faultline.check", as = "check" },                          -- fl.check.*
  { name = "faultline.network", exports = { "network" } },             -- the namespace layer
  { name = "faultline.resources" },                                    -- svc:cpu/memory healed by fl.heal
  { name = "faultline.hosts", exports = { "hosts" } },                  -- fl.hosts, the hosts layer
  { name = "faultline.proxy", exports = { "proxy", "udp_proxy" } },    -- the proxy layer (the fallback)
  { name = "faultline.nemesis", exports = { "nemesis" } },              -- fl.nemesis (after the layers)
  { name = "faultline.pg", exports = { "pg" } },                        -- fl.pg (PostgreSQL client)
}

for _, row in ipairs(modules) do
  local M = require(row.name)(fl, core, kit)
  if row.as then fl[row.as] = M end
  for _, k in ipairs(row.exports or {}) do
    assert(fl[k] == nil, row.name .. " would replace fl." .. k)
    fl[k] = M[k]
  end
  if M.layer then layers[#layers + 1] = M.layer end
end

return fl
