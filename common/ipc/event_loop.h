// common/ipc/event_loop.h: the one event loop of a daemon, shared by libevent and KJ.
//
// Where it sits: every daemon's main() builds one EventLoop and runs it on its only thread.
// libevent owns the wait (epoll): sockets, TLS, timers and evdns are libevent events, and KJ's
// event queue (Cap'n Proto RPC, promises) runs inside a libevent callback whenever KJ has work. KJ
// sees libevent through LibeventPort, a kj::EventPort, and Cap'n Proto reads and writes its Unix
// sockets through FramedSocket (frame_stream.h), a kj::AsyncIoStream driven by libevent events that
// also carries the connection's data plane.
//
// Why this way round and not KJ's UnixEventPort watching libevent's epoll fd: libevent has no
// public way to say when its next timer is due, so a KJ-owned wait would either poll libevent on a
// fixed tick (latency or wasted wake-ups) or miss timers; with libevent owning the wait both sides
// get exact timers and one epoll_wait per loop turn. docs/ARCHITECTURE.md records the measurement.
#pragma once

#include <event2/event.h>

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>
#include <kj/async.h>

#include <cstdint>
#include <memory>

#include "common/ipc/frame_stream.h"

namespace onionsplit::ipc {

// KJ's view of libevent. wait()/poll() run libevent (used only by Promise::wait() in tests and at
// start-up); in steady state libevent runs and calls into KJ through a ready event whenever KJ's
// queue becomes runnable.
class LibeventPort final : public kj::EventPort {
 public:
  explicit LibeventPort(event_base* base);
  ~LibeventPort();
  KJ_DISALLOW_COPY(LibeventPort);

  // Set once the kj::EventLoop that uses this port exists (it is constructed with the port).
  void attach(kj::EventLoop& loop) { loop_ = &loop; }

  bool wait() override;
  bool poll() override;
  void setRunnable(bool runnable) override;
  void wake() const override;

 private:
  static void onRunnable(evutil_socket_t, short, void* arg);
  static void onWake(evutil_socket_t, short, void* arg);

  event_base* base_;
  kj::EventLoop* loop_ = nullptr;
  event* runEvent_ = nullptr;   // activated when KJ has work; runs a bounded number of turns
  event* wakeEvent_ = nullptr;  // an eventfd other threads may write (wake())
  int wakeFd_ = -1;
  bool insideKjWait_ = false;  // KJ's own wait loop is turning the queue; do not re-enter it
  mutable bool woken_ = false;
};

// The daemon's loop: one event_base, one kj::EventLoop on it, and the thread's WaitScope.
class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  event_base* base() { return base_; }
  kj::WaitScope& waitScope() { return *waitScope_; }

  // A promise fulfilled after `ms` milliseconds by a libevent timer; dropping it cancels the timer.
  kj::Promise<void> afterDelay(uint32_t ms);

  // Runs until stop(). Returns 0, or -1 if libevent failed.
  int run();
  void stop();

 private:
  event_base* base_;
  std::unique_ptr<LibeventPort> port_;
  std::unique_ptr<kj::EventLoop> kjLoop_;
  std::unique_ptr<kj::WaitScope> waitScope_;
};

// Limits every Cap'n Proto connection between daemons applies to what it receives.
struct RpcLimits {
  uint64_t traversalWords = 1u << 17;  // 1 MiB per message
  int nestingLimit = 16;
  size_t flowLimitWords = 1u << 20;  // 8 MiB of calls in flight from the peer
};

// One Cap'n Proto two-party connection over a FramedSocket. The server side offers `bootstrap`;
// the client side gets the peer's bootstrap with bootstrap<T>(). Its data plane carries the
// BatchPipe bound to the connection (batch_pipe.h).
class RpcConnection {
 public:
  RpcConnection(event_base* base, int fd, bool isServer, capnp::Capability::Client bootstrap,
                const RpcLimits& limits = RpcLimits{});
  ~RpcConnection();
  RpcConnection(const RpcConnection&) = delete;
  RpcConnection& operator=(const RpcConnection&) = delete;

  template <class T>
  typename T::Client bootstrap() {
    return bootstrapCap().castAs<T>();
  }
  capnp::Capability::Client bootstrapCap();
  kj::Promise<void> onDisconnect() {
    return network_->onDisconnect().exclusiveJoin(stream_->whenEnded());
  }
  std::shared_ptr<DataPlane> dataPlane() { return stream_->dataPlane(); }
  size_t queuedBytes() { return network_->getCurrentQueueSize(); }

 private:
  kj::Own<FramedSocket> stream_;
  kj::Own<capnp::TwoPartyVatNetwork> network_;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc_;
  bool isServer_;
};

}  // namespace onionsplit::ipc
