#!/usr/bin/env python3
"""onionsplit follows the consensus (issue 17): the private network's authorities publish
cc_sendme_inc=33, onionsplit's channeld fetches and verifies the consensus and circuitd negotiates
33 in its ntor v3 replies, so a C tor client (which refuses a reply more than 1 away from the
consensus value) downloads through onionsplit as its exit. circwindow reaches circuitd, and
cfx_max_legs_set and cc_xoff_exit reach confluxd and streamd through circuitd, and
DoSCircuitCreationRate is in force in channeld (the torrc sets none). With refuseunknownexits
(default 1), a BEGIN on a one-hop circuit over a link authenticated with a fresh relay key gets END
MISC, over a client's link END TORPROTOCOL (tests/channeld/create_flood_tool.cc --begin). Then the
authorities change the values (cc_sendme_inc to 36) and the next consensus changes them in
onionsplit without a restart; the client downloads again. A channeld killed then starts with the
consensus it cached in DataDirectory; a confluxd killed gets its values from circuitd again.

Usage: test_consensus_params.py BIN_DIR   (BIG_MIB sets the download size, default 50)"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import targets  # noqa: E402
import tornet  # noqa: E402


def one_hop_begin(bin_dir, relay, target, as_relay):
    """BEGIN on a one-hop circuit to onionsplit (tests/channeld/create_flood_tool.cc --begin), over
    a link that authenticated with a fresh relay key (no consensus lists it) or as a client: the
    END reason onionsplit answers with, or what went wrong."""
    cmd = [os.path.join(bin_dir, "create_flood_tool"), "127.0.0.1", str(relay.port),
           relay.fingerprint, "--bind", "127.0.0.1", "--circuits", "1", "--begin", target,
           "--as-relay", "1" if as_relay else "0"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    facts = dict(line.partition(" ")[::2] for line in p.stdout.splitlines())
    return facts.get("begin_answer") or facts.get("error") or p.stderr.strip()[-200:]


def wait_counter(relay, name, want, timeout):
    """Polls `onionsplit status --counters` (bounded) until counter `name` equals `want`."""
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        value = relay.counters().get(name)
        if value == want:
            return value
        time.sleep(2)
    return value


PARAMS_BEFORE = ("cc_sendme_inc=33 circwindow=500 cfx_max_legs_set=4 cc_xoff_exit=300 "
                 "DoSCircuitCreationRate=7")
PARAMS_AFTER = ("cc_sendme_inc=36 circwindow=200 cfx_max_legs_set=5 cc_xoff_exit=250 "
                "DoSCircuitCreationRate=9")


def check_forwarded(relay, check, circwindow, legs, xoff):
    """circwindow in circuitd, and what circuitd forwarded: cfx_max_legs_set to confluxd,
    cc_xoff_exit to streamd."""
    got = (wait_counter(relay, "circuitd.consensus_circwindow", circwindow, 60),
           wait_counter(relay, "confluxd.consensus_cfx_max_legs_set", legs, 60),
           wait_counter(relay, "streamd.consensus_cc_xoff_exit", xoff, 60))
    check(got == (circwindow, legs, xoff),
          f"circwindow {circwindow} in circuitd, cfx_max_legs_set {legs} in confluxd, cc_xoff_exit "
          f"{xoff} in streamd (through circuitd): {got}")


def main():
    run = tornet.InteropRun("onionsplit-consensus-")
    bin_dir, big_mib, root, check, files = run.bin_dir, run.big_mib, run.root, run.check, run.files
    with run:
        big_sha = targets.make_file(os.path.join(files, "big.bin"), big_mib << 20)
        with targets.HttpServer(files) as http, \
                tornet.TorNet(os.path.join(root, "net"), authorities=3, middles=2, exits=0,
                              conflux=False, consensus_params=PARAMS_BEFORE) as net:
            net.setup()
            relay = run.relay = tornet.Onionsplit(net, root, bin_dir)
            net.exit_nodes = [relay.fingerprint]
            net.start()
            relay.start()
            net.wait_bootstrapped(timeout=120)
            net.wait_for_relay_in_consensus(relay.fingerprint, flags=("Exit", "Running", "Valid"),
                                            timeout=150)
            inc = wait_counter(relay, "circuitd.consensus_cc_sendme_inc", 33, 120)
            counters = relay.counters()
            check(inc == 33 and counters.get("channeld.consensus_accepted_total", 0) >= 1,
                  f"the consensus' cc_sendme_inc reached circuitd: {inc} (consensus accepted "
                  f"{counters.get('channeld.consensus_accepted_total')} times, refused "
                  f"{counters.get('channeld.consensus_refused_total')})")
            check_forwarded(relay, check, 500, 4, 300)
            rate = wait_counter(relay, "channeld.dos_circuit_creation_rate", 7, 60)
            check(rate == 7, f"the consensus' DoSCircuitCreationRate in force in channeld: {rate}")
            exit_flag = wait_counter(relay, "channeld.relay_flag_Exit", 1, 120)
            check(exit_flag == 1 and relay.counters().get("channeld.relay_flag_Running") == 1,
                  "channeld reads its own flags (Exit, Running) from the consensus")
            known = wait_counter(relay, "circuitd.consensus_known_relays", 6, 60)
            check(known == 6, f"circuitd knows the consensus' relays for refuseunknownexits "
                              f"(3 authorities, 2 middles, onionsplit): {known}")
            # refuseunknownexits=1 (the default): a BEGIN whose previous hop authenticated with a
            # relay key the consensus does not list gets END MISC, as C tor answers; one from a
            # client's link (a one-hop proxy) END TORPROTOCOL.
            before = relay.counters()
            target = f"127.0.0.1:{http.port}"
            as_relay = one_hop_begin(bin_dir, relay, target, True)
            as_client = one_hop_begin(bin_dir, relay, target, False)
            after = relay.counters()
            grew = {k: after.get(k, 0) - before.get(k, 0) for k in (
                "circuitd.streams_unknown_relay_refused_total",
                "circuitd.streams_single_hop_refused_total")}
            check(as_relay == "end 1" and as_client == "end 13" and all(grew.values()),
                  f"one-hop BEGIN from a fresh relay key: {as_relay}; from a client: {as_client} "
                  f"({grew})")
            pids = {d: relay.daemon_pid(d) for d in ("channeld", "circuitd", "streamd", "confluxd")}

            status, sha, n, secs = targets.http_get_until(net.client.socks_port, "127.0.0.1",
                                                          http.port, "/big.bin", within=120,
                                                          timeout=300)
            check(sha == big_sha and relay.counters().get("circuitd.circuits_created_ntor3_total",
                                                          0) >= 1,
                  f"{big_mib} MiB through onionsplit with cc_sendme_inc 33: {n} bytes in "
                  f"{secs:.1f} s, intact: {sha == big_sha}")

            net.set_consensus_params(PARAMS_AFTER)
            inc = wait_counter(relay, "circuitd.consensus_cc_sendme_inc", 36, 180)
            check(inc == 36, f"the authorities changed it to 36: circuitd now uses {inc}")
            check_forwarded(relay, check, 200, 5, 250)
            rate = wait_counter(relay, "channeld.dos_circuit_creation_rate", 9, 60)
            check(rate == 9, f"and its new DoSCircuitCreationRate: {rate}")
            after = {d: relay.daemon_pid(d) for d in pids}
            check(after == pids, f"without a restart: pids {pids} -> {after}")
            # The client's circuits made under 33 are closed after the change so the next stream
            # uses a circuit built with the new value (NEWNYM; C tor then builds fresh ones).
            net.control("SIGNAL NEWNYM")
            time.sleep(2)
            status, sha, n, secs = targets.http_get(net.client.socks_port, "127.0.0.1", http.port,
                                                    "/big.bin", timeout=300)
            check(sha == big_sha, f"{big_mib} MiB again with cc_sendme_inc 36: {n} bytes in "
                                  f"{secs:.1f} s, intact: {sha == big_sha}")
            log = relay.log_text()
            check("consensus: cc_alg 2, cc_sendme_inc 36, circwindow" in log,
                  "circuitd's log names the new value")

            # A channeld that starts again begins with the consensus it cached in DataDirectory
            # (C tor's file names), before its first fetch.
            data = os.path.join(relay.dir, "data")
            check(all(os.path.getsize(os.path.join(data, f)) > 0
                      for f in ("cached-consensus", "cached-certs")),
                  "cached-consensus and cached-certs are in DataDirectory")
            os.kill(pids["channeld"], signal.SIGKILL)
            cached = wait_counter(relay, "channeld.consensus_loaded_from_cache_total", 1, 60)
            check(cached == 1 and relay.daemon_pid("channeld") not in (None, pids["channeld"]),
                  f"the restarted channeld put the cached consensus in force at start "
                  f"(consensus_loaded_from_cache_total {cached})")

            # A confluxd that starts again gets the cfx_* values from circuitd when it attaches
            # (its default would be 8).
            os.kill(pids["confluxd"], signal.SIGKILL)
            deadline = time.time() + 60
            while time.time() < deadline and relay.daemon_pid("confluxd") in (None,
                                                                              pids["confluxd"]):
                time.sleep(1)
            legs = wait_counter(relay, "confluxd.consensus_cfx_max_legs_set", 5, 60)
            check(legs == 5 and relay.daemon_pid("confluxd") not in (None, pids["confluxd"]),
                  f"the restarted confluxd has cfx_max_legs_set from circuitd again: {legs}")
    return run.result()


if __name__ == "__main__":
    sys.exit(main())
