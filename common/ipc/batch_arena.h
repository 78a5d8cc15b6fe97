// common/ipc/batch_arena.h: where a BatchPipe builds its data frames: one reused, zeroed segment
// per pipe, so a batch costs no allocation in the steady state.
//
// The segment starts at kFirstWords and grows (up to maxWords) to the largest batch seen; a batch
// larger than it spills into heap segments for that batch only (and the next batch finds the
// segment grown). One segment, not two: a message of several segments joins them with far
// pointers, and capnp's reader locks a mutex and looks the segment up in a hash map for every far
// pointer it follows (measured: a tenth of both processes' user time). The destructor zeroes what
// the message used, as capnp requires of a reused first segment (MallocMessageBuilder does the
// same for its own).
#pragma once

#include <capnp/message.h>
#include <kj/array.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace onionsplit::ipc {

// The reused segment of one pipe's sending side (uint64_t: capnp::word cannot live in a vector).
struct BatchArena {
  static constexpr size_t kFirstWords = 4096;
  std::vector<uint64_t> words;
  size_t maxWords = kFirstWords;  // the segment never grows beyond this
};

class BatchMessageBuilder final : public capnp::MessageBuilder {
 public:
  explicit BatchMessageBuilder(BatchArena& arena) : arena_(arena) {
    if (arena_.words.empty()) arena_.words.assign(BatchArena::kFirstWords, 0);
  }
  ~BatchMessageBuilder() noexcept(false) {
    if (!started_) return;
    size_t used = 0;
    for (auto segment : getSegmentsForOutput()) {
      if (reinterpret_cast<const uint64_t*>(segment.begin()) == arena_.words.data())
        std::memset(arena_.words.data(), 0, segment.size() * sizeof(uint64_t));
      used += segment.size();
    }
    // A batch that spilled: grow the segment for next time (the new words are zero).
    if (!spills_.empty() && arena_.words.size() < arena_.maxWords)
      arena_.words.resize(std::min(arena_.maxWords, used));
  }
  KJ_DISALLOW_COPY(BatchMessageBuilder);

  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimumSize) override {
    if (!started_ && minimumSize <= arena_.words.size()) {
      started_ = true;
      return kj::arrayPtr(reinterpret_cast<capnp::word*>(arena_.words.data()), arena_.words.size());
    }
    started_ = true;
    spills_.push_back(
        kj::heapArray<capnp::word>(std::max<size_t>(minimumSize, arena_.words.size())));
    std::memset(spills_.back().begin(), 0, spills_.back().size() * sizeof(capnp::word));
    return spills_.back();
  }

 private:
  BatchArena& arena_;
  bool started_ = false;
  std::vector<kj::Array<capnp::word>> spills_;
};

}  // namespace onionsplit::ipc
