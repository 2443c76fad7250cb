#!/bin/sh
# The one option checker (fl.options): an unknown option of any public call
# is an error at the scenario's file:line, exit 2, in every layer; scenario
# libraries get the same from fl.options (and the old fl._check_opts).
# fl.version is the build's version.
. "$(dirname "$0")/lib/common.sh"

F=$SCEN/options.lua

# unknown NAME LINE WHAT: the scenario NAME stops with exit 2 and names
# options.lua:LINE, WHAT and the key.
unknown() {
  expect_exit 2 "$1: unknown option" -- "$FAULTLINE" run "$F" --only "$1" --out "$TMP/r"
  expect_grep "$TMP/out" "options.lua:$2: $3: unknown option 'bogus'" \
    "$1: names the file, line, call and key"
  expect_grep "$TMP/r/report.json" '"status": "error"' "$1: the report says error"
}

unknown "exec" 17 "fl.exec"
unknown "isolated in proxy mode" 21 "fl.expect.isolated"
unknown "probe cmd" 25 "fl.probe.cmd"
unknown "partition" 29 "fl.partition"
unknown "library" 36 "mylib.call"
expect_grep "$TMP/out" "known: colour, size" "the known options are listed"
unknown "old name" 41 "oldlib.call"

expect_exit 2 "options that are not a table" -- "$FAULTLINE" run "$F" --only "not a table" --out "$TMP/r"
expect_grep "$TMP/out" "error: [^ :]*options.lua:45: mylib.call: options must be a table" \
  "names the line, once"

# bad NAME LINE WHAT: a value out of range stops NAME with exit 2 at options.lua:LINE.
bad() {
  expect_exit 2 "$1" -- "$FAULTLINE" run "$F" --only "$1" --out "$TMP/r"
  expect_grep "$TMP/out" "options.lua:$2: $3" "$1: names the file, line, option and value"
}
bad "bad stop_timeout" 79 "fl.service a: 'stop_timeout' abc is not a number of seconds"
bad "negative stop_timeout" 83 "fl.service a: 'stop_timeout' -1 is not a number of seconds"
bad "umask out of range" 87 "fl.service a: 'umask' 8177 is not a mode of 0 to 0777"

expect_exit 0 "known options pass" -- "$FAULTLINE" run "$F" --only "known options pass" --out "$TMP/r"

expect_exit 0 "fl.version" -- "$FAULTLINE" run "$F" --only "version" --out "$TMP/r"
lua_version=$(sed -n 's/^fl\.version=//p' "$TMP/out")
cli_version=$("$FAULTLINE" version | sed -n 's/^faultline //p')
if [ -n "$cli_version" ] && [ "$lua_version" = "$cli_version" ]; then
  ok "fl.version is the build's version ($lua_version)"
else
  fail "fl.version is '$lua_version', faultline version says '$cli_version'"
fi

# The namespace layer, where this machine has it.
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null && ip netns add "flopt$$" 2>/dev/null; then
  ip netns del "flopt$$"
  unknown "isolated in netns mode" 67 "fl.expect.isolated"
  expect_exit 2 "a partition across both layers" -- "$FAULTLINE" run "$F" --only "mixed layers" --out "$TMP/r"
  expect_grep "$TMP/out" "options.lua:74: fl.partition: a is in the namespace layer and c is not" \
    "is refused at its line"
  expect_no_leftovers "after the namespace scenarios"
else
  echo "note: no network namespaces here (needs root, ip, nft): the namespace layer's checks not run"
fi
finish
