// common/ipc/shm_ring.h: a single-producer, single-consumer byte ring in memory shared by two
// processes (a memfd both map), one per direction of a connection. Pure: no system calls; the
// caller maps the memory and rings the doorbell (one byte on a socket, an eventfd).
//
// Why: each Unix-socket crossing copies a batch into the kernel and out again and wakes the
// reader. Through a ring the producer writes a frame once into shared memory and the consumer
// copies it once into private memory; the doorbell is needed only when the consumer sleeps.
// Status: measured in bench/bench_ipc.cc against the socket, not wired into the daemons (the
// estimated saving per hop was 9-14%, docs/BENCHMARKS.md, "A shared-memory ring instead of the
// socket").
//
// Layout: a 256-byte header (four 64-byte lines: head, tail, consumerSleeping, producerWaiting)
// and then `capacity` bytes of data (a power of two). head and tail count bytes written and
// consumed since the start, modulo 2^64; data byte i lives at i % capacity. A frame is an 8-byte
// header (payload length, little-endian u32; a u32 that must be 0) and the payload padded to a
// multiple of 8 bytes, so every frame starts 8-aligned and its header never wraps; the payload may
// wrap around the end of the data area. The producer publishes a frame whole: head moves past it
// only after all of its bytes are written.
//
// Trust: the peer may be hostile and may write anything to the shared memory at any time. Each side
// keeps its own index privately and only reads the peer's: the consumer never reads tail back, the
// producer never reads head back. A peer's index that is misaligned or more than `capacity` away
// from ours, a frame header with a length of 0, above the limit or beyond what was published, or a
// non-zero reserved word, is a contract violation: the side returns kViolation from then on and
// the connection's owner drops the connection. The consumer copies a frame into the caller's
// private buffer before anyone looks at it, so the producer cannot change a message after it was
// checked; what it scribbles during the copy only corrupts its own message, which the parser
// then checks like any other bytes.
//
// Doorbell protocol (no lost wake-up): the consumer, before sleeping, calls prepareSleep(), which
// sets consumerSleeping, issues a sequentially consistent fence and checks the ring again; it
// sleeps only if that returns true. The producer, after writing frames, calls doorbellNeeded(),
// which issues the same fence and takes (exchanges to 0) consumerSleeping: either the consumer's
// check sees the new head, or the producer sees the flag and rings. The same protocol runs the
// other way when the ring is full (producerWaiting, prepareWaitForSpace, producerDoorbellNeeded).
// A producer rings before it waits for space (else both sides may sleep). Spurious doorbells are
// harmless: a woken side drains what there is.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace onionsplit::ipc {

struct ShmRingHeader {
  alignas(64) std::atomic<uint64_t> head;              // written by the producer
  alignas(64) std::atomic<uint64_t> tail;              // written by the consumer
  alignas(64) std::atomic<uint32_t> consumerSleeping;  // set by the consumer, taken by the producer
  alignas(64) std::atomic<uint32_t> producerWaiting;   // set by the producer, taken by the consumer
};
static_assert(sizeof(ShmRingHeader) == 256);
static_assert(std::atomic<uint64_t>::is_always_lock_free);

class ShmRing {
 public:
  static constexpr size_t kHeaderBytes = sizeof(ShmRingHeader);
  static constexpr size_t kFrameHeaderBytes = 8;
  static constexpr size_t kMinCapacity = 4096;
  // Bytes to map for a ring of `capacity` data bytes.
  static constexpr size_t mappingBytes(size_t capacity) { return kHeaderBytes + capacity; }
  // Bytes a frame of `payload` bytes takes in the ring.
  static constexpr uint64_t frameBytes(size_t payload) {
    return kFrameHeaderBytes + ((static_cast<uint64_t>(payload) + 7) & ~uint64_t{7});
  }
  // Whether `capacity` is usable: a power of two, at least kMinCapacity, at most 1 GiB.
  static bool validCapacity(size_t capacity);
  // Zeroes the header of a fresh mapping (a new memfd already reads as zeros).
  static void format(void* mapping);

  enum class Status { kOk, kEmpty, kFull, kViolation };
};

class ShmRingProducer {
 public:
  // `mapping` is ShmRing::mappingBytes(capacity) bytes, 64-aligned (a page), formatted; frames
  // carry at most `maxPayload` bytes (at most capacity - 8). Both are the caller's to get right.
  ShmRingProducer(void* mapping, size_t capacity, size_t maxPayload);

  // Writes one frame made of `pieces` (gathered), whole, and publishes it. kFull: no room now
  // (nothing written; wait for space); kViolation: the consumer's tail is impossible. A frame
  // longer than maxPayload or empty is the caller's bug (it aborts).
  ShmRing::Status write(std::span<const std::span<const uint8_t>> pieces);
  // After one or more writes: whether the consumer sleeps and must be woken (takes the flag).
  bool doorbellNeeded();
  // Before sleeping on a full ring: true if a frame of `payload` bytes still does not fit, so it is
  // safe to sleep until the consumer's doorbell; false: write again now.
  bool prepareWaitForSpace(size_t payload);
  // Bytes the frame of the largest payload that fits now may carry (0 if none or violated).
  size_t writable();
  bool violated() const { return violation_ != nullptr; }
  const char* violation() const { return violation_; }

 private:
  bool readTail(uint64_t* used);
  void copyIn(uint64_t at, const uint8_t* src, size_t n);

  ShmRingHeader* hdr_;
  uint8_t* data_;
  uint64_t capacity_, mask_, maxPayload_;
  uint64_t head_ = 0;  // private: never read back from the shared header
  const char* violation_ = nullptr;
};

class ShmRingConsumer {
 public:
  // As ShmRingProducer's; the caller's buffers for read() must hold maxPayload bytes.
  ShmRingConsumer(void* mapping, size_t capacity, size_t maxPayload);

  // Copies the next frame's payload into `out` (private memory, at least maxPayload bytes) and
  // sets *length. kEmpty: nothing published; kViolation: the producer broke the format.
  ShmRing::Status read(std::span<uint8_t> out, size_t* length);
  // Before sleeping: true if the ring is still empty (safe to sleep until the doorbell); false if
  // a frame arrived meanwhile (read again; the flag is cleared).
  bool prepareSleep();
  // After a sleep (a doorbell or anything else woke the consumer): clears the flag, so an awake
  // consumer is not rung.
  void awake();
  // After reading: whether the producer waits for space and must be woken (takes the flag).
  bool producerDoorbellNeeded();
  bool violated() const { return violation_ != nullptr; }
  const char* violation() const { return violation_; }

 private:
  // Published bytes not yet read, validated; sets the violation and returns false if impossible.
  bool readHead(uint64_t* avail);
  bool fail(const char* why);
  void copyOut(uint64_t at, uint8_t* dst, size_t n) const;

  ShmRingHeader* hdr_;
  const uint8_t* data_;
  uint64_t capacity_, mask_, maxPayload_;
  uint64_t tail_ = 0;  // private: never read back from the shared header
  const char* violation_ = nullptr;
};

}  // namespace onionsplit::ipc
