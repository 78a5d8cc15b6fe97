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

SocketStream::SocketStream(event_base* base, int fd) : fd_(fd) {
  static constexpr short kWhat[3] = {EV_READ, EV_WRITE, EV_CLOSED};
  for (int d = 0; d < 3; ++d)
    events_[d] = event_new(base, fd, kWhat[d], &SocketStream::onEvent, this);
}

SocketStream::~SocketStream() {
  for (auto* e : events_)
    if (e) event_free(e);
  close(fd_);
}

void SocketStream::onEvent(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<SocketStream*>(arg);
  auto fire = [self](Dir d) {
    if (self->waiting_[d].get() != nullptr) {
      auto f = kj::mv(self->waiting_[d]);
      f->fulfill();
    }
  };
  if (what & EV_READ) fire(kRead);
  if (what & EV_WRITE) fire(kWrite);
  if (what & EV_CLOSED) fire(kClosed);
}

kj::Promise<void> SocketStream::ready(Dir d) {
  auto paf = kj::newPromiseAndFulfiller<void>();
  waiting_[d] = kj::mv(paf.fulfiller);
  if (!events_[d] || event_add(events_[d], nullptr) != 0) {
    if (d == kClosed) return kj::NEVER_DONE;  // no EV_CLOSED support: never learn early
    return KJ_EXCEPTION(FAILED, "libevent could not watch the socket");
  }
  return kj::mv(paf.promise);
}

kj::Promise<size_t> SocketStream::tryRead(void* buffer, size_t minBytes, size_t maxBytes) {
  return readMore(static_cast<kj::byte*>(buffer), minBytes, maxBytes, 0);
}

kj::Promise<size_t> SocketStream::readMore(kj::byte* buffer, size_t minBytes, size_t maxBytes,
                                           size_t done) {
  if (maxBytes == 0) return size_t{0};
  while (done < minBytes || done == 0) {
    if (rpos_ < rend_) {  // what an earlier recv brought beyond what its reader wanted
      size_t k = std::min(rend_ - rpos_, maxBytes - done);
      std::memcpy(buffer + done, rbuf_.get() + rpos_, k);
      rpos_ += k;
      done += k;
      continue;
    }
    // One recv brings as much as the socket holds: Cap'n Proto asks for a message's header and
    // body separately, and a batch of small reads would cost a syscall each.
    size_t want = maxBytes - done;
    bool direct = want >= kReadBuffer;
    ssize_t n =
        direct ? ::recv(fd_, buffer + done, want, 0) : ::recv(fd_, rbuf_.get(), kReadBuffer, 0);
    if (n > 0) {
      if (direct) {
        done += static_cast<size_t>(n);
      } else {
        rpos_ = 0;
        rend_ = static_cast<size_t>(n);
      }
      continue;
    }
    if (n == 0) return done;  // EOF
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (done >= minBytes && done > 0) break;
      return ready(kRead).then([this, buffer, minBytes, maxBytes, done]() {
        return readMore(buffer, minBytes, maxBytes, done);
      });
    }
    if (errno == ECONNRESET) return done;
    return KJ_EXCEPTION(DISCONNECTED, "recv failed", errno);
  }
  return done;
}

kj::Promise<void> SocketStream::write(const void* buffer, size_t size) {
  return writeMore(kj::arrayPtr(static_cast<const kj::byte*>(buffer), size), nullptr);
}

kj::Promise<void> SocketStream::write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  if (pieces.size() == 0) return kj::READY_NOW;
  return writeMore(pieces[0], pieces.slice(1, pieces.size()));
}

kj::Promise<void> SocketStream::writeMore(kj::ArrayPtr<const kj::byte> first,
                                          kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> rest) {
  constexpr size_t kMaxIov = 64;
  for (;;) {
    iovec iov[kMaxIov];
    size_t n = 0;
    iov[n++] = {const_cast<kj::byte*>(first.begin()), first.size()};
    for (size_t i = 0; i < rest.size() && n < kMaxIov; ++i)
      iov[n++] = {const_cast<kj::byte*>(rest[i].begin()), rest[i].size()};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    ssize_t w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return ready(kWrite).then([this, first, rest]() { return writeMore(first, rest); });
      return KJ_EXCEPTION(DISCONNECTED, "send failed", errno);
    }
    auto left = static_cast<size_t>(w);
    // Skip what was written.
    while (left > 0 || first.size() == 0) {
      if (left >= first.size()) {
        left -= first.size();
        if (rest.size() == 0) return kj::READY_NOW;
        first = rest[0];
        rest = rest.slice(1, rest.size());
      } else {
        first = first.slice(left, first.size());
        left = 0;
      }
    }
  }
}

kj::Promise<void> SocketStream::whenWriteDisconnected() {
  return ready(kClosed);
}

void SocketStream::shutdownWrite() {
  ::shutdown(fd_, SHUT_WR);
}

void SocketStream::abortRead() {
  ::shutdown(fd_, SHUT_RD);
}

void SocketStream::getsockopt(int level, int option, void* value, kj::uint* length) {
  socklen_t len = *length;
  if (::getsockopt(fd_, level, option, value, &len) != 0)
    kj::throwFatalException(KJ_EXCEPTION(FAILED, "getsockopt", errno));
  *length = len;
}

void SocketStream::setsockopt(int level, int option, const void* value, kj::uint length) {
  if (::setsockopt(fd_, level, option, value, length) != 0)
    kj::throwFatalException(KJ_EXCEPTION(FAILED, "setsockopt", errno));
}

RpcConnection::RpcConnection(event_base* base, int fd, bool isServer,
                             capnp::Capability::Client bootstrap, const RpcLimits& limits)
    : isServer_(isServer) {
  stream_ = kj::heap<SocketStream>(base, fd);
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
