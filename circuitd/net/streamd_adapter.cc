// circuitd/net/streamd_adapter.cc: circuitd's side of circuit_stream.capnp toward streamd: the
// circuits' stream sides (flows circuitd opens at a circuit's first BEGIN, RESOLVE or BEGIN_DIR),
// the messages streamd sends for the client, and the ends of a stream side or of streamd itself.
//
// Verdicts: streamd's messages are what exit servers and resolvers made it send, so none of them
// can cost more than its circuit; what streamd may send at all (the relay-command table) is checked
// in admit(), a message longer than one cell of its circuit's format in admitOnFlow(), and a
// breach of either costs the connection.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "circuitd/net/reactor.h"
#include "circuitd/net/reactor_io.h"

namespace onionsplit::circuitd {
namespace {

constexpr uint8_t kEnd = static_cast<uint8_t>(cell::RelayCmd::kEnd);
constexpr uint8_t kResolved = static_cast<uint8_t>(cell::RelayCmd::kResolved);
constexpr uint8_t kMisc = static_cast<uint8_t>(cell::EndReason::kMisc);

Bytes bytesOf(capnp::Data::Reader d) {
  return Bytes(d.begin(), d.size());
}

}  // namespace

StreamdSession::StreamdSession(Reactor& r, std::function<void()> drop)
    : PeerSession("streamd", ipc::defaultWindows(), std::move(drop)),
      reactor_(r),
      id_(r.newConnection()) {}

StreamdSession::~StreamdSession() noexcept(false) {
  reactor_.streamdGone(id_);
}

ipc::Verdict StreamdSession::admit(proto::StreamEvent::Reader e) {
  return ipc::StreamTraits::admit(ipc::Side::kStreamd, ipc::Side::kCircuitd, e);
}

ipc::Verdict StreamdSession::admitOnFlow(FlowId, CircKey& k, proto::StreamEvent::Reader e) {
  Entry* entry = reactor_.table_.find(k);
  if (!entry || entry->streams.conn != id_ || !e.isRelay()) return ipc::Verdict::accept();
  return fitsOneCell(entry->circuit, e.getRelay().getCommand(), e.getRelay().getBody().size());
}

ipc::FlowVerdict StreamdSession::onFlowEvent(FlowId, CircKey& k, proto::StreamEvent::Reader e,
                                             ipc::CreditToken credit) {
  Entry* entry = reactor_.table_.find(k);
  // A circuit's end closes its stream side first, so an open stream side always has its circuit.
  if (!entry || entry->streams.conn != id_) return ipc::FlowVerdict::closeFlow(kMisc);
  return reactor_.fromStreamd(*entry, e.getRelay(), std::move(credit));
}

void StreamdSession::onPeerClose(FlowId, CircKey& k, proto::StreamEvent::Reader e) {
  if (Entry* entry = reactor_.table_.find(k); entry && entry->streams.conn == id_)
    reactor_.streamSideClosed(*entry, e.getClosed());
}

void StreamdSession::onCredit() {
  reactor_.onSideCredit(false);
}

ipc::FlowVerdict Reactor::fromStreamd(Entry& e, proto::RelayMsg::Reader m,
                                      ipc::CreditToken credit) {
  ++counters_.streamMessagesIn;
  uint8_t command = m.getCommand();
  if (command == kEnd || command == kResolved) std::erase(e.openStreams, m.getStreamId());
  Io io(*this, e);
  bool alive = e.circuit.fromStreams(m.getStreamId(), command, bytesOf(m.getBody()), now_(), io,
                                     std::move(credit));
  settle(e, alive);  // a circuit killed here closed its stream side too
  return ipc::FlowVerdict::accept();
}

void Reactor::streamSideClosed(Entry& e, uint8_t reason) {
  // streamd dropped the stream side: END for every stream still open, with its reason.
  e.streams = Binding{};
  bool alive = true;
  for (cell::StreamId id : e.openStreams)
    alive = alive && e.circuit.endStream(id, reason == 0 ? kMisc : reason);
  e.openStreams.clear();
  settle(e, alive);
}

bool Reactor::detachStreams(Entry& e) {
  // The stream side died with streamd's connection: the client hears END (MISC) for each stream.
  e.streams = Binding{};
  bool alive = true;
  for (cell::StreamId id : e.openStreams)
    alive = alive && e.circuit.endStream(id, kMisc);
  e.openStreams.clear();
  return alive;
}

void Reactor::streamdGone(ConnId conn) {
  for (const CircKey& k : table_.select([conn](const Entry& e) { return e.streams.conn == conn; }))
    if (Entry* e = table_.find(k)) settle(*e, detachStreams(*e));
}

}  // namespace onionsplit::circuitd
