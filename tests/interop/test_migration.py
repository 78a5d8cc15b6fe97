#!/usr/bin/env python3
"""tests/interop/test_migration.py: docs/OPERATING.md's "Migrating from C tor, and back", way A (in
place, on C tor's files), in a private network of Debian `tor` on 127.0.0.1.

The relay's files are laid out as Debian's tor@default has them: Debian's own
/usr/share/tor/tor-service-defaults-torrc with its paths moved into the test's directory (its
DataDirectory, PidFile, ControlSocket, cookie and unix SocksPort), no `User` (everything runs as the
test's user) and its `SocksPort 9050` moved to a port of the test, under an exit operator's torrc
(with the network's DirAuthority lines), and both run with Debian's command line
`--defaults-torrc DEFAULTS -f TORRC --RunAsDaemon 0`. Checked:
  1. C tor runs as the relay, a C tor client's only exit (ExitNodes, StrictNodes), until a download
     went through it (keys, fingerprint, a consensus), and is stopped (SIGTERM);
  2. onionsplit's --verify-config passes the same files and command line;
  3. onionsplit started the same way keeps the fingerprint (the `fingerprint` file it rewrites),
     writes the PidFile, the authorities take its descriptor (platform onionsplit) for that
     fingerprint, and the client, pinned to it, gets a file through onionsplit; SIGTERM: 0;
  4. back to C tor, the same way: the authorities get its descriptor again (platform Tor), its log
     has no error or warning about keys, state or cached files, and, once it is stopped,
     `tor --list-fingerprint` on the same files prints the fingerprint of step 1.
Every process is stopped by its PID; every wait is bounded.

Usage: test_migration.py BIN_DIR      (KEEP=1 keeps the temporary directory)
"""
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets  # noqa: E402
import tornet  # noqa: E402

DEBIAN_DEFAULTS = "/usr/share/tor/tor-service-defaults-torrc"
# Debian 12's file, for a system that does not have it.
DEBIAN_DEFAULTS_TEXT = """DataDirectory /var/lib/tor
PidFile /run/tor/tor.pid
RunAsDaemon 1
User debian-tor

ControlSocket /run/tor/control GroupWritable RelaxDirModeCheck
ControlSocketsGroupWritable 1
SocksPort unix:/run/tor/socks WorldWritable
SocksPort 9050

CookieAuthentication 1
CookieAuthFileGroupReadable 1
CookieAuthFile /run/tor/control.authcookie

Log notice syslog
"""


