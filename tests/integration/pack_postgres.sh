#!/bin/sh
# The PostgreSQL pack (scenarios/postgres): list-append transactions under
# kill -9, pause, latency and partition at each isolation level.
# SERIALIZABLE must pass with no anomaly at all; REPEATABLE READ must show
# write skew (G2-item) and READ COMMITTED read or write skew (G-single,
# G2-item), counted as expected findings, and nothing their level forbids.
# The test fails if SERIALIZABLE shows any anomaly or the weaker levels
# show none. Needs root (the server runs as user postgres).
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the server runs as user postgres)"
[ -x /usr/lib/postgresql/15/bin/postgres ] || skip "postgresql 15 not installed (apt-get install postgresql)"
id postgres >/dev/null 2>&1 || skip "no postgres user (apt-get install postgresql)"
command -v setpriv >/dev/null 2>&1 || skip "setpriv (util-linux) not installed"
PACK=$FL_SRC/scenarios/postgres
chmod 755 "$TMP"
mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 1

expect_exit 0 "the postgres pack passes" -- "$FAULTLINE" suite \
  "$PACK/serializable.lua" "$PACK/repeatable-read.lua" "$PACK/read-committed.lua" \
  --jobs 3 --out "$TMP/runs"
expect_grep "$TMP/out" "3 passed, 0 failed, 0 errors" "all three scenarios passed"

# What each level showed, read off report.json (not the exit code alone).
python3 - "$TMP"/runs <<'PY' || fail "the pack does not separate the levels as it should"
import glob, json, os, sys
runs = {}
for p in glob.glob(os.path.join(sys.argv[1], "*", "report.json")):
    r = json.load(open(p))
    runs[os.path.basename(os.path.dirname(p))] = r
def run(word):
    hits = [r for d, r in runs.items() if word in d]
    assert len(hits) == 1, (word, list(runs))
    return hits[0]
def txn_check(r):
    return next(c for c in r["checks"] if c.get("kind") == "transactions")
ok = True
s = txn_check(run("serializable"))
counts = s.get("evidence", {}).get("counts") or {}
print("    SERIALIZABLE: %s, anomalies %s" % (s["status"], counts or "none"))
if s["status"] != "pass" or s.get("anomaly_count", 0) != 0 or s.get("expected_finding"):
    print("FAIL: SERIALIZABLE showed an anomaly: " + s["message"]); ok = False
for word, allowed, needs in (("repeatable-read", {"G2-item"}, {"G2-item"}),
                             ("read-committed", {"G-single", "G2-item"}, {"G-single", "G2-item"})):
    c = txn_check(run(word))
    counts = c.get("evidence", {}).get("counts") or {}
    print("    %s: %s, anomalies %s" % (word, c["status"], counts))
    extra = set(k for k, v in counts.items() if v) - allowed
    if c["status"] != "pass" or extra:
        print("FAIL: %s showed what it forbids: %s" % (word, extra or c["message"])); ok = False
    if sum(counts.get(k, 0) for k in needs) == 0:
        print("FAIL: %s showed none of %s" % (word, sorted(needs))); ok = False
    if not c.get("expected_finding"):
        print("FAIL: %s: the allowed anomalies are not marked as expected findings" % word); ok = False
sys.exit(0 if ok else 1)
PY
ok "SERIALIZABLE clean; REPEATABLE READ and READ COMMITTED show only what they allow, and show it"
expect_pack_clean "after the postgres pack"
finish
