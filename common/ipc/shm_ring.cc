// common/ipc/shm_ring.cc: the shared-memory ring's two sides (see shm_ring.h for the format and
// the trust rule).
#include "common/ipc/shm_ring.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace onionsplit::ipc {
namespace {

void storeLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t loadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

// A caller's bug (not a peer's): the ring's sizes are fixed at construction by our own code.
void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

bool ShmRing::validCapacity(size_t capacity) {
  return capacity >= kMinCapacity && capacity <= (size_t{1} << 30) &&
         (capacity & (capacity - 1)) == 0;
}

void ShmRing::format(void* mapping) {
  auto* h = new (mapping) ShmRingHeader;
  h->head.store(0, std::memory_order_relaxed);
  h->tail.store(0, std::memory_order_relaxed);
  h->consumerSleeping.store(0, std::memory_order_relaxed);
  h->producerWaiting.store(0, std::memory_order_relaxed);
}

// --- producer ---

ShmRingProducer::ShmRingProducer(void* mapping, size_t capacity, size_t maxPayload)
    : hdr_(static_cast<ShmRingHeader*>(mapping)),
      data_(static_cast<uint8_t*>(mapping) + ShmRing::kHeaderBytes),
      capacity_(capacity),
      mask_(capacity - 1),
      maxPayload_(maxPayload) {
  require(ShmRing::validCapacity(capacity) && maxPayload > 0 &&
          ShmRing::frameBytes(maxPayload) <= capacity);
}

bool ShmRingProducer::readTail(uint64_t* used) {
  if (violation_) return false;
  uint64_t tail = hdr_->tail.load(std::memory_order_acquire);
  *used = head_ - tail;
  if ((tail & 7) != 0 || *used > capacity_) {
    violation_ = "shared ring: the consumer's index is out of range";
    return false;
  }
  return true;
}

void ShmRingProducer::copyIn(uint64_t at, const uint8_t* src, size_t n) {
  size_t off = static_cast<size_t>(at & mask_);
  size_t first = std::min<size_t>(n, static_cast<size_t>(capacity_) - off);
  std::memcpy(data_ + off, src, first);
  std::memcpy(data_, src + first, n - first);
}

ShmRing::Status ShmRingProducer::write(std::span<const std::span<const uint8_t>> pieces) {
  size_t len = 0;
  for (auto p : pieces)
    len += p.size();
  require(len > 0 && len <= maxPayload_);
  uint64_t used;
  if (!readTail(&used)) return ShmRing::Status::kViolation;
  uint64_t need = ShmRing::frameBytes(len);
  if (need > capacity_ - used) return ShmRing::Status::kFull;
  uint8_t header[ShmRing::kFrameHeaderBytes] = {};
  storeLe32(header, static_cast<uint32_t>(len));
  copyIn(head_, header, sizeof header);
  uint64_t at = head_ + sizeof header;
  for (auto p : pieces) {
    if (p.empty()) continue;
    copyIn(at, p.data(), p.size());
    at += p.size();
  }
  // The padding after the payload is left as it was: the consumer skips it, and every byte of the
  // data area was already the producer's to write (nothing private shows through).
  head_ += need;
  hdr_->head.store(head_, std::memory_order_release);
  return ShmRing::Status::kOk;
}

bool ShmRingProducer::doorbellNeeded() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return hdr_->consumerSleeping.exchange(0, std::memory_order_relaxed) != 0;
}

bool ShmRingProducer::prepareWaitForSpace(size_t payload) {
  hdr_->producerWaiting.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint64_t used;
  if (readTail(&used) && ShmRing::frameBytes(payload) > capacity_ - used) return true;
  hdr_->producerWaiting.store(0, std::memory_order_relaxed);
  return false;
}

size_t ShmRingProducer::writable() {
  uint64_t used;
  if (!readTail(&used)) return 0;
  uint64_t free = capacity_ - used;
  if (free < ShmRing::frameBytes(1)) return 0;
  return static_cast<size_t>(std::min(maxPayload_, free - ShmRing::kFrameHeaderBytes));
}

// --- consumer ---

ShmRingConsumer::ShmRingConsumer(void* mapping, size_t capacity, size_t maxPayload)
    : hdr_(static_cast<ShmRingHeader*>(mapping)),
      data_(static_cast<const uint8_t*>(mapping) + ShmRing::kHeaderBytes),
      capacity_(capacity),
      mask_(capacity - 1),
      maxPayload_(maxPayload) {
  require(ShmRing::validCapacity(capacity) && maxPayload > 0 &&
          ShmRing::frameBytes(maxPayload) <= capacity);
}

bool ShmRingConsumer::fail(const char* why) {
  if (!violation_) violation_ = why;
  return false;
}

bool ShmRingConsumer::readHead(uint64_t* avail) {
  if (violation_) return false;
  uint64_t head = hdr_->head.load(std::memory_order_acquire);
  *avail = head - tail_;
  if ((head & 7) != 0 || *avail > capacity_)
    return fail("shared ring: the producer's index is out of range");
  return true;
}

void ShmRingConsumer::copyOut(uint64_t at, uint8_t* dst, size_t n) const {
  size_t off = static_cast<size_t>(at & mask_);
  size_t first = std::min<size_t>(n, static_cast<size_t>(capacity_) - off);
  std::memcpy(dst, data_ + off, first);
  std::memcpy(dst + first, data_, n - first);
}

ShmRing::Status ShmRingConsumer::read(std::span<uint8_t> out, size_t* length) {
  require(out.size() >= maxPayload_);
  uint64_t avail;
  if (!readHead(&avail)) return ShmRing::Status::kViolation;
  if (avail == 0) return ShmRing::Status::kEmpty;
  // Read the header once, into private memory: the producer may rewrite it at any time.
  uint8_t header[ShmRing::kFrameHeaderBytes];
  copyOut(tail_, header, sizeof header);
  uint32_t len = loadLe32(header), reserved = loadLe32(header + 4);
  if (reserved != 0) {
    fail("shared ring: a frame header's reserved word is not zero");
  } else if (len == 0 || len > maxPayload_) {
    fail("shared ring: a frame's length is out of range");
  } else if (ShmRing::frameBytes(len) > avail) {
    fail("shared ring: a frame runs past the published bytes");
  }
  if (violation_) return ShmRing::Status::kViolation;
  copyOut(tail_ + sizeof header, out.data(), len);
  tail_ += ShmRing::frameBytes(len);
  hdr_->tail.store(tail_, std::memory_order_release);
  *length = len;
  return ShmRing::Status::kOk;
}

bool ShmRingConsumer::prepareSleep() {
  hdr_->consumerSleeping.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint64_t avail;
  if (readHead(&avail) && avail == 0) return true;
  hdr_->consumerSleeping.store(0, std::memory_order_relaxed);
  return false;
}

void ShmRingConsumer::awake() {
  hdr_->consumerSleeping.store(0, std::memory_order_relaxed);
}

bool ShmRingConsumer::producerDoorbellNeeded() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  return hdr_->producerWaiting.exchange(0, std::memory_order_relaxed) != 0;
}

}  // namespace onionsplit::ipc
