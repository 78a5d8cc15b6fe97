// common/base/bytes.h: bounds-checked readers and writers over caller-owned bytes.
//
// Every decoder in common/ reads hostile bytes through Reader and every encoder writes through
// Writer. Neither allocates. Both are "sticky": the first failure is remembered, later calls return
// zeros or do nothing, and the caller checks once at the end. A failure names the field that was
// being read, so the decoder's error says what was wrong without a string being built.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "common/base/result.h"

namespace onionsplit {

using Bytes = std::span<const uint8_t>;
using MutBytes = std::span<uint8_t>;

// Why a decode failed. Kept small and stable: fuzzers and tests compare on it.
enum class ParseErrc : uint8_t {
  kTruncated,      // input ended before a field did
  kTooLong,        // a length or count exceeds what the format or our limits allow
  kBadLength,      // a length field disagrees with the bytes that carry it
  kUnknownType,    // a type, command or version this code does not know
  kTrailingBytes,  // bytes left after a complete structure where none may be
  kBadValue,       // a field's value is not one the format allows
};

const char* toString(ParseErrc e);

struct ParseError {
  ParseErrc code;
  const char* field;  // static string naming the field or structure; never null

  friend bool operator==(const ParseError& a, const ParseError& b) {
    return a.code == b.code && std::string_view(a.field) == std::string_view(b.field);
  }
};

template <class T>
using Parsed = Expected<T, ParseError>;

class Reader {
 public:
  explicit Reader(Bytes b) : b_(b) {}

  size_t remaining() const { return b_.size() - pos_; }
  size_t position() const { return pos_; }
  bool empty() const { return remaining() == 0; }
  bool failed() const { return failed_; }
  const ParseError& error() const { return err_; }

  uint8_t u8(const char* field) {
    if (!need(1, field)) return 0;
    return b_[pos_++];
  }
  uint16_t u16(const char* field) {
    if (!need(2, field)) return 0;
    uint16_t v = static_cast<uint16_t>((b_[pos_] << 8) | b_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t u32(const char* field) {
    if (!need(4, field)) return 0;
    uint32_t v = (uint32_t{b_[pos_]} << 24) | (uint32_t{b_[pos_ + 1]} << 16) |
                 (uint32_t{b_[pos_ + 2]} << 8) | uint32_t{b_[pos_ + 3]};
    pos_ += 4;
    return v;
  }
  uint64_t u64(const char* field) {
    uint64_t hi = u32(field);
    uint64_t lo = u32(field);
    return (hi << 32) | lo;
  }
  // A view of the next n bytes (empty on failure).
  Bytes bytes(size_t n, const char* field) {
    if (!need(n, field)) return {};
    Bytes v = b_.subspan(pos_, n);
    pos_ += n;
    return v;
  }
  template <size_t N>
  std::array<uint8_t, N> array(const char* field) {
    std::array<uint8_t, N> a{};
    Bytes v = bytes(N, field);
    if (!v.empty()) std::memcpy(a.data(), v.data(), N);
    return a;
  }
  Bytes rest() {
    Bytes v = b_.subspan(pos_);
    pos_ = b_.size();
    return v;
  }
  void skip(size_t n, const char* field) { (void)bytes(n, field); }

  // Records an error found by the caller (a bad value, an unknown type) unless one is already set.
  void fail(ParseErrc code, const char* field) {
    if (!failed_) {
      failed_ = true;
      err_ = ParseError{code, field};
    }
  }
  // Fails with kTrailingBytes if anything is left.
  void expectEnd(const char* field) {
    if (!failed_ && remaining() != 0) fail(ParseErrc::kTrailingBytes, field);
  }

 private:
  bool need(size_t n, const char* field) {
    if (failed_) return false;
    if (remaining() < n) {
      fail(ParseErrc::kTruncated, field);
      return false;
    }
    return true;
  }

  Bytes b_;
  size_t pos_ = 0;
  bool failed_ = false;
  ParseError err_{ParseErrc::kTruncated, ""};
};

class Writer {
 public:
  explicit Writer(MutBytes out) : b_(out) {}

  size_t size() const { return pos_; }
  bool overflowed() const { return overflow_; }
  Bytes written() const { return Bytes(b_.data(), pos_); }
  MutBytes spare() { return b_.subspan(pos_); }

  void u8(uint8_t v) {
    if (room(1)) b_[pos_++] = v;
  }
  void u16(uint16_t v) {
    if (!room(2)) return;
    b_[pos_++] = static_cast<uint8_t>(v >> 8);
    b_[pos_++] = static_cast<uint8_t>(v);
  }
  void u32(uint32_t v) {
    if (!room(4)) return;
    for (int s = 24; s >= 0; s -= 8)
      b_[pos_++] = static_cast<uint8_t>(v >> s);
  }
  void u64(uint64_t v) {
    u32(static_cast<uint32_t>(v >> 32));
    u32(static_cast<uint32_t>(v));
  }
  void bytes(Bytes v) {
    if (!room(v.size())) return;
    if (!v.empty()) std::memcpy(b_.data() + pos_, v.data(), v.size());
    pos_ += v.size();
  }
  void zeros(size_t n) {
    if (!room(n)) return;
    std::memset(b_.data() + pos_, 0, n);
    pos_ += n;
  }
  // Reserves n bytes to be filled later (e.g. a length prefix); returns their offset.
  size_t reserve(size_t n) {
    size_t at = pos_;
    zeros(n);
    return at;
  }
  void patchU16(size_t at, uint16_t v) {
    if (overflow_ || at + 2 > pos_) return;
    b_[at] = static_cast<uint8_t>(v >> 8);
    b_[at + 1] = static_cast<uint8_t>(v);
  }
  void patchU8(size_t at, uint8_t v) {
    if (overflow_ || at + 1 > pos_) return;
    b_[at] = v;
  }

 private:
  bool room(size_t n) {
    if (overflow_) return false;
    if (b_.size() - pos_ < n) {
      overflow_ = true;
      return false;
    }
    return true;
  }

  MutBytes b_;
  size_t pos_ = 0;
  bool overflow_ = false;
};

// Big-endian helpers for code that has fixed offsets (cell headers).
inline uint16_t loadU16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}
inline uint32_t loadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
inline void storeU16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void storeU32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Constant-time comparison for tags and digests.
bool constantTimeEqual(Bytes a, Bytes b);

}  // namespace onionsplit
