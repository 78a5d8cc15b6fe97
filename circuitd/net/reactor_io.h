// circuitd/net/reactor_io.h: Reactor::Io, a circuit's view of its boundaries for one call
// (core/circuit.h's CircuitIo): channeld's flow of the circuit and of its next hop, and the stream
// side on streamd or, for a conflux leg, confluxd. Private to circuitd/net's .cc files.
//
// Lifetime: made on the stack around one core call on an entry of the table; none of its methods
// removes an entry (kills happen after the core call returns, in Reactor::settle).
#pragma once

#include "circuitd/net/reactor.h"

namespace onionsplit::circuitd {

class Reactor::Io final : public CircuitIo {
 public:
  Io(Reactor& r, Entry& e) : r_(r), e_(e), ch_(r.channeld(e.key.conn)) {}
  bool canSendCell() override;
  void sendCell(Bytes payload) override;
  bool canDeliver() override;
  Delivery deliver(cell::StreamId streamId, uint8_t command, Bytes body) override;
  void random(MutBytes out) override;
  bool canSendNext() override;
  void sendNext(bool early, Bytes payload) override;
  void extend(ExtendTarget target) override;
  void destroyNextHop(uint8_t reason) override;
  void droppedCell() override { ++r_.counters_.dropCells; }
  void unservedOnionServiceCell(uint8_t command) override {
    ++r_.counters_.onionServiceCells[command == 32 ? 0 : command == 33 ? 1 : command == 34 ? 2 : 3];
  }

 private:
  Delivery toConfluxd(cell::StreamId streamId, uint8_t command, Bytes body);

  Reactor& r_;
  Entry& e_;
  ChanneldSession* ch_;  // the circuit's connection: alive while its entry is
};

}  // namespace onionsplit::circuitd
