// common/config/torrc.cc: see torrc.h.
#include "common/config/torrc.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

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
  if (!e.file.empty() && e.line > 0)
    return e.file + ":" + std::to_string(e.line) + ": " + e.message;
  if (!e.file.empty()) return e.file + ": " + e.message;
  if (e.line > 0) return "line " + std::to_string(e.line) + ": " + e.message;
  return e.message;
}

std::string describe(const ConfigErrors& errors) {
  std::string out;
  for (const ConfigError& e : errors) {
    if (!out.empty()) out.push_back('\n');
    out += describe(e);
  }
  return out;
}

void sortErrors(ConfigErrors& errors) {
  std::vector<std::string> files;
  for (const ConfigError& e : errors)
    if (std::find(files.begin(), files.end(), e.file) == files.end()) files.push_back(e.file);
  auto rank = [&](const ConfigError& e) {
    auto f = std::find(files.begin(), files.end(), e.file) - files.begin();
    return std::pair<long, int>(f, e.line > 0 ? e.line : INT32_MAX);
  };
  std::stable_sort(errors.begin(), errors.end(),
                   [&](const ConfigError& a, const ConfigError& b) { return rank(a) < rank(b); });
}

std::vector<TorrcEntry> layerTorrc(std::vector<TorrcEntry> defaults, std::vector<TorrcEntry> torrc,
                                   std::vector<TorrcEntry> commandLine) {
  auto sameKey = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x)) ==
                    std::tolower(static_cast<unsigned char>(y));
           });
  };
  auto dropKey = [&](std::vector<TorrcEntry>& in, std::string_view key) {
    std::erase_if(in, [&](const TorrcEntry& e) { return sameKey(e.key, key); });
  };
  for (const auto& e : torrc)
    dropKey(defaults, e.key);
  std::vector<TorrcEntry> out = std::move(defaults);
  out.insert(out.end(), std::make_move_iterator(torrc.begin()),
             std::make_move_iterator(torrc.end()));
  std::vector<std::string> replaced;  // keys the command line already replaced once
  for (auto& e : commandLine) {
    char mode = e.key.empty() ? ' ' : e.key.front();
    if (mode == '+' || mode == '/') e.key.erase(0, 1);
    bool first = std::none_of(replaced.begin(), replaced.end(),
                              [&](const std::string& k) { return sameKey(k, e.key); });
    if (mode != '+' && first) {
      dropKey(out, e.key);
      replaced.push_back(e.key);
    }
    if (mode != '/') out.push_back(std::move(e));
  }
  return out;
}

std::string where(const TorrcEntry& e) {
  if (!e.file.empty()) return e.file + ":" + std::to_string(e.line) + ": ";
  return "line " + std::to_string(e.line) + ": ";
}

namespace {

// One logical line: physical lines ending in a backslash joined, as C tor reads them.
struct LogicalLine {
  std::string text;
  int startLine = 0;
};

LogicalLine nextLogicalLine(std::string_view text, size_t& pos, int& lineNo) {
  LogicalLine out;
  out.startLine = lineNo + 1;
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
    if (!out.text.empty() && !trim(t).empty() && trim(t).front() == '#') continue;
    if (!t.empty() && t.back() == '\\') {
      t.remove_suffix(1);
      out.text.append(t);
      out.text.push_back(' ');
      more = pos <= text.size();
    } else {
      out.text.append(t);
      more = false;
    }
  }
  return out;
}

bool validKey(std::string_view key) {
  if (key == "%include") return true;  // C tor's only directive
  if (key.empty()) return false;
  for (char c : key)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// The entry of one non-empty, non-comment logical line, or why it is bad.
Expected<TorrcEntry, std::string> lexLine(std::string_view line) {
  size_t k = 0;
  while (k < line.size() && !isSpace(line[k]))
    ++k;
  std::string_view key = line.substr(0, k);
  std::string_view rest = trim(line.substr(k));
  if (!validKey(key)) return fail("bad option name \"" + std::string(key) + "\"");
  TorrcEntry e;
  e.key = std::string(key);
  if (!rest.empty() && rest.front() == '"') {
    auto v = unquote(rest);
    if (!v) return fail(v.error());
    e.value = std::move(*v);
  } else {
    // An unquoted value ends at an unescaped '#'.
    e.value = std::string(trim(rest.substr(0, rest.find('#'))));
  }
  return e;
}

}  // namespace

void lexTorrcInto(std::string_view text, const std::string& file, std::vector<TorrcEntry>& entries,
                  ConfigErrors& errors) {
  if (text.size() > kMaxTorrcBytes) {
    errors.push_back(ConfigError{0, "configuration file is too large", file});
    return;
  }
  int lineNo = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    LogicalLine logical = nextLogicalLine(text, pos, lineNo);
    std::string_view line = trim(logical.text);
    if (line.empty() || line.front() == '#') continue;
    auto e = lexLine(line);
    if (!e) {
      errors.push_back(ConfigError{logical.startLine, e.error(), file});
      continue;
    }
    if (entries.size() >= kMaxTorrcEntries) {
      errors.push_back(ConfigError{logical.startLine, "configuration has too many entries", file});
      return;
    }
    e->line = logical.startLine;
    e->file = file;
    entries.push_back(std::move(*e));
  }
}

Expected<std::vector<TorrcEntry>, ConfigErrors> lexTorrc(std::string_view text,
                                                         const std::string& file) {
  std::vector<TorrcEntry> entries;
  ConfigErrors errors;
  lexTorrcInto(text, file, entries, errors);
  if (!errors.empty()) return fail(std::move(errors));
  return entries;
}

}  // namespace onionsplit::config
