#!/bin/sh
# Checks that what faultline builds against, and what its tests, bench and
# fuzzers run, is present and, when run as root, installs the missing
# packages from the distribution. Otherwise it prints the one apt-get line to
# run and fails.
#
# usage: tools/deps.sh [build|test|bench|fuzz|all]
#
# `test` is everything `make test` (and `make stress`) runs, read off every
# test, scenario and helper: a test that finds one of these missing skips
# (exit 77), and in CI a skip fails the run, so a package missing here is a
# red CI, not a quiet gap. A path with '*' is a multiarch directory.
set -u
what=${1:-build}

# Each line: the Debian package, a file that tells it is installed, and
# which lists need it (b build, t test, n bench, f fuzz) with who runs it.
table() {
  cat <<'LIST'
libuv1-dev            /usr/include/uv.h              b  the build
libcurl4-openssl-dev  /usr/include/*/curl/curl.h     b  the build
libjansson-dev        /usr/include/jansson.h         b  the build
liblua5.4-dev         /usr/include/lua5.4/lua.h      b  the build
libcmocka-dev         /usr/include/cmocka.h          b  the build (unit tests)
libhttp-parser-dev    /usr/include/http_parser.h     b  the build
libpq-dev             /usr/include/postgresql/libpq-fe.h b  the build (fl.pg)
pkg-config            /usr/bin/pkg-config            b  the build
gcc                   /usr/bin/gcc                   b  the build
cmake                 /usr/bin/cmake                 b  the build
libxml2-utils         /usr/bin/xmllint               t  integration/report_render, suite (junit.xml)
redis-server          /usr/bin/redis-server          tn integration/pack_redis, proxy_scenario, tcp_client
nginx                 /usr/sbin/nginx                tn integration/pack_microservices, pack_microservices_http; bench/bench_http
python3-flask         /usr/lib/python3/dist-packages/flask/__init__.py t integration/pack_microservices, pack_microservices_http
etcd-server           /usr/bin/etcd                  t  integration/pack_etcd, clock_faults; unit/test_clock
etcd-client           /usr/bin/etcdctl               t  scenarios/etcd (by hand)
nftables              /usr/sbin/nft                  t  integration/netns_* (the namespace layer)
iproute2              /usr/sbin/ip                   t  integration/netns_*
iproute2              /usr/sbin/tc                   t  integration/netns_bandwidth (tbf, netem)
python3-jsonschema    /usr/lib/python3/dist-packages/jsonschema/__init__.py t integration/report_render
chromium              /usr/bin/chromium              t  integration/report_render (headless page)
libfaketime           /usr/lib/*/faketime/libfaketimeMT.so.1 t integration/clock_faults, netns_cleanup; unit/test_clock
iperf3                /usr/bin/iperf3                tn integration/netns_bandwidth
jq                    /usr/bin/jq                    t  integration/clock_faults, netns_partition
curl                  /usr/bin/curl                  tn integration/kvnode_replication, proxy_api, netns_partition, http_faults; bench/bench_http
python3               /usr/bin/python3               tn integration/udp_proxy, reproducible, kvnode_replication, netns_partition, lua_api_docs, init, txn_check, service_cgroup, service_resources, http_faults; bench/bench_http
openssh-server        /usr/sbin/sshd                 t  integration/remote_* (test hosts: lib/hosts.sh)
openssh-client        /usr/bin/ssh                   t  integration/remote_* (ssh, scp, ssh-keygen)
util-linux            /usr/bin/setpriv               t  integration/service_cgroup, service_postgres, pg_client, pack_postgres
postgresql            /usr/lib/postgresql/15/bin/postgres t integration/service_postgres (user = "postgres", stop_signal), pg_client, pack_postgres
libcap2-bin           /usr/sbin/capsh                t  integration/netns_cleanup (without CAP_NET_ADMIN)
clang-format          /usr/bin/clang-format          t  integration/format
git                   /usr/bin/git                   t  integration/format (git ls-files)
libc6-dev             /usr/lib/*/libc.a              t  unit/test_clock (cc -static)
nodejs                /usr/bin/node                  t  integration/proxy_api_client (node 18+)
npm                   /usr/bin/npm                   t  integration/proxy_api_client (toxiproxy-node-client)
haproxy               /usr/sbin/haproxy              n  bench
wrk                   /usr/bin/wrk                   n  bench/bench_http
socat                 /usr/bin/socat                 n  bench
redis-tools           /usr/bin/redis-benchmark       n  bench
clang                 /usr/bin/clang                 f  make fuzz
libclang-rt-14-dev    /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a f make fuzz
LIST
}

case "$what" in
build) want=b ;;
test) want=bt ;;
bench) want=bn ;;
fuzz) want=f ;;
all) want=btnf ;;
*) echo "usage: tools/deps.sh [build|test|bench|fuzz|all]" >&2; exit 2 ;;
esac

missing=""
while read -r pkg file lists _; do
  case "$lists" in *["$want"]*) ;; *) continue ;; esac
  # Unquoted on purpose: a '*' in the path is a glob (multiarch).
  # shellcheck disable=SC2086
  ls $file >/dev/null 2>&1 && continue
  case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
done <<EOF
$(table)
EOF

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "faultline: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  apt-get install -y -q $missing >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $missing >/dev/null; } ||
    { echo "faultline: apt-get install failed for:$missing" >&2; exit 1; }
  exit 0
fi

echo "faultline: missing packages:$missing" >&2
echo "run:  sudo apt-get install -y$missing" >&2
exit 1
