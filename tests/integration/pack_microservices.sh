#!/bin/sh
# The microservices scenario pack (scenarios/microservices): Debian's nginx in
# front of Flask services (python3-flask). Every scenario passes; the retry
# scenario counts the orders nginx duplicated (an expected finding). Nothing
# is left running, nothing written outside the run directories. The
# scenarios with HTTP rules (add_http_fault) are pack_microservices_http.sh's,
# so that ctest runs the two halves side by side.
. "$(dirname "$0")/lib/common.sh"
NGINX=${FL_NGINX:-/usr/sbin/nginx}
PY=${FL_PYTHON:-/usr/bin/python3}
[ -x "$NGINX" ] || command -v "$NGINX" >/dev/null ||
  skip "nginx not installed (apt-get install nginx, or tools/deps.sh test as root)"
"$PY" -c 'import flask' 2>/dev/null ||
  skip "$PY cannot import flask (apt-get install python3-flask, or tools/deps.sh test as root)"
PACK=$FL_SRC/scenarios/microservices
# Services inherit faultline's working directory: any process still there
# after the run is a leftover, even one whose environment no longer shows
# the test's marker (nginx writes its process title over it).
mkdir -p "$TMP/cwd"
cd "$TMP/cwd" || exit 1

FILES=$(grep -L add_http_fault "$PACK"/*.lua)
# shellcheck disable=SC2086
expect_exit 0 "the microservices pack passes" -- "$FAULTLINE" suite $FILES --jobs 1 --out "$TMP/runs"
expect_grep "$TMP/out" "6 passed, 0 failed, 0 errors" "all six scenarios passed"

dup=$(ls -d "$TMP"/runs/*retry-duplicates*/ 2>/dev/null | head -1)
if [ -n "$dup" ] && [ -f "$dup/report.json" ]; then
  expect_grep "$dup/report.json" '"duplicates_count": *[1-9][0-9]*' "report.json counts the duplicated orders"
  expect_grep "$dup/report.html" "expected finding: [1-9][0-9]* order\(s\) created more than once" \
    "report.html shows the count"
  grep -o '"duplicates_count": *[0-9]*' "$dup/report.json" | head -1 | sed 's/^/    /'
else
  fail "no run directory for the retry scenario under $TMP/runs"
fi
for conf in "$TMP"/runs/*/nginx/nginx.conf; do
  grep -q "^pid $TMP/runs/.*/nginx.pid;" "$conf" ||
    fail "$conf: the pid file is not under the run directory"
done

nem=$(ls -d "$TMP"/runs/*nemesis*/ 2>/dev/null | head -1)
[ -n "$nem" ] && expect_grep "$nem/report.json" '"schedule": *\[' "the nemesis run has its schedule" ||
  fail "no run directory for the nemesis scenario"
expect_pack_clean "after the microservices pack"
# No __pycache__ beside the sample services.
[ ! -d "$PACK/__pycache__" ] && ok "no __pycache__ in the source tree" ||
  fail "$PACK/__pycache__ was written"
finish
