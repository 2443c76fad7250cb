-- The unsafe kvnode (followers answer reads from their own copy) under a
-- minute of random faults: partitions, kills, pauses, latency, bandwidth.
-- The linearizability check finds stale reads, and the run exits 1: the
-- failure `faultline shrink` is shown on in the README.
--   faultline run scenarios/demo/kvnode-unsafe-nemesis.lua --seed 21 --out runs/unsafe
--   faultline shrink runs/unsafe
--   faultline run scenarios/demo/kvnode-unsafe-nemesis.lua --replay runs/unsafe/shrink/schedule.json
-- FL_NEMESIS_SECONDS sets the window (default 60).
local fl = require("faultline")
local kv = require("faultline.lib.kvnode")

local WINDOW = tonumber(os.getenv("FL_NEMESIS_SECONDS") or "") or 60

fl.scenario("unsafe kvnode under a random nemesis", { timeout = WINDOW + 120 }, function()
  local cluster = kv.cluster{ nodes = 3, unsafe = true }
  cluster:start()
  local nem = fl.nemesis{ faults = { "partition", "kill", "pause", "latency", "bandwidth" },
                          duration = { 1, 4 }, calm = { 0.5, 2 }, window = WINDOW }
  local load = fl.workload{ clients = 4, rate = 30, duration = nem.window + 1,
                            ops = kv.register_ops{ keys = 4, cluster = cluster } }
  nem:wait()
  load:wait()
  fl.check.linearizable{ model = "kv", history = load }
end)
