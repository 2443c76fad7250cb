#!/bin/sh
# The folders are the layers: an #include that points up or sideways fails
# this test, so the layout cannot rot.
#   base/     includes nothing else of the project
#   check/    base/
#   faults/   base/
#   reports/  base/, check/
#   harness/  anything above
# The header named first on each line of output is the offender.
set -u
cd "${FL_SRC:-$(dirname "$0")/../..}" || exit 2

allowed() {
  case "$1" in
  base) echo "base" ;;
  check) echo "base check" ;;
  faults) echo "base faults" ;;
  reports) echo "base check reports" ;;
  esac
}

bad=0
for layer in base check faults reports; do
  ok=$(allowed $layer)
  for f in $(find "$layer" -name '*.[ch]' | sort); do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
      sed 's/^\([0-9]*\):.*"\([^"]*\)".*/\1 \2/' |
      while read -r line inc; do
        top=${inc%%/*}
        [ "$top" = "$inc" ] && top=$layer # a file beside it
        case " $ok " in
        *" $top "*) ;;
        *) echo "$f:$line: includes \"$inc\": $layer/ may include only: $ok" ;;
        esac
      done
  done
done >/tmp/fl_layering.$$
if [ -s /tmp/fl_layering.$$ ]; then
  cat /tmp/fl_layering.$$
  bad=1
fi
rm -f /tmp/fl_layering.$$
# No folder that two layers would claim: the old homes of base/ and check/.
for d in harness/base harness/check; do
  [ -e "$d" ] && { echo "$d: exists; base/ and check/ live at the top"; bad=1; }
done
# The engine's internals stay the engine's: a binding uses engine.h.
for f in $(grep -l '#include "harness/engine_int.h"' harness/*.c harness/*.h 2>/dev/null); do
  case "$f" in
  harness/engine.c | harness/runner.c | harness/run.c | harness/recorder.c | harness/lua_core.c) ;;
  *) echo "$f: includes harness/engine_int.h, the engine's own header: use engine.h"; bad=1 ;;
  esac
done
[ $bad = 0 ] && echo "layering: ok"
exit $bad
