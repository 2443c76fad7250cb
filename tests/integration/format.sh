#!/bin/sh
# Every C file follows .clang-format (STYLE.md: CI checks it).
. "$(dirname "$0")/lib/skip.sh"
cd "${FL_SRC:-$(dirname "$0")/../..}" || exit 1
command -v clang-format >/dev/null || skip "clang-format not installed"
files=$(git ls-files '*.c' '*.h' 2>/dev/null) || skip "not a git checkout (or git not installed)"
bad=""
for f in $files; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
  echo "not clang-formatted (run: make format):$bad"
  exit 1
fi
echo "all $(echo "$files" | wc -w) C files formatted"
