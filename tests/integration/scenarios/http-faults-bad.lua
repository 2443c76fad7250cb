-- A bad HTTP fault rule is a clear error naming the scenario's line and the
-- field (exit 2). BAD_RULE picks which.
local fl = require("faultline")

local bad = {
  action = { match = { path = "/x" } },
  two = { abort = {}, reset = true },
  status = { abort = { status = 42 } },
  option = { abort = {}, percentage = 20 },
}

fl.scenario("bad http fault", function()
  local p = fl.proxy{ name = "api", upstream = "127.0.0.1:9" }
  p:add_http_fault(bad[os.getenv("BAD_RULE")])
end)
