# proto/circuit_stream.capnp: the circuitd <-> streamd boundary (relay messages of exit streams).
#
# Implemented by: streamd serves StreamEntry (in its bootstrap, daemons.capnp); both sides implement
# StreamSink. Called by: circuitd connects to streamd's socket and calls attachCircuitd() once per
# connection. conflux_stream.capnp reuses StreamSink for the confluxd <-> streamd boundary.
# Its batches travel as data frames, not push() calls (types.capnp, "Transport of batches").
#
# Trust: streamd talks to arbitrary Internet hosts and parses DNS answers, so circuitd treats what it
# sends as hostile: ids must name circuits circuitd gave it, commands must be ones an exit sends, and
# bodies must fit one relay cell of the circuit's format (relayCellV1). streamd treats circuitd's messages as client input (they are).
#
# Flows (credit, types.capnp): one per circuit, flow id = `circuit`. The stream side of a circuit
# is created lazily: the flow starts with circuitd's first message for it (the first BEGIN, RESOLVE or
# BEGIN_DIR) and ends with `closed` either way. streamd's credit toward a circuit is what makes it
# read that circuit's sockets: it reads a stream only while the circuit may take another message, and
# circuitd grants credit only when BWD has encrypted and handed the cell on (its own congestion
# window and channeld's credit both allowed it), so a slow client slows the exit's reads.
#
# Ordering: pushes and the events within them keep their order, so a stream's messages arrive in
# order and `closed` follows every message of its circuit.
#
# Lifetime and restart: if the connection breaks, circuitd sends END (reason MISC) to the client for
# every open stream and forgets that circuits had a stream side; streamd closes every socket it
# opened for circuitd. circuitd reconnects with backoff; new BEGINs work once it is back.
#
# Consensus parameters: circuitd calls setNetParams with the ones streamd reads (cc_xoff_*,
# cc_xon_*, DoSStreamCreation*) of the last list channeld gave it, before each attachCircuitd (so a
# restarted streamd, or a new connection, gets them again) and whenever channeld sends a newer
# list. Before the first call streamd uses C tor's defaults.
@0xe2c3e4448dbaab99;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("onionsplit::proto");

using Types = import "types.capnp";

interface StreamEntry {
  attachCircuitd @0 (toCircuitd :StreamSink) -> (toStreamd :StreamSink);

  # The consensus parameters streamd reads, as channeld's setNetParams carried them (circuitd
  # forwards, it does not resolve). streamd clamps each value to C tor's range itself
  # (common/dirdoc/params.h), ignores names it does not read, and applies them to streams and
  # circuits opened from then on; the DoSStreamCreation* ones count only where the torrc does not
  # set the option (dos-spec: the torrc wins). At most 256 entries, names at most 64 bytes of
  # [A-Za-z0-9_]; a call past that is refused with an exception, streamd keeps the values it had,
  # and the connection stays (circuitd logs it).
  setNetParams @1 (params :List(Types.NetParam)) -> ();
}

interface StreamSink {
  # Returns once the receiver's reader has queued the batch; credit, not the return, bounds it.
  push @0 (batch :StreamBatch) -> ();
}

struct StreamBatch {
  events @0 :List(StreamEvent);  # at most 1024 per batch
  credit @1 :Types.Credit;       # for what the receiver of this batch sends
}

struct StreamEvent {
  # The flow: circuitd's circuit id on this boundary, confluxd's set id on conflux_stream.capnp.
  # Never reused while the connection lasts.
  flow @0 :UInt64;
  union {
    # Both ways. To streamd: BEGIN, BEGIN_DIR, DATA, END, RESOLVE, SENDME (stream-level), XON,
    # XOFF. From streamd: CONNECTED, DATA, END, RESOLVED, SENDME (stream-level), XON, XOFF.
    relay @1 :Types.RelayMsg;
    # Both ways: the flow is over. From circuitd/confluxd: the circuit or set closed (streamd closes
    # its streams silently). From streamd: it dropped the flow (reason is an END reason sent to the
    # client for every stream still open).
    closed @2 :UInt8;
  }
  # From circuitd (on every event of the flow; streamd reads it from the opener): the circuit
  # negotiated congestion control, so its streams use XON/XOFF (proposal 324 section 4) and no
  # stream-level SENDMEs; without it streams use the classic 500/50 stream windows.
  congestionControl @3 :Bool;
  # From circuitd/confluxd (read from the opener, as congestionControl): the circuit runs Counter
  # Galois Onion with the v1 relay cell format, whose cell holds a message of at most 488 bytes
  # with a stream id (498 in v0). Every message streamd sends for the flow (DATA, and RESOLVED,
  # which leaves out the answers that do not fit) fits one cell of the flow's format: circuitd
  # treats a longer one as a breach of this contract (the connection). confluxd sets it for a set
  # with a CGO leg when the set's stream side opens (circuit_conflux.capnp, Link.relayCellV1): its
  # sequence numbers count cells, so a message must fit one cell of any leg.
  relayCellV1 @4 :Bool;
}
