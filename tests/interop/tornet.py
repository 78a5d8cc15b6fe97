#!/usr/bin/env python3
"""tests/interop/tornet.py: a private Tor network of Debian's `tor` on 127.0.0.1, for interop tests.

Three directory authorities (also relays), middles, optional C tor exits, and a client, configured as
shared/design/TESTNET-NOTES.md measured. Every process is started here and stopped by its PID; every
wait is bounded. onionsplit joins as an extra relay: `dir_authority_lines()` gives the lines its torrc
needs and `wait_for_relay_in_consensus()` tells when the client can use it.

Command line (for people):  tornet.py up DIR [--exits N]   |   tornet.py down DIR
"""
import argparse
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import exit_guidance  # noqa: E402  (beside this file, on the path as tornet is)

TOR = "/usr/sbin/tor"
GENCERT = "/usr/bin/tor-gencert"


_given_ports = set()


PORT_BLOCK_SIZE = 500


def port_range():
    """The ports this test may take: 20000-31999, or with ONIONSPLIT_PORT_BLOCK=i (ctest gives every
    interop test its own i) the block of PORT_BLOCK_SIZE ports starting at 20000 + i * PORT_BLOCK_SIZE,
    so that tests running at the same time never pick the same port."""
    block = os.environ.get("ONIONSPLIT_PORT_BLOCK")
    if block is None:
        return 20000, 32000
    low = 20000 + int(block) * PORT_BLOCK_SIZE
    if not 20000 <= low <= 32000 - PORT_BLOCK_SIZE:
        raise RuntimeError(f"ONIONSPLIT_PORT_BLOCK={block} is outside 20000-31999")
    return low, low + PORT_BLOCK_SIZE


def free_port():
    """A free TCP port on 127.0.0.1 below the kernel's ephemeral range (32768 and up by default),
    so that no outgoing connection of an already running node can take it before its owner binds
    it; never the same port twice in one process."""
    import random
    low, high = port_range()
    for _ in range(1000):
        port = random.randrange(low, high)
        if port in _given_ports:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given_ports.add(port)
        return port
    raise RuntimeError(f"no free port in {low}-{high - 1}")


