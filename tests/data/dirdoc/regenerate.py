#!/usr/bin/env python3
"""tests/data/dirdoc/regenerate.py: saves real directory documents from a private Tor network.

Starts tests/interop/tornet.py's network (3 authorities, 2 middles, no client) on ports 46000-46999
with non-default consensus parameters (one of them out of range, to test clamping), waits until a
middle relay has cached an unflavored consensus signed by every authority, and copies into this
folder: `cached-consensus`, `cached-certs` and `dirauthority-lines` (the torrc DirAuthority lines,
which carry each authority's v3ident). Every process is stopped by its PID.

Usage: python3 tests/data/dirdoc/regenerate.py   (takes about a minute)
"""
import os
import random
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "interop"))
import tornet  # noqa: E402

PARAMS = ("ConsensusParams cc_alg=2 cfx_enabled=1 cc_sendme_inc=33 circwindow=900 cfx_max_legs_set=6 "
          "DoSCircuitCreationRate=5 cc_cwnd_init=10 cc_cwnd_full_minpct=150 refuseunknownexits=0")
_given = set()


def free_port_46k():
    for _ in range(1000):
        port = random.randrange(46000, 47000)
        if port in _given:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError("no free port in 46000-46999")


def main():
    tornet.free_port = free_port_46k
    common = tornet.TorNet._common_torrc
    tornet.TorNet._common_torrc = lambda self, n: [
        PARAMS if l.startswith("ConsensusParams") else l for l in common(self, n)]
    root = tempfile.mkdtemp(prefix="dirdoc-")
    with tornet.TorNet(root, authorities=3, middles=2, exits=0, client=False) as net:
        net.setup()
        net.start()
        middle = next(n for n in net.nodes if n.role == "middle")
        path = os.path.join(middle.dir, "cached-consensus")
        deadline = time.time() + 180
        while time.time() < deadline:
            net._check_alive()
            if os.path.exists(path):
                with open(path) as f:
                    text = f.read()
                if text.count("directory-signature ") >= 3 and "cc_sendme_inc=33" in text:
                    break
            time.sleep(2)
        else:
            raise TimeoutError("no consensus signed by 3 authorities")
        time.sleep(2)  # let the certificates be written too
        shutil.copy(path, os.path.join(HERE, "cached-consensus"))
        shutil.copy(os.path.join(middle.dir, "cached-certs"), os.path.join(HERE, "cached-certs"))
        with open(os.path.join(HERE, "dirauthority-lines"), "w") as f:
            f.write("\n".join(net.dir_authority_lines()) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    print("saved to", HERE)


if __name__ == "__main__":
    main()
