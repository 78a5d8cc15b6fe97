// common/ipc/frame_stream.cc: see frame_stream.h.
#include "common/ipc/frame_stream.h"

#include <event2/buffer.h>
#include <kj/debug.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace onionsplit::ipc {
namespace {

constexpr size_t kHeaderBytes = 8;
constexpr size_t kReadChunk = 64 * 1024;
// The connection credit window (boundaries.h): a sender that sends its whole window at once finds
// room in the socket instead of copying the rest into out_. The kernel caps it at
// net.core.wmem_max (208 KiB by default, where this changes nothing).
constexpr size_t kSendBufferBytes = 1u << 20;

constexpr size_t padded(size_t n) {
  return (n + 7) & ~size_t{7};
}

void putU32(kj::byte* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<kj::byte>(v >> (8 * i));
}

uint32_t getU32(const kj::byte* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace

bool DataPlane::send(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments) {
  if (!socket_ || segments.size() == 0) return false;
  // The standard framing: segment count - 1, each segment's size in words, padded to a word.
  constexpr size_t kMaxSegments = 64;
  if (segments.size() > kMaxSegments) return false;
  uint32_t table[kMaxSegments + 2] = {};
  table[0] = static_cast<uint32_t>(segments.size() - 1);
  for (size_t i = 0; i < segments.size(); ++i)
    table[i + 1] = static_cast<uint32_t>(segments[i].size());
  size_t tableBytes = padded(4 * (segments.size() + 1));
  kj::ArrayPtr<const kj::byte> pieces[kMaxSegments + 1];
  pieces[0] = kj::arrayPtr(reinterpret_cast<const kj::byte*>(table), tableBytes);
  for (size_t i = 0; i < segments.size(); ++i)
    pieces[i + 1] = segments[i].asBytes();
  return socket_->sendFrame(FramedSocket::kData, kj::arrayPtr(pieces, segments.size() + 1));
}

FramedSocket::FramedSocket(event_base* base, int fd) : fd_(fd) {
  readEv_ = event_new(base, fd, EV_READ | EV_PERSIST, &FramedSocket::onReadable, this);
  writeEv_ = event_new(base, fd, EV_WRITE | EV_PERSIST, &FramedSocket::onWritable, this);
  closedEv_ = event_new(base, fd, EV_CLOSED, &FramedSocket::onClosed, this);
  out_ = evbuffer_new();
  in_.resize(kReadChunk / sizeof(uint64_t));
  int sndbuf = static_cast<int>(kSendBufferBytes);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);  // best effort
  plane_->socket_ = this;
  if (readEv_) event_add(readEv_, nullptr);
}

FramedSocket::~FramedSocket() {
  plane_->socket_ = nullptr;
  plane_->handler_ = nullptr;
  for (event* e : {readEv_, writeEv_, closedEv_})
    if (e) event_free(e);
  if (out_) evbuffer_free(out_);
  close(fd_);
}

void FramedSocket::fail(const char* why) {
  if (failed_) return;
  failed_ = true;
  spdlog::warn("ipc: closing a connection: {}", why);
  if (readEv_) event_del(readEv_);
  if (writeEv_) event_del(writeEv_);
  ::shutdown(fd_, SHUT_RDWR);
  eof_ = true;
  serveRpcRead();  // the RPC system sees the end and tears the connection down
  ended();
}

void FramedSocket::ended() {
  if (endedFulfiller_) endedFulfiller_->fulfill();
}

// ---- sending ----

bool FramedSocket::sendFrame(Kind kind, kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  if (failed_) return false;
  size_t len = 0;
  for (auto p : pieces)
    len += p.size();
  if (len > kMaxFrameBytes) {
    fail("a frame to send is too large");
    return false;
  }
  kj::byte header[kHeaderBytes];
  putU32(header, static_cast<uint32_t>(len));
  putU32(header + 4, kind);
  static const kj::byte zeros[8] = {};
  size_t pad = padded(len) - len;
  if (evbuffer_get_length(out_) == 0) {
    // Nothing queued: write at once, queue only what the socket did not take.
    constexpr size_t kMaxIov = 72;
    iovec iov[kMaxIov];
    size_t n = 0;
    iov[n++] = {header, kHeaderBytes};
    for (auto p : pieces)
      if (n < kMaxIov - 1 && p.size() > 0) iov[n++] = {const_cast<kj::byte*>(p.begin()), p.size()};
    if (pad) iov[n++] = {const_cast<kj::byte*>(zeros), pad};
    if (n == kMaxIov) {
      fail("a frame with too many pieces");
      return false;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n;
    ssize_t w;
    do {
      w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      fail("send failed");
      return false;
    }
    size_t skip = w < 0 ? 0 : static_cast<size_t>(w);
    for (size_t i = 0; i < n; ++i) {
      if (skip >= iov[i].iov_len) {
        skip -= iov[i].iov_len;
        continue;
      }
      evbuffer_add(out_, static_cast<kj::byte*>(iov[i].iov_base) + skip, iov[i].iov_len - skip);
      skip = 0;
    }
  } else {
    evbuffer_add(out_, header, kHeaderBytes);
    for (auto p : pieces)
      evbuffer_add(out_, p.begin(), p.size());
    if (pad) evbuffer_add(out_, zeros, pad);
  }
  size_t queued = evbuffer_get_length(out_);
  if (queued > kMaxPendingBytes) {
    fail("the peer does not read");
    return false;
  }
  if (queued > 0 && writeEv_) event_add(writeEv_, nullptr);
  return true;
}

void FramedSocket::flushOut() {
  while (evbuffer_get_length(out_) > 0) {
    int w = evbuffer_write(out_, fd_);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      fail("send failed");
      return;
    }
    if (w == 0) return;
  }
  if (writeEv_) event_del(writeEv_);
}

void FramedSocket::onWritable(evutil_socket_t, short, void* arg) {
  static_cast<FramedSocket*>(arg)->flushOut();
}

// ---- receiving ----

void FramedSocket::onReadable(evutil_socket_t, short, void* arg) {
  static_cast<FramedSocket*>(arg)->readSome();
}

void FramedSocket::readSome() {
  // One recv per readiness: a burst from the peer is read on later loop turns, so one busy
  // connection cannot starve the loop.
  size_t capacity = in_.size() * sizeof(uint64_t);
  if (capacity - inEnd_ < kReadChunk / 2) {
    if (inBegin_ > 0) {  // compact: frames keep their alignment (all sizes are multiples of 8)
      std::memmove(in_.data(), reinterpret_cast<kj::byte*>(in_.data()) + inBegin_,
                   inEnd_ - inBegin_);
      inEnd_ -= inBegin_;
      inBegin_ = 0;
    }
    if (capacity - inEnd_ < kReadChunk / 2) {
      in_.resize(in_.size() + kReadChunk / sizeof(uint64_t));
      capacity = in_.size() * sizeof(uint64_t);
    }
  }
  auto* base = reinterpret_cast<kj::byte*>(in_.data());
  ssize_t n = ::recv(fd_, base + inEnd_, capacity - inEnd_, 0);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == ECONNRESET)
      n = 0;
    else
      return fail("recv failed");
  }
  if (n == 0) {
    eof_ = true;
    if (readEv_) event_del(readEv_);
    serveRpcRead();
    ended();
    return;
  }
  inEnd_ += static_cast<size_t>(n);
  parseFrames();
}

