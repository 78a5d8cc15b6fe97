// tests/common/ipc/pipe_harness.h: what component tests of a daemon's reactor share: a BatchPipe
// peer that plays the daemon on the other side of a boundary (it takes every message at once and
// keeps a copy), a connection between a session's pipe and such a peer over a real socketpair on
// the data plane (as the daemons connect), and a bounded wait that turns the loop.
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

template <class Traits>
struct Peer final : BatchPipe<Traits>::Handler {
  using Event = typename Traits::Event;
  // `answerCloses`: send the second phase of a close at once (else the test does it, or not).
  explicit Peer(bool answerCloses = false)
      : pipe(defaultWindows(), *this), answerCloses_(answerCloses) {}
  UnknownFlow onUnknownFlow(typename Event::Reader e) override {
    return Traits::opensFlow(e) ? UnknownFlow::kOpen : UnknownFlow::kDrop;
  }
  bool onEvent(typename Event::Reader e) override {
    events.push_back(capnp::clone(e));
    auto f = Traits::flowOf(e);
    if (f && !Traits::closesFlow(e)) {
      pipe.taken(*f, 1);
    } else if (f && answerCloses_ && pipe.canClose(*f)) {
      auto out = pipe.add();
      Traits::fillClose(out, *f, 0);
      pipe.commit(*f, out);
    }
    return true;
  }
  void onCredit() override {}
  void onViolation(const std::string& why) override { violation = why; }

  BatchPipe<Traits> pipe;
  std::vector<kj::Own<typename Event::Reader>> events;
  std::string violation;
  std::unique_ptr<RpcConnection> conn;

 private:
  bool answerCloses_;
};

// Connects `ours` (a session's pipe) and `peer` over a socketpair; `server` keeps our side's
// connection.
template <class Traits>
void connect(EventLoop& loop, BatchPipe<Traits>& ours, Peer<Traits>& peer,
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
