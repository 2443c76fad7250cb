-- The replicas under a short random nemesis (kills, pauses and latency on
-- one replica at a time, drawn from the seed, in report.json's schedule):
-- writes to the primary go on, and every acknowledged add is on it.
local fl = require("faultline")
local redis = require("faultline.lib.redis")

fl.scenario("replicas under a random nemesis", { timeout = 60 }, function()
  local rs = redis.replicated{ replicas = 2 }
  rs:start()
  local r1 = rs.nodes[1]
  fl.expect.eventually(function() return rs:in_sync(rs.nodes[2]) and rs:in_sync(rs.nodes[3]) end,
    { within = 5, name = "replicas attached to r1" })
  local nem = fl.nemesis{ targets = { rs.nodes[2], rs.nodes[3] },
                          faults = { "kill", "pause", "latency" }, target = "one",
                          duration = { 0.5, 1.5 }, calm = { 0.5, 1 }, window = 6 }
  local adds = redis.set_adds{ key = "s", target = function() return rs:addr(r1) end }
  local load = fl.workload{ clients = 6, rate = 100, duration = nem.window, ops = adds }
  nem:wait()
  load:wait()
  adds.close()
  redis.read_set(rs, r1, "s")
  fl.check.set{ history = fl.history.path(), name = "every acknowledged add is on the primary" }
end)
