#!/usr/bin/env bash
# Checks the systemd units as installed (issue 7; docs/PACKAGING.md): stages `cmake --install` of a
# build into a temporary root, then
#   1. `systemd-analyze verify` on every unit, with the drop-ins; any output fails (verify returns 0
#      even on warnings such as an unknown key);
#   2. `systemd-analyze security --offline=yes` per service: circuitd, confluxd and the MetricsPort
#      (onionsplit-metrics) at most 1.0, channeld and streamd at most 2.0 (--threshold is on the
#      0-100 scale, so 10 and 20).
# Usage: scripts/check-units.sh [BUILD_DIR]   (default build/release; it must be configured and built)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

DESTDIR=$stage cmake --install "$build" --prefix /usr >/dev/null
unitdir=$stage/usr/lib/systemd/system
# verify --root resolves dependencies and Exec paths inside the stage: give it the host's standard
# targets and the few programs the units name that the package does not ship.
for t in /lib/systemd/system/*.target; do
  [ -e "$unitdir/$(basename "$t")" ] || cp "$t" "$unitdir/"
done
mkdir -p "$stage/bin"
cp /bin/kill "$stage/bin/kill"

units=()
for f in "$unitdir"/onionsplit*; do
  case $f in *.service | *.socket | *.target | *.timer) units+=("$(basename "$f")") ;; esac
done
fail=0
out=$(cd "$unitdir" && systemd-analyze verify --root="$stage" "${units[@]}" 2>&1) || true
if [ -n "$out" ]; then
  echo "check-units: systemd-analyze verify printed:"
  echo "$out"
  fail=1
fi

# Exposure limits, as exposure x 10.
declare -A limit=([circuitd]=10 [confluxd]=10 [channeld]=20 [streamd]=20 [metrics]=10)
for d in channeld circuitd streamd confluxd metrics; do
  unit=onionsplit-$d.service
  report=$(systemd-analyze security --offline=yes --root="$stage" --threshold="${limit[$d]}" \
    "$unit" 2>&1) && rc=0 || rc=$?
  score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
  max=$(awk -v l="${limit[$d]}" 'BEGIN { printf "%.1f", l / 10 }')
  if [ "$rc" -ne 0 ] || [ -z "$score" ]; then
    echo "check-units: $unit exposure ${score:-?} is above $max"
    printf '%s\n' "$report" | grep -E '^✗' || printf '%s\n' "$report" | tail -5
    fail=1
  else
    echo "check-units: $unit exposure $score (limit $max)"
  fi
done
[ "$fail" = 0 ] && echo "check-units: ${#units[@]} units verified, exposure within limits"
exit "$fail"
