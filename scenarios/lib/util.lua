-- Small helpers the scenario packs share: files under the run directory,
-- histories split by key, latency percentiles per time window, and expected
-- findings recorded as checks.
--
--   local util = require("faultline.lib.util")
--   util.mkdir(fl.info().dir .. "/data/x")
--   local orders = util.history_of_key("orders")        -- a history file of one key
--   fl.check.availability{ history = orders, min = 0.99 }
local fl = require("faultline")

local M = {}

--- mkdir -p, without blocking the loop (fl.exec).
function M.mkdir(dir)
  local r = fl.exec{ "mkdir", "-p", dir, timeout = 10 }
  if not r or r.code ~= 0 then
    error("cannot create directory " .. dir .. ": " .. tostring(r and r.stderr), 2)
  end
  return dir
end

function M.write_file(path, text)
  local f, err = io.open(path, "w")
  if not f then error("cannot write " .. path .. ": " .. tostring(err), 2) end
  f:write(text)
  f:close()
  return path
end

function M.exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

--- The directory of the Lua file `level` frames up (1 = the caller of this
--- function), absolute.
function M.dir_of_caller(level)
  local src = debug.getinfo((level or 1) + 1, "S").source
  local path = src:match("^@(.*)$") or "."
  local dir = path:match("^(.*)/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then dir = (os.getenv("PWD") or ".") .. "/" .. dir end
  return dir
end

---------------------------------------------------------------------------
-- The namespace layer

--- util.netns() -> net | nil, reason. fl.network{mode = "netns"} when this
--- faultline has it and the host allows it (root, Linux, nftables); nil and
--- a sentence saying why not otherwise, for a scenario to log as skipped.
---
--- The subnet is derived from the run id (a /24 in 10.78.0.0-10.177.255.0)
--- rather than left to faultline's search of 10.77.x: concurrent runs
--- (suite --jobs, ctest -j) were seen to take the same 10.77.0.0/24 on
--- different bridges, and then talk to each other's services. If that
--- subnet is taken or overlaps a host route, faultline's own choice is used.
function M.netns()
  if not fl.network then
    return nil, "this faultline has no fl.network (the network namespace layer)"
  end
  local h = tonumber(fl.info().run_id, 16) or fl.random(0, 1 << 30)
  local subnet = string.format("10.%d.%d.0/24", 78 + h % 100, (h // 100) % 256)
  local ok, net = pcall(fl.network, { mode = "netns", subnet = subnet })
  if ok then return net end
  ok, net = pcall(fl.network, { mode = "netns" })
  if ok then return net end
  return nil, "network namespaces are not available here (" .. tostring(net)
    .. "); they need root on Linux with nftables"
end

---------------------------------------------------------------------------
-- Histories

local function run_dir() return fl.info().dir end

--- Writes the operations of the run's history whose key is `key` (or for
--- which pred(line_table) is true) to <run dir>/history-<name>.jsonl and
--- returns that path, for fl.check.* {history = path}. The run's history
--- holds every workload's operations; checks given this file see only one.
function M.history_of_key(key, name)
  local src = fl.history.path()                 -- flushes what was recorded
  local pred = type(key) == "function" and key or function(op) return op.key == key end
  local out_path = string.format("%s/history-%s.jsonl", run_dir(), name or tostring(key))
  local out = assert(io.open(out_path, "w"))
  for line in io.lines(src) do
    local op = fl.json.decode(line)
    if op and pred(op) then out:write(line, "\n") end
  end
  out:close()
  return out_path
end

--- The operations of a history file, each {process=, f=, key=, value=,
--- type="ok"|"fail"|"info", invoke_s=, complete_s=, latency_s=, error=},
--- in invocation order. Operations never completed have no type.
function M.operations(path)
  local open, ops = {}, {}
  for line in io.lines(path or fl.history.path()) do
    local e = fl.json.decode(line)
    if e then
      if e.type == "invoke" then
        local op = { process = e.process, f = e.f, key = e.key, value = e.value,
          invoke_s = e.time / 1e9 }
        open[e.process] = op
        ops[#ops + 1] = op
      else
        local op = open[e.process]
        if op then
          op.type, op.complete_s, op.error = e.type, e.time / 1e9, e.error
          op.latency_s = op.complete_s - op.invoke_s
          if e.value ~= nil then op.value = e.value end
          open[e.process] = nil
        end
      end
    end
  end
  return ops
end

--- Nearest-rank percentile (p in 0..1) of a list of numbers; nil if empty.
function M.percentile(list, p)
  if #list == 0 then return nil end
  local s = {}
  for i, v in ipairs(list) do s[i] = v end
  table.sort(s)
  local rank = math.max(1, math.min(#s, math.ceil(p * #s)))
  return s[rank]
end

--- Latencies (seconds) of the operations invoked in [from, to) seconds that
--- pass filter(op) (default: ok operations).
function M.latencies(ops, from, to, filter)
  filter = filter or function(op) return op.type == "ok" end
  local out = {}
  for _, op in ipairs(ops) do
    if op.latency_s and op.invoke_s >= from and op.invoke_s < (to or math.huge) and filter(op) then
      out[#out + 1] = op.latency_s
    end
  end
  return out
end

--- The longest time (seconds) within [from, to) in which no operation of
--- ops completed ok, and when that stretch began: a service that recovers,
--- then stalls again, shows here when fl.check.recovery (the first run of
--- successes) does not.
function M.longest_gap(ops, from, to)
  local t = {}
  for _, op in ipairs(ops) do
    if op.type == "ok" and op.complete_s >= from and op.complete_s < to then
      t[#t + 1] = op.complete_s
    end
  end
  table.sort(t)
  local prev, best, at = from, 0, from
  for _, x in ipairs(t) do
    if x - prev > best then best, at = x - prev, prev end
    prev = x
  end
  if to - prev > best then best, at = to - prev, prev end
  return best, at
end

--- The recorded faults of a kind (fl.check's view: {kind, start_s, end_s, ...}).
function M.faults(kind)
  local out = {}
  for _, f in ipairs(require("faultline.core").faults()) do
    if kind == nil or f.kind == kind then out[#out + 1] = f end
  end
  return out
end

---------------------------------------------------------------------------
-- Expected findings

--- util.finding{name=, found=bool, message=, figures={count = n, ...}}
--- Records a check for an anomaly the scenario exists to show: it passes
--- when the anomaly was found (message says what, figures give the counts
--- in report.json) and fails when it was not. Like fl.check.set{expect_loss}.
function M.finding(opts)
  opts = fl.options(opts, "util.finding",
    { name = true, found = true, message = true, figures = true, evidence = true })
  local c = { name = opts.name or "expected finding", kind = "finding",
    expected_finding = true, evidence = opts.evidence }
  for k, v in pairs(opts.figures or {}) do c[k] = v end
  if opts.found then
    c.status = "pass"
    c.message = "expected finding: " .. (opts.message or "found")
  else
    c.status = "fail"
    c.message = "expected to find it, found none: " .. (opts.message or "")
  end
  require("faultline.core").record_check(c)
  return opts.found
end

--- util.finds_nonlinearizable{model="kv", history=, name=, timeout=60}: the
--- expected-finding form of fl.check.linearizable: passes when the history
--- is NOT linearizable (message and evidence: the operation that cannot be
--- placed, as fl.check.linearizable shows it), fails when it is.
function M.finds_nonlinearizable(opts)
  opts = fl.options(opts, "util.finds_nonlinearizable",
    { model = true, history = true, name = true, timeout = true })
  local core = require("faultline.core")
  local h = opts.history
  if type(h) == "table" then h = h.history end
  h = h or fl.history.path()
  local model = opts.model or "kv"
  local name = opts.name or ("not linearizable (" .. model .. "), as expected")
  local r, err = core.check_run("model", { path = h, model = model, timeout = opts.timeout or 60 })
  if not r then
    core.record_check({ name = name, kind = "finding", status = "error", message = err })
    return nil
  end
  local c = { name = name, kind = "finding", model = model, expected_finding = true,
    ops = r.ops, elapsed_s = r.elapsed_s }
  if r.valid == false then
    local a = r.anomaly or {}
    local function seconds(op)
      if type(op) ~= "table" then return end
      if op.invoke_ns then op.invoke_s = op.invoke_ns / 1e9 end
      if op.complete_ns then op.complete_s = op.complete_ns / 1e9 end
    end
    seconds(a.op)
    for _, list in ipairs({ a.concurrent or {}, a.before or {} }) do
      for _, op in ipairs(list) do seconds(op) end
    end
    c.status = "pass"
    c.message = "expected finding: " .. tostring(r.message or a.message or "not linearizable")
    c.evidence = r.anomaly
  elseif r.valid == true then
    c.status = "fail"
    c.message = string.format("expected an anomaly, found none: %d operations linearizable",
      r.ops or 0)
  else
    c.status = "unknown"
    c.message = "gave up: " .. tostring(r.reason or "time budget exhausted")
  end
  core.record_check(c)
  return r
end

--- util.within{name=, value=, limit=, unit="s", message=}: a figure checked
--- against a limit (value <= limit), recorded as a check with both numbers.
function M.within(opts)
  opts = fl.options(opts, "util.within",
    { name = true, value = true, limit = true, unit = true, message = true })
  local unit = opts.unit or "s"
  local ok = opts.value ~= nil and opts.value <= opts.limit
  local fmt = unit == "ms" and "%.1f" or "%.3f"
  local msg = string.format("%s" .. fmt .. " %s (limit " .. fmt .. " %s)",
    opts.message and (opts.message .. ": ") or "",
    opts.value or -1, unit, opts.limit, unit)
  if opts.value == nil then msg = (opts.message or opts.name) .. ": no measurement" end
  require("faultline.core").record_check({ name = opts.name, kind = "measure",
    status = ok and "pass" or "fail", message = msg, value = opts.value, limit = opts.limit,
    unit = unit })
  return ok
end

--- util.check(name, ok, message): a plain assertion recorded as a check
--- whose message is kept whether it passes or fails (fl.expect.that keeps it
--- only on failure). Does not stop the scenario.
function M.check(name, ok, message)
  require("faultline.core").record_check({ name = name, kind = "assert",
    status = ok and "pass" or "fail", message = message })
  return ok
end

return M
