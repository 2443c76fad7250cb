# Skipping, one rule for every test (sourced by common.sh; a test that does
# not use common.sh sources this file on its skip line).
#
#   skip REASON          the test cannot run here: exit 77 (ctest: skipped).
#                        In CI (CI=true, as root, after tools/deps.sh test)
#                        nothing a test needs may be missing, so a skip there
#                        is a failure: exit 1, with the reason.
#   skip_kernel FEATURE [DETAIL]
#                        the kernel does not offer FEATURE (netem, network
#                        namespaces): exit 77 everywhere, CI included, and the
#                        message names the feature.
#   skip_part REASON     one part of a test cannot run here and the rest goes
#                        on: a note locally; in CI a failure (through the
#                        test's own fail, which every test defines).
#
# The messages start with "SKIP:" so `ctest --output-on-failure` and a grep
# of the log list every skip and why.

fl_in_ci() {
  [ "${CI:-}" = true ]
}

skip() {
  if fl_in_ci; then
    echo "FAIL: skipped in CI (CI=true): $* (tools/deps.sh test installs what tests need)"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}

skip_kernel() {
  echo "SKIP: the kernel offers no $1${2:+: $2}"
  exit 77
}

skip_part() {
  if fl_in_ci; then
    fail "part skipped in CI (CI=true): $*"
    return 1
  fi
  echo "SKIP (part): $*"
  return 0
}