def stop_process(proc, timeout=15):
    """SIGTERM, then SIGKILL after `timeout` seconds; waits for the process either way."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Node:
    def __init__(self, net, name, role):
        self.net, self.name, self.role = net, name, role
        self.dir = os.path.join(net.root, name)
        self.or_port = free_port()
        self.dir_port = free_port() if role == "authority" else None
        self.control_port = free_port() if role == "client" else None
        self.socks_port = free_port() if role == "client" else None
        self.fingerprint = None
        self.v3ident = None
        self.proc = None
        self.extra = []

    @property
    def torrc(self):
        return os.path.join(self.dir, "torrc")

    @property
    def log(self):
        return os.path.join(self.dir, "notice.log")


class TorNet:
    """A private network. Use as a context manager so that every process is stopped."""

    def __init__(self, root, authorities=3, middles=2, exits=0, client=True, conflux=True,
                 consensus_params="", extra_clients=0):
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.nodes = [Node(self, f"auth{i}", "authority") for i in range(authorities)]
        self.nodes += [Node(self, f"middle{i}", "middle") for i in range(middles)]
        self.nodes += [Node(self, f"exit{i}", "exit") for i in range(exits)]
        self.client = Node(self, "client", "client") if client else None
        if self.client:
            self.nodes.append(self.client)
        # More C tor clients, configured as the first (a load apart from the one measured).
        self.extra_clients = [Node(self, f"client{i + 1}", "client") for i in range(extra_clients)]
        self.nodes += self.extra_clients
        self.conflux = conflux
        self.exit_nodes = []  # fingerprints the client is pinned to (ExitNodes)
        # The authorities' ConsensusParams beyond the ones every test network has; change it with
        # set_consensus_params() while the network runs.
        self.consensus_params = consensus_params

    # ---- set-up -------------------------------------------------------------------------------

    def authorities(self):
        return [n for n in self.nodes if n.role == "authority"]

    def _make_authority_keys(self, n):
        keys = os.path.join(n.dir, "keys")
        os.makedirs(keys, exist_ok=True)
        subprocess.run([GENCERT, "--create-identity-key", "-m", "12", "-a",
                        f"127.0.0.1:{n.dir_port}",
                        "-i", os.path.join(keys, "authority_identity_key"),
                        "-s", os.path.join(keys, "authority_signing_key"),
                        "-c", os.path.join(keys, "authority_certificate"),
                        "--passphrase-fd", "0"],
                       input=b"\n", check=True, cwd=n.dir, capture_output=True, timeout=60)
        with open(os.path.join(keys, "authority_certificate")) as f:
            n.v3ident = re.search(r"^fingerprint (\S+)", f.read(), re.M).group(1)

    def _list_fingerprint(self, n):
        out = subprocess.run([TOR, "--list-fingerprint", "--DataDirectory", n.dir,
                              "--ORPort", str(n.or_port), "--Nickname", n.name,
                              "--Address", "127.0.0.1", "--SocksPort", "0",
                              "--Log", "err stderr"],
                             check=True, capture_output=True, text=True, timeout=60).stdout
        # "nickname AAAA BBBB ..." on the last line
        n.fingerprint = "".join(out.strip().split("\n")[-1].split()[1:])

    def dir_authority_lines(self):
        return [f"DirAuthority {a.name} orport={a.or_port} no-v2 v3ident={a.v3ident} "
                f"127.0.0.1:{a.dir_port} {a.fingerprint}" for a in self.authorities()]

    def _common_torrc(self, n):
        lines = ["TestingTorNetwork 1", f"DataDirectory {n.dir}", f"Nickname {n.name}",
                 "RunAsDaemon 0", "ShutdownWaitLength 0", "AssumeReachable 1",
                 "PathsNeededToBuildCircuits 0.25", f"Log notice file {n.log}",
                 "SafeLogging 0", "ContactInfo tornet@localhost",
                 f"ConsensusParams cc_alg=2 cfx_enabled=1 {self.consensus_params}".strip()]
        lines += self.dir_authority_lines()
        return lines

    def _write_torrc(self, n):
        lines = self._common_torrc(n)
        if n.role != "client":
            lines += ["Address 127.0.0.1", f"ORPort 127.0.0.1:{n.or_port}", "SocksPort 0",
                      "ExitRelay 0" if n.role != "exit" else "ExitRelay 1"]
        if n.role == "authority":
            guards = ",".join(m.fingerprint for m in self.nodes if m.role in ("authority", "middle"))
            lines += [f"DirPort 127.0.0.1:{n.dir_port}", "AuthoritativeDirectory 1",
                      "V3AuthoritativeDirectory 1", "TestingV3AuthInitialVotingInterval 5",
                      "V3AuthVotingInterval 10", "TestingV3AuthInitialVoteDelay 2",
                      "TestingV3AuthInitialDistDelay 2", "V3AuthVoteDelay 2", "V3AuthDistDelay 2",
                      "V3AuthNIntervalsValid 2", f"TestingDirAuthVoteGuard {guards}",
                      "TestingDirAuthVoteGuardIsStrict 1", "TestingMinExitFlagThreshold 0",
                      "AuthDirVoteStableGuaranteeMinUptime 0", "AuthDirFastGuarantee 1 byte",
                      "AuthDirTestReachability 1", "AuthDirMaxServersPerAddr 0"]
        if n.role == "exit":
            lines += ["ExitPolicyRejectPrivate 0", "ExitPolicyRejectLocalInterfaces 0",
                      "ExitPolicy accept 127.0.0.0/8:*", "ExitPolicy accept *:*"]
        if n.role == "client":
            middles = ",".join(m.fingerprint for m in self.nodes if m.role in ("authority", "middle"))
            lines += [f"SocksPort 127.0.0.1:{n.socks_port}", f"ControlPort 127.0.0.1:{n.control_port}",
                      "CookieAuthentication 0", f"MiddleNodes {middles}", "FetchDirInfoEarly 1",
                      "FetchDirInfoExtraEarly 1", "UseEntryGuards 1",
                      f"ConfluxEnabled {1 if self.conflux else 0}", "ConfluxClientUX throughput"]
            if self.exit_nodes:
                lines += ["ExitNodes " + ",".join("$" + f for f in self.exit_nodes),
                          "StrictNodes 1"]
        lines += n.extra
        with open(n.torrc, "w") as f:
            f.write("\n".join(lines) + "\n")

    def setup(self):
        for n in self.nodes:
            os.makedirs(n.dir, exist_ok=True)
            if n.role == "authority":
                self._make_authority_keys(n)
            if n.role != "client":
                self._list_fingerprint(n)

    # ---- running ------------------------------------------------------------------------------

    def start(self, nodes=None):
        nodes = nodes or self.nodes
        for n in nodes:
            self._write_torrc(n)
            n.proc = subprocess.Popen([TOR, "-f", n.torrc], stdout=subprocess.DEVNULL,
                                      stderr=open(os.path.join(n.dir, "stderr.log"), "w"),
                                      start_new_session=True)
        self._save_pids()

    def _save_pids(self):
        with open(os.path.join(self.root, "pids.json"), "w") as f:
            json.dump({n.name: n.proc.pid for n in self.nodes if n.proc}, f)

    def stop(self):
        for n in self.nodes:
            if n.proc and n.proc.poll() is None:
                n.proc.send_signal(signal.SIGTERM)
        deadline = time.time() + 10
        for n in self.nodes:
            if n.proc:
                try:
                    n.proc.wait(timeout=max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    n.proc.kill()
                    n.proc.wait(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def set_consensus_params(self, params):
        """New ConsensusParams for the authorities (a reload, SIGHUP): the next consensus has them."""
        self.consensus_params = params
        for n in self.authorities():
            self._write_torrc(n)
            if n.proc and n.proc.poll() is None:
                n.proc.send_signal(signal.SIGHUP)

    def stop_node(self, n):
        if n.proc and n.proc.poll() is None:
            os.kill(n.proc.pid, signal.SIGKILL)
            n.proc.wait(timeout=10)

    # ---- observing ----------------------------------------------------------------------------

    def control(self, *commands, timeout=10, node=None):
        """Sends control-port commands to the client (or `node`); returns the replies as text."""
        port = (node or self.client).control_port
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            f = s.makefile("rwb")
            out = []
            for cmd in ("AUTHENTICATE",) + commands:
                f.write(cmd.encode() + b"\r\n")
                f.flush()
                reply = []
                while True:
                    line = f.readline().decode(errors="replace")
                    if not line:
                        raise RuntimeError("control connection closed")
                    reply.append(line.rstrip("\r\n"))
                    if re.match(r"^\d{3} ", line):
                        break
                out.append("\n".join(reply))
            return out[1:]

    def watch_events(self, events, action, until, timeout=60):
        """Subscribes to control-port `events` (e.g. "STREAM"), runs `action()` in a thread, and
        returns the first event line for which `until(line)` is true (None after `timeout`)."""
        import threading
        with socket.create_connection(("127.0.0.1", self.client.control_port), timeout=5) as s:
            f = s.makefile("rwb")
            for cmd in ("AUTHENTICATE", f"SETEVENTS {events}"):
                f.write(cmd.encode() + b"\r\n")
                f.flush()
                if not f.readline().startswith(b"250"):
                    raise RuntimeError(f"control: {cmd} refused")
            t = threading.Thread(target=action, daemon=True)
            t.start()
            deadline = time.time() + timeout
            while time.time() < deadline:
                s.settimeout(max(0.1, deadline - time.time()))
                try:
                    line = f.readline().decode(errors="replace").rstrip("\r\n")
                except socket.timeout:
                    break
                if not line:
                    break
                if until(line):
                    return line
        return None

    def collect_events(self, events, action, timeout=300):
        """Subscribes to control-port `events`, runs `action()` in a thread until it returns (at
        most `timeout` s), and returns (its result or exception, every event line seen)."""
        import threading
        lines, outcome = [], {}

        def run():
            try:
                outcome["result"] = action()
            except Exception as e:  # noqa: BLE001 (handed to the caller)
                outcome["result"] = e
        with socket.create_connection(("127.0.0.1", self.client.control_port), timeout=5) as s:
            buf = b""
            for cmd in ("AUTHENTICATE", f"SETEVENTS {events}"):
                s.sendall(cmd.encode() + b"\r\n")
                while b"\r\n" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise RuntimeError("control connection closed")
                    buf += chunk
                reply, buf = buf.split(b"\r\n", 1)
                if not reply.startswith(b"250"):
                    raise RuntimeError(f"control: {cmd} refused")
            t = threading.Thread(target=run, daemon=True)
            t.start()
            deadline = time.time() + timeout
            s.settimeout(0.5)
            while time.time() < deadline and t.is_alive():
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                buf += chunk
                *done, buf = buf.split(b"\r\n")
                lines += [d.decode(errors="replace") for d in done]
            t.join(timeout=max(0.1, deadline - time.time()))
        return outcome.get("result", TimeoutError("action did not finish")), lines

    def conflux_circuits(self):
        """The client's circuits that belong to a conflux set, from GETINFO circuit-status:
        {circuit id: (conflux id, purpose, [hop fingerprints], the status line)}."""
        out = {}
        for line in self.control("GETINFO circuit-status")[0].splitlines():
            line = re.sub(r"^250[-+ ](circuit-status=)?", "", line).strip()
            m = re.match(r"^(\d+) (\w+) (\S+) ", line)
            cid = re.search(r"CONFLUX_ID=(\w+)", line)
            if not m or not cid:
                continue
            purpose = re.search(r"PURPOSE=(\w+)", line)
            hops = [h.split("~")[0].lstrip("$") for h in m.group(3).split(",")]
            out[m.group(1)] = (cid.group(1), purpose.group(1) if purpose else "", hops, line)
        return out

    def conflux_sets(self, exit_fingerprint):
        """The client's linked conflux sets ending at `exit_fingerprint`: {conflux id: [(circuit
        id, [hop fingerprints])]} of its BUILT CONFLUX_LINKED circuits."""
        sets = {}
        for circ, (cid, purpose, hops, line) in self.conflux_circuits().items():
            if purpose == "CONFLUX_LINKED" and " BUILT " in f" {line} " and \
                    hops[-1] == exit_fingerprint:
                sets.setdefault(cid, []).append((circ, hops))
        return sets

    def getinfo(self, key, node=None):
        reply = self.control(f"GETINFO {key}", node=node)[0]
        if not reply.startswith("250"):
            raise RuntimeError(reply)
        lines = reply.split("\n")
        if lines[0].startswith(f"250-{key}="):
            return lines[0].split("=", 1)[1]
        return "\n".join(l for l in lines[1:] if l not in (".", "250 OK"))

    def wait_bootstrapped(self, timeout=120, node=None):
        deadline = time.time() + timeout
        last = ""
        while time.time() < deadline:
            self._check_alive()
            try:
                last = self.getinfo("status/bootstrap-phase", node=node)
                if "PROGRESS=100" in last:
                    return
            except (OSError, RuntimeError):
                pass
            time.sleep(1)
        raise TimeoutError(f"client did not bootstrap in {timeout}s: {last}")

    def wait_for_relay_in_consensus(self, fingerprint, flags=("Running", "Valid"), timeout=120):
        deadline = time.time() + timeout
        status = ""
        while time.time() < deadline:
            self._check_alive()
            try:
                status = self.getinfo(f"ns/id/{fingerprint}")
                s_line = next((l for l in status.split("\n") if l.startswith("s ")), "")
                if all(f in s_line.split() for f in flags):
                    return s_line
            except (OSError, RuntimeError):
                pass
            time.sleep(1)
        raise TimeoutError(f"{fingerprint} not in the consensus with {flags} after {timeout}s: {status}")

    def _check_alive(self):
        for n in self.nodes:
            if n.proc and n.proc.poll() is not None and not getattr(n, "stopped_on_purpose", False):
                try:
                    with open(n.log, errors="replace") as f:
                        tail = "".join(f.readlines()[-8:])
                except OSError:
                    tail = "(no log)"
                raise RuntimeError(f"{n.name} exited with {n.proc.returncode}; its log ends:\n{tail}")


def read_text(path):
    """A file's text ("" if it cannot be read, e.g. not written yet)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def parse_counters(out):
    """{"daemon.counter": value} from the text of `onionsplit status --counters`: a `daemon:` line,
    then one indented `name value` line per counter."""
    values, daemon = {}, None
    for line in out.splitlines():
        if line.startswith("  ") and daemon:
            parts = line.split()
            if len(parts) == 2 and parts[1].lstrip("-").isdigit():
                values[f"{daemon}.{parts[0]}"] = int(parts[1])
        elif ":" in line:
            daemon = line.split(":")[0]
    return values


