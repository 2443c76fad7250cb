#!/bin/sh
# Namespace runs side by side (suite --jobs 4) each get a subnet of their
# own, and leave no namespace, bridge or subnet lock behind.
. "$(dirname "$0")/lib/common.sh"
[ "$(id -u)" = 0 ] || skip "the namespace layer needs root (CAP_NET_ADMIN)"
command -v nft >/dev/null || skip "nft not installed"
expect_exit 0 "four namespace runs at once" -- \
  "$FAULTLINE" suite "$SCEN/netns-parallel" --jobs 4 --out "$TMP/par"
n=$(grep -h "subnet 10\." "$TMP"/par/*.out | grep -v netns: | sed 's/.*subnet //' | sort -u | wc -l)
[ "$n" = 4 ] && ok "four distinct subnets" || fail "subnets: $(grep -h 'subnet 10\.' "$TMP"/par/*.out | grep -v netns:)"
# Only this test's runs: other tests may run namespaces at the same time.
for id in $(grep -ho '"run_id": "[0-9a-f]*"' "$TMP"/par/*/report.json | sed 's/.*: "//; s/"//'); do
  if ip netns list | grep -q "^fl$id" || ip link show "fl$id" >/dev/null 2>&1 ||
    grep -qs "$id" /run/faultline/net-*; then
    fail "run $id left a namespace, its bridge or its subnet lock"
  else
    ok "run $id left nothing"
  fi
done
finish
