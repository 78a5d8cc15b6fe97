// fuzz/ipc_sink_fuzz.h: what every IPC server-interface fuzz target does. The input is a sequence
// of Cap'n Proto messages (standard framing), each taken as the batch a hostile peer daemon pushes
// to our sink (a session of the boundary, as the daemons build them). Replies go to a second
// session playing the peer, which checks them too. Neither side may crash, leak, or accept what the
// contract forbids; a violation just ends the (simulated) connection, as in the daemons.
#pragma once

#include <capnp/serialize.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

#include "common/ipc/boundaries.h"
#include "common/ipc/event_loop.h"
#include "common/ipc/session.h"

namespace onionsplit::fuzz {

// The event loop every target shares (one per process, like a daemon's).
inline ipc::EventLoop& fuzzLoop() {
  static ipc::EventLoop* loop = new ipc::EventLoop;
  return *loop;
}

// The input as up to 16 batches (standard framing) pushed to `sink` one after another, as a hostile
// peer would, until the input ends, a batch is malformed, or `dropped` says our side hung up.
template <class Traits>
void pushBatches(typename Traits::Sink::Client sink, const uint8_t* data, size_t size,
                 const bool& dropped) {
  ipc::EventLoop* loop = &fuzzLoop();
  if (size > (1u << 20)) return;  // a connection's window at most
  // Word-aligned copy of the input.
  std::vector<capnp::word> words((size + sizeof(capnp::word) - 1) / sizeof(capnp::word));
  if (size) std::memcpy(words.data(), data, size);
  kj::ArrayPtr<const capnp::word> rest(words.data(), words.size());
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = 1u << 16;
  opts.nestingLimit = 16;
  for (int i = 0; i < 16 && rest.size() > 0 && !dropped; ++i) {
    try {
      capnp::FlatArrayMessageReader reader(rest, opts);
      rest = kj::arrayPtr(reader.getEnd(), rest.end());
      auto req = sink.pushRequest();
      req.setBatch(reader.getRoot<typename Traits::Batch>());
      req.send().then([](auto&&) {}, [](kj::Exception&&) {}).wait(loop->waitScope());
    } catch (const kj::Exception&) {
      break;  // malformed framing or pointers: the RPC layer would drop the connection
    }
  }
}

// Turns the loop `n` times: batches, replies and grants travel.
inline void turnLoop(int n = 8) {
  for (int i = 0; i < n; ++i)
    kj::evalLater([] {}).wait(fuzzLoop().waitScope());
}

// A well-behaved peer daemon for the setup of a target: it checks what it gets with the boundary's
// rules (`admit`), accepts every flow, takes every message at once, and shows what it received to
// `seen`. Once the input's batches reach our side, our grants for them look over-granted to this
// peer (it did not send them), so it stops, and our next push to it fails and ends our side too: a
// target's input does its work in its first batch or two.
template <class Traits>
class AcceptingSession final : public ipc::PeerSession<Traits> {
 public:
  using Event = typename Traits::Event;
  using Admit = ipc::Verdict (*)(typename Event::Reader);
  AcceptingSession(std::string peer, Admit admitFn,
                   std::function<void(typename Event::Reader)> seen)
      : ipc::PeerSession<Traits>(std::move(peer), ipc::defaultWindows(), [] {}),
        admit_(admitFn),
        seen_(std::move(seen)) {}
  ipc::Verdict admit(typename Event::Reader e) override { return admit_(e); }
  ipc::Verdict onControl(typename Event::Reader e) override {
    if (seen_) seen_(e);
    return ipc::Verdict::accept();
  }
  ipc::FlowVerdict onFlowEvent(ipc::FlowId, ipc::NoState&, typename Event::Reader e,
                               ipc::CreditToken) override {
    if (seen_) seen_(e);
    return ipc::FlowVerdict::accept();
  }
  void onPeerClose(ipc::FlowId, ipc::NoState&, typename Event::Reader e) override {
    if (seen_) seen_(e);
  }
  bool mayBeStale(typename Event::Reader) override { return true; }

 private:
  Admit admit_;
  std::function<void(typename Event::Reader)> seen_;
};

// Connects two sessions' pipes through local sinks (the RPC push path, in process).
template <class A, class B>
void pairUp(A& a, B& b) {
  a.pipe.setPeer(b.pipe.makeLocalSink());
  b.pipe.setPeer(a.pipe.makeLocalSink());
}

inline flowctl::CreditWindows fuzzWindows() {
  flowctl::CreditWindows w;
  w.flowMessages = 8;
  w.connBytes = 64 * 1024;
  w.maxFlows = 64;
  return w;
}

// `makeOurs(drop)` builds the session under test (a daemon's real handler). `peerAdmit` is what
// the boundary lets our side send (the simulated peer checks our replies with it).
template <class Traits, class MakeOurs>
void fuzzSink(const uint8_t* data, size_t size, MakeOurs makeOurs,
              ipc::Verdict (*peerAdmit)(typename Traits::Event::Reader)) {
  ipc::EventLoop* loop = &fuzzLoop();
  bool dropped = false;
  std::unique_ptr<ipc::Session<Traits>> ours = makeOurs([&] { dropped = true; });
  auto peer = std::make_unique<ipc::RefusingSession<Traits>>(
      "us", fuzzWindows(), [] {}, 5, peerAdmit);
  ours->setPeer(peer->pipe.makeLocalSink());
  peer->pipe.setPeer(ours->makeLocalSink());
  pushBatches<Traits>(ours->makeLocalSink(), data, size, dropped);
  // Let replies and grants travel, then tear down as a lost connection would.
  kj::evalLater([] {}).wait(loop->waitScope());
  ours.reset();
  peer.reset();
  kj::evalLater([] {}).wait(loop->waitScope());
}

// The boundary's framing, credit and flow rules alone: a RefusingSession that checks what it gets
// with `admit` (the side it plays) against a peer checking with `peerAdmit`.
template <class Traits>
void fuzzBoundary(const uint8_t* data, size_t size,
                  ipc::Verdict (*admit)(typename Traits::Event::Reader),
                  ipc::Verdict (*peerAdmit)(typename Traits::Event::Reader)) {
  fuzzSink<Traits>(
      data, size,
      [admit](std::function<void()> drop) {
        return std::make_unique<ipc::RefusingSession<Traits>>("peer", fuzzWindows(),
                                                              std::move(drop), 5, admit);
      },
      peerAdmit);
}

}  // namespace onionsplit::fuzz
