# proto/channel_circuit.capnp: the channeld <-> circuitd boundary (link cells of every circuit).
#
# Implemented by: circuitd serves CircuitEntry (in its bootstrap, daemons.capnp); both sides
# implement CellSink. Called by: channeld connects to circuitd's socket and calls attach() once per
# connection, passing the sink circuitd will push to and receiving the sink it will push to.
# channeld also calls setNetParams and setKnownRelays, with what the consensus in force says,
# before each attach() (so a restarted circuitd, or a new connection, gets them again) and
# whenever a newer consensus arrives; a refused call changes nothing and keeps the connection.
# Its batches travel as data frames, not push() calls (types.capnp, "Transport of batches").
#
# Trust: neither side trusts the other. channeld parses bytes from every Tor peer, so circuitd (which
# holds the onion keys) treats every cell as hostile input from the network; channeld treats
# circuitd's cells as bounded output that must still name a channel and circuit it knows.
#
# Flows (credit, types.capnp): one per circuit, flow id = (channel << 32) | circId. A flow exists from
# the first cell either side sends for it (or, for a next hop we opened, from the `extended` event
# that names it) until a DESTROY cell (either way) or the channel's `closed`. A CREATE cell for a
# flow the receiver does not know opens it, within the per-connection limit.
#
# Ordering: one sink's pushes are processed in the order sent (E-order), and the events of a batch in
# list order, so the cells of one circuit and the open/close of a channel keep their order.
#
# Lifetime and restart: the sinks live as long as the connection. If it breaks (either daemon died or
# restarted) each side drops everything bound to it: channeld sends DESTROY for every circuit it had
# on every channel (the clients' circuits are gone; DESIGN.md section 4), circuitd forgets those
# circuits. channeld reconnects with backoff, calls attach() again, and announces each open channel
# with `opened` before any of its cells.
@0x80589ad6b348682b;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("onionsplit::proto");

using Types = import "types.capnp";

interface CircuitEntry {
  attach @0 (toChanneld :CellSink) -> (toCircuitd :CellSink);

  # The `params` line of the consensus channeld verified last (dir-spec 3.4.1), sent after each
  # attach once channeld has one and again with every newer consensus. circuitd resolves it with C
  # tor's defaults, minimums and maximums itself (it does not trust channeld to have clamped) and
  # uses the values for circuits created from then on. It forwards the entries streamd and
  # confluxd read to them (circuit_stream.capnp, circuit_conflux.capnp). At most 256 entries, names at most 64 bytes
  # of [A-Za-z0-9_] (common/dirdoc/params.h); circuitd refuses a call past that with an exception
  # and keeps the values it had (channeld logs it; the connection stays).
  setNetParams @1 (params :List(Types.NetParam)) -> ();

  # The RSA identities of the relays in that consensus, 20 bytes each back to back (at most 40,000:
  # circuitd/core/known_relays.h), sent when setNetParams is. circuitd refuses a BEGIN whose
  # previous hop authenticated with an identity not in it while `refuseunknownexits` is 1, as C tor
  # does. A length that is not a multiple of 20, or more relays, is refused with an exception and
  # the list it had stays.
  setKnownRelays @2 (relays :Data) -> ();
}

interface CellSink {
  # Returns once the receiver's reader has moved the batch into its per-circuit queues (connection
  # credit comes back with the next batch the other way). A sender keeps several pushes in flight;
  # credit, not the return, is the back-pressure.
  push @0 (batch :CellBatch) -> ();
}

struct CellBatch {
  events @0 :List(ChannelEvent);  # at most 1024 per batch
  credit @1 :Types.Credit;        # for what the receiver of this batch sends
}

struct ChannelEvent {
  channel @0 :UInt32;  # channeld's id for a channel, never reused while the connection lasts
  union {
    opened @1 :ChannelOpened;  # channeld -> circuitd only, once, before the channel's first cell
    cell @2 :Cell;             # both ways; one message of flow (channel, circId)
    closed @3 :Void;           # channeld -> circuitd only: the channel is gone with its circuits
    extend @4 :ExtendRequest;  # circuitd -> channeld only: flow-less; `channel` is the origin's
    extended @5 :ExtendResult; # channeld -> circuitd only: flow-less; answers one `extend`
  }
}

# A middle relay's EXTEND2 (tor-spec 5.1.2), already checked by circuitd: channeld finds or opens a
# channel to the next hop (a canonical one is reused), picks a circuit id on it with the top bit
# set (we initiated that link), sends CREATE2 (htype, hdata) there and answers with
# `extended`. At most one extend is outstanding per origin circuit, so these flow-less events are
# bounded by the flows that carry credit.
struct ExtendRequest {
  originCircId @0 :UInt32;   # the client's circuit (flow (channel << 32) | originCircId)
  ipv4 @1 :Data;             # 4 bytes or empty
  ipv4Port @2 :UInt16;
  ipv6 @3 :Data;             # 16 bytes or empty
  ipv6Port @4 :UInt16;
  rsaId @5 :Data;            # 20 bytes (always set)
  ed25519Id @6 :Data;        # 32 bytes or empty
  htype @7 :UInt16;          # the CREATE2 to send: handshake type
  hdata @8 :Data;            # and handshake data (at most 498 bytes: it came in a relay message)
}

# The outcome of an `extend`. On success channeld has opened the flow (nextChannel << 32) |
# nextCircId on this connection (both sides treat it as opened by this event) and sent the CREATE2;
# the CREATED2 or DESTROY comes back as a cell of that flow. On failure `reason` is the DESTROY
# reason for the client's circuit.
struct ExtendResult {
  originCircId @0 :UInt32;
  nextChannel @1 :UInt32;    # 0 on failure
  nextCircId @2 :UInt32;     # 0 on failure
  reason @3 :UInt8;          # tor-spec DESTROY reason when nextChannel is 0
}

struct ChannelOpened {
  linkProtocol @0 :UInt16;  # negotiated link protocol version (4 or 5)
  peerRsaId @1 :Data;       # 20-byte RSA identity digest if the peer authenticated (a relay); else empty
  peerEd25519Id @2 :Data;   # 32-byte ed25519 identity if the peer authenticated; else empty
}

struct Cell {
  circId @0 :UInt32;   # nonzero; 4-byte circuit ids (link protocol 4+)
  command @1 :UInt8;   # CREATE2, CREATE_FAST, RELAY, RELAY_EARLY, DESTROY (to circuitd, plus
                       # CREATED2 on a flow an `extended` opened); CREATED2, CREATED_FAST, RELAY,
                       # DESTROY (to channeld, plus RELAY_EARLY on a flow toward a next hop);
                       # anything else is a violation
  payload @2 :Data;    # exactly 509 bytes
}
