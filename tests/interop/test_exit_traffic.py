#!/usr/bin/env python3
"""tests/interop/test_exit_traffic.py: a C tor 0.4.9 client uses onionsplit as its exit.

A private network of Debian `tor` (three authorities, two middles, a client pinned to onionsplit
with ExitNodes/StrictNodes) on 127.0.0.1, with real targets started by the test: an HTTP server and
a DNS server (which onionsplit's streamd uses through ServerDNSResolvConfFile). Checked:
  1. 50 MiB arrive through onionsplit with the right sha256 (throughput printed), on CGO:
     circuitd's cgo_cells_to_client_total grew by at least the v1 cells 50 MiB need;
  2. 32 parallel streams to a hostname the exit resolves all complete, byte-exact;
  3. tor-resolve gets forward (A) and reverse (PTR) answers from the test's DNS server;
  4. a port the exit policy rejects is refused (the client's SOCKS reply is "not allowed by
     ruleset", which Tor gives after END EXITPOLICY);
  5. circuitd restarted under load (SIGTERM): the launcher brings it back and new streams work;
  6. circuits negotiated congestion control (ntor v3 with the CC extension), and Counter Galois
     Onion (onionsplit advertises Relay=2-6: circuitd's circuits_cgo_total counts the client's);
  7. the MetricsPort counted the exit streams (and, at 1., the download's bytes), and streamd's
     DNS health families show the test's nameserver with no timeout and a latency histogram
     that counted every DNS query;
  8. the circuit-creation DoS defence (DoSCircuitCreation* set low in the torrc): a client at
     127.0.0.2 (no relay's address) under the burst gets all its circuits, one over it gets
     DESTROY RESOURCELIMIT for the rest, channeld counts the refusals and marks the address, the
     MetricsPort's tor_relay_dos_total{type="circuit_rejected"} moves by as much, a new channel
     from the marked address is refused too, and the C tor client is still served;
  9. SIGTERM to the launcher during a download: it and every daemon exit with status 0;
 10. (before 9.) the DirPort serves the DirPortFrontPage, and the descriptor the authorities hold
     advertises no DirPort.
onionsplit runs with tests/data/exit-guidance/torrc, an exit operator's torrc in the Tor Project's
guidance style (ports and paths moved here, the network's lines added: tornet.Onionsplit).
Every process is stopped by its PID; every wait is bounded.

Usage: test_exit_traffic.py BIN_DIR      (KEEP=1 keeps the temporary directory; BIG_MIB sets 1.)
"""
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import exit_guidance  # noqa: E402
import targets  # noqa: E402
import tornet  # noqa: E402

NAME = "files.onionsplit.test"
RNAME, RADDR = "www.onionsplit.test", "192.0.2.7"
# The circuit-creation defence, set low (C tor's defaults: off unless the consensus enables it,
# 3 connections, 3 per second, burst 90). One connection suffices to be marked; the rate is low
# enough that the bucket refills by at most a few tokens during the flood.
DOS_BURST = 20
DOS_TORRC = ["DoSCircuitCreationEnabled 1", "DoSCircuitCreationMinConnections 1",
             "DoSCircuitCreationRate 1", f"DoSCircuitCreationBurst {DOS_BURST}"]


def first_stream(socks, port, within):
    """Retries a small fetch until the client has a working circuit through onionsplit."""
    status, _, _, _ = targets.http_get_until(socks, "127.0.0.1", port, "/small.bin", within=within,
                                             timeout=30)
    if " 200 " not in status + " ":
        raise TimeoutError(f"no stream through onionsplit: {status}")


