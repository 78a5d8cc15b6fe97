// tests/common/ipc/frame_stream_test.cc: RPC bytes and data frames share one socket, each kind
// arriving intact and in order; a hostile peer's malformed frame closes the connection.
#include "common/ipc/frame_stream.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/ipc/event_loop.h"

namespace onionsplit::ipc {
namespace {

class FrameStreamTest : public ::testing::Test {
 protected:
  FrameStreamTest() {
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    a = std::make_unique<FramedSocket>(loop.base(), sv[0]);
    bFd = sv[1];
    b = std::make_unique<FramedSocket>(loop.base(), sv[1]);
  }
  void turn(int n = 50) {
    for (int i = 0; i < n; ++i) {
      kj::evalLater([] {}).wait(loop.waitScope());
      event_base_loop(loop.base(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  bool sendWords(FramedSocket& s, const std::vector<uint64_t>& seg) {
    kj::ArrayPtr<const capnp::word> one =
        kj::arrayPtr(reinterpret_cast<const capnp::word*>(seg.data()), seg.size());
    return s.dataPlane()->send(kj::arrayPtr(&one, 1));
  }

  EventLoop loop;
  std::unique_ptr<FramedSocket> a, b;
  int bFd = -1;
};

TEST_F(FrameStreamTest, RpcBytesAndDataFramesArriveInOrderAndIntact) {
  std::vector<std::vector<uint64_t>> got;
  b->dataPlane()->setHandler([&](kj::ArrayPtr<const capnp::word> m) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.begin()) % 8, 0u) << "data frames are word-aligned";
    auto* w = reinterpret_cast<const uint64_t*>(m.begin());
    got.emplace_back(w, w + m.size());
  });
  std::string rpc = "hello, rpc";  // not a multiple of 8: padded on the wire
  a->write(rpc.data(), rpc.size()).wait(loop.waitScope());
  std::vector<uint64_t> seg(3000);
  for (size_t i = 0; i < seg.size(); ++i)
    seg[i] = i * 0x9e3779b97f4a7c15ULL;
  // 200 frames of 24 KB: more than the socket holds, so some wait in the sender's queue.
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(sendWords(*a, seg));
  a->write(rpc.data(), rpc.size()).wait(loop.waitScope());
  std::string back(2 * rpc.size(), '\0');
  size_t n = b->tryRead(back.data(), back.size(), back.size()).wait(loop.waitScope());
  EXPECT_EQ(n, back.size());
  EXPECT_EQ(back, rpc + rpc);
  turn();
  ASSERT_EQ(got.size(), 200u);
  for (auto& m : got) {
    // One segment message: table (2 u32: count-1, size) then the segment.
    ASSERT_EQ(m.size(), seg.size() + 1);
    EXPECT_EQ(std::memcmp(m.data() + 1, seg.data(), seg.size() * 8), 0);
  }
}

TEST_F(FrameStreamTest, AMalformedFrameClosesTheConnection) {
  int called = 0;
  a->dataPlane()->setHandler([&](kj::ArrayPtr<const capnp::word>) { ++called; });
  // A hostile peer writes a header with an unknown kind straight onto the socket.
  b.reset();  // b's socket is closed; use a raw socketpair end instead
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  FramedSocket victim(loop.base(), sv[0]);
  uint8_t bad[8] = {8, 0, 0, 0, 9, 0, 0, 0};
  ASSERT_EQ(write(sv[1], bad, sizeof bad), 8);
  char c;
  auto r = victim.tryRead(&c, 1, 1);
  EXPECT_EQ(r.wait(loop.waitScope()), 0u) << "the RPC side sees the end";
  EXPECT_TRUE(victim.failed());
  close(sv[1]);
}

TEST_F(FrameStreamTest, AnOversizedFrameClosesTheConnection) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  FramedSocket victim(loop.base(), sv[0]);
  uint32_t len = FramedSocket::kMaxFrameBytes + 8;
  uint8_t bad[8] = {static_cast<uint8_t>(len),
                    static_cast<uint8_t>(len >> 8),
                    static_cast<uint8_t>(len >> 16),
                    static_cast<uint8_t>(len >> 24),
                    2,
                    0,
                    0,
                    0};
  ASSERT_EQ(write(sv[1], bad, sizeof bad), 8);
  char c;
  EXPECT_EQ(victim.tryRead(&c, 1, 1).wait(loop.waitScope()), 0u);
  EXPECT_TRUE(victim.failed());
  close(sv[1]);
}

TEST_F(FrameStreamTest, SendsAfterTheSocketIsGoneDoNothing) {
  auto plane = a->dataPlane();
  a.reset();
  std::vector<uint64_t> seg(4);
  kj::ArrayPtr<const capnp::word> one =
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(seg.data()), seg.size());
  EXPECT_FALSE(plane->send(kj::arrayPtr(&one, 1)));
  EXPECT_FALSE(plane->connected());
}

}  // namespace
}  // namespace onionsplit::ipc
