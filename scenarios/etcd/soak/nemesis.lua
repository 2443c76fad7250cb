-- etcd soak: a seeded random nemesis for a minute. Not part of `make test`
-- (the pack test runs the short scenarios); run it with
--   faultline run scenarios/etcd/soak/nemesis.lua [--seed N]
--
-- One fault at a time, chosen with fl.random (so --seed replays the same
-- schedule): kill -9 a random member and restart it, pause the leader or a
-- random member past the election timeout, or 200 +/- 50 ms latency on every
-- peer link; each lasts 2-4 s, then 3-4 s of calm. Checks: the whole history
-- is linearizable, clients recover within 5 s of each fault, and at the end
-- every member agrees on one leader and raft index.
local fl = require("faultline")
local etcd = require("faultline.lib.etcd")
local util = require("faultline.lib.util")

local DURATION = tonumber(os.getenv("FL_SOAK_SECONDS") or "") or 60

fl.scenario("etcd under a random nemesis", { timeout = DURATION + 120 }, function()
  local c = etcd.cluster{ nodes = 3 }
  c:start()
  local load = fl.workload{ clients = 9, rate = 90, duration = DURATION,
                            ops = etcd.register_ops{ cluster = c, keys = 6 } }
  local faults = {
    function(d)                              -- kill -9 a member, restart it
      local n = c.nodes[fl.random(1, c.n)]
      n:kill()
      fl.sleep(d)
      n:start()
    end,
    function(d)                              -- pause the leader
      local n = c:leader() or c.nodes[fl.random(1, c.n)]
      n:pause()
      fl.sleep(d)
      n:resume()
    end,
    function(d)                              -- pause any member
      local n = c.nodes[fl.random(1, c.n)]
      n:pause()
      fl.sleep(d)
      n:resume()
    end,
    function(d)                              -- latency on every peer link
      for _, p in ipairs(c.proxies) do p:add_toxic{ type = "latency", latency = 200, jitter = 50 } end
      fl.sleep(d)
      for _, p in ipairs(c.proxies) do p:remove_toxic("latency_downstream") end
    end,
  }
  fl.sleep(3)
  local stop_at = DURATION - 8
  while fl.now() < stop_at do
    faults[fl.random(1, #faults)](2 + 2 * fl.random())
    fl.sleep(3 + fl.random())
  end
  load:wait()
  fl.expect.eventually(function() return c:converged(0) end,
    { within = 10, name = "every member on the same leader and raft index" })
  fl.check.linearizable{ model = "kv", history = load }
  local rw = util.history_of_key(function(op) return op.f ~= "cas" end, "reads-writes")
  fl.check.recovery{ history = rw, after = "each fault", within = 5, name = "reads and writes" }
end)
