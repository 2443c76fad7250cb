-- The first 3 reservations on one link are reset AFTER the proxy forwarded
-- them: inventory reserved the item, orders saw its connection reset and,
-- with its retry policy on, reserved again on the other instance. Does a
-- retry duplicate a reservation?
--
-- An HTTP rule on orders-1 -> inventory-1 (`reset = "after"`, `first = 3`)
-- under 40 orders/s for 4 s. Afterwards the reservations inventory recorded
-- (every order id, with repeats, from both instances) are compared with the
-- orders acknowledged (created). Two scenarios:
--
--   * without an idempotency key (the shop's default): each reset
--     reservation is reserved twice. The shop does not claim idempotent
--     reservations, so this is an expected finding (report.json:
--     duplicates_count, extra_copies, ids), not a failure; it fails only if
--     no duplicate is found (the rule or the retry did not do what the
--     scenario is about).
--   * with `idempotency_key = true` the shop claims idempotency: orders
--     sends `Idempotency-Key: order-<id>` and inventory keeps the keys where
--     both instances see them. Then any duplicate is a failure: the check
--     says the shop claims what it lacks.
--
-- Both check that the rule reset exactly 3 requests (fl.expect.http_fired
-- with min = max = 3) and that every order acknowledged was reserved.
local fl = require("faultline")
local shop = require("faultline.lib.shop")
local util = require("faultline.lib.util")

local RULE = "reserve-reset-after"

local function count(list)
  local seen, n = {}, 0
  for _, id in ipairs(list) do
    if not seen[id] then seen[id], n = true, n + 1 end
  end
  return seen, n
end

local function with_resets(idempotency_key)
  local s = shop.system{ retry = shop.retry_on(), idempotency_key = idempotency_key }
  s:start()
  local link = s.links["orders-1->inventory-1"]
  link:add_http_fault{ name = RULE, match = { method = "POST", path = "/reserve*" },
                       reset = "after", first = 3 }
  local orders = fl.workload{ name = "orders", clients = 8, rate = 40, duration = 4,
                              ops = s:order_ops() }
  orders:wait()
  fl.sleep(0.3)                               -- late reservations land
  fl.expect.http_fired(link, RULE, { min = 3, max = 3 })
  link:remove_http_fault(RULE)

  local created = assert(s:read_orders())
  local reserved = assert(s:reservations())
  local made, n_created = count(created)
  local reserved_set, n_reserved = count(reserved)
  local missing = 0
  for id in pairs(made) do
    if not reserved_set[id] then missing = missing + 1 end
  end
  util.check("every order acknowledged was reserved", missing == 0,
    string.format("%d orders created, %d reserved (%d reservations in all), %d created "
      .. "without a reservation", n_created, n_reserved, #reserved, missing))
  return shop.duplicates(reserved), #reserved, n_created
end

local function shown(d)
  local ids = {}
  for i = 1, math.min(10, #d.ids) do ids[i] = tostring(d.ids[i]) end
  return table.concat(ids, ", ") .. (#d.ids > 10 and ", ..." or "")
end

fl.scenario("reset after forwarding, no idempotency key: retries reserve twice",
  { timeout = 60 }, function()
  local d, total, n_created = with_resets(false)
  util.finding{ name = "reservations made twice by orders' retry (the shop claims no idempotency)",
    found = d.count > 0,
    message = string.format("%d order(s) reserved more than once, %d extra reservations "
      .. "(ids %s): %d reservations for %d orders acknowledged; the shop sends no "
      .. "idempotency key, so a retry after a reset reserves again", d.count, d.extra,
      shown(d), total, n_created),
    figures = { duplicates_count = d.count, extra_copies = d.extra },
    evidence = { duplicates = d.ids } }
end)

fl.scenario("reset after forwarding, idempotency key: one reservation each",
  { timeout = 60 }, function()
  local d, total, n_created = with_resets(true)
  util.check("no reservation made twice (the shop claims idempotent reservations)",
    d.count == 0,
    d.count == 0 and string.format("%d reservations for %d orders acknowledged, none twice",
      total, n_created)
    or string.format("the shop claims idempotency it lacks: %d order(s) reserved more "
      .. "than once, %d extra (ids %s)", d.count, d.extra, shown(d)))
end)
