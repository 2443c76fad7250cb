-- The microservices pack's sample system: nginx in front of `orders` (3
-- Flask instances), which call `inventory` (2 instances) through one proxy
-- per (orders, inventory) pair, and `catalog` (1 instance, or more) that
-- calls nothing and that nginx reaches through one proxy per instance.
--
--   nginx :port  /orders    -> upstream orders  (orders-1..3)
--                /catalog/  -> upstream catalog (proxy "nginx->catalog-k" -> catalog-k)
--   orders-i  -> proxy "orders-i->inventory-j" -> inventory-j   (POST /reserve)
--
--   local shop = require("faultline.lib.shop")
--   local s = shop.system{}            -- shop.system{ retry_post = true } for the unsafe nginx
--   s:start()
--   local orders = fl.workload{ clients = 8, rate = 40, duration = 15, ops = s:order_ops() }
--
-- The services are scenarios/microservices/shop.py (found beside the calling
-- scenario file; shop.system{script = path} or FL_SHOP_APP otherwise), run by
-- Debian's python3 with python3-flask (shop.system{python = path} or
-- FL_PYTHON), behind nginx (shop.system{nginx = path} or FL_NGINX).
local fl = require("faultline")
local util = require("faultline.lib.util")
local nginx = require("faultline.lib.nginx")
local flask = require("faultline.lib.flask")

local M = {}

local System = {}
System.__index = System

-- nginx's timeouts for /orders; the pause scenario pauses longer than these.
M.read_timeout = 2        -- proxy_read_timeout, seconds
M.fail_timeout = 3        -- how long nginx avoids an instance after a failure
M.inventory_timeout = 0.5 -- orders' timeout per inventory call

--- orders' retry policy (shop.py's SHOP_* variables) for shop.system{retry =
--- shop.retry_on()}: 4 attempts, 50 ms backoff doubling to at most 200 ms,
--- all within 1.5 s. A new table each call: change a field for your own.
function M.retry_on()
  return { retries = 3, backoff = 0.05, backoff_max = 0.2, budget = 1.5 }
end

local function retry_env(retry, idempotency_key)
  local env = {}
  if retry == false then retry = { retries = 0 } end
  if type(retry) == "table" then
    retry = fl.options(retry, "shop.system retry",
      { retries = true, backoff = true, backoff_max = true, budget = true })
    local names = { retries = "SHOP_RETRIES", backoff = "SHOP_RETRY_BACKOFF",
      backoff_max = "SHOP_RETRY_BACKOFF_MAX", budget = "SHOP_RETRY_BUDGET" }
    for k, v in pairs(retry) do env[names[k]] = tostring(v) end
  elseif retry ~= nil then
    error("shop.system: retry must be a table or false", 3)
  end
  if idempotency_key then env.SHOP_IDEMPOTENCY_KEY = "1" end
  return env
end

