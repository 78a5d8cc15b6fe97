# proto/types.capnp: types every boundary shares: credit grants, relay messages and the consensus
# parameters (setNetParams on channel_circuit, circuit_stream and circuit_conflux).
#
# Credit (common/flowctl/credit.h) has two levels: per flow (a circuit, a stream, or a conflux set,
# named by the boundary's flow id) in messages, and per connection in bytes. Grants for what the
# *other* side sends travel inside the batches this side sends, so credit costs no extra call. A
# grant may never open a window beyond its size: a peer that over-grants, or that sends beyond a
# window, has violated the contract and loses its connection. A flow's closing event (DESTROY,
# `closed`) costs no credit and is never granted back: each side sends at most one per flow, so a
# side can always end a flow, even one whose window the peer holds (common/ipc/batch_pipe.h).
#
# Transport of batches: in the daemons no batch travels as a push() call. Once a boundary's attach
# call has returned, each side sends every batch as a data frame on the same socket
# (common/ipc/frame_stream.h; docs/ARCHITECTURE.md "Data plane"), with the same checks and credit. The
# sinks an attach call exchanges still name the contract; they carry push() calls only in tests and
# fuzzers (BatchPipe::setPeer).
@0x9dbed0a07aec3310;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("onionsplit::proto");

struct FlowGrant {
  flow @0 :UInt64;      # the boundary's flow id (see each boundary's file)
  messages @1 :UInt32;  # messages the receiver's edge has taken since the last grant
}

struct Credit {
  connectionBytes @0 :UInt32;  # bytes of message bodies the receiver's reader has taken
  flows @1 :List(FlowGrant);
}

# A relay message as the stream side sees it: already decrypted and recognized (inbound to streamd)
# or not yet encrypted (outbound from streamd). Bodies are at most 498 bytes (a relay cell's
# payload); a longer body is a violation.
struct RelayMsg {
  streamId @0 :UInt16;  # 0 for circuit-level messages
  command @1 :UInt8;    # tor-spec relay command
  body @2 :Data;
}

# One entry of a consensus' `params` line (dir-spec 3.4.1), as a setNetParams call carries it.
# Names are 1..64 bytes of [A-Za-z0-9_] (common/dirdoc/params.h); the receiver clamps the value.
struct NetParam {
  name @0 :Text;
  value @1 :Int32;
}
