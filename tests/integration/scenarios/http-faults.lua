-- HTTP fault rules through a real proxy with real clients (helpers/
-- http_client.py): keep-alive, pipelining, chunked upload, 100-continue,
-- HTTP/1.0, HEAD, a large download under a response delay, an Upgrade,
-- first = 3, percent = 20 over 500 requests, reset before and after.
local fl = require("faultline")

fl.scenario("http faults", function()
  local helpers = fl.info().source_dir .. "/tests/integration/helpers"
  local port = fl.port()
  local up = "127.0.0.1:" .. port
  fl.service{ name = "upstream", cmd = { "python3", helpers .. "/http_upstream.py", tostring(port) },
    ready = fl.probe.http("http://" .. up .. "/ping") }:start()
  local p = fl.proxy{ name = "api", from = "client", to = "upstream", upstream = up }

  p:add_http_fault{ name = "reserve-503", match = { method = "POST", path = "/reserve*" },
    abort = { status = 503, body = "try later\n", headers = { ["Retry-After"] = "1" } } }
  p:add_http_fault{ name = "slow-big", match = { path = "/big*" }, delay = { response = 300 } }
  p:add_http_fault{ name = "first3", match = { path = "/first/*" }, reset = "after", first = 3 }
  p:add_http_fault{ name = "pct", match = { path = "/pct/*" }, abort = { status = 500 },
    percent = 20 }
  p:add_http_fault{ name = "rb", match = { path = "/rb/*" }, reset = "before" }
  p:add_http_fault{ name = "ra", match = { path = "/ra/*" }, reset = "after" }
  -- Never matches: its counters stay at zero, and a header rule is parsed.
  p:add_http_fault{ name = "tenant-b", match = { header = { ["x-tenant"] = "b" } },
    delay = { request = 5000 } }

  local big = tostring(tonumber(os.getenv("FL_HTTP_BIG_MB") or "100") * 1024 * 1024)
  local r = fl.exec{ "python3", helpers .. "/http_client.py", p.listen, up, big, timeout = 50 }
  print(r.stdout)
  if r.stderr ~= "" then print(r.stderr) end
  fl.expect.that(r.code == 0, "the HTTP client's checks passed")

  local by = {}
  for _, f in ipairs(p:http_faults()) do by[f.name] = f end
  fl.expect.http_fired(p, "first3", { min = 3, max = 3 })
  fl.expect.that(by.first3.matched == 5, "first3 matched 5 (" .. by.first3.matched .. ")")
  fl.expect.that(by.pct.matched == 500, "pct matched 500 (" .. by.pct.matched .. ")")
  fl.expect.http_fired(p, "pct", { min = 65, max = 135 })
  fl.expect.http_fired(p, "rb", { min = 1, max = 1 })
  fl.expect.http_fired(p, "ra", { min = 1, max = 1 })
  fl.expect.http_fired(p, "slow-big", { min = 1, max = 1 })
  fl.expect.that(by["tenant-b"].matched == 0, "a rule that matches nothing never fires")
  local s = p:http_stats()
  print(string.format("http stats: parsed %d rejected %d", s.parsed, s.rejected))
  fl.expect.that(s.rejected == 0 and s.parsed >= 520, "every request parsed, none rejected")

  -- Update and remove are faults on the timeline too; after the removal the
  -- route is clean again.
  p:update_http_fault("reserve-503", { abort = { status = 429 } })
  local res = fl.http.post("http://" .. p.listen .. "/reserve/u", { body = "x" })
  fl.expect.that(res and res.status == 429, "updated rule answers 429")
  p:remove_http_fault("reserve-503")
  res = fl.http.post("http://" .. p.listen .. "/reserve/v", { body = "x" })
  fl.expect.that(res and res.status == 200, "removed rule: the request reaches the upstream")
end)
