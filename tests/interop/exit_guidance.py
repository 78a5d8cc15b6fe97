"""tests/interop/exit_guidance.py: tests/data/exit-guidance/torrc made runnable here.

The file is an exit operator's torrc as written from the Tor Project's guidance. A test changes only
what it must: the ports (to free ones), DataDirectory, the paths under /etc/tor and /var/log/tor (to
this tree and the test's directory), and adds its own lines (DirAuthority lines, which every torrc a
test writes names, and whatever else its network needs) after the file's.
"""
import os
import re

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "exit-guidance")
TORRC = os.path.normpath(os.path.join(DATA, "torrc"))


def rewrite(out_dir, ports, extra=(), before_policy=()):
    """Writes out_dir/torrc from the guidance file and returns its path. `ports` maps ORPort,
    DirPort, MetricsPort and ControlPort to the port to use; `before_policy` are ExitPolicy values
    put ahead of the file's (they come first, as a test's own targets must); `extra` lines go last.
    """
    data = os.path.normpath(DATA)
    lines = []
    with open(TORRC) as f:
        for line in f.read().splitlines():
            key = line.split()[0] if line.split() else ""
            if key in ports:
                line = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{ports[key]}", line)
            elif key == "DataDirectory":
                line = f"DataDirectory {out_dir}/data"
            elif key == "ExitPolicy" and before_policy:
                lines += [f"ExitPolicy {p}" for p in before_policy]
                before_policy = ()
            line = line.replace("/etc/tor/torrc.d", f"{data}/torrc.d")
            line = line.replace("/etc/tor/", f"{data}/").replace("/var/log/tor/", f"{out_dir}/")
            lines.append(line)
    lines += list(extra)
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "torrc")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path
