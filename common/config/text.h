// common/config/text.h: the small text helpers the option readers share (pure, internal to
// common/config): case-insensitive names, trimming, comma lists and unsigned numbers as C tor
// reads them.
#pragma once

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string_view>
#include <vector>

namespace onionsplit::config::text {

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// The non-empty, trimmed items between `sep`s.
inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t c = s.find(sep, i);
    std::string_view item = trim(s.substr(i, c == s.npos ? s.npos : c - i));
    if (!item.empty()) out.push_back(item);
    if (c == s.npos) break;
    i = c + 1;
  }
  return out;
}

// All of `s` as a decimal number of type T; nullopt for anything else.
template <class T>
std::optional<T> number(std::string_view s) {
  T v{};
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace onionsplit::config::text
