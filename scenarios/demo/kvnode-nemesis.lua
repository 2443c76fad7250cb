-- The demo under a random nemesis: partitions, kills, pauses and latency on
-- kvnode's three nodes, drawn from the run's seed, recorded in report.json's
-- schedule. The safe kvnode keeps its history linearizable through all of
-- them. FL_NEMESIS_SECONDS sets the window (default 12 s, short for CI).
-- Its failing twin, kvnode-unsafe-nemesis.lua, is what `faultline shrink`
-- is demonstrated on.
--   faultline run scenarios/demo/kvnode-nemesis.lua --seed 7
--   faultline run scenarios/demo/kvnode-nemesis.lua --replay runs/<that run>
local fl = require("faultline")
local kv = require("faultline.lib.kvnode")

local WINDOW = tonumber(os.getenv("FL_NEMESIS_SECONDS") or "") or 12

fl.scenario("kvnode under a random nemesis", { timeout = WINDOW + 90 }, function()
  local cluster = kv.cluster{ nodes = 3 }
  cluster:start()
  local nem = fl.nemesis{ faults = { "partition", "kill", "pause", "latency" },
                          duration = { 1, 3 }, calm = { 0.5, 1.5 }, window = WINDOW }
  local load = fl.workload{ clients = 6, rate = 120, duration = nem.window + 1,
                            ops = kv.register_ops{ keys = 4, cluster = cluster } }
  nem:wait()                       -- the window, then every fault healed
  load:wait()
  fl.check.linearizable{ model = "kv", history = load }
end)
