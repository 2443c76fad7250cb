-- Two workloads in one run, on the same key names: `history = w` checks w's
-- operations only. The second workload's "reads" return a value nobody
-- wrote (it talks to no server at all), so a check that saw both would fail.
local fl = require("faultline")
local kv = require("faultline.lib.kvnode")

fl.scenario("a workload's history is its own", { timeout = 60 }, function()
  local c = kv.cluster{ nodes = 3 }
  c:start()
  local real = fl.workload{ name = "real", clients = 3, rate = 60, duration = 3,
    ops = kv.register_ops{ cluster = c, keys = 2 } }
  local ghost = fl.workload{ name = "ghost", clients = 2, rate = 20, duration = 3, ops = {
    next = function(ctx) return { f = "read", key = "k1" } end,
    run = function(op, ctx) return "ok", 424242 end,
  } }
  real:wait()
  ghost:wait()
  fl.check.linearizable{ model = "kv", history = real, name = "real alone" }
  local n = 0
  for line in io.lines(ghost.history) do
    if line:find('"type":"ok"', 1, true) then
      assert(line:find('"value":424242', 1, true), "a line of another workload: " .. line)
      n = n + 1
    end
  end
  fl.expect.that(n > 0, "the ghost's history has its operations")
  fl.log("ghost: %d lines, real: %s", n, real.history)
end)
