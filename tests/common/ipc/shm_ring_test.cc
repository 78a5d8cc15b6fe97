// tests/common/ipc/shm_ring_test.cc: the shared-memory ring carries frames whole and in order
// across its end, stops at full, treats every impossible value a hostile peer can write into the
// shared header as a violation, and, between two threads on two mappings of one memfd with socket
// doorbells, loses neither a frame nor a wake-up.
#include "common/ipc/shm_ring.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

namespace onionsplit::ipc {
namespace {

using Status = ShmRing::Status;
constexpr size_t kCap = 4096;
constexpr size_t kMax = 1500;

// One ring in private memory (page-aligned, formatted), both sides on it.
struct Ring {
  Ring() { ShmRing::format(base); }
  ShmRingHeader& hdr() { return *reinterpret_cast<ShmRingHeader*>(base); }
  uint8_t* data() { return base + ShmRing::kHeaderBytes; }
  std::vector<uint8_t> mem = std::vector<uint8_t>(ShmRing::mappingBytes(kCap) + 4096);
  uint8_t* base = mem.data() + (4096 - reinterpret_cast<uintptr_t>(mem.data()) % 4096);
  ShmRingProducer tx{base, kCap, kMax};
  ShmRingConsumer rx{base, kCap, kMax};
};

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<uint8_t>(seed * 31 + i * 7);
  return v;
}

Status put(ShmRingProducer& tx, const std::vector<uint8_t>& v) {
  std::span<const uint8_t> one[] = {v};
  return tx.write(one);
}

std::vector<uint8_t> take(ShmRingConsumer& rx, Status* st) {
  std::vector<uint8_t> out(kMax);
  size_t n = 0;
  *st = rx.read(out, &n);
  out.resize(*st == Status::kOk ? n : 0);
  return out;
}

TEST(ShmRing, FramesArriveWholeAndInOrderAcrossTheEnd) {
  Ring r;
  Status st;
  EXPECT_EQ(take(r.rx, &st).size(), 0u);
  EXPECT_EQ(st, Status::kEmpty);
  // 1000-byte frames (1008 in the ring) in a 4096-byte ring: payloads straddle the end.
  for (uint32_t i = 0; i < 100; ++i) {
    auto a = pattern(1000 + i % 3, i), b = pattern(1 + i % 9, i + 1000);
    ASSERT_EQ(put(r.tx, a), Status::kOk);
    ASSERT_EQ(put(r.tx, b), Status::kOk);
    EXPECT_EQ(take(r.rx, &st), a) << i;
    EXPECT_EQ(take(r.rx, &st), b) << i;
  }
  EXPECT_GT(r.hdr().head.load(), 20 * kCap);
  EXPECT_EQ(r.hdr().head.load(), r.hdr().tail.load());
  take(r.rx, &st);
  EXPECT_EQ(st, Status::kEmpty);
}

TEST(ShmRing, GatheredPiecesMakeOneFrame) {
  Ring r;
  auto a = pattern(5, 1), b = pattern(0, 2), c = pattern(700, 3);
  std::span<const uint8_t> pieces[] = {a, b, c};
  ASSERT_EQ(r.tx.write(pieces), Status::kOk);
  std::vector<uint8_t> whole = a;
  whole.insert(whole.end(), c.begin(), c.end());
  Status st;
  EXPECT_EQ(take(r.rx, &st), whole);
}

TEST(ShmRing, FullRingRefusesUntilTheConsumerFreesSpace) {
  Ring r;
  auto f = pattern(1000, 7);  // 1008 bytes: four fit in 4096
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(put(r.tx, f), Status::kOk);
  EXPECT_EQ(r.tx.writable(), 4096u - 4 * 1008 - 8);
  EXPECT_EQ(put(r.tx, f), Status::kFull);
  EXPECT_TRUE(r.tx.prepareWaitForSpace(f.size()));
  EXPECT_EQ(r.hdr().producerWaiting.load(), 1u);
  Status st;
  EXPECT_EQ(take(r.rx, &st), f);
  EXPECT_TRUE(r.rx.producerDoorbellNeeded());
  EXPECT_FALSE(r.rx.producerDoorbellNeeded());  // taken once
  EXPECT_FALSE(r.tx.prepareWaitForSpace(f.size()));
  EXPECT_EQ(r.hdr().producerWaiting.load(), 0u);
  EXPECT_EQ(put(r.tx, f), Status::kOk);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(take(r.rx, &st), f);
  EXPECT_EQ(r.tx.writable(), kMax);
}

TEST(ShmRing, DoorbellOnlyWhenTheConsumerSleeps) {
  Ring r;
  auto f = pattern(10, 1);
  ASSERT_EQ(put(r.tx, f), Status::kOk);
  EXPECT_FALSE(r.tx.doorbellNeeded());  // the consumer is awake
  EXPECT_FALSE(r.rx.prepareSleep());    // a frame is there: do not sleep
  EXPECT_EQ(r.hdr().consumerSleeping.load(), 0u);
  Status st;
  take(r.rx, &st);
  EXPECT_TRUE(r.rx.prepareSleep());
  ASSERT_EQ(put(r.tx, f), Status::kOk);
  EXPECT_TRUE(r.tx.doorbellNeeded());
  EXPECT_FALSE(r.tx.doorbellNeeded());  // one doorbell per sleep
}

TEST(ShmRing, ReadCopiesOutBeforeAnyoneLooks) {
  Ring r;
  auto f = pattern(64, 5);
  ASSERT_EQ(put(r.tx, f), Status::kOk);
  Status st;
  auto got = take(r.rx, &st);
  std::memset(r.data(), 0xee, kCap);  // the producer scribbles after the read
  EXPECT_EQ(got, f);
}

// The consumer against each impossible value a hostile producer can publish. Each is sticky.
void expectConsumerViolation(void (*tamper)(Ring&)) {
  Ring r;
  tamper(r);
  Status st;
  take(r.rx, &st);
  EXPECT_EQ(st, Status::kViolation);
  EXPECT_TRUE(r.rx.violated());
  EXPECT_NE(r.rx.violation(), nullptr);
  EXPECT_FALSE(r.rx.prepareSleep());
  r.hdr().head.store(0);  // even a sane value afterwards does not revive it
  take(r.rx, &st);
  EXPECT_EQ(st, Status::kViolation);
}

void header(Ring& r, uint64_t at, uint32_t len, uint32_t reserved) {
  std::memcpy(r.data() + at, &len, 4);  // (little-endian host)
  std::memcpy(r.data() + at + 4, &reserved, 4);
}

TEST(ShmRing, HostileProducerValuesAreViolations) {
  expectConsumerViolation([](Ring& r) { r.hdr().head.store(12); });            // misaligned
  expectConsumerViolation([](Ring& r) { r.hdr().head.store(kCap + 8); });      // beyond capacity
  expectConsumerViolation([](Ring& r) { r.hdr().head.store(~uint64_t{7}); });  // behind the tail
  expectConsumerViolation([](Ring& r) {
    header(r, 0, 0, 0);  // empty frame
    r.hdr().head.store(8);
  });
  expectConsumerViolation([](Ring& r) {
    header(r, 0, kMax + 1, 0);  // above the limit
    r.hdr().head.store(kCap);
  });
  expectConsumerViolation([](Ring& r) {
    header(r, 0, 0xffffffffu, 0);
    r.hdr().head.store(kCap);
  });
  expectConsumerViolation([](Ring& r) {
    header(r, 0, 100, 0);  // runs past what was published
    r.hdr().head.store(64);
  });
  expectConsumerViolation([](Ring& r) {
    header(r, 0, 8, 1);  // reserved word set
    r.hdr().head.store(16);
  });
}

TEST(ShmRing, HostileConsumerValuesAreViolations) {
  for (uint64_t tail : {uint64_t{4}, uint64_t{16}, uint64_t{0} - kCap - 8}) {
    Ring r;
    auto f = pattern(8, 1);
    r.hdr().tail.store(tail);  // misaligned; ahead of the head; too far behind it
    EXPECT_EQ(put(r.tx, f), Status::kViolation) << tail;
    EXPECT_TRUE(r.tx.violated());
    EXPECT_EQ(r.tx.writable(), 0u);
    r.hdr().tail.store(0);
    EXPECT_EQ(put(r.tx, f), Status::kViolation);  // sticky
  }
  // A consumer claiming to have read everything (tail = head) is legal, not a violation.
  Ring r;
  auto f = pattern(8, 1);
  ASSERT_EQ(put(r.tx, f), Status::kOk);
  r.hdr().tail.store(16);
  EXPECT_EQ(put(r.tx, f), Status::kOk);
}

// Two threads, two mappings of one memfd, a socketpair per doorbell: every frame arrives intact and
// in order, and neither side sleeps through the other's doorbell (a lost wake-up hangs the test).
struct Shared {
  Shared() {
    fd = memfd_create("shm_ring_test", MFD_CLOEXEC);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(ftruncate(fd, ShmRing::mappingBytes(kCap)), 0);
    for (void*& m : maps) {
      m = mmap(nullptr, ShmRing::mappingBytes(kCap), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      EXPECT_NE(m, MAP_FAILED);
    }
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, bell), 0);
  }
  ~Shared() {
    for (void* m : maps)
      munmap(m, ShmRing::mappingBytes(kCap));
    close(fd);
    close(bell[0]);
    close(bell[1]);
  }
  int fd;
  void* maps[2];
  int bell[2];  // [0] the producer's end, [1] the consumer's
};

