#!/usr/bin/env python3
"""tests/systemd/restart_under_load.py: kill -9 of streamd, confluxd and circuitd under systemd, or
under onionsplit's own launcher, while a C tor client downloads through onionsplit (issue 7;
tests/systemd/README.md).

Run by nspawn_test.sh in the network namespace of a booted Debian 12 container where the .deb is
installed: `nsenter -t INIT -n -- restart_under_load.py INIT WORKDIR`; or on the host with the
launcher running onionsplit from a build (tests/interop/test_restart_under_load.py):
`restart_under_load.py --launcher BIN_DIR WORKDIR`, where the launcher's restarts and its
MetricsPort stand for systemd's MainPID and NRestarts. It starts a private network of Debian `tor`
(tests/interop/tornet.py: three authorities, three middles and a client with conflux on and a
ControlPort) on the loopback, makes onionsplit (run by the container's systemd or the launcher) its
exit, waits until onionsplit is in the consensus and the client has a linked conflux set at it, and
then, with every stream attached by this script to a circuit it built (__LeaveStreamsUnattached,
ATTACHSTREAM) and the client's CIRC, STREAM and ORCONN events recorded:
  1. streamd: kill -9 while a download runs on a single-path circuit C1. systemd restarts it (new
     MainPID, NRestarts + 1); the download's stream ends with END from the exit and every byte it
     got is right; C1 survives (no CLOSED/FAILED event, still BUILT) and the next stream on C1
     completes intact.
  2. confluxd: kill -9 while a download runs on C1 and a linked conflux set ends at onionsplit. The
     set's legs close (CIRC CLOSED/FAILED for each), the download on C1 completes intact (sha256),
     C1 survives, and the client links a new set once confluxd is back.
  3. circuitd: kill -9 while a download runs on C1 and a circuit C2 starts at onionsplit (so the
     client has an OR connection to it). C1 and C2 close (DESTROY), the client's OR connection to
     onionsplit stays up (no ORCONN event for it; channeld is the same process), a new circuit
     from the client through that same connection builds, and a new circuit with onionsplit as
     exit carries a download intact.
  4. SIGTERM while a download runs through onionsplit: `systemctl stop onionsplit.target` (or
     SIGTERM to the launcher) ends every daemon with exit status 0 (under systemd: each daemon
     logged that it handled SIGTERM and its unit was "Deactivated successfully" with no exit or
     failure line; the launcher's "stopped (exited with status 0)" lines and its own status 0).
A circuit through C tor middles that must close and is still open after 20 s gets a new circuit
along its first two hops (wait_closed: a C tor relay can hold the DESTROY for the client until the
next cell on that channel), then must close; the output names the circuits that needed this.
Every wait is bounded; every process it starts is stopped by its PID (tor through TorNet, the
container's daemons are systemd's). Prints `restart-under-load: PASS` or FAIL with the checks.
"""
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import targets  # noqa: E402
import tornet  # noqa: E402

INIT = None  # the container's PID 1 as the host sees it
TORRC = "/etc/onionsplit/torrc"
BIG = 8 << 20  # bytes of each download
PACE = 2 << 20  # bytes per second a paced download reads: the kill lands mid-download
KILL_AT = 1 << 20  # bytes received before the daemon is killed
T0 = time.time()
DAEMONS = ("channeld", "circuitd", "streamd", "confluxd")


def log(msg):
    print(f"restart-under-load: [{time.time() - T0:5.1f}s] {msg}", flush=True)


def inside(*cmd, check=True, timeout=60, stdin=None):
    """Runs a command in the container (all its namespaces); returns its stdout."""
    r = subprocess.run(["nsenter", "-t", str(INIT), "-m", "-u", "-i", "-n", "-p", "--", *cmd],
                       capture_output=True, text=True, timeout=timeout, input=stdin)
    if check and r.returncode != 0:
        raise RuntimeError(f"in the container: {' '.join(cmd)}: exit {r.returncode}: "
                           f"{r.stderr.strip()}")
    return r.stdout


