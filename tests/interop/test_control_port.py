#!/usr/bin/env python3
"""onionsplit's ControlPort against stem (issue 20, first slice): onionsplit runs in a private
network with ControlPort, ControlSocket, CookieAuthentication and a HashedControlPassword made by
C tor's `tor --hash-password`. stem authenticates (SAFECOOKIE with the cookie file, the password,
and over the Unix socket), reads GETINFO keys and GETCONF options and checks them against the
relay (its fingerprint, its torrc, its launcher's pid); a controller that did not authenticate gets
C tor's 514, an overlong line and a 17th connection are closed. With SETEVENTS BW stem sees the
bytes of a download through onionsplit as the exit. GETINFO ns/id and ns/name read channeld's
cached consensus; a C tor middle relay of the same network with a ControlPort gives the same
answers for the keys and errors in SAME_ANSWERS (status/version/* among them) and the same
config/defaults but for the options onionsplit sets apart. SETCONF of runtime options takes
effect with CONF_CHANGED, others are refused as C tor does (and the republished descriptor brings
STATUS_SERVER's ACCEPTED_SERVER_DESCRIPTOR and GOOD_SERVER_DESCRIPTOR; the relay runs with
AssumeReachable 1, so no reachability self-test and no CHECKING_REACHABILITY here); NOTICE events
come from the launcher and the daemons; SIGNAL RELOAD reloads the torrc (CONF_CHANGED again) and
SIGNAL SHUTDOWN stops the relay after ShutdownWaitLength. Debian's nyx in tmux shows the relay's
nickname, fingerprint and consensus flags in its header and a non-zero bandwidth graph during a
download. GETINFO orconn-status lists channeld's channels as C tor does (the authorities' by
name), ns/all every relay's entry, desc/id and desc/name the relay's own descriptor (stem validates
it); NEWCONSENSUS comes with each new consensus and STATUS_GENERAL DANGEROUS_VERSION, as the
authorities recommend an older version only.

Usage: test_control_port.py BIN_DIR   (BIG_MIB sets the download size, default 50)"""
import os
import re
import socket
import subprocess
import sys
import threading
import time

try:
    import stem
except ImportError:  # Debian's python3-stem, seen from another Python 3 (e.g. pyenv's)
    sys.path.append("/usr/lib/python3/dist-packages")
    import stem
import stem.connection  # noqa: E402
import stem.descriptor.server_descriptor  # noqa: E402
from stem.control import Controller, EventType, Signal  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets  # noqa: E402
import tornet  # noqa: E402

PASSWORD = "control-port-test"
# The authorities recommend only this version: both onionsplit and Debian's tor are newer.
RECOMMENDED = "0.4.8.1"


def wait_listening(port, timeout):
    """Until something accepts on 127.0.0.1:port (the launcher binds before starting daemons)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return True
        except OSError:
            time.sleep(0.5)
    return False


def raw_exchange(port, lines):
    """Sends `lines` on a fresh connection and returns what came back until the peer closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall("".join(line + "\r\n" for line in lines).encode())
    out = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        out += chunk
    s.close()
    return out.decode(errors="replace")


