#!/bin/sh
# Your own modules: require("lib.NAME") finds lib/NAME.lua beside the
# scenario file from any working directory, and `suite` never runs files
# under a folder named lib/ as scenarios.
. "$(dirname "$0")/lib/common.sh"

P=$TMP/project
mkdir -p "$P/lib" "$P/sub/lib" "$P/sub/deeper"
cat >"$P/lib/greet.lua" <<'LUA'
-- A helper module: loading it as a scenario file would fail the run.
error("lib/greet.lua was run as a scenario")
LUA
cat >"$P/sub/lib/greet.lua" <<'LUA'
local fl = require("faultline")
local M = {}
function M.hello(opts)
  opts = fl.options(opts, "greet.hello", { "name" })
  return "hello " .. (opts.name or "world")
end
return M
LUA
cat >"$P/sub/uses-lib.lua" <<'LUA'
local fl = require("faultline")
local greet = require("lib.greet")
fl.scenario("own module", function()
  fl.expect.that(greet.hello{ name = "pg" } == "hello pg", "lib.greet loaded beside the file")
  local ok, err = pcall(greet.hello, { nmae = "x" })
  fl.expect.that(not ok and err:find("uses%-lib%.lua:5: greet.hello: unknown option 'nmae'"),
    "the module's option check names the scenario's line: " .. tostring(err))
end)
LUA
cat >"$P/sub/deeper/plain.lua" <<'LUA'
local fl = require("faultline")
fl.scenario("plain", function() fl.sleep(0.01) end)
LUA
# A custom workload recorded by hand (fl.history, workloads.md) and judged
# by the built-in checkers: a register that is linearizable, and a stale
# read that is not (the expected-finding form finds it).
cat >"$P/sub/hand-recorded.lua" <<'LUA'
local fl = require("faultline")
local util = require("faultline.lib.util")
local reg = require("lib.register")
fl.scenario("hand-recorded register", function()
  local r = reg.new()
  local t = fl.spawn(function()
    for i = 1, 20 do r:write(i); fl.sleep(0.005) end
  end)
  for _ = 1, 20 do r:read(); fl.sleep(0.004) end
  t:wait()
  local res = fl.check.linearizable{ model = "register", history = fl.history.path(), name = "hand" }
  fl.expect.that(res and res.valid == true and res.ops >= 40, "40 hand-recorded operations, linearizable")
end)
fl.scenario("hand-recorded stale read", function()
  local p1, p2 = fl.history.process(), fl.history.process()
  local t0 = fl.history.invoke(p1, "write", "r", 1)
  fl.history.complete(p1, "ok", "write", "r", 1, nil, t0)
  fl.sleep(0.01)
  local t1 = fl.history.invoke(p2, "read", "r", nil)
  fl.history.complete(p2, "ok", "read", "r", nil, nil, t1)  -- nothing, after 1 was acknowledged
  util.finds_nonlinearizable{ model = "register", history = fl.history.path(), name = "stale read found" }
end)
LUA
cat >"$P/sub/lib/register.lua" <<'LUA'
-- A register in memory whose operations are recorded by hand.
local fl = require("faultline")
local M, R = {}, {}
R.__index = R
function M.new() return setmetatable({ value = nil, wp = fl.history.process(), rp = fl.history.process() }, R) end
function R:write(v)
  local t0 = fl.history.invoke(self.wp, "write", "r", v)
  fl.sleep(0.001)
  self.value = v
  fl.history.complete(self.wp, "ok", "write", "r", v, nil, t0)
end
function R:read()
  local t0 = fl.history.invoke(self.rp, "read", "r", nil)
  local v = self.value
  fl.sleep(0.001)
  fl.history.complete(self.rp, "ok", "read", "r", v, nil, t0)
  return v
end
return M
LUA
expect_exit 0 "a hand-recorded workload, judged by the built-in checkers" -- \
  "$FAULTLINE" run "$P/sub/hand-recorded.lua" --out "$TMP/hand"
expect_grep "$TMP/out" "check hand: passed" "the linearizable history passes"
expect_grep "$TMP/out" "stale read found: passed" "the stale read is found"

mkdir -p "$P/sub/deeper/lib/nested"
cp "$P/lib/greet.lua" "$P/sub/deeper/lib/nested/bad.lua"

# From another working directory, by a relative path and an absolute one.
mkdir -p "$TMP/elsewhere"
cd "$TMP/elsewhere" || exit 1
expect_exit 0 "require(\"lib.greet\") from another directory (absolute path)" -- \
  "$FAULTLINE" run "$P/sub/uses-lib.lua" --out "$TMP/r1"
expect_exit 0 "require(\"lib.greet\") by a relative path" -- \
  "$FAULTLINE" run ../project/sub/uses-lib.lua --out "$TMP/r2"

expect_exit 0 "suite lists only scenario files" -- "$FAULTLINE" suite "$P" --list
expect_grep "$TMP/out" "uses-lib.lua" "the scenario is listed"
expect_grep "$TMP/out" "plain.lua" "a scenario in a sub-folder is listed"
if grep -q "greet.lua\|bad.lua" "$TMP/out"; then
  fail "a file under lib/ was listed as a scenario"
  cat "$TMP/out" >&2
else
  ok "no file under a lib/ folder is listed"
fi
expect_exit 0 "suite runs green with modules under lib/" -- \
  "$FAULTLINE" suite "$P" --out "$TMP/suite"
expect_grep "$TMP/out" "4 passed, 0 failed" "every scenario ran, no module did"

[ "$failures" -eq 0 ]
