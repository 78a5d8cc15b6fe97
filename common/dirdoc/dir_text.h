// common/dirdoc/dir_text.h: the directory documents' meta-format (dir-spec §1.2), the one reader
// under the key-certificate and consensus parsers.
//
// A document is a run of items: a keyword line ("Keyword arg arg NL") optionally followed by one
// object ("-----BEGIN TAG-----" NL base64 lines "-----END TAG-----" NL). The text comes from the
// network, so every size is bounded and every failure is a DirError naming the line; nothing here
// allocates more than a bounded multiple of the input. Items keep byte offsets into the text,
// because signatures cover exact byte ranges (dir-spec §1.3).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/result.h"

namespace onionsplit::dirdoc {

// Why a document or a check was refused. Parsing errors carry the 1-based line.
enum class DirErrc : uint8_t {
  kMalformed,         // not a well-formed document of the expected kind
  kTooLarge,          // over one of the size bounds below
  kBadSignature,      // a signature from a configured authority did not verify
  kTooFewSignatures,  // fewer than a majority of configured authorities signed (good sigs)
  kExpired,           // a consensus after valid-until, a certificate after dir-key-expires
  kNotYetValid,       // a consensus before valid-after, a certificate published in the future
  kBadCertificate,    // a key certificate's fingerprint, cross-cert or certification is wrong
  kNoAuthorities,     // no DirAuthority with a v3ident is configured
};

std::string_view errcName(DirErrc c);

struct DirError {
  DirErrc code = DirErrc::kMalformed;
  uint32_t line = 0;  // 1-based line of the offending item; 0 when not about one line
  std::string detail;
  // "malformed at line 12: r line has 7 arguments", for logs.
  std::string toString() const;
};

template <class T>
using DirResult = Expected<T, DirError>;

DirError malformedAt(uint32_t line, std::string detail);

// Bounds for any one item; documents add their own totals.
inline constexpr size_t kMaxLineBytes = 64 * 1024;   // params and pr lines are the long ones
inline constexpr size_t kMaxArgs = 4096;             // known-flags, params, protocol lists
inline constexpr size_t kMaxObjectBytes = 8 * 1024;  // base64 of a 4096-bit key or signature

struct Item {
  std::string_view keyword;
  std::vector<std::string_view> args;  // split on runs of spaces and tabs
  std::string_view argText;            // everything after the keyword, trimmed
  std::string_view objectTag;          // "" when the item has no object
  std::vector<uint8_t> object;         // the object's decoded bytes
  uint32_t line = 0;                   // 1-based line of the keyword
  size_t begin = 0;                    // offset of the keyword in the text
  size_t keywordLineEnd = 0;           // offset just past the keyword line's NL
  size_t end = 0;                      // offset just past the item (its object included)
};

// Reads one item at a time. The text must outlive the reader and the items it returns.
class ItemReader {
 public:
  explicit ItemReader(std::string_view text) : text_(text) {}
  // The next item, nullopt at the end of the text, or an error. After an error the reader
  // stays at the failing line.
  DirResult<std::optional<Item>> next();
  // Steps over empty (or whitespace-only) lines, which may separate documents in one text.
  void skipBlankLines();
  size_t offset() const { return pos_; }
  uint32_t line() const { return line_; }

 private:
  std::optional<std::string_view> readLine(size_t& lineEnd);
  DirResult<bool> readObject(Item& item);
  std::string_view text_;
  size_t pos_ = 0;
  uint32_t line_ = 0;  // lines consumed so far
};

// Strict RFC 4648 base64 (padding optional, no whitespace): nullopt on anything else.
std::optional<std::vector<uint8_t>> decodeBase64(std::string_view s);

// "YYYY-MM-DD" "HH:MM:SS" (two arguments, as dir-spec writes times) in UTC to Unix seconds.
std::optional<int64_t> parseIsoTime(std::string_view date, std::string_view time);

// A decimal integer in [lo, hi] with an optional leading '-', nothing else.
std::optional<int64_t> parseInt(std::string_view s, int64_t lo, int64_t hi);

// 40 hex digits to 20 bytes.
std::optional<std::array<uint8_t, 20>> parseHexDigest(std::string_view s);

}  // namespace onionsplit::dirdoc