class SystemdRelay:
    """onionsplit as the container's systemd runs it (the installed package)."""
    name = "systemd"

    def state(self, daemon):
        """(MainPID, NRestarts, ActiveState) of onionsplit-DAEMON.service."""
        out = inside("systemctl", "show", "-p", "MainPID", "-p", "NRestarts", "-p", "ActiveState",
                     f"onionsplit-{daemon}.service")
        props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return int(props["MainPID"]), int(props["NRestarts"]), props["ActiveState"]

    def ready(self):
        r = subprocess.run(["nsenter", "-t", str(INIT), "-m", "-u", "-i", "-n", "-p", "--",
                            "onionsplit", "status", "-f", TORRC], capture_output=True, timeout=30)
        return r.returncode == 0

    def status(self, *args):
        return inside("onionsplit", "status", *args, "-f", TORRC, check=False)

    def kill(self, pid):
        inside("kill", "-9", str(pid))

    def log_mark(self):
        return int(time.time()) - 1

    def log_since(self, daemon, mark):
        return inside("journalctl", "--no-pager", "-u", f"onionsplit-{daemon}.service", "--since",
                      f"@{mark}", check=False)

    def log_tail(self):
        return inside("journalctl", "--no-pager", "-n", "80", "-u", "onionsplit-*.service",
                      check=False)

    def stop(self):
        """systemctl stop of the target (SIGTERM to each daemon); {daemon: how it ended}. systemd
        forgets a stopped unit's ExecMainStatus once it unloads it, and logs a main process's exit
        only when it was not clean; so from the journal: the daemon's own "SIGTERM received" (it
        handled the signal: it did not die of it), systemd's "Deactivated successfully", and no
        "Main process exited" or "Failed with result" line (an exit status other than 0, a crash)."""
        mark = self.log_mark()
        inside("systemctl", "stop", "onionsplit.target", timeout=90)
        ended = {}
        for d in DAEMONS:
            log = self.log_since(d, mark)
            clean = ("SIGTERM received" in log and "Deactivated successfully" in log and
                     "Main process exited" not in log and "Failed with result" not in log)
            ended[d] = "exited with status 0" if clean else "not clean:\n" + log[-2000:]
        return ended

class LauncherRelay:
    """onionsplit run by its own launcher on the host (tornet.Onionsplit), with a MetricsPort: the
    launcher restarts a daemon that dies, and its page counts the restarts."""
    name = "the launcher"

    def __init__(self, relay, metrics_port):
        self.relay, self.metrics_port = relay, metrics_port

    def state(self, daemon):
        pid = self.relay.daemon_pid(daemon) or 0
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as r:
            page = r.read().decode()
        m = re.search(rf'^onionsplit_daemon_restarts_total{{daemon="{daemon}"}} (\d+)', page, re.M)
        return pid, int(m.group(1)) if m else -1, "active" if pid else "inactive"

    def ready(self):
        return self.relay.status().returncode == 0

    def status(self, *args):
        return self.relay.status(*args).stdout

    def kill(self, pid):
        os.kill(pid, signal.SIGKILL)

    def log_mark(self):
        return len(self.relay.log_text())

    def log_since(self, daemon, mark):
        return "\n".join(l for l in self.relay.log_text()[mark:].splitlines() if daemon in l)

    def log_tail(self):
        return "".join(self.relay.log_text().splitlines(True)[-80:])

    def stop(self):
        """SIGTERM to the launcher; {daemon: how it ended}, and the launcher's own status."""
        proc = self.relay.proc
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
        text = self.relay.log_text()
        ended = {}
        for d in DAEMONS:
            m = re.search(rf"launcher: {d} stopped \(([^)]*)\)", text)
            ended[d] = m.group(1) if m else "no stop line"
        ended["launcher"] = f"exited with status {rc}"
        return ended


RELAY = None  # SystemdRelay or LauncherRelay, chosen by main()


def unit_state(daemon):
    """(pid, restarts so far, "active" or not) of one of onionsplit's daemons."""
    return RELAY.state(daemon)


def relay_ready():
    return RELAY.ready()


def wait_ready(within):
    deadline = time.time() + within
    while time.time() < deadline:
        if relay_ready():
            return True
        time.sleep(0.25)
    return False


def counters():
    """{"daemon.counter": value} from `onionsplit status --counters`."""
    return tornet.parse_counters(RELAY.status("--counters"))