void ring(int fd) {
  char b = 1;
  ASSERT_EQ(::write(fd, &b, 1), 1);
}
void sleepOn(int fd) {
  char b[64];
  ASSERT_GT(::read(fd, b, sizeof b), 0);  // drains spurious doorbells too
}

TEST(ShmRing, TwoThreadsLoseNoFrameAndNoWakeUp) {
  Shared s;
  constexpr uint32_t kFrames = 200000;
  std::thread producer([&] {
    ShmRingProducer tx(s.maps[0], kCap, kMax);
    std::vector<uint8_t> buf(kMax);
    for (uint32_t i = 0; i < kFrames; ++i) {
      size_t n = 1 + (i * 2654435761u) % kMax;
      std::memcpy(buf.data(), &i, 4);
      std::memset(buf.data() + 4, static_cast<int>(i), n > 4 ? n - 4 : 0);
      std::span<const uint8_t> one[] = {std::span<const uint8_t>(buf.data(), n)};
      Status st;
      while ((st = tx.write(one)) == Status::kFull) {
        if (tx.doorbellNeeded()) ring(s.bell[0]);  // never wait with the consumer asleep
        if (tx.prepareWaitForSpace(n)) sleepOn(s.bell[0]);
      }
      ASSERT_EQ(st, Status::kOk);
      if (i % 7 == 0 && tx.doorbellNeeded()) ring(s.bell[0]);  // several frames per doorbell
    }
    if (tx.doorbellNeeded()) ring(s.bell[0]);
  });
  ShmRingConsumer rx(s.maps[1], kCap, kMax);
  std::vector<uint8_t> out(kMax);
  uint32_t got = 0, sleeps = 0;
  bool ok = true;
  while (got < kFrames && ok) {
    size_t n = 0;
    Status st = rx.read(out, &n);
    if (st == Status::kEmpty) {
      if (rx.prepareSleep()) {
        ++sleeps;
        sleepOn(s.bell[1]);
        rx.awake();
      }
      continue;
    }
    ASSERT_EQ(st, Status::kOk) << rx.violation();
    uint32_t seq = 0;
    std::memcpy(&seq, out.data(), n < 4 ? n : 4);
    ok = n == 1 + (got * 2654435761u) % kMax && (n < 4 || seq == got) &&
         (n <= 4 || (out[4] == static_cast<uint8_t>(got) && out[n - 1] == out[4]));
    EXPECT_TRUE(ok) << "frame " << got << " length " << n;
    ++got;
    if (rx.producerDoorbellNeeded()) ring(s.bell[1]);
  }
  producer.join();
  EXPECT_EQ(got, kFrames);
  EXPECT_FALSE(rx.violated());
  std::printf("two threads: %u frames, consumer slept %u times\n", got, sleeps);
}

}  // namespace
}  // namespace onionsplit::ipc
