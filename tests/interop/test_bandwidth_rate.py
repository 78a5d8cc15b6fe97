#!/usr/bin/env python3
"""tests/interop/test_bandwidth_rate.py: BandwidthRate limits onionsplit's traffic, as in C tor.

onionsplit runs as the pinned exit of a private network of Debian `tor` with `BandwidthRate 1
MBytes` and `BandwidthBurst 1 MBytes`; an 8 MiB download through it must take at least 5 s (8.4 MB at
no more than 1 MB/s plus the 1 MB burst is over 7 s; 5 s leaves room for the buckets' start). Only a
lower bound on time is checked: a slow machine cannot fail it, an unlimited relay does (about 1 s
here). Every process is stopped by its PID; every wait is bounded.

Usage: test_bandwidth_rate.py BIN_DIR      (KEEP=1 keeps the temporary directory)
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets  # noqa: E402
import tornet  # noqa: E402


def main():
    bin_dir = os.path.abspath(sys.argv[1])
    root = tempfile.mkdtemp(prefix="onionsplit-bw-")
    relay = None
    try:
        files = os.path.join(root, "files")
        os.makedirs(files)
        sha = targets.make_file(os.path.join(files, "f.bin"), 8 << 20)
        with targets.HttpServer(files) as http, \
                tornet.TorNet(os.path.join(root, "net"), conflux=False) as net:
            net.setup()
            relay = tornet.Onionsplit(net, root, bin_dir, extra=["BandwidthRate 1 MBytes",
                                                                 "BandwidthBurst 1 MBytes"])
            net.exit_nodes = [relay.fingerprint]
            net.start()
            relay.start()
            net.wait_bootstrapped(timeout=120)
            net.wait_for_relay_in_consensus(relay.fingerprint, flags=("Exit", "Running"),
                                            timeout=150)
            _, got, n, secs = targets.http_get_until(net.client.socks_port, "127.0.0.1",
                                                     http.port, "/f.bin")
            ok = got == sha and secs >= 5.0
            print(f"8 MiB through onionsplit with BandwidthRate 1 MBytes: {secs:.1f} s "
                  f"({n / secs / 1e6:.2f} MB/s), sha256 {'ok' if got == sha else 'WRONG'}")
            print("PASS" if ok else "FAIL")
            return 0 if ok else 1
    finally:
        tornet.finish(relay, root)


if __name__ == "__main__":
    sys.exit(main())
