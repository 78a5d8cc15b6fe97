// fuzz/honest_peer_fuzz.h: what the "honest peers are never dropped" targets share (issue 15): the
// input read as a program (one byte picks an action, the next ones its arguments; an input that
// ends reads as zeros), the oracle's verdict (abort with a message), and a pick from a set.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <set>
#include <string>

#include "common/base/bytes.h"

namespace onionsplit::fuzz {

// Set while a run's connections are torn down: pushes to a side that is gone fail then, and that
// is no verdict.
inline bool& tearingDown() {
  static bool t = false;
  return t;
}

// The oracle found `who` in breach: the run fails.
inline void fail(const char* who, const std::string& why) {
  if (tearingDown()) return;
  std::fprintf(stderr, "honest-peer oracle: %s: %s\n", who, why.c_str());
  std::abort();
}

struct Input {
  const uint8_t* p;
  size_t n;
  bool done() const { return n == 0; }
  uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
  uint16_t u16() { return static_cast<uint16_t>(byte() | (byte() << 8)); }
  Bytes take(size_t len) {
    len = std::min(len, n);
    Bytes b(p, len);
    p += len;
    n -= len;
    return b;
  }
};

template <class T>
const T* pick(const std::set<T>& s, uint8_t b) {
  if (s.empty()) return nullptr;
  auto it = s.begin();
  std::advance(it, b % s.size());
  return &*it;
}

}  // namespace onionsplit::fuzz