class Relay:
    """The relay's files (Debian's layout, moved into `root`) and whichever program runs it."""

    def __init__(self, net, root, bin_dir, dns_port):
        self.bin_dir = bin_dir
        self.data = os.path.join(root, "var-lib-tor")
        self.run_dir = os.path.join(root, "run-tor")
        os.makedirs(self.data, mode=0o700)
        os.makedirs(self.run_dir, mode=0o700)
        self.log = os.path.join(root, "notices.log")
        self.port = tornet.free_port()
        text = DEBIAN_DEFAULTS_TEXT
        if os.path.exists(DEBIAN_DEFAULTS):
            with open(DEBIAN_DEFAULTS) as f:
                text = f.read()
        text = text.replace("/var/lib/tor", self.data).replace("/run/tor", self.run_dir)
        text = re.sub(r"^User .*$", "", text, flags=re.M)
        text = re.sub(r"^SocksPort 9050$", f"SocksPort 127.0.0.1:{tornet.free_port()}", text,
                      flags=re.M)
        self.defaults = os.path.join(root, "tor-service-defaults-torrc")
        with open(self.defaults, "w") as f:
            f.write(text)
        resolv = os.path.join(root, "resolv.conf")
        with open(resolv, "w") as f:
            f.write(f"nameserver 127.0.0.1:{dns_port}\n")
        lines = ["Nickname migrating", f"ORPort 127.0.0.1:{self.port}", "Address 127.0.0.1",
                 "ExitRelay 1", "ExitPolicyRejectPrivate 0", "ExitPolicy accept 127.0.0.0/8:*",
                 "ExitPolicy accept *:*", "ContactInfo migration@localhost",
                 f"Log notice file {self.log}", f"ServerDNSResolvConfFile {resolv}",
                 "TestingTorNetwork 1", "AssumeReachable 1", "ShutdownWaitLength 0"]
        self.torrc = os.path.join(root, "torrc")
        with open(self.torrc, "w") as f:
            f.write("\n".join(lines + net.dir_authority_lines()) + "\n")
        self.proc = None

    def command_line(self):
        """Debian's tor@default command line, after the program."""
        return ["--defaults-torrc", self.defaults, "-f", self.torrc, "--RunAsDaemon", "0"]

    def start(self, program):
        self.proc = subprocess.Popen([program] + self.command_line(), stdout=subprocess.DEVNULL,
                                     stderr=open(self.log + ".stderr", "a"),
                                     start_new_session=True)

    def stop(self):
        """SIGTERM by PID; the exit status (None if it had to be killed after 30 s). Debian's tor
        0.4.9.11 now and then logs "exiting cleanly" and then waits forever, every thread in a futex
        (seen once in three SIGTERMs right after its bootstrap): its exit status is printed, not
        checked; onionsplit's is checked."""
        if not self.proc:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"     pid {proc.pid} still runs 30 s after SIGTERM: {threads(proc.pid)}")
            proc.kill()
            proc.wait()
            return None

    def fingerprint_file(self):
        try:
            with open(os.path.join(self.data, "fingerprint")) as f:
                parts = f.read().split()
                return parts[1] if len(parts) == 2 else ""
        except OSError:
            return ""

    def log_text(self):
        return tornet.read_text(self.log)

    def wait_log(self, pattern, since, timeout):
        """True once the log, past offset `since`, matches `pattern` (False after `timeout` s or
        when the process ended)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.log_text()[since:]):
                return True
            if self.proc and self.proc.poll() is not None:
                return False
            time.sleep(0.5)
        return False


def threads(pid):
    """What each thread of `pid` waits in (for a process that does not end)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            task = f"/proc/{pid}/task/{tid}"
            with open(f"{task}/wchan") as w, open(f"{task}/comm") as c:
                out.append(f"{c.read().strip()}:{w.read().strip()}")
    except OSError:
        pass
    return ", ".join(out)


def authority_platform(net, fingerprint, want, timeout):
    """The platform line of the descriptor the first authority holds for `fingerprint`, once it
    starts with `want` (the last one seen after `timeout` s)."""
    auth = net.authorities()[0]
    url = f"http://127.0.0.1:{auth.dir_port}/tor/server/fp/{fingerprint}"
    deadline, platform = time.time() + timeout, ""
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                m = re.search(r"^platform (.*)$", r.read().decode(errors="replace"), re.M)
                platform = m.group(1) if m else ""
        except OSError:
            pass
        if platform.startswith(want):
            break
        time.sleep(1)
    return platform


def ctor_first(check, net, relay, http_port):
    """Step 1: C tor as the relay, the client's only exit, until both have bootstrapped and a
    download went through it; its fingerprint."""
    relay.start(tornet.TOR)
    deadline = time.time() + 60
    while not relay.fingerprint_file() and time.time() < deadline:
        time.sleep(0.5)
    fp = relay.fingerprint_file()
    net.exit_nodes = [fp]  # the client's only exit: whatever runs the relay
    net.start([net.client])
    up = relay.wait_log(r"Bootstrapped 100%", 0, 150)
    net.wait_bootstrapped(timeout=150)
    net.wait_for_relay_in_consensus(fp, flags=("Exit", "Running", "Valid"), timeout=150)
    status, _, n, _ = targets.http_get_until(net.client.socks_port, "127.0.0.1", http_port,
                                             "/small.bin", within=120, timeout=30)
    keys = sorted(os.listdir(os.path.join(relay.data, "keys")))
    t0 = time.time()
    code = relay.stop()
    check(up and re.fullmatch(r"[0-9A-F]{40}", fp) is not None and
          "secret_id_key" in keys and "ed25519_master_id_secret_key" in keys and
          " 200 " in status + " ",
          f"C tor ran as the relay (bootstrapped: {up}, a download through it: {status}): "
          f"fingerprint {fp}, keys {keys}; exit {code} {time.time() - t0:.1f} s after SIGTERM")
    return fp


