-- The demo: three kvnodes under load from ten clients. One follower is cut
-- off from the leader (the leader and the other follower still make a
-- majority), healed, then the leader is killed and restarted. faultline checks
-- that every read was linearizable, that the cluster served again quickly
-- after each fault, and that the cut-off follower caught up.
-- kvnode-unsafe.lua is its failing twin.
local fl = require("faultline")
local kv = require("faultline.lib.kvnode")

fl.scenario("a follower cut off from the leader serves no stale reads",
            { timeout = 120 }, function()
  local cluster = kv.cluster{ nodes = 3 }
  cluster:start()

  local load = fl.workload{
    clients = 10, rate = 150, duration = 22,
    ops = kv.register_ops{ keys = 4, cluster = cluster },
  }

  fl.sleep(3)
  local f = cluster:follower(1)
  local cut = fl.partition{ { f }, cluster:others(f) }  -- the follower alone
  fl.expect.isolated(f, cluster:leader())         -- the fault really took effect
  fl.sleep(6)
  fl.heal()
  fl.expect.eventually(function() return cluster:caught_up(f) end,
                       { within = 5, name = "follower catches up after the partition" })

  fl.sleep(2)
  cluster:leader():kill()
  fl.sleep(2)
  cluster:leader():start()

  load:wait()
  fl.check.linearizable{ model = "kv", history = load }
  -- The cut-off follower must refuse writes; the others must keep serving.
  fl.check.minority_refuses{ workload = load, nodes = { f }, fault = cut.fault }
  fl.check.isolation{ workload = load, nodes = cluster:others(f), min = 0.6, fault = cut.fault }
  fl.check.recovery{ after = "each fault", within = 3 }
end)