def check_getinfo(check, c, relay):
    fp = c.get_info("fingerprint")
    check(fp == relay.fingerprint, f"GETINFO fingerprint is the relay's: {fp}")
    version = c.get_info("version")
    check(version.startswith("0.4.9.11 (onionsplit-") and str(c.get_version()).startswith("0.4.9"),
          f"GETINFO version says onionsplit and parses for stem: {version}")
    check(c.get_info("config-file") == relay.torrc, "GETINFO config-file is the torrc")
    pid = c.get_info("process/pid")
    check(pid == str(relay.proc.pid), f"GETINFO process/pid is the launcher's: {pid}")
    check(c.get_info("process/user") != "" and int(c.get_info("process/descriptor-limit")) > 0,
          "GETINFO process/user and process/descriptor-limit")
    check(int(c.get_info("uptime")) >= 0, "GETINFO uptime is a number")
    policy = c.get_info("exit-policy/full").splitlines()
    check("accept 127.0.0.0/8:*" in policy and "accept *4:*" in policy,
          f"GETINFO exit-policy/full is the torrc's policy: {policy[:3]}...{policy[-1:]}")
    check(c.get_info("net/listeners/or") == f'"127.0.0.1:{relay.port}"',
          "GETINFO net/listeners/or is the ORPort")
    check("BW" in c.get_info("events/names").split() and
          "fingerprint" in c.get_info("info/names"), "GETINFO events/names and info/names")
    # "unknown" until channeld has a consensus, then C tor's verdict (compared in SAME_ANSWERS).
    version_status = c.get_info("status/version/current")
    check(version_status in ("unknown", "none recommended", "recommended", "new", "obsolete",
                             "new in series", "unrecommended"),
          f"GETINFO status/version/current: {version_status!r}")
    text = c.get_info("config-text").splitlines()
    check("Nickname splitrelay" in text and "ContactInfo onionsplit@localhost" in text,
          f"GETINFO config-text lists the torrc's options: {text[:4]}...")
    for key, want in (("dormant", "0"), ("status/circuit-established", "0"),
                      ("accounting/enabled", "0"), ("address", "127.0.0.1")):
        got = c.get_info(key)
        check(got == want, f"GETINFO {key}: {got!r}")
    # Before channeld holds a consensus, ns/* answers "" as C tor's does without one.
    reply = c.msg("GETINFO no-such-key")
    check(reply.raw_content() == '552 Unrecognized key "no-such-key"\r\n',
          f"an unknown GETINFO key is refused: {reply.raw_content().strip()!r}")


def check_getconf(check, c, relay):
    check(c.get_conf("Nickname") == "splitrelay", "GETCONF Nickname")
    check(c.get_conf("ContactInfo") == "onionsplit@localhost", "GETCONF ContactInfo")
    policy = c.get_conf("ExitPolicy", multiple=True)
    check(policy == ["accept 127.0.0.0/8:*", "accept *:*"], f"GETCONF ExitPolicy: {policy}")
    check(c.get_conf("ORPort") == f"127.0.0.1:{relay.port}", "GETCONF ORPort")


# What C tor answers and onionsplit must answer alike (a C tor middle relay of the same network
# with a ControlPort): key or command, and why the two may differ when they do.
SAME_ANSWERS = ["GETINFO dormant", "GETINFO accounting/enabled", "GETINFO address",
                "GETINFO status/reachability-succeeded", "GETINFO status/reachability-succeeded/or",
                "GETINFO status/accepted-server-descriptor",
                "GETINFO status/version/current", "GETINFO status/version/recommended",
                "GETINFO no-such-key", "GETINFO ns/id/nothex", "GETINFO ns/id/" + "0" * 40,
                "GETINFO ns/id/" + "z" * 40,
                "SETCONF NoSuchOption=1", "GETCONF NoSuchOption", "GETCONF HiddenServiceOptions",
                "GETINFO signal/names", "GETINFO features/names", "GETINFO net/listeners/dir",
                "GETINFO net/listeners/socks", "GETINFO net/listeners/metrics",
                "GETINFO stream-status"]
# status/circuit-established: C tor's relay builds circuits of its own (1); onionsplit has no
# client role and builds none (0). Not compared.


def ctor_answers(port, commands):
    """Each command's raw reply from a C tor ControlPort without authentication."""
    with Controller.from_port(port=port) as c:
        c.authenticate()
        return {cmd: c.msg(cmd).raw_content() for cmd in commands}


