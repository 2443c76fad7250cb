-- fl.exec's env=, cwd=, stdin=, timeout= and its unknown-option error;
-- task:cancel() and task:canceled() (tests/integration/exec_tasks.sh).
local fl = require("faultline")

fl.scenario("exec options", function()
  local r = fl.exec{ "sh", "-c", 'printf "%s|%s|" "$FL_X" "${FL_GONE-unset}"; pwd; cat',
    env = { FL_X = "set", FL_GONE = false }, cwd = "/", stdin = "line one\nline two" }
  print("exec1=" .. r.stdout:gsub("\n", "\\n"))
  fl.expect.that(r.code == 0 and r.stdout == "set|unset|/\nline one\nline two",
    "env, cwd and stdin reach the command")
  local inherited = fl.exec{ "sh", "-c", 'printf "%s" "$FL_INHERIT"' }
  fl.expect.that(inherited.stdout == "inherited", "without env, faultline's environment")
  local big = string.rep("x", 300000)
  local wc = fl.exec{ "wc", "-c", stdin = big }
  fl.expect.that(tonumber(wc.stdout:match("%d+")) == #big, "a large stdin is written whole")
  local unread = fl.exec{ "true", stdin = string.rep("y", 5000000) }
  fl.expect.that(unread.code == 0, "a command that exits without reading its stdin (EPIPE)")
  local t0 = fl.now()
  local slow = fl.exec{ "sleep", "5", timeout = 0.2, stdin = "ignored" }
  fl.expect.that(slow.timed_out and fl.now() - t0 < 2, "timeout kills the command")
  local ok, err = pcall(fl.exec, { "true", bogus = 1 })
  fl.expect.that(not ok and err:find("fl.exec: unknown option 'bogus' %(known: timeout, env, cwd, stdin%)"),
    "an unknown option is an error: " .. tostring(err))
  ok, err = pcall(fl.exec, { "true", env = { A = {} } })
  fl.expect.that(not ok and err:find("env must map names to strings"), "a bad env: " .. tostring(err))
  ok, err = pcall(fl.exec, { "true", cwd = "/no/such/dir" })
  fl.expect.that(not ok and err:find("cannot run in /no/such/dir"), "a bad cwd: " .. tostring(err))
end)

fl.scenario("task cancel", function()
  local ticks = 0
  local sampler = fl.spawn(function()
    while true do ticks = ticks + 1; fl.sleep(0.01) end
  end)
  local waiter = fl.spawn(function() return "woke", select("#", sampler:wait()) end)
  local child = fl.spawn(function() return fl.exec{ "sleep", "30" } end)
  fl.sleep(0.2)
  fl.expect.that(sampler:cancel() == true, "cancel ends a running task")
  fl.expect.that(sampler:cancel() == false, "a second cancel says it had ended")
  local at = ticks
  fl.sleep(0.1)
  fl.expect.that(ticks == at, "a canceled task never runs again")
  fl.expect.that(sampler:done() and sampler:canceled(), "done and canceled")
  local what, n = waiter:wait()
  fl.expect.that(what == "woke" and n == 0, "a task waiting for it wakes with no results")
  local t0 = fl.now()
  child:cancel()
  fl.expect.that(fl.now() - t0 < 1 and child:canceled(), "a task in fl.exec is canceled at once")
  local finished = fl.spawn(function() return 1 end)
  fl.expect.that(finished:wait() == 1 and not finished:canceled(), "a task that returned was not canceled")
  fl.expect.that(finished:cancel() == false, "cancel after the end is false")
  local self_task
  self_task = fl.spawn(function()
    local ok, err = pcall(function() return self_task:cancel() end)
    return ok, err
  end)
  local ok, err = self_task:wait()
  fl.expect.that(not ok and tostring(err):find("cannot cancel itself"), "a task cannot cancel itself")
end)