class Onionsplit:
    """onionsplit as a relay of `net`: its torrc, fingerprint, processes and counters. Start it with
    start(), stop it with stop() (by PID; the launcher stops its daemons)."""

    def __init__(self, net, root, bin_dir, nickname="splitrelay", exit_policy=None, extra=(),
                 guidance_ports=None):
        """With `guidance_ports` ({"DirPort": port, ...}: the ports besides the ORPort), the torrc
        is tests/data/exit-guidance/torrc moved here (exit_guidance.rewrite): `exit_policy` goes
        ahead of its policy, and the lines a private network needs after it."""
        self.bin_dir = bin_dir
        self.dir = os.path.join(root, "onionsplit")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.torrc = os.path.join(self.dir, "torrc")
        self.log = os.path.join(self.dir, "onionsplit.log")
        policy = exit_policy if exit_policy is not None else ["accept 127.0.0.0/8:*", "accept *:*"]
        network = ["TestingTorNetwork 1", "Address 127.0.0.1", "AssumeReachable 1",
                   "ExitPolicyRejectPrivate 0"]
        if guidance_ports is not None:
            exit_guidance.rewrite(self.dir, dict(guidance_ports, ORPort=self.port),
                                  before_policy=policy,
                                  extra=network + [f"Log info file {self.log}"] + list(extra) +
                                  net.dir_authority_lines())
        else:
            lines = network + [f"DataDirectory {self.dir}/data", f"Nickname {nickname}",
                               f"ORPort 127.0.0.1:{self.port}", "ContactInfo onionsplit@localhost",
                               "ExitRelay 1"]
            lines += [f"ExitPolicy {p}" for p in policy]
            lines += [f"Log info file {self.log}"] + list(extra) + net.dir_authority_lines()
            with open(self.torrc, "w") as f:
                f.write("\n".join(lines) + "\n")
        out = subprocess.run([f"{bin_dir}/onionsplit", "--list-fingerprint", "-f", self.torrc],
                             check=True, capture_output=True, text=True, timeout=60).stdout
        self.fingerprint = "".join(out.split()[1:])
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([f"{self.bin_dir}/onionsplit", "-f", self.torrc],
                                     stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr.log"), "w"),
                                     start_new_session=True)

    def stop(self):
        stop_process(self.proc)

    def status(self, *args):
        """`onionsplit status ARGS` for this relay (its exit code is 0 when every daemon is
        ready)."""
        return subprocess.run([f"{self.bin_dir}/onionsplit", "status", *args, "-f", self.torrc],
                              capture_output=True, text=True, timeout=30)

    def counters(self):
        """{"daemon.counter": value} from `onionsplit status --counters`."""
        return parse_counters(self.status("--counters").stdout)

    def daemon_pid(self, name):
        """The PID of one of onionsplit's daemons, from `onionsplit status` (None if not ready)."""
        out = self.status().stdout
        m = re.search(rf"^{name}: ready, pid (\d+)", out, re.M)
        return int(m.group(1)) if m else None

    def log_text(self):
        return read_text(self.log)


