// common/control/protocol.h: the control protocol's text layer (control-spec §2), pure and
// I/O-free. Framing: lines end in LF (a CR before it is dropped, as C tor does); a line longer than
// kMaxLineBytes is a hostile controller. A command whose keyword starts with '+' carries data lines
// up to a line holding only "." (dot-encoded: a leading ".." stands for "."). Arguments: words
// separated by spaces, each `Value` or `Key=Value`, a value either bare or a QuotedString with C
// escapes. Replies: "250-" mid lines, "250+" data lines (dot-encoded, ended by "."), "250 " end.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onionsplit::control {

inline constexpr size_t kMaxLineBytes = 16 * 1024;      // one command line
inline constexpr size_t kMaxCommandBytes = 256 * 1024;  // a '+' command with its data

struct Command {
  std::string keyword;              // as sent (compare without case); without the leading '+'
  std::string args;                 // the rest of the first line, after one space
  std::optional<std::string> data;  // a '+' command's data, dot-decoded, lines joined by "\n"
};

// Splits a byte stream into commands. Bounded: refuses (error()) once a line or a command grows
// past its cap; the connection must then close.
class CommandReader {
 public:
  // Appends bytes; false once the input broke a cap (and forever after).
  bool feed(std::string_view bytes);
  // The next complete command, if one is in.
  std::optional<Command> next();
  bool failed() const { return failed_; }
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::optional<std::string> line();  // one line without its LF/CRLF, if complete
  std::string buf_;
  size_t pos_ = 0;
  bool failed_ = false;
  std::optional<Command> pending_;  // a '+' command waiting for its "." line
  size_t pendingBytes_ = 0;
};

struct Arg {
  std::string key;  // "" for a positional value
  std::string value;
  bool quoted = false;
};

// `args` split into words; nullopt on a malformed QuotedString (C tor's 512 syntax error).
std::optional<std::vector<Arg>> parseArgs(std::string_view args);

// Decodes one QuotedString at the start of `s` (which starts with '"'); sets `used` to the bytes
// consumed. nullopt if it is not closed or has a bad escape.
std::optional<std::string> unquote(std::string_view s, size_t& used);
// `s` as a QuotedString ("..." with \\, \", \r, \n, \t escaped).
std::string quote(std::string_view s);

// `value`'s lines, each ended by CRLF and dot-encoded (a leading "." doubled), then ".\r\n": the
// body of a data reply or event. A final newline ends the last line rather than adding an empty
// one.
std::string dataLines(std::string_view value);

// One reply of several lines: add() then finish(code, text).
class Reply {
 public:
  explicit Reply(int code) : code_(code) {}
  // "CODE-text"
  void line(std::string_view text);
  // "CODE+key=" then `value` dot-encoded, then "." (a value with a newline, as GETINFO sends it).
  void data(std::string_view key, std::string_view value);
  // key=value as a mid line, or a data line when `value` has a newline.
  void keyValue(std::string_view key, std::string_view value);
  // "CODE text" and the whole reply.
  std::string finish(std::string_view text);

 private:
  int code_;
  std::string out_;
};

// A one-line reply "CODE text\r\n".
std::string endReply(int code, std::string_view text);

bool iequals(std::string_view a, std::string_view b);

}  // namespace onionsplit::control
