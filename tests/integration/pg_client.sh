#!/bin/sh
# fl.pg (harness/lua_pg.c) against a real PostgreSQL 15 started by
# faultline.lib.postgres: rows, NULLs, parameters and tags; each error kind
# made on purpose (sql, serialization 40001, deadlock 40P01, timeout, closed,
# lost, connect); other tasks run while a query waits. Needs root (the
# server runs as user postgres) and Debian's postgresql.
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the server runs as user postgres)"
[ -x /usr/lib/postgresql/15/bin/postgres ] || skip "postgresql 15 not installed (apt-get install postgresql)"
id postgres >/dev/null 2>&1 || skip "no postgres user (apt-get install postgresql)"
command -v setpriv >/dev/null 2>&1 || skip "setpriv (util-linux) not installed"
# The server's user must reach its data directory under the run directory.
chmod 755 "$TMP"
mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 1
expect_exit 0 "fl.pg against postgres" -- "$FAULTLINE" run "$SCEN/pg-client.lua" --out "$TMP/run"
python3 - "$TMP/run/report.json" <<'PY' || fail "report.json: a check failed or is missing"
import json, sys
r = json.load(open(sys.argv[1]))
checks = {c["name"]: c for c in r["checks"]}
want = ["rows: NULL is fl.json.null", "sql: sqlstate", "serialization: sqlstate",
        "deadlock: one victim", "loop: other tasks ran during the query", "timeout: kind",
        "closed: kind", "lost: kind", "connect: kind"]
missing = [w for w in want if w not in checks]
bad = [n for n, c in checks.items() if c["status"] != "pass"]
assert not missing and not bad and len(checks) >= 30, (missing, bad, len(checks))
PY
ok "every fl.pg check passed ($(grep -c '"status": "pass"' "$TMP/run/report.json") passes)"
expect_pack_clean "after the fl.pg run"
finish