def kill_and_wait_restart(daemon, within=30):
    """kill -9 of the daemon's process; waits until systemd (or the launcher) has started a new one
    and the relay is ready again. Returns (old pid, new pid, restarts before, after, seconds to
    ready)."""
    pid, restarts, _ = unit_state(daemon)
    if pid <= 0:
        raise RuntimeError(f"{daemon} has no process")
    t = time.time()
    RELAY.kill(pid)
    deadline = t + within
    while True:
        new, now_restarts, active = unit_state(daemon)
        if new > 0 and new != pid and active == "active":
            break
        if time.time() > deadline:
            raise TimeoutError(f"{daemon} not restarted within {within} s after kill -9")
        time.sleep(0.2)
    if not wait_ready(max(1, deadline - time.time())):
        raise TimeoutError(f"the relay not ready within {within} s after kill -9 of {daemon}")
    return pid, new, restarts, now_restarts, time.time() - t


class Controller:
    """One control connection to the client that records every CIRC, STREAM and ORCONN event with
    its arrival time and attaches each new stream to the circuit the test chose for its SOCKS
    connection (by source port; other streams to circuit 0, i.e. tor's choice)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.lock = threading.Lock()
        self.events = []  # (time, line)
        self.routes = {}  # SOCKS source port -> circuit id
        self.stream_of_port = {}  # SOCKS source port -> stream id
        self.circ_of_stream = {}
        self.attaches = {}  # stream id -> ATTACHSTREAM count
        self.buf = b""
        for cmd in ("AUTHENTICATE", "SETEVENTS CIRC STREAM ORCONN"):
            self.sock.sendall(cmd.encode() + b"\r\n")
            line = self._readline()
            if not line.startswith("250"):
                raise RuntimeError(f"control: {cmd}: {line}")
        self.closed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("control connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def _run(self):
        self.sock.settimeout(0.5)
        while not self.closed:
            try:
                line = self._readline()
            except socket.timeout:
                continue
            except (OSError, RuntimeError):
                return
            with self.lock:
                self.events.append((time.time(), line))
            self._attach(line)

    def _attach(self, line):
        m = re.match(r"^650 STREAM (\d+) (NEW|DETACHED) \d+ \S+(.*)$", line)
        if not m:
            return
        sid, status, rest = m.group(1), m.group(2), m.group(3)
        if status == "NEW":
            src = re.search(r"SOURCE_ADDR=127\.0\.0\.1:(\d+)", rest)
            port = int(src.group(1)) if src else None
            with self.lock:
                circ = self.routes.get(port, "0")
                self.circ_of_stream[sid] = circ
                if port is not None:
                    self.stream_of_port[port] = sid
        with self.lock:
            circ = self.circ_of_stream.get(sid, "0")
            self.attaches[sid] = self.attaches.get(sid, 0) + 1
            if self.attaches[sid] > 3:
                return
        self.sock.sendall(f"ATTACHSTREAM {sid} {circ}\r\n".encode())

    def route(self, source_port, circ):
        with self.lock:
            self.routes[source_port] = circ

    def stream(self, source_port):
        with self.lock:
            return self.stream_of_port.get(source_port)

    def since(self, t):
        with self.lock:
            return [line for at, line in self.events if at >= t]

    def wait_for(self, pred, since, within):
        deadline = time.time() + within
        while time.time() < deadline:
            for line in self.since(since):
                if pred(line):
                    return line
            time.sleep(0.1)
        return None

    def close(self):
        self.closed = True
        self.thread.join(timeout=5)
        self.sock.close()


def circ_closed(line, circ):
    return re.match(rf"^650 CIRC {circ} (CLOSED|FAILED)\b", line) is not None


def build_circuit(net, ctl, hops, tries=3):
    """EXTENDCIRCUIT along `hops` (fingerprints); returns the circuit id once BUILT."""
    last = ""
    for _ in range(tries):
        t = time.time()
        reply = net.control("EXTENDCIRCUIT 0 " + ",".join("$" + h for h in hops))[0]
        m = re.match(r"^250 EXTENDED (\d+)", reply)
        if not m:
            raise RuntimeError(f"EXTENDCIRCUIT: {reply}")
        circ = m.group(1)
        last = ctl.wait_for(lambda l: re.match(rf"^650 CIRC {circ} (BUILT|FAILED|CLOSED)\b", l),
                            t, 30)
        if last and " BUILT " in last:
            return circ
    raise RuntimeError(f"no circuit along {hops}: {last}")


class Download:
    """GET `path` through the client's SocksPort on circuit `circ` (attached by `ctl`), in a thread,
    comparing each byte with `expected`. Paced downloads read at most PACE bytes a second; `reached`
    is set once KILL_AT bytes arrived."""

    def __init__(self, net, ctl, circ, http_port, path, expected, paced):
        self.net, self.ctl, self.circ = net, ctl, circ
        self.http_port, self.path, self.expected, self.paced = http_port, path, expected, paced
        self.n, self.good, self.error, self.secs = 0, True, None, 0.0
        self.source_port = None
        self.reached = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        t0 = time.time()
        try:
            self._get()
        except (OSError, RuntimeError) as e:
            self.error = repr(e)
        self.secs = time.time() - t0
        self.reached.set()

    def _get(self):
        s = socket.create_connection(("127.0.0.1", self.net.client.socks_port), timeout=30)
        with s:
            self.source_port = s.getsockname()[1]
            self.ctl.route(self.source_port, self.circ)
            s.sendall(b"\x05\x01\x00")
            if targets._recv_exact(s, 2) != b"\x05\x00":
                raise RuntimeError("SOCKS: no method")
            s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") +
                      struct.pack(">H", self.http_port))
            head = targets._recv_exact(s, 10)
            if head[1] != 0:
                raise RuntimeError(f"SOCKS reply {head[1]}")
            s.sendall(f"GET {self.path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("no HTTP header")
                buf += chunk
            body = buf.split(b"\r\n\r\n", 1)[1]
            t0 = time.time()
            while True:
                if body:
                    self.good = self.good and self.expected[self.n:self.n + len(body)] == body
                    self.n += len(body)
                    if self.n >= KILL_AT:
                        self.reached.set()
                if self.paced:
                    time.sleep(max(0.0, self.n / PACE - (time.time() - t0)))
                body = s.recv(65536)
                if not body:
                    break

    def join(self, within):
        self.thread.join(timeout=within)
        return not self.thread.is_alive()

    @property
    def complete(self):
        return self.error is None and self.n == len(self.expected) and self.good

    def describe(self):
        what = "complete" if self.n == len(self.expected) else "ended early"
        err = f", {self.error}" if self.error else ""
        return (f"{what} after {self.n} bytes in {self.secs:.1f} s, every byte "
                f"{'right' if self.good else 'WRONG'}{err}")


def stream_event(ctl, dl, since, status):
    """The client's STREAM event with `status` for the stream of download `dl` (the control
    connection may deliver it a little after the data): (stream id, the event or None)."""
    sid = ctl.stream(dl.source_port) if dl.source_port else None
    if sid is None:
        return None, None
    return sid, ctl.wait_for(lambda l: re.match(rf"^650 STREAM {sid} {status} ", l) is not None,
                             since, 10)


def circuit_hops(net, circ):
    """The fingerprints of circuit `circ`'s hops, from the client's circuit-status."""
    for line in net.getinfo("circuit-status").splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == circ:
            return [h.lstrip("$").split("~")[0] for h in parts[2].split(",")]
    return []


def wait_closed(net, ctl, paths, since, within=20):
    """Waits until every circuit in `paths` ({circuit id: its hops}) has a CIRC CLOSED/FAILED event
    since `since`. Returns ({circuit: event or None}, [circuits that needed a kick]).

    A C tor relay queues the DESTROY it passes toward the client without waking its cell scheduler
    when that channel's output buffer is not empty (circuitmux_append_destroy_cell in tor 0.4.9), so
    under load the DESTROY may wait there until the next cell on that channel: the same is seen
    when a C tor exit is killed (docs/OPERATING.md, Restart semantics). So a circuit still open
    after `within` seconds gets a new circuit along its first two hops, whose CREATED2 cells go back
    over the same channels and take what waits there with them; it must close within 10 s more. A
    circuit onionsplit did not send DESTROY for stays open either way."""
    def closed(c):
        return next((l for l in ctl.since(since) if circ_closed(l, c)), None)
    deadline = time.time() + within
    while time.time() < deadline and not all(closed(c) for c in paths):
        time.sleep(0.1)
    kicked = [c for c in paths if not closed(c)]
    for c in kicked:
        hops = paths[c][:2]
        if len(hops) == 2:
            try:
                build_circuit(net, ctl, hops, tries=1)
            except RuntimeError as e:
                print(f"     the kick along {hops} for {c} failed: {e}")
    deadline = time.time() + 10
    while kicked and time.time() < deadline and not all(closed(c) for c in paths):
        time.sleep(0.1)
    return {c: closed(c) for c in paths}, kicked


def describe_closes(closes, kicked):
    return "; ".join(f"{c}: {e[4:] if e else 'still open'}" +
                     (" (after the kick)" if c in kicked else "") for c, e in closes.items())


def circuit_census(net, fp):
    """What the client has open through onionsplit, by purpose, beside what onionsplit holds (more:
    the network's C tor relays build conflux sets as clients too, and onionsplit is its only
    exit)."""
    kinds = {}
    for line in net.getinfo("circuit-status").splitlines():
        m = re.match(r"^(\d+) (\w+) (\S+)", line)
        if m and fp in m.group(3):
            purpose = re.search(r"PURPOSE=(\w+)", line)
            kind = f"{m.group(2)}/{purpose.group(1) if purpose else '?'}"
            kinds[kind] = kinds.get(kind, 0) + 1
    c = counters()
    return (f"the client's circuits through onionsplit: {kinds}; circuitd has "
            f"{c.get('circuitd.circuits_open')} open, confluxd "
            f"{c.get('confluxd.conflux_legs_open')} legs in {c.get('confluxd.conflux_sets_open')} "
            f"sets (linked {c.get('confluxd.conflux_sets_linked_total')} since its start)")


def wait_descriptors(net, fps, within):
    """EXTENDCIRCUIT needs the client to know each hop's microdescriptor."""
    deadline = time.time() + within
    for fp in fps:
        while True:
            reply = net.control(f"GETINFO md/id/{fp}")[0]
            if reply.startswith("250"):
                break
            if time.time() > deadline:
                raise TimeoutError(f"the client has no microdescriptor for {fp}: {reply}")
            time.sleep(0.5)


