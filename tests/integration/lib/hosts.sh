#!/bin/sh
# Test hosts of our own: N network namespaces on this machine, each running
# its own sshd on its own address, for the remote_* tests (issue 16). Sourced
# after common.sh (it uses $TMP, skip, skip_kernel); also run as a script by
# its own watcher: `sh hosts.sh down DIR`.
#
#   hosts_up N      makes hosts 1..N and sets, for each i:
#                     HOSTS_ADDR_i   its address (10.77.X.(i+1); X is a free
#                                    /24 counted down from 10.77.250.0)
#                     HOSTS_NS_i     its namespace, fl<id>-<i>
#                   and HOSTS_DIR (keys, configs, logs), HOSTS_ID (8 hex),
#                   HOSTS_KEY (the client's private key), HOSTS_KNOWN (a
#                   known_hosts file listing every host's key by address),
#                   HOSTS_BRIDGE_ADDR (this machine's address on the bridge);
#                   the watcher's pid is in $HOSTS_DIR/watcher.pid.
#   hosts_ssh I CMD...
#                   runs CMD on host I as root with that key, strict host key
#                   checking against HOSTS_KNOWN, no ~/.ssh/config, batch mode.
#   hosts_down      removes everything hosts_up made; also called from the
#                   EXIT trap hosts_up installs (it chains common.sh's).
#
# Names and state follow faults/netns.h, so `faultline cleanup` finds them:
# bridge fl<id> and veths fl<id>v<i> (alias "faultline"), namespaces
# fl<id>-<i>, /run/faultline/run-<id> naming this test's shell (pid and start
# time: alive while the test runs) and /run/faultline/net-10.77.X.0-24 held
# under flock(2) for as long as the test runs, as a faultline run holds its
# subnet, so a run never picks the same /24.
#
# No traffic leaves these addresses: the namespaces have no default route,
# and each sshd listens on its own namespace address only. Each sshd and
# every ssh session it forks live inside the host's namespace; hosts_down
# kills every process in it (`ip netns pids`) before deleting it. A watcher
# in a session of its own does the same when the test's shell dies, SIGKILL
# included, so no sshd outlives the test.

hosts_require() {
  [ "$(id -u)" = 0 ] || skip "test hosts need root (network namespaces)"
  for t in ip sshd ssh ssh-keygen scp flock setsid; do
    command -v $t >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] ||
      skip "$t not installed (tools/deps.sh test installs openssh-server, openssh-client)"
  done
  err=$(ip netns add "flskip$$" 2>&1) || skip_kernel "network namespaces" "ip netns add: $err"
  ip netns del "flskip$$"
}

# The 22nd field of /proc/PID/stat (start time), as faults/netns_stale.c reads it.
hosts_start_time() {
  sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20
}

# Takes the first free /24 counted down from 10.77.250.0 under its lock (fd
# 9, held by this shell until it exits); sets HOSTS_NET (10.77.X).
hosts_take_subnet() {
  x=250
  while [ $x -ge 100 ]; do
    f=/run/faultline/net-10.77.$x.0-24
    if ! ip -4 route show 10.77.$x.0/24 | grep -q . && exec 9<>"$f" && flock -n 9; then
      if [ "$(stat -c %d:%i "$f" 2>/dev/null)" = "$(stat -L -c %d:%i /proc/$$/fd/9)" ]; then
        printf %s "$HOSTS_ID" >"$f"
        HOSTS_NET=10.77.$x
        return 0
      fi
    fi
    exec 9>&-
    x=$((x - 1))
  done
  return 1
}

# hosts_sshd_config I: the config of host I's sshd.
hosts_sshd_config() {
  cat <<EOF
ListenAddress $(eval echo "\$HOSTS_ADDR_$1")
Port 22
HostKey $HOSTS_DIR/host$1_key
PidFile $HOSTS_DIR/sshd$1.pid
AuthorizedKeysFile $HOSTS_DIR/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
Subsystem sftp internal-sftp
# A login shell of bash reads ~/.bashrc for an ssh command when SHLVL is
# unset (bash's SSH_SOURCE_BASHRC): on a machine whose root .bashrc is slow
# (pyenv init: ~2 s) every command paid for it. SHLVL=1 makes bash skip it.
SetEnv SHLVL=1
EOF
}

