#!/bin/sh
# fl.service's user, group, umask, rlimits and stop_signal: what the service
# runs as (it writes it down), the signal that stopped it, and one clear
# error per bad value naming the scenario's line. Needs root (switching user).
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "needs root (switching user)"
[ -x /usr/bin/python3 ] || skip "python3 not installed"
S=$FL_SRC/tests/integration/scenarios/service-identity.lua
chmod 755 "$TMP"
expect_exit 0 "identity" -- "$FAULTLINE" run "$S" --only identity --out "$TMP/r"
want="$(id -u nobody) $(getent group nogroup | cut -d: -f3) 27 123"
[ "$(cat "$TMP/r/ident/whoami")" = "$want" ] && ok "uid, gid, umask 027, nofile 123" ||
  fail "whoami: $(cat "$TMP/r/ident/whoami"), want $want"
[ "$(cat "$TMP/r/ident/stopped-by")" = SIGINT ] && ok "stopped by SIGINT" || fail "stopped-by: $(cat "$TMP/r/ident/stopped-by")"
[ "$(stat -c %U "$TMP/r/ident")" = nobody ] && ok "its folder under the run directory is its own" || fail "owner: $(stat -c %U "$TMP/r/ident")"
expect_exit 2 "unknown user" -- "$FAULTLINE" run "$S" --only "bad identity" --out "$TMP/b1"
grep -q "service-identity.lua:28: fl.service x: user 'no-such-user-here' does not exist here" "$TMP/out" && ok "names the user and line" || fail "$(cat "$TMP/out")"
expect_exit 2 "unknown signal" -- "$FAULTLINE" run "$S" --only "bad signal" --out "$TMP/b2"
grep -q "service-identity.lua:32: .*'stop_signal' SIGNOPE is not one of SIGTERM" "$TMP/out" && ok "names stop_signal and line" || fail "$(cat "$TMP/out")"
expect_exit 2 "unknown rlimit" -- "$FAULTLINE" run "$S" --only "bad rlimit" --out "$TMP/b3"
grep -q "service-identity.lua:36: .*unknown option 'nfile'" "$TMP/out" && ok "names the rlimit and line" || fail "$(cat "$TMP/out")"
finish
