#!/usr/bin/env bash
# The systemd units for real (issue 7; tests/systemd/README.md): boots a Debian 12 root under
# systemd-nspawn with its own network namespace (loopback only), installs the .deb with apt, starts
# onionsplit.target and checks that
#   1. the four daemons are active and `onionsplit status` says all four are ready (their Unix
#      sockets, users, key ownership and sandbox work under the real units); each runs as its own
#      user, circuitd and confluxd in a network namespace of their own; each unit's MemoryHigh and
#      MemoryMax follow its share of MaxMemInQueues;
#   2. for each daemon, `kill -9` of its main process gets it restarted by systemd, its listening
#      socket stays the same socket (same inode, the .socket unit never left "active"), and the
#      relay is whole again (`onionsplit status` ready: the peers reconnected), channeld (and so
#      every channel) was left alone unless it was the one killed, and a new channel and circuit
#      work (CREATE_FAST answered; with tests/channeld/link_initiator_tool built);
#   3. the ORPort accepts TCP connections while channeld is down (the backlog holds them) and a TLS
#      handshake once it is back;
#   3b. the opt-in MetricsPort and DirPort units: the metrics page and the DirPortFrontPage served
#      from systemd's sockets by their own users without a network; the page read again on reload;
#   4. the hourly key check runs and, with nothing due, leaves the daemons alone; with new keys due,
#      it gives them to their daemons, reloads circuitd and restarts channeld;
#   5. with a private network of Debian tor run from the host in the container's network namespace
#      and the packaged relay as its exit, `kill -9` of streamd, confluxd and circuitd while a C tor
#      client downloads: circuits, streams, conflux sets and the client's OR connection fare as
#      docs/OPERATING.md (Restart semantics) says, and `systemctl stop` mid-download ends every
#      daemon with exit status 0 (restart_under_load.py);
#   6. circuitd's shards: with NumCPUs 2 and a daemon-reload, onionsplit-circuitd@1 runs beside
#      circuitd (its user, no network, socket circuitd-1, channeld connected to it); kill -9 of shard
#      1 restarts it alone; with NumCPUs 1, stopping and starting the target leaves it stopped;
#   7. reinstalling the package restarts a running relay (and starts a stopped shard); stopping the
#      target stops the daemons, shard 1 and their sockets; `apt-get remove` stops a running relay.
# Usage: tests/systemd/nspawn_test.sh BUILD_DIR   (root; exit 77 = skipped: no root, no
#   systemd-nspawn, debootstrap, tor or python3, or the Debian archive out of reach)
#        tests/systemd/nspawn_test.sh --base-only  only makes the cached Debian root (scripts/test.sh
#   runs it beside the release build, so that debootstrap's download does not add to the run)
# Environment: ONIONSPLIT_NSPAWN_BASE, the cached Debian root (default
#   /var/tmp/onionsplit-nspawn/base; made with debootstrap on first use, a few minutes).
# Bounded: every wait has a deadline; the whole run stays under 10 minutes with a cached root.
set -euo pipefail
base_only=0
[ "${1:-}" = --base-only ] && base_only=1
[ "$base_only" = 1 ] || build=$(cd "${1:?usage: $0 BUILD_DIR | --base-only}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
base=${ONIONSPLIT_NSPAWN_BASE:-/var/tmp/onionsplit-nspawn/base}
log() { echo "nspawn-test: $*"; }
die() { echo "nspawn-test: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || { log "skipped: needs root"; exit 77; }
for t in systemd-nspawn debootstrap nsenter openssl python3 tor tor-gencert; do
  command -v "$t" >/dev/null || { log "skipped: no $t (scripts/install-deps.sh installs it)"; exit 77; }
done

# The Debian root with the package's runtime libraries, so apt needs no network inside.
if [ ! -x "$base/lib/systemd/systemd" ]; then
  log "making $base with debootstrap (once)"
  rm -rf "$base.tmp"
  mkdir -p "$(dirname "$base")"
  # The archive out of reach is the environment's failure, not the units': skip.
  if ! timeout 480 debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,iproute2,procps,libcapnp-0.9.2,libevent-core-2.1-7,libevent-extra-2.1-7,libevent-openssl-2.1-7,libfmt9,libseccomp2,libspdlog1.10,libssl3,libsystemd0 \
    bookworm "$base.tmp" http://deb.debian.org/debian >/dev/null 2>&1; then
    rm -rf "$base.tmp"
    log "skipped: debootstrap could not make the Debian root"
    exit 77
  fi
  mv "$base.tmp" "$base"
fi
[ "$base_only" = 0 ] || { log "the Debian root is ready: $base"; exit 0; }

rm -f "$build"/onionsplit_*.deb
(cd "$build" && cpack -G DEB >/dev/null 2>&1) || die "cpack failed in $build"
deb=$(ls "$build"/onionsplit_*.deb)

work=$(mktemp -d /var/tmp/onionsplit-nspawn/run.XXXXXX)
root=$work/root
nspawn=""
# The tor processes of restart_under_load.py, by the PIDs its TorNet recorded (it stops them
# itself; this is for a run that was cut short).
stop_tor() {
  local pids p left
  [ -f "$work/net/pids.json" ] || return 0
  pids=$(python3 -c 'import json, sys; print(*json.load(open(sys.argv[1])).values())' \
    "$work/net/pids.json" 2>/dev/null) || return 0
  # Only tor processes still running: a PID may have been reused after its tor exited.
  is_tor() { [ "$(cat "/proc/$1/comm" 2>/dev/null)" = tor ]; }
  for p in $pids; do if is_tor "$p"; then kill -TERM "$p" 2>/dev/null || true; fi; done
  for _ in $(seq 1 20); do
    left=""
    for p in $pids; do if is_tor "$p"; then left="$left $p"; fi; done
    [ -n "$left" ] || return 0
    sleep 0.5
  done
  for p in $left; do if is_tor "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
  return 0
}
cleanup() {
  stop_tor
  if [ -n "$nspawn" ] && kill -0 "$nspawn" 2>/dev/null; then
    kill -TERM "$nspawn" 2>/dev/null || true # nspawn asks the container's systemd to power off
    for _ in $(seq 1 60); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$nspawn" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cp -a --reflink=auto "$base" "$root"
cp "$deb" "$root/root/onionsplit.deb"
echo onionsplit-test >"$root/etc/hostname"

log "booting $root"
systemd-nspawn --quiet --boot --register=no --keep-unit --private-network \
  --machine=onionsplit-test -D "$root" </dev/null >"$work/console.log" 2>&1 &
nspawn=$!

# The container's init: systemd-nspawn's child.
init=""
for _ in $(seq 1 60); do
  init=$(pgrep -P "$nspawn" -x systemd || true)
  [ -n "$init" ] && break
  kill -0 "$nspawn" 2>/dev/null || { cat "$work/console.log"; die "systemd-nspawn exited"; }
  sleep 0.5
done
[ -n "$init" ] || die "the container's systemd did not start"
inside() { nsenter -t "$init" -m -u -i -n -p -- "$@"; }
state=$(inside timeout 60 systemctl is-system-running --wait 2>&1 || true)
log "container booted ($state)"

inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  /root/onionsplit.deb >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; die "apt install failed"; }
log "installed $(basename "$deb") with apt"

# A test relay on the container's own loopback: no authorities, so it publishes nothing.
inside sh -c 'printf "Nickname onionsplitNspawn\nContactInfo test\n" >>/etc/onionsplit/torrc'
# The ORPort socket admits the public Internet only; the test talks to it from loopback.
inside mkdir -p /etc/systemd/system/onionsplit-channeld.socket.d
inside sh -c 'printf "[Socket]\nIPAddressAllow=localhost\n" >/etc/systemd/system/onionsplit-channeld.socket.d/90-test.conf'
inside systemctl daemon-reload
inside systemctl start onionsplit.target

daemons="channeld circuitd streamd confluxd"
# wait_ready SECONDS: all four active and `onionsplit status` ready.
wait_ready() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    if inside systemctl is-active --quiet onionsplit-{channeld,circuitd,streamd,confluxd}.service &&
      inside onionsplit status -f /etc/onionsplit/torrc >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  return 1
}
# Waits up to 30 s until systemd runs UNIT again under a pid other than OLD (after kill -9); sets
# $new to that pid.
wait_restarted() {
  local unit=$1 old=$2 deadline=$((SECONDS + 30))
  while :; do
    new=$(inside systemctl show -p MainPID --value "$unit")
    [ "$new" -gt 0 ] && [ "$new" != "$old" ] && inside systemctl is-active --quiet "$unit" && return 0
    [ $SECONDS -lt $deadline ] || { dump; die "$unit was not restarted after kill -9"; }
    sleep 0.5
  done
}

dump() {
  inside systemctl --no-pager status 'onionsplit*' || true
  inside journalctl --no-pager -n 80 -u 'onionsplit*' || true
}
wait_ready 60 || { dump; die "the relay did not become ready"; }
log "onionsplit.target started: all four active and ready"
inside onionsplit status -f /etc/onionsplit/torrc
inside systemctl is-active --quiet onionsplit-keys-renew.timer || die "the key timer is not active"

# Each daemon runs as its own user; circuitd and confluxd in a network namespace of their own.
initnet=$(inside readlink /proc/1/ns/net)
for d in $daemons; do
  pid=$(inside systemctl show -p MainPID --value "onionsplit-$d.service")
  user=$(inside ps -o user= -p "$pid")
  [ "$user" = "onionsplit-$d" ] || die "$d runs as $user"
  net=$(inside readlink "/proc/$pid/ns/net")
  case $d in
    circuitd | confluxd) [ "$net" != "$initnet" ] || die "$d shares the host's network" ;;
    *) [ "$net" = "$initnet" ] || die "$d has no network" ;;
  esac
