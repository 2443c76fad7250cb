-- A randomized nemesis: which node, which fault and when all come from
-- fl.random, so the same seed must give the same fault schedule.
local fl = require("faultline")
fl.scenario("randomized faults", function()
  local nodes = {}
  for i = 1, 3 do
    nodes[i] = fl.service{ name = "n" .. i, cmd = { "sleep", "60" } }
    nodes[i]:start()
  end
  local proxies = {}
  for i = 1, 3 do
    local port = fl.port()
    proxies[i] = fl.proxy{ from = "n" .. i, to = "n" .. (i % 3 + 1), upstream = "127.0.0.1:" .. port }
  end
  for round = 1, 4 do
    local victim = fl.random(1, 3)
    local kind = ({ "kill", "pause", "latency", "partition" })[fl.random(1, 4)]
    fl.sleep(0.05 + fl.random() * 0.1)
    if kind == "kill" then
      nodes[victim]:kill(); nodes[victim]:start()
    elseif kind == "pause" then
      nodes[victim]:pause(); fl.sleep(0.05); nodes[victim]:resume()
    elseif kind == "latency" then
      local ms = fl.random(10, 500)
      proxies[victim]:add_toxic{ type = "latency", latency = ms, jitter = fl.random(0, 50) }
      fl.sleep(0.05)
      proxies[victim]:remove_toxic("latency_downstream")
    else
      fl.partition{ { nodes[victim] }, nodes[victim % 3 + 1] == nil and {} or { nodes[victim % 3 + 1] } }
      fl.sleep(0.05)
      fl.heal()
    end
  end
end)
