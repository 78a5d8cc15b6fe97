#!/usr/bin/env python3
"""tests/interop/test_conflux.py: a C tor 0.4.9 client with ConfluxEnabled 1 uses onionsplit as the
exit of its conflux sets.

A private network of Debian `tor` (three authorities, three middles, a client pinned to onionsplit
with ExitNodes/StrictNodes and conflux on) on 127.0.0.1, with an HTTP server the test starts.
Checked:
  1. the client's GETINFO circuit-status shows a linked set: two CONFLUX_LINKED circuits with one
     CONFLUX_ID, both ending at onionsplit (and onionsplit's confluxd counted the set);
  2. 50 MiB arrive intact through the set (throughput printed);
  3. CIRC_BW events show both legs of the set carried the download;
  4. one leg's middle relay stopped by PID (SIGKILL) during a download: the download completes
     intact, or ends early with every byte it got correct (never a corrupted byte).
Every process is stopped by its PID; every wait is bounded.

Usage: test_conflux.py BIN_DIR      (KEEP=1 keeps the temporary directory; BIG_MIB sets 2.)
"""
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets  # noqa: E402
import tornet  # noqa: E402


def wait_for_set(net, exit_fp, within):
    """Polls circuit-status until a linked set of two legs ends at the exit; returns its legs."""
    deadline = time.time() + within
    while time.time() < deadline:
        for legs in net.conflux_sets(exit_fp).values():
            if len(legs) >= 2:
                return legs
        time.sleep(1)
    return None


def fetch_checked(socks, port, path, expected):
    """GETs `path` through Tor, comparing each byte with `expected` (the file); returns (bytes
    received, whether every received byte was right, seconds). A broken stream is not an error."""
    t0 = time.time()
    n, good = 0, True
    try:
        s = targets.socks_connect(socks, "127.0.0.1", port, timeout=60)
    except (OSError, targets.SocksError):
        return 0, True, time.time() - t0
    with s:
        s.settimeout(60)
        try:
            s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    return 0, True, time.time() - t0
                buf += chunk
            body = buf.split(b"\r\n\r\n", 1)[1]
            while True:
                if body:
                    good = good and expected[n:n + len(body)] == body
                    n += len(body)
                body = s.recv(1 << 18)
                if not body:
                    break
        except OSError:
            pass
    return n, good, time.time() - t0


def circ_bw_by_circuit(lines):
    """Sums CIRC_BW READ bytes per circuit id."""
    read = {}
    for line in lines:
        m = re.search(r"CIRC_BW ID=(\d+) READ=(\d+)", line)
        if m:
            read[m.group(1)] = read.get(m.group(1), 0) + int(m.group(2))
    return read


