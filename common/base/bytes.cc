// common/base/bytes.cc: out-of-line parts of the byte reader/writer.
#include "common/base/bytes.h"

namespace onionsplit {

const char* toString(ParseErrc e) {
  switch (e) {
    case ParseErrc::kTruncated:
      return "truncated";
    case ParseErrc::kTooLong:
      return "too long";
    case ParseErrc::kBadLength:
      return "bad length";
    case ParseErrc::kUnknownType:
      return "unknown type";
    case ParseErrc::kTrailingBytes:
      return "trailing bytes";
    case ParseErrc::kBadValue:
      return "bad value";
  }
  return "unknown error";
}

bool constantTimeEqual(Bytes a, Bytes b) {
  if (a.size() != b.size()) return false;
  uint8_t acc = 0;
  for (size_t i = 0; i < a.size(); ++i)
    acc |= static_cast<uint8_t>(a[i] ^ b[i]);
  return acc == 0;
}

}  // namespace onionsplit