class InteropRun:
    """What every interop test's main() shares: BIN_DIR from the command line, BIG_MIB from the
    environment, a temporary directory with a files/ folder for the HTTP server, checks printed as
    they are made, and the end (used as `with run:` around the test's body): an exception fails the
    test with the relay's log tail, onionsplit is stopped and the directory removed (KEEP=1 keeps
    it); result() prints PASS or FAIL and gives the exit code."""

    def __init__(self, prefix):
        self.bin_dir = os.path.abspath(sys.argv[1])
        self.big_mib = int(os.environ.get("BIG_MIB", "50"))
        self.root = tempfile.mkdtemp(prefix=prefix)
        self.files = os.path.join(self.root, "files")
        os.makedirs(self.files)
        self.relay = None
        self.failures = []

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if not ok:
            self.failures.append(what)

    def __enter__(self):
        return self

    def __exit__(self, kind, e, tb):
        if e is not None:
            self.failures.append(repr(e))
            print(f"FAIL {e!r}")
            if self.relay:
                print("".join(self.relay.log_text().splitlines(True)[-40:]))
        finish(self.relay, self.root)
        return isinstance(e, Exception)

    def result(self):
        print("PASS" if not self.failures else f"FAIL ({len(self.failures)} checks)")
        return 0 if not self.failures else 1


