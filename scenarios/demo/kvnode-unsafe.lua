-- The demo's failing twin: the same faults against kvnodes started with
-- --unsafe, whose followers answer reads from their own copy. Cut off from
-- the leader, a follower serves stale values; the linearizability check
-- finds them, and this run exits 1 with the stale read in its report.
local fl = require("faultline")
local kv = require("faultline.lib.kvnode")

fl.scenario("unsafe follower reads go stale when it is cut off", { timeout = 120 }, function()
  local cluster = kv.cluster{ nodes = 3, unsafe = true }
  cluster:start()

  local load = fl.workload{
    clients = 10, rate = 150, duration = 14,
    ops = kv.register_ops{ keys = 4, cluster = cluster },
  }

  fl.sleep(3)
  local f = cluster:follower(1)
  fl.partition{ { f }, cluster:others(f) }
  fl.expect.isolated(f, cluster:leader())
  fl.sleep(6)
  fl.heal()

  load:wait()
  fl.check.linearizable{ model = "kv", history = load }
  fl.check.recovery{ after = "partition", within = 3 }
end)
