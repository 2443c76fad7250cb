-- nginx routes around a dead orders instance, and sends it traffic again
-- once it is back.
--
-- Eight clients create orders through nginx, four read the catalog. orders-1
-- is killed (kill -9) for 4 s and started again. Checks:
--   * at least 98% of orders succeed while orders-1 is down (nginx retries a
--     refused connection on the next instance, even for a POST: nothing was
--     sent). Requests in flight on orders-1 when it dies get a 502 and count
--     as indeterminate;
--   * orders succeed again within 2 s of the restart (fl.check.recovery);
--   * nginx sends orders-1 new orders within 6 s of its restart (nginx skips
--     a failed instance for fail_timeout = 3 s);
--   * every acknowledged order was created exactly once (fl.check.set on
--     what the three instances recorded; orders-1 keeps its record on disk).
local fl = require("faultline")
local shop = require("faultline.lib.shop")
local util = require("faultline.lib.util")

fl.scenario("nginx routes around a killed orders instance", { timeout = 90 }, function()
  local s = shop.system{}
  s:start()
  local ops = s:order_ops()
  local orders = fl.workload{ name = "orders", clients = 8, rate = 60, duration = 14,
                              ops = ops }
  local catalog = fl.workload{ name = "catalog", clients = 4, rate = 40, duration = 14,
                               ops = s:catalog_ops() }
  fl.sleep(3)
  local o1 = s.orders[1]
  o1:kill()
  fl.sleep(4)
  o1:start()
  local mark = ops.last_id()
  fl.expect.eventually(function() return s:serves_new(o1, mark) end,
    { within = 6, every = 0.2, name = "nginx sends orders-1 new orders after its restart" })

  orders:wait()
  catalog:wait()
  fl.sleep(0.5)
  s:read_orders()
  local h = util.history_of_key("orders")
  fl.check.availability{ history = h, min = 0.98, after = "kill", name = "orders through nginx" }
  fl.check.recovery{ history = h, after = "kill", within = 2, name = "orders" }
  fl.check.set{ history = h, name = "every acknowledged order created exactly once" }
  fl.check.availability{ history = util.history_of_key("catalog"), min = 1.0, after = "kill",
                         name = "catalog (unrelated)" }
end)
