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
expect_grep "$TMP/out" "2 passed, 0 failed" "both scenarios ran, no module did"

[ "$failures" -eq 0 ]
