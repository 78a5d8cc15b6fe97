// common/ipc/boundaries.cc: the static rules of each boundary's contract (stage 3 of a pipe's
// receive): which events and commands each side may send, and the sizes the schemas promise. A
// breach here is the peer daemon's, never the network's: each sender filters what it passes on
// with the same rules (relay_commands.h) before the boundary.
#include "common/ipc/boundaries.h"

namespace onionsplit::ipc {
namespace {

bool sized(capnp::Data::Reader d, size_t n) {
  return d.size() == n;
}
bool emptyOr(capnp::Data::Reader d, size_t n) {
  return d.size() == 0 || d.size() == n;
}

Verdict cellShape(proto::Cell::Reader c) {
  if (c.getCircId() == 0) return Verdict::breach("a cell for circuit id 0");
  if (!sized(c.getPayload(), kCellPayloadBytes)) return Verdict::breach("a cell not 509 bytes");
  return Verdict::accept();
}

Verdict relayShape(proto::RelayMsg::Reader m) {
  if (m.getBody().size() > kRelayBodyMaxBytes) return Verdict::breach("a relay body too long");
  return Verdict::accept();
}

}  // namespace

Verdict ChannelCircuitTraits::admitFromChanneld(Event::Reader e) {
  switch (e.which()) {
    case Event::CELL:
      if (!channeldMaySend(e.getCell().getCommand()))
        return Verdict::breach("a cell command channeld may not pass on");
      return cellShape(e.getCell());
    case Event::OPENED: {
      auto o = e.getOpened();
      if (!emptyOr(o.getPeerRsaId(), 20) || !emptyOr(o.getPeerEd25519Id(), 32))
        return Verdict::breach("a channel's peer identity of the wrong size");
      return Verdict::accept();
    }
    case Event::CLOSED:
    case Event::EXTENDED:
      return Verdict::accept();
    case Event::EXTEND:
      return Verdict::breach("an extend from channeld");
  }
  return Verdict::breach("an unknown channel event");
}

Verdict ChannelCircuitTraits::admitFromCircuitd(Event::Reader e) {
  switch (e.which()) {
    case Event::CELL:
      if (!circuitdMaySend(e.getCell().getCommand()))
        return Verdict::breach("a cell command circuitd may not send");
      return cellShape(e.getCell());
    case Event::EXTEND: {
      auto x = e.getExtend();
      if (x.getOriginCircId() == 0 || !sized(x.getRsaId(), 20) || !emptyOr(x.getIpv4(), 4) ||
          !emptyOr(x.getIpv6(), 16) || !emptyOr(x.getEd25519Id(), 32) ||
          x.getHdata().size() > kRelayBodyMaxBytes ||
          (x.getIpv4().size() == 0 && x.getIpv6().size() == 0))
        return Verdict::breach("a malformed extend");
      return Verdict::accept();
    }
    case Event::OPENED:
    case Event::CLOSED:
    case Event::EXTENDED:
      return Verdict::breach("a channel event only channeld sends");
  }
  return Verdict::breach("an unknown channel event");
}

Verdict StreamTraits::admit(Side from, Side to, Event::Reader e) {
  switch (e.which()) {
    case Event::RELAY: {
      auto m = e.getRelay();
      if (!maySend(from, to, m.getCommand(), m.getStreamId() != 0))
        return Verdict::breach("a relay command this side may not send");
      return relayShape(m);
    }
    case Event::CLOSED:
      return Verdict::accept();
  }
  return Verdict::breach("an unknown stream event");
}

Verdict LegTraits::admitFromCircuitd(Event::Reader e) {
  switch (e.which()) {
    case Event::LINK:
      if (e.getLink().getBody().size() > kRelayBodyMaxBytes)
        return Verdict::breach("a LINK body too long");
      return Verdict::accept();
    case Event::RELAY: {
      auto m = e.getRelay();
      if (!maySend(Side::kCircuitd, Side::kConfluxd, m.getCommand(), m.getStreamId() != 0))
        return Verdict::breach("a relay command circuitd may not send a leg's set");
      return relayShape(m);
    }
    case Event::CLOSED:
    case Event::STATE:
      return Verdict::accept();
    case Event::LINKED:
      return Verdict::breach("LINKED from circuitd");
  }
  return Verdict::breach("an unknown leg event");
}

Verdict LegTraits::admitFromConfluxd(Event::Reader e) {
  switch (e.which()) {
    case Event::LINKED:
      if (e.getLinked().getBody().size() > kRelayBodyMaxBytes)
        return Verdict::breach("a LINKED body too long");
      return Verdict::accept();
    case Event::RELAY: {
      auto m = e.getRelay();
      if (!maySend(Side::kConfluxd, Side::kCircuitd, m.getCommand(), m.getStreamId() != 0))
        return Verdict::breach("a relay command confluxd may not send a leg");
      return relayShape(m);
    }
    case Event::CLOSED:
      return Verdict::accept();
    case Event::LINK:
    case Event::STATE:
      return Verdict::breach("a leg event only circuitd sends");
  }
  return Verdict::breach("an unknown leg event");
}

}  // namespace onionsplit::ipc
