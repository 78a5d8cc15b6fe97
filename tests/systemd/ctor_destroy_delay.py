#!/usr/bin/env python3
"""tests/systemd/ctor_destroy_delay.py: how often a C tor middle holds back the DESTROY for a client
circuit after its exit goes away under load, with no onionsplit anywhere (docs/OPERATING.md,
Restart semantics).

    python3 tests/systemd/ctor_destroy_delay.py WORKDIR [--runs N]

It starts a private network of Debian `tor` on 127.0.0.1 (tests/interop/tornet.py: three
authorities, three middles, two C tor exits, a client with a ControlPort) and an HTTP server, then
N times, alternating between the exits:
  1. builds C1 = middle0, middle1, exit and downloads 8 MiB on it, read at 2 MiB/s;
  2. after 1 MiB, `kill -9` of that exit: middle1 loses its channel to the exit and closes C1, and
     the client should hear DESTROY (through middle0) at once;
  3. if C1 is still open 20 s later, builds a circuit through middle0 and middle1 (their CREATED2
     cells go back over C1's channels) and waits 10 s more for C1 to close;
  4. starts the exit again.
A C tor relay queues the DESTROY it sends toward the client without waking its cell scheduler when
that channel's output buffer is not empty (circuitmux_append_destroy_cell), so the DESTROY waits
until the relay's next cell on that channel. restart_under_load.py sees the same after circuitd's or
confluxd's `kill -9`, and gives such circuits the same new circuit (its wait_closed()).

Prints one line per run and `ctor-destroy-delay: K of N runs: ...` at the end (a run whose download
did not reach 1 MiB is not counted). Exits 0 when every C1 closed (at once or after the new
circuit), 1 otherwise. Takes about 10 s a run. Every wait is
bounded; every tor is stopped by its PID (TorNet).
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import restart_under_load as rul  # noqa: E402
import targets  # noqa: E402
import tornet  # noqa: E402


def log(msg):
    print(f"ctor-destroy-delay: {msg}", flush=True)


def build_c1(net, ctl, hops, within=60):
    """C1 along `hops`; a restarted exit may refuse circuits for a few seconds."""
    deadline = time.time() + within
    while True:
        try:
            return rul.build_circuit(net, ctl, hops)
        except RuntimeError:
            if time.time() > deadline:
                raise
            time.sleep(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("workdir")
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    files = os.path.join(args.workdir, "files")
    os.makedirs(files, exist_ok=True)
    targets.make_file(os.path.join(files, "big.bin"), rul.BIG)
    targets.make_file(os.path.join(files, "small.bin"), 256 << 10)
    with open(os.path.join(files, "big.bin"), "rb") as f:
        big = f.read()
    counted, held, released, ctl = 0, 0, 0, None
    with targets.HttpServer(files) as http, \
            tornet.TorNet(os.path.join(args.workdir, "net"), authorities=3, middles=3, exits=2,
                          conflux=False) as net:
        net.setup()
        exits = [n for n in net.nodes if n.role == "exit"]
        net.exit_nodes = [e.fingerprint for e in exits]
        net.start()
        try:
            net.wait_bootstrapped(timeout=120)
            for e in exits:
                net.wait_for_relay_in_consensus(e.fingerprint, flags=("Exit", "Running", "Valid"),
                                                timeout=150)
            targets.http_get_until(net.client.socks_port, "127.0.0.1", http.port, "/small.bin",
                                   within=120, timeout=30)
            ctl = rul.Controller(net.client.control_port)
            net.control("SETCONF __LeaveStreamsUnattached=1")
            middles = [n.fingerprint for n in net.nodes if n.role == "middle"]
            for i in range(args.runs):
                ex = exits[i % 2]
                path = [middles[0], middles[1], ex.fingerprint]
                c1 = build_c1(net, ctl, path)
                dl = rul.Download(net, ctl, c1, http.port, "/big.bin", big, paced=True)
                dl.reached.wait(60)
                at = dl.n
                if at < rul.KILL_AT:  # not under load: not counted
                    dl.join(40)
                    log(f"run {i + 1}: the download on C1 = {c1} {dl.describe()}; not counted")
                    continue
                counted += 1
                t_kill = time.time()
                net.stop_node(ex)
                closes, kicked = rul.wait_closed(net, ctl, {c1: path}, t_kill)
                dl.join(40)
                if kicked:
                    held += 1
                    released += closes[c1] is not None
                log(f"run {i + 1}: {ex.name} killed at {at} bytes; C1 = {c1}: "
                    f"{rul.describe_closes(closes, kicked)[:160]}")
                net.start([ex])
                time.sleep(2)
        finally:
            if ctl:
                ctl.close()
    log(f"{held} of {counted} runs: C1 still open 20 s after its exit's kill -9; "
        f"{released} of those closed after a new circuit through the same middles")
    return 0 if counted and held == released else 1


if __name__ == "__main__":
    sys.exit(main())
