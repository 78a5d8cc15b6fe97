// fuzz/fuzz_shm_ring.cc: common/ipc/shm_ring's two sides against a hostile peer's shared memory.
// The input is what the peer can write: the peer's index (head for our consumer, tail for our
// producer), its flags, and every byte of the data area. Invariants: nothing is read or written
// outside the mapping (ASan), a frame read is never longer than maxPayload, and a violation,
// once found, stays.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "common/ipc/shm_ring.h"

using namespace onionsplit::ipc;

namespace {

constexpr size_t kCapacity = ShmRing::kMinCapacity;
constexpr size_t kMaxPayload = 1024;

uint64_t take64(const uint8_t*& p, size_t& n) {
  uint64_t v = 0;
  size_t k = std::min<size_t>(8, n);
  std::memcpy(&v, p, k);
  p += k;
  n -= k;
  return v;
}

struct Mapping {
  alignas(64) std::array<uint8_t, ShmRing::mappingBytes(kCapacity)> bytes{};
  Mapping() { ShmRing::format(bytes.data()); }
  ShmRingHeader* header() { return std::launder(reinterpret_cast<ShmRingHeader*>(bytes.data())); }
  uint8_t* data() { return bytes.data() + ShmRing::kHeaderBytes; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* p = data;
  size_t n = size;
  const uint64_t head = take64(p, n), tail = take64(p, n);
  const uint64_t flags = take64(p, n);

  {  // our consumer, the peer's head and frames
    Mapping m;
    std::memcpy(m.data(), p, std::min(n, kCapacity));
    m.header()->head.store(head, std::memory_order_relaxed);
    m.header()->producerWaiting.store(static_cast<uint32_t>(flags), std::memory_order_relaxed);
    ShmRingConsumer c(m.bytes.data(), kCapacity, kMaxPayload);
    std::vector<uint8_t> out(kMaxPayload);
    for (int i = 0; i < 64; ++i) {
      size_t length = 0;
      auto st = c.read(out, &length);
      if (st == ShmRing::Status::kOk && length > kMaxPayload) __builtin_trap();
      if (st == ShmRing::Status::kViolation) {
        if (!c.violated() || c.read(out, &length) != ShmRing::Status::kViolation) __builtin_trap();
        break;
      }
      if (st == ShmRing::Status::kEmpty) {
        (void)c.prepareSleep();
        c.awake();
        break;
      }
      (void)c.producerDoorbellNeeded();
    }
  }
  {  // our producer, the peer's tail
    Mapping m;
    m.header()->tail.store(tail, std::memory_order_relaxed);
    m.header()->consumerSleeping.store(static_cast<uint32_t>(flags >> 32),
                                       std::memory_order_relaxed);
    ShmRingProducer prod(m.bytes.data(), kCapacity, kMaxPayload);
    std::array<uint8_t, kMaxPayload> payload{};
    for (int i = 0; i < 16; ++i) {
      size_t len = 1 + (i * 97 + n) % kMaxPayload;
      std::span<const uint8_t> piece(payload.data(), len);
      std::array<std::span<const uint8_t>, 1> pieces{piece};
      auto st = prod.write(pieces);
      if (st == ShmRing::Status::kViolation) {
        if (prod.write(pieces) != ShmRing::Status::kViolation) __builtin_trap();
        break;
      }
      (void)prod.doorbellNeeded();
      if (st == ShmRing::Status::kFull) (void)prod.prepareWaitForSpace(len);
    }
  }
  return 0;
}
