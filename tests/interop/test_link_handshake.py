#!/usr/bin/env python3
"""tests/interop/test_link_handshake.py: a real C tor 0.4.9 client completes the link handshake with
onionsplit's ORPort.

The client is Debian's `tor` with onionsplit as its only bridge, pinned to onionsplit's fingerprint,
so it connects, checks onionsplit's CERTS (RSA and ed25519 identity, the TLS link certificate) and
NETINFO, and opens the channel, exactly as it would with a C tor bridge. Every process is started
here and stopped by its PID; every wait is bounded.

Usage: test_link_handshake.py BIN_DIR
"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tornet  # noqa: E402

TOR = "/usr/sbin/tor"


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


def main():
    bin_dir = os.path.abspath(sys.argv[1])
    root = tempfile.mkdtemp(prefix="onionsplit-link-")
    port = tornet.free_port()
    relay_dir = os.path.join(root, "relay")
    os.makedirs(relay_dir)
    relay_torrc = os.path.join(relay_dir, "torrc")
    with open(relay_torrc, "w") as f:
        f.write(f"DataDirectory {relay_dir}/data\nNickname splitlink\nAddress 127.0.0.1\n"
                f"ORPort 127.0.0.1:{port}\nLog info file {relay_dir}/onionsplit.log\n")
    fp = subprocess.run([f"{bin_dir}/onionsplit", "--list-fingerprint", "-f", relay_torrc],
                        check=True, capture_output=True, text=True, timeout=60).stdout.split()
    fingerprint = "".join(fp[1:])
    relay = client = None
    try:
        relay = subprocess.Popen([f"{bin_dir}/onionsplit", "-f", relay_torrc],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for(f"{relay_dir}/onionsplit.log", r"ORPort listening on", 30):
            print("FAIL: onionsplit did not open its ORPort")
            return 1
        client_dir = os.path.join(root, "client")
        os.makedirs(client_dir)
        client_log = os.path.join(client_dir, "tor.log")
        with open(os.path.join(client_dir, "torrc"), "w") as f:
            f.write(f"DataDirectory {client_dir}/data\nSocksPort 0\nUseBridges 1\n"
                    f"Bridge 127.0.0.1:{port} {fingerprint}\nLog info file {client_log}\n")
        client = subprocess.Popen([TOR, "-f", os.path.join(client_dir, "torrc")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        certs = wait_for(client_log, r"Got some good certificates.*Authenticated it with RSA and Ed25519", 60)
        opened = wait_for(client_log, r"OR connection is now open, using protocol version (\d+)\. "
                          r"Its ID digest is ([0-9A-F]{40})", 30)
        ours = wait_for(f"{relay_dir}/onionsplit.log", r"channel \d+ open with 127\.0\.0\.1 \(link (\d), client\)", 30)
        print(f"client checked onionsplit's certificates: {bool(certs)}")
        print(f"client opened the channel: {opened.group(0) if opened else None}")
        print(f"onionsplit opened the channel: {ours.group(0) if ours else None}")
        ok = bool(certs and opened and ours and opened.group(2) == fingerprint
                  and opened.group(1) == ours.group(1))
        print("PASS" if ok else "FAIL")
        if not ok:
            for path in (client_log, f"{relay_dir}/onionsplit.log"):
                print(f"--- {path}")
                if os.path.exists(path):
                    with open(path, errors="replace") as f:
                        print(f.read()[-4000:])
        return 0 if ok else 1
    finally:
        tornet.stop_process(client)
        tornet.stop_process(relay)
        subprocess.run(["rm", "-rf", root])


if __name__ == "__main__":
    sys.exit(main())
