-- The namespace layer: fl.network{mode = "netns"}, services placed in their
-- own network namespaces, and partitions, bandwidth limits and isolation
-- probes on the real packets (harness/lua_network.c, faults/netns.h).
--
-- Its layer (M.layer) owns the services on the network: faultline.lua asks
-- it first in fl.service, fl.partition, fl.heal and fl.expect.isolated, and
-- the proxy layer has every name it does not own.
return function(fl, core, kit)
  local M = {}
  local net = nil      -- the scenario's network (a Lua state is one scenario)
  local members = {}   -- service name -> true, for the services in namespaces
  local cut = nil      -- the current cut: {fault = id}
  local shapes = {}    -- service name -> {in = {...}, out = {...}, faults = {...}}
  local name_of = kit.name_of

  local function in_net(n) return n == "host" or members[n] == true end

  -- Calls a method of the C network object; an error it raises (bad input,
  -- a fault this kernel cannot give) is raised again as `what: message` at
  -- the scenario's line.
  local function call(what, method, ...)
    return kit.call(what, method, net.handle, ...)
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
    return (call("net:addr", self.handle.addr, name_of(name, "net:addr")))
  end

  --- net:reaches(a, b, {wait = 0.5}): do datagrams sent from a's namespace to
  --- b's address arrive? Returns the count that arrived and the count sent;
  --- records nothing (fl.expect.isolated is the recorded check).
  function Net:reaches(a, b, opts)
    if self.mode ~= "netns" then kit.misuse("net:reaches: only in netns mode") end
    opts = fl.options(opts, "net:reaches", { "wait" })
    local got, sent = call("net:reaches", self.handle.probe, name_of(a, "net:reaches"),
      name_of(b, "net:reaches"), opts.wait or 0.5)
    return got > 0, got, sent
  end

  --- net:service(spec): fl.service, explicitly on this network.
  function Net:service(spec) return fl.service(spec) end

  function M.network(opts)
    opts = fl.options(opts, "fl.network", { "mode", "subnet" })
    local mode = opts.mode or "netns"
    if mode == "proxy" then
      -- Nothing to make: services stay on loopback, faults go through proxies.
      return setmetatable({ mode = "proxy" }, Net)
    end
    if mode ~= "netns" then
      kit.misuse("fl.network: mode must be \"netns\" or \"proxy\", not " .. tostring(mode))
    end
    if net then kit.misuse("fl.network: this scenario already has a network") end
    local h, err = kit.call(nil, core.net_open, { subnet = opts.subnet })
    if not h then kit.misuse(err) end
    net = setmetatable({ mode = "netns", handle = h }, Net)
    return net
  end

  local layer = { name = "namespace" }
  M.layer = layer

  function layer.owns(n) return net ~= nil and in_net(n) end

  ---------------------------------------------------------------------------
  -- Services: after fl.network, each gets its namespace and address.

  -- fl.service's spec, placed: without the `network` key, and with netns and
  -- addr when the service joins the network.
  function layer.place(spec)
    local place = spec.network
    if place ~= nil and place ~= false and place ~= true then
      kit.misuse("fl.service: 'network' must be true or false")
    end
    local s = {}
    for k, v in pairs(spec) do if k ~= "network" then s[k] = v end end
    if net and place ~= false and s.netns == nil and type(s.name) == "string" then
      local ok, err = call("fl.service " .. s.name, net.handle.attach, s.name)
      if not ok then kit.misuse("fl.service " .. s.name .. ": " .. tostring(err)) end
      local ep = net.handle:endpoint(s.name)
      s.netns, s.addr = ep.netns, ep.addr
      members[s.name] = true
    end
    return s
  end

  ---------------------------------------------------------------------------
  -- Partitions: nftables drop rules between the members' addresses.

  -- The directed cuts of a plan (faultline.lua checked the spec), and the
  -- fault's targets and attrs, in the shape the proxy layer records (so
  -- reports label both layers the same way).
  local function cuts_of(plan)
    local cuts, targets, attrs = {}, {}, {}
    if plan.from then
      local from, to = { table.unpack(plan.from) }, { table.unpack(plan.to) }
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
      local groups = {}
      for i, g in ipairs(plan.groups) do
        groups[i] = { table.unpack(g) }
        table.sort(groups[i])
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

  function layer.heal()
    if not cut then return end
    local ok, err = call("fl.heal", net.handle.cut, {})
    core.fault_end(cut.fault)
    cut = nil
    if not ok then kit.misuse("fl.heal: " .. tostring(err)) end
  end

  function layer.partition(spec, plan)
    local cuts, targets, attrs = cuts_of(plan)
    if #cuts == 0 then kit.misuse("fl.partition: the groups leave nothing to cut") end
    if cut then layer.heal() end
    attrs.layer = "netns"
    attrs.table = "bridge " .. net.handle.table
    attrs.rules = #cuts
    local id = core.fault_begin("partition", targets, attrs)
    local ok, err = call("fl.partition", net.handle.cut, cuts)
    if not ok then
      core.fault_end(id)
      kit.misuse("fl.partition: " .. tostring(err))
    end
    cut = { fault = id, cuts = cuts }
    return cut
  end

  ---------------------------------------------------------------------------
  -- fl.expect.isolated(a, b): datagrams sent from a's namespace to b's
  -- address do not arrive (a listener in b's namespace counts them).

  function layer.isolated(an, bn, opts)
    local name = opts.name or string.format("%s isolated from %s", an, bn)
    local got, sent, detail = call("fl.expect.isolated", net.handle.probe, an, bn,
      opts.wait or 0.5)
    if sent == 0 then
      kit.fail({ name = name, kind = "isolated", status = "error", layer = "netns",
        message = name .. ": the probe could not send (" .. detail .. ")" })
    end
    if got > 0 then
      kit.fail({ name = name, kind = "isolated", status = "fail", layer = "netns",
        message = string.format("%s: %d of %d datagram(s) got through (%s)", name, got, sent,
          detail), sent = sent, received = got })
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
      local ok, err = call(what, net.handle.shape, self.name, d, spec)
      if not ok then kit.misuse(what .. ": " .. tostring(err)) end
    end
  end

  local function need_netns(self, what, instead)
    if not (net and members[self.name]) then
      kit.misuse(string.format("%s: %s is not in a network namespace (declare it after "
        .. "fl.network{mode = \"netns\"}); %s", what, self.name, instead))
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
    opts = fl.options(opts, "svc:limit", { rate = true, direction = true })
    local dir = opts.direction or "both"
    if not directions[dir] then kit.misuse("svc:limit: direction must be both, in or out") end
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
    opts = fl.options(opts, "svc:netem",
      { delay = true, jitter = true, loss = true, duplicate = true, direction = true })
    local dir = opts.direction or "both"
    if not directions[dir] then kit.misuse("svc:netem: direction must be both, in or out") end
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
  function methods.clock(self, opts)
    local ok, msg = kit.call(nil, methods._clock, self, opts)
    if not ok then kit.misuse(msg) end
    return self, msg
  end

  return M
end
