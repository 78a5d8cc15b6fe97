// common/base/clock.h: the monotonic clock the reactors run on, in microseconds since an arbitrary
// start (steady_clock: never jumps with the wall clock). Pure cores take it as a function, so tests
// drive time themselves.
#pragma once

#include <chrono>
#include <cstdint>

namespace onionsplit {

inline uint64_t monotonicUsec() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace onionsplit
