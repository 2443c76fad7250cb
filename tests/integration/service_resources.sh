#!/bin/sh
# Resource use and resource faults through real cgroups: a busy loop under
# svc:cpu{quota = 0.2} uses about 20 % of a CPU over the fault window (the
# share is measured from the cgroup's CPU counter and put in the fault's
# entry); a process allocating past svc:memory{max = "48M"} is killed by
# the OOM killer and its exit recorded as that crash; fl.heal() and the
# nemesis's cpu faults go through the same calls; the series are in
# report.json and drawn in report.html; no cgroup is left in any hierarchy,
# after a normal end and after kill -9 of faultline (the reaper).
. "$(dirname "$0")/lib/common.sh"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed"
[ "$(id -u)" = 0 ] || skip "needs root (cgroups)"
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
  grep -qw cpu /sys/fs/cgroup/cgroup.controllers && grep -qw memory /sys/fs/cgroup/cgroup.controllers ||
    skip_kernel "cpu and memory cgroup controllers" "not in /sys/fs/cgroup/cgroup.controllers"
else
  [ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] && [ -e /sys/fs/cgroup/memory/memory.limit_in_bytes ] ||
    skip_kernel "cpu and memory cgroup controllers" "no v1 cpu and memory hierarchies"
fi
S=$SCEN/resources.lua
TAG="r$$"

# The cgroups a faultline pid made, in every hierarchy.
cgroups_of() {
  ls -d /sys/fs/cgroup/faultline-"$1"-* /sys/fs/cgroup/*/faultline-"$1"-* 2>/dev/null
}

# 1. A whole run.
FL_RES_TAG=$TAG expect_exit 0 "the resources scenario passes" -- \
  "$FAULTLINE" run "$S" --out "$TMP/run"
expect_grep "$TMP/out" "quota set: (20000|20000 100000)$" "the quota is written to the cgroup (v1 cfs_quota_us or v2 cpu.max)"
expect_grep "$TMP/out" "quota lifted: (-1|max 100000)$" "svc:cpu() lifts it"
expect_grep "$TMP/out" "after fl.heal: (-1|max 100000)$" "fl.heal() lifts a quota"
expect_grep "$TMP/out" "hog alive after the limit: false" "the hog died under the memory limit"
expect_grep "$TMP/out" "nemesis: cpu busy-$TAG" "fl.nemesis drew and applied a cpu fault"
expect_grep "$TMP/out" "after the nemesis: (-1|max 100000)$" "the nemesis lifted its quota"

# The figures in report.json. Tolerance of the measured share: the quota
# caps it at 0.20 (plus at most one 100 ms period's quota, 0.02 s, at each
# edge of the 3 s window: +0.013, so <= 0.22). The lower bound is 0.10, or
# half of what the loop got in the second before the quota when that was
# less: test runs of six people share two CPUs here, and a loop that got
# 15 % unlimited cannot get 20 % under a quota. An unapplied quota on an
# idle machine gives ~1.0 and fails the upper bound; the quota file itself
# is checked above.
python3 - "$TMP/run/report.json" "$TAG" >"$TMP/py" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); tag = sys.argv[2]
svc = {s["name"]: s for s in r["services"]}
busy, hog = svc["busy-" + tag], svc["hog-" + tag]
cpu = [f for f in r["faults"] if f["kind"] == "cpu"]
mem = [f for f in r["faults"] if f["kind"] == "memory"]
share = cpu[0]["attrs"]["cpu_share_measured"]
# what the loop got before the quota (the first second), from the series
res = busy["resources"]
pts = [(t, c) for t, c in zip(res["t_s"], res["cpu_s"]) if t <= cpu[0]["start_s"]]
free = (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0]) if len(pts) >= 2 else 1.0
print("share", share, "before the quota", round(free, 3))
assert cpu[0]["attrs"]["quota"] == 0.2, cpu[0]
assert share <= 0.22, "measured share %s above the 0.2 quota" % share
assert share >= min(0.10, free / 2), "measured share %s: the loop got %s before" % (share, free)
assert len(cpu) == 3, "three cpu faults (quota, fl.heal, nemesis): %d" % len(cpu)
assert all(f["end_s"] is not None for f in cpu), cpu
res = busy["resources"]
assert len(res["t_s"]) >= 10 and len(res["t_s"]) == len(res["cpu_s"]) == len(res["rss_bytes"]), res
assert res["cpu_s"] == sorted(res["cpu_s"]), "cumulative CPU never goes back"
assert busy["cpu_s"] > 0.5, busy["cpu_s"]
assert hog["peak_rss_bytes"] > 16 << 20, hog["peak_rss_bytes"]
assert hog["peak_rss_bytes"] <= 48 << 20, hog["peak_rss_bytes"]
assert hog.get("oom_kills") == 1, hog.get("oom_kills")
crash = [s for s in hog["states"] if s["state"] == "crashed"]
assert crash and "OOM killer" in crash[0]["detail"], hog["states"]
assert mem[0]["attrs"]["oom_kills"] == 1, mem
print("figures ok")
PY
if grep -q "figures ok" "$TMP/py"; then
  ok "report.json: $(grep share "$TMP/py"), series, peak RSS, OOM crash"
else
  fail "report.json figures"
  sed 's/^/    /' "$TMP/py" >&2
fi
expect_grep "$TMP/run/report.html" 'class="res-chart"' "report.html draws the resource charts"
expect_grep "$TMP/run/report.html" "res-cpu-busy-$TAG" "a CPU line for the busy service"
expect_grep "$TMP/run/report.html" "OOM killer" "report.html shows the OOM crash"
expect_grep "$TMP/run/summary.md" "peak RSS" "summary.md's services table has peak RSS"
[ -z "$(ls -d /sys/fs/cgroup/*/faultline-*/busy-"$TAG" /sys/fs/cgroup/faultline-*/busy-"$TAG" 2>/dev/null)" ] &&
  ok "no cgroup of the run left" || fail "cgroups left: $(ls -d /sys/fs/cgroup/*/faultline-*/*-"$TAG")"