def compare_with_ctor(check, c, ctor_port, middle_fp):
    ours = {cmd: c.msg(cmd).raw_content() for cmd in SAME_ANSWERS}
    theirs = ctor_answers(ctor_port, SAME_ANSWERS)
    for cmd in SAME_ANSWERS:
        check(ours[cmd] == theirs[cmd], f"{cmd} as C tor: {ours[cmd].strip()!r} "
              f"(C tor {theirs[cmd].strip()!r})")
    ours = dict(line.split(" ", 1) for line in c.get_info("config/names").splitlines())
    with Controller.from_port(port=ctor_port) as t:
        t.authenticate()
        theirs = dict(line.split(" ", 1) for line in t.get_info("config/names").splitlines())
    differ = {k: (v, theirs[k]) for k, v in ours.items() if k in theirs and theirs[k] != v}
    check(ours.get("ExitPolicy") == "LineList" and not differ,
          f"GETINFO config/names: {len(ours)} options, typed as C tor types them "
          f"(not in C tor: {sorted(set(ours) - set(theirs))}; differing: {differ})")
    # config/defaults: C tor's layout and values for the options both list, but for Sandbox (on in
    # onionsplit); DataDirectory, Nickname, ServerDNSResolvConfFile and SandboxSyscalls have a
    # default only in onionsplit.
    ours = dict(line.split(" ", 1) for line in c.get_info("config/defaults").splitlines())
    with Controller.from_port(port=ctor_port) as t:
        t.authenticate()
        theirs = dict(line.split(" ", 1) for line in t.get_info("config/defaults").splitlines())
    differ = {k: (v, theirs.get(k)) for k, v in ours.items() if theirs.get(k) != v}
    check(ours.get("ShutdownWaitLength") == '"30 seconds"' and len(ours) > 40 and
          set(differ) == {"Sandbox", "DataDirectory", "Nickname", "ServerDNSResolvConfFile",
                          "SandboxSyscalls"},
          f"GETINFO config/defaults: {len(ours)} options, as C tor's but {differ}")
    reply = c.msg("SETCONF DataDirectory=/tmp/elsewhere").raw_content()
    theirs = ctor_answers(ctor_port, ["SETCONF DataDirectory=/tmp/elsewhere"])
    check(reply.startswith("553 Transition not allowed: While Tor is running") and
          list(theirs.values())[0].startswith("553 Transition not allowed: While Tor is running"),
          f"SETCONF DataDirectory refused as C tor does: {reply.strip()!r}")
    # The same consensus entry for the C tor middle (once both hold the same consensus), but for
    # the r line's digest: onionsplit reads the ns consensus and gives the descriptor's digest, a
    # C tor relay reads the microdesc consensus and gives the start of the microdescriptor's.
    query = f"GETINFO ns/id/{middle_fp}"
    deadline = time.time() + 90
    while True:
        ours = re.sub(r"(\nr \S+ \S+) \S+", r"\1 DIGEST", c.msg(query).raw_content())
        theirs = re.sub(r"(\nr \S+ \S+) \S+", r"\1 DIGEST",
                        ctor_answers(ctor_port, [query])[query])
        if (ours == theirs and ours.startswith("250+")) or time.time() > deadline:
            break
        time.sleep(2)
    check(ours == theirs and ours.startswith("250+"),
          f"{query} as C tor: {ours!r} (C tor {theirs!r})")


def check_ns(check, c, relay):
    """ns/id and ns/name for the relay itself from channeld's cached consensus, read by stem."""
    deadline = time.time() + 90
    entry = None
    while time.time() < deadline and entry is None:
        try:
            entry = c.get_network_status(relay.fingerprint)
        except stem.DescriptorUnavailable:
            time.sleep(2)
    check(entry is not None and entry.nickname == "splitrelay" and
          entry.fingerprint == relay.fingerprint and "Exit" in entry.flags and
          entry.address == "127.0.0.1" and entry.or_port == relay.port,
          f"GETINFO ns/id/<its fingerprint>: {entry and (entry.nickname, entry.flags)}")
    by_name = c.get_network_status("splitrelay", None)
    check(by_name is not None and by_name.fingerprint == relay.fingerprint,
          "GETINFO ns/name/splitrelay")


ORCONN_LINE = re.compile(r"^(\$[0-9A-F]{40}(~\w+)?|\[scrubbed\]|[\d.]+:\d+) "
                         r"(CONNECTED|LAUNCHED|NEW)$")


