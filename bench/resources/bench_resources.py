#!/usr/bin/env python3
"""bench/resources/bench_resources.py: onionsplit's memory and an honest client's download under
floods (issue 18), in one private network of Debian `tor` on 127.0.0.1.

onionsplit runs as the exit with a small budget (MaxMemInQueues 64 MB, C tor's floor for relays,
so the daemons' shares are 25.6, 19.2, 12.8 and 6.4 MB) and the circuit-creation defence on
(DoSCircuitCreationEnabled 1, one connection enough to be marked). A C tor client, pinned to
onionsplit, downloads a file once without a flood (the baseline), then once during each flood. The
floods that go through Tor as a client go through a second C tor client, so the honest client's own
circuits and queues are not shared with the flood:
  circuits   the project's create_flood_tool from 127.0.0.2 to 127.0.0.9 (no relay's address), 500
             CREATE_FAST at once per connection, again and again;
  senders    64 streams through the second C tor client (each on its own circuit) to a server that accepts
             and never reads, each sending 4 MiB: streamd holds what the server does not take, up
             to the stream's XOFF (the client honours it);
  sendmes    the project's conflux client (tests/client/conflux_client_tool.cc --abuse refusals)
             withholding its SENDMEs so the exit's windows fill, then opening 600 streams past
             confluxd's cap on the set;
  resolve60  RESOLVEs through the second C tor client (SOCKS5 command 0xF0, Tor's extension) of distinct
             names under a zone the test DNS server never answers, 60 at once on each of 16
             circuits (one SOCKS username each), in waves of new circuits: streamd's lookups stay in
             flight until its resolver gives up, just under its 64 a circuit;
  resolve    the same with 80 at once a circuit, past the 64: streamd answers the rest as a failed
             lookup (a RESOLVED transient error), as C tor answers one (this flood runs last).
  reorder    (run before resolve60) the project's conflux client (--abuse reorder), 12 at once, wave
             after wave: each links a set, fetches a small file, then sends on one leg a SWITCH
             that skips 1000 sequence numbers and 3 MiB of DATA behind it, which the exit's
             confluxd can only hold in the set's reorder queue (cap 2 MiB a set; 12 sets are past
             confluxd's share of the budget); each must cost its abuser its set.
streamd's daemon-wide cap (16384 lookups) is out of one C tor client's reach.

While each flood runs, the RSS of the four daemons is sampled every 0.2 s. RESULT lines per flood:
  resources_<flood>_rss_growth: the peak of the daemons' summed RSS above their idle RSS, against
      the budget (target: ratio <= 1);
  resources_<flood>_honest_throughput: the honest download's MiB/s, against the one without a
      flood (target: ratio >= 0.8).
  resources_<resolve flood>_lookups_refused: the growth of streamd's dns_lookups_refused_total
      (`onionsplit status --counters`), against the RESOLVEs the flood sent.
A daemon restarted during a flood is printed (target: none). The last line is the worst RSS ratio.

Usage: bench_resources.py BIN_DIR [--mib 32] [--only FLOOD]   (KEEP=1 keeps the temporary
directory; --only runs one flood after the baseline)
"""
import argparse
import asyncio
import collections
import concurrent.futures
import os
import random
import string
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "interop"))
sys.path.insert(0, os.path.join(HERE, "..", "exit"))
import bench_exit  # noqa: E402
import targets  # noqa: E402
import test_conflux_client  # noqa: E402
import tornet  # noqa: E402

BUDGET_MB = 64
FLOOD_ZONE = "flood.example"  # the test DNS server never answers names under it
RESOLVE_CIRCUITS, RESOLVE_WAVES = 16, 6
DAEMONS = ("channeld", "circuitd", "streamd", "confluxd")


class Sampler:
    """The daemons' summed RSS every 0.2 s while running; its peak."""

    def __init__(self, pids):
        self.pids, self.peak = pids, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, bench_exit.rss_bytes(self.pids))
            except OSError:
                pass  # a daemon went away: the restart check reports it
            time.sleep(0.2)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


