// tests/common/ipc/pipe_harness.h: what component tests of a daemon's reactor share: a BatchPipe
// peer that plays the daemon on the other side of a boundary (it checks the contract, takes every
// message at once and keeps a copy), a connection between a session's pipe and such a peer over a
// real socketpair on the data plane (as the daemons connect), and a bounded wait that turns the
// loop.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/ipc/batch_pipe.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/event_loop.h"

namespace onionsplit::ipc::testing {

// The peer plays an honest daemon: it checks what the daemon under test sends with the boundary's
// own rules (`admit`, boundaries.h), takes every message at once (its credit goes straight back),
// keeps a copy, and answers closes (the pipe does that by itself).
template <class Traits>
struct Peer final : BatchPipe<Traits>::Handler {
  using Event = typename Traits::Event;
  using Admit = Verdict (*)(typename Event::Reader);
  explicit Peer(Admit admitFn) : pipe(defaultWindows(), *this), admit_(admitFn) {}
  Verdict admit(typename Event::Reader e) override { return admit_(e); }
  Verdict onControl(typename Event::Reader e) override {
    events.push_back(capnp::clone(e));
    return Verdict::accept();
  }
  FlowVerdict onFlowEvent(FlowId, NoState&, typename Event::Reader e, CreditToken) override {
    events.push_back(capnp::clone(e));
    return FlowVerdict::accept();
  }
  void onPeerClose(FlowId, NoState&, typename Event::Reader e) override {
    events.push_back(capnp::clone(e));
  }
  // Flows the daemon closed are forgotten here once both sides closed; its later events for them
  // would be its bug, unless the boundary forgets flows with their channel.
  bool mayBeStale(typename Event::Reader) override { return staleAllowed; }
  void onViolation(const std::string& why) override { violation = why; }

  BatchPipe<Traits> pipe;
  std::vector<kj::Own<typename Event::Reader>> events;
  std::string violation;
  bool staleAllowed = false;
  std::unique_ptr<RpcConnection> conn;

 private:
  Admit admit_;
};

// The rules each peer checks, by the side it plays.
inline Verdict fromCircuitdToChanneld(proto::ChannelEvent::Reader e) {
  return ChannelCircuitTraits::admitFromCircuitd(e);
}
inline Verdict fromChanneldToCircuitd(proto::ChannelEvent::Reader e) {
  return ChannelCircuitTraits::admitFromChanneld(e);
}
inline Verdict fromCircuitdToStreamd(proto::StreamEvent::Reader e) {
  return StreamTraits::admit(Side::kCircuitd, Side::kStreamd, e);
}
inline Verdict fromStreamdToCircuitd(proto::StreamEvent::Reader e) {
  return StreamTraits::admit(Side::kStreamd, Side::kCircuitd, e);
}
inline Verdict fromConfluxdToStreamd(proto::StreamEvent::Reader e) {
  return StreamTraits::admit(Side::kConfluxd, Side::kStreamd, e);
}
inline Verdict fromStreamdToConfluxd(proto::StreamEvent::Reader e) {
  return StreamTraits::admit(Side::kStreamd, Side::kConfluxd, e);
}
inline Verdict fromCircuitdToConfluxd(proto::LegEvent::Reader e) {
  return LegTraits::admitFromCircuitd(e);
}
inline Verdict fromConfluxdToCircuitd(proto::LegEvent::Reader e) {
  return LegTraits::admitFromConfluxd(e);
}

// Connects `ours` (a session's pipe) and `peer` over a socketpair; `server` keeps our side's
// connection.
template <class Traits, class OurPipe>
void connect(EventLoop& loop, OurPipe& ours, Peer<Traits>& peer,
             std::unique_ptr<RpcConnection>& server) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  server = std::make_unique<RpcConnection>(loop.base(), sv[0], true, ours.makeLocalSink());
  peer.conn = std::make_unique<RpcConnection>(loop.base(), sv[1], false, peer.pipe.makeLocalSink());
  ours.setPlane(server->dataPlane());
  peer.pipe.setPlane(peer.conn->dataPlane());
}

// Turns the loop until `done()` holds (true) or 5 s passed (false).
inline bool waitFor(EventLoop& loop, const std::function<bool()>& done) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < until) {
    kj::evalLater([] {}).wait(loop.waitScope());
    event_base_loop(loop.base(), EVLOOP_NONBLOCK);
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return done();
}

}  // namespace onionsplit::ipc::testing
