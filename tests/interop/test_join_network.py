#!/usr/bin/env python3
"""tests/interop/test_join_network.py: onionsplit joins a private network of Debian `tor` 0.4.9.

Three directory authorities (with AuthDirTestReachability 1: an authority votes a relay Running only
after it completed a link handshake with the relay's ORPort as an authenticating initiator), two
middles and a client, on 127.0.0.1. onionsplit publishes its descriptor to the authorities; the test
checks that the client's consensus lists onionsplit, configured as an exit, with Exit, Fast,
Running, Stable and Valid, and that the authorities' reachability tests reached it as authenticated
relays (CERTS + AUTHENTICATE type 3 verified by onionsplit), and that onion keys rotated while
running (SIGHUP to the launcher with a 29-day-old key) give a new descriptor the authorities accept.
Relay families by key (proposal 321): onionsplit and one C tor middle share a family key made by
`tor --keygen-family`; the authorities accept onionsplit's family-cert, and the microdescriptor
the client gets for it carries "family-ids ed25519:<the FamilyId>", as the middle's does; a
changed FamilyId on reload restarts channeld, which publishes again.
The ORPort reachability self-test (AssumeReachable 0, as C tor): onionsplit publishes only after a
circuit through a C tor relay came back to its ORPort ("Self-testing indicates your ORPort ... is
reachable"); a second onionsplit whose descriptor would advertise a port nothing listens on
(`ORPort ... NoListen` beside `ORPort ... NoAdvertise`) says its ORPort is not confirmed reachable,
counts the failed tests and publishes nothing.
Every process is stopped by its PID; every wait is bounded.

Usage: test_join_network.py BIN_DIR        (KEEP=1 keeps the temporary directory)
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tornet  # noqa: E402


def family_key(root):
    """A family key made by `tor --keygen-family`: (FamilyId, NAME.secret_family_key path)."""
    d = os.path.join(root, "family")
    os.makedirs(d, exist_ok=True)
    subprocess.run([tornet.TOR, "--keygen-family", os.path.join(d, "fam")], check=True,
                   capture_output=True, timeout=60)
    with open(os.path.join(d, "fam.public_family_id")) as f:
        return f.read().strip(), os.path.join(d, "fam.secret_family_key")


def key_directory(root, name, secret):
    """A FamilyKeyDirectory of its own holding a copy of the secret family key."""
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    shutil.copy(secret, os.path.join(d, "fam.secret_family_key"))
    return d


def family_ids(net, fingerprint, timeout=90):
    """The "family-ids" line of the client's microdescriptor for `fingerprint` ("" if none)."""
    deadline = time.time() + timeout
    md = ""
    while time.time() < deadline:
        try:
            md = net.getinfo(f"md/id/{fingerprint}")
            line = next((l for l in md.split("\n") if l.startswith("family-ids ")), "")
            if line:
                return line
        except (OSError, RuntimeError):
            pass
        time.sleep(1)
    print(f"microdescriptor of {fingerprint}:\n{md}")
    return ""


def unreachable_relay(net, root, bin_dir):
    """A second onionsplit that advertises an ORPort nothing listens on (NoListen) and listens on
    another (NoAdvertise), with AssumeReachable 0; started, to be checked by check_self_tests."""
    lost = tornet.Onionsplit(net, os.path.join(root, "lost"), bin_dir, nickname="lostrelay",
                             extra=["AssumeReachable 0"])
    dead = tornet.free_port()
    with open(lost.torrc) as f:
        text = f.read()
    with open(lost.torrc, "w") as f:
        f.write(text.replace(f"ORPort 127.0.0.1:{lost.port}\n",
                             f"ORPort 127.0.0.1:{dead} NoListen\n"
                             f"ORPort 127.0.0.1:{lost.port} NoAdvertise\n"))
    lost.dead_port = dead
    lost.start()
    return lost


def check_self_tests(relay, lost):
    """The self-test passed before onionsplit published; the unreachable one never published."""
    log = relay.log_text()
    passed = log.find(f"Self-testing indicates your ORPort 127.0.0.1:{relay.port} is reachable")
    first = log.find("descriptor: accepted by")
    print(f"self-test passed before publishing: {0 <= passed < first}")
    deadline = time.time() + 90
    while time.time() < deadline and lost.counters().get(
            "channeld.orport_self_tests_failed_total", 0) < 1:
        time.sleep(1)
    c = lost.counters()
    lost_log = lost.log_text()
    failed = [ln for ln in lost_log.splitlines() if "not confirmed reachable" in ln]
    n = lambda k: c.get(f"channeld.{k}")  # noqa: E731
    print(f"unreachable ORPort 127.0.0.1:{lost.dead_port}: {n('orport_self_tests_total')} "
          f"self-tests, {n('orport_self_tests_failed_total')} failed, reachable "
          f"{n('orport_reachable')}, descriptor accepted by {n('descriptor_accepted_by')}; "
          f"{failed[:1]}")
    return (0 <= passed < first and c.get("channeld.orport_self_tests_failed_total", 0) >= 1 and
            c.get("channeld.orport_reachable") == 0 and
            c.get("channeld.descriptor_accepted_by", 0) == 0 and
            "descriptor: accepted by" not in lost_log and
            any(f"127.0.0.1:{lost.dead_port}" in ln for ln in failed))


