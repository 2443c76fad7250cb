#!/bin/sh
# Clock faults through libfaketime, preloaded by the exec shim: a service
# (`date` under the shim) sees +1 hour within a second of asking, jumps back,
# drifts at twice real time, strobes between two offsets and comes back; a
# service skewed before it starts starts skewed. Each change is a "clock"
# fault checked by `date` under the same preload (recorded as a check).
# Programs libfaketime cannot reach (Go, static) are refused with one clear
# line, and no shared memory of libfaketime is left behind.
. "$(dirname "$0")/lib/common.sh"
lib=
for l in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
  /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 \
  /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1; do
  [ -e "$l" ] && lib=$l && break
done
[ -n "$lib" ] || skip "libfaketime not installed (apt-get install libfaketime, or tools/deps.sh test as root)"

cat >"$TMP/clock.lua" <<'EOF'
local fl = require("faultline")
-- The skews a ticker saw: each line is the real time and the service's
-- (fake) time, read one after the other by the service itself, so a busy
-- machine (lines read late from the pipe) does not change them.
local function skews(svc)
  local f = io.open(svc.log)
  local text = f:read("a")
  f:close()
  local out = {}
  for r, e in text:gmatch("(%d+%.%d+) (%d+%.%d+)") do
    out[#out + 1] = { r = tonumber(r), d = tonumber(e) - tonumber(r) }
  end
  return out
end
-- The skew a few lines after a change: two new lines at least, which a busy
-- machine may take longer than the usual 0.35 s to print.
local function skew_now(svc)
  local before = #skews(svc)
  fl.sleep(0.35)
  local s = skews(svc)
  for _ = 1, 100 do
    if #s >= before + 2 then break end
    fl.sleep(0.1)
    s = skews(svc)
  end
  return s[#s].d, s
end
local function near(got, want, what)
  fl.expect.that(math.abs(got - want) < 1, string.format("%s: %.3f s (want %g)", what, got, want))
end

fl.scenario("clock faults", function()
  local t = fl.service{ name = "ticker", clock = true,
    cmd = { "sh", "-c", "while :; do echo $(LD_PRELOAD= date +%s.%N) $(date +%s.%N); sleep 0.1; done" } }
  t:start()
  fl.sleep(0.3)
  near(skew_now(t), 0, "no skew at first")
  t:clock{ offset = 3600 }
  near(skew_now(t), 3600, "one hour ahead")
  t:clock{ jump = -60 }
  near(skew_now(t), 3540, "jumped back a minute")
  -- At x2 the skew grows by one second a second: the slope over the lines
  -- printed after the change (each line's own real time, not when it was
  -- read, so a busy machine widens nothing but the span).
  local n0 = #skews(t)
  t:clock{ rate = 2 }
  fl.sleep(2)
  local _, lines = skew_now(t)
  local first, last = lines[n0 + 2], lines[#lines]
  local slope = (last.d - first.d) / (last.r - first.r)
  fl.expect.that(math.abs(slope - 1) < 0.5 and last.r - first.r > 1,
    string.format("drift at x2: the skew grew %.2f s a second over %.2f s (want 1)",
      slope, last.r - first.r))
  t:clock{ strobe = { -30, 30 }, every = 0.5 }
  -- Both offsets within 2 s; a busy machine may print fewer lines: wait
  -- for more (up to 10 s) rather than judge from too few.
  local seen_lo, seen_hi = false, false
  for _ = 1, 20 do
    fl.sleep(0.5)
    for _, x in ipairs(skews(t)) do
      if math.abs(x.d + 30) < 1 then seen_lo = true end
      if math.abs(x.d - 30) < 1 then seen_hi = true end
    end
    if seen_lo and seen_hi then break end
  end
  fl.expect.that(seen_lo and seen_hi, "strobe: both offsets seen")
  t:clock{}
  near(skew_now(t), 0, "back to real time")

  -- Skewed before it starts: real and fake time from the service itself.
  local s = fl.service{ name = "skewed", clock = true,
    cmd = { "sh", "-c", "echo real=$(LD_PRELOAD= date +%s.%N) fake=$(date +%s.%N); exec sleep 30" },
    ready = fl.probe.log("fake=") }
  s:clock{ offset = -7200 }
  s:start()
  fl.sleep(0.1)
  local f = io.open(s.log)
  local real, fake = f:read("a"):match("real=([%d.]+) fake=([%d.]+)")
  f:close()
  near(tonumber(fake) - tonumber(real), -7200, "started two hours behind")
  s:stop()

  local ok, err = pcall(function() t:clock{ offset = "soon" } end)
  fl.expect.that(not ok and tostring(err):match("'offset' must be a number"), "a bad option")
  local plain = fl.service{ name = "plain", cmd = { "sleep", "30" } }
  ok, err = pcall(function() plain:clock{ offset = 1 } end)
  fl.expect.that(not ok and tostring(err):match("declare it with clock = true"),
    "clock needs clock = true")
end)

fl.scenario("a go program", function()
  fl.service{ name = "etcd", cmd = { "etcd", "--version" }, clock = true }
end)
EOF

expect_exit 0 "clock faults" -- "$FAULTLINE" run "$TMP/clock.lua" --only "clock faults" --out "$TMP/c"
for c in "no skew at first" "one hour ahead" "jumped back a minute" "drift at x2" \
  "strobe: both offsets seen" "back to real time" "started two hours behind" \
  "a bad option" "clock needs clock = true"; do
  expect_grep "$TMP/out" "check $c.*: passed" "$c"
done
expect_grep "$TMP/out" "check clock of ticker took: passed: .*read \+3600\.[0-9]+ s \(want \+3600\.000 s\)" \
  "the +1 hour offset checked by date under the preload"
expect_grep "$TMP/out" "ran at x2\.[0-9]+ \(want x2\.00; measured x[0-9.]+\.\.x[0-9.]+ over [0-9.]+ s" "the drift rate checked, with the interval it was measured in"
# From the ticker's own log: some line reads +3600 s. Lines are
# "[  elapsed] real fake" (the ticker reads both clocks); the skew is fake - real.
sed -n 's/^\[ *[0-9.]*\] \([0-9]\{9,\}\.[0-9]*\) \([0-9]\{9,\}\.[0-9]*\)$/\1 \2/p' \
  "$TMP/c/logs/ticker.log" | awk '{ print $1, $2 - $1 }' >"$TMP/skews"
if awk '$2 > 3599 && $2 < 3601 { found = 1 } END { exit !found }' "$TMP/skews"; then
  ok "the ticker's log shows +3600 s (within a second)"
else
  fail "no +3600 s line in the ticker's log"
  tail -20 "$TMP/skews" >&2
fi
if command -v jq >/dev/null; then
  n=$(jq '[.faults[] | select(.kind == "clock" and .attrs.took == true)] | length' "$TMP/c/report.json")
  [ "$n" -ge 5 ] && ok "$n clock faults in the report, each checked" || fail "clock faults checked: $n"
else skip_part "jq not installed: the clock faults in report.json not counted"
fi
if command -v etcd >/dev/null; then
  expect_exit 2 "a Go program with clock = true" -- "$FAULTLINE" run "$TMP/clock.lua" --only "a go program" --out "$TMP/g"
  expect_grep "$TMP/out" "clock.lua:[0-9]+: fl.service etcd: clock = true cannot work: .* is a Go program" \
    "refused with one clear line"
else skip_part "etcd not installed: the refusal of a Go program not tested"
fi
left=
for f in /dev/shm/faketime_shm_*; do
  [ -e "$f" ] || continue
  p=${f##*_}
  if [ ! -d "/proc/$p" ] || grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null; then
    left="$left $f"
  fi
done
[ -z "$left" ] && ok "no libfaketime shared memory left" || fail "left in /dev/shm:$left"
expect_no_leftovers "after the clock runs"
finish
