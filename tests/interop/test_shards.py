#!/usr/bin/env python3
"""interop_shards: onionsplit with two circuitd shards (NumCPUs 2) as the exit of a private network
of Debian `tor` (issue 19).

    test_shards.py BIN_DIR

Checks:
  1. the launcher runs circuitd and circuitd-1, channeld is attached to both (circuitd_shards 2);
  2. the C tor client's circuits land on both shards, and it links a conflux set whose legs are on
     different shards (confluxd's conflux_sets_across_shards_total), across which a download
     through the client completes intact;
  3. kill -9 of circuitd-1 while downloads run on single-path circuits on both shards: the launcher
     restarts circuitd-1 alone (every other daemon keeps its pid), each circuit on circuitd-1
     closes, each circuit on circuitd (shard 0) survives and its download completes intact, the
     client's OR connection to onionsplit stays up, and new circuits work afterwards.
A circuit's shard is seen from the shards' circuits_open counters as it is built (one circuit at a
time; a circuit built while something else changed a counter is not attributed, and not checked).
Works in a temporary directory (KEEP=1 keeps it); every process it starts is stopped by its PID."""
import hashlib
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "systemd"))
import restart_under_load as rul  # noqa: E402
import targets  # noqa: E402
import tornet  # noqa: E402

SHARDS = ("circuitd", "circuitd-1")
OTHERS = ("channeld", "streamd", "confluxd", "circuitd")


CREATED = ("circuits_created_fast_total", "circuits_created_ntor_total",
           "circuits_created_ntor3_total")


def created_per_shard(c):
    """Circuits each shard has created (these only grow: closes elsewhere do not move them)."""
    return tuple(sum(c.get(f"{s}.{k}", 0) for k in CREATED) for s in SHARDS)


def build_on_shards(net, ctl, middles, fp, want=2, most=30):
    """Single-path circuits middle -> onionsplit (as exit), one at a time, until each shard has
    `want` of them (at most `most` circuits; channeld gives a new circuit to the shard with the
    fewest, so a shard with many more takes new ones only once the other caught up): {circuit id:
    shard index or None}."""
    placed = {}
    for i in range(most):
        before = created_per_shard(rul.counters())
        circ = rul.build_circuit(net, ctl, [middles[i % len(middles)], fp])
        after = created_per_shard(rul.counters())
        grew = [k for k in range(len(SHARDS)) if after[k] - before[k] == 1]
        still = [k for k in range(len(SHARDS)) if after[k] == before[k]]
        placed[circ] = grew[0] if len(grew) == 1 and len(still) == len(SHARDS) - 1 else None
        counts = [sum(1 for v in placed.values() if v == k) for k in range(len(SHARDS))]
        if min(counts) >= want:
            break
    return placed


def cross_shard_set(net, fp, within):
    """Waits until confluxd has linked a set with legs on two shards (new sets are asked for with
    NEWNYM); returns the counter's value."""
    deadline = time.time() + within
    while time.time() < deadline:
        n = rul.counters().get("confluxd.conflux_sets_across_shards_total", 0)
        if n > 0:
            return n
        net.control("SIGNAL NEWNYM")
        time.sleep(5)
    return 0


def conflux_download(run, net, http, big):
    """A download through the client's SocksPort, which carries exit streams over its linked set."""
    c0 = rul.counters()
    status, sha, n, secs = targets.http_get_until(net.client.socks_port, "127.0.0.1", http.port,
                                                  "/big.bin", within=120, timeout=120)
    c1 = rul.counters()
    key = "confluxd.conflux_messages_to_client_total"
    sha_ok = n == len(big) and sha == hashlib.sha256(big).hexdigest()
    via = {k: c1.get(k, 0) - c0.get(k, 0) for k in
           ("circuitd.cells_to_client_total", "circuitd-1.cells_to_client_total", key)}
    run.check(sha_ok and via[key] >= len(big) // 498,
              f"a {len(big)}-byte download through the client's conflux set: {status}, {n} bytes "
              f"in {secs:.1f} s, sha256 {'matches' if sha_ok else 'DIFFERS'}; what moved: {via}")


