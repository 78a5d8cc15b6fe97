#!/usr/bin/env python3
"""tests/interop/test_middle.py: onionsplit as a middle relay (EXTEND2) between C tor 0.4.9 relays.

A private network of Debian `tor` (three authorities, three exits, two clients) on
127.0.0.1 with an HTTP server started by the test. Client 1 is pinned to onionsplit as its only
middle (MiddleNodes) and to the C tor exit (ExitNodes); client 2 is pinned to onionsplit as its
exit. Checked:
  1. through onionsplit as the middle: 50 MiB arrive with the right sha256 (throughput printed),
     and 16 parallel streams complete byte-exact;
  2. onionsplit's counters show the middle role at work (extends answered, cells forwarded both
     ways) and no stream of client 1 reached its streamd;
  3. at the same time, onionsplit as the middle of client 1 and the exit of client 2: both
     downloads arrive intact.
Every process is stopped by its PID; every wait is bounded.

Usage: test_middle.py BIN_DIR      (KEEP=1 keeps the temporary directory; BIG_MIB sets 1;
                                   ONIONSPLIT_LOG="Log debug file PATH" adds a log line.)
"""
import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets  # noqa: E402
import tornet  # noqa: E402


def first_stream(socks, port, within):
    """Retries a small fetch until the client has a working circuit."""
    status, _, _, _ = targets.http_get_until(socks, "127.0.0.1", port, "/small.bin", within=within,
                                             timeout=30)
    if " 200 " not in status + " ":
        raise TimeoutError(f"no stream: {status}")


def fetch(socks, port, path, timeout):
    try:
        return targets.http_get(socks, "127.0.0.1", port, path, timeout=timeout)
    except Exception as e:  # noqa: BLE001 (reported by the caller)
        return ("error", repr(e), 0, 1)


def main():
    run = tornet.InteropRun("onionsplit-middle-")
    bin_dir, big_mib, root, check, files = run.bin_dir, run.big_mib, run.root, run.check, run.files
    relay = None
    with run:
        big_sha = targets.make_file(os.path.join(files, "big.bin"), big_mib << 20)
        small_sha = targets.make_file(os.path.join(files, "small.bin"), 256 << 10)
        with targets.HttpServer(files) as http, \
                tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=0, exits=3,
                              conflux=False) as net:
            client2 = tornet.Node(net, "client2", "client")
            net.nodes.append(client2)
            net.setup()
            relay = run.relay = tornet.Onionsplit(
                net, root, bin_dir, extra=[l for l in [os.environ.get("ONIONSPLIT_LOG")] if l])
            # Three C tor exits besides onionsplit: with exits scarce, the consensus would weigh an
            # Exit-flagged relay at 0 for the middle position, and a client whose only middle is
            # onionsplit would never have enough directory information to bootstrap.
            c_exit = next(n for n in net.nodes if n.role == "exit")
            # C tor counts a client's possible guards among its MiddleNodes unless EntryNodes is
            # set: name the authorities (the network's guards) as client 1's entries.
            guards = ",".join("$" + a.fingerprint for a in net.authorities())
            net.client.extra = [f"MiddleNodes ${relay.fingerprint}", f"EntryNodes {guards}",
                                f"ExitNodes ${c_exit.fingerprint}", "StrictNodes 1"]
            client2.extra = [f"ExitNodes ${relay.fingerprint}", "StrictNodes 1"]
            # tornet gives every client a MiddleNodes line, and C tor adds repeated MiddleNodes
            # lines together: client 1 keeps only ours.
            write_torrc = net._write_torrc

            def only_our_middle(n):
                write_torrc(n)
                if n is net.client:
                    with open(n.torrc) as f:
                        lines = f.read().splitlines()
                    ours = f"MiddleNodes ${relay.fingerprint}"
                    lines = [l for l in lines if not l.startswith("MiddleNodes ") or l == ours]
                    with open(n.torrc, "w") as f:
                        f.write("\n".join(lines) + "\n")
            net._write_torrc = only_our_middle
            net.start()
            relay.start()
            # Client 1 cannot finish bootstrapping before its only middle is in the consensus.
            net.wait_for_relay_in_consensus(relay.fingerprint, flags=("Exit", "Running", "Valid"),
                                            timeout=180)
            net.wait_bootstrapped(timeout=180)
            socks = net.client.socks_port
            first_stream(socks, http.port, 150)
            before = relay.counters()

            # 1. One big file, then 16 parallel streams, with onionsplit as the middle.
            status, sha, n, secs = targets.http_get(socks, "127.0.0.1", http.port, "/big.bin",
                                                    timeout=300)
            check(sha == big_sha and n == big_mib << 20,
                  f"{big_mib} MiB with onionsplit as the middle, sha256 {sha[:16]}..., {n} bytes "
                  f"in {secs:.1f} s ({n / secs / (1 << 20):.1f} MiB/s)")
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                jobs = [pool.submit(fetch, socks, http.port, "/small.bin", 180) for _ in range(16)]
                results = [j.result(timeout=240) for j in jobs]
            good = sum(1 for r in results if r[1] == small_sha)
            check(good == 16, f"16 parallel streams through onionsplit as the middle: {good} "
                              "complete and byte-exact")

            # 2. What onionsplit counted: the middle role, and no stream of its own.
            after = relay.counters()
            for k in sorted(after):
                if after[k] and "ipc_" not in k:
                    print(f"     {k} = {after[k]}")
            extended = after.get("circuitd.extended_total", 0)
            check(extended > 0, f"circuitd answered {extended} EXTEND2 with EXTENDED2")
            back = (after.get("circuitd.cells_relayed_back_total", 0)
                    - before.get("circuitd.cells_relayed_back_total", 0))
            check(back >= (big_mib << 20) // 498,
                  f"{back} cells from the next hop went back to the client (the download)")
            streams = (after.get("streamd.streams_opened_total", 0)
                       - before.get("streamd.streams_opened_total", 0))
            check(streams == 0, f"streamd opened {streams} streams while onionsplit was a middle")

            # 3. Middle for client 1 and exit for client 2 at the same time.
            socks2 = client2.socks_port
            first_stream(socks2, http.port, 150)
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                a = pool.submit(fetch, socks, http.port, "/big.bin", 300)
                b = pool.submit(fetch, socks2, http.port, "/big.bin", 300)
                ra, rb = a.result(timeout=330), b.result(timeout=330)
            check(ra[1] == big_sha, f"at once: {big_mib} MiB via onionsplit as the middle "
                                    f"({ra[2] / ra[3] / (1 << 20):.1f} MiB/s) {ra[0][:40]}")
            check(rb[1] == big_sha, f"at once: {big_mib} MiB via onionsplit as the exit "
                                    f"({rb[2] / rb[3] / (1 << 20):.1f} MiB/s) {rb[0][:40]}")
    return run.result()


if __name__ == "__main__":
    sys.exit(main())
