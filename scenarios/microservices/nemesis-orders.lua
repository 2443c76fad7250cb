-- The orders instances under a short random nemesis (kills and pauses of
-- one instance at a time, drawn from the seed, in report.json's schedule):
-- every acknowledged order is still created exactly once. Replay a run's
-- faults with `faultline run FILE --replay RUN_DIR`.
local fl = require("faultline")
local shop = require("faultline.lib.shop")
local util = require("faultline.lib.util")

fl.scenario("orders under a random nemesis", { timeout = 90 }, function()
  local s = shop.system{}
  s:start()
  local nem = fl.nemesis{ targets = s.orders, faults = { "kill", "pause" }, target = "one",
                          duration = { 1, 2 }, calm = { 1, 2 }, window = 8 }
  local ops = s:order_ops()
  local orders = fl.workload{ name = "orders", clients = 6, rate = 40, duration = nem.window + 1,
                              ops = ops }
  nem:wait()
  orders:wait()
  fl.sleep(0.5)
  s:read_orders()
  fl.check.set{ history = util.history_of_key("orders"),
                name = "every acknowledged order created exactly once" }
end)
