// common/ipc/event_loop.cc: libevent and KJ on one thread (see event_loop.h).
#include "common/ipc/event_loop.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace onionsplit::ipc {

namespace {
// KJ turns run per libevent callback before other libevent events get a chance: bounds how long a
// burst of RPC work can delay socket reads and timers.
constexpr unsigned kTurnsPerRun = 256;
}  // namespace

LibeventPort::LibeventPort(event_base* base) : base_(base) {
  runEvent_ = event_new(base_, -1, 0, &LibeventPort::onRunnable, this);
  wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ >= 0) {
    wakeEvent_ = event_new(base_, wakeFd_, EV_READ | EV_PERSIST, &LibeventPort::onWake, this);
    event_add(wakeEvent_, nullptr);
  }
}

LibeventPort::~LibeventPort() {
  if (runEvent_) event_free(runEvent_);
  if (wakeEvent_) event_free(wakeEvent_);
  if (wakeFd_ >= 0) close(wakeFd_);
}

bool LibeventPort::wait() {
  insideKjWait_ = true;
  event_base_loop(base_, EVLOOP_ONCE);
  insideKjWait_ = false;
  bool w = woken_;
  woken_ = false;
  return w;
}

bool LibeventPort::poll() {
  insideKjWait_ = true;
  event_base_loop(base_, EVLOOP_NONBLOCK);
  insideKjWait_ = false;
  bool w = woken_;
  woken_ = false;
  return w;
}

void LibeventPort::setRunnable(bool runnable) {
  if (runnable && runEvent_) event_active(runEvent_, 0, 0);
}

void LibeventPort::wake() const {
  uint64_t one = 1;
  if (wakeFd_ >= 0) {
    ssize_t n = ::write(wakeFd_, &one, sizeof one);
    (void)n;  // EAGAIN: the counter is already non-zero, the loop will wake anyway
  }
}

void LibeventPort::onRunnable(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<LibeventPort*>(arg);
  if (self->insideKjWait_ || !self->loop_) return;  // Promise::wait() is turning the queue itself
  self->loop_->run(kTurnsPerRun);
  if (self->loop_->isRunnable()) event_active(self->runEvent_, 0, 0);  // let libevent in first
}

void LibeventPort::onWake(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<LibeventPort*>(arg);
  uint64_t n;
  while (::read(fd, &n, sizeof n) > 0) {
  }
  self->woken_ = true;
  if (self->loop_ && self->loop_->isRunnable()) self->setRunnable(true);
}

EventLoop::EventLoop() : base_(event_base_new()) {
  port_ = std::make_unique<LibeventPort>(base_);
  kjLoop_ = std::make_unique<kj::EventLoop>(*port_);
  port_->attach(*kjLoop_);
  waitScope_ = std::make_unique<kj::WaitScope>(*kjLoop_);
}

EventLoop::~EventLoop() {
  waitScope_.reset();
  kjLoop_.reset();
  port_.reset();
  event_base_free(base_);
}

namespace {
// One libevent timer bound to a promise's lifetime.
struct DelayTimer {
  event* ev = nullptr;
  kj::Own<kj::PromiseFulfiller<void>> fulfiller;
  ~DelayTimer() {
    if (ev) event_free(ev);
  }
  static void fire(evutil_socket_t, short, void* arg) {
    static_cast<DelayTimer*>(arg)->fulfiller->fulfill();
  }
};
}  // namespace

kj::Promise<void> EventLoop::afterDelay(uint32_t ms) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  auto t = kj::heap<DelayTimer>();
  t->fulfiller = kj::mv(paf.fulfiller);
  t->ev = evtimer_new(base_, &DelayTimer::fire, t.get());
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  evtimer_add(t->ev, &tv);
  return paf.promise.attach(kj::mv(t));
}

int EventLoop::run() {
  return event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY) < 0 ? -1 : 0;
}

void EventLoop::stop() {
  event_base_loopbreak(base_);
}

RpcConnection::RpcConnection(event_base* base, int fd, bool isServer,
                             capnp::Capability::Client bootstrap, const RpcLimits& limits)
    : isServer_(isServer) {
  stream_ = kj::heap<FramedSocket>(base, fd);
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = limits.traversalWords;
  opts.nestingLimit = limits.nestingLimit;
  network_ = kj::heap<capnp::TwoPartyVatNetwork>(
      *stream_, isServer ? capnp::rpc::twoparty::Side::SERVER : capnp::rpc::twoparty::Side::CLIENT,
      opts);
  // Both sides serve: a client may offer callbacks (sinks) to the server through parameters, and
  // both get the same limits on what the peer may keep in flight.
  rpc_ = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(
      capnp::makeRpcServer(*network_, kj::mv(bootstrap)));
  rpc_->setFlowLimit(limits.flowLimitWords);
}

RpcConnection::~RpcConnection() {
  rpc_ = nullptr;
  network_ = nullptr;
  stream_ = nullptr;
}

capnp::Capability::Client RpcConnection::bootstrapCap() {
  capnp::word scratch[4];
  memset(scratch, 0, sizeof scratch);
  capnp::MallocMessageBuilder message(scratch);
  auto vatId = message.getRoot<capnp::rpc::twoparty::VatId>();
  vatId.setSide(isServer_ ? capnp::rpc::twoparty::Side::CLIENT
                          : capnp::rpc::twoparty::Side::SERVER);
  return rpc_->bootstrap(vatId);
}

}  // namespace onionsplit::ipc
