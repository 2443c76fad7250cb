#!/bin/sh
# The Lua API reference (docs/lua-api/*.md) cannot drift from the runtime
# API: every public name is documented, every documented name exists, the
# documented options of each call are exactly those its checker accepts
# (scenarios/lua-api-docs.lua); and the editor annotations (editor/) are
# what tools/gen_annotations.py makes of the reference today.
. "$(dirname "$0")/lib/common.sh"

expect_exit 0 "the reference matches the runtime API" -- \
  env FL_API_EDITOR="$FL_SRC/editor" FL_API_DOCS="$FL_SRC/docs/lua-api" FL_API_LIBS="$FL_SRC/scenarios/lib" \
  "$FAULTLINE" run "$SCEN/lua-api-docs.lua" --out "$TMP/r"
grep '^DRIFT: ' "$TMP/out" >&2
expect_grep "$TMP/out" "^checked: [0-9]+ files, [0-9]+ headings" "the figures are printed"
if grep -q '^checked: 0 files' "$TMP/out"; then fail "no reference file was read"; fi

# The check itself can fail: a reference with one heading removed and one
# option added must be caught, naming both.
mkdir -p "$TMP/docs"
cp "$FL_SRC"/docs/lua-api/*.md "$TMP/docs/"
sed -i 's/^### `fl\.sleep(s)`.*$/### removed/' "$TMP/docs/core.md"
sed -i 's/^| `clients` |/| `bogus_opt` | number | 1 | not real |\n&/' "$TMP/docs/workloads.md"
echo '### `fl.no_such_call(x)`' >>"$TMP/docs/core.md"
expect_exit 1 "a drifted reference fails" -- \
  env FL_API_EDITOR="$FL_SRC/editor" FL_API_DOCS="$TMP/docs" FL_API_LIBS="$FL_SRC/scenarios/lib" \
  "$FAULTLINE" run "$SCEN/lua-api-docs.lua" --out "$TMP/r2"
expect_grep "$TMP/out" "DRIFT: fl.sleep exists at run time but has no heading" "names the undocumented fl.sleep"
expect_grep "$TMP/out" "DRIFT: fl.no_such_call .* does not exist at run time" "names the documented fl.no_such_call"
expect_grep "$TMP/out" "DRIFT: fl.workload .*documented option 'bogus_opt' is not accepted" \
  "names the documented option nobody accepts"

# The annotations are generated from the reference and up to date.
if python3 "$FL_SRC/tools/gen_annotations.py" --check "$FL_SRC/docs/lua-api" "$FL_SRC/editor" \
  >"$TMP/gen" 2>&1; then
  ok "editor/ is what tools/gen_annotations.py makes of the reference"
else
  fail "editor/ is out of date: run python3 tools/gen_annotations.py"
  sed 's/^/    /' "$TMP/gen" >&2
fi
# Every function heading of the reference is in the annotations.
n=$(cat "$FL_SRC"/docs/lua-api/*.md | grep -c '^### `fl\.[a-z_.]*[({]')
m=$(cat "$FL_SRC"/editor/*.lua | grep -c '^function fl\.')
if [ "$n" -gt 0 ] && [ "$m" -ge "$n" ]; then
  ok "annotations declare every documented fl.* function ($m of $n)"
else
  fail "annotations declare $m fl.* functions, the reference $n"
fi

[ "$failures" -eq 0 ]
