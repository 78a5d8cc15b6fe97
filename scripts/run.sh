#!/usr/bin/env bash
# The project's run command (README.md "Run"). On a fresh Debian 12 machine, as root:
#   installs every dependency from Debian packages, builds the release configuration, starts a private
#   Tor network of Debian `tor` on 127.0.0.1 (three directory authorities, two middles, a client) with
#   onionsplit as its exit, fetches a file through it with the C tor client, prints the check and the
#   throughput, and leaves the network running for you to use. Stop it with: scripts/run.sh stop
# Environment: JOBS (default: nproc), SKIP_DEPS=1 to skip apt, NET_DIR (default /tmp/onionsplit-net),
#   FILE_MIB size of the test file (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
NET_DIR=${NET_DIR:-/tmp/onionsplit-net}
if [ "${1:-}" = stop ]; then
  exec python3 scripts/run_network.py down "$NET_DIR"
fi
JOBS=${JOBS:-$(nproc)}
if [ "${SKIP_DEPS:-0}" != 1 ]; then
  echo "=== dependencies"
  bash scripts/install-deps.sh
fi
echo "=== release build"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$JOBS"
echo "=== private Tor network with onionsplit as its exit"
python3 scripts/run_network.py up "$NET_DIR" --bin build/release/bin --mib "${FILE_MIB:-20}"
