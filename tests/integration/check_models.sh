#!/bin/sh
# The table of models (check/models.c) is the one place a model is named:
#   1. every row is reachable from Lua as fl.check.<lua>{...}, checks its
#      valid-<model>_*.jsonl histories in tests/data/histories/ as passing and
#      its invalid-<model>_*.jsonl ones as failing, and refuses an unknown
#      option with the scenario's file and line;
#   2. the model lists in README.md and check/README.md (between the
#      "models:" markers) and README.md's `faultline check ... --model a|b`
#      line are what the rows say. FL_UPDATE_DOCS=1 rewrites them instead:
#        FL_UPDATE_DOCS=1 ctest -R check_models   (or run this file)
# Needs python3 for the JSON; 77 = skipped.
. "$(dirname "$0")/lib/common.sh"

command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
[ -x "$FAULTLINE" ] || skip "no faultline binary at $FAULTLINE"
HIST=$FL_SRC/tests/data/histories

expect_exit 0 "--list-models --json" -- "$FAULTLINE" check --list-models --json
cp "$TMP/out" "$TMP/models.jsonl"
[ "$(wc -l <"$TMP/models.jsonl")" -ge 5 ] && ok "at least the five models" ||
  fail "fewer than five models listed"
for m in register cas-register kv set counter; do
  grep -q "\"name\":\"$m\"" "$TMP/models.jsonl" && ok "model $m listed" || fail "model $m missing"
done
expect_exit 0 "check --help" -- "$FAULTLINE" check --help
while read -r line; do
  name=$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
  grep -q "^  $name " "$TMP/out" && ok "--help describes $name" || fail "--help lacks $name"
done <"$TMP/models.jsonl"
expect_exit 2 "unknown model" -- "$FAULTLINE" check "$HIST/valid-kv_two-keys.jsonl" --model bogus
names=$(python3 -c 'import json,sys
n = [json.loads(l)["name"] for l in open(sys.argv[1])]
print(", ".join(n[:-1]) + " or " + n[-1])' "$TMP/models.jsonl")
grep -qF "unknown model \"bogus\" ($names)" "$TMP/err" && ok "the message lists the models" ||
  fail "the message does not list the models ($names): $(head -1 "$TMP/err")"

# 1. Lua: one scenario calling every row's function on its histories.
python3 - "$TMP/models.jsonl" "$HIST" "$TMP" <<'PY' || fail "cannot write the scenarios"
import glob, json, os, sys
models = [json.loads(l) for l in open(sys.argv[1])]
hist, tmp = sys.argv[2], sys.argv[3]
calls, expect, bad = [], [], []
luas = []
for m in models:
    if m["lua"] not in luas:
        luas.append(m["lua"])
    opts = m["options"].split()
    if not m["lua_default"] and "model" not in opts:
        bad.append(m["name"])
    for kind, status in (("valid", "pass"), ("invalid", "fail")):
        for f in sorted(glob.glob(os.path.join(hist, "%s-%s_*.jsonl" % (kind, m["name"])))):
            label = "%s %s" % (kind, os.path.basename(f))
            model = 'model = "%s", ' % m["name"] if "model" in opts else ""
            calls.append('  fl.check.%s{ %shistory = %s, name = %s }'
                         % (m["lua"], model, json.dumps(f), json.dumps(label)))
            expect.append("%s\t%s" % (label, status))
    calls.append('  fl.expect.that(type(fl.check.%s) == "function", "fl.check.%s exists")'
                 % (m["lua"], m["lua"]))
with open(os.path.join(tmp, "models.lua"), "w") as out:
    out.write('local fl = require("faultline")\nfl.scenario("models", function()\n')
    out.write("\n".join(calls) + "\nend)\n")
with open(os.path.join(tmp, "expect.tsv"), "w") as out:
    out.write("\n".join(expect) + "\n")
with open(os.path.join(tmp, "luas"), "w") as out:
    out.write("\n".join(luas) + "\n")
with open(os.path.join(tmp, "unreachable"), "w") as out:
    out.write("".join(n + "\n" for n in bad))
PY
[ -s "$TMP/unreachable" ] && fail "models unreachable from Lua (neither the default of their call nor taking model=): $(cat "$TMP/unreachable")"
"$FAULTLINE" run "$TMP/models.lua" --out "$TMP/run" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 1 ] && ok "the scenario fails (the invalid histories), exit 1" ||
  fail "models.lua: exit $rc, want 1 ($(tail -3 "$TMP/err"))"
