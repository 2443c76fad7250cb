-- Remote hosts (issue 16): fl.hosts{...} names the hosts a scenario file
-- runs with when the command line gives no `--hosts FILE` (--hosts wins),
-- and fl.hosts() lists the hosts of the run (harness/lua_hosts.c).
--
-- Services on hosts: fl.service{ host = "n1", ... } is a service the host's
-- agent runs (harness/agent.h), with the local service's methods
-- (start/stop/kill/restart/pause/resume/signal/alive) and fields (name, pid,
-- log, plus host and addr, the host's address). Readiness probes (tcp,
-- http, cmd) run from here against the host's address; its log lines come
-- back into logs/<name>.log; its exits are on the timeline (remote_exit).
return function(fl, core, kit)
  local M = {}

  --- fl.hosts{ {name =, address =, user =, port =, identity =, sudo =,
  --- known_hosts =}, ... }: the file's hosts (at its top level, once).
  --- fl.hosts(): the run's hosts, a list of such tables ({} when none).
  function M.hosts(list)
    if list == nil then return core.hosts_list() end
    -- Through kit.call: an error belongs at the scenario's line.
    return kit.call(nil, core.hosts_set, list)
  end

  ---------------------------------------------------------------------------
  -- Services on hosts

  local SIGNALS = { HUP = 1, INT = 2, QUIT = 3, KILL = 9, USR1 = 10, USR2 = 12, TERM = 15,
    PWR = 30 }
  local remote = {}       -- host -> name -> service
  local owner = {}        -- service name -> service (every service on a host)
  local subscribed = false

  local function on_event(host, ev)
    local s = remote[host] and remote[host][ev.name]
    if s == nil then return end
    if ev.ev == "exit" then
      s.running, s.pid, s.last_exit = false, nil, ev
    end
  end

  local RSvc = {}
  RSvc.__index = RSvc

  local function signal_number(v, what)
    if v == nil then return 15 end
    if math.type(v) == "integer" and v >= 1 and v <= 64 then return v end
    local n = type(v) == "string" and SIGNALS[(v:upper():gsub("^SIG", ""))]
    if not n then
      kit.misuse(what .. ": stop_signal wants a signal name (\"SIGTERM\", \"SIGINT\", ...) or number")
    end
    return n
  end

  local function call(self, req, timeout)
    req.name = self.name
    local ans, err = core.agent_call(self.host, req, timeout or 30)
    if ans == nil then return nil, err end
    if ans.ev == "error" then return nil, ans.msg end
    return ans
  end

  -- The last lines of the service's log, for an error message.
  local function log_tail(self, n)
    local lines = {}
    local f = io.open(self.log, "r")
    if f == nil then return "" end
    for line in f:lines() do
      lines[#lines + 1] = line
      if #lines > n then table.remove(lines, 1) end
    end
    f:close()
    if #lines == 0 then return "" end
    return "\n  last log lines:\n    " .. table.concat(lines, "\n    ")
  end

  -- One attempt of the readiness probe: true when ready.
  local function probe_once(p, left)
    local t = math.max(0.1, math.min(1, left))
    if p.kind == "tcp" then
      local c = fl.tcp.connect(p.target, { timeout = t })
      if c then c:close() return true end
    elseif p.kind == "http" then
      local r = fl.http.get(p.target, { timeout = t })
      return r ~= nil and r.status >= 200 and r.status < 300
    elseif p.kind == "cmd" then
      local r = fl.exec(p.cmd)
      return r ~= nil and r.code == 0
    end
    return false
  end

  local function wait_ready(self)
    local p = self.ready
    if p == nil then return true end
    local timeout, every = p.timeout or 30, p.every or 0.1
    local deadline = fl.now() + timeout
    while true do
      if not self.running then
        return nil, string.format("%s on host %s exited before it was ready (status %s, signal %s)%s",
          self.name, self.host, tostring(self.last_exit and self.last_exit.status),
          tostring(self.last_exit and self.last_exit.signal), log_tail(self, 10))
      end
      if probe_once(p, deadline - fl.now()) then return true end
      if fl.now() >= deadline then
        return nil, string.format("%s on host %s: not ready after %g s (%s probe %s)%s", self.name,
          self.host, timeout, p.kind, tostring(p.target or table.concat(p.cmd or {}, " ")),
          log_tail(self, 10))
      end
      fl.sleep(every)
    end
  end

  function RSvc:start()
    if self.running then return self end
    local ans, err = call(self, { op = "start", cmd = self.cmd, env = self.env, cwd = self.cwd })
    if ans == nil then error(string.format("%s on host %s: %s", self.name, self.host, err), 2) end
    self.running, self.pid = true, ans.pid
    if self.kill_fault then core.fault_end(self.kill_fault) self.kill_fault = nil end
    local ok, why = wait_ready(self)
    if not ok then error(why, 2) end
    return self
  end

  -- Sends sig and waits up to wait_s for the exit; true when it exited.
  local function signal_and_wait(self, sig, wait_s)
    if not self.running then return true end
    local ans = call(self, { op = "signal", sig = sig })
    if ans == nil and not self.running then return true end
    if not self.running then return true end
    local ev = core.agent_wait_exit(self.host, self.name, wait_s)
    return ev ~= nil or not self.running
  end

  function RSvc:stop()
    if self.paused then self:resume() end
    if not signal_and_wait(self, self.stop_signal, self.stop_timeout) then
      signal_and_wait(self, 9, 10)
    end
    return self
  end

  function RSvc:kill()
    if not self.running then return self end
    self.kill_fault = core.fault_begin("kill", { self.name }, { host = self.host })
    if self.paused then call(self, { op = "resume" }) self.paused = false end
    signal_and_wait(self, 9, 10)
    return self
  end

  function RSvc:restart()
    self:stop()
    local ok, err = pcall(RSvc.start, self)
    if not ok then error(err, 2) end
    return self
  end

  function RSvc:pause()
    if not self.running then kit.misuse("svc:pause: " .. self.name .. " is not running") end
    local ans, err = call(self, { op = "pause" })
    if ans == nil then error(string.format("%s on host %s: pause: %s", self.name, self.host, err), 2) end
    self.paused = true
    self.pause_fault = core.fault_begin("pause", { self.name }, { host = self.host })
    return self
  end

  function RSvc:resume()
    if not self.running then kit.misuse("svc:resume: " .. self.name .. " is not running") end
    local ans, err = call(self, { op = "resume" })
    if ans == nil then error(string.format("%s on host %s: resume: %s", self.name, self.host, err), 2) end
    self.paused = false
    if self.pause_fault then core.fault_end(self.pause_fault) self.pause_fault = nil end
    return self
  end

  function RSvc:signal(sig)
    if math.type(sig) ~= "integer" then kit.misuse("svc:signal: want an integer signal number") end
    if not self.running then return false end
    return call(self, { op = "signal", sig = sig }) ~= nil
  end

  function RSvc:alive() return self.running == true end


  ---------------------------------------------------------------------------
  -- svc:limit{rate=} and svc:netem{...} on a service on a host: a qdisc on
  -- the host's interface that holds its address (its outgoing traffic),
  -- removed by the agent when it ends. netem is probed per host once (a
  -- dummy link of the agent's own): a kernel without it is said clearly.

  local host_info = {}   -- host -> {dev =, tbf =, netem =, netem_error =}

  local function exec(host, argv, what)
    local ans, err = core.agent_call(host, { op = "exec", argv = argv, timeout = 15 }, 30)
    if ans == nil then kit.misuse(string.format("%s: host %s: %s", what, host, tostring(err))) end
    return ans
  end

  local PROBE = "d=flrp$$; ip link add $d type veth peer name ${d}b 2>&1 || exit 0; "
    .. "if e=$(tc qdisc add dev $d root netem delay 1ms 2>&1); then echo netem; "
    .. "else echo \"netem-error $e\"; fi; tc qdisc del dev $d root 2>/dev/null; "
    .. "tc qdisc add dev $d root tbf rate 1mbit burst 32kbit latency 400ms 2>/dev/null "
    .. "&& echo tbf; ip link del $d"

  local function info_of(self, what)
    local hi = host_info[self.host]
    if hi then return hi end
    local ans = exec(self.host, { "ip", "-o", "-4", "addr", "show", "to", self.addr }, what)
    local dev = ans.out:match("^%d+:%s+([^%s@]+)")
    if not dev then
      kit.misuse(string.format("%s: host %s has no interface with address %s", what, self.host,
        self.addr))
    end
    local probe = exec(self.host, { "sh", "-c", PROBE }, what).out
    hi = { dev = dev, tbf = probe:find("tbf") ~= nil, netem = probe:find("^netem\n") ~= nil
      or probe:find("\nnetem\n") ~= nil, netem_error = probe:match("netem%-error ([^\n]*)") }
    if not probe:find("netem") then hi.netem_error = "the probe could not make a veth pair" end
    host_info[self.host] = hi
    fl.log("host %s: %s; tbf %s, netem %s", self.host, dev, hi.tbf and "yes" or "no",
      hi.netem and "yes" or ("no (" .. tostring(hi.netem_error) .. ")"))
    return hi
  end

  local function set_qdisc(self, what, args, fault_kind, attrs)
    local hi = info_of(self, what)
    local del = { "tc", "qdisc", "del", "dev", hi.dev, "root" }
    core.agent_call(self.host, { op = "undo", argv = del }, 15)
    if self.shape_fault then core.fault_end(self.shape_fault) self.shape_fault = nil end
    local argv = args and { "tc", "qdisc", "replace", "dev", hi.dev, "root", table.unpack(args) } or del
    local ans = exec(self.host, argv, what)
    if args and ans.status ~= 0 then
      kit.misuse(string.format("%s: host %s: %s", what, self.host, ans.err))
    end
    if args then
      attrs.layer, attrs.host, attrs.dev = "hosts", self.host, hi.dev
      self.shape_fault = core.fault_begin(fault_kind, { self.name }, attrs)
    end
    return self
  end

  local function out_only(opts, what)
    if opts.direction ~= nil and opts.direction ~= "out" then
      kit.misuse(what .. ": on a host only direction = \"out\" (a qdisc on its interface)")
    end
  end

  function RSvc:limit(opts)
    opts = fl.options(opts, "svc:limit", { "rate", "direction" })
    out_only(opts, "svc:limit")
    if opts.rate == nil then return set_qdisc(self, "svc:limit", nil) end
    local rate = type(opts.rate) == "number" and (tostring(math.floor(opts.rate)) .. "kbps")
      or tostring(opts.rate)
    if not info_of(self, "svc:limit").tbf then
      kit.misuse("svc:limit: host " .. self.host .. "'s kernel has no tbf qdisc")
    end
    return set_qdisc(self, "svc:limit", { "tbf", "rate", rate, "burst", "32kbit", "latency",
      "400ms" }, "bandwidth", { qdisc = "tbf", rate = opts.rate, direction = "out" })
  end

  function RSvc:netem(opts)
    opts = fl.options(opts, "svc:netem", { "delay", "jitter", "loss", "duplicate", "direction" })
    out_only(opts, "svc:netem")
    local hi = info_of(self, "svc:netem")
    if not hi.netem then
      kit.misuse(string.format("svc:netem: host %s's kernel has no netem qdisc (%s): latency, "
        .. "jitter, loss and duplication need it there; use a proxy's toxics instead", self.host,
        tostring(hi.netem_error)))
    end
    if next(opts) == nil or (opts.delay == nil and opts.loss == nil and opts.duplicate == nil) then
      return set_qdisc(self, "svc:netem", nil)
    end
    local args = { "netem" }
    if opts.delay then
      args[#args + 1] = "delay"
      args[#args + 1] = tostring(opts.delay) .. "ms"
      if opts.jitter then args[#args + 1] = tostring(opts.jitter) .. "ms" end
    end
    if opts.loss then args[#args + 1] = "loss" args[#args + 1] = tostring(opts.loss) .. "%" end
    if opts.duplicate then
      args[#args + 1] = "duplicate"
      args[#args + 1] = tostring(opts.duplicate) .. "%"
    end
    return set_qdisc(self, "svc:netem", args, "netem", { delay = opts.delay, jitter = opts.jitter,
      loss = opts.loss, duplicate = opts.duplicate, direction = "out" })
  end

  local remote_opts = { "name", "cmd", "env", "cwd", "ready", "stop_timeout", "stop_signal", "host" }

  local function remote_service(spec)
    spec = fl.options(spec, "fl.service", remote_opts, 3)
    local host
    for _, h in ipairs(core.hosts_list()) do if h.name == spec.host then host = h end end
    if host == nil then
      kit.misuse(string.format("fl.service: no host named \"%s\" (the run's hosts: %s)",
        tostring(spec.host), #core.hosts_list() == 0 and "none: give --hosts FILE or fl.hosts{...}"
        or "see fl.hosts()"))
    end
    if type(spec.name) ~= "string" or spec.name == "" or spec.name:find("/") then
      kit.misuse("fl.service: 'name' (a string without '/') is required")
    end
    if type(spec.cmd) ~= "table" or #spec.cmd == 0 then
      kit.misuse("fl.service: 'cmd' (a list of strings) is required")
    end
    remote[host.name] = remote[host.name] or {}
    if owner[spec.name] then
      kit.misuse(string.format("fl.service: a service named \"%s\" is already on host %s",
        spec.name, owner[spec.name].host))
    end
    local env = {}
    for k, v in pairs(spec.env or {}) do env[#env + 1] = tostring(k) .. "=" .. tostring(v) end
    table.sort(env)
    local cmd = {}
    for i, v in ipairs(spec.cmd) do cmd[i] = tostring(v) end
    local info = fl.info()
    local s = setmetatable({ name = spec.name, host = host.name, addr = host.address, cmd = cmd,
      env = env, cwd = spec.cwd, ready = spec.ready, stop_timeout = spec.stop_timeout or 5,
      stop_signal = signal_number(spec.stop_signal, "fl.service"), running = false,
      log = info.dir .. "/logs/" .. spec.name .. ".log" }, RSvc)
    if not subscribed then
      core.agent_subscribe(on_event)
      subscribed = true
    end
    remote[host.name][spec.name] = s
    s.ssh_port = host.port
    owner[spec.name] = s
    return s
  end


  ---------------------------------------------------------------------------
  -- The hosts layer: partitions between services on hosts are nftables drop
  -- rules on the hosts themselves, in the run's table (inet flr<run id>),
  -- chain input: a cut a -> b drops, on b's host, what comes from a's host's
  -- address. One-way cuts stay one-way, as in the other layers.

  local layer = { name = "hosts" }
  local cut = nil        -- {fault = id, hosts = {host = true}}

  function layer.owns(n) return owner[n] ~= nil end

  local function table_name() return "flr" .. fl.info().run_id end

  local function ipv4(s)
    return s:match("^%d+%.%d+%.%d+%.%d+$") ~= nil
  end

  -- Applies rules (host -> list of source addresses to drop) to every host
  -- in `hosts`: each gets its chain flushed and its rules, in one nft -f.
  local function apply_rules(hosts, rules, what)
    local t = table_name()
    for h in pairs(hosts) do
      local lines = {
        "add table inet " .. t,
        "add chain inet " .. t .. " input { type filter hook input priority -10 ; policy accept ; }",
        "flush chain inet " .. t .. " input",
      }
      for _, src in ipairs(rules[h] or {}) do
        lines[#lines + 1] = "add rule inet " .. t .. " input ip saddr " .. src .. " drop"
      end
      local ans, err = core.agent_call(h, { op = "nft", script = table.concat(lines, "\n") .. "\n" }, 15)
      if ans == nil or not ans.ok then
        kit.misuse(string.format("%s: host %s: nft: %s", what, h, tostring(ans and ans.msg or err)))
      end
    end
  end

  local function cuts_of(plan)
    local cuts, targets, attrs = {}, {}, {}
    if plan.from then
      for _, f in ipairs(plan.from) do
        for _, t in ipairs(plan.to) do if f ~= t then cuts[#cuts + 1] = { f, t } end end
      end
      for _, n in ipairs(plan.from) do targets[#targets + 1] = n end
      for _, n in ipairs(plan.to) do targets[#targets + 1] = n end
      attrs = { from = plan.from, to = plan.to, direction = "one-way" }
    else
      for i, gi in ipairs(plan.groups) do
        for j, gj in ipairs(plan.groups) do
          if i ~= j then
            for _, a in ipairs(gi) do for _, b in ipairs(gj) do cuts[#cuts + 1] = { a, b } end end
          end
        end
        for _, n in ipairs(gi) do targets[#targets + 1] = n end
      end
      attrs = { groups = plan.groups }
    end
    return cuts, targets, attrs
  end

  function layer.heal()
    if not cut then return end
    local hosts = cut.hosts
    core.fault_end(cut.fault)
    cut = nil
    apply_rules(hosts, {}, "fl.heal")
  end

  function layer.partition(spec, plan)
    local cuts, targets, attrs = cuts_of(plan)
    if #cuts == 0 then kit.misuse("fl.partition: the groups leave nothing to cut") end
    if cut then layer.heal() end
    local rules, hosts, n = {}, {}, 0
    for _, c in ipairs(cuts) do
      local a, b = owner[c[1]], owner[c[2]]
      if a.host == b.host then
        kit.misuse(string.format("fl.partition: %s and %s run on the same host (%s): a host-side "
          .. "partition cuts between hosts", a.name, b.name, a.host))
      end
      if not ipv4(a.addr) then
        kit.misuse(string.format("fl.partition: host %s's address %s is not an IPv4 address "
          .. "(host-side rules match addresses)", a.host, a.addr))
      end
      rules[b.host] = rules[b.host] or {}
      local dup = false
      for _, x in ipairs(rules[b.host]) do dup = dup or x == a.addr end
      if not dup then
        table.insert(rules[b.host], a.addr)
        n = n + 1
      end
      hosts[b.host] = true
    end
    attrs.layer = "hosts"
    attrs.table = "inet " .. table_name()
    attrs.rules = n
    local id = core.fault_begin("partition", targets, attrs)
    local ok, err = pcall(apply_rules, hosts, rules, "fl.partition")
    cut = { fault = id, hosts = hosts }
    if not ok then
      layer.heal()
      error(err, 0)
    end
    return cut
  end

  -- fl.expect.isolated(a, b): a's host cannot open a TCP connection to b's
  -- host on b's ssh port (sshd answers there on every host; a dropped SYN
  -- is no answer), asked of a's agent: the probe goes over the real path.
  function layer.isolated(an, bn, opts)
    local a, b = owner[an], owner[bn]
    local name = opts.name or string.format("%s isolated from %s", an, bn)
    local port = b.ssh_port or 22
    local ans, err = core.agent_call(a.host, { op = "reach", addr = b.addr, port = port,
      timeout = opts.wait or 0.5 }, (opts.wait or 0.5) + 10)
    if ans == nil then
      kit.fail({ name = name, kind = "isolated", status = "error", layer = "hosts",
        message = name .. ": the probe from host " .. a.host .. " failed: " .. tostring(err) })
    end
    local detail = string.format("TCP from host %s to %s:%d: %s", a.host, b.addr, port, ans.msg)
    if ans.ok then
      kit.fail({ name = name, kind = "isolated", status = "fail", layer = "hosts",
        message = name .. ": " .. detail })
    end
    core.record_check({ name = name, kind = "isolated", status = "pass", layer = "hosts",
      message = detail })
    return true
  end

  M.layer = layer

  -- fl.service{ host = ..., ... } goes to the host's agent; every other
  -- service stays local, as before.
  local local_service = fl.service
  function fl.service(spec)
    if type(spec) == "table" and spec.host ~= nil then return remote_service(spec) end
    return local_service(spec)
  end

  return M
end
