-- etcd under a short random nemesis: kills, pauses and peer latency on one
-- member at a time, drawn from the seed and recorded in report.json's
-- schedule. The history stays linearizable. The minute-long version is
-- scenarios/etcd/soak/nemesis.lua.
local fl = require("faultline")
local etcd = require("faultline.lib.etcd")

fl.scenario("etcd under a short random nemesis", { timeout = 90 }, function()
  local c = etcd.cluster{ nodes = 3 }
  c:start()
  local nem = fl.nemesis{ targets = c.nodes, faults = { "kill", "pause", "latency" },
                          target = "one", duration = { 1, 2 }, calm = { 1, 2 }, window = 8 }
  local load = fl.workload{ clients = 6, rate = 60, duration = nem.window + 1,
                            ops = etcd.register_ops{ cluster = c, keys = 4 } }
  nem:wait()
  load:wait()
  fl.expect.eventually(function() return c:converged(0) end,
    { within = 10, name = "every member on the same leader and raft index" })
  fl.check.linearizable{ model = "kv", history = load }
end)
