-- A 200 ms latency toxic adds 200 ms to a round trip through the proxy.
local fl = require("faultline")

-- The median round trip of n (a toxic adds a fixed delay: the median
-- measures it; a mean moves with one scheduler hiccup on a loaded machine).
local function rtt(addr, n)
  local c = assert(fl.tcp.connect(addr))
  local all = {}
  for i = 1, n do
    local t0 = fl.now()
    assert(c:send("PING\r\n"))
    assert(c:receive_until("\r\n", { timeout = 5 }) == "+PONG")
    all[i] = fl.now() - t0
  end
  c:close()
  table.sort(all)
  return all[(n + 1) // 2], all[1]
end

fl.scenario("latency toxic adds its delay", function()
  local port = fl.port()
  fl.service{ name = "redis", cmd = { "redis-server", "--port", tostring(port), "--bind",
    "127.0.0.1", "--save", "", "--appendonly", "no" },
    ready = fl.probe.tcp("127.0.0.1:" .. port) }:start()
  local p = fl.proxy{ name = "to-redis", upstream = "127.0.0.1:" .. port }
  local base = rtt(p.listen, 20)
  p:add_toxic{ type = "latency", latency = 200 }
  local slow = rtt(p.listen, 10)
  local added = (slow - base) * 1000
  fl.log("round trip %.2f ms without, %.2f ms with the toxic: +%.2f ms", base * 1000, slow * 1000, added)
  fl.expect.that(math.abs(added - 200) <= 5, string.format("added %.2f ms (want 200 +/- 5)", added))
  p:remove_toxic("latency_downstream")
  local after = rtt(p.listen, 10)
  fl.expect.that(after * 1000 < base * 1000 + 5, string.format("back to %.2f ms", after * 1000))
  -- Upstream latency counts too, and both add up.
  p:add_toxic{ type = "latency", stream = "upstream", latency = 50 }
  p:add_toxic{ type = "latency", stream = "downstream", latency = 50 }
  local both = (rtt(p.listen, 10) - base) * 1000
  fl.expect.that(math.abs(both - 100) <= 5, string.format("up+down added %.2f ms (want 100)", both))
  -- Partition: nothing passes; heal: it flows again.
  p:remove_all_toxics()
  p:partition()
  local c = assert(fl.tcp.connect(p.listen))
  c:send("PING\r\n")
  local got, err = c:receive_until("\r\n", { timeout = 0.5 })
  fl.expect.that(got == nil and err:match("ETIMEDOUT"), "partitioned: no answer")
  p:heal()
  fl.expect.that(c:receive_until("\r\n", { timeout = 2 }) == "+PONG", "healed: the held bytes arrive")
  c:close()
  -- Disabled: connections refused; enabled: accepted again on the same port.
  p:disable()
  local none, err2 = fl.tcp.connect(p.listen, { timeout = 1 })
  fl.expect.that(none == nil and err2:match("ECONNREFUSED"), "disabled: refused")
  p:enable()
  fl.expect.that(rtt(p.listen, 1) < 1, "enabled again")
end)
