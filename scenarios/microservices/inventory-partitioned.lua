-- Blast radius: with all of inventory cut off, orders fails fast with a
-- clear error and catalog does not notice.
--
-- fl.partition cuts every orders -> inventory link (blackhole: connections
-- open, nothing arrives) for 6 s. Checks:
--   * every order that failed during the partition failed with orders' own
--     503 "inventory unavailable: ..." (not a timeout or an nginx error);
--   * they failed fast: p50 under 50 ms (orders' circuit breaker answers at
--     once), p99 under 1.5 s, before nginx's 2 s read timeout (two 0.5 s
--     inventory timeouts before a breaker opens: measured about 1.0 s);
--   * catalog: 100% available during the partition, p99 within 250 ms of
--     before (measured: within a few ms; the margin absorbs a busy CI host);
--   * orders succeed again within 3 s of the heal (a breaker stays open 2 s);
--   * every acknowledged order was created exactly once.
local fl = require("faultline")
local shop = require("faultline.lib.shop")
local util = require("faultline.lib.util")

fl.scenario("inventory partitioned away: orders fail fast, catalog unaffected",
            { timeout = 90 }, function()
  local s = shop.system{}
  s:start()
  local orders = fl.workload{ name = "orders", clients = 8, rate = 60, duration = 13,
                              ops = s:order_ops() }
  local catalog = fl.workload{ name = "catalog", clients = 4, rate = 40, duration = 13,
                               ops = s:catalog_ops() }
  fl.sleep(3)
  local t0 = fl.now()
  fl.partition{ s:names("orders"), s:names("inventory") }
  fl.expect.isolated("orders-1", "inventory-1")
  fl.sleep(5.5)
  local t1 = fl.now()
  fl.heal()
  orders:wait()
  catalog:wait()
  s:read_orders()

  local ho, hc = util.history_of_key("orders"), util.history_of_key("catalog")
  local oo, co = util.operations(ho), util.operations(hc)
  local failed, unclear = {}, {}
  for _, op in ipairs(oo) do
    if op.f == "add" and op.invoke_s >= t0 and op.invoke_s < t1 and op.type ~= "ok" then
      failed[#failed + 1] = op.latency_s
      if not (op.type == "fail" and tostring(op.error):match("inventory unavailable")) then
        unclear[#unclear + 1] = string.format("%s: %s", op.type, tostring(op.error))
      end
    end
  end
  util.check("orders fail with a clear error", #failed > 0 and #unclear == 0, string.format(
    "%d orders failed during the partition, %s with orders' 503 'inventory unavailable'%s",
    #failed, #unclear == 0 and "all" or "not all",
    #unclear > 0 and (": " .. #unclear .. " did not, e.g. " .. unclear[1]) or ""))
  -- Fast means: no slower than an order that succeeded before the fault
  -- (the same run's baseline: a loaded machine slows both), and 50 ms at least.
  local ok_before = util.percentile(util.latencies(oo, 0, t0), 0.5) or 0
  util.within{ name = "orders fail fast (p50 of failures)",
    value = (util.percentile(failed, 0.5) or 99) * 1000,
    limit = math.max(50, 2 * ok_before * 1000), unit = "ms",
    message = string.format("p50 of failed orders (p50 of ok orders before: %.1f ms)",
      ok_before * 1000) }
  util.within{ name = "orders fail fast (p99 of failures)",
    value = (util.percentile(failed, 0.99) or 99) * 1000, limit = 1500, unit = "ms",
    message = "p99 of failed orders" }
  fl.check.recovery{ history = ho, after = "partition", within = 3, name = "orders" }
  fl.check.set{ history = ho, name = "every acknowledged order created exactly once" }

  fl.check.availability{ history = hc, min = 1.0, after = "partition", name = "catalog" }
  local c_before = util.percentile(util.latencies(co, 0, t0), 0.99)
  local c_during = util.percentile(util.latencies(co, t0, t1), 0.99)
  util.within{ name = "catalog p99 unchanged (within 250 ms of before)",
    value = (c_during - c_before) * 1000, limit = 250, unit = "ms",
    message = string.format("catalog p99 %.1f ms during vs %.1f ms before; difference",
      c_during * 1000, c_before * 1000) }
end)
