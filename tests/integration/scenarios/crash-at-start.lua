local fl = require("faultline")
fl.scenario("crash at start", function()
  local s = fl.service{ name = "crasher", cmd = { "sh", "-c", "echo config error: no such file >&2; exit 3" },
    ready = fl.probe.tcp("127.0.0.1:" .. fl.port(), { timeout = 20 }) }
  s:start()
end)
