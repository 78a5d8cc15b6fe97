# proto/control.capnp: the control interface every daemon serves.
#
# Implemented by: channeld, circuitd, streamd, confluxd (each daemon's bootstrap interface extends
# it). Called by: the launcher's status command, the MetricsPort and ControlPort (the launcher's,
# or `onionsplit metrics` and `onionsplit control` under systemd), tests, and the other daemons (to
# learn who they talk to). Trust: the caller is another local process with access to the IPC
# directory; answers reveal counters, versions, the relay's public identity, the relays its
# channels lead to and its published descriptor, never keys or addresses of clients. `reload` is the one method that acts: it does what SIGHUP does, which any
# caller that can reach the socket may ask for (it opens no file the daemon did not read before).
#
# Ordering and lifetime: every method but `setHibernating` (see there) is stateless and may be
# called at any time after connecting, in any order, any number of times (`reload` too: reloads
# queued together run one after the other). A daemon that restarts answers afresh (counters start
# at 0, `startedAt` changes), which is how a caller detects a restart.
@0xeffd972aa97136f5;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("onionsplit::proto");

enum Health {
  starting @0;  # config read, peers not all connected yet
  ready @1;     # every peer this daemon needs is connected
  degraded @2;  # running, but a peer it needs is down (reconnecting)
}

# One of channeld's OR connections, as GETINFO orconn-status lists them (no client address: a
# channel whose peer did not authenticate as a relay carries no identity, and none is given).
struct OrChannel {
  fingerprint @0 :Text;  # the peer relay's RSA identity (40 upper-case hex), "" for a client
  open @1 :Bool;         # the link handshake is done (C tor's CONNECTED)
  launched @2 :Bool;     # not open yet, and channeld dials it (C tor's LAUNCHED; else NEW)
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
  # Reads the configuration again as on SIGHUP (common/daemon/runtime.h), from the loop after this
  # call has answered: the answer says it is queued, not that the new configuration passed (the
  # daemon's log says that). Under systemd this is how `onionsplit control`'s SIGNAL RELOAD
  # reaches each daemon; the launcher keeps sending SIGHUP.
  reload @3 () -> ();
  # The relay's public identity, as far as this daemon holds it: the RSA identity's fingerprint
  # (40 upper-case hex digits), "" for a daemon that does not know it (only channeld does).
  identity @4 () -> (fingerprint :Text);
  # AccountingMax (issue 16): whether the relay hibernates, soft or hard. Called by channeld, which
  # alone decides (channeld/net/hibernation.h), on streamd only, over the one connection it keeps to
  # IPCDirectory/streamd.sock (channeld/net/streamd_bytes.h): after every (re)connect and on every
  # change of state. While true, streamd answers every new BEGIN with END HIBERNATING, as C tor's
  # exit does (streams already open carry on; RESOLVE is answered as before, as in C tor); false
  # lets them in again. The state lasts while the connection that set it does: when it closes, and
  # when streamd restarts, streamd is awake until told again, which is why channeld tells it on
  # every new connection. Any value is valid; the other daemons answer UNIMPLEMENTED.
  setHibernating @5 (hibernating :Bool) -> ();
  # The relay's OR connections (channeld; the others answer an empty list): every channel, open or
  # still in its link handshake, at most 65536 of them. For the ControlPort's orconn-status.
  channels @6 () -> (channels :List(OrChannel));
  # The server descriptor channeld last published (a public, signed document), "" before the
  # first upload or from a daemon that does not publish (only channeld does). For the
  # ControlPort's desc/id/<own fingerprint>.
  descriptor @7 () -> (descriptor :Text);
}