--- shop.system{orders=3, inventory=2, catalog=1, retry_post=false,
--- inventory_timeout=0.5, retry=, idempotency_key=false, catalog_read_timeout=2,
--- script=, python=, nginx=}. retry_post = true adds non_idempotent to
--- proxy_next_upstream: nginx then retries a POST on the next instance after
--- a timeout, even though the first may have acted on it. retry: orders'
--- retry policy, a table {retries=, backoff=, backoff_max=, budget=}
--- (M.retry_on()) or false for none; unset, each inventory instance is tried
--- once. idempotency_key = true: orders sends an Idempotency-Key with each
--- reservation, which inventory honours (a retry is not reserved twice).
function M.system(opts)
  opts = fl.options(opts or {}, "shop.system",
    { orders = true, inventory = true, catalog = true, retry_post = true,
      inventory_timeout = true, retry = true, idempotency_key = true,
      catalog_read_timeout = true, script = true, python = true, nginx = true })
  local script = opts.script or os.getenv("FL_SHOP_APP")
  if not script or script == "" then script = util.dir_of_caller(2) .. "/shop.py" end
  if not util.exists(script) then
    error("shop.system: no " .. script .. " (give shop.system{script = path})", 2)
  end
  local s = setmetatable({ orders = {}, inventory = {}, catalog = {}, ports = {}, links = {},
    retry_post = opts.retry_post and true or false,
    idempotency_key = opts.idempotency_key and true or false }, System)
  local records = util.mkdir(fl.info().dir .. "/data/orders")
  local reservations = util.mkdir(fl.info().dir .. "/data/reservations")
  local inv_timeout = opts.inventory_timeout or M.inventory_timeout
  local orders_env = retry_env(opts.retry, opts.idempotency_key)

  local function app(name, role, args, env)
    local a = { "--role", role, "--name", name, "--port", "{port}" }
    for _, x in ipairs(args or {}) do a[#a + 1] = x end
    local svc, port = flask.app{ name = name, script = script, args = a, python = opts.python,
      env = env }
    s.ports[name] = port
    return svc
  end

  for j = 1, opts.inventory or 2 do
    s.inventory[j] = app("inventory-" .. j, "inventory", { "--records", reservations })
  end
  -- nginx reaches each catalog instance through a proxy of its own, so a
  -- scenario can fault one instance's routes (HTTP rules, toxics).
  local catalog_servers = {}
  for k = 1, opts.catalog or 1 do
    local name = "catalog-" .. k
    s.catalog[k] = app(name, "catalog")
    local p = fl.proxy{ from = "nginx", to = name, upstream = "127.0.0.1:" .. s.ports[name] }
    s.links["nginx->" .. name] = p
    catalog_servers[k] = p.listen
  end
  for i = 1, opts.orders or 3 do
    local name = "orders-" .. i
    local args = { "--records", records, "--inventory-timeout", tostring(inv_timeout) }
    for j, inv in ipairs(s.inventory) do
      local p = fl.proxy{ from = name, to = inv.name, upstream = "127.0.0.1:" .. s.ports[inv.name] }
      s.links[name .. "->" .. inv.name] = p
      args[#args + 1] = "--inventory"
      args[#args + 1] = "http://" .. p.listen
    end
    s.orders[i] = app(name, "orders", args, orders_env)
  end

  local function servers(list)
    local out = {}
    for i, svc in ipairs(list) do out[i] = "127.0.0.1:" .. s.ports[svc.name] end
    return out
  end
  local retry = "proxy_next_upstream error timeout" .. (s.retry_post and " non_idempotent" or "")
  s.lb, s.lb_info = nginx.server{ name = "nginx", binary = opts.nginx,
    upstreams = {
      orders = { servers = servers(s.orders),
        params = string.format("max_fails=1 fail_timeout=%ds", M.fail_timeout) },
      catalog = { servers = catalog_servers },
    },
    locations = {
      { path = "/orders", upstream = "orders", directives = {
        "proxy_connect_timeout 1s",
        string.format("proxy_read_timeout %ds", M.read_timeout),
        string.format("proxy_send_timeout %ds", M.read_timeout),
        retry, "proxy_next_upstream_tries 3",
        -- Every instance nginx passed the request to, comma-separated: a
        -- refusal is definite only if no other instance may have acted.
        "add_header X-Upstreams $upstream_addr always" } },
      { path = "/catalog/", upstream = "catalog", rewrite = "/", directives = {
        "proxy_connect_timeout 1s",
        string.format("proxy_read_timeout %dms", math.floor((opts.catalog_read_timeout or 2) * 1000)),
        "proxy_next_upstream error timeout",
        "add_header X-Upstreams $upstream_addr always" } },
    } }
  s.url = s.lb_info.url
  return s
end

--- Starts every service at once, nginx last; waits until all are ready.
function System:start()
  local tasks = {}
  for _, list in ipairs({ self.inventory, self.catalog, self.orders }) do
    for _, svc in ipairs(list) do tasks[#tasks + 1] = fl.spawn(function() svc:start() end) end
  end
  for _, t in ipairs(tasks) do t:wait() end
  self.lb:start()
  return self
end

--- Every service name of a role ("orders", "inventory", "catalog").
function System:names(role)
  local out = {}
  for i, svc in ipairs(self[role]) do out[i] = svc.name end
  return out
end

--- The proxies that carry calls to the given service (one per caller).
function System:links_to(svc)
  local name = type(svc) == "string" and svc or svc.name
  local out = {}
  for k, p in pairs(self.links) do
    if p.to == name then out[#out + 1] = p end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

--- Every orders -> inventory proxy, sorted by name.
function System:inventory_links()
  local out = {}
  for _, inv in ipairs(self.inventory) do
    for _, p in ipairs(self:links_to(inv)) do out[#out + 1] = p end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

function System:direct_url(svc, path)
  return string.format("http://127.0.0.1:%d%s", self.ports[svc.name], path or "")
end

---------------------------------------------------------------------------
-- Workloads

local json_headers = { ["Content-Type"] = "application/json" }

--- Orders through nginx: POST /orders with a client-generated id, recorded
--- as f="add", key="orders" (the set model: every acknowledged order must be
--- created exactly once). 201 is ok. It failed (surely created nothing) only
--- when no byte of the request left faultline (fl.http's maybe_sent ==
--- false), or when orders answered 503 with its JSON error and no other
--- instance can have had it: nginx passed the request to that instance
--- alone (its X-Upstreams header), or nginx never passes a POST on once sent
--- (retry_post off). Anything else (502, 504 from nginx, a timeout, a
--- connect error after libcurl's retry) may have created it (info).
function System:order_ops(opts)
  opts = fl.options(opts, "shop order_ops", { timeout = true })
  local timeout = opts.timeout or 8
  local url = self.url .. "/orders"
  local retry_post = self.retry_post
  local next_id = 0
  local gen = {}
  function gen.next()
    next_id = next_id + 1
    return { f = "add", key = "orders", value = next_id }
  end
  function gen.run(op)
    local body = fl.json.encode({ id = op.value, item = "item-" .. (op.value % 20 + 1) })
    local r, err, _, sent = fl.http.post(url, { body = body, headers = json_headers, timeout = timeout })
    if not r then
      return sent == false and "fail" or "info", nil, err
    end
    if r.status == 201 then return "ok" end
    local j = r.body:sub(1, 1) == "{" and fl.json.decode(r.body)
    local tried = r.headers and r.headers["x-upstreams"]
    local alone = not retry_post or (tried ~= nil and tried ~= "" and not tried:find(",", 1, true))
    if r.status == 503 and type(j) == "table" and j.error and alone then
      return "fail", nil, "HTTP 503: " .. j.error
    end
    return "info", nil, string.format("HTTP %d from %s", r.status,
      r.headers and r.headers["x-instance"] or "nginx")
  end
  --- The last id handed out: orders with a larger id were sent after now.
  function gen.last_id() return next_id end
  return gen
end

--- Catalog reads through nginx: GET /catalog/items (or /catalog<path>),
--- f="read", key="catalog" (or key).
function System:catalog_ops(opts)
  opts = fl.options(opts, "shop catalog_ops", { timeout = true, path = true, key = true })
  local timeout = opts.timeout or 5
  local url = self.url .. "/catalog" .. (opts.path or "/items")
  local key = opts.key or "catalog"
  local gen = {}
  function gen.next() return { f = "read", key = key } end
  function gen.run()
    local r, err = fl.http.get(url, { timeout = timeout })
    if not r then return "fail", nil, err end
    if r.status == 200 then return "ok" end
    return "fail", nil, "HTTP " .. r.status
  end
  return gen
end

---------------------------------------------------------------------------
-- What orders created

--- Every order id each orders instance says it created, with repeats, as one
--- sorted list, and the lists per instance name; nil, err if an instance does
--- not answer.
function System:created()
  local all, per = {}, {}
  for _, svc in ipairs(self.orders) do
    local r, err = fl.http.get(self:direct_url(svc, "/orders/created"), { timeout = 5 })
    if not r or r.status ~= 200 then
      return nil, svc.name .. ": " .. tostring(err or ("HTTP " .. r.status))
    end
    local ids = fl.json.decode(r.body).ids
    per[svc.name] = ids
    for _, id in ipairs(ids) do all[#all + 1] = id end
  end
  table.sort(all)
  return all, per
end

--- Every order id the inventory instances reserved, with repeats, as one
--- sorted list, and the lists per instance name; nil, err if an instance does
--- not answer.
function System:reservations()
  local all, per = {}, {}
  for _, svc in ipairs(self.inventory) do
    local r, err = fl.http.get(self:direct_url(svc, "/reservations"), { timeout = 5 })
    if not r or r.status ~= 200 then
      return nil, svc.name .. ": " .. tostring(err or ("HTTP " .. r.status))
    end
    local ids = fl.json.decode(r.body).ids
    per[svc.name] = ids
    for _, id in ipairs(ids) do all[#all + 1] = id end
  end
  table.sort(all)
  return all, per
end

--- Records the final read of what was created (f="read", key="orders").
function System:read_orders()
  local p = fl.history.process()
  local t0 = fl.history.invoke(p, "read", "orders", nil)
  local ids, err = self:created()
  fl.history.complete(p, ids and "ok" or "fail", "read", "orders", ids,
    not ids and err or nil, t0)
  return ids, err
end

--- True once the instance created an order whose id is above `after` (one
--- sent after that moment): nginx routes to it again.
function System:serves_new(svc, after)
  local _, per = self:created()
  if not per then return false end
  for _, id in ipairs(per[svc.name]) do
    if type(id) == "number" and id > after then return true end
  end
  return false
end

--- Ids that appear more than once in a sorted list: {ids={...}, count=,
--- extra= (copies beyond the first)}.
function M.duplicates(sorted)
  local out, extra = {}, 0
  local i = 1
  while i <= #sorted do
    local j = i
    while j < #sorted and sorted[j + 1] == sorted[i] do j = j + 1 end
    if j > i then
      out[#out + 1] = sorted[i]
      extra = extra + (j - i)
    end
    i = j + 1
  end
  return { ids = out, count = #out, extra = extra }
end

return M
