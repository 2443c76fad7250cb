#!/bin/sh
# `faultline check` on every history in tests/data/histories/. A file's name
# says what to expect: <valid|invalid|malformed>-<model>_<name>[-L<line>].jsonl
# exits 0, 1 or 2, and a malformed one's message names <file>:<line>.
# Then: several files in one call, --json, the time budget (exit 3), usage.
# Needs FAULTLINE (the binary) and FL_SRC (the source tree); 77 = skipped.
set -u

FAULTLINE=${FAULTLINE:-build/faultline}
FL_SRC=${FL_SRC:-.}
DIR="$FL_SRC/tests/data/histories"
if [ ! -x "$FAULTLINE" ]; then
  . "$(dirname "$0")/lib/skip.sh"
  skip "no faultline binary at $FAULTLINE"
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

failures=0
checked=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

for f in "$DIR"/*.jsonl; do
  base=$(basename "$f" .jsonl)
  kind=${base%%-*}
  rest=${base#*-}
  model=${rest%%_*}
  case $kind in
  valid) want=0 ;;
  invalid) want=1 ;;
  malformed) want=2 ;;
  *) fail "$base: unknown prefix"; continue ;;
  esac
  "$FAULTLINE" check "$f" --model "$model" >"$TMP/out" 2>&1
  rc=$?
  checked=$((checked + 1))
  if [ "$rc" -ne "$want" ]; then
    fail "$base: exit $rc, wanted $want"
    sed 's/^/    /' "$TMP/out"
    continue
  fi
  case $kind in
  malformed)
    line=${base##*-L}
    if ! grep -q "$f:$line: " "$TMP/out"; then
      fail "$base: the message does not name $f:$line"
      sed 's/^/    /' "$TMP/out"
    fi
    ;;
  invalid)
    # The anomaly is printed: the operations and their processes and times.
    if ! grep -q "NOT VALID" "$TMP/out" || ! grep -q "process [0-9]" "$TMP/out"; then
      fail "$base: no anomaly printed"
      sed 's/^/    /' "$TMP/out"
    fi
    ;;
  valid)
    grep -q "^$f: valid" "$TMP/out" || fail "$base: no verdict line"
    ;;
  esac
done
[ "$checked" -ge 10 ] || fail "only $checked histories found in $DIR"

# Several files: one verdict line each, and the worst exit code.
"$FAULTLINE" check "$DIR/valid-kv_two-keys.jsonl" "$DIR/valid-kv_generated.jsonl" \
  --model kv >"$TMP/out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "two valid files: exit $rc"
[ "$(grep -c ': valid (kv' "$TMP/out")" -eq 2 ] || fail "two valid files: not two verdict lines"
"$FAULTLINE" check "$DIR/valid-kv_two-keys.jsonl" "$DIR/invalid-kv_generated-stale.jsonl" \
  --model kv >"$TMP/out" 2>&1
[ $? -eq 1 ] || fail "valid + invalid: wanted exit 1"
"$FAULTLINE" check "$DIR/invalid-kv_generated-stale.jsonl" \
  "$DIR/malformed-kv_double-invoke-L2.jsonl" --model kv >"$TMP/out" 2>&1
[ $? -eq 2 ] || fail "invalid + malformed: wanted exit 2"

# --json: one object per file, with its status.
"$FAULTLINE" check "$DIR/valid-kv_two-keys.jsonl" "$DIR/invalid-kv_generated-stale.jsonl" \
  "$DIR/malformed-kv_missing-type-L2.jsonl" --model kv --json >"$TMP/out" 2>"$TMP/err"
[ $? -eq 2 ] || fail "--json: wanted exit 2"
[ "$(wc -l <"$TMP/out")" -eq 3 ] || fail "--json: wanted 3 lines"
grep -q '"status":"valid"' "$TMP/out" || fail "--json: no valid status"
grep -q '"status":"invalid".*"anomaly"\|"anomaly".*"status":"invalid"' "$TMP/out" ||
  fail "--json: no invalid status with its anomaly"
grep -q '"status":"bad-input"' "$TMP/out" || fail "--json: no bad-input status"

# A budget too small to decide: unknown, exit 3, never a guess.
"$FAULTLINE" check --generate 20000 --keys 1 --procs 50 --seed 3 >"$TMP/big.jsonl" 2>/dev/null ||
  fail "--generate failed"
"$FAULTLINE" check "$TMP/big.jsonl" --model kv --timeout 0.000001 >"$TMP/out" 2>&1
rc=$?
[ "$rc" -eq 3 ] || fail "tiny budget: exit $rc, wanted 3"
grep -q "UNKNOWN" "$TMP/out" || fail "tiny budget: no UNKNOWN verdict"
"$FAULTLINE" check "$TMP/big.jsonl" --model kv >"$TMP/out" 2>&1 || fail "big history: not valid"
"$FAULTLINE" check --generate 20000 --keys 1 --procs 50 --seed 3 --corrupt \
  >"$TMP/bad.jsonl" 2>/dev/null
"$FAULTLINE" check "$TMP/bad.jsonl" --model kv >"$TMP/out" 2>&1
[ $? -eq 1 ] || fail "corrupted big history accepted"

# Usage errors are exit 2.
"$FAULTLINE" check "$DIR/valid-kv_two-keys.jsonl" >/dev/null 2>&1
[ $? -eq 2 ] || fail "no --model: wanted exit 2"
"$FAULTLINE" check "$DIR/valid-kv_two-keys.jsonl" --model bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown model: wanted exit 2"
"$FAULTLINE" check "$DIR/valid-kv_two-keys.jsonl" --model kv --frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown option: wanted exit 2"
"$FAULTLINE" check "$TMP/missing.jsonl" --model kv >"$TMP/out" 2>&1
[ $? -eq 2 ] || fail "missing file: wanted exit 2"
grep -q "missing.jsonl" "$TMP/out" || fail "missing file: not named"

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "ok: $checked histories and the command line"
exit 0