def flood_circuits(bin_dir, relay, stop):
    i = 0
    while not stop.is_set() and i < 400:  # bounded
        src = f"127.0.0.{2 + i % 8}"
        subprocess.run([os.path.join(bin_dir, "create_flood_tool"), "127.0.0.1", str(relay.port),
                        relay.fingerprint, "--bind", src, "--circuits", "500", "--deadline", "10"],
                       capture_output=True, timeout=30)
        i += 1


def flood_senders(socks_port, stop):
    holder = bench_exit.Holder()
    chunk = b"x" * 65536
    conns = []
    try:
        for i in range(64):
            try:
                s = targets.socks_connect(socks_port, "127.0.0.1", holder.port,
                                          timeout=30, username=f"sender{i}")
                s.settimeout(0.5)
                conns.append(s)
            except (OSError, targets.SocksError):
                pass
        sent = [0] * len(conns)
        while not stop.is_set() and any(n < (4 << 20) for n in sent):
            for k, s in enumerate(conns):
                if sent[k] >= (4 << 20):
                    continue
                try:
                    sent[k] += s.send(chunk)
                except (OSError, TimeoutError):
                    sent[k] = 4 << 20  # this one is full or gone
        while not stop.is_set():
            time.sleep(0.2)  # hold the streams open until the honest download ends
    finally:
        for s in conns:
            s.close()
        holder.close()


def flood_sendmes(bin_dir, net, relay, firsts, http_port, size, sha, stop):
    exit_arg = test_conflux_client.relay_arg(net, relay.fingerprint, relay.port)
    for _ in range(3):  # bounded
        if stop.is_set():
            return
        test_conflux_client.run_tool(bin_dir, firsts, exit_arg, http_port, size, sha,
                                     ["--abuse", "refusals"])


REORDER_SETS = 12
SMALL_BYTES = 65536  # the reorder abusers' file: the abuse starts once it arrived


def flood_reorder(bin_dir, net, relay, firsts, http_port, small_sha, stop, outcomes):
    exit_arg = test_conflux_client.relay_arg(net, relay.fingerprint, relay.port)
    cmd = [os.path.join(bin_dir, "conflux_client_tool")]
    for f in firsts:
        cmd += ["--first", f]
    cmd += ["--exit", exit_arg, "--target", f"127.0.0.1:{http_port}", "--path", "/small.bin",
            "--bytes", str(SMALL_BYTES), "--sha256", small_sha, "--deadline", "60",
            "--abuse", "reorder"]

    def one(_):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
        except subprocess.TimeoutExpired:
            return "timed_out"
        return "leg_closed" if "abuse_closed" in p.stdout else "not_closed"

    for _ in range(20):  # bounded waves
        if stop.is_set():
            return
        with concurrent.futures.ThreadPoolExecutor(REORDER_SETS) as ex:
            for outcome in ex.map(one, range(REORDER_SETS)):
                outcomes[outcome] += 1


async def _socks_resolve(socks_port, name, username):
    """One RESOLVE (SOCKS5 command 0xF0, Tor's extension) through the client; its outcome."""
    r, w = await asyncio.open_connection("127.0.0.1", socks_port)
    try:
        u = username.encode()
        w.write(b"\x05\x01\x02")
        if await r.readexactly(2) != b"\x05\x02":
            return "socks_refused"
        w.write(b"\x01" + bytes([len(u)]) + u + b"\x01x")
        if await r.readexactly(2) != b"\x01\x00":
            return "socks_refused"
        w.write(b"\x05\xf0\x00\x03" + bytes([len(name)]) + name.encode() + b"\x00\x00")
        head = await r.readexactly(4)
        return "answered" if head[1] == 0 else f"socks_reply_{head[1]}"
    except (OSError, asyncio.IncompleteReadError):
        return "closed"
    finally:
        w.close()