# 2. kill -9 of faultline while a quota is on: the reaper removes every
# cgroup it made, in every hierarchy, and the busy loop with them.
FL_RES_TAG=k$TAG "$FAULTLINE" run "$S" --out "$TMP/kill" >"$TMP/kill.out" 2>&1 &
run=$!
i=0; while ! grep -q "quota set" "$TMP/kill.out" && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
n=$(cgroups_of $run | wc -l)
[ "$n" -ge 2 ] && ok "the run has cgroups in $n hierarchies" || fail "cgroups of the run: $n"
kill -9 $run
wait $run 2>/dev/null
i=0; while [ -n "$(cgroups_of $run)" ] && [ $i -lt 60 ]; do sleep 0.05; i=$((i+1)); done
[ -z "$(cgroups_of $run)" ] && ok "no cgroup left after kill -9 of faultline" ||
  fail "left after kill -9: $(cgroups_of $run)"
expect_no_leftovers "kill -9 of faultline" 3

# 3. faultline cleanup sweeps a dead run's cgroups from the controller
# hierarchies too (a v1 machine's memory and cpu counterparts).
stale=
for h in /sys/fs/cgroup/memory /sys/fs/cgroup/cpu; do
  [ -e "$h/cgroup.procs" ] || continue
  mkdir -p "$h/faultline-4194304-stale$$/svc" && stale="$stale $h/faultline-4194304-stale$$"
done
if [ -n "$stale" ]; then
  expect_exit 0 "faultline cleanup" -- "$FAULTLINE" cleanup
  expect_grep "$TMP/out" "faultline-4194304-stale$$" "cleanup names the stale controller cgroups"
  left=0
  for d in $stale; do [ -e "$d" ] && left=$((left + 1)); done
  [ "$left" = 0 ] && ok "cleanup removed them" || fail "$left stale controller cgroups left"
fi

# 4. Without root: no cgroups, so the series come from /proc, and a quota
# is an error that names the service and what is missing (exit 2).
if command -v setpriv >/dev/null 2>&1; then
  N=$SCEN/resources-noroot.lua
  U=$TMP/nobody
  mkdir -p "$U" && chmod 755 "$TMP" && chmod 777 "$U"
  cp "$FAULTLINE" "$N" "$U/" && chmod 755 "$U/faultline" && chmod 644 "$U/$(basename "$N")"
  expect_exit 2 "svc:cpu without cgroups is an error" -- setpriv --reuid=65534 --regid=65534 \
    --clear-groups "$U/faultline" run "$U/$(basename "$N")" --only "resources without cgroups" --out "$U/run"
  expect_grep "$TMP/out" "service spin: a CPU quota needs a cgroup .*not run as root" \
    "the error names the service and the missing cgroup"
  python3 - "$U/run/report.json" >"$TMP/py2" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["services"][0]
print("cpu_s", s["cpu_s"], "points", len(s["resources"]["t_s"]))
assert s["cpu_s"] > 0.05, s["cpu_s"]  # a busy loop, on a loaded machine
assert len(s["resources"]["t_s"]) >= 3 and max(s["resources"]["rss_bytes"]) > 0
print("fallback ok")
PY
  grep -q "fallback ok" "$TMP/py2" && ok "the /proc fallback sampled the service: $(head -1 "$TMP/py2")" ||
    { fail "the /proc fallback's series"; sed 's/^/    /' "$TMP/py2" >&2; }
  setpriv --reuid=65534 --regid=65534 --clear-groups "$U/faultline" run "$U/$(basename "$N")" \
    --only "nemesis cpu without cgroups" --out "$U/nem" >"$TMP/nem.out" 2>&1
  expect_grep "$TMP/nem.out" "fl.nemesis: fault 'cpu' cannot be applied in this run: service idle: a CPU quota needs a cgroup" \
    "a nemesis asked for cpu without cgroups stops with the error"
else
  skip_part "setpriv (util-linux) missing: the fallback is not tested"
fi

[ "$failures" -eq 0 ]