def onionsplit_in_place(check, net, relay, fp, http_port):
    """Steps 2 and 3: onionsplit on C tor's files with C tor's command line."""
    program = os.path.join(relay.bin_dir, "onionsplit")
    v = subprocess.run([program] + relay.command_line() + ["--verify-config"],
                       capture_output=True, text=True, timeout=60)
    check(v.returncode == 0, f"onionsplit --verify-config on C tor's files: exit {v.returncode} "
                             f"{(v.stdout + v.stderr).strip()[-300:]}")
    relay.start(program)
    platform = authority_platform(net, fp, "onionsplit", 90)
    check(platform.startswith("onionsplit"),
          f"the authorities hold onionsplit's descriptor for {fp}: platform {platform!r}")
    check(relay.fingerprint_file() == fp,
          f"the fingerprint file onionsplit rewrote: {relay.fingerprint_file()}")
    with open(os.path.join(relay.run_dir, "tor.pid")) as f:
        pid = f.read().strip()
    check(pid == str(relay.proc.pid), f"PidFile {pid}, onionsplit's pid {relay.proc.pid}")
    net.wait_for_relay_in_consensus(fp, flags=("Exit", "Running", "Valid"), timeout=150)
    status, _, n, _ = targets.http_get_until(net.client.socks_port, "127.0.0.1", http_port,
                                             "/small.bin", within=120, timeout=30)
    counters = tornet.parse_counters(subprocess.run(
        [program, "status", "--counters"] + relay.command_line(), capture_output=True, text=True,
        timeout=30).stdout)
    opened = counters.get("streamd.streams_opened_total", 0)
    check(" 200 " in status + " " and n == 64 << 10 and opened > 0,
          f"a C tor client's download through {fp} ({status}, {n} bytes): onionsplit's streamd "
          f"opened {opened} exit stream(s)")
    code = relay.stop()
    check(code == 0, f"onionsplit exits {code} on SIGTERM")


def ctor_again(check, net, relay, fp):
    """Step 4: C tor again on the files onionsplit ran on."""
    since = len(relay.log_text())
    relay.start(tornet.TOR)
    platform = authority_platform(net, fp, "Tor ", 120)
    check(platform.startswith("Tor ") and relay.proc.poll() is None,
          f"C tor runs the relay again, the authorities hold its descriptor for {fp}: "
          f"platform {platform!r}")
    warned = [l for l in relay.log_text()[since:].splitlines() if "[err]" in l or "[warn]" in l]
    about_files = [l for l in warned if "[err]" in l or
                   re.search(r"key|cached|state|fingerprint|parse|corrupt|permission", l, re.I)]
    check(not about_files, f"C tor says nothing against the files onionsplit left: {about_files}")
    code = relay.stop()
    print(f"     C tor's exit status after SIGTERM: {code}")
    out = subprocess.run([tornet.TOR, "--list-fingerprint"] + relay.command_line() +
                         ["--Log", "err stderr"], capture_output=True, text=True, timeout=60)
    listed = "".join(out.stdout.strip().split("\n")[-1].split()[1:]) if out.stdout else ""
    check(out.returncode == 0 and listed == fp,
          f"tor --list-fingerprint on the same files: {listed or out.stderr.strip()[-200:]}")


def main():
    run = tornet.InteropRun("onionsplit-migration-")
    root, check = run.root, run.check
    with run:
        targets.make_file(os.path.join(run.files, "small.bin"), 64 << 10)
        with targets.HttpServer(run.files) as http, targets.DnsServer({}) as dns, \
                tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=2, exits=0,
                              conflux=False) as net:
            net.setup()
            relay = run.relay = Relay(net, root, run.bin_dir, dns.port)
            net.start([n for n in net.nodes if n.role != "client"])
            fp = ctor_first(check, net, relay, http.port)
            onionsplit_in_place(check, net, relay, fp, http.port)
            ctor_again(check, net, relay, fp)
    return run.result()


if __name__ == "__main__":
    sys.exit(main())
