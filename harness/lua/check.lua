-- fl.check.*: checkers over the run's history, recorded as checks in the
-- report. Unlike fl.expect.*, a failed check does not stop the scenario: every
-- check runs, and the scenario fails at the end if any did.
return function(fl, core, kit)
  local check = {}
  local opts_of = fl.options

  local function verdict(valid)
    if valid == true then return "pass" elseif valid == false then return "fail" end
    return "unknown"
  end

  -- Adds seconds beside the nanosecond times of an op, for the report.
  local function op_seconds(op)
    if type(op) ~= "table" then return op end
    if op.invoke_ns then op.invoke_s = op.invoke_ns / 1e9 end
    if op.complete_ns then op.complete_s = op.complete_ns / 1e9 end
    return op
  end

  -- The history a check reads: flushed first, always, so operations
  -- recorded after a workload's wait() are whole on disk.
  local function history_of(opts)
    local path = core.history_flush()
    if type(opts.history) == "table" then return opts.history.history or path end
    return opts.history or path
  end

  -- fl.check.transactions: what the checker found, in the check. Anomalies
  -- the consistency model forbids fail it; those it allows (write skew at
  -- snapshot isolation) are its findings: counted, with the transactions of
  -- each first witness cycle.
  local function transactions_check(c, r)
    c.consistency = r.consistency
    c.message = r.message or c.message
    -- The first forbidden anomaly's cycle in words, in the message itself:
    -- the terminal, summary.md and junit.xml show only the message.
    local first = ((r.anomalies or {})[(r.forbidden or {})[1] or ""] or {})[1]
    if c.status == "fail" and first and first.explanation then
      c.message = c.message .. ". " .. first.explanation
    end
    c.evidence = { anomalies = r.anomalies, forbidden = r.forbidden, allowed = r.allowed,
      ["not"] = r["not"], satisfies = r.satisfies, counts = r.counts, edges = r.edges }
    c.anomaly_count = 0
    for _, n in pairs(r.counts or {}) do c.anomaly_count = c.anomaly_count + n end
    if c.status ~= "pass" or #(r.allowed or {}) == 0 then return end
    local count, ops = 0, {}
    for _, ty in ipairs(r.allowed) do
      count = count + ((r.counts or {})[ty] or 0)
      local first = ((r.anomalies or {})[ty] or {})[1]
      for _, op in ipairs(first and first.cycle or {}) do ops[#ops + 1] = op_seconds(op) end
    end
    c.expected_finding = true
    c.finding = { what = "anomalies " .. r.consistency .. " allows (" ..
      table.concat(r.allowed, ", ") .. ")", count = count, ops = ops }
  end

  local function run_model(kind_name, model, opts)
    local path = history_of(opts)
    local r, err = core.check_run("model", { path = path, model = model,
      timeout = opts.timeout or 60, consistency = opts.consistency,
      realtime = opts.realtime, process = opts.process })
    local name = opts.name or string.format("%s (%s)", kind_name, model)
    if not r then
      core.record_check({ name = name, kind = kind_name, status = "error", message = err })
      return nil, err
    end
    local status = verdict(r.valid)
    local msg
    if status == "pass" then
      msg = string.format("%d operations on %d key(s) checked in %.3f s", r.ops or 0,
        r.keys or 0, r.elapsed_s or 0)
    elseif status == "unknown" then
      msg = "gave up: " .. tostring(r.reason or r.message or "time budget exhausted")
    else
      msg = r.message or (r.anomaly and r.anomaly.message) or "not valid"
    end
    local evidence
    if r.anomaly then
      local a = r.anomaly
      op_seconds(a.op)
      for _, list in ipairs({ a.concurrent or {}, a.before or {} }) do
        for _, op in ipairs(list) do op_seconds(op) end
      end
      evidence = a
    end
    local c = { name = name, kind = kind_name, model = model, status = status,
      message = msg, evidence = evidence, ops = r.ops, elapsed_s = r.elapsed_s }
    if kind_name == "set" then
      c.lost_count, c.unexpected_count, c.duplicates_count =
        r.lost_count, r.unexpected_count, r.duplicates_count
      for _, op in ipairs(r.lost_adds or {}) do op_seconds(op) end
      c.evidence = { lost = r.lost, unexpected = r.unexpected, duplicates = r.duplicates,
        lost_ops = r.lost_adds }
      if opts.expect_loss then
        -- A finding the scenario exists to show: passing means it was found.
        c.expected_finding = true
        if status == "fail" and (r.lost_count or 0) > 0 then
          c.status = "pass"
          c.message = string.format("expected finding: %d acknowledged write(s) lost. %s",
            r.lost_count, msg)
          -- What report.json's "findings" lists: the count, and the lost
          -- adds themselves (evidence.lost_ops) with their times.
          c.finding = { what = "acknowledged write(s) lost", count = r.lost_count }
        elseif status == "pass" then
          c.status = "fail"
          c.message = "expected to find lost writes, found none: " .. msg
        end
      end
    end
    if kind_name == "transactions" then transactions_check(c, r) end
    core.record_check(c)
    return r
  end

  -- fl.check.linearizable{model=, history=, timeout=, name=},
  -- fl.check.set{history=, timeout=, name=, expect_loss=},
  -- fl.check.counter{history=, timeout=, name=} and any checker added since:
  -- one function per Lua name of check/models.c's rows, taking the options
  -- its row lists, checking the row's model, or with model= any model.
  -- The models fl.check.transactions{consistency=} knows (check/txn.h).
  local consistency_models = { "read-uncommitted", "read-committed", "snapshot-isolation",
    "repeatable-read", "serializable", "strict-serializable" }
  for _, m in ipairs(consistency_models) do consistency_models[m] = true end

  local by_lua, order = {}, {}
  for _, m in ipairs(core.check_models()) do
    local c = by_lua[m.lua]
    if not c then
      c = { allowed = {} }
      by_lua[m.lua] = c
      order[#order + 1] = m.lua
    end
    for _, o in ipairs(m.options) do c.allowed[o] = true end
    if m.lua_default or not c.default then c.default = m.name end
  end
  for _, lua_name in ipairs(order) do
    local c, what = by_lua[lua_name], "fl.check." .. lua_name
    check[lua_name] = function(opts)
      opts = opts_of(opts, what, c.allowed)
      if opts.consistency ~= nil and not consistency_models[opts.consistency] then
        error(string.format("%s: unknown consistency model '%s' (%s)", what,
          tostring(opts.consistency), table.concat(consistency_models, ", ")), 2)
      end
      return run_model(lua_name, opts.model or c.default, opts)
    end
  end

  -- A fault that began inside a group (fl.fault{}: the kill of the old
  -- primary inside a failover) carries attrs.part_of: the checks measure
  -- the group, not its parts.
  local function is_part(f)
    return f.attrs ~= nil and f.attrs.part_of ~= nil
  end

  -- The faults `after` selects: nil or "each fault" (every fault but the
  -- parts of a scenario's own fault), a kind ("kill"), a fault's id, or the
  -- handle fl.fault / fl.partition returned.
  local function ended_faults(after)
    local list = {}
    local id = type(after) == "table" and (after.id or after.fault) or after
    for _, f in ipairs(core.faults()) do
      if ((after == nil or after == "each fault") and not is_part(f))
        or id == f.kind or id == f.id then
        list[#list + 1] = f
      end
    end
    return list
  end

  local function describe(f)
    local a = f.attrs or {}
    if f.kind == "partition" and type(a.groups) == "table" then
      local sides = {}
      for i, g in ipairs(a.groups) do sides[i] = table.concat(g, " ") end
      return "partition " .. table.concat(sides, " | ")
    end
    if f.kind == "partition" and type(a.from) == "table" then
      return "partition " .. table.concat(a.from, " ") .. " -/-> " .. table.concat(a.to or {}, " ")
    end
    local t = {}
    for _, x in ipairs(f.targets or {}) do t[#t + 1] = tostring(x) end
    -- a fault without targets (fl.fault{} of a scenario's own kind, a
    -- fault recorded by hand) is named by its kind and start
    local d = #t > 0 and string.format("%s of %s", f.kind, table.concat(t, ", "))
      or string.format("%s at %.1f s", f.kind, tonumber(f.start_s or f.t or 0) or 0)
    -- Two toxics on one proxy are two faults: their names tell them apart.
    if type(a.toxic) == "string" then d = d .. " (" .. a.toxic .. ")" end
    return d
  end

  -- The moments fl.check.recovery measures from: {name=, t=, fault=} for
  -- each fault `after` selects (t = its end, nil when it never ended), or
  -- the one moment {at = s} (fl.now()) or {log = "text"} (the first fl.log
  -- line containing text) names.
  local function origins(after)
    if type(after) == "table" and (after.at ~= nil or after.log ~= nil) then
      fl.options(after, "fl.check.recovery: after", { at = true, log = true }, 3)
      if after.at ~= nil then
        if type(after.at) ~= "number" or after.at < 0 then
          kit.misuse("fl.check.recovery: after.at must be seconds (fl.now()), not "
            .. tostring(after.at))
        end
        return { { name = string.format("%.3f s", after.at), t = after.at } }
      end
      for _, n in ipairs(kit.notes) do
        if n.message:find(after.log, 1, true) then
          return { { name = '"' .. n.message .. '"', t = n.t } }
        end
      end
      return {}, 'no fl.log line contains "' .. tostring(after.log) .. '"'
    end
    local list = {}
    for _, f in ipairs(ended_faults(after)) do
      list[#list + 1] = { name = describe(f), t = f.end_s, fault = f.id }
    end
    return list, "no fault to measure recovery from"
  end

  --- fl.check.recovery{after=, within=S, run=N, history=, name=}: after each
  --- moment `after` selects (docs/lua-api/findings-metrics-faults.md lists
  --- them all), operations must succeed again (a run of `run` consecutive ok
  --- completions, default 5) within `within` seconds.
  function check.recovery(opts)
    opts = opts_of(opts, "fl.check.recovery",
      { after = true, within = true, run = true, history = true, name = true })
    local path = history_of(opts)
    local results = {}
    local list, none = origins(opts.after)
    for _, o in ipairs(list) do
      local name = (opts.name or "recovery") .. " after " .. o.name
      if o.t == nil then
        core.record_check({ name = name, kind = "recovery", status = "fail",
          message = "the fault never healed (a fault the scenario ends itself: "
            .. "fl.fault{...} and f:done())", fault = o.fault, limit_s = opts.within })
      else
        local r, err = core.check_run("recovery", { path = path,
          heal_ns = math.floor(o.t * 1e9), run = opts.run or 5, limit = opts.within or 0 })
        if not r then
          core.record_check({ name = name, kind = "recovery", status = "error", message = err })
        else
          local msg
          local since = o.fault and "the fault ended" or o.name
          if r.recovered then
            msg = string.format("recovered %.3f s after %s%s", r.recovery_s, since,
              opts.within and string.format(" (limit %g s)", opts.within) or "")
          else
            msg = string.format("no run of %d successful operations after %s", r.run or 5, since)
          end
          core.record_check({ name = name, kind = "recovery", status = r.valid and "pass" or "fail",
            message = msg, recovery_s = r.recovery_s, limit_s = opts.within, fault = o.fault,
            heal_s = o.t, failures_after_heal = r.failures_after_heal })
        end
        results[#results + 1] = r
      end
    end
    if #list == 0 then
      core.record_check({ name = opts.name or "recovery", kind = "recovery", status = "error",
        message = none })
    end
    return results
  end

  --- fl.check.availability{min=0.0..1.0, phase="during"|"before"|"after"|"all", history=, name=}
  --- Per fault, the share of ok operations in the phase stays at or above `min`.
  function check.availability(opts)
    opts = opts_of(opts, "fl.check.availability",
      { min = true, phase = true, history = true, name = true, after = true })
    local path = history_of(opts)
    local phase = opts.phase or "during"
    local results = {}
    for _, f in ipairs(ended_faults(opts.after)) do
      local s = math.floor(f.start_s * 1e9)
      local e = f.end_s and math.floor(f.end_s * 1e9) or -1
      local r, err = core.check_run("phases", { path = path, phases = {
        { name = "before", start_ns = 0, end_ns = s },
        { name = "during", start_ns = s, end_ns = e },
        { name = "after", start_ns = e >= 0 and e or s, end_ns = -1 } } })
      local name = (opts.name or "availability") .. " " .. phase .. " " .. describe(f)
      if not r then
        core.record_check({ name = name, kind = "availability", status = "error", message = err })
      else
        local p = r.phases[phase == "before" and 1 or phase == "after" and 3 or 2]
        local a = p.availability
        local ok = a ~= nil and a >= (opts.min or 0)
        core.record_check({ name = name, kind = "availability", status = ok and "pass" or "fail",
          message = a and string.format("%.1f%% of %d operations ok (min %.1f%%)", a * 100,
            p.total, (opts.min or 0) * 100) or "no operations in the phase",
          availability = a, min = opts.min, phases = r.phases, fault = f.id })
        results[#results + 1] = r
      end
    end
    return results
  end

  -- The operations of a history, paired by check/'s one reader (tolerant):
  -- {process, f, key, value, type, invoke_s, complete_s, result}. Reads the
  -- file after the workload is done.
  local function read_ops(path)
    local ops, err = core.check_run("ops", { path = path })
    if not ops then error(err, 0) end
    return ops
  end

  local function name_set(list)
    local s = {}
    for _, x in ipairs(list or {}) do s[type(x) == "string" and x or x.name] = true end
    return s
  end

  local function pick_fault(opts, kind)
    local found
    for _, f in ipairs(core.faults()) do
      if (opts.fault == nil and (kind == nil or f.kind == kind)) or opts.fault == f.id then
        found = f
      end
    end
    return found
  end

  --- fl.check.isolation{workload=, nodes={...}, min=0.95, fault=id, name=}
  --- Blast radius: clients of the nodes listed (those outside the faulted
  --- group) keep at least `min` of their operations ok while the fault (the
  --- last one, or `fault`) is active.
  function check.isolation(opts)
    opts = opts_of(opts, "fl.check.isolation",
      { workload = true, nodes = true, min = true, fault = true, name = true })
    local w = opts.workload or error("fl.check.isolation: 'workload' is required", 2)
    local nodes = name_set(opts.nodes)
    local f = pick_fault(opts)
    local name = opts.name or "isolation"
    if not f then
      core.record_check({ name = name, kind = "isolation", status = "error",
        message = "no fault to check isolation against" })
      return
    end
    local stop = f.end_s or fl.now()
    local ok, total = 0, 0
    for _, op in ipairs(read_ops(w.history or core.history_flush())) do
      if nodes[w.nodes[op.process] or ""] and op.invoke_s >= f.start_s and op.invoke_s < stop then
        total = total + 1
        if op.type == "ok" then ok = ok + 1 end
      end
    end
    local min = opts.min or 0.95
    local rate = total > 0 and ok / total or nil
    local names = {}
    for n in pairs(nodes) do names[#names + 1] = n end
    table.sort(names)
    core.record_check({ name = name, kind = "isolation",
      status = (rate and rate >= min) and "pass" or "fail",
      message = rate and string.format("clients of %s: %d of %d operations ok (%.1f%%, min %.1f%%) during %s",
        table.concat(names, ", "), ok, total, rate * 100, min * 100, describe(f))
        or ("no operation by clients of " .. table.concat(names, ", ") .. " during the fault"),
      availability = rate, min = min, fault = f.id })
    return rate
  end

  --- fl.check.minority_refuses{workload=, nodes={...}, fault=id, name=}
  --- A linearizable system must not acknowledge writes on the minority side
  --- of a partition: no write or cas by clients of those nodes, invoked
  --- while the partition was active, may complete ok before it healed.
  function check.minority_refuses(opts)
    opts = opts_of(opts, "fl.check.minority_refuses",
      { workload = true, nodes = true, fault = true, name = true })
    local w = opts.workload or error("fl.check.minority_refuses: 'workload' is required", 2)
    local nodes = name_set(opts.nodes)
    local f = pick_fault(opts, "partition")
    local name = opts.name or "minority refuses writes"
    if not f then
      core.record_check({ name = name, kind = "minority", status = "error",
        message = "no partition to check" })
      return
    end
    local stop = f.end_s or fl.now()
    local acked, refused = {}, 0
    for _, op in ipairs(read_ops(w.history or core.history_flush())) do
      if nodes[w.nodes[op.process] or ""] and op.f ~= "read" and op.invoke_s >= f.start_s
        and op.invoke_s < stop then
        if op.type == "ok" and op.complete_s and op.complete_s < stop then
          acked[#acked + 1] = op
        else
          refused = refused + 1
        end
      end
    end
    core.record_check({ name = name, kind = "minority", status = #acked == 0 and "pass" or "fail",
      message = #acked == 0 and string.format("%d write(s) on the minority side, none acknowledged", refused)
        or string.format("%d write(s) acknowledged on the minority side during %s", #acked, describe(f)),
      evidence = #acked > 0 and { ops = { table.unpack(acked, 1, math.min(#acked, 20)) } } or nil,
      fault = f.id })
    return #acked == 0
  end

  --- fl.check.record{name=, status="pass"|"fail"|"unknown"|"error", message=, ...}
  --- Records a check of your own, with any figures as extra fields; a
  --- "fail" makes the scenario fail at its end, like any other check.
  function check.record(c)
    if type(c) ~= "table" or type(c.name) ~= "string" then
      error("fl.check.record: a table with a 'name' is required", 2)
    end
    local st = c.status or "pass"
    if st ~= "pass" and st ~= "fail" and st ~= "unknown" and st ~= "error" then
      error("fl.check.record: status must be pass, fail, unknown or error, not " .. tostring(st), 2)
    end
    local copy = {}
    for k, v in pairs(c) do copy[k] = v end
    copy.status = st
    copy.kind = copy.kind or "custom"
    core.record_check(copy)
    return st == "pass"
  end

  return check
end
