-- etcd soak: a seeded random nemesis for a minute. Not part of `make test`
-- (the pack test runs the short scenarios, among them ../nemesis.lua); run it
-- with
--   faultline run scenarios/etcd/soak/nemesis.lua [--seed N]
-- and replay a run's faults with --replay RUN_DIR.
--
-- fl.nemesis, one fault at a time drawn from the seed: kill -9 a member and
-- restart it, pause the leader or any member past the election timeout, or
-- 200 +/- 50 ms latency on a member's peer links; each lasts 2-4 s, then
-- 3-4 s of calm; every fault in report.json's schedule. Checks: the whole
-- history is linearizable, clients recover within 5 s of each fault, and at
-- the end every member agrees on one leader and raft index.
local fl = require("faultline")
local etcd = require("faultline.lib.etcd")
local util = require("faultline.lib.util")

local DURATION = tonumber(os.getenv("FL_SOAK_SECONDS") or "") or 60

fl.scenario("etcd under a random nemesis", { timeout = DURATION + 120 }, function()
  local c = etcd.cluster{ nodes = 3 }
  c:start()
  fl.sleep(3)
  local nem = fl.nemesis{
    targets = c.nodes, faults = { "kill", "pause", "latency" },
    -- One member: any, or the leader (a function of the targets).
    target = function(nodes, rng)
      if rng:float() < 0.5 then return { c:leader() or nodes[1] } end
      return { nodes[rng:int(1, #nodes)] }
    end,
    duration = { 2, 4 }, calm = { 3, 4 }, window = DURATION - 11,
  }
  local load = fl.workload{ clients = 9, rate = 90, duration = DURATION - 3,
                            ops = etcd.register_ops{ cluster = c, keys = 6 } }
  nem:wait()
  load:wait()
  fl.expect.eventually(function() return c:converged(0) end,
    { within = 10, name = "every member on the same leader and raft index" })
  fl.check.linearizable{ model = "kv", history = load }
  local rw = util.history_of_key(function(op) return op.f ~= "cas" end, "reads-writes")
  fl.check.recovery{ history = rw, after = "each fault", within = 5, name = "reads and writes" }
end)
