#!/usr/bin/env bash
# Builds every fuzz/fuzz_*.cc target with clang's libFuzzer into BUILD_DIR and runs each for SECONDS,
# starting from a scratch copy of its seed corpus (the tree's corpus is never modified). The fuzzers run
# JOBS at a time (default: nproc), one core each; the first failure is printed and fails the run.
# Usage: scripts/run-fuzzers.sh [BUILD_DIR=build/fuzz] [SECONDS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath -m "${1:-build/fuzz}")
secs=${2:-8}
jobs=${JOBS:-$(nproc)}
CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DONIONSPLIT_FUZZ=ON -DONIONSPLIT_SANITIZE=ON -DONIONSPLIT_TESTS=OFF -DONIONSPLIT_BENCH=OFF >/dev/null
# Only the fuzz targets: the daemons and tools are not needed here.
cmake --build "$dir" -j"$jobs" --target all_fuzzers
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Runs one fuzzer; its log and a DONE/FAILED marker stay in $work.
run_one() {
  local bin=$1 name
  name=$(basename "$bin")
  mkdir -p "$work/$name"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/$name/"
  if (cd "$work" && "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 \
      "$work/$name" >"$work/$name.log" 2>&1); then
    echo "fuzz: $name $(grep -E '^#[0-9]+ *DONE' "$work/$name.log" | tail -1 || true)"
  else
    touch "$work/$name.failed"
    echo "fuzz: $name FAILED"
  fi
}

n=0
for bin in "$dir"/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  run_one "$bin" &
  n=$((n + 1))
done
wait
[ "$n" -gt 0 ] || { echo "fuzz: no fuzz targets were built"; exit 1; }
failed=$(find "$work" -maxdepth 1 -name '*.failed' | sort)
if [ -n "$failed" ]; then
  for f in $failed; do
    name=$(basename "$f" .failed)
    echo "=== $name"
    tail -50 "$work/$name.log"
  done
  echo "fuzz: $(echo "$failed" | wc -l) of $n targets FAILED"
  exit 1
fi
echo "fuzz: $n targets ran clean (${jobs} at a time, ${secs}s each)"