n=0
while IFS="$(printf '\t')" read -r label want; do
  n=$((n + 1))
  got=$(python3 -c 'import json,sys
r = json.load(open(sys.argv[1]))
print(" ".join(c["status"] for c in r["checks"] if c["name"] == sys.argv[2]) or "missing")' \
    "$TMP/run/report.json" "$label")
  [ "$got" = "$want" ] && ok "$label: $got" || fail "$label: $got, want $want"
done <"$TMP/expect.tsv"
[ "$n" -ge 8 ] || fail "only $n histories checked from Lua"

# An unknown option is an error naming the scenario's line, for every call.
while read -r lua; do
  printf 'local fl = require("faultline")\nfl.scenario("x", function()\n  fl.check.%s{ bogus = 1 }\nend)\n' \
    "$lua" >"$TMP/bogus.lua"
  expect_exit 2 "fl.check.$lua{bogus}" -- "$FAULTLINE" run "$TMP/bogus.lua" --out "$TMP/bogus"
  expect_grep "$TMP/out" "bogus.lua:3: fl.check.$lua: unknown option 'bogus'" \
    "fl.check.$lua names the file, line and key"
done <"$TMP/luas"

# 2. The docs.
python3 - "$TMP/models.jsonl" "$FL_SRC" "${FL_UPDATE_DOCS:-}" <<'PY'
import json, re, sys
models = [json.loads(l) for l in open(sys.argv[1])]
src, update = sys.argv[2], sys.argv[3] == "1"
BEGIN = ("<!-- models: generated from the rows of check/models.c; "
         "FL_UPDATE_DOCS=1 tests/integration/check_models.sh rewrites it -->")
END = "<!-- end of models -->"
rows = ["| model | Lua call | history | what is checked |",
        "|-------|----------|---------|-----------------|"]
group = {}
for m in models:
    group[m["lua"]] = group.get(m["lua"], 0) + 1
for m in models:
    opts = m["options"].split()
    args = (['model = "%s"' % m["name"]] if "model" in opts else []) + \
           ["%s=" % o for o in opts if o != "model"]
    call = "`fl.check.%s{%s}`" % (m["lua"], ", ".join(args))
    if m["lua_default"] and group[m["lua"]] > 1:
        call += " (its default model)"
    rows.append("| `%s` | %s | %s | %s |" % (m["name"], call, m["ops"], m["summary"]))
block = BEGIN + "\n" + "\n".join(rows) + "\n" + END
names = "|".join(m["name"] for m in models)
stale = []
for rel in ("README.md", "check/README.md"):
    path = "%s/%s" % (src, rel)
    text = open(path).read()
    new = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text,
                 flags=re.S)
    if BEGIN not in text:
        print("FAIL: %s has no models block (%s)" % (rel, BEGIN))
        stale.append(rel)
        continue
    if rel == "README.md":
        new = re.sub(r"(faultline check HISTORY\.jsonl\.\.\. --model )[a-z|-]+",
                     lambda mo: mo.group(1) + names, new)
    if new != text:
        if update:
            open(path, "w").write(new)
            print("ok: rewrote %s" % rel)
        else:
            print("FAIL: %s: the model list differs from check/models.c "
                  "(FL_UPDATE_DOCS=1 tests/integration/check_models.sh rewrites it)" % rel)
            stale.append(rel)
    else:
        print("ok: %s lists the models of check/models.c" % rel)
sys.exit(1 if stale else 0)
PY
[ $? -eq 0 ] || fail "the docs do not list the models of check/models.c"
finish
