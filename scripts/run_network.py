#!/usr/bin/env python3
"""scripts/run_network.py: a private Tor network of Debian `tor` on 127.0.0.1 with onionsplit as its
exit, for people (scripts/run.sh calls it). `up DIR` starts everything, fetches a file through
onionsplit with the C tor client and leaves the network running; `down DIR` stops every process it
started, by the PIDs recorded in DIR/pids.json, and removes DIR.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "interop"))
import targets  # noqa: E402
import tornet  # noqa: E402


def up(args):
    if os.path.exists(os.path.join(args.dir, "pids.json")):
        sys.exit(f"{args.dir} holds a network already; stop it first: scripts/run.sh stop")
    subprocess.run(["rm", "-rf", args.dir], check=True)  # a network's files are its own
    os.makedirs(args.dir)
    files = os.path.join(args.dir, "www")
    os.makedirs(files, exist_ok=True)
    sha = targets.make_file(os.path.join(files, "file.bin"), args.mib << 20)
    http_port = tornet.free_port()
    http = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                             "--directory", files, str(http_port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    net = tornet.TorNet(os.path.join(args.dir, "tor"), authorities=3, middles=2, exits=0,
                        conflux=False)
    net.setup()
    relay = tornet.Onionsplit(net, args.dir, os.path.abspath(args.bin))
    net.exit_nodes = [relay.fingerprint]
    t0 = time.time()
    net.start()
    relay.start()
    pids = {n.name: n.proc.pid for n in net.nodes}
    pids.update({"onionsplit": relay.proc.pid, "http": http.pid})
    with open(os.path.join(args.dir, "pids.json"), "w") as f:
        json.dump(pids, f)
    try:
        print("waiting for the client to bootstrap and for onionsplit to be in the consensus ...",
              flush=True)
        net.wait_bootstrapped(timeout=120)
        s_line = net.wait_for_relay_in_consensus(relay.fingerprint,
                                                 flags=("Exit", "Running", "Valid"), timeout=150)
        print(f"onionsplit {relay.fingerprint} is in the consensus: {s_line} "
              f"({time.time() - t0:.0f} s)", flush=True)
        status, got, n, secs = targets.http_get_until(net.client.socks_port, "127.0.0.1",
                                                      http_port, "/file.bin")
    except BaseException:
        down(args)
        raise
    ok = got == sha and n == args.mib << 20
    print(f"fetched http://127.0.0.1:{http_port}/file.bin through onionsplit: {status}, "
          f"{n} bytes in {secs:.1f} s ({n / secs / (1 << 20):.1f} MiB/s)")
    print(f"sha256 {'matches' if ok else 'DOES NOT MATCH'}: {got}")
    print(f"""
The network keeps running. Use it:
  curl --socks5-hostname 127.0.0.1:{net.client.socks_port} http://127.0.0.1:{http_port}/file.bin -o /dev/null
  (every stream leaves through onionsplit: the client has ExitNodes ${relay.fingerprint})
  onionsplit's daemons:   build/release/bin/onionsplit status --counters -f {relay.torrc}
  onionsplit's log:       {relay.log}
  the client's control port: 127.0.0.1:{net.client.control_port} (no authentication)
Stop it:  scripts/run.sh stop      (NET_DIR={args.dir})""")
    return 0 if ok else 1


def down(args):
    path = os.path.join(args.dir, "pids.json")
    try:
        with open(path) as f:
            pids = json.load(f)
    except OSError:
        print(f"no network recorded in {args.dir}")
        return 0
    for name, pid in pids.items():
        try:
            os.kill(pid, signal.SIGTERM)
            print(f"stopped {name} ({pid})")
        except ProcessLookupError:
            pass
    deadline = time.time() + 15
    for pid in pids.values():
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    os.remove(path)
    subprocess.run(["rm", "-rf", args.dir], check=False)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up")
    u.add_argument("dir")
    u.add_argument("--bin", default=os.path.join(ROOT, "build", "release", "bin"))
    u.add_argument("--mib", type=int, default=20)
    d = sub.add_parser("down")
    d.add_argument("dir")
    args = ap.parse_args()
    return up(args) if args.cmd == "up" else down(args)


if __name__ == "__main__":
    sys.exit(main())
