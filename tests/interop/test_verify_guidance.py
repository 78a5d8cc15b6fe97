#!/usr/bin/env python3
"""tests/interop/test_verify_guidance.py: --verify-config of C tor and onionsplit on the same files
(no network: each torrc names one DirAuthority on 127.0.0.1 and nothing is started).

  1. tests/data/exit-guidance/torrc (an exit's torrc in the Tor Project's guidance style, paths moved
     here by exit_guidance.rewrite): Debian's `tor --verify-config` and onionsplit's both accept it.
  2. tests/data/torrc-bad/*.torrc, each with several errors: onionsplit refuses each file and prints
     every error with its file and line, exactly the lines expected.txt records; C tor refuses the
     same file too (it stops at its first error, recorded in expected.txt for comparison).

Usage: test_verify_guidance.py BIN_DIR
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import exit_guidance  # noqa: E402

TOR = shutil.which("tor") or "/usr/sbin/tor"
BAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "torrc-bad")
AUTHORITY = ("DirAuthority test orport=5000 no-v2 v3ident=E2A2AF570166665D738736D0DD58169CC61D8A8B "
             "127.0.0.1:7000 FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF")
failures = []
passed = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    (passed if ok else failures).append(what)
    if not ok:
        failures.append(what)


def verify(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def expected_table():
    """{file: {"ctor": [...], "onionsplit": [...]}} from expected.txt."""
    table, current = {}, None
    with open(os.path.join(BAD, "expected.txt")) as f:
        for line in f.read().splitlines():
            m = re.match(r"^\[(.+)\]$", line)
            if m:
                current = table.setdefault(m.group(1), {"ctor": [], "onionsplit": []})
            elif current is not None and re.match(r"^(ctor|onionsplit): ", line):
                who, text = line.split(": ", 1)
                current[who].append(text)
    return table


def guidance(bin_dir, tmp):
    ports = {"ORPort": 39001, "DirPort": 39030, "MetricsPort": 39035, "ControlPort": 39051}
    torrc = exit_guidance.rewrite(tmp, ports, extra=[AUTHORITY])
    os.makedirs(os.path.join(tmp, "data"), mode=0o700)
    rc, out = verify([TOR, "--verify-config", "-f", torrc])
    check(rc == 0 and "Configuration was valid" in out, f"C tor accepts the guidance torrc (rc {rc})")
    if rc != 0:
        print(out)
    rc, out = verify([f"{bin_dir}/onionsplit", "--verify-config", "-f", torrc])
    check(rc == 0 and "Configuration was valid" in out,
          f"onionsplit accepts the guidance torrc (rc {rc})")
    print(out)


def bad_files(bin_dir, tmp):
    for name, want in sorted(expected_table().items()):
        d = os.path.join(tmp, name.replace(".torrc", ""))
        os.makedirs(os.path.join(d, "data"), mode=0o700)
        torrc = os.path.join(d, "torrc")
        with open(os.path.join(BAD, name)) as f, open(torrc, "w") as out:
            out.write(f.read() + f"DataDirectory {d}/data\n{AUTHORITY}\n")
        rc, out = verify([f"{bin_dir}/onionsplit", "--verify-config", "-f", torrc])
        got = [line.split(f"{torrc}:", 1)[1] for line in out.splitlines() if f"{torrc}:" in line
               and "warning" not in line.split(f"{torrc}:", 1)[0]]
        check(rc == 1, f"{name}: onionsplit refuses it (rc {rc})")
        check(got == want["onionsplit"],
              f"{name}: onionsplit names every error with its line: {got}")
        rc, out = verify([TOR, "--verify-config", "-f", torrc])
        ctor = [re.sub(r"^\w{3} \d\d \d\d:\d\d:\d\d\.\d+ ", "", line) for line in out.splitlines()
                if "[warn]" in line or "[err]" in line]
        ctor = [c for c in ctor if "DirAuthority or AlternateDirAuthority" not in c
                and "running Tor as root" not in c]
        check(rc != 0, f"{name}: C tor refuses it too (rc {rc})")
        print(f"     C tor says: {ctor}\n     recorded:   {want['ctor']}")


def main():
    bin_dir = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="onionsplit-guidance-")
    try:
        guidance(bin_dir, os.path.join(tmp, "guidance"))
        bad_files(bin_dir, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"verify_guidance: {len(passed)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
