#!/usr/bin/env python3
"""bench/exit/bench_exit.py: onionsplit against a C tor exit, in one run and one private network.

One private network of Debian `tor` (three authorities, two middles, one C tor exit, one client) on
127.0.0.1, with onionsplit as a second exit and a local HTTP server. The client is pinned to one exit
at a time (SETCONF ExitNodes + NEWNYM) and the same measurements run through each:
  - CPU seconds (user + system, from /proc) the exit spent per 50 MiB downloaded: for onionsplit
    every daemon summed, for C tor its one process;
  - total throughput of 16 concurrent downloads on 16 separate circuits (SOCKS isolation);
  - memory (RSS) per idle circuit (circuits built with EXTENDCIRCUIT, no streams: the growth over
    the second half of them, after the first half paid for what a burst grows once) and per open
    stream (streams held open to a server that does not answer), measured first, before any bulk
    transfer has grown the allocators' free lists;
  - system calls per MiB of each relay process over a second big download (perf stat, when perf
    is installed; not during the first, whose CPU it would raise): the wake-ups and socket
    operations every hop costs.
  - core scaling (--core-scaling): the 16-download throughput with the exit's processes (every
    thread, `taskset -a`) pinned to one core and then allowed two; RESULT core_scaling is
    onionsplit's gain from the second core, with C tor's gain as the baseline.
The CPU per 50 MiB is also printed per daemon, so a regression shows where it is.
Every RESULT line compares onionsplit (value) with C tor (baseline) measured here, now.
  - relay crypto (--crypto-compare, instead of the above): onionsplit's CPU per 50 MiB as an exit
    with Counter Galois Onion against the same with tor1, in one network: a second onionsplit exit
    runs with TestingOfferCgo 0 (it advertises Relay=2-4, so the C tor client builds tor1 circuits
    to it). The downloads alternate between the two, --rounds times each; RESULT
    exit_cpu_cgo_vs_tor1 compares the medians. circuitd's counters prove each run's crypto: on the
    CGO exit cgo_cells_to_client_total grows with cells_to_client_total, on the tor1 exit not at all.

Usage: bench_exit.py BIN_DIR [--mib 50] [--circuits 60] [--core-scaling] [--extra "NumCPUs 2"]
       bench_exit.py BIN_DIR --crypto-compare [--mib 50] [--rounds 3]
"""
import argparse
import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "interop"))
import targets  # noqa: E402
import tornet  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def children(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def by_process(pids, measure):
    """{process name: measure([pid])} (a name seen twice, e.g. two circuitd shards, is numbered)."""
    out = {}
    for pid in pids:
        with open(f"/proc/{pid}/comm") as f:
            name = f.read().strip()
        key, k = name, 1
        while key in out:
            key, k = f"{name}#{k}", k + 1
        out[key] = measure([pid])
    return out


def cpu_by_process(pids):
    return by_process(pids, cpu_seconds)


class SyscallCount:
    """System calls made by `pids` while it runs (perf stat on raw_syscalls:sys_enter): the
    wake-ups and socket operations a byte costs on each hop. None without perf."""

    def __init__(self, pids):
        self.pids, self.proc, self.counts = pids, None, None
        if shutil.which("perf"):
            self.proc = subprocess.Popen(
                ["perf", "stat", "-x,", "--no-big-num", "-e", "raw_syscalls:sys_enter",
                 "--per-thread", "-p", ",".join(map(str, pids))],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(0.5)  # perf attaches before the download starts

    def stop(self):
        """{process name: count}, or None."""
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGINT)
        err = self.proc.communicate(timeout=30)[1]
        counts = {}
        for line in err.splitlines():  # "name-pid,count,,raw_syscalls:sys_enter,..."
            f = line.split(",")
            if len(f) > 3 and "sys_enter" in f[3] and f[1].isdigit():
                name = f[0].strip().rsplit("-", 1)[0]
                counts[name] = counts.get(name, 0) + int(f[1])
        return counts or None


def pin_cores(pids, cores):
    """Every thread of `pids` on `cores` ("0" or "0,1")."""
    for pid in pids:
        subprocess.run(["taskset", "-a", "-p", "-c", cores, str(pid)], check=True,
                       capture_output=True)


def rss_bytes(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
    return total


class Holder:
    """A TCP server that accepts connections and never answers: streams to it stay open."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def result(name, value, unit, baseline):
    """A RESULT line; a figure that could not be measured (None) prints as nan."""
    fmt = lambda v: "nan" if v is None else f"{v:.4g}"  # noqa: E731
    ratio = "nan" if value is None or not baseline else f"{value / baseline:.3f}"
    print(f"RESULT {name} value={fmt(value)} {unit} baseline={fmt(baseline)} ratio={ratio}",
          flush=True)


def pin(net, fp):
    net.control(f"SETCONF ExitNodes=${fp} StrictNodes=1", "SIGNAL NEWNYM")
    time.sleep(1)


def built_ids(net):
    """The ids of the client's BUILT circuits."""
    return {line.split(" ")[0] for line in net.getinfo("circuit-status").splitlines()
            if len(line.split(" ")) > 1 and line.split(" ")[1] == "BUILT"}


def build_circuits(net, fp, ncirc):
    """Builds `ncirc` idle circuits through `fp` (EXTENDCIRCUIT); the number that were built."""
    guard = net.nodes[0].fingerprint
    middle = next(n for n in net.nodes if n.role == "middle").fingerprint
    ids = set()
    for _ in range(ncirc):
        reply = net.control(f"EXTENDCIRCUIT 0 ${guard},${middle},${fp}")[0]
        if reply.startswith("250 EXTENDED "):
            ids.add(reply.split()[2])
    deadline = time.time() + 60
    built = 0
    while time.time() < deadline:
        built = len(built_ids(net) & ids)
        if built * 10 >= len(ids) * 9:
            break
        time.sleep(0.5)
    print(f"  {len(ids)} EXTENDCIRCUIT accepted, {built} built", flush=True)
    return built


def measure(net, fp, pids_of, http_port, mib, ncirc, path_prefix):
    socks = net.client.socks_port
    pin(net, fp)
    # Warm up (a circuit through this exit), then one big download.
    targets.http_get_until(socks, "127.0.0.1", http_port, "/small.bin", timeout=30,
                           username="warm")
    # Memory per idle circuit: EXTENDCIRCUIT builds circuits without streams, in two batches. The
    # first pays what any burst grows once (IPC buffers, allocator arenas); the second batch's
    # growth is the marginal cost of a circuit.
    # Half the circuits in each batch: C tor's client built none of a second batch of 100 after a
    # first of 100.
    time.sleep(2)
    build_circuits(net, fp, ncirc // 2)
    time.sleep(2)
    r0, m0 = rss_bytes(pids_of()), by_process(pids_of(), rss_bytes)
    built = build_circuits(net, fp, ncirc - ncirc // 2)
    time.sleep(2)
    r1, m1 = rss_bytes(pids_of()), by_process(pids_of(), rss_bytes)
    per_circ = (r1 - r0) / built if built else None  # nothing to divide by
    if built:
        print("  memory per idle circuit by process: " + ", ".join(
            f"{k} {(m1[k] - m0.get(k, 0)) / built / 1024:.1f} KiB" for k in sorted(m1)), flush=True)
    # Memory per open stream: streams held open on one circuit.
    holder = Holder()
    socks_conns = []
    for i in range(ncirc):
        try:
            socks_conns.append(targets.socks_connect(socks, "127.0.0.1", holder.port, timeout=60,
                                                     username=f"hold{path_prefix}{i // 50}"))
        except (OSError, targets.SocksError):
            pass
    time.sleep(3)
    r2 = rss_bytes(pids_of())
    # RSS moves in pages: a delta of 0 means below what RSS can show, not zero.
    per_stream = (r2 - r1) / len(socks_conns) if socks_conns and r2 > r1 else None
    for s in socks_conns:
        s.close()
    holder.close()
    n, secs, cpu = download_costs(pids_of(), lambda: targets.http_get(
        socks, "127.0.0.1", http_port, "/big.bin", timeout=600, username="big")[2:])
    tput = sixteen(socks, http_port, f"dl{path_prefix}")
    print(f"  exit {fp[:8]}: {n >> 20} MiB in {secs:.1f} s, cpu {cpu:.2f} s per 50 MiB, "
          f"16 downloads {tput:.1f} MiB/s, {built} idle circuits "
          f"+{'?' if per_circ is None else f'{per_circ / 1024:.1f}'} KiB each, "
          f"{len(socks_conns)} streams "
          f"+{'?' if per_stream is None else f'{per_stream / 1024:.1f}'} KiB each", flush=True)
    return cpu, tput, per_circ, per_stream


def download_costs(pids, download):
    """Runs download() -> (bytes, seconds) and prints what it cost `pids` by process: CPU per 50
    MiB, then system calls per MiB over a second run of download() (tracing every system call
    costs CPU itself, so it stays out of the first). Returns (bytes, seconds, CPU seconds per 50
    MiB of all `pids`) of the first run."""
    c0, by0 = cpu_seconds(pids), cpu_by_process(pids)
    n, secs = download()
    cpu = (cpu_seconds(pids) - c0) * (50 << 20) / n
    by1 = cpu_by_process(pids)
    print("  cpu per 50 MiB by process: " + ", ".join(
        f"{k} {(by1[k] - by0.get(k, 0)) * (50 << 20) / n:.2f} s" for k in sorted(by1)), flush=True)
    calls = SyscallCount(pids)
    if calls.proc:
        m, _ = download()
        counts = calls.stop()
        if counts:
            print("  system calls per MiB by process: " + ", ".join(
                f"{k} {v * (1 << 20) / m:.0f}" for k, v in sorted(counts.items())) +
                f" (all: {sum(counts.values()) * (1 << 20) / m:.0f})", flush=True)
    return n, secs, cpu


def sixteen(socks, http_port, tag):
    """MiB/s of 16 concurrent 8 MiB downloads on separate circuits (SOCKS isolation by `tag`)."""
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        sizes = list(pool.map(lambda i: targets.http_get(socks, "127.0.0.1", http_port,
                                                         "/mid.bin", 600, f"{tag}{i}")[2],
                              range(16)))
    return sum(sizes) / (time.time() - t0) / (1 << 20)


def scaling(net, fp, pids, http_port, tag):
    """The 16-download throughput on one core, then on two: (one, two)."""
    pin(net, fp)
    socks = net.client.socks_port
    targets.http_get_until(socks, "127.0.0.1", http_port, "/small.bin", timeout=30,
                           username=f"warm{tag}")
    pin_cores(pids, "0")
    one = sixteen(socks, http_port, f"one{tag}")
    pin_cores(pids, "0,1")
    two = sixteen(socks, http_port, f"two{tag}")
    print(f"  exit {fp[:8]}: 16 downloads {one:.1f} MiB/s on one core, {two:.1f} MiB/s on two "
          f"(gain {two / one:.2f})", flush=True)
    return one, two


def crypto_run(net, relay, http_port, tag):
    """One download through `relay`: (CPU seconds of all its daemons per 50 MiB, cells it sent to
    the client, of those on CGO circuits)."""
    pin(net, relay.fingerprint)
    socks = net.client.socks_port
    targets.http_get_until(socks, "127.0.0.1", http_port, "/small.bin", timeout=30,
                           username=f"warm{tag}")
    before = relay.counters()
    pids = children(relay.proc.pid)
    c0 = cpu_seconds(pids)
    n = targets.http_get(socks, "127.0.0.1", http_port, "/big.bin", timeout=600,
                         username=f"big{tag}")[2]
    cpu = (cpu_seconds(pids) - c0) * (50 << 20) / n
    after = relay.counters()
    grew = lambda k: after.get(f"circuitd.{k}", 0) - before.get(f"circuitd.{k}", 0)  # noqa: E731
    return cpu, grew("cells_to_client_total"), grew("cgo_cells_to_client_total")


def crypto_compare(net, cgo_relay, tor1_relay, http_port, rounds):
    """Alternates downloads through the CGO and the tor1 exit; prints the RESULT line. 0 when
    every run used the crypto it was meant to, else 1."""
    runs = {"cgo": [], "tor1": []}
    ok = True
    for r in range(rounds):
        for name, relay in (("cgo", cgo_relay), ("tor1", tor1_relay)):
            cpu, cells, cgo_cells = crypto_run(net, relay, http_port, f"{name}{r}")
            print(f"  round {r} {name}: cpu {cpu:.2f} s per 50 MiB, {cells} cells to the client, "
                  f"{cgo_cells} of them CGO", flush=True)
            runs[name].append(cpu)
            meant = cgo_cells * 100 >= cells * 95 if name == "cgo" else cgo_cells * 100 <= cells
            if not meant or cells == 0:
                print(f"  round {r} {name}: not the crypto it was meant to use", flush=True)
                ok = False
    med = lambda v: sorted(v)[len(v) // 2]  # noqa: E731
    result("exit_cpu_cgo_vs_tor1", med(runs["cgo"]), "s", med(runs["tor1"]))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--mib", type=int, default=50)
    ap.add_argument("--circuits", type=int, default=60)
    ap.add_argument("--core-scaling", action="store_true",
                    help="only the core scaling measurement")
    ap.add_argument("--extra", action="append", default=[],
                    help="a torrc line for onionsplit (e.g. \"NumCPUs 2\")")
    ap.add_argument("--crypto-compare", action="store_true",
                    help="only onionsplit's exit CPU with CGO against tor1")
    ap.add_argument("--rounds", type=int, default=3, help="downloads per crypto (--crypto-compare)")
    args = ap.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    root = tempfile.mkdtemp(prefix="onionsplit-bench-exit-")
    relay = tor1_relay = None
    try:
        files = os.path.join(root, "files")
        os.makedirs(files)
        targets.make_file(os.path.join(files, "big.bin"), args.mib << 20)
        targets.make_file(os.path.join(files, "mid.bin"), 8 << 20)
        targets.make_file(os.path.join(files, "small.bin"), 64 << 10)
        with targets.HttpServer(files) as http, \
                tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=2, exits=1,
                              conflux=False) as net:
            net.setup()
            relay = tornet.Onionsplit(net, root, bin_dir, extra=args.extra)
            if args.crypto_compare:
                tor1_relay = tornet.Onionsplit(net, os.path.join(root, "tor1"), bin_dir,
                                               nickname="splittor1",
                                               extra=args.extra + ["TestingOfferCgo 0"])
            net.start()
            relay.start()
            if tor1_relay:
                tor1_relay.start()
            net.wait_bootstrapped(timeout=120)
            ctor = next(n for n in net.nodes if n.role == "exit")
            fps = [relay.fingerprint, ctor.fingerprint] + ([tor1_relay.fingerprint] if tor1_relay
                                                           else [])
            for fp in fps:
                net.wait_for_relay_in_consensus(fp, flags=("Exit", "Running", "Valid"), timeout=150)
            if args.crypto_compare:
                return crypto_compare(net, relay, tor1_relay, http.port, args.rounds)
            if args.core_scaling:
                s1, s2 = scaling(net, relay.fingerprint, children(relay.proc.pid), http.port, "s")
                c1, c2 = scaling(net, ctor.fingerprint, [ctor.proc.pid], http.port, "c")
                result("core_scaling", s2 / s1, "x", c2 / c1)
                return 0
            split = measure(net, relay.fingerprint, lambda: children(relay.proc.pid), http.port,
                            args.mib, args.circuits, "s")
            base = measure(net, ctor.fingerprint, lambda: [ctor.proc.pid], http.port, args.mib,
                           args.circuits, "c")
            result("exit_mem_per_idle_circuit", split[2], "bytes", base[2])
            result("exit_mem_per_stream", split[3], "bytes", base[3])
            result("exit_throughput_16_circuits", split[1], "MiB/s", base[1])
            result("exit_cpu_per_50mib", split[0], "s", base[0])
            return 0
    finally:
        for r in (relay, tor1_relay):
            if r:
                r.stop()
        if os.environ.get("KEEP") is None:
            subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    sys.exit(main())
