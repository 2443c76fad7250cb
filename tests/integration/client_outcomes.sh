#!/bin/sh
# Whether a failed client request may have reached the server (issue 12):
# fl.http's and conn:send's fourth error value, against a server that
# applies a request and dies before answering, resets, or stops reading.
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null || skip "python3 not installed"
expect_exit 0 "client outcomes" -- "$FAULTLINE" run "$SCEN/client-outcomes.lua" --out "$TMP/r"
expect_grep "$TMP/r/logs/server.log" "applied 690" "the server applied the request"
expect_grep "$TMP/out" "http applied then refused: nil ECONNREFUSED.* true" \
  "libcurl's retry ended in ECONNREFUSED, reported as maybe sent"
expect_grep "$TMP/out" "http refused: nil .* ECONNREFUSED false" "a refused connect is not sent"
expect_no_leftovers "after the run"

# The README's example of a safe mapping runs and passes as written.
awk '/^### Writing a client mapping that is safe/ { s = 1 }
     s && /^```lua/ { c = 1; next }
     c && /^```/ { exit }
     c { print }' "$FL_SRC/README.md" >"$TMP/safe-mapping.lua"
expect_grep "$TMP/safe-mapping.lua" "write_outcome" "the README example was extracted"
expect_exit 0 "the README's safe mapping example" -- \
  "$FAULTLINE" run "$TMP/safe-mapping.lua" --out "$TMP/readme"
expect_grep "$TMP/out" "linearizab.*passed" "its history is linearizable"
expect_no_leftovers "after the README example"
finish
