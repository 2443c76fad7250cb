-- Must pass: a replica killed with SIGKILL under writes comes back, resyncs
-- from the primary, and then holds every acknowledged write.
--
-- r1 primary, r2 and r3 replicas (through proxies). Ten clients add unique
-- ids to a set on r1. r2 is killed (kill -9), stays down 2 s and is started
-- again, empty (no persistence). Checks:
--   * r2 resynchronised within 5 s of being ready again: its link to r1 is
--     up and it holds every add acknowledged before it restarted (measured:
--     0.05-0.1 s);
--   * after the writes stop, SMEMBERS on r2 equals SMEMBERS on r1 within 2 s;
--   * every acknowledged add is in r2's final read (fl.check.set).
local fl = require("faultline")
local redis = require("faultline.lib.redis")

fl.scenario("a replica killed under writes resyncs and matches the primary",
            { timeout = 60 }, function()
  local rs = redis.replicated{ replicas = 2 }
  rs:start()
  local r1, r2, r3 = rs.nodes[1], rs.nodes[2], rs.nodes[3]
  fl.expect.eventually(function() return rs:in_sync(r2) and rs:in_sync(r3) end,
    { within = 5, name = "replicas attached to r1" })

  local adds = redis.set_adds{ key = "s", target = function() return rs:addr(r1) end }
  local load = fl.workload{ clients = 10, rate = 200, duration = 10, ops = adds }

  fl.sleep(3)
  r2:kill()
  fl.sleep(2)
  r2:start()
  -- Under writes the offsets keep moving: "resynchronised" means the link is
  -- up and r2 holds at least every add acknowledged before it came back.
  local acked = load.counts.ok
  fl.expect.eventually(function()
    local r = rs:info(r2)
    local n = rs:call(r2, "SCARD", "s")
    return r and r.master_link_status == "up" and type(n) == "number" and n >= acked
  end, { within = 5, every = 0.05, name = "r2 resynchronised after the restart" })

  load:wait()
  adds.close()
  fl.expect.eventually(function()
    local a, b = rs:members(r1, "s"), rs:members(r2, "s")
    return a and b and #a == #b and table.concat(a, ",") == table.concat(b, ",")
  end, { within = 2, name = "r2's set equals r1's after the writes stop" })
  fl.expect.eventually(function() return rs:in_sync(r3) end,
    { within = 2, name = "r3 unaffected: in sync with r1" })
  redis.read_set(rs, r2, "s")
  fl.check.set{ history = fl.history.path(), name = "every acknowledged add is on the restarted replica" }
  fl.check.availability{ min = 0.99, after = "kill", name = "writes to r1 while r2 is down" }
end)
