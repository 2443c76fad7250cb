-- The smallest useful scenario: three kvnodes under load, the leader killed
-- and restarted; the cluster must serve writes again within 3 seconds.
local fl = require("faultline")
local kv = require("faultline.lib.kvnode")

fl.scenario("leader killed and restarted", { timeout = 60 }, function()
  local cluster = kv.cluster{ nodes = 3 }
  cluster:start()
  local load = fl.workload{ clients = 5, rate = 100, duration = 8,
                            ops = kv.register_ops{ keys = 3, cluster = cluster } }
  fl.sleep(2)
  cluster:leader():kill()
  fl.sleep(1.5)
  cluster:leader():start()
  load:wait()
  fl.check.recovery{ after = "kill", within = 3 }
  fl.check.linearizable{ model = "kv", history = load }
end)
