-- inventory answers 503 to 20% of reservations: measured with orders' retry
-- policy on, and with it off.
--
-- An HTTP rule on each of the six orders -> inventory proxies answers
-- `POST /reserve` with a 503 on 20% of the requests (`percent = 20`, drawn
-- from the run's seed), for 5 s under 60 orders/s. The request never
-- reaches inventory. Two scenarios, one shop each:
--
--   * retries on (shop.retry_on(): up to 4 attempts, alternating instances,
--     50 ms backoff doubling to at most 200 ms, within 1.5 s): an order
--     fails only if all four attempts draw a 503, 0.2^4 = 0.16%, about 0.5
--     of the ~300 orders of the window. Stated level: at least 97% of the
--     orders invoked during the fault succeed at the edge (the margin is for
--     orders' circuit breaker, which opens for 2 s on an instance after three
--     failures in a row and then leaves one instance to retry on).
--   * retries off (`retry = false`: one attempt): each order's one call
--     fails with 20% chance, and orders answers 503, which nginx passes on
--     (`proxy_next_upstream error timeout` does not retry a 503). Stated:
--     between 10% and 35% of the orders in the window fail at the edge
--     (binomial with n ~ 300 and p = 0.2: mean 60 failures, sd 7; the bounds
--     are more than 4 sd away).
--
-- Each checks that the rule fired on every link (fl.expect.http_fired) and
-- that about 20% of the reservations it matched were answered 503.
local fl = require("faultline")
local shop = require("faultline.lib.shop")
local util = require("faultline.lib.util")

local RULE = "reserve-503"
local PERCENT = 20

local function with_503s(retry)
  local s = shop.system{ retry = retry }
  s:start()
  local orders = fl.workload{ name = "orders", clients = 8, rate = 60, duration = 7,
                              ops = s:order_ops() }
  fl.sleep(1)
  local links = s:inventory_links()
  local t0 = fl.now()
  for _, p in ipairs(links) do
    p:add_http_fault{ name = RULE, match = { method = "POST", path = "/reserve*" },
      abort = { status = 503, body = '{"error": "injected by faultline"}',
                headers = { ["Content-Type"] = "application/json" } },
      percent = PERCENT }
  end
  fl.sleep(5)
  local matched, faulted = 0, 0
  for _, p in ipairs(links) do
    for _, r in ipairs(p:http_faults()) do
      if r.name == RULE then matched, faulted = matched + r.matched, faulted + r.faulted end
    end
    fl.expect.http_fired(p, RULE, { min = 1 })
    p:remove_http_fault(RULE)
  end
  local t1 = fl.now()
  orders:wait()

  -- The share the rules answered 503: 20% within a binomial margin.
  local share = matched > 0 and 100 * faulted / matched or 0
  util.check("the rules answered about 20% of the reservations with 503",
    matched >= 100 and share >= 12 and share <= 28,
    string.format("%d of %d reservations answered 503 by the proxies (%.1f%%; stated 12-28%%)",
      faulted, matched, share))

  -- Orders invoked during the fault, by outcome at the edge.
  local ops = util.operations(util.history_of_key("orders"))
  local n, failed = 0, 0
  for _, op in ipairs(ops) do
    if op.invoke_s >= t0 and op.invoke_s < t1 and op.type then
      n = n + 1
      if op.type ~= "ok" then failed = failed + 1 end
    end
  end
  local pct = n > 0 and 100 * failed / n or 100
  fl.log("orders during the 503s: %d of %d failed at the edge (%.1f%%)", failed, n, pct)
  return pct, failed, n
end

fl.scenario("inventory 503s on 20% of reservations: orders' retries hide them",
  { timeout = 60 }, function()
  local pct, failed, n = with_503s(shop.retry_on())
  util.within{ name = "orders failing at the edge with retries on (stated: at most 3%)",
    value = pct, limit = 3, unit = "%",
    message = string.format("%d of %d orders failed", failed, n) }
end)

fl.scenario("inventory 503s on 20% of reservations: without retries they reach the edge",
  { timeout = 60 }, function()
  local pct, failed, n = with_503s(false)
  util.check("orders failing at the edge with retries off (stated: 10-35%)",
    n >= 100 and pct >= 10 and pct <= 35,
    string.format("%d of %d orders failed at the edge (%.1f%%; stated 10-35%%, 20%% expected)",
      failed, n, pct))
end)