def wait_for_set(net, fp, within):
    deadline = time.time() + within
    while time.time() < deadline:
        for legs in net.conflux_sets(fp).values():
            if len(legs) >= 2:
                return [c for c, _ in legs]
        time.sleep(0.5)
    return None


def configure_relay(net):
    """The container's onionsplit as this network's exit: torrc, loopback allowed for channeld
    (descriptor uploads, extends) and streamd (the test's HTTP server); restarts the target."""
    lines = ["DataDirectory /var/lib/onionsplit", "IPCDirectory /run/onionsplit",
             "Nickname onionsplitNspawn", "ContactInfo test@localhost", "TestingTorNetwork 1",
             "Address 127.0.0.1", "ORPort 9001", "AssumeReachable 1", "Log info stderr",
             "ExitRelay 1", "ExitPolicyRejectPrivate 0", "ExitPolicy accept 127.0.0.0/8:*",
             "ExitPolicy accept *:*",
             # nspawn_test.sh enabled the MetricsPort units before this step: they keep working.
             "MetricsPort 127.0.0.1:9035", "MetricsPortPolicy accept 127.0.0.1"
             ] + net.dir_authority_lines()
    inside("sh", "-c", f"cat >{TORRC}", stdin="\n".join(lines) + "\n")
    for unit in ("onionsplit-channeld.service", "onionsplit-streamd.service"):
        inside("mkdir", "-p", f"/etc/systemd/system/{unit}.d")
        inside("sh", "-c", f"cat >/etc/systemd/system/{unit}.d/90-test.conf",
               stdin="[Service]\nIPAddressAllow=localhost\n")
    inside("onionsplit", "--verify-config", "-f", TORRC)
    inside("systemctl", "daemon-reload")


