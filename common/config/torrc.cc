// common/config/torrc.cc: see torrc.h.
#include "common/config/torrc.h"

#include <cctype>

namespace onionsplit::config {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && isSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

// Decodes a double-quoted value; `s` starts at the opening quote.
Expected<std::string, std::string> unquote(std::string_view s) {
  std::string out;
  size_t i = 1;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') break;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i >= s.size()) return fail(std::string("unterminated escape in quoted value"));
    switch (s[i]) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '\\':
      case '"':
      case '\'':
        out.push_back(s[i]);
        break;
      default:
        return fail(std::string("unknown escape \\") + s[i] + " in quoted value");
    }
  }
  if (i >= s.size()) return fail(std::string("unterminated quoted value"));
  std::string_view after = trim(s.substr(i + 1));
  if (!after.empty() && after.front() != '#')
    return fail(std::string("text after the closing quote"));
  return out;
}

}  // namespace

std::string describe(const ConfigError& e) {
  if (e.line > 0) return "line " + std::to_string(e.line) + ": " + e.message;
  return e.message;
}

Expected<std::vector<TorrcEntry>, ConfigError> lexTorrc(std::string_view text) {
  if (text.size() > kMaxTorrcBytes) return fail(ConfigError{0, "configuration file is too large"});
  std::vector<TorrcEntry> entries;
  int lineNo = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    // Join physical lines ending in a backslash into one logical line.
    std::string logical;
    int startLine = lineNo + 1;
    bool more = true;
    while (more && pos <= text.size()) {
      size_t nl = text.find('\n', pos);
      std::string_view phys = text.substr(pos, nl == std::string_view::npos ? text.npos : nl - pos);
      pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
      ++lineNo;
      std::string_view t = phys;
      while (!t.empty() && (t.back() == '\r' || t.back() == ' ' || t.back() == '\t'))
        t.remove_suffix(1);
      // A comment line inside a continuation is skipped, as C tor does.
      if (!logical.empty() && !trim(t).empty() && trim(t).front() == '#') continue;
      if (!t.empty() && t.back() == '\\') {
        t.remove_suffix(1);
        logical.append(t);
        logical.push_back(' ');
        more = pos <= text.size();
      } else {
        logical.append(t);
        more = false;
      }
    }
    std::string_view line = trim(logical);
    if (line.empty() || line.front() == '#') continue;
    size_t k = 0;
    while (k < line.size() && !isSpace(line[k]))
      ++k;
    std::string_view key = line.substr(0, k);
    std::string_view rest = trim(line.substr(k));
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      auto v = unquote(rest);
      if (!v) return fail(ConfigError{startLine, v.error()});
      value = std::move(*v);
    } else {
      // An unquoted value ends at an unescaped '#'.
      size_t hash = rest.find('#');
      value = std::string(trim(rest.substr(0, hash)));
    }
    for (char c : key) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
        return fail(ConfigError{startLine, "bad option name \"" + std::string(key) + "\""});
    }
    if (entries.size() >= kMaxTorrcEntries)
      return fail(ConfigError{startLine, "configuration has too many entries"});
    entries.push_back(TorrcEntry{std::string(key), std::move(value), startLine});
  }
  return entries;
}

}  // namespace onionsplit::config
