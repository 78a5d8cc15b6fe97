#!/usr/bin/env bash
# Builds every fuzz/fuzz_*.cc target with clang's libFuzzer into BUILD_DIR and runs each for SECONDS,
# starting from a scratch copy of its seed corpus (the tree's corpus is never modified).
# Usage: scripts/run-fuzzers.sh [BUILD_DIR=build/fuzz] [SECONDS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath -m "${1:-build/fuzz}")
secs=${2:-8}
CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DONIONSPLIT_FUZZ=ON -DONIONSPLIT_SANITIZE=ON -DONIONSPLIT_TESTS=OFF -DONIONSPLIT_BENCH=OFF >/dev/null
cmake --build "$dir" -j"${JOBS:-$(nproc)}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
n=0
for bin in "$dir"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  mkdir -p "$work/$name"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/$name/"
  echo "fuzz: $name for ${secs}s"
  if ! (cd "$work" && "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 \
        "$work/$name" >"$work/$name.log" 2>&1); then
    tail -50 "$work/$name.log"
    echo "fuzz: $name FAILED"
    exit 1
  fi
  grep -E '^#[0-9]+ *DONE' "$work/$name.log" | tail -1 || true
  n=$((n + 1))
done
[ "$n" -gt 0 ] || { echo "fuzz: no fuzz targets were built"; exit 1; }
echo "fuzz: $n targets ran clean"
