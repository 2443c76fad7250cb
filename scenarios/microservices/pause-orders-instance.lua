-- An orders instance paused (SIGSTOP) longer than nginx's timeouts, then
-- resumed: nginx gives up on it, the rest keep serving, and no order is
-- created twice.
--
-- orders-2 is paused for 5 s; nginx's proxy_read_timeout for /orders is 2 s
-- and it skips a failed instance for 3 s. A POST that reached orders-2 gets
-- a 504 after 2 s and is not retried elsewhere (nginx's default: no retry of
-- non-idempotent requests once sent), so the client cannot know whether the
-- order exists: indeterminate. When orders-2 resumes it does create those
-- orders. Checks:
--   * at least 80% of orders succeed during the pause (measured: 96%;
--     the rest are the 504s of the requests orders-2 held);
--   * orders succeed again within 2 s of the resume, and nginx sends orders-2
--     new orders within 6 s;
--   * every acknowledged order was created exactly once, no order was
--     created twice (fl.check.set: the 504'd ones show up as "indeterminate
--     adds seen").
-- pause-retry-duplicates.lua is the same fault with nginx told to retry POSTs.
local fl = require("faultline")
local shop = require("faultline.lib.shop")
local util = require("faultline.lib.util")

fl.scenario("an orders instance paused past nginx's timeouts", { timeout = 90 }, function()
  local s = shop.system{}
  s:start()
  local ops = s:order_ops()
  local orders = fl.workload{ name = "orders", clients = 8, rate = 60, duration = 14,
                              ops = ops }
  local catalog = fl.workload{ name = "catalog", clients = 4, rate = 40, duration = 14,
                               ops = s:catalog_ops() }
  fl.sleep(3)
  local o2 = s.orders[2]
  o2:pause()
  fl.sleep(shop.read_timeout + 3)
  o2:resume()
  local mark = ops.last_id()
  fl.expect.eventually(function() return s:serves_new(o2, mark) end,
    { within = 6, every = 0.2, name = "nginx sends orders-2 new orders after the resume" })
  orders:wait()
  catalog:wait()
  fl.sleep(0.5)
  s:read_orders()

  local ho = util.history_of_key("orders")
  fl.check.availability{ history = ho, min = 0.8, after = "pause", name = "orders" }
  fl.check.recovery{ history = ho, after = "pause", within = 2, name = "orders" }
  fl.check.set{ history = ho, name = "every acknowledged order created exactly once" }
  fl.check.availability{ history = util.history_of_key("catalog"), min = 1.0, after = "pause",
                         name = "catalog (unrelated)" }
end)
