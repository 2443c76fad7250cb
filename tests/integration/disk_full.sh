#!/bin/sh
# A full disk is an error of the run, never a verdict: the demo on a tmpfs
# too small for what it records must exit 2 naming the file and the cause,
# stop its services, and not print PASS.
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root to mount a small tmpfs"

disk=$TMP/disk
mkdir -p "$disk"
mount -t tmpfs -o size=300k tmpfs "$disk" || skip "cannot mount a tmpfs here"
trap 'umount "$disk" 2>/dev/null; rm -rf "$TMP"' EXIT

# history.jsonl of the demo is about 500 KB: it cannot fit.
expect_exit 2 "demo on a full disk is an error" -- \
  "$FAULTLINE" run "$FL_SRC/scenarios/demo/kvnode.lua" --out "$disk/run" --seed 7
expect_grep "$TMP/out" "ERROR " "the verdict line says ERROR"
expect_grep "$TMP/out" "cannot write $disk/run/(history|timeline)\.jsonl: No space left on device" \
  "the message names the file and the cause"
if grep -qE '^PASS|^FAIL' "$TMP/out"; then fail "a verdict was given on an incomplete history"; fi
expect_grep "$disk/run/report.json" '"status": "error"' "report.json says error"
[ -e "$disk/run/report.json.tmp" ] && fail "report.json.tmp left behind"
expect_no_leftovers "after the full disk"
umount "$disk"

# Room for the history but not for the renderings: still an error, named.
mount -t tmpfs -o size=700k tmpfs "$disk"
expect_exit 2 "renderings that do not fit are an error" -- \
  "$FAULTLINE" run "$FL_SRC/scenarios/demo/kvnode.lua" --out "$disk/run" --seed 7
expect_grep "$TMP/err" "cannot write $disk/run/report\.(html|json)" "names the report file"
expect_no_leftovers "after the full disk (renderings)"
umount "$disk"
finish
