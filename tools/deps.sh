#!/bin/sh
# Checks that the libraries faultline builds against are present and, when
# run as root, installs the missing ones from the distribution. Otherwise it
# prints the one apt-get line to run and fails.
#
# usage: tools/deps.sh [build|test|bench|all]
set -u
what=${1:-build}

# Debian package, and the file that tells us it is installed.
need="libuv1-dev:/usr/include/uv.h
libcurl4-openssl-dev:/usr/include/x86_64-linux-gnu/curl/curl.h
libjansson-dev:/usr/include/jansson.h
liblua5.4-dev:/usr/include/lua5.4/lua.h
libcmocka-dev:/usr/include/cmocka.h
libhttp-parser-dev:/usr/include/http_parser.h
pkg-config:/usr/bin/pkg-config
cmake:/usr/bin/cmake"

case "$what" in
test|all)
  need="$need
libxml2-utils:/usr/bin/xmllint
redis-server:/usr/bin/redis-server
nginx:/usr/sbin/nginx
python3-flask:/usr/lib/python3/dist-packages/flask/__init__.py
etcd-server:/usr/bin/etcd
etcd-client:/usr/bin/etcdctl
nftables:/usr/sbin/nft
iproute2:/usr/sbin/ip
python3-jsonschema:/usr/lib/python3/dist-packages/jsonschema/__init__.py
chromium:/usr/bin/chromium" ;;
esac
case "$what" in
bench|all)
  need="$need
iperf3:/usr/bin/iperf3
haproxy:/usr/sbin/haproxy
socat:/usr/bin/socat
redis-server:/usr/bin/redis-server
redis-tools:/usr/bin/redis-benchmark" ;;
esac

missing=""
for line in $need; do
  pkg=${line%%:*}
  file=${line#*:}
  # curl.h lives under a multiarch directory on non-amd64 machines.
  if [ "$pkg" = libcurl4-openssl-dev ]; then
    ls /usr/include/*/curl/curl.h /usr/include/curl/curl.h >/dev/null 2>&1 && continue
  fi
  [ -e "$file" ] || missing="$missing $pkg"
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "faultline: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q $missing >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $missing >/dev/null; } ||
    { echo "faultline: apt-get install failed for:$missing" >&2; exit 1; }
  exit 0
fi

echo "faultline: missing packages:$missing" >&2
echo "run:  sudo apt-get install -y$missing" >&2
exit 1
