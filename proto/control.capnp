# proto/control.capnp: the control interface every daemon serves.
#
# Implemented by: channeld, circuitd, streamd, confluxd (each daemon's bootstrap interface extends
# it). Called by: the launcher's status command, tests, and the other daemons (to learn who they
# talk to). Trust: the caller is another local process with access to the IPC directory; answers
# reveal counters and versions, never keys or addresses of clients.
#
# Ordering and lifetime: every method is stateless and may be called at any time after connecting,
# in any order, any number of times. A daemon that restarts answers afresh (counters start at 0,
# `startedAt` changes), which is how a caller detects a restart.
@0xeffd972aa97136f5;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("onionsplit::proto");

enum Health {
  starting @0;  # config read, peers not all connected yet
  ready @1;     # every peer this daemon needs is connected
  degraded @2;  # running, but a peer it needs is down (reconnecting)
}

struct Counter {
  name @0 :Text;    # Prometheus-style name, e.g. "ipc_batches_received_total"
  value @1 :UInt64;
}

interface Control {
  # Health and what it waits for (peer names, empty when ready).
  health @0 () -> (health :Health, waitingFor :List(Text));
  # Every counter the daemon keeps, in a stable order.
  counters @1 () -> (counters :List(Counter));
  # Who answers: the daemon's name, onionsplit's version, its pid, and when it started (Unix ms).
  version @2 () -> (daemon :Text, version :Text, pid :UInt32, startedAtMs :UInt64);
}
