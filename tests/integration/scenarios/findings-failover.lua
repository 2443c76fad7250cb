-- A failover that loses writes, as a new user would write it with the
-- documented calls only: two single-node kvnode stores, "a" the primary and
-- "b" its replica, copied asynchronously by the scenario itself (so the
-- copy can lag). The copier stalls, a's writes pile up, a is killed for good
-- and b promoted: fl.fault{kind = "failover"} ... f:done() says when the
-- system finished reacting. The writes a acknowledged but never copied are
-- lost: fl.check.set{expect_loss = true} finds them, an expected finding.
-- fl.metric records the replica's lag; fl.log marks the steps; two toxics
-- on one proxy are two faults with their own names.
local fl = require("faultline")

local function kvnode(name)
  local port = fl.port()
  local svc = fl.service{ name = name, cmd = { fl.exe_dir() .. "/kvnode", "--id", "0",
    "--listen", "127.0.0.1:" .. port, "--data", fl.info().dir .. "/data/" .. name },
    ready = fl.probe.http(string.format("http://127.0.0.1:%d/health", port)) }
  return svc, "http://127.0.0.1:" .. port
end

fl.scenario("failover loses the writes the replica never got", { timeout = 60 }, function()
  local a, a_url = kvnode("a")
  local b, b_url = kvnode("b")
  fl.start_all{ a, b }
  local primary = a_url
  local acked, copied, next_value = {}, {}, 0

  -- The replication: copies a's acknowledged writes to b every 0.2 s, until
  -- it stalls at 1 s; its lag is a metric of the run.
  local stalled = false
  local copier = fl.spawn(function()
    while not stalled do
      local lag = 0
      for v in pairs(acked) do
        if not copied[v] then
          local r = fl.http.put(b_url .. "/kv/e" .. v, { body = "1", timeout = 1 })
          if r and r.status == 200 then copied[v] = true else lag = lag + 1 end
        end
      end
      fl.metric("replica lag", lag, "writes")
      fl.sleep(0.2)
    end
  end)

  local w = fl.workload{ clients = 2, rate = 40, duration = 3, ops = {
    next = function(ctx)
      next_value = next_value + 1
      return { f = "add", key = "s", value = next_value }
    end,
    run = function(op, ctx)
      local url = primary
      local r, err = fl.http.put(url .. "/kv/e" .. op.value, { body = "1", timeout = 1 })
      if r and r.status == 200 then
        if url == a_url then acked[op.value] = true else copied[op.value] = true end
        return "ok"
      end
      return "fail", nil, err or ("HTTP " .. tostring(r and r.status))
    end,
  } }

  fl.sleep(1)
  stalled = true
  copier:wait()
  fl.log("replication stalls")
  local n = 0
  for _ in pairs(acked) do n = n + 1 end
  fl.sleep(0.6)
  local f = fl.fault{ kind = "failover", targets = { a, b } }
  a:kill()
  local t0 = fl.now()
  primary = b_url
  fl.log("b promoted in %.2f s", fl.now() - t0)
  f:done()
  for _, lag in ipairs({ 5, 0 }) do fl.metric("replica lag", lag, "writes") end

  -- Two toxics on one proxy (to b), added and removed while the workload runs.
  local p = fl.proxy{ name = "to-b", upstream = b_url:match("//(.*)$") }
  p:add_toxic{ type = "latency", name = "slow-up", stream = "upstream", latency = 1 }
  p:add_toxic{ type = "latency", name = "slow-down", stream = "downstream", latency = 1 }
  fl.sleep(0.2)
  p:remove_all_toxics()
  w:wait()

  -- The final read: every element b holds.
  local proc = fl.history.process()
  local t = fl.history.invoke(proc, "read", "s", nil)
  local seen = {}
  for v = 1, next_value do
    local r = fl.http.get(b_url .. "/kv/e" .. v, { timeout = 1 })
    if r and r.status == 200 then seen[#seen + 1] = v end
  end
  fl.history.complete(proc, "ok", "read", "s", seen, nil, t)

  fl.check.set{ expect_loss = true, name = "writes lost in the failover" }
  fl.check.recovery{ within = 2 }
  fl.check.recovery{ after = { log = "promoted" }, within = 2, name = "recovery (log)" }
  fl.check.availability{ after = f, phase = "after", min = 0.9 }
end)
