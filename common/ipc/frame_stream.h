// common/ipc/frame_stream.h: one Unix socket between two daemons, carrying two kinds of frames:
// Cap'n Proto RPC (bootstrap, attach, control) and the data plane (BatchPipe's batches).
//
// Why: a batch pushed as an RPC call costs a Call, a Return and a Finish message, a promise chain
// and the RPC system's tables on both sides, for what is a one-way message whose flow control is
// the credit inside it (batch_pipe.h). On the data plane a batch is one frame: one write by the
// sender, read and handed to the BatchPipe in place by the receiver, with no reply.
//
// Wire format, both directions: frames of an 8-byte header (payload length, little-endian u32;
// kind, u32: 1 = RPC bytes, 2 = a data message) and the payload padded to a multiple of 8 bytes.
// A data message is a Cap'n Proto message in the standard framing (segment table, segments). RPC
// frames carry Cap'n Proto's own byte stream, which FramedSocket presents to the RPC system as a
// kj::AsyncIoStream.
//
// Trust: the peer is another daemon and may be hostile: a frame longer than kMaxFrameBytes, an
// unknown kind, or RPC bytes piling up unread close the socket (the connection's owner sees it
// end). Data messages are checked by their receiver (BatchPipe parses them with traversal limits).
//
// Lifetime: the socket belongs to its RpcConnection. A DataPlane outlives it (shared): once the
// socket is gone, sends through the plane do nothing and its handler is never called again.
#pragma once

#include <event2/event.h>

#include <capnp/common.h>
#include <kj/async-io.h>
#include <kj/async.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

struct evbuffer;

namespace onionsplit::ipc {

class FramedSocket;

// The data plane of one connection, as its BatchPipe sees it.
class DataPlane {
 public:
  // A data message arrived: the words are valid until the handler returns.
  using Handler = std::function<void(kj::ArrayPtr<const capnp::word> message)>;

  // Sends one Cap'n Proto message (its segments) as a data frame. False if the connection is gone
  // or failed.
  bool send(kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments);
  void setHandler(Handler h) { handler_ = std::move(h); }
  bool connected() const { return socket_ != nullptr; }

 private:
  friend class FramedSocket;
  FramedSocket* socket_ = nullptr;
  Handler handler_;
};

class FramedSocket final : public kj::AsyncIoStream {
 public:
  // Largest payload of one frame (a batch of 1024 events of at most 640 bytes fits with room).
  static constexpr uint32_t kMaxFrameBytes = 4u << 20;
  // RPC bytes received and not yet read by the RPC system, and bytes queued for sending, beyond
  // which the connection is considered broken.
  static constexpr size_t kMaxPendingBytes = 16u << 20;

  // Takes ownership of `fd` (connected, non-blocking SOCK_STREAM).
  FramedSocket(event_base* base, int fd);
  ~FramedSocket();
  KJ_DISALLOW_COPY(FramedSocket);

  std::shared_ptr<DataPlane> dataPlane() { return plane_; }
  bool failed() const { return failed_; }
  // Resolves when the peer closed the socket or it failed. The RPC system alone would not notice
  // on a side that never made an RPC call (it reads only once it has a connection).
  kj::Promise<void> whenEnded() { return ended_.addBranch(); }

  // kj::AsyncIoStream, for the RPC system: its bytes travel in RPC frames.
  kj::Promise<size_t> tryRead(void* buffer, size_t minBytes, size_t maxBytes) override;
  kj::Promise<void> write(const void* buffer, size_t size) override;
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override;
  kj::Promise<void> whenWriteDisconnected() override;
  void shutdownWrite() override;
  void abortRead() override;
  void getsockopt(int level, int option, void* value, kj::uint* length) override;
  void setsockopt(int level, int option, const void* value, kj::uint length) override;
  kj::Maybe<int> getFd() const override { return fd_; }

 private:
  friend class DataPlane;
  enum Kind : uint32_t { kRpc = 1, kData = 2 };

  // Queues or writes one frame; false if the socket failed.
  bool sendFrame(Kind kind, kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces);
  static void onReadable(evutil_socket_t, short, void* arg);
  static void onWritable(evutil_socket_t, short, void* arg);
  static void onClosed(evutil_socket_t, short, void* arg);
  void readSome();
  void parseFrames();
  void flushOut();
  void serveRpcRead();
  void fail(const char* why);

  int fd_;
  event* readEv_ = nullptr;
  event* writeEv_ = nullptr;
  event* closedEv_ = nullptr;
  evbuffer* out_ = nullptr;  // frames not yet written, in order
  // Received bytes not yet parsed, word-aligned (frames keep 8-byte alignment).
  // (uint64_t, not capnp::word: a vector must move its elements, which capnp::word forbids)
  std::vector<uint64_t> in_;
  size_t inBegin_ = 0, inEnd_ = 0;  // in bytes
  // RPC bytes received, not yet read by the RPC system.
  std::vector<kj::byte> rpcIn_;
  size_t rpcBegin_ = 0;
  struct PendingRead {
    kj::byte* buffer = nullptr;
    size_t minBytes = 0, maxBytes = 0, done = 0;
    kj::Own<kj::PromiseFulfiller<size_t>> fulfiller;
  };
  PendingRead pending_;
  kj::Own<kj::PromiseFulfiller<void>> closedWaiter_;
  bool eof_ = false;
  bool failed_ = false;
  void ended();
  kj::Own<kj::PromiseFulfiller<void>> endedFulfiller_;
  kj::ForkedPromise<void> ended_ = makeEnded();
  kj::ForkedPromise<void> makeEnded() {
    auto paf = kj::newPromiseAndFulfiller<void>();
    endedFulfiller_ = kj::mv(paf.fulfiller);
    return paf.promise.fork();
  }
  std::shared_ptr<DataPlane> plane_ = std::make_shared<DataPlane>();
};

}  // namespace onionsplit::ipc
