#!/bin/sh
# PostgreSQL as an unprivileged user (user = "postgres") with its fast
# shutdown (stop_signal = "SIGINT"): stop returns in well under a second
# with a client in a long query, and none of its backends (which setsid)
# survives. Needs root (to switch user) and Debian's postgresql.
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root (switching to user postgres)"
[ -x /usr/lib/postgresql/15/bin/postgres ] || skip "postgresql 15 not installed"
id postgres >/dev/null 2>&1 || skip "no postgres user"
command -v setpriv >/dev/null 2>&1 || skip "setpriv (util-linux) not installed"
D=$TMP/pgdata
mkdir -p "$D" && chown postgres:postgres "$D" && chmod 700 "$D"
chmod 755 "$TMP"
setpriv --reuid=postgres --regid=postgres --init-groups \
  /usr/lib/postgresql/15/bin/initdb -D "$D" -A trust -U postgres >"$TMP/initdb.log" 2>&1 ||
  fail "initdb: $(tail -5 "$TMP/initdb.log")"
FL_PGDATA=$D expect_exit 0 "postgres run" -- "$FAULTLINE" run "$FL_SRC/tests/integration/scenarios/postgres-stop.lua" --out "$TMP/run"
grep -q "postgres stopped in 0\." "$TMP/out" && ok "stopped in under a second" || fail "slow stop: $(grep stopped "$TMP/out")"
python3 - "$TMP/run/report.json" <<'PY' || fail "report"
import json, sys
r = json.load(open(sys.argv[1]))
c = next(c for c in r["checks"] if c["name"] == "fast stop")
assert c["status"] == "pass" and c["took_s"] < 1, c
PY
ok "fast stop recorded"
pgrep -u postgres -f "postgres: " >/dev/null && fail "a backend survived: $(pgrep -a -u postgres -f 'postgres: ')" || ok "no backend left"
finish