void FramedSocket::parseFrames() {
  auto* base = reinterpret_cast<kj::byte*>(in_.data());
  while (!failed_ && inEnd_ - inBegin_ >= kHeaderBytes) {
    const kj::byte* h = base + inBegin_;
    uint32_t len = getU32(h);
    uint32_t kind = getU32(h + 4);
    if (len > kMaxFrameBytes || (kind != kRpc && kind != kData)) return fail("a malformed frame");
    size_t total = kHeaderBytes + padded(len);
    if (inEnd_ - inBegin_ < total) {
      // Make room for the whole frame (at most kMaxFrameBytes plus a header).
      size_t need = total + kReadChunk;
      if (in_.size() * sizeof(uint64_t) < need) in_.resize(need / sizeof(uint64_t) + 1);
      break;
    }
    const kj::byte* payload = h + kHeaderBytes;
    if (kind == kRpc) {
      if (rpcIn_.size() - rpcBegin_ + len > kMaxPendingBytes)
        return fail("RPC bytes pile up unread");
      rpcIn_.insert(rpcIn_.end(), payload, payload + len);
    } else if (plane_->handler_) {
      // The handler may send (frames go to out_) but never frees this socket in the call.
      plane_->handler_(kj::arrayPtr(reinterpret_cast<const capnp::word*>(payload), len / 8));
    }
    inBegin_ += total;
  }
  if (inBegin_ == inEnd_) inBegin_ = inEnd_ = 0;
  serveRpcRead();
}