hosts_up() {
  hosts_require
  n=$1
  HOSTS_DIR=$TMP/hosts
  HOSTS_ID=$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
  HOSTS_KEY=$HOSTS_DIR/id_client
  HOSTS_KNOWN=$HOSTS_DIR/known_hosts
  HOSTS_N=$n
  mkdir -p "$HOSTS_DIR" /run/faultline /run/sshd
  echo "$$ $(hosts_start_time $$)" >/run/faultline/run-$HOSTS_ID
  echo "$HOSTS_ID" >"$HOSTS_DIR/id"
  # From here on anything made is removed, however the test ends.
  trap 'hosts_down; rm -rf "$TMP"' EXIT
  trap 'exit 1' INT TERM HUP
  setsid sh "$FL_SRC/tests/integration/lib/hosts.sh" watch "$$" "$HOSTS_DIR" \
    </dev/null >/dev/null 2>&1 9>&- &
  echo $! >"$HOSTS_DIR/watcher.pid"
  hosts_take_subnet || { fail "no free /24 in 10.77.100-250.0 for the test hosts"; finish; }
  HOSTS_BRIDGE_ADDR=$HOSTS_NET.1
  echo "$HOSTS_NET" >"$HOSTS_DIR/net"
  br=fl$HOSTS_ID
  ip link add name "$br" type bridge &&
    ip link set dev "$br" alias faultline &&
    ip addr add "$HOSTS_BRIDGE_ADDR/24" dev "$br" &&
    ip link set dev "$br" up || { fail "cannot make bridge $br"; finish; }
  ssh-keygen -q -t ed25519 -N '' -C faultline-test-client -f "$HOSTS_KEY" </dev/null
  cp "$HOSTS_KEY.pub" "$HOSTS_DIR/authorized_keys"
  : >"$HOSTS_KNOWN"
  i=1
  while [ $i -le "$n" ]; do
    hosts_up_one $i || { fail "cannot make test host $i"; finish; }
    i=$((i + 1))
  done
  i=1
  while [ $i -le "$n" ]; do
    hosts_wait_sshd $i || { fail "sshd on test host $i never answered"; finish; }
    i=$((i + 1))
  done
}

hosts_up_one() {
  i=$1
  ns=fl$HOSTS_ID-$i
  addr=$HOSTS_NET.$((i + 1))
  eval "HOSTS_ADDR_$i=$addr HOSTS_NS_$i=$ns"
  ip netns add "$ns" &&
    ip link add name "fl${HOSTS_ID}v$i" type veth peer name eth0 netns "$ns" &&
    ip link set dev "fl${HOSTS_ID}v$i" alias faultline master "fl$HOSTS_ID" up &&
    ip -n "$ns" link set dev lo up &&
    ip -n "$ns" addr add "$addr/24" dev eth0 &&
    ip -n "$ns" link set dev eth0 up || return 1
  ssh-keygen -q -t ed25519 -N '' -C "faultline-test-host$i" -f "$HOSTS_DIR/host${i}_key" \
    </dev/null || return 1
  echo "$addr $(cut -d' ' -f1,2 "$HOSTS_DIR/host${i}_key.pub")" >>"$HOSTS_KNOWN"
  hosts_sshd_config "$i" >"$HOSTS_DIR/sshd$i.conf"
  ip netns exec "$ns" "$(command -v sshd || echo /usr/sbin/sshd)" -f "$HOSTS_DIR/sshd$i.conf" \
    -E "$HOSTS_DIR/sshd$i.log" 9>&-
}

# Waits up to 5 s for host I's sshd to answer a command.
hosts_wait_sshd() {
  t=0
  while [ $t -lt 50 ]; do
    hosts_ssh "$1" true 2>/dev/null && return 0
    sleep 0.1
    t=$((t + 1))
  done
  sed 's/^/    sshd: /' "$HOSTS_DIR/sshd$1.log" >&2
  return 1
}

hosts_ssh() {
  i=$1
  shift
  ssh -F none -i "$HOSTS_KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$HOSTS_KNOWN" \
    -o ConnectTimeout=3 "root@$(eval echo "\$HOSTS_ADDR_$i")" "$@" 9>&-
}

# hosts_remove ID NET: everything made under that id, whether or not it was
# finished: processes in its namespaces, namespaces, links, state files.
hosts_remove() {
  id=$1
  for n in /run/netns/fl"$id"-*; do
    [ -e "$n" ] || continue
    pids=$(ip netns pids "${n##*/}" 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    ip netns del "${n##*/}" 2>/dev/null
  done
  for l in /sys/class/net/fl"$id"v*; do
    [ -e "$l" ] && ip link del "${l##*/}" 2>/dev/null
  done
  [ -e "/sys/class/net/fl$id" ] && ip link del "fl$id" 2>/dev/null
  rm -f "/run/faultline/run-$id"
  f=/run/faultline/net-$2.0-24
  [ -n "$2" ] && [ "$(cat "$f" 2>/dev/null)" = "$id" ] && rm -f "$f"
}

hosts_down() {
  [ -n "${HOSTS_ID:-}" ] || return 0
  hosts_remove "$HOSTS_ID" "${HOSTS_NET:-}"
  exec 9>&- # lets go of the subnet (its file is gone already)
  HOSTS_ID=
}

# The watcher: once the test's shell (pid $1) is gone, removes what it made
# ($2 is HOSTS_DIR); the net file's lock went with the shell.
if [ "${1:-}" = watch ]; then
  while kill -0 "$2" 2>/dev/null; do sleep 1; done
  [ -f "$3/id" ] || exit 0
  hosts_remove "$(cat "$3/id")" "$(cat "$3/net" 2>/dev/null)"
  rm -rf "$3"
  exit 0
fi
if [ "${1:-}" = down ]; then
  hosts_remove "$(cat "$2/id")" "$(cat "$2/net" 2>/dev/null)"
  exit 0
fi
