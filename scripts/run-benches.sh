#!/usr/bin/env bash
# Runs every benchmark program in BUILD_DIR/bench and prints their RESULT lines.
# Usage: scripts/run-benches.sh [BUILD_DIR=build/release] [--smoke]
#   --smoke: a very short run, only to prove each program works and ends with a RESULT line (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/release}
args=()
[ "${2:-}" = "--smoke" ] && args=(--benchmark_min_time=0.01)
n=0
for bin in "$dir"/bench/bench_*; do
  [ -x "$bin" ] || continue
  out=$("$bin" "${args[@]}" 2>&1) || { echo "$out"; echo "bench: $(basename "$bin") failed"; exit 1; }
  last=$(echo "$out" | tail -n 1)
  case "$last" in
    RESULT\ *) ;;
    *) echo "$out"; echo "bench: $(basename "$bin") did not end with a RESULT line"; exit 1 ;;
  esac
  echo "$out" | grep '^RESULT '
  n=$((n + 1))
done
echo "bench: $n programs"
