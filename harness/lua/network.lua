-- The namespace layer: fl.network{mode = "netns"}, services placed in their
-- own network namespaces, and partitions, bandwidth limits and isolation
-- probes on the real packets (harness/lua_network.c, faults/netns.h).
--
-- fl.service, fl.partition, fl.heal and fl.expect.isolated are wrapped:
-- without a network (or for names the network does not know) they are the
-- proxy layer's, unchanged.
return function(fl, core, proxy)
  local M = {}
  local raw_service = core.service
  local net = nil      -- the scenario's network (a Lua state is one scenario)
  local members = {}   -- service name -> true, for the services in namespaces
  local cut = nil      -- the current cut: {fault = id}
  local shapes = {}    -- service name -> {in = {...}, out = {...}, faults = {...}}

  local function name_of(x)
    if type(x) == "string" then return x end
    local ok, n = pcall(function() return x.name end)
    if ok and type(n) == "string" then return n end
    error("a member must be a service or a name, not " .. tostring(x), 4)
  end

  -- A group: a list of members, or one member (a service, a name).
  local function list_of(x)
    if type(x) ~= "table" or (getmetatable(x) and x.name) then return { x } end
    return x
  end

  local function in_net(n) return n == "host" or members[n] == true end

  -- An error raised in C carries the position of its Lua caller, which is
  -- this file when it wraps the call; the scenario's position is what helps.
  local function strip(msg)
    return (tostring(msg):gsub("^%[faultline%][^:]*:%d+: ", ""))
  end

  -- Calls a method of the C network object; an error it raises (bad input,
  -- a fault this kernel cannot give) is raised again as `what: message` at
  -- the scenario's line, `level` above the caller.
  local function call(what, level, method, ...)
    local okc, a, b, c = pcall(method, net.handle, ...)
    if not okc then error(what .. ": " .. strip(a), level + 1) end
    return a, b, c
  end

  -- core.service, its errors at the scenario's line (two levels up).
  local function new_service(spec)
    local ok, s = pcall(raw_service, spec)
    if not ok then error(strip(s), 3) end
    return s
  end

  ---------------------------------------------------------------------------
  -- fl.network{mode = "netns" | "proxy", subnet = "10.77.0.0/24"}

  local Net = {}
  Net.__index = function(self, k)
    local v = rawget(Net, k)
    if v ~= nil then return v end
    local h = rawget(self, "handle")
    return h and h[k] or nil
  end

  --- net:addr(name): the address name has, or will have, on the network.
  --- "host" is faultline's own address on the bridge.
  function Net:addr(name)
    if self.mode ~= "netns" then return "127.0.0.1" end
    return (call("net:addr", 2, self.handle.addr, name_of(name)))
  end

  --- net:reaches(a, b, {wait = 0.5}): do datagrams sent from a's namespace to
  --- b's address arrive? Returns the count that arrived and the count sent;
  --- records nothing (fl.expect.isolated is the recorded check).
  function Net:reaches(a, b, opts)
    if self.mode ~= "netns" then error("net:reaches: only in netns mode", 2) end
    opts = fl._check_opts(opts, "net:reaches", { wait = true })
    local got, sent = call("net:reaches", 2, self.handle.probe, name_of(a), name_of(b),
      opts.wait or 0.5)
    return got > 0, got, sent
  end

  --- net:service(spec): fl.service, explicitly on this network.
  function Net:service(spec) return M.service(spec) end

  function M.network(opts)
    opts = fl._check_opts(opts, "fl.network", { mode = true, subnet = true })
    local mode = opts.mode or "netns"
    if mode == "proxy" then
      -- Nothing to make: services stay on loopback, faults go through proxies.
      return setmetatable({ mode = "proxy" }, Net)
    end
    if mode ~= "netns" then
      error("fl.network: mode must be \"netns\" or \"proxy\", not " .. tostring(mode), 2)
    end
    if net then error("fl.network: this scenario already has a network", 2) end
    local okc, h, err = pcall(core.net_open, { subnet = opts.subnet })
    if not okc then error(strip(h), 2) end
    if not h then error(err, 2) end
    net = setmetatable({ mode = "netns", handle = h }, Net)
    return net
  end

  ---------------------------------------------------------------------------
  -- Services: after fl.network, each gets its namespace and address.

  function M.service(spec)
    if type(spec) ~= "table" then
      local svc = new_service(spec) -- not a tail call: new_service raises two levels up
      return svc
    end
    local place = spec.network
    if place ~= nil and place ~= false and place ~= true then
      error("fl.service: 'network' must be true or false", 2)
    end
    local s = {}
    for k, v in pairs(spec) do if k ~= "network" then s[k] = v end end
    if net and place ~= false and s.netns == nil and type(s.name) == "string" then
      local ok, err = call("fl.service " .. s.name, 2, net.handle.attach, s.name)
      if not ok then error("fl.service " .. s.name .. ": " .. tostring(err), 2) end
      local ep = net.handle:endpoint(s.name)
      s.netns, s.addr = ep.netns, ep.addr
      members[s.name] = true
    end
    local svc = new_service(s)
    return svc
  end

  ---------------------------------------------------------------------------
  -- Partitions: nftables drop rules between the members' addresses.

  -- The directed cuts of a spec, and the fault's targets and attrs, in the
  -- shape proxy.lua records (so reports label both layers the same way).
  local function plan(spec)
    local cuts, targets, attrs = {}, {}, {}
    if spec.from or spec.to then
      for k in pairs(spec) do
        if k ~= "from" and k ~= "to" then
          error("fl.partition: unknown option '" .. tostring(k) .. "' (known: from, to)", 3)
        end
      end
      local from, to = {}, {}
      for _, x in ipairs(list_of(spec.from or {})) do from[#from + 1] = name_of(x) end
      for _, x in ipairs(list_of(spec.to or {})) do to[#to + 1] = name_of(x) end
      table.sort(from)
      table.sort(to)
      for _, f in ipairs(from) do
        for _, t in ipairs(to) do
          if f ~= t then cuts[#cuts + 1] = { f, t } end
        end
      end
      for _, n in ipairs(from) do targets[#targets + 1] = n end
      for _, n in ipairs(to) do targets[#targets + 1] = n end
      attrs = { from = from, to = to, direction = "one-way" }
    else
      local groups, seen = {}, {}
      for k in pairs(spec) do
        if type(k) ~= "number" then
          error("fl.partition: unknown option '" .. tostring(k) .. "'", 3)
        end
      end
      for i, g in ipairs(spec) do
        local names = {}
        for _, x in ipairs(list_of(g)) do
          local n = name_of(x)
          if seen[n] then error("fl.partition: " .. n .. " is in two groups", 3) end
          seen[n] = i
          names[#names + 1] = n
        end
        table.sort(names)
        groups[i] = names
      end
      for i, gi in ipairs(groups) do
        for j, gj in ipairs(groups) do
          if i ~= j then
            for _, a in ipairs(gi) do
              for _, b in ipairs(gj) do cuts[#cuts + 1] = { a, b } end
            end
          end
        end
      end
      for _, g in ipairs(groups) do
        for _, n in ipairs(g) do targets[#targets + 1] = n end
      end
      attrs = { groups = groups }
    end
    return cuts, targets, attrs
  end

  -- Which layer a spec is for: "netns" when every member is on the network,
  -- "proxy" when none is; a mix is an error.
  local function layer_of(spec)
    if not net then return "proxy" end
    local yes, no = {}, {}
    local function visit(x)
      for _, m in ipairs(list_of(x)) do
        local n = name_of(m)
        if in_net(n) then yes[#yes + 1] = n else no[#no + 1] = n end
      end
    end
    if spec.from or spec.to then
      visit(spec.from or {})
      visit(spec.to or {})
    else
      for _, g in ipairs(spec) do visit(g) end
    end
    if #no == 0 and #yes > 0 then return "netns" end
    if #yes == 0 then return "proxy" end
    error(string.format("fl.partition: %s %s in network namespaces and %s %s not; partition "
      .. "one layer at a time", table.concat(yes, ", "), #yes == 1 and "is" or "are",
      table.concat(no, ", "), #no == 1 and "is" or "are"), 3)
  end

  local function heal_netns()
    if not cut then return end
    local ok, err = call("fl.heal", 3, net.handle.cut, {})
    core.fault_end(cut.fault)
    cut = nil
    if not ok then error("fl.heal: " .. tostring(err), 3) end
  end

  function M.partition(spec)
    if type(spec) ~= "table" then error("fl.partition: a table of groups expected", 2) end
    if layer_of(spec) == "proxy" then return proxy.partition(spec) end
    local cuts, targets, attrs = plan(spec)
    if #cuts == 0 then error("fl.partition: the groups leave nothing to cut", 2) end
    if cut then heal_netns() end
    attrs.layer = "netns"
    attrs.table = "bridge " .. net.handle.table
    attrs.rules = #cuts
    local id = core.fault_begin("partition", targets, attrs)
    local ok, err = call("fl.partition", 2, net.handle.cut, cuts)
    if not ok then
      core.fault_end(id)
      error("fl.partition: " .. tostring(err), 2)
    end
    cut = { fault = id, cuts = cuts }
    return cut
  end

  function M.heal()
    heal_netns()
    return proxy.heal()
  end

  ---------------------------------------------------------------------------
  -- fl.expect.isolated(a, b): datagrams sent from a's namespace to b's
  -- address do not arrive (a listener in b's namespace counts them).

  function M.isolated(a, b, opts)
    local an, bn = name_of(a), name_of(b)
    if not (net and in_net(an) and in_net(bn)) then return proxy.isolated(a, b, opts) end
    opts = fl._check_opts(opts, "fl.expect.isolated", { name = true, wait = true })
    local name = opts.name or string.format("%s isolated from %s", an, bn)
    local got, sent, detail = call("fl.expect.isolated", 2, net.handle.probe, an, bn,
      opts.wait or 0.5)
    if sent == 0 then
      core.record_check({ name = name, kind = "isolated", status = "error", layer = "netns",
        message = name .. ": the probe could not send (" .. detail .. ")" })
      error({ fl_failure = true, message = name .. ": the probe could not send" }, 0)
    end
    if got > 0 then
      local msg = string.format("%s: %d of %d datagram(s) got through (%s)", name, got, sent,
        detail)
      core.record_check({ name = name, kind = "isolated", status = "fail", layer = "netns",
        message = msg, sent = sent, received = got })
      error({ fl_failure = true, message = msg }, 0)
    end
    core.record_check({ name = name, kind = "isolated", status = "pass", layer = "netns",
      message = string.format("none of %d datagram(s) got through (%s)", sent, detail),
      sent = sent, received = 0 })
    return true
  end

  ---------------------------------------------------------------------------
  -- Per-service faults: svc:limit{rate=}, svc:netem{delay=, ...}, svc:clock{...}

  local methods = core.service_methods
  local directions = { both = true, ["in"] = true, out = true }

  local function shape_of(name)
    local s = shapes[name]
    if not s then
      s = { ["in"] = {}, out = {}, faults = {} }
      shapes[name] = s
    end
    return s
  end

  -- Applies the shape of one direction (rate and netem parts together).
  local function apply(self, dir, what)
    local sh = shape_of(self.name)
    local dirs = dir == "both" and { "in", "out" } or { dir }
    for _, d in ipairs(dirs) do
      local spec = {}
      for k, v in pairs(sh[d]) do spec[k] = v end
      local ok, err = call(what, 3, net.handle.shape, self.name, d, spec)
      if not ok then error(what .. ": " .. tostring(err), 3) end
    end
  end

  local function need_netns(self, what, instead)
    if not (net and members[self.name]) then
      error(string.format("%s: %s is not in a network namespace (declare it after "
        .. "fl.network{mode = \"netns\"}); %s", what, self.name, instead), 3)
    end
  end

  local function set_fault(self, kind, attrs)
    local sh = shape_of(self.name)
    if sh.faults[kind] then core.fault_end(sh.faults[kind]) end
    sh.faults[kind] = attrs and core.fault_begin(kind, { self.name }, attrs) or nil
  end

  --- svc:limit{rate = KB/s | "10mbit", direction = "both" | "in" | "out"}:
  --- a bandwidth limit (tbf) on the service's link; svc:limit() removes it.
  function methods.limit(self, opts)
    need_netns(self, "svc:limit", "use a proxy's bandwidth toxic")
    opts = fl._check_opts(opts, "svc:limit", { rate = true, direction = true })
    local dir = opts.direction or "both"
    if not directions[dir] then error("svc:limit: direction must be both, in or out", 2) end
    local sh = shape_of(self.name)
    for _, d in ipairs(dir == "both" and { "in", "out" } or { dir }) do sh[d].rate = opts.rate end
    apply(self, dir, "svc:limit")
    set_fault(self, "bandwidth", opts.rate and { layer = "netns", qdisc = "tbf",
      rate = opts.rate, direction = dir } or nil)
    return self
  end

  --- svc:netem{delay = ms, jitter = ms, loss = %, duplicate = %, direction =}:
  --- only where the kernel has netem; svc:netem() removes it.
  function methods.netem(self, opts)
    need_netns(self, "svc:netem", "use a proxy's latency toxic")
    opts = fl._check_opts(opts, "svc:netem",
      { delay = true, jitter = true, loss = true, duplicate = true, direction = true })
    local dir = opts.direction or "both"
    if not directions[dir] then error("svc:netem: direction must be both, in or out", 2) end
    local sh = shape_of(self.name)
    for _, d in ipairs(dir == "both" and { "in", "out" } or { dir }) do
      sh[d].delay, sh[d].jitter = opts.delay, opts.jitter
      sh[d].loss, sh[d].duplicate = opts.loss, opts.duplicate
    end
    apply(self, dir, "svc:netem")
    local any = opts.delay or opts.jitter or opts.loss or opts.duplicate
    set_fault(self, "netem", any and { layer = "netns", delay = opts.delay,
      jitter = opts.jitter, loss = opts.loss, duplicate = opts.duplicate, direction = dir } or nil)
    return self
  end

  --- svc:clock{offset =, rate =, jump =, strobe = {a, b}, every =, check =}:
  --- needs fl.service{..., clock = true}. Raises when the change did not take.
  local raw_clock = methods.clock
  function methods.clock(self, opts)
    local okc, ok, msg = pcall(raw_clock, self, opts)
    if not okc then error(strip(ok), 2) end
    if not ok then error(msg, 2) end
    return self, msg
  end

  return M
end