def metrics_page(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def traffic_bytes(port):
    """tor_relay_traffic_bytes from the MetricsPort: {(daemon, direction): bytes}."""
    return {(d, k): int(v) for d, k, v in re.findall(
        r'^tor_relay_traffic_bytes\{daemon="(\w+)",direction="(\w+)"\} (\d+)$',
        metrics_page(port), re.M)}


def congestion_gauges(port):
    """tor_relay_congestion_control from the MetricsPort: {(state, action): value}."""
    return {(s, a): int(v) for s, a, v in re.findall(
        r'^tor_relay_congestion_control\{daemon="circuitd",state="(\w+)",action="(\w+)"\} (\d+)$',
        metrics_page(port), re.M)}


def dns_health(check, page, dns_port):
    """streamd's DNS health families on the MetricsPort after the lookups of steps 2 and 3: the
    test's nameserver (the only one) answered every attempt, and the latency histogram counted
    every query tor_relay_exit_dns_query_total counts."""
    def value(pattern):
        m = re.search(r"^" + pattern + r" (\S+)$", page, re.M)
        return float(m.group(1)) if m else None
    label = f'{{daemon="streamd",resolver="127.0.0.1:{dns_port}"}}'
    attempts = value(re.escape("onionsplit_streamd_dns_resolver_attempts_total" + label))
    timeouts = value(re.escape("onionsplit_streamd_dns_resolver_timeouts_total" + label))
    queries = value(re.escape('tor_relay_exit_dns_query_total{daemon="streamd"}'))
    count = value(re.escape('onionsplit_streamd_dns_query_duration_seconds_count'
                            '{daemon="streamd"}'))
    inf = value(re.escape('onionsplit_streamd_dns_query_duration_seconds_bucket{daemon="streamd",'
                          'le="+Inf"}'))
    histogram = "# TYPE onionsplit_streamd_dns_query_duration_seconds histogram" in page
    check(None not in (attempts, timeouts, queries, count, inf) and attempts >= queries > 0 and
          timeouts == 0 and count == queries == inf and histogram,
          f"MetricsPort: DNS health for 127.0.0.1:{dns_port}: {attempts} attempts, {timeouts} "
          f"timeouts; {queries} queries, latency histogram count {count} (+Inf {inf})")


def promtool_problems(page):
    """What `promtool check metrics` (Debian's prometheus package) finds in an exposition page:
    its lines, or None without promtool."""
    if not shutil.which("promtool"):
        return None
    p = subprocess.run(["promtool", "check", "metrics"], input=page, capture_output=True,
                       text=True, timeout=60)
    return {ln.strip() for ln in (p.stdout + p.stderr).splitlines() if ln.strip()}


def promtool_as_ctor(check, page):
    """The MetricsPort's page has no promtool finding that C tor 0.4.9's own page (a scrape of
    Debian's tor kept in tests/data/metrics) does not also have."""
    ours = promtool_problems(page)
    with open(os.path.join(HERE, "..", "data", "metrics", "ctor-relay-0.4.9.prom")) as f:
        theirs = promtool_problems(f.read())
    if ours is None:
        check(False, "promtool (Debian's prometheus package) is installed")
        return
    extra = sorted(ours - theirs)
    check(not extra, f"MetricsPort: promtool check metrics finds nothing C tor's page does not "
          f"also have ({len(ours)} findings, all C tor's: {extra[:5] or sorted(ours)[:3]})")


def dos_total(port, kind):
    """tor_relay_dos_total{type=kind} from the MetricsPort, summed over the daemons."""
    return sum(int(v) for v in re.findall(
        rf'^tor_relay_dos_total\{{daemon="\w+",type="{kind}"\}} (\d+)$', metrics_page(port), re.M))


def flood(bin_dir, relay, circuits):
    """The hostile client (tests/channeld/create_flood_tool.cc): `circuits` CREATE_FAST cells at
    once on one channel from 127.0.0.2, which no relay of the network uses. Its facts, by key."""
    p = subprocess.run([os.path.join(bin_dir, "create_flood_tool"), "127.0.0.1", str(relay.port),
                        relay.fingerprint, "--bind", "127.0.0.2", "--circuits", str(circuits)],
                       capture_output=True, text=True, timeout=90)
    facts = dict(line.partition(" ")[::2] for line in p.stdout.splitlines())
    facts["exit"] = p.returncode
    print(f"     flood of {circuits}: {facts} {p.stderr.strip()[-300:]}")
    return facts


def circuit_flood(check, bin_dir, relay, metrics_port, socks, http_port, small_sha):
    """The circuit-creation DoS defence, set low in the torrc (DOS_TORRC): a client under the burst
    is untouched, one over it is refused with DESTROY RESOURCELIMIT, channeld counts it and the
    MetricsPort shows it, and the C tor client (whose address is a relay's) is still served."""
    n = lambda facts, k: int(facts.get(k, "0") or 0)  # noqa: E731
    under = flood(bin_dir, relay, 10)
    check(under["exit"] == 0 and n(under, "created") == 10 and n(under, "destroyed_reason5") == 0,
          f"10 circuits, under DoSCircuitCreationBurst {DOS_BURST}: all created "
          f"({n(under, 'created')}, refused {n(under, 'destroyed_reason5')})")
    before = relay.counters()
    metric_before = dos_total(metrics_port, "circuit_rejected")
    over = flood(bin_dir, relay, 100)
    refused = n(over, "destroyed_reason5")
    check(over["exit"] == 0 and refused >= 100 - DOS_BURST and
          n(over, "created") + refused == 100 and n(over, "created") <= DOS_BURST,
          f"100 more circuits at once: {n(over, 'created')} created, the rest refused with "
          f"DESTROY RESOURCELIMIT ({refused})")
    after = relay.counters()
    delta = {k: after.get(k, 0) - before.get(k, 0) for k in
             ("channeld.dos_circuit_rejected_total", "channeld.dos_marked_address_total")}
    check(delta["channeld.dos_circuit_rejected_total"] == refused and
          delta["channeld.dos_marked_address_total"] == 1,
          f"channeld counted the refusals and marked the address: {delta}")
    metric = dos_total(metrics_port, "circuit_rejected") - metric_before
    check(metric == refused,
          f'MetricsPort: tor_relay_dos_total{{type="circuit_rejected"}} grew by {metric}')
    again = flood(bin_dir, relay, 5)
    check(n(again, "destroyed_reason5") == 5,
          f"while marked, a new channel from the same address is refused too "
          f"({n(again, 'destroyed_reason5')} of 5)")
    status, sha, _, _ = targets.http_get(socks, "127.0.0.1", http_port, "/small.bin", timeout=60)
    check(sha == small_sha, f"the C tor client is still served through onionsplit: {status}")


def fetch_quietly(socks, port):
    try:
        targets.http_get(socks, "127.0.0.1", port, "/big.bin", timeout=60, username="doomed")
    except (OSError, targets.SocksError):
        pass


def dirport_front_page(check, relay, dir_port, net):
    """GET / on onionsplit's DirPort is the DirPortFrontPage file; its descriptor at an authority
    says DirPort 0 (relays no longer advertise one)."""
    with open(os.path.join(exit_guidance.DATA, "tor-exit-notice.html"), "rb") as f:
        notice = f.read()
    with urllib.request.urlopen(f"http://127.0.0.1:{dir_port}/", timeout=10) as r:
        body, ctype = r.read(), r.headers.get("Content-Type")
    check(body == notice and ctype == "text/html",
          f"DirPort: GET / is the exit notice ({len(body)} bytes, {ctype})")
    auth = net.authorities()[0]
    url = f"http://127.0.0.1:{auth.dir_port}/tor/server/fp/{relay.fingerprint}"
    with urllib.request.urlopen(url, timeout=10) as r:
        desc = r.read().decode(errors="replace")
    m = re.search(r"^router (\S+) 127\.0\.0\.1 (\d+) 0 (\d+)$", desc, re.M)
    check(m is not None and m.group(1) == "guidanceexit" and m.group(3) == "0",
          f"the authorities' descriptor: {m and m.group(0)} (no DirPort advertised)")


def main():
    run = tornet.InteropRun("onionsplit-exit-")
    bin_dir, big_mib, root, check, files = run.bin_dir, run.big_mib, run.root, run.check, run.files
    relay = None
    with run:
        big_sha = targets.make_file(os.path.join(files, "big.bin"), big_mib << 20)
        small_sha = targets.make_file(os.path.join(files, "small.bin"), 256 << 10)
        zone = {NAME: "127.0.0.1", RNAME: RADDR,
                ".".join(reversed(RADDR.split("."))) + ".in-addr.arpa": RNAME}
        with targets.HttpServer(files) as http, targets.DnsServer(zone) as dns, \
                tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=2, exits=0,
                              conflux=False) as net:
            resolv = os.path.join(root, "resolv.conf")
            with open(resolv, "w") as f:
                f.write(f"nameserver 127.0.0.1:{dns.port}\n")
            rejected, metrics_port = tornet.free_port(), tornet.free_port()
            dir_port, control_port = tornet.free_port(), tornet.free_port()
            net.setup()
            # The exit operator's torrc of tests/data/exit-guidance (its reduced exit policy after
            # the test's own lines), with the DoS defence set low as step 8 needs. The test's ports
            # are accepted for every address too: the client reads only the policy summary, which
            # leaves out lines for one address (127.0.0.0/8), and must see both ports accepted.
            relay = run.relay = tornet.Onionsplit(
                net, root, bin_dir,
                exit_policy=[f"reject 127.0.0.1:{rejected}", f"accept *:{rejected}",
                             f"accept *:{http.port}", "accept 127.0.0.0/8:*"],
                extra=[f"ServerDNSResolvConfFile {resolv}"] + DOS_TORRC,
                guidance_ports={"DirPort": dir_port, "MetricsPort": metrics_port,
                                "ControlPort": control_port})
            net.exit_nodes = [relay.fingerprint]
            net.start()
            relay.start()
            net.wait_bootstrapped(timeout=120)
            net.wait_for_relay_in_consensus(relay.fingerprint, flags=("Exit", "Running", "Valid"),
                                            timeout=150)
            socks = net.client.socks_port
            first_stream(socks, http.port, 120)

            # 1. One big file, carried by CGO: circuitd counted at least the v1 cells its bytes
            # need (488 per cell) as sent on CGO circuits during the download (the same circuitd:
            # it restarts only in step 5); the MetricsPort's tor_relay_traffic_bytes grows by it:
            # channeld's links wrote it to the middle, streamd's exit socket read it from the server.
            cgo_before = relay.counters().get("circuitd.cgo_cells_to_client_total", 0)
            before = traffic_bytes(metrics_port)
            status, sha, n, secs = targets.http_get(socks, "127.0.0.1", http.port, "/big.bin",
                                                    timeout=300)
            check(sha == big_sha and n == big_mib << 20,
                  f"{big_mib} MiB through onionsplit, sha256 {sha[:16]}..., {n} bytes in "
                  f"{secs:.1f} s ({n / secs / (1 << 20):.1f} MiB/s)")
            cgo_cells = relay.counters().get("circuitd.cgo_cells_to_client_total", 0) - cgo_before
            check(cgo_cells >= (big_mib << 20) // 488,
                  f"the download ran on Counter Galois Onion: {cgo_cells} cells to the client on "
                  f"CGO circuits (at least {(big_mib << 20) // 488} carry {big_mib} MiB)")
            after = traffic_bytes(metrics_port)
            grew = {k: after.get(k, 0) - before.get(k, 0) for k in after}
            check(grew.get(("channeld", "written"), 0) >= n and
                  grew.get(("streamd", "read"), 0) >= n,
                  f"MetricsPort: tor_relay_traffic_bytes grew by the download ({n}): {grew}")
            cc = congestion_gauges(metrics_port)
            check(cc.get(("slow_start_exit", "cwnd"), 0) > 0,
                  f"MetricsPort: tor_relay_congestion_control gauges after the download: {cc}")

            # 2. 32 parallel streams to a name the exit resolves.
            with concurrent.futures.ThreadPoolExecutor(32) as pool:
                jobs = [pool.submit(targets.http_get, socks, NAME, http.port, "/small.bin", 180)
                        for _ in range(32)]
                results = []
                for j in jobs:
                    try:
                        results.append(j.result(timeout=240))
                    except Exception as e:  # noqa: BLE001 (reported below)
                        results.append(("error", repr(e), 0, 0))
            good = sum(1 for r in results if r[1] == small_sha)
            check(good == 32, f"32 parallel streams to {NAME}: {good} complete and byte-exact")

            # 3. tor-resolve, forward and reverse.
            fwd = subprocess.run(["tor-resolve", RNAME, f"127.0.0.1:{socks}"], capture_output=True,
                                 text=True, timeout=60)
            check(fwd.stdout.strip() == RADDR,
                  f"tor-resolve {RNAME} -> {fwd.stdout.strip() or fwd.stderr.strip()}")
            rev = subprocess.run(["tor-resolve", "-x", RADDR, f"127.0.0.1:{socks}"],
                                 capture_output=True, text=True, timeout=60)
            check(rev.stdout.strip() == RNAME,
                  f"tor-resolve -x {RADDR} -> {rev.stdout.strip() or rev.stderr.strip()}")
            asked = {q for q, _ in dns.queries}
            check(RNAME in asked, f"the exit asked the test's DNS server ({len(dns.queries)} "
                                  "queries)")

            # 4. A rejected port: the client hears END EXITPOLICY (and, its only exit refusing,
            # keeps the stream waiting for another until SOCKS times out; the test stops there).
            def attempt():
                try:
                    targets.socks_connect(socks, "127.0.0.1", rejected, timeout=40).close()
                except (OSError, targets.SocksError):
                    pass
            event = net.watch_events("STREAM", attempt,
                                     lambda l: f":{rejected}" in l and "REMOTE_REASON=" in l,
                                     timeout=40)
            check(event is not None and "REMOTE_REASON=EXITPOLICY" in event,
                  f"port {rejected} refused by the exit policy: {event}")

            # 5. circuitd restarts under load: the clients' circuits die (channeld sends DESTROY
            # for each), the launcher restarts circuitd, and new streams work at once.
            loser = threading.Thread(target=lambda: fetch_quietly(socks, http.port), daemon=True)
            loser.start()
            time.sleep(2)
            old_pid = relay.daemon_pid("circuitd")
            os.kill(old_pid, signal.SIGTERM)
            deadline = time.time() + 30
            new_pid = None
            while time.time() < deadline and new_pid in (None, old_pid):
                time.sleep(0.5)
                new_pid = relay.daemon_pid("circuitd")
            t0 = time.time()
            try:
                first_stream(socks, http.port, 60)
                check(new_pid not in (None, old_pid),
                      f"circuitd restarted (pid {old_pid} -> {new_pid}); a new stream worked "
                      f"{time.time() - t0:.1f} s later")
            except TimeoutError as e:
                check(False, f"after circuitd restarted: {e}")
            loser.join(timeout=60)

            # 6. What onionsplit counted.
            counters = relay.counters()
            for k in sorted(counters):
                if counters[k] and not k.startswith("channeld.ipc") and "ipc_" not in k:
                    print(f"     {k} = {counters[k]}")
            check(counters.get("circuitd.circuits_congestion_control_total", 0) > 0,
                  "circuits negotiated congestion control (ntor v3 + CC extension)")
            # onionsplit advertises Relay=2-6: the C tor client asks its exit for CGO.
            check(counters.get("circuitd.circuits_cgo_total", 0) > 0,
                  "the C tor client's circuits run Counter Galois Onion at onionsplit "
                  f"(circuits_cgo_total {counters.get('circuitd.circuits_cgo_total', 0)})")

            # 7. The launcher's MetricsPort: C tor's family for exit streams counted them.
            m = re.search(r'^tor_relay_streams_total\{daemon="streamd",type="BEGIN"\} (\d+)$',
                          metrics_page(metrics_port), re.M)
            check(m is not None and int(m.group(1)) > 0,
                  f"MetricsPort: tor_relay_streams_total{{type=\"BEGIN\"}} = {m and m.group(1)}")
            dns_health(check, metrics_page(metrics_port), dns.port)
            promtool_as_ctor(check, metrics_page(metrics_port))

            # 8. A circuit-creation flood from an address no relay uses.
            circuit_flood(check, bin_dir, relay, metrics_port, socks, http.port, small_sha)

            # 10. The DirPort of the guidance torrc: the exit notice for whoever browses to the
            # relay, and (as C tor 0.4.9) no DirPort in the descriptor the authorities hold.
            dirport_front_page(check, relay, dir_port, net)

            # 9. SIGTERM to the launcher while a download runs: every daemon and the launcher
            # end with status 0 (no abort with connections open).
            loser = threading.Thread(target=lambda: fetch_quietly(socks, http.port), daemon=True)
            loser.start()
            deadline, streaming = time.time() + 20, False
            while time.time() < deadline and not streaming:
                time.sleep(0.5)
                streaming = relay.counters().get("streamd.streams_open", 0) > 0
            relay.proc.send_signal(signal.SIGTERM)
            try:
                code = relay.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                code = None
            with open(relay.log) as f:
                log = f.read()
            stopped = [d for d in ("channeld", "circuitd", "streamd", "confluxd")
                       if f"launcher: {d} stopped (exited with status 0)" in log]
            check(streaming and code == 0 and len(stopped) == 4,
                  f"SIGTERM during a download (a stream open: {streaming}): launcher exit {code}, "
                  f"status 0 from {stopped}")
            loser.join(timeout=60)
    return run.result()


if __name__ == "__main__":
    sys.exit(main())
