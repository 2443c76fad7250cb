-- The UDP proxy from a scenario: loss near the asked rate, duplicates,
-- reordering, latency, and partition, through a real UDP echo server.
local fl = require("faultline")
local helpers -- set inside the scenario: fl.info() needs one running

local function run(addr, n, gap)
  local r = fl.exec{ "python3", helpers .. "/udp_client.py", addr, tostring(n), tostring(gap),
                     timeout = 60 }
  local sent, recv, distinct, dups, reord = r.stdout:match(
    "sent (%d+) received (%d+) distinct (%d+) duplicates (%d+) reordered (%d+)")
  if not sent then fl.expect.that(false, "client output: " .. r.stdout .. r.stderr) end
  fl.log("%s", r.stdout:gsub("\n", ""))
  return tonumber(recv), tonumber(distinct), tonumber(dups), tonumber(reord)
end

fl.scenario("udp faults", function()
  helpers = fl.info().source_dir .. "/tests/integration/helpers"
  local port = fl.port()
  fl.service{ name = "echo", cmd = { "python3", "-u", helpers .. "/udp_echo.py", tostring(port) },
    ready = fl.probe.log("listening") }:start()
  local p = fl.udp_proxy{ from = "client", to = "echo", upstream = "127.0.0.1:" .. port }

  local recv = run(p.listen, 200, 0.001)
  fl.expect.that(recv == 200, "no fault: all 200 back (got " .. recv .. ")")

  p:faults{ stream = "upstream", loss = 0.3 }
  recv = run(p.listen, 400, 0.001)
  fl.expect.that(recv >= 400 * 0.6 and recv <= 400 * 0.8, "30% loss: " .. recv .. " of 400 back")
  p:clear()

  p:faults{ stream = "downstream", duplicate = 0.5 }
  local _, distinct, dups = run(p.listen, 200, 0.001)
  fl.expect.that(distinct == 200 and dups >= 60 and dups <= 140, "50% duplicates: " .. dups)
  p:clear()

  p:faults{ stream = "upstream", reorder = 0.3 }
  local _, _, _, reord = run(p.listen, 200, 0.002)
  fl.expect.that(reord > 10, "reordered: " .. reord)
  p:clear()

  fl.partition{ { "client" }, { "echo" } }
  recv = run(p.listen, 50, 0.001)
  fl.expect.that(recv == 0, "partitioned: nothing back (got " .. recv .. ")")
  fl.heal()
  recv = run(p.listen, 50, 0.001)
  fl.expect.that(recv == 50, "healed: all back (got " .. recv .. ")")
end)
