// common/ipc/relay_commands.h: which daemon may send which relay command to which, on the
// boundaries that carry relay messages (proto/circuit_stream.capnp, circuit_conflux.capnp,
// conflux_stream.capnp). One table for the whole relay: the sender filters network input with it
// before the boundary (what the client sent that the table does not allow is the client's fault and
// costs at most its circuit), and the receiver checks the peer with it (what the table does not
// allow is a breach of the contract). Header only and I/O-free, so pure cores use it too.
//
// Link cells between channeld and circuitd (proto/channel_circuit.capnp) have their own table
// below, by cell command.
#pragma once

#include <cstdint>

#include "common/cell/constants.h"

namespace onionsplit::ipc {

// The ends of the relay-message boundaries.
enum class Side : uint8_t { kCircuitd, kStreamd, kConfluxd };

// Whether `from` may send relay command `cmd` to `to` on a stream (streamId != 0) or on the circuit
// or set itself (streamId == 0). CONFLUX_LINK and CONFLUX_LINKED travel as their own events
// (`link`, `linked`), never as relay messages.
constexpr bool maySend(Side from, Side to, uint8_t cmd, bool onStream) {
  using cell::RelayCmd;
  auto c = static_cast<RelayCmd>(cmd);
  // What an exit's stream side sends toward the client, always on a stream.
  auto towardClient = [](RelayCmd r) {
    return r == RelayCmd::kConnected || r == RelayCmd::kData || r == RelayCmd::kEnd ||
           r == RelayCmd::kResolved || r == RelayCmd::kXoff || r == RelayCmd::kXon;
  };
  // What a client's stream messages are, at the exit, always on a stream.
  auto fromClient = [](RelayCmd r) {
    return r == RelayCmd::kBegin || r == RelayCmd::kData || r == RelayCmd::kEnd ||
           r == RelayCmd::kResolve || r == RelayCmd::kXoff || r == RelayCmd::kXon;
  };
  if (from == Side::kCircuitd && to == Side::kStreamd)  // a circuit's stream side
    return onStream && (fromClient(c) || c == RelayCmd::kBeginDir || c == RelayCmd::kSendme);
  if (from == Side::kStreamd && to == Side::kCircuitd)  // stream SENDMEs without CC
    return onStream && (towardClient(c) || c == RelayCmd::kSendme);
  if (from == Side::kConfluxd && to == Side::kStreamd)  // a set's stream side (CC: no SENDMEs)
    return onStream && fromClient(c);
  if (from == Side::kStreamd && to == Side::kConfluxd) return onStream && towardClient(c);
  if (from == Side::kCircuitd && to == Side::kConfluxd) {  // a leg's FWD
    if (!onStream) return c == RelayCmd::kConfluxLinkedAck || c == RelayCmd::kConfluxSwitch;
    return fromClient(c) || c == RelayCmd::kBeginDir || c == RelayCmd::kSendme;
  }
  if (from == Side::kConfluxd && to == Side::kCircuitd) {  // toward a leg's BWD
    if (!onStream) return c == RelayCmd::kConfluxSwitch;
    return towardClient(c);
  }
  return false;
}

// Relay commands that open a stream side (a flow on circuit_stream or conflux_stream).
constexpr bool opensStreamSide(uint8_t cmd) {
  using cell::RelayCmd;
  auto c = static_cast<RelayCmd>(cmd);
  return c == RelayCmd::kBegin || c == RelayCmd::kResolve || c == RelayCmd::kBeginDir;
}

// ---- link cells between channeld and circuitd ----

// A CREATE that starts a circuit (channeld passes the client's; circuitd never sends one: channeld
// makes the CREATE2 of an extend itself).
constexpr bool isCreate(uint8_t cellCmd) {
  using cell::CellCmd;
  auto c = static_cast<CellCmd>(cellCmd);
  return c == CellCmd::kCreate || c == CellCmd::kCreateFast || c == CellCmd::kCreate2;
}

// Cells channeld may pass to circuitd: a client's CREATE*, RELAY, RELAY_EARLY and DESTROY, and a
// next hop's CREATED2 (answering the CREATE2 of an extend), RELAY, RELAY_EARLY (which circuitd
// refuses inbound: that is the relay's fault, not channeld's) and DESTROY.
constexpr bool channeldMaySend(uint8_t cellCmd) {
  using cell::CellCmd;
  auto c = static_cast<CellCmd>(cellCmd);
  return isCreate(cellCmd) || c == CellCmd::kCreated2 || c == CellCmd::kRelay ||
         c == CellCmd::kRelayEarly || c == CellCmd::kDestroy;
}

// Cells circuitd may send through channeld: answers to a CREATE_FAST or CREATE2 (TAP's CREATE is
// refused), RELAY toward the client, RELAY and RELAY_EARLY toward a next hop, DESTROY.
constexpr bool circuitdMaySend(uint8_t cellCmd) {
  using cell::CellCmd;
  auto c = static_cast<CellCmd>(cellCmd);
  return c == CellCmd::kCreatedFast || c == CellCmd::kCreated2 || c == CellCmd::kRelay ||
         c == CellCmd::kRelayEarly || c == CellCmd::kDestroy;
}

}  // namespace onionsplit::ipc
