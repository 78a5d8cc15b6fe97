#!/usr/bin/env python3
"""bench/conflux/bench_conflux.py: conflux through onionsplit and through a C tor exit, in one run.

One private network of Debian `tor` (three authorities, three middles, one C tor exit, one client)
on 127.0.0.1, with onionsplit as a second exit and a local HTTP server. For each exit the client is
pinned to it (its torrc's ExitNodes; the client restarts for each case) and downloads the same file twice: once with conflux
(ConfluxEnabled 1; the download must ride a linked set ending at that exit) and once single-path
(ConfluxEnabled 0). Each download reports MiB/s and the exit's CPU seconds per 50 MiB (onionsplit:
every daemon summed, and each daemon's share with its system calls per MiB).

RESULT lines (value = onionsplit, baseline = what it is compared with, measured here, now):
  conflux_throughput            onionsplit with conflux  vs  C tor exit with conflux  (MiB/s)
  conflux_cpu_per_50mib         onionsplit with conflux  vs  C tor exit with conflux  (s)
  conflux_gain_onionsplit       onionsplit with conflux  vs  onionsplit single-path   (MiB/s)
  conflux_gain_ctor             C tor with conflux       vs  C tor single-path        (MiB/s)

Usage: bench_conflux.py BIN_DIR [--mib 50]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "interop"))
sys.path.insert(0, os.path.join(HERE, "..", "exit"))
import bench_exit  # noqa: E402
import targets  # noqa: E402
import tornet  # noqa: E402


def download(net, fp, pids_of, http_port, conflux, tag):
    """Restarts the client pinned to exit `fp` with conflux on or off (a running client keeps
    using sets it linked before a SETCONF), and downloads big.bin; returns (MiB/s, CPU seconds
    per 50 MiB, whether a linked set ended at the exit)."""
    socks = net.client.socks_port
    net.exit_nodes = [fp]
    net.conflux = conflux
    net.stop_node(net.client)
    net.start([net.client])
    net.wait_bootstrapped(timeout=120)
    targets.http_get_until(socks, "127.0.0.1", http_port, "/small.bin", timeout=30,
                           username=f"warm{tag}")
    linked = False
    deadline = time.time() + (60 if conflux else 0)
    while conflux and time.time() < deadline and not linked:
        linked = any(len(legs) >= 2 for legs in net.conflux_sets(fp).values())
        if not linked:
            time.sleep(1)
    n, secs, cpu = bench_exit.download_costs(pids_of(), lambda: targets.http_get(
        socks, "127.0.0.1", http_port, "/big.bin", timeout=600, username=f"big{tag}")[2:])
    mibps = n / secs / (1 << 20)
    print(f"  exit {fp[:8]} conflux={'on ' if conflux else 'off'} (linked set: {linked}): "
          f"{n >> 20} MiB in {secs:.1f} s = {mibps:.1f} MiB/s, cpu {cpu:.2f} s per 50 MiB",
          flush=True)
    return mibps, cpu, linked


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--mib", type=int, default=50)
    args = ap.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    root = tempfile.mkdtemp(prefix="onionsplit-bench-conflux-")
    relay = None
    try:
        files = os.path.join(root, "files")
        os.makedirs(files)
        targets.make_file(os.path.join(files, "big.bin"), args.mib << 20)
        targets.make_file(os.path.join(files, "small.bin"), 64 << 10)
        with targets.HttpServer(files) as http, \
                tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=3, exits=1,
                              conflux=True) as net:
            net.setup()
            relay = tornet.Onionsplit(net, root, bin_dir)
            net.start()
            relay.start()
            net.wait_bootstrapped(timeout=120)
            ctor = next(n for n in net.nodes if n.role == "exit")
            for fp in (relay.fingerprint, ctor.fingerprint):
                net.wait_for_relay_in_consensus(
                    fp, flags=("Exit", "Fast", "Running", "Stable", "Valid"), timeout=150)
            split_pids = lambda: bench_exit.children(relay.proc.pid)  # noqa: E731
            ctor_pids = lambda: [ctor.proc.pid]  # noqa: E731
            s_on = download(net, relay.fingerprint, split_pids, http.port, True, "s1")
            s_off = download(net, relay.fingerprint, split_pids, http.port, False, "s0")
            c_on = download(net, ctor.fingerprint, ctor_pids, http.port, True, "c1")
            c_off = download(net, ctor.fingerprint, ctor_pids, http.port, False, "c0")
            if not (s_on[2] and c_on[2]):
                print("  (a conflux download had no linked set at its exit: its figure is "
                      "single-path)", flush=True)
            bench_exit.result("conflux_gain_ctor", c_on[0], "MiB/s", c_off[0])
            bench_exit.result("conflux_gain_onionsplit", s_on[0], "MiB/s", s_off[0])
            bench_exit.result("conflux_cpu_per_50mib", s_on[1], "s", c_on[1])
            bench_exit.result("conflux_throughput", s_on[0], "MiB/s", c_on[0])
            return 0
    finally:
        if relay:
            relay.stop()
        if os.environ.get("KEEP") is None:
            subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    sys.exit(main())
