// common/control/protocol.cc: see protocol.h.
#include "common/control/protocol.h"

#include <cctype>
#include <utility>

#include "common/base/quoted.h"

namespace onionsplit::control {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool CommandReader::feed(std::string_view bytes) {
  if (failed_) return false;
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  buf_.append(bytes);
  // Only an unfinished line counts against the line cap; finished ones wait for next().
  size_t lastLf = buf_.rfind('\n');
  size_t open =
      lastLf == std::string::npos || lastLf < pos_ ? buf_.size() - pos_ : buf_.size() - lastLf - 1;
  if (open > kMaxLineBytes || buf_.size() - pos_ > kMaxCommandBytes) failed_ = true;
  return !failed_;
}

std::optional<std::string> CommandReader::line() {
  size_t lf = buf_.find('\n', pos_);
  if (lf == std::string::npos) return std::nullopt;
  std::string l = buf_.substr(pos_, lf - pos_);
  pos_ = lf + 1;
  if (!l.empty() && l.back() == '\r') l.pop_back();
  if (l.size() > kMaxLineBytes) failed_ = true;
  return l;
}

std::optional<Command> CommandReader::next() {
  while (!failed_) {
    auto l = line();
    if (!l) return std::nullopt;
    if (pending_) {
      if (*l == ".") return std::exchange(pending_, std::nullopt);
      std::string_view v = *l;
      if (v.substr(0, 2) == "..") v.remove_prefix(1);
      pendingBytes_ += v.size() + 1;
      if (pendingBytes_ > kMaxCommandBytes) {
        failed_ = true;
        return std::nullopt;
      }
      if (!pending_->data->empty()) *pending_->data += "\n";
      *pending_->data += v;
      continue;
    }
    Command c;
    std::string_view v = *l;
    bool plus = !v.empty() && v[0] == '+';
    if (plus) v.remove_prefix(1);
    size_t sp = v.find(' ');
    c.keyword = std::string(v.substr(0, sp));
    if (sp != std::string_view::npos) c.args = std::string(v.substr(sp + 1));
    if (!plus) return c;
    c.data = std::string();
    pending_ = std::move(c);
    pendingBytes_ = 0;
  }
  return std::nullopt;
}

std::optional<std::string> unquote(std::string_view s, size_t& used) {
  std::string out;
  for (size_t i = 1; i < s.size(); ++i) {
    char ch = s[i];
    if (ch == '"') {
      used = i + 1;
      return out;
    }
    if (ch != '\\') {
      out += ch;
      continue;
    }
    if (++i >= s.size()) return std::nullopt;
    char e = s[i];
    if (e >= '0' && e <= '7') {  // up to three octal digits, as C tor's unescape
      int v = 0, n = 0;
      while (n < 3 && i < s.size() && s[i] >= '0' && s[i] <= '7') {
        v = v * 8 + (s[i++] - '0');
        ++n;
      }
      --i;
      if (v > 255) return std::nullopt;
      out += static_cast<char>(v);
      continue;
    }
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case '\\':
      case '"':
      case '\'':
        out += e;
        break;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

std::string quote(std::string_view s) {
  return cQuoted(s);
}

std::optional<std::vector<Arg>> parseArgs(std::string_view s) {
  std::vector<Arg> out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ' || s[i] == '\t') {
      ++i;
      continue;
    }
    Arg a;
    size_t start = i;
    if (s[i] != '"') {
      while (i < s.size() && s[i] != ' ' && s[i] != '=' && s[i] != '"')
        ++i;
      if (i < s.size() && s[i] == '=') {
        a.key = std::string(s.substr(start, i - start));
        ++i;
      } else if (i < s.size() && s[i] == '"') {
        return std::nullopt;  // a quote inside a bare word
      } else {
        a.value = std::string(s.substr(start, i - start));
        out.push_back(std::move(a));
        continue;
      }
    }
    if (i < s.size() && s[i] == '"') {
      size_t used = 0;
      auto v = unquote(s.substr(i), used);
      if (!v) return std::nullopt;
      a.value = std::move(*v);
      a.quoted = true;
      i += used;
      if (i < s.size() && s[i] != ' ') return std::nullopt;
    } else {
      size_t vs = i;
      while (i < s.size() && s[i] != ' ')
        ++i;
      a.value = std::string(s.substr(vs, i - vs));
    }
    out.push_back(std::move(a));
  }
  return out;
}

void Reply::line(std::string_view text) {
  out_ += std::to_string(code_) + "-";
  out_ += text;
  out_ += "\r\n";
}

std::string dataLines(std::string_view value) {
  std::string out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t lf = value.find('\n', start);
    std::string_view l =
        value.substr(start, lf == std::string_view::npos ? std::string_view::npos : lf - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (lf == std::string_view::npos && l.empty() && start > 0) break;  // a final newline
    if (!l.empty() && l[0] == '.') out += ".";
    out += l;
    out += "\r\n";
    if (lf == std::string_view::npos) break;
    start = lf + 1;
  }
  return out + ".\r\n";
}

void Reply::data(std::string_view key, std::string_view value) {
  out_ += std::to_string(code_) + "+";
  out_ += key;
  out_ += "=\r\n";
  out_ += dataLines(value);
}

void Reply::keyValue(std::string_view key, std::string_view value) {
  if (value.find('\n') != std::string_view::npos) return data(key, value);
  std::string l(key);
  l += "=";
  l += value;
  line(l);
}

std::string Reply::finish(std::string_view text) {
  out_ += std::to_string(code_) + " ";
  out_ += text;
  out_ += "\r\n";
  return std::move(out_);
}

std::string endReply(int code, std::string_view text) {
  return Reply(code).finish(text);
}

}  // namespace onionsplit::control
