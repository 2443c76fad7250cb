#!/bin/sh
# A real Toxiproxy client library, unchanged, against `faultline proxy`: the
# Node client (toxiproxy-node-client, pinned) creates a proxy, adds a latency
# toxic, takes the proxy down, resets, populates, updates and removes, and
# the bytes through the proxy show each step. Skipped (77) where node or npm
# is missing or the package cannot be installed (no registry reachable).
. "$(dirname "$0")/lib/common.sh"

CLIENT=toxiproxy-node-client@4.1.0
command -v node >/dev/null 2>&1 || skip "node not found"
command -v npm >/dev/null 2>&1 || skip "npm not found"
[ -x "$FAULTLINE" ] || skip "$FAULTLINE not built"
node -e 'process.exit(typeof fetch === "function" ? 0 : 1)' ||
  skip "node has no fetch (needs node 18+)"
if ! (cd "$TMP" && timeout 120 npm install --no-audit --no-fund --loglevel=error \
  --prefix "$TMP/npm" "$CLIENT" >"$TMP/npm.log" 2>&1); then
  tail -5 "$TMP/npm.log"
  skip "cannot install $CLIENT from the npm registry"
fi

"$FAULTLINE" proxy --api 127.0.0.1:0 >"$TMP/proxy.out" 2>"$TMP/proxy.err" &
PID=$!
trap 'kill -9 $PID 2>/dev/null; rm -rf "$TMP"' EXIT
i=0
API=""
while [ $i -lt 100 ] && [ -z "$API" ]; do
  API=$(sed -n 's|^faultline proxy: API on http://\([^ ]*\) .*|\1|p' "$TMP/proxy.out")
  sleep 0.05
  i=$((i + 1))
done
[ -n "$API" ] || { fail "the API did not start"; finish; }

cat >"$TMP/client.js" <<'EOF'
const { Toxiproxy } = require(process.env.CLIENT_DIR);
const api = process.env.API;
const toxiproxy = new Toxiproxy(`http://${api}`);
let failures = 0, passes = 0;
function check(cond, what) {
  if (cond) { passes++; console.log(`ok: ${what}`); }
  else { failures++; console.log(`FAIL: ${what}`); }
}
// A GET of /version through the proxy (the upstream is the API itself).
async function through(listen) {
  const t0 = Date.now();
  try {
    const r = await fetch(`http://${listen}/version`);
    await r.text();
    return Date.now() - t0;
  } catch (e) {
    return -1;
  }
}
(async () => {
  check((await toxiproxy.getVersion()).includes('"version"'), "getVersion");
  const proxy = await toxiproxy.createProxy({
    name: "client_test", listen: "127.0.0.1:0", upstream: api });
  check(proxy.enabled === true && /:\d+$/.test(proxy.listen), `createProxy ${proxy.listen}`);
  check((await through(proxy.listen)) >= 0, "bytes pass");

  const toxic = await proxy.addToxic({ type: "latency", attributes: { latency: 300 } });
  check(toxic.name === "latency_downstream" && toxic.stream === "downstream" &&
        toxic.toxicity === 1, "addToxic defaults");
  let ms = await through(proxy.listen);
  check(ms >= 290 && ms < 5000, `latency through the proxy: ${ms} ms`);
  const updated = await toxic.update({ attributes: { latency: 100 }, toxicity: 1 });
  check(updated.attributes.latency === 100 && updated.attributes.jitter === 0, "toxic update");
  const fetched = await proxy.getToxic("latency_downstream");
  check(fetched.attributes.latency === 100, "getToxic");

  const down = await proxy.update({ enabled: false });
  check(down.enabled === false, "update enabled:false");
  check((await through(proxy.listen)) < 0, "down refuses connections");

  await toxiproxy.reset();
  const again = await toxiproxy.get("client_test");
  check(again.enabled === true, "reset enables");
  ms = await through(proxy.listen);
  check(ms >= 0 && ms < 250, `reset removes toxics: ${ms} ms`);

  const made = await toxiproxy.populate([
    { name: "client_pop", listen: "127.0.0.1:0", upstream: api }]);
  check(made.client_pop && made.client_pop.enabled === true, "populate");
  const all = await toxiproxy.getAll();
  check(Object.keys(all).sort().join(",") === "client_pop,client_test", "getAll");

  const t2 = await proxy.addToxic({ type: "bandwidth", stream: "upstream",
                                    attributes: { rate: 1000 } });
  await t2.remove();
  check((await proxy.getToxic("bandwidth_upstream").then(() => 1, () => 0)) === 0,
        "toxic remove");
  try {
    await toxiproxy.createProxy({ name: "client_test", listen: "127.0.0.1:0", upstream: api });
    check(false, "duplicate create fails");
  } catch (e) {
    check(/409/.test(e.message), `duplicate create fails: ${e.message}`);
  }
  await made.client_pop.remove();
  await proxy.remove();
  check(Object.keys(await toxiproxy.getAll()).length === 0, "remove");
  console.log(`${passes} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log(`FAIL: ${e.stack || e}`); process.exit(1); });
EOF

if API="$API" CLIENT_DIR="$TMP/npm/node_modules/toxiproxy-node-client" \
  timeout 60 node "$TMP/client.js"; then
  ok "$CLIENT works unchanged"
else
  fail "$CLIENT"
  sed 's/^/    | /' "$TMP/proxy.err" | tail -20 >&2
fi
kill -TERM $PID
wait $PID
rc=$?
[ "$rc" = 0 ] && ok "exits 0 on SIGTERM" || fail "exit $rc on SIGTERM"
finish
