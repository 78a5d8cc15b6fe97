#!/usr/bin/env bash
# Checks the systemd units as installed (issue 7; docs/PACKAGING.md): stages `cmake --install` of a
# build into a temporary root, then
#   1. `systemd-analyze verify` on every unit, with the drop-ins; any output fails (verify returns 0
#      even on warnings such as an unknown key);
#   2. `systemd-analyze security --offline=yes` per service: circuitd (and its shard template's
#      instance onionsplit-circuitd@1), confluxd, the MetricsPort (onionsplit-metrics) and the
#      ControlPort (onionsplit-control) and the DirPort (onionsplit-dirport) at most 1.0, channeld
#      and streamd at most 2.0 (--threshold is on the 0-100 scale, so 10 and 20);
#   0. before both, onionsplit-generator (NumCPUs -> circuitd shards) under dash, on sample torrcs:
#      the links it makes in onionsplit.target.wants/, channeld's drop-in, exit 0 for a missing
#      torrc or a garbage value. Its output for NumCPUs 3 is then verified with the units in 1.
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
cp /usr/bin/install "$stage/usr/bin/install" # onionsplit-tor-compat's ExecStartPre, as tor's unit

fail=0
gen=$stage/usr/lib/systemd/system-generators/onionsplit-generator
shell=$(command -v dash || echo sh)
# gen_check NAME TORRC_TEXT|- SHARDS: runs the generator on that torrc ("-": none) into
# $stage/gen-NAME and checks it exited 0 and linked exactly shards 1..SHARDS-1, service and socket.
gen_check() {
  local out=$stage/gen-$1 torrc=$stage/torrc-$1 want="" k got rc=0
  [ "$2" = - ] || printf '%b' "$2" >"$torrc"
  mkdir -p "$out" # as systemd does
  ONIONSPLIT_TORRC=$torrc "$shell" "$gen" "$out" "$out.early" "$out.late" || rc=$?
  for ((k = 1; k < $3; k++)); do
    want+="onionsplit-circuitd@$k.service onionsplit-circuitd@$k.socket "
  done
  got=$(cd "$out" && for l in onionsplit.target.wants/*; do
    if [ -L "$l" ]; then printf '%s -> %s\n' "${l#*/}" "$(readlink "$l")"; fi
  done | sort -V)
  want=$(for u in $want; do echo "$u -> /usr/lib/systemd/system/${u%%@*}@.${u##*.}"; done | sort -V)
  if [ "$rc" -ne 0 ] || [ "$got" != "$want" ]; then
    echo "check-units: onionsplit-generator ($1) exited $rc; linked:"
    echo "${got:-(nothing)}"
    echo "check-units: expected $(($3 - 1)) shard(s):"
    echo "${want:-(nothing)}"
    fail=1
  fi
}
cores=$( (unset OMP_NUM_THREADS OMP_THREAD_LIMIT; nproc))
default=$((cores > 65 ? 64 : cores > 1 ? cores - 1 : 1))
gen_check three '# NumCPUs 7\nNumCPUs 2\n  numcpus 3   # the last line wins\n' 3
gen_check one 'NumCPUs 1\n' 1
gen_check zero 'NumCPUs 0\n' "$default"
gen_check none - "$default"
gen_check garbage 'NumCPUs many\nNumCPUs -2\n' "$default"
gen_check many 'NumCPUs 1000000000000000000000\n' 64
dropin=$stage/gen-three/onionsplit-channeld.service.d/50-circuitd-shards.conf
for key in Wants After; do
  grep -qx "$key=onionsplit-circuitd@1.socket onionsplit-circuitd@2.socket" "$dropin" ||
    { echo "check-units: channeld's drop-in lacks $key= for the shards' sockets:"; cat "$dropin"; fail=1; }
done
[ "$fail" = 0 ] && echo "check-units: onionsplit-generator made the shards' links ($shell; default $default)"
# What the generator made for NumCPUs 3 joins the units verified below.
cp -a "$stage/gen-three/." "$unitdir/"

units=(onionsplit-circuitd@1.service onionsplit-circuitd@2.socket)
for f in "$unitdir"/onionsplit*; do
  case $f in *.service | *.socket | *.target | *.timer) units+=("$(basename "$f")") ;; esac
done
out=$(cd "$unitdir" && systemd-analyze verify --root="$stage" "${units[@]}" 2>&1) || true
if [ -n "$out" ]; then
  echo "check-units: systemd-analyze verify printed:"
  echo "$out"
  fail=1
fi

# Exposure limits, as exposure x 10.
declare -A limit=([circuitd]=10 [circuitd@1]=10 [confluxd]=10 [channeld]=20 [streamd]=20 [metrics]=10
  [control]=10 [dirport]=10)
for d in channeld circuitd circuitd@1 streamd confluxd metrics control dirport; do
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