async def _resolve_waves(socks_port, per_circuit, stop, outcomes):
    for wave in range(RESOLVE_WAVES):  # bounded
        if stop.is_set():
            return
        tasks = set()
        for c in range(RESOLVE_CIRCUITS):  # one circuit per SOCKS username (IsolateSOCKSAuth)
            for _ in range(per_circuit):
                label = "".join(random.choices(string.ascii_lowercase, k=12))
                tasks.add(asyncio.ensure_future(_socks_resolve(
                    socks_port, f"{label}.{FLOOD_ZONE}", f"resolve{wave}-{c}")))
        outcomes["sent"] += len(tasks)
        deadline = time.time() + 60
        while tasks and not stop.is_set() and time.time() < deadline:
            done, tasks = await asyncio.wait(tasks, timeout=0.5)
            for t in done:
                outcomes[t.result()] += 1
        for t in tasks:
            t.cancel()
        outcomes["unfinished"] += len(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)


def flood_resolve(net, relay, per_circuit, stop, outcomes):
    """RESOLVEs of distinct names the DNS server never answers, `per_circuit` at once on each of
    RESOLVE_CIRCUITS circuits, in waves (new circuits each); the peak of streamd's lookups in
    flight is sampled once a second."""
    def sample():
        while not stop.is_set():
            n = relay.counters().get("streamd.dns_lookups_in_flight", 0)
            outcomes["peak_in_flight"] = max(outcomes["peak_in_flight"], n)
            stop.wait(1)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        asyncio.run(_resolve_waves(net.extra_clients[0].socks_port, per_circuit, stop, outcomes))
    finally:
        stop.wait()  # sample until the honest download ends
        sampler.join(timeout=35)


