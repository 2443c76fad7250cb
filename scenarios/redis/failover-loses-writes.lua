-- Expected finding: Redis replication is asynchronous, so failing over to a
-- replica loses writes the old primary acknowledged.
--
-- A primary (r1) and two replicas (r2, r3) that replicate through proxies.
-- Ten clients add unique ids to a set on the primary. The primary is cut off
-- from its replicas; clients keep writing to it for a while (it still
-- acknowledges every SADD), then r2 is promoted (REPLICAOF NO ONE), r3 and
-- the clients follow it. After the heal the old primary becomes a replica of
-- r2 and drops what only it had. The final SMEMBERS on r2 misses those
-- acknowledged adds: fl.check.set{expect_loss = true} counts them, and the
-- scenario passes because the loss was expected and found.
local fl = require("faultline")
local redis = require("faultline.lib.redis")

fl.scenario("failover to a replica loses acknowledged writes", { timeout = 90 }, function()
  local rs = redis.replicated{ replicas = 2 }
  rs:start()
  local r1, r2, r3 = rs.nodes[1], rs.nodes[2], rs.nodes[3]
  fl.expect.eventually(function() return rs:in_sync(r2) and rs:in_sync(r3) end,
    { within = 5, name = "replicas attached to r1" })

  local adds = redis.set_adds{ key = "s", target = function() return rs:addr(rs:primary()) end }
  local load = fl.workload{ clients = 10, rate = 200, duration = 12, ops = adds }

  fl.sleep(3)
  fl.partition{ { r1 }, { r2, r3 } }       -- the primary alone; clients still reach it
  fl.expect.isolated(r1, r2)
  fl.sleep(2)                               -- r1 acknowledges writes r2 and r3 never see
  rs:promote(r2)                            -- what Sentinel would do
  rs:follow(r3, r2)
  fl.sleep(1)                               -- clients learn of it a second later
  rs:use(r2)
  fl.sleep(2)
  fl.heal()
  rs:follow(r1, r2)                         -- the old primary rejoins as a replica
  fl.expect.eventually(function() return rs:in_sync(r1, r2) and rs:in_sync(r3, r2) end,
    { within = 10, name = "old primary resynchronised from r2" })

  load:wait()
  adds.close()
  redis.read_set(rs, r2, "s")
  fl.check.set{ history = fl.history.path(), expect_loss = true,
                name = "acknowledged adds survive the failover (expected to lose some)" }
end)