def wait_authorities(net, within):
    """channeld posts its descriptor once at start: the authorities' DirPorts must be listening."""
    deadline = time.time() + within
    for a in net.authorities():
        while True:
            try:
                socket.create_connection(("127.0.0.1", a.dir_port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise TimeoutError(f"{a.name}'s DirPort not listening after {within} s")
                time.sleep(0.2)


class Steps:
    """The three kills, each a method, sharing the network, the controller and circuit C1."""

    def __init__(self, net, ctl, http_port, fp, legs, files, check):
        self.net, self.ctl, self.http_port, self.fp, self.legs = net, ctl, http_port, fp, legs
        self.check = check
        with open(os.path.join(files, "big.bin"), "rb") as f:
            self.big = f.read()
        with open(os.path.join(files, "small.bin"), "rb") as f:
            self.small = f.read()
        self.middles = [n.fingerprint for n in net.nodes if n.role == "middle"]
        wait_descriptors(net, self.middles + [fp], 60)
        self.c1 = build_circuit(net, ctl, [self.middles[0], self.middles[1], fp])
        log(f"single-path circuit C1 = {self.c1}")

    def download(self, circ, paced, small=False):
        return Download(self.net, self.ctl, circ, self.http_port,
                        "/small.bin" if small else "/big.bin", self.small if small else self.big,
                        paced)

    def restarted(self, daemon, old, new, r0, r1, secs):
        self.check(new != old and r1 == r0 + 1,
                   f"{daemon}: kill -9 {old} -> {RELAY.name} restarted it as {new}, restarts {r0} "
                   f"-> {r1}; relay ready {secs:.1f} s after the kill")

    def c1_survived(self, daemon, since):
        gone = [l for l in self.ctl.since(since) if circ_closed(l, self.c1)]
        built = any(l.startswith(f"{self.c1} BUILT ")
                    for l in self.net.getinfo("circuit-status").splitlines())
        self.check(not gone and built, f"{daemon}: C1 survived (no CLOSED/FAILED CIRC event for "
                                       f"{self.c1}, still BUILT: {built}) {gone}")

    def streamd(self):
        """kill -9 streamd mid-download on C1: END from the exit, C1 lives on, next stream works."""
        t, c1, ctl = time.time(), self.c1, self.ctl
        dl = self.download(c1, paced=True)
        dl.reached.wait(60)
        before = dl.n
        self.restarted("streamd", *kill_and_wait_restart("streamd"))
        dl.join(60)
        sid, closed = stream_event(ctl, dl, t, "CLOSED")
        self.check(before >= KILL_AT and dl.n < BIG and dl.good and closed is not None and
                   " REASON=END " in closed + " " and "REMOTE_REASON=" in closed,
                   f"streamd: the running download (stream {sid} on C1) {dl.describe()}; killed "
                   f"at {before} bytes; the client heard END from the exit: {closed}")
        t_next = time.time()
        nxt = self.download(c1, paced=False, small=True)
        nxt.join(60)
        sid2, ok_ev = stream_event(ctl, nxt, t_next, "SUCCEEDED")
        ok_ev = ok_ev or ""
        on_c1 = re.match(rf"^650 STREAM {sid2} SUCCEEDED {c1} ", ok_ev) is not None
        self.check(nxt.complete and on_c1,
                   f"streamd: the next stream (stream {sid2}) on the same circuit C1 "
                   f"{nxt.describe()}: {ok_ev}")
        self.c1_survived("streamd", t)
        kept = [c for c in self.legs if not any(circ_closed(l, c) for l in ctl.since(t))]
        print(f"     streamd: of the linked set {self.legs} (no streams), {kept} stayed open")
        print("     " + circuit_census(self.net, self.fp))
        log(f"step 1 (streamd) took {time.time() - t:.1f} s")

    def confluxd(self):
        """kill -9 confluxd with a linked set and a download on C1: the legs close, C1's download
        completes intact, and the client links a new set."""
        t, fp, ctl = time.time(), self.fp, self.ctl
        legs = wait_for_set(self.net, fp, 60)
        if legs is None:
            raise RuntimeError("no linked conflux set at onionsplit before killing confluxd")
        paths = {leg: circuit_hops(self.net, leg) for leg in legs}
        c_start = counters()
        dl = self.download(self.c1, paced=True)
        dl.reached.wait(60)
        before = dl.n
        c_kill = counters()
        t_kill = time.time()
        self.restarted("confluxd", *kill_and_wait_restart("confluxd"))
        closes, kicked = wait_closed(self.net, ctl, paths, t_kill)
        self.check(all(closes.values()),
                   f"confluxd: the set's legs {legs} closed: {describe_closes(closes, kicked)}")
        dl.join(60)
        c_end = counters()
        sha = hashlib.sha256(self.big[:dl.n]).hexdigest() if dl.good else "wrong bytes"
        # The exit was still sending when confluxd died: streamd's byte counter (streamd is not
        # restarted here) had not reached the file's size yet.
        key = "streamd.bytes_to_client_total"
        sent = c_kill.get(key, 0) - c_start.get(key, 0)
        big_sha = hashlib.sha256(self.big).hexdigest()
        self.check(dl.complete and sha == big_sha and before < BIG and sent < BIG,
                   f"confluxd: the single-path download on C1 (killed at {before} bytes "
                   f"received, {sent} sent by streamd) {dl.describe()}, sha256 "
                   f"{'matches' if sha == big_sha else 'DIFFERS'}")
        key = "circuitd.circuits_destroyed_locally_total"
        destroyed = c_end.get(key, 0) - c_kill.get(key, 0)
        self.check(destroyed >= len(legs),
                   f"confluxd: circuitd sent DESTROY for {destroyed} circuits (every conflux leg "
                   f"at onionsplit: the client's and the relays' own sets)")
        self.c1_survived("confluxd", t)
        t_set = time.time()
        relinked = None
        while time.time() < t_set + 60 and relinked is None:
            sets = [[c for c, _ in v] for v in self.net.conflux_sets(fp).values()]
            relinked = next((s for s in sets if len(s) >= 2 and not set(s) & set(legs)), None)
            time.sleep(0.5)
        linked = counters().get("confluxd.conflux_sets_linked_total", 0)
        self.check(relinked is not None and linked >= 1,
                   f"confluxd: the client linked a new set {relinked} "
                   f"{time.time() - t_set:.1f} s after the restart (the new confluxd counts "
                   f"{linked})")
        log(f"step 2 (confluxd) took {time.time() - t:.1f} s")

    def circuitd(self):
        """kill -9 circuitd with a download on C1 and a circuit C2 from the client through
        onionsplit: both close, the client's OR connection stays, new circuits work."""
        t, fp, ctl, net = time.time(), self.fp, self.ctl, self.net
        c1, c2 = self.c1, build_circuit(net, ctl, [fp, self.middles[2]])
        paths = {c1: [self.middles[0], self.middles[1], fp], c2: [fp, self.middles[2]]}
        orconn = [l for l in net.getinfo("orconn-status").splitlines() if fp in l]
        self.check(any(" CONNECTED" in l for l in orconn),
                   f"circuitd: C2 = {c2} starts at onionsplit; the client's OR connection: "
                   f"{orconn}")
        channeld_pid = unit_state("channeld")[0]
        ch0 = counters().get("channeld.channels_open")
        dl = self.download(c1, paced=True)
        dl.reached.wait(60)
        before = dl.n
        open_before = counters().get("circuitd.circuits_open")
        t_kill, mark = time.time(), RELAY.log_mark()
        self.restarted("circuitd", *kill_and_wait_restart("circuitd"))
        closes, kicked = wait_closed(net, ctl, paths, t_kill)
        dl.join(60)
        # What channeld did about it (its log line), beside what circuitd held just before.
        ended = re.findall(r"circuitd's connection ended: (\d+) circuits destroyed",
                           RELAY.log_since("channeld", mark))
        self.check(all(closes.values()) and dl.good and dl.n < BIG,
                   f"circuitd: C1 and C2 closed ({describe_closes(closes, kicked)}); the download "
                   f"on C1 (killed at {before} bytes) {dl.describe()}; circuitd had {open_before} "
                   f"circuits open, channeld sent DESTROY for {ended}")
        c2b = build_circuit(net, ctl, [fp, self.middles[2]])
        c3 = build_circuit(net, ctl, [self.middles[0], self.middles[1], fp])
        fresh = self.download(c3, paced=False)
        fresh.join(120)
        self.check(fresh.complete,
                   f"circuitd: a new circuit C3 = {c3} with onionsplit as exit: {BIG} bytes "
                   f"{fresh.describe()} ({fresh.n / max(fresh.secs, 0.001) / (1 << 20):.1f} "
                   "MiB/s)")
        orconn_events = [l for l in ctl.since(t_kill) if l.startswith("650 ORCONN") and fp in l]
        orconn = [l for l in net.getinfo("orconn-status").splitlines() if fp in l]
        ch1 = counters().get("channeld.channels_open")
        self.check(not orconn_events and any(" CONNECTED" in l for l in orconn) and
                   unit_state("channeld")[0] == channeld_pid,
                   f"circuitd: the client's OR connection to onionsplit stayed up (no ORCONN "
                   f"event for it: {orconn_events}; {orconn}); the new circuit {c2b} from the "
                   f"client through it built; channeld pid {channeld_pid} unchanged; "
                   f"channels_open {ch0} -> {ch1}")
        log(f"step 3 (circuitd) took {time.time() - t:.1f} s")


    def stop_under_load(self):
        """Step 4: SIGTERM with a download running through onionsplit."""
        t = time.time()
        circ = build_circuit(self.net, self.ctl, [self.middles[0], self.middles[1], self.fp])
        dl = self.download(circ, paced=True)
        self.check(dl.reached.wait(60) and dl.n >= KILL_AT,
                   f"SIGTERM: a download on {circ} runs ({dl.n} bytes)")
        ended = RELAY.stop()
        dl.join(30)
        self.check(all(v == "exited with status 0" for v in ended.values()),
                   f"SIGTERM ({RELAY.name}) mid-download after {dl.n} bytes, every byte "
                   f"{'right' if dl.good else 'WRONG'}: {ended}")
        log(f"step 4 (SIGTERM under load) took {time.time() - t:.1f} s")


def diagnose():
    """After a failed check: onionsplit's counters and its daemons' last log lines."""
    print("     counters: " + " ".join(f"{k}={v}" for k, v in sorted(counters().items())
                                        if v and "ipc_" not in k))
    print(RELAY.log_tail(), flush=True)


def main():
    """restart_under_load.py INIT WORKDIR: the container's systemd runs onionsplit (nspawn_test.sh);
    restart_under_load.py --launcher BIN_DIR WORKDIR: onionsplit's launcher runs it, on the host."""
    global INIT, RELAY
    launcher = sys.argv[1] == "--launcher"
    work = os.path.abspath(sys.argv[3] if launcher else sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("restart-under-load: FAIL: terminated"))
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            failures.append(what)
            diagnose()

    files = os.path.join(work, "files")
    os.makedirs(files, exist_ok=True)
    targets.make_file(os.path.join(files, "big.bin"), BIG)
    targets.make_file(os.path.join(files, "small.bin"), 256 << 10)
    ctl = relay = None
    try:
        with targets.HttpServer(files) as http, \
                tornet.TorNet(os.path.join(work, "net"), authorities=3, middles=3, exits=0,
                              conflux=True) as net:
            net.setup()
            if launcher:
                metrics_port = tornet.free_port()
                relay = tornet.Onionsplit(net, work, os.path.abspath(sys.argv[2]),
                                          extra=[f"MetricsPort 127.0.0.1:{metrics_port}",
                                                 "MetricsPortPolicy accept 127.0.0.1"])
                RELAY, fp = LauncherRelay(relay, metrics_port), relay.fingerprint
            else:
                INIT, RELAY = int(sys.argv[1]), SystemdRelay()
                fp = inside("cat", "/var/lib/onionsplit/fingerprint").split()[1]
                configure_relay(net)
            net.exit_nodes = [fp]
            net.start()
            wait_authorities(net, 30)
            if relay:
                relay.start()
            else:
                inside("systemctl", "restart", "onionsplit.target")
            if not wait_ready(60):
                raise RuntimeError("onionsplit not ready with the network's torrc")
            log(f"tor network started, onionsplit {fp} ({RELAY.name}) started as its exit")
            net.wait_bootstrapped(timeout=120)
            s_line = net.wait_for_relay_in_consensus(
                fp, flags=("Exit", "Fast", "Running", "Stable", "Valid"), timeout=150)
            log(f"client bootstrapped; onionsplit in the consensus: {s_line}")
            targets.http_get_until(net.client.socks_port, "127.0.0.1", http.port, "/small.bin",
                                   within=120, timeout=30)
            log("a first stream through onionsplit worked")
            legs = wait_for_set(net, fp, 120)
            check(legs is not None, f"a linked conflux set at onionsplit: {legs}")
            log("the client linked a conflux set at onionsplit")

            ctl = Controller(net.client.control_port)
            reply = net.control("SETCONF __LeaveStreamsUnattached=1")[0]
            if not reply.startswith("250"):
                raise RuntimeError(f"SETCONF __LeaveStreamsUnattached: {reply}")
            steps = Steps(net, ctl, http.port, fp, legs or [], files, check)
            t = time.time()
            steps.streamd()
            steps.confluxd()
            steps.circuitd()
            steps.stop_under_load()
            log(f"the four steps took {time.time() - t:.1f} s")
    except Exception as e:  # noqa: BLE001 (reported as the failure it is)
        failures.append(repr(e))
        print(f"FAIL {e!r}", flush=True)
        diagnose()
    finally:
        if ctl:
            ctl.close()
        if relay:
            relay.stop()
    log("PASS" if not failures else f"FAIL ({len(failures)} checks)")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
