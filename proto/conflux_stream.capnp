# proto/conflux_stream.capnp: the confluxd <-> streamd boundary (the stream side of conflux sets).
#
# Implemented by: streamd serves ConfluxStreamEntry (in its bootstrap, daemons.capnp); both sides
# implement circuit_stream.capnp's StreamSink. Called by: confluxd connects to streamd's socket and
# calls attachConfluxd() once per connection.
# Its batches travel as data frames, not push() calls (types.capnp, "Transport of batches").
#
# A linked conflux set has one stream side, whatever its legs: its ConfluxController is the only
# writer to it (DESIGN.md section 2). Flow id = confluxd's set id. Messages from confluxd are already
# in sequence order (the controller reordered them); messages from streamd are sequenced by the
# controller and sent on the leg it chooses, so streamd knows nothing of legs.
#
# Trust: as circuit_stream.capnp: each side checks ids, commands and lengths of the other.
#
# Lifetime and restart: if the connection breaks, confluxd closes every set (DESTROY on every leg;
# DESIGN.md section 4) and streamd closes every socket it opened for confluxd. confluxd reconnects
# with backoff; new sets can link once it is back.
@0xd84ee3b5cfb26868;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("onionsplit::proto");

using CircuitStream = import "circuit_stream.capnp";

interface ConfluxStreamEntry {
  attachConfluxd @0 (toConfluxd :CircuitStream.StreamSink) -> (toStreamd :CircuitStream.StreamSink);
}
