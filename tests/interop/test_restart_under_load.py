#!/usr/bin/env python3
"""interop_restart_under_load: the three kills of tests/systemd/restart_under_load.py (streamd,
confluxd, circuitd, each kill -9 while a C tor client downloads) with onionsplit's own launcher
restarting the daemon instead of systemd.

    test_restart_under_load.py BIN_DIR

Works in a temporary directory (KEEP=1 keeps it); prints the script's checks and its PASS/FAIL."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    bin_dir = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="os-restart-load-")
    try:
        return subprocess.run([sys.executable, os.path.join(HERE, "..", "systemd",
                                                            "restart_under_load.py"),
                               "--launcher", bin_dir, work], timeout=540).returncode
    finally:
        if os.environ.get("KEEP") is None:
            subprocess.run(["rm", "-rf", work])
        else:
            print(f"kept {work}")


if __name__ == "__main__":
    sys.exit(main())
