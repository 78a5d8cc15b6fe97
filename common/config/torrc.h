// common/config/torrc.h: the torrc lexer (pure). Turns the text of a torrc-syntax file into
// (key, value, line) entries, as C tor reads it: '#' comments, backslash line continuation, keys
// separated from values by whitespace, optional double-quoted values with C escapes.
//
// The launcher and every daemon read the same file through this and common/config/config.h, so an
// operator can point onionsplit at a relay's existing torrc.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace onionsplit::config {

struct TorrcEntry {
  std::string key;
  std::string value;
  int line = 0;  // 1-based line where the entry starts
};

struct ConfigError {
  int line = 0;         // 0 when the error is not tied to a line
  std::string message;  // names the option or the syntax problem
};

std::string describe(const ConfigError& e);

// Bounded: a file over kMaxTorrcBytes or with more than kMaxTorrcEntries entries is refused.
inline constexpr size_t kMaxTorrcBytes = 1 << 20;
inline constexpr size_t kMaxTorrcEntries = 10000;

Expected<std::vector<TorrcEntry>, ConfigError> lexTorrc(std::string_view text);

}  // namespace onionsplit::config
