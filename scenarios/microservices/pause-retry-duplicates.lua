-- Expected finding: nginx told to retry non-idempotent requests
-- (proxy_next_upstream error timeout non_idempotent) creates orders twice.
--
-- The fault of pause-orders-instance.lua: orders-2 paused 5 s, longer than
-- nginx's 2 s proxy_read_timeout. A POST held by orders-2 times out in nginx,
-- which now sends it to the next instance: that one creates the order and the
-- client gets 201. When orders-2 resumes it processes the POST it was
-- holding and creates the same order again. Each order carries a
-- client-generated id and each instance records what it created, so the
-- duplicates can be counted: the check passes when at least one order was
-- created twice (report.json: duplicates_count, extra_copies, ids).
local fl = require("faultline")
local shop = require("faultline.lib.shop")
local util = require("faultline.lib.util")

fl.scenario("nginx retrying POSTs after a timeout duplicates orders", { timeout = 90 }, function()
  local s = shop.system{ retry_post = true }
  s:start()
  local orders = fl.workload{ name = "orders", clients = 8, rate = 60, duration = 11,
                              ops = s:order_ops() }
  fl.sleep(3)
  s.orders[2]:pause()
  fl.sleep(shop.read_timeout + 3)
  s.orders[2]:resume()
  orders:wait()
  fl.sleep(0.5)                               -- orders-2 finishes what it held
  local ids = assert(s:read_orders())
  local d = shop.duplicates(ids)
  local shown = {}
  for i = 1, math.min(10, #d.ids) do shown[i] = tostring(d.ids[i]) end
  util.finding{ name = "orders created more than once (nginx retried POSTs)",
    found = d.count > 0,
    message = string.format("%d order(s) created more than once, %d extra copies (ids %s%s); "
      .. "%d orders created in all", d.count, d.extra, table.concat(shown, ", "),
      #d.ids > 10 and ", ..." or "", #ids),
    figures = { duplicates_count = d.count, extra_copies = d.extra },
    evidence = { duplicates = d.ids } }
  local ho = util.history_of_key("orders")
  fl.check.availability{ history = ho, min = 0.95, after = "pause",
                         name = "orders (retries hide the pause from clients)" }
end)