def check_relay_views(check, c, relay, net, ctor_port):
    """orconn-status lists channeld's channels in C tor's form (the authorities test the ORPort,
    and so come with their nicknames); ns/all has every relay's entry; desc/id and desc/name give
    the relay's own descriptor, which stem parses and validates; another relay's is C tor's 552."""
    auths = {a.fingerprint: a.name for a in net.authorities()}
    named = set()
    lines = []
    deadline = time.time() + 90
    while time.time() < deadline and not named:
        lines = c.get_info("orconn-status").splitlines()
        named = {line.split("~")[1].split()[0] for line in lines
                 if line.startswith("$") and line[1:41] in auths and "~" in line and
                 line.endswith(" CONNECTED")}
        if not named:
            time.sleep(2)
    check(named and all(ORCONN_LINE.match(line) for line in lines) and
          named <= set(auths.values()),
          f"GETINFO orconn-status: {len(lines)} channels, to authorities {sorted(named)}: "
          f"{lines[:3]}")
    with Controller.from_port(port=ctor_port) as t:
        t.authenticate()
        theirs = t.get_info("orconn-status").splitlines()
    check(theirs and all(ORCONN_LINE.match(line) for line in theirs),
          f"C tor's orconn-status has the same form: {theirs[:2]}")
    entries = {e.fingerprint: e for e in c.get_network_statuses()}
    others = [n.fingerprint for n in net.nodes if n.role in ("authority", "middle")]
    check(relay.fingerprint in entries and entries[relay.fingerprint].nickname == "splitrelay" and
          all(fp in entries for fp in others),
          f"GETINFO ns/all: {len(entries)} entries, the relay's and every C tor relay's")
    desc = c.get_server_descriptor(relay.fingerprint)
    check(desc.fingerprint == relay.fingerprint and desc.nickname == "splitrelay" and
          desc.or_port == relay.port and desc.contact == b"onionsplit@localhost",
          f"GETINFO desc/id/<its fingerprint>: {desc.nickname} {desc.address}:{desc.or_port}")
    raw = c.get_info(f"desc/id/{relay.fingerprint}")
    stem.descriptor.server_descriptor.RelayDescriptor(raw.encode(), validate=True)
    check(c.get_info("desc/name/splitrelay") == raw and
          c.get_info(f"desc/id/${relay.fingerprint}~splitrelay") == raw,
          "GETINFO desc/name/splitrelay and desc/id/$FP~nick: the same descriptor, which stem "
          "validates (signatures and digest)")
    other = others[0]
    reply = c.msg(f"GETINFO desc/id/{other}").raw_content()
    check(reply == f'552 Unrecognized key "desc/id/{other}"\r\n',
          f"another relay's descriptor is not held: {reply.strip()!r}")


def check_consensus_events(check, c, relay):
    """NEWCONSENSUS with every entry when channeld takes a new consensus (one every 10 s here),
    and STATUS_GENERAL DANGEROUS_VERSION as the authorities recommend only RECOMMENDED."""
    got = {"ns": [], "general": []}
    lock = threading.Lock()

    def on_consensus(event):
        with lock:
            got["ns"].append([e.fingerprint for e in event.desc])

    def on_general(event):
        with lock:
            got["general"].append((event.action, dict(event.keyword_args)))

    c.add_event_listener(on_consensus, EventType.NEWCONSENSUS)
    c.add_event_listener(on_general, EventType.STATUS_GENERAL)
    deadline = time.time() + 90
    while time.time() < deadline:
        with lock:
            if got["ns"] and got["general"]:
                break
        time.sleep(1)
    c.remove_event_listener(on_consensus)
    c.remove_event_listener(on_general)
    first = got["ns"][0] if got["ns"] else []
    check(relay.fingerprint in first and len(first) >= 6,
          f"NEWCONSENSUS: {len(got['ns'])} events, the first with {len(first)} entries, the "
          f"relay's among them")
    check(got["general"] and got["general"][0][0] == "DANGEROUS_VERSION" and
          got["general"][0][1] == {"CURRENT": "0.4.9.11", "REASON": "NEW",
                                   "RECOMMENDED": RECOMMENDED},
          f"STATUS_GENERAL: {got['general'][:1]}")