def honest_download(net, http_port, size, sha):
    try:
        status, got, n, secs = targets.http_get(net.client.socks_port, "127.0.0.1", http_port,
                                                "/big.bin", timeout=600,
                                                username=f"h{time.time()}")
    except (OSError, targets.SocksError) as e:
        print(f"  honest download failed: {e!r}", flush=True)
        return None
    if got != sha or n != size:
        print(f"  honest download damaged: {status}, {n} bytes", flush=True)
        return None
    return n / secs / (1 << 20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--mib", type=int, default=32)
    ap.add_argument("--only", choices=("circuits", "senders", "sendmes", "reorder", "resolve60",
                                         "resolve"),
                    help="run this one flood (after the baseline)")
    args = ap.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    root = tempfile.mkdtemp(prefix="onionsplit-bench-resources-")
    files = os.path.join(root, "files")
    os.makedirs(files)
    size = args.mib << 20
    sha = targets.make_file(os.path.join(files, "big.bin"), size)
    small_sha = targets.make_file(os.path.join(files, "small.bin"), SMALL_BYTES)
    relay = None
    worst = None
    try:
        with targets.HttpServer(files) as http, targets.DnsServer({}, silent=[FLOOD_ZONE]) as dns, \
                tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=2, exits=0,
                              conflux=True, extra_clients=1) as net:
            resolv = os.path.join(root, "resolv.conf")
            with open(resolv, "w") as f:
                f.write(f"nameserver 127.0.0.1:{dns.port}\n")
            net.setup()
            relay = tornet.Onionsplit(net, root, bin_dir, extra=[
                f"MaxMemInQueues {BUDGET_MB} MB", "DoSCircuitCreationEnabled 1",
                "DoSCircuitCreationMinConnections 1", f"ServerDNSResolvConfFile {resolv}"])
            net.exit_nodes = [relay.fingerprint]
            net.start()
            relay.start()
            net.wait_bootstrapped(timeout=120)
            flooder = net.extra_clients[0]
            net.wait_bootstrapped(timeout=120, node=flooder)
            net.wait_for_relay_in_consensus(relay.fingerprint, flags=("Exit", "Running", "Valid"),
                                            timeout=150)
            middles = [n for n in net.nodes if n.role == "middle"]
            firsts = [test_conflux_client.relay_arg(net, m.fingerprint, m.or_port)
                      for m in middles]
            targets.http_get_until(net.client.socks_port, "127.0.0.1", http.port, "/big.bin",
                                   within=120, timeout=300)
            pids = {d: relay.daemon_pid(d) for d in DAEMONS}
            time.sleep(2)
            idle = bench_exit.rss_bytes(list(pids.values()))
            base = honest_download(net, http.port, size, sha)
            print(f"  idle RSS {idle / (1 << 20):.1f} MiB, honest download {base or 0:.1f} MiB/s",
                  flush=True)
            floods = {
                "circuits": lambda stop: flood_circuits(bin_dir, relay, stop),
                "senders": lambda stop: flood_senders(flooder.socks_port, stop),
                "sendmes": lambda stop: flood_sendmes(bin_dir, net, relay, firsts, http.port,
                                                      size, sha, stop),
                "reorder": lambda stop: flood_reorder(bin_dir, net, relay, firsts, http.port,
                                                      small_sha, stop, outcomes),
                "resolve60": lambda stop: flood_resolve(net, relay, 60, stop, outcomes),
                # last: a C tor client that got END RESOURCELIMIT treats the exit as rejecting all
                "resolve": lambda stop: flood_resolve(net, relay, 80, stop, outcomes),
            }
            for name, flood in floods.items():
                if args.only and name != args.only:
                    continue
                stop = threading.Event()
                outcomes = collections.Counter()
                refused0 = relay.counters().get("streamd.dns_lookups_refused_total", 0)
                start = bench_exit.rss_bytes(list(pids.values()))  # earlier floods' memory kept
                t = threading.Thread(target=flood, args=(stop,), daemon=True)
                with Sampler(list(pids.values())) as sampler:
                    t.start()
                    time.sleep(3)  # the flood is under way
                    if name.startswith("resolve"):  # its circuits are built and its lookups pile up
                        deadline = time.time() + 90
                        while (outcomes["peak_in_flight"] < RESOLVE_CIRCUITS * 32
                               and time.time() < deadline):
                            time.sleep(0.5)
                    mibs = honest_download(net, http.port, size, sha)
                    stop.set()
                    t.join(timeout=120)
                growth = max(0, sampler.peak - idle) / (1 << 20)
                now = {d: relay.daemon_pid(d) for d in DAEMONS}
                restarted = [d for d in DAEMONS if now[d] != pids[d]]
                print(f"  {name}: peak RSS {sampler.peak / (1 << 20):.1f} MiB "
                      f"({max(0, sampler.peak - start) / (1 << 20):.1f} above the flood's start), "
                      f"restarted {restarted or 'none'}", flush=True)
                pids = now
                bench_exit.result(f"resources_{name}_rss_growth", growth, "MiB", BUDGET_MB)
                bench_exit.result(f"resources_{name}_honest_throughput", mibs, "MiB/s", base)
                worst = growth if worst is None else max(worst, growth)
                if name == "reorder":
                    print(f"  reorder: {dict(outcomes)}, confluxd's largest reorder queue "
                          f"{relay.counters().get('confluxd.conflux_reorder_bytes_max', 0)} bytes",
                          flush=True)
                if name.startswith("resolve"):
                    refused = relay.counters().get("streamd.dns_lookups_refused_total", 0)
                    print(f"  {name}: {dict(outcomes)}, DNS queries so far {len(dns.queries)}",
                          flush=True)
                    bench_exit.result(f"resources_{name}_lookups_refused", refused - refused0,
                                      "lookups", outcomes["sent"])
            counters = relay.counters()
            print("  " + ", ".join(f"{k}={v}" for k, v in sorted(counters.items()) if any(
                w in k for w in ("oom_", "dos_circuit_rejected", "memory_held", "dns_lookups"))),
                flush=True)
            bench_exit.result("resources_worst_rss_growth", worst, "MiB", BUDGET_MB)
            return 0
    finally:
        if relay:
            relay.stop()
        if os.environ.get("KEEP") is None:
            subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    sys.exit(main())
