# Shared by the integration tests: where things are, a scratch directory,
# and assertions that say what went wrong.
set -u
FAULTLINE=${FAULTLINE:-$(cd "$(dirname "$0")/../.." && pwd)/build/faultline}
FL_SRC=${FL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SCEN=$FL_SRC/tests/integration/scenarios
TMP=$(mktemp -d /tmp/fl-it.XXXXXX)
MARK="fl-test-$$-$(date +%s%N)"
export FL_TEST_MARK=$MARK
trap 'rm -rf "$TMP"' EXIT
failures=0
# skip, skip_kernel, skip_part: exit 77, or a failure in CI (see skip.sh).
. "$(dirname "$0")/lib/skip.sh"

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

ok() {
  echo "ok: $*"
}

# expect_exit CODE DESCRIPTION -- command...
expect_exit() {
  want=$1
  what=$2
  shift 3
  "$@" >"$TMP/out" 2>"$TMP/err"
  got=$?
  if [ "$got" != "$want" ]; then
    fail "$what: exit $got, want $want"
    sed 's/^/    stdout: /' "$TMP/out" | tail -20 >&2
    sed 's/^/    stderr: /' "$TMP/err" | tail -20 >&2
    return 1
  fi
  ok "$what (exit $got)"
}

# expect_grep FILE PATTERN DESCRIPTION
expect_grep() {
  if grep -qE -- "$2" "$1"; then
    ok "$3"
  else
    fail "$3: /$2/ not in $1"
    sed 's/^/    | /' "$1" | tail -20 >&2
  fi
}

# Processes whose environment carries this test's marker: the services a
# scenario started (they inherit FL_TEST_MARK through faultline).
marked_pids() {
  for e in /proc/[0-9]*/environ; do
    pid=${e#/proc/}
    pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    env=$( { tr '\0' '\n' <"$e"; } 2>/dev/null) || continue
    # faultline itself and its reaper carry the marker too: only count the
    # processes it started as services (and their children).
    case "$env" in
    *"FL_TEST_MARK=$MARK"*) case "$env" in *FL_SERVICE=*) echo "$pid" ;; esac ;;
    esac
  done
}

# expect_no_leftovers DESCRIPTION [SECONDS]: within SECONDS (default 2), no
# service process of this test is alive.
expect_no_leftovers() {
  limit=${2:-2}
  i=0
  while [ $i -lt $((limit * 10)) ]; do
    left=$(marked_pids)
    [ -z "$left" ] && { ok "$1: no process left"; return 0; }
    sleep 0.1
    i=$((i + 1))
  done
  fail "$1: processes left after ${limit}s: $left"
  for p in $left; do echo "    $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" >&2; done
  kill -9 $left 2>/dev/null
  return 1
}

finish() {
  if [ "$failures" -gt 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
  fi
  echo "all passed"
  exit 0
}

# expect_pack_clean DESCRIPTION: after a pack ran from "$TMP/cwd": no process
# is left with that working directory (nginx rewrites its environment, so
# the marker cannot find it), none carries the marker, and nothing was
# written there (everything belongs under the run directories).
expect_pack_clean() {
  cd "$TMP" || exit 1
  i=0
  while :; do
    left=""
    for d in /proc/[0-9]*; do
      [ "$(readlink "$d/cwd" 2>/dev/null)" = "$TMP/cwd" ] && left="$left ${d#/proc/}"
    done
    [ -z "$left" ] || [ $i -ge 50 ] && break
    i=$((i + 1))
    sleep 0.1
  done
  if [ -z "$left" ]; then
    ok "no process left in the run's working directory"
  else
    fail "processes left after 5 s:$left"
    for p in $left; do echo "    $(tr '\0' ' ' </proc/$p/cmdline 2>/dev/null)" >&2; done
    kill -9 $left 2>/dev/null
  fi
  expect_no_leftovers "$1" 5
  left=$(ls -A "$TMP/cwd")
  [ -z "$left" ] && ok "nothing written outside the run directories" ||
    fail "files written in the working directory: $left"
}
