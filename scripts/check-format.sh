#!/usr/bin/env bash
# Fails if any tracked C++ file differs from clang-format's output (the root .clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.h' '*.cc' '*.cpp' '*.hpp' 2>/dev/null || true)
[ -n "$files" ] || { echo "format: no files"; exit 0; }
# shellcheck disable=SC2086
if ! clang-format --dry-run --Werror $files; then
  echo "format: run clang-format -i on the files above"
  exit 1
fi
echo "format: ok ($(echo "$files" | wc -l) files)"
