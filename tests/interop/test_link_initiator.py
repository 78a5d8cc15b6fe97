#!/usr/bin/env python3
"""tests/interop/test_link_initiator.py: channeld's outbound side (the link handshake as initiator,
as channeld will run it for EXTEND2) against a real C tor 0.4.9 relay and against onionsplit's own
ORPort.

A private network of Debian's `tor` (one authority, one middle relay logging at info) runs on
127.0.0.1. `link_initiator_tool` (tests/channeld/link_initiator_tool.cc), with a fresh relay
identity, connects to the middle naming its RSA and ed25519 identities, completes the handshake with
CERTS and AUTHENTICATE, and sends CREATE_FAST. Proof from C tor's side: its log says the connection
opened with our RSA identity as the peer's ID digest (C tor records the ID only after an AUTHENTICATE
that verified; a client's connection shows zeros), and CREATED_FAST comes back. The same tool naming
a wrong identity must be refused before it authenticates. Then the tool does the same against
onionsplit, whose log must show a relay channel. Every process is started here and stopped by its
PID; every wait is bounded.

Usage: test_link_initiator.py BIN_DIR
"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tornet  # noqa: E402


def wait_for(path, pattern, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path, errors="replace") as f:
                m = re.search(pattern, f.read())
                if m:
                    return m
        time.sleep(0.2)
    return None


def ed_id(data_dir, timeout=30):
    """The base64 ed25519 identity from DataDirectory/fingerprint-ed25519 ("nickname KEY")."""
    m = wait_for(os.path.join(data_dir, "fingerprint-ed25519"), r"^\S+ (\S+)", timeout)
    return m.group(1) if m else None


def run_tool(bin_dir, port, fingerprint, ed, *extra):
    r = subprocess.run([f"{bin_dir}/link_initiator_tool", "127.0.0.1", str(port), fingerprint,
                        ed or "-", *extra], capture_output=True, text=True, timeout=90)
    print(f"$ link_initiator_tool 127.0.0.1 {port} {fingerprint} {ed or '-'} {' '.join(extra)}")
    print(r.stdout.strip())
    if r.stderr.strip():
        print(r.stderr.strip()[-2000:])
    ours = re.search(r"^ours rsa ([0-9A-F]{40}) ed (\S+)", r.stdout, re.M)
    return r.returncode, r.stdout, ours.groups() if ours else None


def show(path, n=4000):
    print(f"--- {path}")
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            print(f.read()[-n:])


def main():
    bin_dir = os.path.abspath(sys.argv[1])
    root = tempfile.mkdtemp(prefix="onionsplit-initiator-")
    relay = None
    checks = []
    try:
        with tornet.TorNet(os.path.join(root, "net"), authorities=1, middles=1, exits=0,
                           client=False) as net:
            middle = next(n for n in net.nodes if n.role == "middle")
            info_log = os.path.join(middle.dir, "info.log")
            middle.extra = [f"Log info file {info_log}"]
            net.setup()
            net.start()
            if not wait_for(info_log, r"Opened OR listener connection \(ready\) on 127\.0\.0\.1:"
                            + str(middle.or_port), 60):
                show(middle.log)
                print("FAIL: the C tor middle did not open its ORPort")
                return 1
            ed = ed_id(middle.dir)
            print(f"C tor middle {middle.fingerprint} ed25519 {ed} on port {middle.or_port}")

            # 1. A real C tor relay as the responder.
            rc, out, ours = run_tool(bin_dir, middle.or_port, middle.fingerprint, ed)
            opened = re.search(r"^open link (\d) peer rsa ([0-9A-F]{40})", out, re.M)
            checks.append(("tool opened the channel to C tor and found its identity",
                           rc == 0 and bool(opened) and opened.group(2) == middle.fingerprint))
            checks.append(("C tor answered CREATE_FAST", "answer CREATED_FAST" in out))
            # "... ID=<ed25519> RSA_ID=<rsa>; OR connection is now open, ... Its ID digest is <rsa>"
            authed = ours and wait_for(
                info_log, r"Got good NETINFO cell on [^;]* ID=" + re.escape(ours[1]) + " RSA_ID="
                + ours[0] + r"; OR connection is now open, using protocol version (\d)\. Its ID "
                r"digest is " + ours[0], 20)
            print(f"C tor's log: {authed.group(0) if authed else None}")
            checks.append(("C tor counts us as an authenticated relay with our RSA and ed25519 ids",
                           bool(authed)))

            # 2. A wrong identity is refused before we authenticate to it.
            rc2, out2, _ = run_tool(bin_dir, middle.or_port, "AB" * 20, ed, "--expect-fail")
            checks.append(("a wrong identity is refused",
                           rc2 == 0 and re.search(r"^refused .*identity", out2, re.M) is not None))

            # 3. onionsplit's own channeld as the responder.
            relay = tornet.Onionsplit(net, root, bin_dir, nickname="splitinit")
            relay.start()
            if not wait_for(relay.log, r"ORPort listening on", 60):
                show(relay.log)
                print("FAIL: onionsplit did not open its ORPort")
                return 1
            os_ed = ed_id(os.path.join(relay.dir, "data"))
            rc3, out3, _ = run_tool(bin_dir, relay.port, relay.fingerprint, os_ed)
            checks.append(("tool opened the channel to onionsplit",
                           rc3 == 0 and f"peer rsa {relay.fingerprint}" in out3))
            checks.append(("onionsplit answered CREATE_FAST", "answer CREATED_FAST" in out3))
            checks.append(("onionsplit counts us as a relay",
                           bool(wait_for(relay.log, r"channel \d+ open with 127\.0\.0\.1 \(link 5, "
                                                    r"relay\)", 20))))
            ok = all(v for _, v in checks)
            for name, v in checks:
                print(f"{'ok  ' if v else 'FAIL'} {name}")
            if not ok:
                show(info_log, 6000)
                show(relay.log)
            print("PASS" if ok else "FAIL")
            return 0 if ok else 1
    finally:
        tornet.finish(relay, root)


if __name__ == "__main__":
    sys.exit(main())
