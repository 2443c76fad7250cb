-- Unknown options are errors at the caller's file:line, on every call
-- (tests/integration/lua_options.sh runs each scenario with --only).
local fl = require("faultline")

-- A scenario library's call, checked with the public option checker: the
-- error points at the library's caller (the line that passed the option).
local function lib_call(opts)
  opts = fl.options(opts, "mylib.call", { "size", colour = true })
  return opts
end

local function old_lib_call(opts)
  return fl._check_opts(opts, "oldlib.call", { size = true })
end

fl.scenario("exec", function()
  fl.exec{ "true", bogus = 1 }
end)

fl.scenario("isolated in proxy mode", function()
  fl.expect.isolated("a", "b", { bogus = 1 })
end)

fl.scenario("probe cmd", function()
  fl.probe.cmd{ "true", timeout = 1, bogus = 1 }
end)

fl.scenario("partition", function()
  fl.partition{ { "a" }, { "b" }, bogus = 1 }
end)

fl.scenario("library", function()
  local o = lib_call({ size = 1, colour = "red" })
  assert(o.size == 1 and o.colour == "red")
  assert(next(lib_call(nil)) == nil)
  lib_call({ size = 2, bogus = 1 })
end)

fl.scenario("old name", function()
  old_lib_call({ size = 1 })
  old_lib_call({ bogus = 1 })
end)

fl.scenario("not a table", function()
  lib_call("big")
end)

fl.scenario("version", function()
  print("fl.version=" .. tostring(fl.version))
end)

fl.scenario("known options pass", function()
  local r = fl.exec{ "sh", "-c", "echo hi", timeout = 5 }
  fl.expect.that(r.code == 0 and r.stdout == "hi\n", "fl.exec ran")
  local p = fl.probe.cmd{ "true", timeout = 1, every = 0.1 }
  fl.expect.that(p.kind == "cmd" and p.cmd[1] == "true" and p.timeout == 1, "probe built")
end)

-- The namespace layer (root): the same checks, and a partition that would
-- span both layers is refused.
local util = require("faultline.lib.util")

fl.scenario("isolated in netns mode", function()
  assert(util.netns())
  fl.service{ name = "a", cmd = { "sleep", "30" } }
  fl.service{ name = "b", cmd = { "sleep", "30" } }
  fl.expect.isolated("a", "b", { bogus = 1 })
end)

fl.scenario("mixed layers", function()
  assert(util.netns())
  fl.service{ name = "a", cmd = { "sleep", "30" } }
  fl.service{ name = "c", cmd = { "sleep", "30" }, network = false }
  fl.partition{ { "a" }, { "c" } }
end)

-- Option values out of range are errors too, at the caller's line.
fl.scenario("bad stop_timeout", function()
  fl.service{ name = "a", cmd = { "true" }, stop_timeout = "abc" }
end)

fl.scenario("negative stop_timeout", function()
  fl.service{ name = "a", cmd = { "true" }, stop_timeout = -1 }
end)

fl.scenario("umask out of range", function()
  fl.service{ name = "a", cmd = { "true" }, umask = 0x1ff1 }
end)