def kill_shard(run, net, ctl, http, fp, middles, big):
    placed = build_on_shards(net, ctl, middles, fp)
    on = {k: [c for c, s in placed.items() if s == k] for k in range(len(SHARDS))}
    run.check(on[0] and on[1], f"single-path circuits on each shard: {on} "
                               f"(unattributed: {[c for c, s in placed.items() if s is None]})")
    if not (on[0] and on[1]):
        return
    pids = {d: rul.unit_state(d)[0] for d in OTHERS}
    channels = rul.counters().get("channeld.channels_open")
    downloads = {c: rul.Download(net, ctl, c, http.port, "/big.bin", big, paced=True)
                 for c in on[0] + on[1]}
    for dl in downloads.values():
        dl.reached.wait(60)
    t_kill = time.time()
    old, new, r0, r1, secs = rul.kill_and_wait_restart("circuitd-1")
    run.check(new != old and r1 == r0 + 1,
              f"circuitd-1: kill -9 {old}, the launcher restarted it as {new} (restarts {r0} -> "
              f"{r1}), the relay ready {secs:.1f} s after the kill")
    paths = {c: rul.circuit_hops(net, c) for c in on[1]}
    closes, kicked = rul.wait_closed(net, ctl, paths, t_kill)
    run.check(all(closes.values()),
              f"circuitd-1's circuits {on[1]} closed: {rul.describe_closes(closes, kicked)}")
    for c in on[0]:
        downloads[c].join(120)
    for c in on[1]:
        downloads[c].join(60)
    survived = [c for c in on[0] if not any(rul.circ_closed(l, c) for l in ctl.since(t_kill))]
    run.check(survived == on[0] and all(downloads[c].complete for c in on[0]),
              "circuitd's circuits survived and their downloads completed intact: " +
              "; ".join(f"{c}: {downloads[c].describe()}" for c in on[0]))
    run.check(all(downloads[c].good for c in on[1]),
              "the downloads on circuitd-1's circuits ended with every byte right: " +
              "; ".join(f"{c}: {downloads[c].describe()}" for c in on[1]))
    now = {d: rul.unit_state(d)[0] for d in OTHERS}
    orconn = [l for l in ctl.since(t_kill) if l.startswith("650 ORCONN") and fp in l]
    run.check(now == pids and not orconn,
              f"every other daemon kept its process ({pids} -> {now}); no ORCONN event for "
              f"onionsplit ({orconn}); channels open {channels} -> "
              f"{rul.counters().get('channeld.channels_open')}")
    after = build_on_shards(net, ctl, middles, fp, want=1, most=6)
    fresh_on = [c for c, s in after.items() if s == 1]
    if fresh_on:
        dl = rul.Download(net, ctl, fresh_on[0], http.port, "/big.bin", big, paced=False)
        dl.join(120)
        run.check(dl.complete, f"a new circuit {fresh_on[0]} on the restarted circuitd-1: "
                               f"{dl.describe()}")
    else:
        run.check(False, f"no new circuit landed on the restarted circuitd-1: {after}")


def main():
    run = tornet.InteropRun("os-shards-")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("interop_shards: FAIL: terminated"))
    big = os.path.join(run.files, "big.bin")
    targets.make_file(big, rul.BIG)
    targets.make_file(os.path.join(run.files, "small.bin"), 256 << 10)
    with open(big, "rb") as f:
        big_bytes = f.read()
    ctl = None
    with run, targets.HttpServer(run.files) as http, \
            tornet.TorNet(os.path.join(run.root, "net"), authorities=3, middles=3, exits=0,
                          conflux=True) as net:
        net.setup()
        metrics_port = tornet.free_port()
        run.relay = tornet.Onionsplit(net, run.root, run.bin_dir,
                                      extra=["NumCPUs 2", f"MetricsPort 127.0.0.1:{metrics_port}",
                                             "MetricsPortPolicy accept 127.0.0.1"])
        rul.RELAY = rul.LauncherRelay(run.relay, metrics_port)
        fp = run.relay.fingerprint
        net.exit_nodes = [fp]
        net.start()
        rul.wait_authorities(net, 30)
        run.relay.start()
        if not rul.wait_ready(60):
            raise RuntimeError("onionsplit not ready")
        c = rul.counters()
        pids = {s: run.relay.daemon_pid(s) for s in SHARDS}
        run.check(all(pids.values()) and c.get("channeld.circuitd_shards") == 2,
                  f"two circuitd shards run {pids}; channeld attached to "
                  f"{c.get('channeld.circuitd_shards')} (waiting for none)")
        net.wait_bootstrapped(timeout=120)
        net.wait_for_relay_in_consensus(fp, flags=("Exit", "Fast", "Running", "Stable", "Valid"),
                                        timeout=150)
        targets.http_get_until(net.client.socks_port, "127.0.0.1", http.port, "/small.bin",
                               within=120, timeout=30)
        across = cross_shard_set(net, fp, 120)
        c = rul.counters()
        run.check(across > 0, f"conflux sets linked with legs on both shards: {across} (legs "
                              f"linking per shard: {c.get('circuitd.conflux_legs_linking_total')}, "
                              f"{c.get('circuitd-1.conflux_legs_linking_total')})")
        conflux_download(run, net, http, big_bytes)
        ctl = rul.Controller(net.client.control_port)
        # From here on the client builds only the circuits the test asks for, so that each one's
        # shard shows in the counters.
        reply = net.control("SETCONF __LeaveStreamsUnattached=1 __DisablePredictedCircuits=1 "
                            "ConfluxEnabled=0")[0]
        if not reply.startswith("250"):
            raise RuntimeError(f"SETCONF: {reply}")
        middles = [n.fingerprint for n in net.nodes if n.role == "middle"]
        rul.wait_descriptors(net, middles + [fp], 60)
        kill_shard(run, net, ctl, http, fp, middles, big_bytes)
        ctl.close()
        ctl = None
    if ctl:
        ctl.close()
    return run.result()


if __name__ == "__main__":
    sys.exit(main())