done
log "each daemon runs as its own user; circuitd and confluxd without a network"

# Each unit's MemoryHigh/MemoryMax is what `onionsplit memory-limits` computes from its share of
# MaxMemInQueues (set by onionsplit-keys.service at start).
# A shard's line (circuitd-K, with more cores than 2) is onionsplit-circuitd@K.service's.
while read -r d high max; do
  case $d in circuitd-*) u=onionsplit-circuitd@${d#circuitd-}.service ;; *) u=onionsplit-$d.service ;; esac
  got="MemoryHigh=$(inside systemctl show -p MemoryHigh --value "$u")"
  got="$got MemoryMax=$(inside systemctl show -p MemoryMax --value "$u")"
  [ "$got" = "$high $max" ] || { dump; die "$u has $got, not $high $max"; }
done < <(inside onionsplit memory-limits -f /etc/onionsplit/torrc)
log "each unit's memory limits follow its share of MaxMemInQueues"

# The MetricsPort under systemd (opt-in: onionsplit-metrics.socket and .service). With MetricsPort
# in the torrc and both units enabled, the page lists all four daemons up; the service runs as its
# own user without a network of its own; a kill -9'd daemon is reported down, then back up with
# its restart counted.
inside sh -c 'printf "MetricsPort 127.0.0.1:9035\nMetricsPortPolicy accept 127.0.0.1\n" >>/etc/onionsplit/torrc'
inside systemctl enable --now onionsplit-metrics.socket onionsplit-metrics.service >/dev/null 2>&1 ||
  { dump; die "cannot enable onionsplit-metrics"; }
metrics_page() {
  inside timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9035 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' 2>/dev/null || true
}
# wait_metrics SECONDS LINE...: until the page has every LINE.
wait_metrics() {
  local deadline=$((SECONDS + $1)) page line ok
  shift
  while [ $SECONDS -lt $deadline ]; do
    page=$(metrics_page)
    ok=1
    for line in "$@"; do grep -qxF "$line" <<<"$page" || ok=0; done
    [ $ok = 1 ] && return 0
    sleep 0.2
  done
  echo "$page" | grep '^onionsplit_daemon' >&2
  return 1
}
up() { echo "onionsplit_daemon_up{daemon=\"$1\"} $2"; }
restarts() { echo "onionsplit_daemon_restarts_total{daemon=\"$1\"} $2"; }
wait_metrics 30 "$(up channeld 1)" "$(up circuitd 1)" "$(up streamd 1)" "$(up confluxd 1)" \
  "$(restarts streamd 0)" || { dump; die "the MetricsPort does not show all four daemons up"; }
metrics_page | grep -q '^tor_relay_circuits_total{daemon="circuitd",state="opened"} ' ||
  die "no tor_relay_circuits_total on the MetricsPort"
pid=$(inside systemctl show -p MainPID --value onionsplit-metrics.service)
[ "$(inside ps -o user= -p "$pid")" = onionsplit-metrics ] || die "onionsplit metrics runs as another user"
[ "$(inside readlink "/proc/$pid/ns/net")" != "$initnet" ] || die "onionsplit metrics shares the host's network"
streamd=$(inside systemctl show -p MainPID --value onionsplit-streamd.service)
inside kill -9 "$streamd"
wait_metrics 5 "$(up streamd 0)" "$(up circuitd 1)" || { dump; die "a killed streamd is not reported down"; }
wait_metrics 30 "$(up streamd 1)" "$(restarts streamd 1)" "$(restarts circuitd 0)" ||
  { dump; die "streamd's restart is not on the MetricsPort"; }
inside journalctl --no-pager -u onionsplit-metrics.service | grep -q "socket from systemd" ||
  die "onionsplit metrics did not take systemd's socket"
inside journalctl --no-pager -u onionsplit-metrics.service | grep "sandbox: entered" | tail -1
log "MetricsPort: all four up, streamd down after kill -9 and back with one restart; onionsplit-metrics without a network"
# The ControlPort under systemd (opt-in: onionsplit-control.socket and .service): it answers
# PROTOCOLINFO on systemd's socket with the cookie in its runtime directory, as its own user
# without a network.
inside sh -c 'printf "ControlPort 127.0.0.1:9051\nCookieAuthentication 1\nCookieAuthFile /run/onionsplit-control/control_auth_cookie\n" >>/etc/onionsplit/torrc'
inside systemctl enable --now onionsplit-control.socket onionsplit-control.service >/dev/null 2>&1 ||
  { dump; die "cannot enable onionsplit-control"; }
reply=$(inside timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9051 && printf "PROTOCOLINFO 1\r\nQUIT\r\n" >&3 && cat <&3' 2>/dev/null || true)
grep -qF '250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE="/run/onionsplit-control/control_auth_cookie"' <<<"$reply" ||
  { echo "$reply" >&2; dump; die "the ControlPort does not answer PROTOCOLINFO"; }
pid=$(inside systemctl show -p MainPID --value onionsplit-control.service)
[ "$(inside ps -o user= -p "$pid")" = onionsplit-control ] || die "onionsplit control runs as another user"
[ "$(inside readlink "/proc/$pid/ns/net")" != "$initnet" ] || die "onionsplit control shares the host's network"
log "ControlPort: PROTOCOLINFO answered by onionsplit-control (its own user, no network)"
# The DirPort under systemd (opt-in: onionsplit-dirport.socket and .service), moved to
# 127.0.0.1:9030 by a drop-in: GET / is the DirPortFrontPage, served by its own user without a
# network of its own from systemd's socket, and `systemctl reload` reads the page again.
inside sh -c 'printf "<p>exit notice</p>\n" >/etc/onionsplit/tor-exit-notice.html &&
  printf "DirPort 127.0.0.1:9030\nDirPortFrontPage /etc/onionsplit/tor-exit-notice.html\n" >>/etc/onionsplit/torrc &&
  mkdir -p /etc/systemd/system/onionsplit-dirport.socket.d &&
  printf "[Socket]\nListenStream=\nListenStream=127.0.0.1:9030\n" >/etc/systemd/system/onionsplit-dirport.socket.d/port.conf &&
  systemctl daemon-reload'
inside systemctl enable --now onionsplit-dirport.socket onionsplit-dirport.service >/dev/null 2>&1 ||
  { dump; die "cannot enable onionsplit-dirport"; }
front_page() {
  inside timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9030 && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' 2>/dev/null || true
}
# wait_page SECONDS TEXT: until GET / has TEXT.
wait_page() {
  local deadline=$((SECONDS + $1))
  while [ $SECONDS -lt $deadline ]; do
    front_page | grep -qxF "$2" && return 0
    sleep 0.2
  done
  return 1
}
wait_page 30 "<p>exit notice</p>" || { dump; front_page; die "the DirPort does not serve the front page"; }
front_page | grep -q "^Content-Type: text/html" || die "the front page is not text/html"
pid=$(inside systemctl show -p MainPID --value onionsplit-dirport.service)
[ "$(inside ps -o user= -p "$pid")" = onionsplit-dirport ] || die "onionsplit dirport runs as another user"
[ "$(inside readlink "/proc/$pid/ns/net")" != "$initnet" ] || die "onionsplit dirport shares the host's network"
inside journalctl --no-pager -u onionsplit-dirport.service | grep -q "socket from systemd" ||
  die "onionsplit dirport did not take systemd's socket"
inside sh -c 'printf "<p>new notice</p>\n" >/etc/onionsplit/tor-exit-notice.html'
inside systemctl reload onionsplit-dirport.service || { dump; die "cannot reload onionsplit-dirport"; }
wait_page 10 "<p>new notice</p>" || { dump; die "the DirPort did not read the page again on reload"; }
log "DirPort: the front page from systemd's socket, as onionsplit-dirport without a network; read again on reload"
# The hourly key check, once now: nothing is due, so it must succeed and leave the daemons alone.
before=$(inside systemctl show -p MainPID --value onionsplit-channeld.service)
inside systemctl start onionsplit-keys-renew.service || { dump; die "onionsplit-keys-renew.service failed"; }
[ "$(inside systemctl show -p MainPID --value onionsplit-channeld.service)" = "$before" ] ||
  die "the key check restarted channeld with nothing due"
inside onionsplit status -f /etc/onionsplit/torrc >/dev/null || die "not ready after the key check"
log "onionsplit-keys-renew.service ran; nothing was due"
# Now something is due: a missing ntor key and signing certificate stand for an expiring pair. The
# check makes new ones, reloads circuitd (same process) and restarts channeld (new certificates).
circuitd_pid=$(inside systemctl show -p MainPID --value onionsplit-circuitd.service)
inside rm /var/lib/onionsplit/keys/secret_onion_key_ntor /var/lib/onionsplit/keys/ed25519_signing_cert
inside systemctl start onionsplit-keys-renew.service || { dump; die "the key renewal failed"; }
[ "$(inside stat -c %U /var/lib/onionsplit/keys/secret_onion_key_ntor)" = onionsplit-circuitd ] ||
  die "the new ntor key is not circuitd's"
[ "$(inside systemctl show -p MainPID --value onionsplit-circuitd.service)" = "$circuitd_pid" ] ||
  die "the renewal restarted circuitd instead of reloading it"
[ "$(inside systemctl show -p MainPID --value onionsplit-channeld.service)" != "$before" ] ||
  die "the renewal did not restart channeld after a new signing key"
wait_ready 30 || { dump; die "not ready after the key renewal"; }
inside journalctl --no-pager -u onionsplit-circuitd.service | grep -q "SIGHUP" ||
  die "circuitd was not sent SIGHUP"
log "renewal: new keys owned by their daemons, circuitd reloaded, channeld restarted"

# A channel from the host's network stack into the container's ORPort: a fresh relay identity
# does the initiator's link handshake and CREATE_FAST (tests/channeld/link_initiator_tool.cc, built
# with the tests; without it these checks are skipped).
tool=$build/bin/link_initiator_tool
new_circuit() {
  [ -x "$tool" ] || return 0
  local fp ed
  fp=$(inside cut -d' ' -f2 /var/lib/onionsplit/fingerprint)
  ed=$(inside cut -d' ' -f2 /var/lib/onionsplit/fingerprint-ed25519)
  nsenter -t "$init" -n -- timeout 60 "$tool" 127.0.0.1 9001 "$fp" "$ed" >"$work/link.log" 2>&1 ||
    { cat "$work/link.log"; return 1; }
}
new_circuit || { dump; die "no channel and circuit through the ORPort"; }
[ -x "$tool" ] && log "a channel to the ORPort opened and CREATE_FAST was answered"

socket_of() { [ "$1" = channeld ] && echo onionsplit-channeld-rpc.socket || echo "onionsplit-$1.socket"; }
for d in $daemons; do
  unit=onionsplit-$d.service
  sock=$(socket_of "$d")
  pid=$(inside systemctl show -p MainPID --value "$unit")
  channeld=$(inside systemctl show -p MainPID --value onionsplit-channeld.service)
  inode=$(inside stat -c %i "/run/onionsplit/$d.sock")
  since=$(inside systemctl show -p ActiveEnterTimestampMonotonic --value "$sock")
  [ "$pid" -gt 0 ] || die "$unit has no main pid"
  inside kill -9 "$pid"
  if [ "$d" = channeld ]; then
    # While channeld is down a Tor peer's connect() still succeeds: systemd holds the ORPort.
    inside timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/9001' || die "the ORPort refused a connection while channeld was down"
  fi
  wait_restarted "$unit" "$pid"
  [ "$(inside stat -c %i "/run/onionsplit/$d.sock")" = "$inode" ] || die "$d's socket was recreated"
  [ "$(inside systemctl show -p ActiveEnterTimestampMonotonic --value "$sock")" = "$since" ] ||
    die "$sock was restarted"
  wait_ready 30 || { dump; die "the relay did not recover after kill -9 of $d"; }
  if [ "$d" != channeld ]; then
    # The channels live in channeld, which the other daemons' restarts leave alone.
    [ "$(inside systemctl show -p MainPID --value onionsplit-channeld.service)" = "$channeld" ] ||
      die "kill -9 of $d restarted channeld"
  fi
  new_circuit || { dump; die "no new circuit after kill -9 of $d"; }
  log "kill -9 $d (pid $pid): restarted as pid $new, same socket (inode $inode), relay ready again"
done

# The ORPort answers TLS after channeld's restart (host openssl in the container's network).
nsenter -t "$init" -n -- timeout 5 openssl s_client -connect 127.0.0.1:9001 </dev/null \
  >"$work/tls.log" 2>&1 || true
if ! grep -q "^CONNECTED" "$work/tls.log" || ! grep -q "Cipher is" "$work/tls.log"; then
  cat "$work/tls.log"
  die "no TLS handshake on the ORPort"
fi
log "ORPort answers TLS"

# With a C tor client downloading (restart_under_load.py, run in the container's network namespace):
# a private network of Debian tor on the container's loopback with onionsplit as its exit, then
# kill -9 of streamd, confluxd and circuitd mid-download. The test's torrc and loopback drop-ins
# are undone afterwards so the steps below run as before.
inside cp /etc/onionsplit/torrc /etc/onionsplit/torrc.before-load
t_load=$SECONDS
nsenter -t "$init" -n -- timeout 480 python3 "$src/tests/systemd/restart_under_load.py" "$init" "$work" ||
  { dump; die "restart under load (tests/systemd/restart_under_load.py)"; }
stop_tor
log "restarts under load passed in $((SECONDS - t_load)) s"
inside mv /etc/onionsplit/torrc.before-load /etc/onionsplit/torrc
inside rm -r /etc/systemd/system/onionsplit-channeld.service.d /etc/systemd/system/onionsplit-streamd.service.d
inside systemctl daemon-reload
inside systemctl restart onionsplit.target
wait_ready 60 || { dump; die "the relay did not come back with its own torrc"; }

# circuitd's shards (NumCPUs; onionsplit-generator makes their units at daemon-reload).
shard=onionsplit-circuitd@1.service
# wait_shard SECONDS STATE: until onionsplit-circuitd@1.service is STATE (systemctl is-active).
wait_shard() {
  local deadline=$((SECONDS + $1))
  until [ "$(inside systemctl is-active "$shard")" = "$2" ]; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}
numcpus() {
  inside sed -i '/^NumCPUs /d' /etc/onionsplit/torrc
  inside sh -c "printf 'NumCPUs $1\n' >>/etc/onionsplit/torrc"
  inside systemctl daemon-reload
}
# NumCPUs 2: after a daemon-reload and a restart of the target, shard 1 runs beside circuitd as
# circuitd's user without a network, on its own socket (named circuitd-1, as it names itself),
# with circuitd's memory limits (or its own, if memory-limits has a line for circuitd-1), and
# channeld wants its socket and connects to it.
numcpus 2
inside systemctl restart onionsplit.target
{ wait_ready 60 && wait_shard 30 active; } || { dump; die "NumCPUs 2 did not start $shard"; }
inside test -L /run/systemd/generator/onionsplit.target.wants/onionsplit-circuitd@1.socket ||
  die "the generator did not add onionsplit-circuitd@1.socket to onionsplit.target"
inside systemctl show -p Wants --value onionsplit-channeld.service | grep -qw onionsplit-circuitd@1.socket ||
  die "channeld does not want onionsplit-circuitd@1.socket"
pid=$(inside systemctl show -p MainPID --value "$shard")
[ "$(inside ps -o user= -p "$pid")" = onionsplit-circuitd ] || die "$shard runs as another user"
[ "$(inside readlink "/proc/$pid/ns/net")" != "$initnet" ] || die "$shard shares the host's network"
inside cat "/proc/$pid/cmdline" | tr '\0' ' ' | grep -q -- "--shard 1 " || die "$shard is not --shard 1"
[ "$(inside stat -c %U:%G:%a /run/onionsplit/circuitd-1.sock)" = root:onionsplit:660 ] ||
  die "/run/onionsplit/circuitd-1.sock: $(inside stat -c %U:%G:%a /run/onionsplit/circuitd-1.sock)"
inside journalctl --no-pager -u "$shard" | grep -q "circuitd-1" || { dump; die "$shard does not log as circuitd-1"; }
inside journalctl --no-pager -u onionsplit-channeld.service | grep -q "ipc: connected to circuitd-1" ||
  { dump; die "channeld did not connect to circuitd-1's socket"; }
limits=$(inside onionsplit memory-limits -f /etc/onionsplit/torrc)
want=$(grep '^circuitd-1 ' <<<"$limits" || grep '^circuitd ' <<<"$limits")
got="MemoryHigh=$(inside systemctl show -p MemoryHigh --value "$shard")"
got="$got MemoryMax=$(inside systemctl show -p MemoryMax --value "$shard")"
[ "$got" = "${want#* }" ] || { dump; die "$shard has $got, not ${want#* }"; }
log "NumCPUs 2: $shard runs (pid $pid) as circuitd's user, no network, socket circuitd-1, $got"
# kill -9 of shard 1 restarts it alone: same socket, shard 0 and channeld left alone.
circuitd=$(inside systemctl show -p MainPID --value onionsplit-circuitd.service)
channeld=$(inside systemctl show -p MainPID --value onionsplit-channeld.service)
inode=$(inside stat -c %i /run/onionsplit/circuitd-1.sock)
since=$(inside systemctl show -p ActiveEnterTimestampMonotonic --value onionsplit-circuitd@1.socket)
inside kill -9 "$pid"
wait_restarted "$shard" "$pid"
[ "$(inside stat -c %i /run/onionsplit/circuitd-1.sock)" = "$inode" ] || die "circuitd-1's socket was recreated"
[ "$(inside systemctl show -p ActiveEnterTimestampMonotonic --value onionsplit-circuitd@1.socket)" = "$since" ] ||
  die "onionsplit-circuitd@1.socket was restarted"
[ "$(inside systemctl show -p MainPID --value onionsplit-circuitd.service)" = "$circuitd" ] ||
  die "kill -9 of shard 1 restarted circuitd (shard 0)"
[ "$(inside systemctl show -p MainPID --value onionsplit-channeld.service)" = "$channeld" ] ||
  die "kill -9 of shard 1 restarted channeld"
wait_ready 30 || { dump; die "the relay did not recover after kill -9 of shard 1"; }
new_circuit || { dump; die "no new circuit after kill -9 of shard 1"; }
log "kill -9 $shard (pid $pid): restarted alone as pid $new, same socket (inode $inode)"
# An onion-key rotation reloads every shard (SIGHUP, same process).
inside rm /var/lib/onionsplit/keys/secret_onion_key_ntor
inside systemctl start onionsplit-keys-renew.service || { dump; die "the key renewal with shards failed"; }
[ "$(inside systemctl show -p MainPID --value "$shard")" = "$new" ] ||
  die "the renewal restarted $shard instead of reloading it"
inside journalctl --no-pager -u "$shard" _PID="$new" | grep -q "SIGHUP" || { dump; die "$shard was not sent SIGHUP"; }
wait_ready 30 || { dump; die "not ready after the key renewal with shards"; }
log "renewal: $shard reloaded (SIGHUP, same pid)"
# Fewer shards: NumCPUs 1, daemon-reload, stop and start the target (docs/OPERATING.md): shard 1
# is gone. Back to NumCPUs 2 for the package steps below.
numcpus 1
inside systemctl stop onionsplit.target
inside systemctl start onionsplit.target
wait_ready 60 || { dump; die "the relay did not start with NumCPUs 1"; }
[ "$(inside systemctl is-active "$shard")" = inactive ] || die "$shard runs with NumCPUs 1"
[ "$(inside systemctl is-active onionsplit-circuitd@1.socket)" = inactive ] ||
  die "onionsplit-circuitd@1.socket listens with NumCPUs 1"
numcpus 2
inside systemctl restart onionsplit.target
{ wait_ready 60 && wait_shard 30 active; } || { dump; die "NumCPUs 2 again did not start $shard"; }
log "NumCPUs 1 then 2: shard 1 stopped with the target and came back with it"

# An upgrade (here: the same package again) restarts a running relay, so all four daemons come
# from the installed build, and starts the shards it lacked (as after an upgrade to a version with
# shards; here shard 1 is stopped first).
before=$(inside systemctl show -p MainPID --value onionsplit-circuitd.service)
inside systemctl stop "$shard" onionsplit-circuitd@1.socket
inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall /root/onionsplit.deb \
  >"$work/apt.log" 2>&1 || { cat "$work/apt.log"; die "apt reinstall failed"; }
wait_ready 60 || { dump; die "the relay did not come back after the upgrade"; }
[ "$(inside systemctl show -p MainPID --value onionsplit-circuitd.service)" != "$before" ] ||
  die "the upgrade did not restart the daemons"
wait_shard 30 active || { dump; die "the upgrade did not start $shard"; }
log "reinstalling the package restarted the relay and started shard 1"

inside systemctl stop onionsplit.target
for d in $daemons; do
  ! inside systemctl is-active --quiet "onionsplit-$d.service" || die "onionsplit-$d.service still active after stopping the target"
  ! inside systemctl is-active --quiet "$(socket_of "$d")" || die "$(socket_of "$d") still listening after stopping the target"
done
for u in "$shard" onionsplit-circuitd@1.socket; do
  ! inside systemctl is-active --quiet "$u" || die "$u still active after stopping the target"
done
log "onionsplit.target stopped all four and their sockets, and shard 1"

# Removal stops a running relay first.
inside systemctl start onionsplit.target
{ wait_ready 60 && wait_shard 30 active; } || { dump; die "the relay did not start again"; }
inside env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq onionsplit >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; die "apt remove failed"; }
left=$(inside systemctl list-units --no-legend --state=active 'onionsplit*' || true)
[ -z "$left" ] || die "units still active after apt remove: $left"
! inside sh -c 'ls /etc/systemd/system/onionsplit.target.wants/ 2>/dev/null' | grep -q metrics ||
  die "apt remove left onionsplit-metrics enabled"
! inside test -e /run/systemd/generator/onionsplit.target.wants/onionsplit-circuitd@1.service ||
  die "apt remove left the generator's links"
log "apt remove stopped the relay (shard 1 too) and the generator's links went with it"
echo "nspawn-test: 1 passed, 0 failed"
