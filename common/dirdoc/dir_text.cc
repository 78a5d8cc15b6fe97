// common/dirdoc/dir_text.cc: the dir-spec §1.2 item reader, base64 and time parsing.
#include "common/dirdoc/dir_text.h"

#include <array>

namespace onionsplit::dirdoc {
namespace {

constexpr std::string_view kBegin = "-----BEGIN ";
constexpr std::string_view kEnd = "-----END ";
constexpr std::string_view kDashes = "-----";
// Base64 text of the largest object we accept, with room for line breaks.
constexpr size_t kMaxObjectText = kMaxObjectBytes / 3 * 4 + kMaxObjectBytes / 32 + 64;

bool isKeywordChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

bool isSpace(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard Hinnant's method).
int64_t daysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool isLeap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

std::optional<unsigned> fixedDigits(std::string_view s) {
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  return v;
}

}  // namespace

std::string_view errcName(DirErrc c) {
  switch (c) {
    case DirErrc::kMalformed:
      return "malformed";
    case DirErrc::kTooLarge:
      return "too large";
    case DirErrc::kBadSignature:
      return "bad signature";
    case DirErrc::kTooFewSignatures:
      return "too few signatures";
    case DirErrc::kExpired:
      return "expired";
    case DirErrc::kNotYetValid:
      return "not yet valid";
    case DirErrc::kBadCertificate:
      return "bad key certificate";
    case DirErrc::kNoAuthorities:
      return "no v3 authorities configured";
  }
  return "unknown";
}

std::string DirError::toString() const {
  std::string s(errcName(code));
  if (line != 0) s += " at line " + std::to_string(line);
  if (!detail.empty()) s += ": " + detail;
  return s;
}

DirError malformedAt(uint32_t line, std::string detail) {
  return DirError{DirErrc::kMalformed, line, std::move(detail)};
}

std::optional<std::string_view> ItemReader::readLine(size_t& lineEnd) {
  if (pos_ >= text_.size()) return std::nullopt;
  size_t nl = text_.find('\n', pos_);
  if (nl == std::string_view::npos) return std::nullopt;
  lineEnd = nl + 1;
  return text_.substr(pos_, nl - pos_);
}

DirResult<bool> ItemReader::readObject(Item& item) {
  size_t lineEnd = 0;
  auto first = readLine(lineEnd);
  if (!first || !first->starts_with(kBegin)) return false;
  std::string_view tag = first->substr(kBegin.size());
  if (!tag.ends_with(kDashes) || tag.size() <= kDashes.size())
    return fail(malformedAt(line_ + 1, "bad object header"));
  tag.remove_suffix(kDashes.size());
  for (char c : tag)
    if (!isKeywordChar(c) && c != ' ') return fail(malformedAt(line_ + 1, "bad object tag"));
  pos_ = lineEnd;
  ++line_;
  std::string body;
  for (;;) {
    auto l = readLine(lineEnd);
    if (!l) return fail(malformedAt(line_ + 1, "object without an END line"));
    ++line_;
    pos_ = lineEnd;
    if (l->starts_with(kEnd)) {
      std::string_view endTag = l->substr(kEnd.size());
      if (!endTag.ends_with(kDashes) || endTag.substr(0, endTag.size() - kDashes.size()) != tag)
        return fail(malformedAt(line_, "object END does not match its BEGIN"));
      break;
    }
    if (body.size() + l->size() > kMaxObjectText)
      return fail(DirError{DirErrc::kTooLarge, line_, "object too large"});
    body += *l;
  }
  auto bytes = decodeBase64(body);
  if (!bytes) return fail(malformedAt(line_, "object is not base64"));
  if (bytes->size() > kMaxObjectBytes)
    return fail(DirError{DirErrc::kTooLarge, line_, "object too large"});
  item.objectTag = tag;
  item.object = std::move(*bytes);
  return true;
}

void ItemReader::skipBlankLines() {
  for (;;) {
    size_t lineEnd = 0;
    auto l = readLine(lineEnd);
    if (!l || !trim(*l).empty()) return;
    pos_ = lineEnd;
    ++line_;
  }
}

DirResult<std::optional<Item>> ItemReader::next() {
  if (pos_ >= text_.size()) return std::optional<Item>{};
  size_t lineEnd = 0;
  auto l = readLine(lineEnd);
  if (!l) return fail(malformedAt(line_ + 1, "last line has no newline"));
  if (l->size() > kMaxLineBytes)
    return fail(DirError{DirErrc::kTooLarge, line_ + 1, "line too long"});
  if (l->find('\0') != std::string_view::npos)
    return fail(malformedAt(line_ + 1, "NUL byte in a line"));
  Item item;
  item.line = line_ + 1;
  item.begin = pos_;
  std::string_view rest = *l;
  if (rest.starts_with("opt ")) rest.remove_prefix(4);  // dir-spec §1.2: "opt" is ignored
  size_t kw = 0;
  while (kw < rest.size() && isKeywordChar(rest[kw]))
    ++kw;
  if (kw == 0 || (kw < rest.size() && !isSpace(rest[kw])))
    return fail(malformedAt(item.line, "bad keyword"));
  item.keyword = rest.substr(0, kw);
  item.argText = trim(rest.substr(kw));
  std::string_view a = item.argText;
  while (!a.empty()) {
    size_t e = 0;
    while (e < a.size() && !isSpace(a[e]))
      ++e;
    if (item.args.size() >= kMaxArgs)
      return fail(DirError{DirErrc::kTooLarge, item.line, "too many arguments"});
    item.args.push_back(a.substr(0, e));
    a = trim(a.substr(e));
  }
  pos_ = lineEnd;
  ++line_;
  item.keywordLineEnd = pos_;
  auto obj = readObject(item);
  if (!obj) return fail(obj.error());
  item.end = pos_;
  return std::optional<Item>(std::move(item));
}

std::optional<std::vector<uint8_t>> decodeBase64(std::string_view s) {
  while (!s.empty() && s.back() == '=')
    s.remove_suffix(1);
  if (s.size() % 4 == 1) return std::nullopt;
  std::vector<uint8_t> out;
  out.reserve(s.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    int v = base64Value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return std::nullopt;  // non-canonical trailing bits
  return out;
}

std::optional<int64_t> parseIsoTime(std::string_view date, std::string_view time) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return std::nullopt;
  if (time.size() != 8 || time[2] != ':' || time[5] != ':') return std::nullopt;
  auto y = fixedDigits(date.substr(0, 4)), mo = fixedDigits(date.substr(5, 2)),
       d = fixedDigits(date.substr(8, 2));
  auto h = fixedDigits(time.substr(0, 2)), mi = fixedDigits(time.substr(3, 2)),
       se = fixedDigits(time.substr(6, 2));
  if (!y || !mo || !d || !h || !mi || !se) return std::nullopt;
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  if (*y < 1970 || *mo < 1 || *mo > 12 || *d < 1) return std::nullopt;
  unsigned maxDay = kDays[*mo - 1] + ((*mo == 2 && isLeap(*y)) ? 1 : 0);
  if (*d > maxDay || *h > 23 || *mi > 59 || *se > 60) return std::nullopt;
  return daysFromCivil(*y, *mo, *d) * 86400 + *h * 3600 + *mi * 60 + *se;
}

std::optional<int64_t> parseInt(std::string_view s, int64_t lo, int64_t hi) {
  bool neg = false;
  if (!s.empty() && s.front() == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (neg) v = -v;
  if (v < lo || v > hi) return std::nullopt;
  return v;
}

std::optional<std::array<uint8_t, 20>> parseHexDigest(std::string_view s) {
  if (s.size() != 40) return std::nullopt;
  std::array<uint8_t, 20> out{};
  for (size_t i = 0; i < 40; ++i) {
    char c = s[i];
    int v = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                                     : -1;
    if (v < 0) return std::nullopt;
    out[i / 2] = static_cast<uint8_t>(out[i / 2] << 4 | v);
  }
  return out;
}

}  // namespace onionsplit::dirdoc