def main():
    bin_dir = os.path.abspath(sys.argv[1])
    root = tempfile.mkdtemp(prefix="onionsplit-join-")
    relay = lost = None
    try:
        with tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=2, exits=0,
                           conflux=False) as net:
            net.setup()
            fid, secret = family_key(root)
            middle = next(n for n in net.nodes if n.role == "middle")
            middle.extra = [f"FamilyId {fid}",
                            f"FamilyKeyDirectory {key_directory(root, 'middle-family', secret)}"]
            net.start()
            relay = tornet.Onionsplit(net, root, bin_dir, extra=[
                f"FamilyId {fid}",
                f"FamilyKeyDirectory {key_directory(root, 'onionsplit-family', secret)}",
                "AssumeReachable 0"])
            relay.start()
            lost = unreachable_relay(net, root, bin_dir)
            net.wait_bootstrapped(timeout=120)
            try:
                s_line = net.wait_for_relay_in_consensus(
                    relay.fingerprint, flags=("Exit", "Fast", "Running", "Stable", "Valid"),
                    timeout=150)
            except TimeoutError as e:
                print(f"FAIL: {e}")
                lines = [l for l in relay.log_text().splitlines(True)
                         if re.search(r"descriptor|channel|handshake", l)]
                print("".join(lines[-40:]))
                return 1
            log = relay.log_text()
            relays = len(re.findall(r"channel \d+ open with 127\.0\.0\.1 \(link \d, relay\)", log))
            refused = re.findall(r"closed: link handshake: .*", log)
            print(f"consensus: {s_line}")
            print(f"authenticated relay channels (authorities' reachability tests): {relays}")
            print(f"descriptor accepted: {log.count('descriptor: accepted by')} authorities")
            for r in refused:
                print(f"refused handshake: {r}")
            ok = relays > 0 and not refused and log.count("descriptor: accepted by") == 3
            ok = check_self_tests(relay, lost) and ok
            # The family: the authorities derived family-ids from onionsplit's family-cert.
            ours, theirs = family_ids(net, relay.fingerprint), family_ids(net, middle.fingerprint)
            print(f"family-ids of onionsplit: {ours!r}; of the C tor middle: {theirs!r}")
            ok = ok and ours == f"family-ids ed25519:{fid}" and ours == theirs
            # Onion-key rotation while running: with the ntor key 29 days old, a SIGHUP to the
            # launcher rotates it, channeld republishes, and the authorities accept the new keys.
            ntor = os.path.join(relay.dir, "data", "keys", "secret_onion_key_ntor")
            aged = time.time() - 29 * 86400
            os.utime(ntor, (aged, aged))
            os.kill(relay.proc.pid, signal.SIGHUP)
            deadline = time.time() + 60
            while time.time() < deadline and relay.log_text().count("descriptor: accepted by") < 6:
                time.sleep(1)
            republished = relay.log_text().count("descriptor: accepted by") - 3
            rotated = os.path.exists(ntor + ".old")
            print(f"onion keys rotated while running: {rotated}; new descriptor accepted by "
                  f"{republished} authorities")
            ok = ok and rotated and republished == 3
            # A changed FamilyId ("*": every key in FamilyKeyDirectory) on reload: channeld starts
            # again to read the family keys before its sandbox, and publishes again.
            with open(relay.torrc) as f:
                text = f.read()
            with open(relay.torrc, "w") as f:
                f.write(text.replace(f"FamilyId {fid}\n", "FamilyId *\n"))
            before = relay.log_text().count("descriptor: accepted by")
            os.kill(relay.proc.pid, signal.SIGHUP)
            deadline = time.time() + 60
            while (time.time() < deadline and
                   relay.log_text().count("descriptor: accepted by") < before + 3):
                time.sleep(1)
            restarted = "FamilyId changed; channeld restarts" in relay.log_text()
            again = relay.log_text().count("descriptor: accepted by") - before
            print(f"FamilyId changed on reload: channeld restarted: {restarted}; descriptor "
                  f"accepted by {again} authorities")
            ok = ok and restarted and again == 3
            print("PASS" if ok else "FAIL")
            return 0 if ok else 1
    finally:
        if lost:
            lost.stop()
        tornet.finish(relay, root)


if __name__ == "__main__":
    sys.exit(main())
