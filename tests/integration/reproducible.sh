#!/bin/sh
# The seed drives every random choice: the same seed gives the same fault
# schedule (kinds, targets, attributes, order); another seed, another one.
. "$(dirname "$0")/lib/common.sh"

schedule() {
  # kind, targets and attributes of each fault, in order: not the times.
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for f in r["faults"]:
    print(f["kind"], json.dumps(f["targets"]), json.dumps(f.get("attrs", {}), sort_keys=True))
PY
}

expect_exit 0 "first run, seed 42" -- "$FAULTLINE" run "$SCEN/randomized.lua" --seed 42 --out "$TMP/a"
expect_exit 0 "second run, seed 42" -- "$FAULTLINE" run "$SCEN/randomized.lua" --seed 42 --out "$TMP/b"
expect_exit 0 "third run, seed 43" -- "$FAULTLINE" run "$SCEN/randomized.lua" --seed 43 --out "$TMP/c"
schedule "$TMP/a/report.json" >"$TMP/a.txt"
schedule "$TMP/b/report.json" >"$TMP/b.txt"
schedule "$TMP/c/report.json" >"$TMP/c.txt"
[ -s "$TMP/a.txt" ] && ok "faults recorded: $(wc -l <"$TMP/a.txt")" || fail "no fault recorded"
if cmp -s "$TMP/a.txt" "$TMP/b.txt"; then ok "same seed, same fault schedule"; else
  fail "same seed, different schedules"; diff "$TMP/a.txt" "$TMP/b.txt" >&2; fi
cmp -s "$TMP/a.txt" "$TMP/c.txt" && fail "seeds 42 and 43 gave the same schedule" ||
  ok "another seed, another schedule"
expect_grep "$TMP/a/report.json" '"seed": 42' "the seed is in the report"
expect_grep "$TMP/a/report.json" 'faultline run .*randomized.lua --seed 42' "with the command to re-run it"
expect_no_leftovers "after the randomized runs"
finish