def finish(relay, root):
    """The end of an interop test: stops onionsplit (if it was made) and removes the test's
    directory, or keeps it with KEEP=1."""
    if relay:
        relay.stop()
    if os.environ.get("KEEP") is None:
        subprocess.run(["rm", "-rf", root])
    else:
        print(f"kept {root}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up")
    up.add_argument("dir")
    up.add_argument("--exits", type=int, default=1)
    down = sub.add_parser("down")
    down.add_argument("dir")
    args = ap.parse_args()
    if args.cmd == "up":
        net = TorNet(args.dir, exits=args.exits)
        net.setup()
        t0 = time.time()
        net.start()
        try:
            net.wait_bootstrapped()
        except Exception:
            net.stop()
            raise
        print(f"bootstrapped in {time.time() - t0:.1f}s; socks 127.0.0.1:{net.client.socks_port}, "
              f"control 127.0.0.1:{net.client.control_port}; stop with: {sys.argv[0]} down {args.dir}")
    else:
        with open(os.path.join(args.dir, "pids.json")) as f:
            for name, pid in json.load(f).items():
                try:
                    os.kill(pid, signal.SIGTERM)
                    print(f"stopped {name} ({pid})")
                except ProcessLookupError:
                    pass


if __name__ == "__main__":
    main()
