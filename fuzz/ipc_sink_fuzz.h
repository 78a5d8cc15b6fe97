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

// `makeOurs(drop)` builds the session under test (a daemon's real handler); by default a
// RefusingSession, which checks the boundary's framing, credit and flow rules alone.
template <class Traits, class MakeOurs>
void fuzzSink(const uint8_t* data, size_t size, MakeOurs makeOurs) {
  ipc::EventLoop* loop = &fuzzLoop();
  bool dropped = false;
  flowctl::CreditWindows w;
  w.flowMessages = 8;
  w.connBytes = 64 * 1024;
  w.maxFlows = 64;
  std::unique_ptr<ipc::PeerSession<Traits>> ours = makeOurs([&] { dropped = true; });
  auto peer = std::make_unique<ipc::RefusingSession<Traits>>(
      "us", w, [] {}, 5);
  ours->pipe.setPeer(peer->pipe.makeLocalSink());
  peer->pipe.setPeer(ours->pipe.makeLocalSink());
  typename Traits::Sink::Client sink = ours->pipe.makeLocalSink();

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
  // Let replies and grants travel, then tear down as a lost connection would.
  kj::evalLater([] {}).wait(loop->waitScope());
  ours.reset();
  peer.reset();
  kj::evalLater([] {}).wait(loop->waitScope());
}

template <class Traits>
void fuzzSink(const uint8_t* data, size_t size) {
  flowctl::CreditWindows w;
  w.flowMessages = 8;
  w.connBytes = 64 * 1024;
  w.maxFlows = 64;
  fuzzSink<Traits>(data, size, [w](std::function<void()> drop) {
    return std::make_unique<ipc::RefusingSession<Traits>>("peer", w, std::move(drop), 5);
  });
}

}  // namespace onionsplit::fuzz
