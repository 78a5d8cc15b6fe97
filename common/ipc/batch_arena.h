// common/ipc/batch_arena.h: where a BatchPipe builds its data frames: two reused, zeroed buffers
// per pipe, so a batch costs no allocation and carries no unused event slots on the wire.
//
// Why two: a batch's event list is allocated for the most events it may hold (maxBatch) before
// the first event is known, and truncated when the batch is flushed. In one segment the events'
// bodies follow the list, so the truncated slots stayed in the message as zeros: with maxBatch
// 256 a batch of 14 relay messages was 13.5 KiB on the wire instead of 7.6 KiB. Here the head
// holds exactly the root and the full list; everything the events point to goes to the body, so
// the list ends its segment and truncating it gives the unused slots back.
//
// The body starts at kFirstBodyWords and grows (up to a bound) to the largest batch seen, so the
// steady state allocates nothing; a batch larger than the body spills into heap segments for that
// batch only. The destructor zeroes what the message used, as capnp requires of a reused first
// segment (MallocMessageBuilder does the same for its own).
#pragma once

#include <capnp/message.h>
#include <kj/array.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace onionsplit::ipc {

// The reused buffers of one pipe's sending side (uint64_t: capnp::word cannot live in a vector).
struct BatchArena {
  static constexpr size_t kFirstBodyWords = 4096;
  std::vector<uint64_t> head, body;
  size_t maxBodyWords = kFirstBodyWords;  // the body never grows beyond this
};

class BatchMessageBuilder final : public capnp::MessageBuilder {
 public:
  // `headWords`: the root pointer, the root struct and the full event list.
  BatchMessageBuilder(BatchArena& arena, size_t headWords) : arena_(arena) {
    if (arena_.head.size() < headWords) arena_.head.assign(headWords, 0);
    if (arena_.body.empty()) arena_.body.assign(BatchArena::kFirstBodyWords, 0);
  }
  ~BatchMessageBuilder() noexcept(false) {
    if (next_ == 0) return;
    size_t bodyUsed = 0;
    bool spilled = false;
    for (auto segment : getSegmentsForOutput()) {
      auto* p = reinterpret_cast<uint64_t*>(const_cast<capnp::word*>(segment.begin()));
      if (p == arena_.head.data() || p == arena_.body.data())
        std::memset(p, 0, segment.size() * sizeof(uint64_t));
      if (p != arena_.head.data()) bodyUsed += segment.size();
      spilled = spilled || (p != arena_.head.data() && p != arena_.body.data());
    }
    // Grow the body for next time when this batch spilled (the new words are zero).
    if (spilled && arena_.body.size() < arena_.maxBodyWords)
      arena_.body.resize(std::min(arena_.maxBodyWords, bodyUsed));
  }
  KJ_DISALLOW_COPY(BatchMessageBuilder);

  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimumSize) override {
    int n = next_++;
    if (n == 0 && minimumSize <= arena_.head.size()) return words(arena_.head);
    if (n <= 1 && minimumSize <= arena_.body.size()) {
      next_ = 2;
      return words(arena_.body);
    }
    next_ = 2;
    spills_.push_back(
        kj::heapArray<capnp::word>(std::max<size_t>(minimumSize, arena_.body.size())));
    std::memset(spills_.back().begin(), 0, spills_.back().size() * sizeof(capnp::word));
    return spills_.back();
  }

 private:
  static kj::ArrayPtr<capnp::word> words(std::vector<uint64_t>& v) {
    return kj::arrayPtr(reinterpret_cast<capnp::word*>(v.data()), v.size());
  }
  BatchArena& arena_;
  int next_ = 0;
  std::vector<kj::Array<capnp::word>> spills_;
};

}  // namespace onionsplit::ipc