void FramedSocket::serveRpcRead() {
  if (!pending_.fulfiller) return;
  size_t avail = rpcIn_.size() - rpcBegin_;
  size_t k = std::min(avail, pending_.maxBytes - pending_.done);
  if (k > 0) {
    std::memcpy(pending_.buffer + pending_.done, rpcIn_.data() + rpcBegin_, k);
    rpcBegin_ += k;
    pending_.done += k;
    if (rpcBegin_ == rpcIn_.size()) {
      rpcIn_.clear();
      rpcBegin_ = 0;
    }
  }
  if (pending_.done >= pending_.minBytes || eof_) {
    auto f = kj::mv(pending_.fulfiller);
    size_t done = pending_.done;
    pending_ = PendingRead{};
    f->fulfill(kj::mv(done));
  }
}

kj::Promise<size_t> FramedSocket::tryRead(void* buffer, size_t minBytes, size_t maxBytes) {
  if (maxBytes == 0) return size_t{0};
  auto* out = static_cast<kj::byte*>(buffer);
  size_t avail = rpcIn_.size() - rpcBegin_;
  size_t k = std::min(avail, maxBytes);
  if (k >= std::max<size_t>(minBytes, 1) || (eof_ && k == avail)) {
    std::memcpy(out, rpcIn_.data() + rpcBegin_, k);
    rpcBegin_ += k;
    if (rpcBegin_ == rpcIn_.size()) {
      rpcIn_.clear();
      rpcBegin_ = 0;
    }
    return k;
  }
  auto paf = kj::newPromiseAndFulfiller<size_t>();
  pending_.buffer = out;
  pending_.minBytes = std::max<size_t>(minBytes, 1);
  pending_.maxBytes = maxBytes;
  pending_.done = 0;
  pending_.fulfiller = kj::mv(paf.fulfiller);
  serveRpcRead();  // what is there already
  return kj::mv(paf.promise);
}

kj::Promise<void> FramedSocket::write(const void* buffer, size_t size) {
  kj::ArrayPtr<const kj::byte> piece(static_cast<const kj::byte*>(buffer), size);
  return write(kj::arrayPtr(&piece, 1));
}

kj::Promise<void> FramedSocket::write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  if (!sendFrame(kRpc, pieces)) return KJ_EXCEPTION(DISCONNECTED, "the connection failed");
  return kj::READY_NOW;  // the bytes are written or copied into out_
}

void FramedSocket::onClosed(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<FramedSocket*>(arg);
  if (self->closedWaiter_) {
    auto f = kj::mv(self->closedWaiter_);
    f->fulfill();
  }
}

kj::Promise<void> FramedSocket::whenWriteDisconnected() {
  auto paf = kj::newPromiseAndFulfiller<void>();
  closedWaiter_ = kj::mv(paf.fulfiller);
  if (!closedEv_ || event_add(closedEv_, nullptr) != 0) return kj::NEVER_DONE;
  return kj::mv(paf.promise);
}

void FramedSocket::shutdownWrite() {
  flushOut();
  ::shutdown(fd_, SHUT_WR);
}

void FramedSocket::abortRead() {
  ::shutdown(fd_, SHUT_RD);
}

void FramedSocket::getsockopt(int level, int option, void* value, kj::uint* length) {
  socklen_t len = *length;
  if (::getsockopt(fd_, level, option, value, &len) != 0)
    kj::throwFatalException(KJ_EXCEPTION(FAILED, "getsockopt", errno));
  *length = len;
}

void FramedSocket::setsockopt(int level, int option, const void* value, kj::uint length) {
  if (::setsockopt(fd_, level, option, value, length) != 0)
    kj::throwFatalException(KJ_EXCEPTION(FAILED, "setsockopt", errno));
}

}  // namespace onionsplit::ipc