def check_log_and_conf_events(check, c, relay, dirauths):
    """NOTICE from the launcher and from the daemons (their Log is a file only: the lines come
    over the daemons' control channel); SETCONF applies a runtime option with CONF_CHANGED; a
    reload brings the torrc's value back with CONF_CHANGED; SETCONF of others is refused. The
    changed descriptor is published again: STATUS_SERVER ACCEPTED_SERVER_DESCRIPTOR for each
    authority (`dirauths`, their address:DirPort) and GOOD_SERVER_DESCRIPTOR."""
    notices, changes, statuses = [], [], []
    lock = threading.Lock()

    def on_status(event):
        with lock:
            statuses.append((event.action, dict(event.keyword_args)))

    def on_notice(event):
        with lock:
            notices.append(event.message)

    def on_conf(event):
        with lock:
            changes.append(dict(event.changed))

    c.add_event_listener(on_notice, EventType.NOTICE)
    c.add_event_listener(on_conf, EventType.CONF_CHANGED)
    c.add_event_listener(on_status, EventType.STATUS_SERVER)
    c.set_conf("ContactInfo", "changed by stem")
    check(c.get_conf("ContactInfo") == "changed by stem" and
          "ContactInfo changed by stem" in c.get_info("config-text").splitlines(),
          "SETCONF ContactInfo is in force (GETCONF, config-text)")
    c.set_options({"ExitPolicy": ["accept 127.0.0.0/8:80", "reject *:*"]})
    policy = c.get_info("exit-policy/full").splitlines()
    check("accept 127.0.0.0/8:80" in policy and "accept *:*" not in policy,
          f"SETCONF ExitPolicy is in force: {policy}")
    for cmd, want in (("SETCONF ORPort=1", "553 Transition not allowed: While Tor is running, "
                       "changing ORPort is not allowed"),
                      ("SETCONF BandwidthRate=lots", "513 Unacceptable option value: "),
                      ('SETCONF ExitPolicy="accept nowhere:80"', "513 Unacceptable option value: "),
                      ("SAVECONF", "551 Unable to write configuration to disk")):
        reply = c.msg(cmd).raw_content()
        check(reply.startswith(want), f"{cmd}: {reply.strip()!r}")
    c.signal(Signal.RELOAD)

    def seen(pred):
        with lock:
            return any(pred(x) for x in list(notices) + list(changes))

    def accepted_by():
        with lock:
            return {a.get("DIRAUTH") for action, a in statuses
                    if action == "ACCEPTED_SERVER_DESCRIPTOR"}

    deadline = time.time() + 60
    while time.time() < deadline and not (
            accepted_by() >= dirauths and
            seen(lambda m: isinstance(m, str) and m.startswith("channeld: reload")) and
            seen(lambda m: isinstance(m, dict) and
                 m.get("ContactInfo") == ["onionsplit@localhost"])):
        time.sleep(1)
    with lock:
        launcher = [m for m in notices if m.startswith("launcher: SIGHUP received")]
        daemons = [m for m in notices if m.startswith(("channeld: ", "circuitd: ", "streamd: "))]
        check(launcher and daemons, f"NOTICE events from the launcher and the daemons: "
              f"{launcher[:1]} {daemons[:2]}")
        check(len(changes) >= 3 and changes[0] == {"ContactInfo": ["changed by stem"]} and
              changes[1].get("ExitPolicy") == ["accept 127.0.0.0/8:80", "reject *:*"] and
              changes[-1].get("ContactInfo") == ["onionsplit@localhost"],
              f"CONF_CHANGED after SETCONF and after the reload: {changes}")
    check(c.get_conf("ContactInfo") == "onionsplit@localhost",
          "the reload read the torrc again: SETCONF's value is gone, as in C tor")
    with lock:
        good = [a for a, _ in statuses if a == "GOOD_SERVER_DESCRIPTOR"]
    check(accepted_by() == dirauths and good,
          f"STATUS_SERVER ACCEPTED_SERVER_DESCRIPTOR from each authority ({sorted(dirauths)}) "
          f"and GOOD_SERVER_DESCRIPTOR: {statuses[:8]}")
    c.remove_event_listener(on_notice)
    c.remove_event_listener(on_conf)
    c.remove_event_listener(on_status)


