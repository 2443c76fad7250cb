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
    if remote[host.name][spec.name] then
      kit.misuse(string.format("fl.service: host %s already has a service named \"%s\"", host.name,
        spec.name))
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
    return s
  end

  -- fl.service{ host = ..., ... } goes to the host's agent; every other
  -- service stays local, as before.
  local local_service = fl.service
  function fl.service(spec)
    if type(spec) == "table" and spec.host ~= nil then return remote_service(spec) end
    return local_service(spec)
  end

  return M
end
