-- fl.nemesis{...}: random faults of many kinds on many target shapes, drawn
-- from the run's seed beside the workload, every one recorded in the run's
-- schedule (schedule.json in the run directory, `schedule` in report.json),
-- so `faultline run FILE --replay RUN_DIR` can apply it again at the same
-- offsets and `faultline shrink RUN_DIR` can look for a smaller one.
--
-- A fault kind is a row of `kinds` below: draw(nem, rng) -> entry (kind,
-- targets by name, params) or nil, and apply(nem, entry) -> undo. Replay
-- calls apply() with the recorded entry, so a drawn and a replayed fault go
-- through the same code.
return function(fl, core, kit)
  local M = {}
  local services = {} -- every fl.service of the scenario, in creation order
  local proxies = {}  -- every fl.proxy / fl.udp_proxy, for toxics and coverage
  local all = {}      -- the schedule: every entry of every nemesis, in order
  local nemeses = 0
  local window_s, started_s -- the first nemesis's window and start, for shrink

  -- The nemesis targets the scenario's services unless told otherwise, and
  -- puts toxics on its links: it learns both as the scenario makes them.
  local service_new, proxy_new, udp_new = fl.service, fl.proxy, fl.udp_proxy
  local clocked = {} -- names of the services declared with clock = true
  function M.service(spec)
    local s = service_new(spec)
    services[#services + 1] = s
    if type(spec) == "table" and spec.clock and spec.name then clocked[spec.name] = true end
    return s
  end
  function M.proxy(spec)
    local p = proxy_new(spec)
    proxies[#proxies + 1] = p
    return p
  end
  function M.udp_proxy(spec)
    local p = udp_new(spec)
    proxies[#proxies + 1] = p
    return p
  end
  fl.service, fl.proxy, fl.udp_proxy = M.service, M.proxy, M.udp_proxy

  ---------------------------------------------------------------------------
  -- The schedule on disk: rewritten whenever a fault starts or ends, so a
  -- run that dies still leaves what it injected.

  local function round3(x) return x and math.floor(x * 1000 + 0.5) / 1000 end

  local function save()
    local path = fl.info().dir .. "/schedule.json"
    local out = io.open(path .. ".tmp", "w")
    if not out then return end
    out:write(fl.json.encode({ schedule = all, window_s = window_s, started_s = started_s }))
    out:close()
    os.rename(path .. ".tmp", path)
  end

  ---------------------------------------------------------------------------
  -- Targets

  local function by_name(name)
    for _, s in ipairs(services) do if s.name == name then return s end end
    return nil
  end

  local function shuffled(rng, list)
    local out = {}
    for i, x in ipairs(list) do out[i] = x end
    for i = #out, 2, -1 do
      local j = rng:int(1, i)
      out[i], out[j] = out[j], out[i]
    end
    return out
  end

  local function take(list, n)
    local out = {}
    for i = 1, math.min(n, #list) do out[i] = list[i] end
    return out
  end

  local function sorted_names(list)
    local out = {}
    for i, x in ipairs(list) do out[i] = kit.name_of(x, "fl.nemesis") end
    table.sort(out)
    return out
  end

  -- Jepsen's target specs over the nemesis's target list (names).
  local specs = {
    one = function(rng, names) return take(shuffled(rng, names), 1) end,
    minority = function(rng, names) return take(shuffled(rng, names), #names // 2) end,
    majority = function(rng, names) return take(shuffled(rng, names), #names // 2 + 1) end,
    ["minority-third"] = function(rng, names)
      return take(shuffled(rng, names), math.max(1, (#names - 1) // 3))
    end,
    all = function(_, names) return take(names, #names) end,
  }
  local spec_names = { "one", "minority", "majority", "minority-third", "all" }

  local function resolve_targets(nem, rng)
    local spec = nem.target
    if type(spec) == "table" and #spec > 0 and type(spec[1]) == "string" and specs[spec[1]] then
      spec = spec[rng:int(1, #spec)] -- a list of specs: one drawn per fault
    end
    if type(spec) == "function" then
      return sorted_names(kit.list_of(spec(nem.targets, rng) or {}))
    end
    if type(spec) == "table" then return sorted_names(spec) end
    return sorted_names(specs[spec](rng, nem.names))
  end

  ---------------------------------------------------------------------------
  -- Partition shapes: groups (any layer, through fl.partition), or the pairs
  -- of nodes to cut (bridge, majorities-ring: the proxy layer's links).

  local shapes = {}
  function shapes.one(rng, names)
    local s = shuffled(rng, names)
    return { groups = { take(s, 1), { table.unpack(s, 2) } } }
  end
  function shapes.halves(rng, names)
    local s = shuffled(rng, names)
    local k = #s // 2
    return { groups = { take(s, k), { table.unpack(s, k + 1) } } }
  end
  shapes.random = function(rng, names)
    local s = shuffled(rng, names)
    local k = rng:int(1, #s - 1)
    return { groups = { take(s, k), { table.unpack(s, k + 1) } } }
  end
  -- Two halves that cannot reach each other, and one node that reaches both.
  function shapes.bridge(rng, names)
    local s = shuffled(rng, names)
    local k = (#s - 1) // 2
    local pairs_ = {}
    for i = 1, k do
      for j = k + 2, #s do pairs_[#pairs_ + 1] = { s[i], s[j] } end
    end
    return { cut = pairs_, bridge = s[k + 1] }
  end
  -- Every node sees a majority (itself and its n//2 nearest on a ring), and
  -- no two nodes see the same one.
  shapes["majorities-ring"] = function(rng, names)
    local s = shuffled(rng, names)
    local n, pairs_ = #s, {}
    for i = 1, n do
      for j = i + 1, n do
        local d = math.min(j - i, n - (j - i))
        if d > (n // 2 + 1) // 2 then pairs_[#pairs_ + 1] = { s[i], s[j] } end
      end
    end
    return { cut = pairs_, ring = s }
  end
  local shape_names = { "one", "halves", "random", "bridge", "majorities-ring" }
  local shape_min_nodes = { bridge = 3, ["majorities-ring"] = 5 }

  local function links_between(a, b)
    local out = {}
    for _, p in ipairs(proxies) do
      if (p.from == a and p.to == b) or (p.from == b and p.to == a) then out[#out + 1] = p end
    end
    return out
  end

  local function links_touching(names)
    local set, out = {}, {}
    for _, n in ipairs(names) do set[n] = true end
    for _, p in ipairs(proxies) do
      if set[p.from] or set[p.to] then out[#out + 1] = p end
    end
    return out
  end

  ---------------------------------------------------------------------------
  -- Fault kinds

  local function range(rng, r)
    if type(r) == "number" then return r end
    return r[1] + (r[2] - r[1]) * rng:float()
  end

  local function each_service(entry, method, ...)
    for _, n in ipairs(entry.targets) do
      local s = by_name(n) or error("no service named " .. n, 0)
      s[method](s, ...)
    end
  end

  -- A resource limit on each target; when one cannot take it, the ones
  -- already limited are lifted again before the error goes on (a fault is
  -- on all its targets or on none).
  local function limit_each(entry, method, spec)
    local done = {}
    for _, n in ipairs(entry.targets) do
      local s = by_name(n) or error("no service named " .. n, 0)
      local ok, err = pcall(s[method], s, spec)
      if not ok then
        for _, d in ipairs(done) do pcall(d[method], d, {}) end
        error(err, 0)
      end
      done[#done + 1] = s
    end
  end

  local function toxic_kind(toxic, params)
    return {
      draw = function(nem, rng)
        local targets = resolve_targets(nem, rng)
        if #links_touching(targets) == 0 then return nil end
        return { targets = targets, params = params(rng) }
      end,
      apply = function(_, entry)
        local name = "nemesis-" .. entry.id
        local list = {}
        for _, p in ipairs(links_touching(entry.targets)) do
          if p.add_toxic then
            local t = { type = toxic, name = name }
            for k, v in pairs(entry.params) do t[k] = v end
            p:add_toxic(t)
            list[#list + 1] = p
          end
        end
        return function() for _, p in ipairs(list) do p:remove_toxic(name) end end, list
      end,
    }
  end

  local kinds = {}
  kinds.partition = {
    draw = function(nem, rng)
      if nem.cutting then return nil end -- one partition at a time
      if #nem.names < 2 then return nil end
      local shape = nem.shapes[rng:int(1, #nem.shapes)]
      local params = shapes[shape](rng, nem.names)
      params.shape = shape
      return { targets = take(nem.names, #nem.names), params = params }
    end,
    apply = function(nem, entry)
      local p = entry.params
      nem.cutting = true
      if p.groups then
        local list = {}
        for i, g in ipairs(p.groups) do
          for _, a in ipairs(g) do
            for j = i + 1, #p.groups do
              for _, b in ipairs(p.groups[j]) do
                for _, l in ipairs(links_between(a, b)) do list[#list + 1] = l end
              end
            end
          end
        end
        fl.partition(p.groups)
        return function() fl.heal(); nem.cutting = false end, list
      end
      local list = {}
      for _, pair in ipairs(p.cut) do
        for _, l in ipairs(links_between(pair[1], pair[2])) do list[#list + 1] = l end
      end
      if #list == 0 then error("no proxy links these nodes (shape " .. p.shape .. ")", 0) end
      for _, l in ipairs(list) do l:partition() end
      return function()
        for _, l in ipairs(list) do l:heal() end
        nem.cutting = false
      end, list
    end,
  }
  kinds.kill = {
    draw = function(nem, rng) return { targets = resolve_targets(nem, rng), params = {} } end,
    apply = function(_, entry)
      each_service(entry, "kill")
      return function()
        local list = {}
        for _, n in ipairs(entry.targets) do list[#list + 1] = by_name(n) end
        fl.start_all(list)
      end, links_touching(entry.targets)
    end,
  }
  kinds.pause = {
    draw = function(nem, rng) return { targets = resolve_targets(nem, rng), params = {} } end,
    apply = function(_, entry)
      each_service(entry, "pause")
      return function() each_service(entry, "resume") end, links_touching(entry.targets)
    end,
  }
  kinds.latency = toxic_kind("latency", function(rng)
    return { latency = rng:int(50, 500), jitter = rng:int(0, 50) }
  end)
  kinds.bandwidth = toxic_kind("bandwidth", function(rng) return { rate = rng:int(1, 64) } end)
  kinds.reset = toxic_kind("reset_peer", function() return { timeout = 0 } end)
  kinds.clock = {
    -- only services declared with clock = true can have their clock moved:
    -- the drawn targets are narrowed to those, or one of those is taken
    draw = function(nem, rng)
      local targets, ok = resolve_targets(nem, rng), {}
      for _, n in ipairs(targets) do if clocked[n] then ok[#ok + 1] = n end end
      if #ok == 0 then
        local names = {}
        for _, n in ipairs(nem.names) do if clocked[n] then names[#names + 1] = n end end
        if #names == 0 then return nil end -- none of its targets has a movable clock
        ok = { names[rng:int(1, #names)] }
      end
      return { targets = ok,
        params = { offset = (rng:int(0, 1) * 2 - 1) * rng:int(1, 600) } }
    end,
    apply = function(_, entry)
      each_service(entry, "clock", { offset = entry.params.offset })
      return function() each_service(entry, "clock", {}) end, links_touching(entry.targets)
    end,
  }
  -- Resource faults: present when the service handle has them (svc:cpu,
  -- svc:memory); a nemesis asked for them on a build without them says so.
  kinds.cpu = {
    method = "cpu",
    draw = function(nem, rng)
      return { targets = resolve_targets(nem, rng), params = { quota = rng:int(5, 30) / 100 } }
    end,
    apply = function(_, entry)
      limit_each(entry, "cpu", { quota = entry.params.quota })
      return function() each_service(entry, "cpu", {}) end, links_touching(entry.targets)
    end,
  }
  kinds.memory = {
    method = "memory",
    draw = function(nem, rng)
      return { targets = resolve_targets(nem, rng), params = { max = rng:int(16, 64) * 2 ^ 20 // 1 } }
    end,
    apply = function(_, entry)
      limit_each(entry, "memory", { max = entry.params.max })
      return function() each_service(entry, "memory", {}) end, links_touching(entry.targets)
    end,
  }
  local kind_names = { "partition", "kill", "pause", "latency", "bandwidth", "reset", "clock",
    "cpu", "memory" }
  local default_faults = { "partition", "kill", "pause", "latency" }

  ---------------------------------------------------------------------------
  -- Coverage: the bytes and connections the links of a fault carried (or
  -- were offered: bytes read from their clients) while it lasted.

  local function traffic(list)
    local bytes, conns = 0, 0
    for _, p in ipairs(list) do
      local ok, s = pcall(p.stats, p)
      if ok and type(s) == "table" then
        bytes = bytes + (s.bytes_read_upstream or s.packets_in or 0)
          + (s.bytes_read_downstream or 0)
        conns = conns + (s.connections_total or 0)
      end
    end
    return bytes, conns
  end

  -- Client operations so far: invoked, completed, failed or unknown. An
  -- operation met a fault when it was in flight or completed while the
  -- fault lasted: invoked by its end and not completed before its start
  -- (a paused service's clients wait: their operations count too). A fault
  -- that met none and no proxy traffic was idle, whatever the topology.
  local function client_ops()
    local o = fl.info().ops or {}
    local bad = (o.fail or 0) + (o.info or 0)
    return o.invoked or 0, (o.ok or 0) + bad, bad
  end

  ---------------------------------------------------------------------------
  -- Running faults

  local Nemesis = {}
  Nemesis.__index = Nemesis

  local function sleep_until(nem, t)
    while not nem.stopping do
      local d = t - fl.now()
      if d <= 0 then return true end
      fl.sleep(math.max(0, math.min(d, 0.1)))
    end
    return false
  end

  -- Applies entry, holds it for entry.duration_s (or until stop), undoes it.
  local function run_fault(nem, entry)
    entry.start_s = round3(fl.now())
    local ok, undo, links = pcall(kinds[entry.kind].apply, nem, entry)
    links = ok and links or {}
    local b0, c0 = traffic(links)
    local _, d0, e0 = client_ops()
    save()
    fl.log("nemesis: %s %s for %.1f s", entry.kind, table.concat(entry.targets, ","),
      entry.duration_s)
    if not ok then
      entry.error = tostring(undo)
      -- said where the reviewer looks, not only in the schedule
      fl.log("nemesis: %s %s not applied: %s", entry.kind, table.concat(entry.targets, ","),
        entry.error)
      -- a resource fault this run can never apply (no cgroups: not root)
      -- stops the nemesis, as a nemesis asked for it without svc:cpu does
      if (entry.kind == "cpu" or entry.kind == "memory") and entry.error:find("needs a cgroup") then
        error("fl.nemesis: fault '" .. entry.kind .. "' cannot be applied in this run: "
          .. entry.error, 0)
      end
    else
      sleep_until(nem, fl.now() + entry.duration_s)
      local b1, c1 = traffic(links)
      local i1, _, e1 = client_ops()
      local ok2, err = pcall(undo)
      if not ok2 then entry.error = tostring(err) end
      entry.coverage = { measured = #links > 0 and "proxy links and client operations"
          or "client operations", links = #links, bytes = b1 - b0,
        connections = c1 - c0, ops = i1 - d0, ops_failed = e1 - e0,
        crossed = (b1 - b0) > 0 or (c1 - c0) > 0 or (i1 - d0) > 0 }
    end
    entry.end_s = round3(fl.now())
    -- what it was held for (a fault cut at the window's end or by stop is
    -- shorter than drawn: duration_s stays what was drawn, for replay)
    entry.held_s = round3(entry.end_s - entry.start_s)
    nem.active = nem.active - 1
    save()
  end

  local function start_fault(nem, entry)
    entry.id = #all + 1
    entry.nemesis = nem.index
    all[#all + 1] = entry
    nem.active = nem.active + 1
    nem.tasks[#nem.tasks + 1] = fl.spawn(run_fault, nem, entry)
  end

  local function draw_loop(nem)
    local rng = nem.rng
    while not nem.stopping do
      local gap = nem.calm and range(rng, nem.calm) or -math.log(1 - rng:float()) * nem.interval
      if not sleep_until(nem, fl.now() + gap) then break end
      while nem.active >= nem.max_concurrent and not nem.stopping do fl.sleep(0.05) end
      if nem.stopping or (nem.until_s and fl.now() >= nem.until_s) then break end
      local kind = nem.faults[rng:int(1, #nem.faults)]
      local entry = kinds[kind].draw(nem, rng)
      if entry then
        entry.kind = kind
        -- Not cut to the window: what is recorded must not depend on timing
        -- (nem:wait() ends a fault still in place when the window closes).
        entry.duration_s = round3(range(rng, nem.duration))
        start_fault(nem, entry)
      end
    end
  end

  local function replay_loop(nem)
    for _, rec in ipairs(nem.replay) do
      if not sleep_until(nem, rec.start_s) then break end
      start_fault(nem, { kind = rec.kind, targets = rec.targets, params = rec.params or {},
        duration_s = rec.duration_s, replayed = true })
    end
  end

  -- The schedule to replay: a file holding a bare list or {schedule = [...]}
  -- (report.json, schedule.json, shrink's result). Returns entries, window.
  local function load_schedule(path, index)
    local f, err = io.open(path)
    if not f then kit.misuse("fl.nemesis: cannot read the schedule " .. tostring(err)) end
    local ok, j = pcall(fl.json.decode, f:read("a"))
    f:close()
    if not ok or type(j) ~= "table" then kit.misuse("fl.nemesis: " .. path .. " is not JSON") end
    local list = j.schedule or j
    local out = {}
    for _, e in ipairs(list) do
      if (e.nemesis or 1) == index then
        if not kinds[e.kind] or type(e.start_s) ~= "number" or type(e.duration_s) ~= "number"
          or type(e.targets) ~= "table" then
          kit.misuse("fl.nemesis: " .. path .. ": fault " .. tostring(e.id)
            .. " needs kind, start_s, duration_s and targets")
        end
        out[#out + 1] = e
      end
    end
    table.sort(out, function(a, b) return a.start_s < b.start_s end)
    return out, type(j.window_s) == "number" and j.window_s or nil, j.scenario
  end

  -- A replay that cannot be what was recorded says so up front: another
  -- scenario's schedule, or targets this run does not have (those faults
  -- would be recorded with an error, and the run judged without them).
  local function warn_mismatch(nem, path, scenario)
    local here = fl.info().scenario
    if type(scenario) == "string" and scenario ~= here then
      fl.log("nemesis: warning: replaying %s, recorded by scenario '%s', in '%s'", path,
        scenario, here)
    end
    local missing, seen = {}, {}
    for _, e in ipairs(nem.replay) do
      for _, t in ipairs(e.targets) do
        if not by_name(t) and not seen[t] then
          seen[t] = true
          missing[#missing + 1] = t
        end
      end
    end
    if #missing > 0 then
      fl.log("nemesis: warning: the schedule targets %s, which this run does not have",
        table.concat(missing, ", "))
    end
    if #nem.replay == 0 then
      fl.log("nemesis: warning: %s holds no fault for nemesis %d", path, nem.index)
    end
  end

  local function check_faults(list)
    for _, k in ipairs(list) do
      if not kinds[k] then
        kit.misuse("fl.nemesis: unknown fault '" .. tostring(k) .. "' (known: "
          .. table.concat(kind_names, ", ") .. ")")
      end
      if k == "clock" and next(clocked) == nil then
        kit.misuse("fl.nemesis: fault 'clock' needs services declared with clock = true "
          .. "(fl.service{..., clock = true}); none is")
      end
      local m = kinds[k].method
      if m and services[1] and type(services[1][m]) ~= "function" then
        kit.misuse("fl.nemesis: fault '" .. k .. "' needs svc:" .. m
          .. "{...}, which this faultline does not have")
      end
    end
  end

  local function check_range(v, what)
    if v == nil then return end
    local ok = type(v) == "number" and v >= 0
      or type(v) == "table" and type(v[1]) == "number" and type(v[2]) == "number"
        and v[1] >= 0 and v[2] >= v[1]
    if not ok then
      kit.misuse("fl.nemesis: '" .. what .. "' must be seconds or a range {min, max}, not "
        .. tostring(v))
    end
  end

  local function check_target(t)
    if t == nil or type(t) == "function" then return end
    local list = type(t) == "string" and { t } or t
    if type(list) ~= "table" then kit.misuse("fl.nemesis: bad 'target' " .. tostring(t)) end
    if type(list[1]) == "string" and not by_name(list[1]) then
      for _, s in ipairs(list) do
        if not specs[s] then
          kit.misuse("fl.nemesis: unknown target '" .. s .. "' (known: "
            .. table.concat(spec_names, ", ") .. ", a function, or a list of services)")
        end
      end
    end
  end

  local options = { "targets", "faults", "target", "shapes", "interval", "duration", "calm",
    "max_concurrent", "window", "schedule", "name" }

  --- fl.nemesis{...}: starts drawing faults (or replaying a schedule).
  function M.nemesis(opts)
    opts = fl.options(opts, "fl.nemesis", options)
    nemeses = nemeses + 1
    local targets = opts.targets or services
    -- Services made another way (net:service) are found by name too.
    for _, t in ipairs(targets) do
      if type(t) ~= "string" and not by_name(t.name) then services[#services + 1] = t end
    end
    local faults = opts.faults or default_faults
    if type(faults) == "string" then faults = { faults } end
    check_faults(faults)
    check_range(opts.duration, "duration")
    check_range(opts.calm, "calm")
    check_range(opts.window, "window")
    check_target(opts.target)
    local shapes_ = opts.shapes or shape_names
    if type(shapes_) == "string" then shapes_ = { shapes_ } end
    for _, s in ipairs(shapes_) do
      if not shapes[s] then
        kit.misuse("fl.nemesis: unknown partition shape '" .. tostring(s) .. "' (known: "
          .. table.concat(shape_names, ", ") .. ")")
      end
    end
    local target = opts.target
    if type(target) == "string" then target = { target } end
    local nem = setmetatable({
      index = nemeses, name = opts.name or ("nemesis " .. nemeses),
      targets = targets, names = sorted_names(targets), faults = faults,
      target = target or spec_names, shapes = shapes_,
      interval = opts.interval or 5, duration = opts.duration or { 1, 5 }, calm = opts.calm,
      max_concurrent = opts.max_concurrent or 1, window = opts.window,
      rng = core.nemesis_rng("nemesis/" .. nemeses), active = 0, tasks = {},
      schedule = all,
    }, Nemesis)
    if #nem.names == 0 and not opts.schedule then
      kit.misuse("fl.nemesis: no targets (make the services first, or give targets = {...})")
    end
    -- A shape needs enough nodes: asked for by name, too few is an error;
    -- among the defaults, it is left out.
    local fits = {}
    for _, s in ipairs(nem.shapes) do
      local need = shape_min_nodes[s] or 2
      if #nem.names >= need or #nem.names == 0 then
        fits[#fits + 1] = s
      elseif opts.shapes then
        kit.misuse(string.format("fl.nemesis: partition shape '%s' needs at least %d targets, "
          .. "this nemesis has %d (%s)", s, need, #nem.names, table.concat(nem.names, ", ")))
      end
    end
    nem.shapes = fits
    local path = opts.schedule
    if path and not path:match("^/") then
      local src = debug.getinfo(2, "S").source
      local dir = src:match("^@(.*)/[^/]*$")
      if dir then path = dir .. "/" .. path end
    end
    path = core.nemesis_replay() or path
    if path then
      local w, scenario
      nem.replay, w, scenario = load_schedule(path, nem.index)
      nem.replaying = path
      warn_mismatch(nem, path, scenario)
      if w and (not nem.window or w < nem.window) then nem.window = w end
    end
    nem.started = fl.now()
    if nem.index == 1 then window_s, started_s = nem.window, round3(nem.started) end
    nem.until_s = nem.window and nem.started + nem.window
    save()
    nem.main = fl.spawn(nem.replay and replay_loop or draw_loop, nem)
    return nem
  end

  --- nem:stop(): stops drawing, heals everything it did, returns once healed.
  function Nemesis:stop()
    self.stopping = true
    self.main:wait()
    for _, t in ipairs(self.tasks) do t:wait() end
    save()
    return self.schedule
  end

  --- nem:wait(): until the nemesis's window has passed (all of a replayed
  --- schedule applied), then nem:stop().
  function Nemesis:wait()
    if self.until_s then
      while fl.now() < self.until_s do
        fl.sleep(math.max(0, math.min(0.1, self.until_s - fl.now())))
      end
    elseif self.replay then
      self.main:wait()
    end
    return self:stop()
  end

  --- nem:faults(): the entries this nemesis injected so far.
  function Nemesis:faults()
    local out = {}
    for _, e in ipairs(all) do if e.nemesis == self.index then out[#out + 1] = e end end
    return out
  end

  return M
end