def main():
    run = tornet.InteropRun("onionsplit-conflux-")
    bin_dir, big_mib, root, check, files = run.bin_dir, run.big_mib, run.root, run.check, run.files
    relay = None
    with run:
        big_path = os.path.join(files, "big.bin")
        big_sha = targets.make_file(big_path, big_mib << 20)
        targets.make_file(os.path.join(files, "small.bin"), 256 << 10)
        with open(big_path, "rb") as f:
            big = f.read()
        with targets.HttpServer(files) as http, \
                tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=3, exits=0,
                              conflux=True) as net:
            net.setup()
            relay = run.relay = tornet.Onionsplit(net, root, bin_dir)
            net.exit_nodes = [relay.fingerprint]
            net.start()
            relay.start()
            net.wait_bootstrapped(timeout=120)
            net.wait_for_relay_in_consensus(
                relay.fingerprint, flags=("Exit", "Fast", "Running", "Stable", "Valid"),
                timeout=150)
            socks = net.client.socks_port
            status, _, _, _ = targets.http_get_until(socks, "127.0.0.1", http.port, "/small.bin",
                                                     within=120, timeout=30)
            check(" 200 " in status + " ", f"a first stream through onionsplit: {status}")

            # 1. A linked set ends at onionsplit.
            legs = wait_for_set(net, relay.fingerprint, 120)
            check(legs is not None,
                  f"a linked conflux set at onionsplit: {legs and [c for c, _ in legs]}")
            counters = relay.counters()
            check(counters.get("confluxd.conflux_sets_linked_total", 0) >= 1,
                  f"confluxd linked {counters.get('confluxd.conflux_sets_linked_total')} set(s) "
                  f"from {counters.get('confluxd.conflux_legs_linked_total')} legs")
            if legs is None:
                raise RuntimeError("no linked set; the remaining checks need one")

            # 2 and 3. The download, with CIRC_BW events.
            circuits = net.conflux_circuits()
            result, events = net.collect_events(
                "CIRC_BW", lambda: targets.http_get(socks, "127.0.0.1", http.port, "/big.bin",
                                                    timeout=300), timeout=330)
            if isinstance(result, Exception):
                raise result
            status, sha, n, secs = result
            check(sha == big_sha and n == big_mib << 20,
                  f"{big_mib} MiB through the set, sha256 {sha[:16]}..., {n} bytes in {secs:.1f} s "
                  f"({n / secs / (1 << 20):.1f} MiB/s)")
            read = circ_bw_by_circuit(events)
            circuits.update(net.conflux_circuits())
            # The two circuits that carried most of the download must be two legs of one set
            # ending at onionsplit (other circuits may read a little meanwhile, e.g. directory
            # fetches).
            top = sorted(read.items(), key=lambda kv: kv[1], reverse=True)[:2]
            ids = {circuits[c][0] for c, _ in top if c in circuits}
            at_exit = all(c in circuits and circuits[c][2][-1] == relay.fingerprint for c, _ in top)
            share = sum(v for _, v in top) / max(1, sum(read.values()))
            check(len(top) == 2 and all(v > 0 for _, v in top) and len(ids) == 1 and at_exit and
                  share > 0.9,
                  f"CIRC_BW: two legs of one set ({ids}) carried {share:.0%} of the download: "
                  f"bytes read {dict(top)} (all circuits: {read})")
            if len(ids) != 1 or not at_exit:
                for c, _ in top:
                    print(f"     {c}: {circuits.get(c, ('?', '?', [], 'not a conflux circuit'))[3]}")

            # 4. One leg's middle dies mid-download. The stream's circuit (stream-status) names
            # the set; its victim is a middle of one leg that the other leg does not use, if the
            # set has one (else a middle all the same: then both legs break and the stream ends).
            def stream_set():
                for line in net.control("GETINFO stream-status")[0].splitlines():
                    m = re.match(r"^(?:250[-+ ](?:stream-status=)?)?\d+ SUCCEEDED (\d+) ", line)
                    if m:
                        return m.group(1)
                return None
            outcome = {}

            def download():
                outcome["r"] = fetch_checked(socks, http.port, "/big.bin", big)

            t = threading.Thread(target=download, daemon=True)
            t.start()
            time.sleep(1.5)
            circuits = net.conflux_circuits()
            circ = stream_set()
            cid = circuits.get(circ, (None,))[0]
            legs = [(c, v[2]) for c, v in circuits.items() if cid and v[0] == cid]
            by_fp = {n.fingerprint: n for n in net.nodes if n.fingerprint}
            victim = None
            if len(legs) >= 2:
                (_, hops_a), (_, hops_b) = legs[0], legs[1]
                pick = [h for h in hops_a[1:-1] if h not in hops_b] or \
                    [h for h in hops_b[1:-1] if h not in hops_a] or hops_a[1:-1]
                victim = by_fp.get(pick[0]) if pick else None
            if victim is not None:
                victim.stopped_on_purpose = True
                net.stop_node(victim)
            t.join(timeout=330)
            got, good, secs = outcome.get("r", (0, False, 0))
            complete = got == len(big)
            if victim is None:
                print(f"     stream on circuit {circ}, set {cid}, legs {legs}")
            check(victim is not None and good,
                  f"middle {victim and victim.name} killed mid-download: "
                  f"{'complete' if complete else 'ended early'} after {got} bytes in {secs:.1f} s, "
                  f"every byte {'right' if good else 'WRONG'}")
            status, _, _, _ = targets.http_get_until(socks, "127.0.0.1", http.port, "/small.bin",
                                                     within=90, timeout=30)
            check(" 200 " in status + " ", "a new stream works after the middle died")

            counters = relay.counters()
            for k in sorted(counters):
                if counters[k] and (k.startswith("confluxd.conflux") or ".leg" in k or
                                    "conflux" in k):
                    print(f"     {k} = {counters[k]}")
    return run.result()


if __name__ == "__main__":
    sys.exit(main())
