#!/usr/bin/env bash
# The project's test command (README.md "Test"; .ci/run calls it). On a fresh Debian 12 machine, as root:
#   installs every dependency from Debian packages, checks formatting and layering, builds the release
#   configuration, checks its systemd units and Debian package (installed with apt, then purged, then
#   booted under systemd-nspawn: tests/systemd), runs the interop tests on the release build,
#   builds the ASan+UBSan configuration and runs every other test there (unit, component, fuzz corpora),
#   builds the libFuzzer targets with clang and runs each for a bounded time.
# Environment: JOBS (default: nproc), FUZZ_SECONDS per fuzzer (default 8), SKIP_DEPS=1 to skip apt.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-8}
start=$(date +%s)
stage() { echo; echo "=== $* ($(( $(date +%s) - start ))s)"; }

if [ "${SKIP_DEPS:-0}" != 1 ]; then
  stage "dependencies"
  bash scripts/install-deps.sh
fi

stage "format, layering and size ratchet"
bash scripts/check-format.sh
bash scripts/check-layering.sh
bash scripts/check-size.sh

# The nspawn test's Debian root (debootstrap: mostly download) is made while the release build runs.
nspawn_base_log=$(mktemp)
bash tests/systemd/nspawn_test.sh --base-only >"$nspawn_base_log" 2>&1 &
nspawn_base_pid=$!

stage "release build (daemons, tools, benchmarks; the unit and component tests build under ASan)"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DONIONSPLIT_TESTS_IN_ALL=OFF >/dev/null
cmake --build build/release -j"$JOBS"

stage "systemd units (verify, exposure scores)"
bash scripts/check-units.sh build/release

stage "Debian package (build, apt install, purge)"
bash scripts/check-deb.sh build/release

stage "systemd units booted for real (Debian 12 under systemd-nspawn, kill -9 of each daemon)"
wait "$nspawn_base_pid" || true  # a failure to make the root shows again (and skips) below
cat "$nspawn_base_log"
rm -f "$nspawn_base_log"
rc=0
bash tests/systemd/nspawn_test.sh build/release || rc=$?
if [ "$rc" = 77 ]; then echo "nspawn test skipped (see above)"; elif [ "$rc" != 0 ]; then exit "$rc"; fi

stage "release tests (interop against Debian's tor, in parallel on separate port blocks)"
(cd build/release && ctest --output-on-failure -j"$JOBS" --timeout 900 -L interop)

stage "ASan+UBSan build"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DONIONSPLIT_SANITIZE=ON \
  -DONIONSPLIT_BENCH=OFF >/dev/null
cmake --build build/asan -j"$JOBS"

stage "ASan+UBSan tests (unit, component, fuzz corpora)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build/asan && ctest --output-on-failure -j"$JOBS" --timeout 900 -LE interop)

stage "fuzzers (clang libFuzzer, ${FUZZ_SECONDS}s each)"
bash scripts/run-fuzzers.sh build/fuzz "$FUZZ_SECONDS"

stage "benchmarks (smoke: each program runs and prints its RESULT line)"
bash scripts/run-benches.sh build/release --smoke

stage "all tests passed in $(( $(date +%s) - start ))s"
