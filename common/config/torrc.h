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
  int line = 0;      // 1-based line where the entry starts
  std::string file;  // the file it came from ("" when lexed from a string); %include keeps names
};

struct ConfigError {
  int line = 0;         // 0 when the error is not tied to a line
  std::string message;  // names the option or the syntax problem
  std::string file;     // "" when not known
};

// Every problem of a file, in file order: an operator fixes them all in one round.
using ConfigErrors = std::vector<ConfigError>;

// Orders errors as an operator reads them: files in the order they first appear, lines ascending
// within a file, errors without a line after their file's (stable otherwise).
void sortErrors(ConfigErrors& errors);

// "file:line: message", "line N: message" without a file, or the message alone.
std::string describe(const ConfigError& e);
// One described error per line.
std::string describe(const ConfigErrors& errors);
// The "file:line: " (or "line N: ") prefix of an entry, for warnings.
std::string where(const TorrcEntry& e);

// Bounded: a file over kMaxTorrcBytes or with more than kMaxTorrcEntries entries is refused.
inline constexpr size_t kMaxTorrcBytes = 1 << 20;
inline constexpr size_t kMaxTorrcEntries = 10000;

// Lexes the whole text and reports every bad line, not only the first. `file` names the entries
// and errors. A "%include" line is lexed as an entry with key "%include" (common/config/include.h
// expands it).
// The same, appending to `entries` and `errors` (the good lines of a file with bad ones are still
// built, so their errors are reported too). The entry limit counts everything in `entries`.
void lexTorrcInto(std::string_view text, const std::string& file, std::vector<TorrcEntry>& entries,
                  ConfigErrors& errors);
Expected<std::vector<TorrcEntry>, ConfigErrors> lexTorrc(std::string_view text,
                                                         const std::string& file = "");

// C tor's layers of configuration (`tor --defaults-torrc D -f F --Key value`): an option the torrc
// sets replaces every line of it in the defaults; an option on the command line replaces every
// line of it before, unless written `+Key` (added to them) or `/Key` (cleared, its value ignored).
// Keys compare without case, as C tor's option names do. The result keeps each layer's order.
std::vector<TorrcEntry> layerTorrc(std::vector<TorrcEntry> defaults, std::vector<TorrcEntry> torrc,
                                   std::vector<TorrcEntry> commandLine);

}  // namespace onionsplit::config