class Nyx:
    """Debian's nyx in a real terminal: a tmux server of its own (its socket in the test's
    directory, stopped with kill-server), a 200x50 window, HOME in the test's directory so nyx
    writes nothing elsewhere."""

    def __init__(self, root, port):
        self.home = os.path.join(root, "nyx-home")
        os.makedirs(self.home, exist_ok=True)
        self.env = dict(os.environ, HOME=self.home, TERM="xterm-256color")
        self.tmux = ["tmux", "-S", os.path.join(root, "tmux.sock"), "-f", "/dev/null"]
        self.command = f"nyx -i 127.0.0.1:{port} -c {self.home}/nyxrc"

    def __enter__(self):
        with open(os.path.join(self.home, "nyxrc"), "w") as f:
            f.write("graph_stat bandwidth\n")
        subprocess.run(self.tmux + ["new-session", "-d", "-x", "200", "-y", "50", self.command],
                       check=True, env=self.env, timeout=30)
        return self

    def __exit__(self, *exc):
        subprocess.run(self.tmux + ["kill-server"], env=self.env, timeout=30,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def screen(self, escapes=False):
        """The window's text (with -e, its colours and attributes as escape sequences)."""
        return subprocess.run(self.tmux + ["capture-pane", "-p"] + (["-e"] if escapes else []),
                              env=self.env, capture_output=True, text=True, timeout=30).stdout

    def wait_for(self, pred, timeout):
        """Polls the screen until pred(screen) holds (bounded); returns the last screen."""
        deadline = time.time() + timeout
        text = self.screen()
        while not pred(text) and time.time() < deadline:
            time.sleep(0.5)
            text = self.screen()
        return text


def nyx_flags(text):
    m = re.search(r"^flags: (.*?)(?:\s{2,}|$)", text, re.M)
    return set(m.group(1).split(", ")) if m else None


def nyx_download_rate(text):
    """Bytes/second in nyx's "Download (N.N KB/sec ..." graph header, None if not shown."""
    m = re.search(r"Download \(([\d.]+) (B|KB|MB|GB)/sec", text)
    return float(m.group(1)) * 1024 ** ["B", "KB", "MB", "GB"].index(m.group(2)) if m else None


def check_nyx(check, root, cport, relay, net, http, big_sha, big_mib):
    """nyx's header shows the relay's nickname, ORPort, fingerprint and the flags the consensus
    gives it; during a download through the relay its bandwidth graph shows non-zero rates and
    bars (reverse video in the graph's rows)."""
    with Controller.from_port(port=cport) as c, Nyx(root, cport) as nyx:
        c.authenticate()
        flags = set()

        def shown(t):  # the flags of the consensus in force (a new one comes every 10 s here)
            nonlocal flags
            flags = set(c.get_network_status(relay.fingerprint).flags)
            return header in t and f"fingerprint: {relay.fingerprint}" in t and \
                nyx_flags(t) == flags
        # nyx names the password when the torrc has HashedControlPassword (this one has both).
        header = f"splitrelay - 127.0.0.1:{relay.port}, Control Port (password): {cport}"
        text = nyx.wait_for(shown, timeout=60)
        lines = text.splitlines()[:3]
        check(header in text, f"nyx's header shows the nickname and ORPort: {lines[1:2]}")
        check(f"fingerprint: {relay.fingerprint}" in text, "nyx's header shows the fingerprint")
        check(nyx_flags(text) == flags,
              f"nyx's header shows the consensus's flags {sorted(flags)}: "
              f"{sorted(nyx_flags(text) or [])}")
        done = {}

        def download():
            done["result"] = targets.http_get_until(net.client.socks_port, "127.0.0.1", http.port,
                                                    "/big.bin", within=120, timeout=300)
        t = threading.Thread(target=download, daemon=True)
        t.start()
        rates = []

        def busy(text):
            rate = nyx_download_rate(text)
            if rate is not None:
                rates.append(rate)
            return (rate or 0) > 0 or not t.is_alive()
        text = nyx.wait_for(busy, timeout=300)
        bars = [line for line in nyx.screen(escapes=True).splitlines()[6:16] if "\x1b[7m" in line]
        t.join(timeout=300)
        status, sha, n, secs = done.get("result", (None, None, 0, 0))
        check(sha == big_sha, f"{big_mib} MiB through onionsplit while nyx watches: {n} bytes")
        graph = [line.rstrip() for line in text.splitlines()[5:16] if line.strip()]
        check(max(rates, default=0) > 0 and bars,
              f"nyx's bandwidth graph is non-zero during the download: {graph[:2]}, "
              f"{len(bars)} rows with bars")


def closed_by_peer(s):
    """True once the peer closed `s` (EOF or reset) rather than waiting for more."""
    s.settimeout(10)
    try:
        while s.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def check_hostile(check, port):
    """A line past 16 KiB closes the connection; a 17th controller is closed at accept."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GETINFO " + b"x" * (17 * 1024))
    check(closed_by_peer(s), "a command line over 16 KiB closes the connection")
    s.close()
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
    for h in held:  # each answered: all 16 are accepted and served
        h.sendall(b"PROTOCOLINFO 1\r\n")
        h.recv(4096)
    extra = socket.create_connection(("127.0.0.1", port), timeout=10)
    check(closed_by_peer(extra), "a 17th controller at once is closed at accept")
    for h in held + [extra]:
        h.close()
    # The launcher sees those closes on its next turns; until then a new controller is still the
    # 17th. Wait (bounded) until one is served again, so the steps after this one are not refused.
    deadline = time.time() + 20
    served = False
    while not served and time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"PROTOCOLINFO 1\r\n")
                served = s.recv(4096).startswith(b"250")
        except OSError:
            pass
        if not served:
            time.sleep(0.2)
    check(served, "once the 17 are closed, a new controller is served again")


def main():
    run = tornet.InteropRun("onionsplit-control-")
    bin_dir, big_mib, root, check, files = run.bin_dir, run.big_mib, run.root, run.check, run.files
    hashed = subprocess.run(["tor", "--hash-password", PASSWORD], check=True, capture_output=True,
                            text=True, timeout=60).stdout.split()[-1]
    cport = tornet.free_port()
    sock = os.path.join(root, "control.sock")
    with run:
        big_sha = targets.make_file(os.path.join(files, "big.bin"), big_mib << 20)
        with targets.HttpServer(files) as http, \
                tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=2, exits=0,
                              conflux=False) as net:
            net.setup()
            middle = [n for n in net.nodes if n.role == "middle"][0]
            ctor_port = tornet.free_port()
            middle.extra = [f"ControlPort 127.0.0.1:{ctor_port}", "CookieAuthentication 0"]
            for a in net.authorities():
                a.extra = ["VersioningAuthoritativeDirectory 1",
                           f"RecommendedVersions {RECOMMENDED}"]
            extra = [f"ControlPort 127.0.0.1:{cport}", f"ControlSocket {sock}",
                     "CookieAuthentication 1", f"HashedControlPassword {hashed}",
                     "ShutdownWaitLength 2"]
            relay = run.relay = tornet.Onionsplit(net, root, bin_dir, extra=extra)
            net.exit_nodes = [relay.fingerprint]
            net.start()
            relay.start()
            check(wait_listening(cport, 60), f"the ControlPort 127.0.0.1:{cport} accepts")
            cookie = os.path.join(relay.dir, "data", "control_auth_cookie")
            mode = os.stat(cookie).st_mode & 0o777
            check(os.path.getsize(cookie) == 32 and mode == 0o600,
                  f"the cookie file: 32 bytes, mode {oct(mode)}")

            reply = raw_exchange(cport, ["GETINFO version"])
            check(reply == "514 Authentication required.\r\n",
                  f"before AUTHENTICATE: {reply.strip()!r}")
            reply = raw_exchange(cport, ['AUTHENTICATE "wrong"'])
            check(reply.startswith("515 Authentication failed: Password did not match "
                                   "HashedControlPassword *or* authentication cookie."),
                  f"a wrong password: {reply.strip()!r}")

            check_hostile(check, cport)
            with Controller.from_port(port=cport) as c:
                info = stem.connection.get_protocolinfo(c)
                check({"cookie", "safecookie", "password"} <=
                      {str(m).lower() for m in info.auth_methods} and info.cookie_path == cookie,
                      f"PROTOCOLINFO: {info.auth_methods}, COOKIEFILE {info.cookie_path}")
            with Controller.from_port(port=cport) as c:
                stem.connection.authenticate_safecookie(c, cookie)
                check(c.get_info("fingerprint") == relay.fingerprint,
                      "stem authenticates with SAFECOOKIE")
                check_getinfo(check, c, relay)
                check_getconf(check, c, relay)
            with Controller.from_port(port=cport) as c:
                stem.connection.authenticate_password(c, PASSWORD)
                check(c.get_info("fingerprint") == relay.fingerprint,
                      "stem authenticates with the password")
            with Controller.from_socket_file(sock) as c:
                c.authenticate()
                check(c.get_info("fingerprint") == relay.fingerprint,
                      "stem authenticates over the ControlSocket")

            net.wait_bootstrapped(timeout=120)
            net.wait_for_relay_in_consensus(relay.fingerprint, flags=("Exit", "Running", "Valid"),
                                            timeout=150)
            with Controller.from_port(port=cport) as c:
                c.authenticate()
                check_ns(check, c, relay)
                compare_with_ctor(check, c, ctor_port, middle.fingerprint)
                check_relay_views(check, c, relay, net, ctor_port)
                check_consensus_events(check, c, relay)
            check_nyx(check, root, cport, relay, net, http, big_sha, big_mib)
            with Controller.from_port(port=cport) as c:
                c.authenticate()
                seen = []
                lock = threading.Lock()

                def on_bw(event):
                    with lock:
                        seen.append((event.read, event.written))

                c.add_event_listener(on_bw, EventType.BW)
                before = int(c.get_info("traffic/read"))
                status, sha, n, secs = targets.http_get_until(net.client.socks_port, "127.0.0.1",
                                                              http.port, "/big.bin", within=120,
                                                              timeout=300)
                check(sha == big_sha, f"{big_mib} MiB through onionsplit: {n} bytes, intact")
                deadline = time.time() + 30
                while time.time() < deadline and int(c.get_info("traffic/read")) - before < n:
                    time.sleep(1)
                read = int(c.get_info("traffic/read")) - before
                check(read >= n, f"GETINFO traffic/read grew by the download: {read} >= {n}")
                time.sleep(3)  # BW events come once a second; let the last ones arrive
                with lock:
                    total = sum(r for r, _ in seen)
                check(len(seen) >= 2 and total >= n,
                      f"BW events: {len(seen)}, {total} bytes read in all (download {n})")

                check_log_and_conf_events(check, c, relay,
                                          {f"127.0.0.1:{a.dir_port}" for a in net.authorities()})
                check("checked; the daemons read it now" in relay.log_text(),
                      "SIGNAL RELOAD reloads the torrc as SIGHUP does")
                c.signal(Signal.SHUTDOWN)
            try:
                code = relay.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                code = None
            check(code is not None, f"SIGNAL SHUTDOWN stopped onionsplit (exit {code})")
    return run.result()


if __name__ == "__main__":
    sys.exit(main())
