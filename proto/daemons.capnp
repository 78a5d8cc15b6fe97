# proto/daemons.capnp: the bootstrap interface each daemon serves on its Unix socket
# (IPCDirectory/<daemon>.sock). Every one extends Control; the rest is the boundary entries the
# daemon serves, each defined (with its trust, ordering and restart contract) in its own file.
#
#   channeld.sock  Control only (channeld connects out to circuitd)
#   circuitd.sock  Control + CircuitEntry        (called by channeld)
#   streamd.sock   Control + StreamEntry         (called by circuitd)
#                          + ConfluxStreamEntry  (called by confluxd)
#   confluxd.sock  Control + ConfluxEntry        (called by circuitd)
@0x945fdeb9072238b4;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("onionsplit::proto");

using Control = import "control.capnp";
using ChannelCircuit = import "channel_circuit.capnp";
using CircuitStream = import "circuit_stream.capnp";
using ConfluxStream = import "conflux_stream.capnp";
using CircuitConflux = import "circuit_conflux.capnp";

interface Channeld extends(Control.Control) {}
interface Circuitd extends(Control.Control, ChannelCircuit.CircuitEntry) {}
interface Streamd extends(Control.Control, CircuitStream.StreamEntry, ConfluxStream.ConfluxStreamEntry) {}
interface Confluxd extends(Control.Control, CircuitConflux.ConfluxEntry) {}
