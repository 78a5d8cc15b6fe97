#!/usr/bin/env bash
# Size ratchet (STYLE.md): no C++ source file may grow beyond MAX_FILE_LINES, and no function body
# (free, member, in a namespace or class, or a lambda: scripts/function_sizes.py) beyond
# MAX_FUNCTION_LINES or its file's entry in FUNCTION_EXCEPTIONS. The limits live in
# scripts/size-limits and may only go down.
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
# Function bodies, wherever they are (namespaces, classes, lambdas): scripts/function_sizes.py.
limit_of() {
  local f=$1 e
  for e in $FUNCTION_EXCEPTIONS; do
    [ "${e%%:*}" = "$f" ] && { echo "${e##*:}"; return; }
  done
  echo "$MAX_FUNCTION_LINES"
}
measured=0
# shellcheck disable=SC2046
while read -r n at; do
  measured=$((measured + 1))
  f=${at%%:*}
  lim=$(limit_of "$f")
  if [ "$n" -gt "$lim" ]; then
    echo "size: $at: function of $n lines (limit $lim)"
    fail=1
  fi
done < <(python3 scripts/function_sizes.py $(git ls-files '*.cc' '*.h' | grep -v '^tests/'))
[ "$measured" -gt 0 ] || { echo "size: no function was measured"; fail=1; }
[ $fail -eq 0 ] && echo "size: ok (files <= $MAX_FILE_LINES lines, $measured functions <= $MAX_FUNCTION_LINES lines)"
exit $fail
