# proto/circuit_conflux.capnp: the circuitd <-> confluxd boundary (conflux legs).
#
# Implemented by: confluxd serves ConfluxEntry (in its bootstrap, daemons.capnp); both sides
# implement LegSink. Called by: circuitd connects to confluxd's socket and calls attachCircuitd()
# once per connection.
# Its batches travel as data frames, not push() calls (types.capnp, "Transport of batches").
#
# The design doc's picture: circuitd's FWD of every leg sends CONFLUX_LINK to ConfluxMgr (`link`);
# the manager matches the nonce, creates or finds the set's ConfluxController and answers `linked`,
# after which that leg's FWD routes its multiplexed messages (stream messages, SWITCH, LINKED_ACK)
# to the controller (`relay`, circuitd -> confluxd), and the controller sends on the leg it chooses
# (`relay`, confluxd -> circuitd), which that leg's BWD encrypts and sends. circuitd reports each
# leg's congestion state with its credit (`state`), which is what the controller's leg choice reads.
#
# Trust: circuitd holds onion keys and faces channeld; confluxd holds none. Each side checks the
# other's ids (a leg must be one circuitd announced with `link` and confluxd accepted with `linked`),
# commands and lengths; a violation closes the connection.
#
# Flows (credit, types.capnp): one per leg, flow id = `leg`, from `link` until `closed` either way.
#
# Ordering: pushes and the events within them keep their order; `linked` for a leg precedes any
# `relay` to it. From the CONFLUX_LINK on, circuitd sends every multiplexed message of that circuit
# (and its LINKED_ACK and SWITCH cells) here as `relay`, never to streamd, so a BEGIN that overtakes
# the LINKED_ACK still reaches the set's controller after the LINK.
#
# Credit: `link`, `linked` and `relay` take the leg's flow credit; `closed` costs none (types.capnp)
# and neither does `state`, which replaces what it reports (the receiver keeps the latest only) and
# is sent when the leg's ability to send, its window or its RTT changed, not per cell.
#
# Lifetime and restart: if the connection breaks, circuitd closes every linked leg with DESTROY (the
# sets' sequence state is gone; DESIGN.md section 4) and keeps its single-path circuits; confluxd
# forgets every set. circuitd reconnects with backoff.
#
# Consensus parameters: circuitd calls setNetParams with the cfx_* entries of the last list
# channeld gave it, before each attachCircuitd (so a restarted confluxd, or a new connection, gets
# them again) and whenever channeld sends a newer list. Before the first call confluxd uses C
# tor's defaults.
@0xe27f6cc1aa0b6a4f;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("onionsplit::proto");

using Types = import "types.capnp";

interface ConfluxEntry {
  attachCircuitd @0 (toCircuitd :LegSink) -> (toConfluxd :LegSink);

  # The cfx_* consensus parameters, as channeld's setNetParams carried them (circuitd forwards, it
  # does not resolve). confluxd clamps each value to C tor's range itself (common/dirdoc/params.h),
  # ignores names it does not read (the client-side ones), and applies cfx_enabled and
  # cfx_max_legs_set to every LINK from then on and cfx_max_oooq_bytes to sets linked from then on
  # (under confluxd's own cap). At most 256 entries, names at most 64 bytes of [A-Za-z0-9_]; a call
  # past that is refused with an exception, confluxd keeps the values it had, and the connection
  # stays (circuitd logs it).
  setNetParams @1 (params :List(Types.NetParam)) -> ();
}

interface LegSink {
  # Returns once the receiver's reader has queued the batch; credit, not the return, bounds it.
  push @0 (batch :LegBatch) -> ();
}

struct LegBatch {
  events @0 :List(LegEvent);  # at most 1024 per batch
  credit @1 :Types.Credit;    # for what the receiver of this batch sends
}

struct LegEvent {
  leg @0 :UInt64;  # circuitd's circuit id of the leg, never reused while the connection lasts
  union {
    # circuitd -> confluxd: a CONFLUX_LINK arrived on this circuit, a last-hop circuit that has
    # carried no stream.
    link @1 :Link;
    # confluxd -> circuitd: send CONFLUX_LINKED with these fields on the leg and route its
    # multiplexed messages to confluxd from now on.
    linked @2 :Link;
    # Both ways: a multiplexed relay message received on the leg / to send on the leg.
    relay @3 :Types.RelayMsg;
    # circuitd -> confluxd: the leg's congestion state changed.
    state @4 :LegState;
    # Both ways: the leg's circuit closed (reason) / close it with DESTROY (reason).
    closed @5 :UInt8;
  }
}

struct Link {
  # circuitd -> confluxd: the CONFLUX_LINK body as the client sent it (confluxd parses it);
  # confluxd -> circuitd: the CONFLUX_LINKED body to send, which circuitd checks for length only.
  body @0 :Data;
  # circuitd -> confluxd: the circuit carried streams before its LINK (the manager refuses it).
  carriedStreams @1 :Bool;
  # circuitd -> confluxd: the leg runs Counter Galois Onion with the v1 relay cell format (a cell
  # holds a message of at most 488 bytes with a stream id, 490 without; 498 in tor1's v0). What
  # confluxd sends on a leg (`linked`, `relay`) fits one cell of the leg's format; circuitd treats a
  # longer one as a breach (the connection). confluxd sizes a set's stream side for v1 when a leg
  # of the set runs it as the stream side opens (circuit_stream.capnp, relayCellV1), and refuses a
  # CGO leg that links to a set whose stream side was opened for v0.
  relayCellV1 @2 :Bool;
}

struct LegState {
  canSend @0 :Bool;        # the congestion window has room
  cwndCells @1 :UInt32;
  inflightCells @2 :UInt32;
  rttMinUsec @3 :UInt32;   # 0 while unmeasured
  rttEwmaUsec @4 :UInt32;
  sendmeInc @5 :UInt8;     # cells per circuit SENDME (cc_sendme_inc of the leg's handshake)
}
