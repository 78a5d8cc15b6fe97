#!/usr/bin/env bash
# Size ratchet (STYLE.md): no C++ source file may grow beyond MAX_FILE_LINES, and no function body
# beyond MAX_FUNCTION_LINES (measured by brace matching from a line that opens a function). The limits
# live in scripts/size-limits and may only go down.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
source scripts/size-limits
fail=0
for f in $(git ls-files '*.cc' '*.h' | grep -v '^tests/'); do
  n=$(wc -l < "$f")
  if [ "$n" -gt "$MAX_FILE_LINES" ]; then
    echo "size: $f has $n lines (limit $MAX_FILE_LINES)"
    fail=1
  fi
done
# Function bodies: a line ending in "{" at column 0 after a ")" or "const"/"override" opens one
# (clang-format puts top-level function braces on the signature line); count to the matching "}".
for f in $(git ls-files '*.cc' | grep -v '^tests/'); do
  awk -v max="$MAX_FUNCTION_LINES" -v file="$f" '
    /^[A-Za-z].*\) *(const)? *(override)? *(noexcept)? *\{$/ && depth == 0 { start = NR; inside = 1 }
    {
      opens = gsub(/\{/, "{"); closes = gsub(/\}/, "}")
      depth += opens - closes
      if (inside && depth == 0) {
        if (NR - start > max) { printf "size: %s:%d: function of %d lines (limit %d)\n", file, start, NR - start, max; bad = 1 }
        inside = 0
      }
    }
    END { exit bad }' "$f" || fail=1
done
[ $fail -eq 0 ] && echo "size: ok (files <= $MAX_FILE_LINES lines, functions <= $MAX_FUNCTION_LINES lines)"
exit $fail
