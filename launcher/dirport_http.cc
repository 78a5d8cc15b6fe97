// launcher/dirport_http.cc: see dirport_http.h.
#include "launcher/dirport_http.h"

#include <strings.h>
#include <cstdio>

namespace onionsplit::launcher {
namespace {

bool isSpace(char ch) {
  return ch == ' ' || ch == '\t';
}

size_t skipSpaces(std::string_view s, size_t i) {
  while (i < s.size() && isSpace(s[i]))
    ++i;
  return i;
}

size_t toSpace(std::string_view s, size_t i) {
  while (i < s.size() && !isSpace(s[i]) && s[i] != '\r' && s[i] != '\n')
    ++i;
  return i;
}

bool startsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && strncasecmp(s.data(), prefix.data(), prefix.size()) == 0;
}

// "http://host/path" or "https://host/path": the path (C tor tolerates a proxy's form).
std::string_view stripProxyHost(std::string_view url) {
  if (url.size() < 4 || url.substr(0, 4) != "http") return url;
  size_t i = 4;
  if (i < url.size() && url[i] == 's') ++i;
  if (url.substr(i, 3) != "://") return url;
  size_t slash = url.find('/', i + 3);
  return slash == std::string_view::npos ? url : url.substr(slash);
}

// "HTTP/1.<digits>" then CR, after optional blanks.
bool httpVersionFollows(std::string_view s, size_t i) {
  i = skipSpaces(s, i);
  if (s.substr(i, 7) != "HTTP/1.") return false;
  i += 7;
  size_t digits = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9')
    ++i;
  return i > digits && i < s.size() && s[i] == '\r';
}

std::string shortAnswer(int status, std::string_view reason, std::time_t now) {
  return "HTTP/1.0 " + std::to_string(status) + " " + std::string(reason) +
         "\r\nDate: " + httpDate(now) + "\r\n\r\n";
}

}  // namespace

std::string httpDate(std::time_t t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

std::optional<std::string> dirPortUrl(std::string_view head) {
  size_t i = skipSpaces(head, 0);
  size_t method = toSpace(head, i);
  if (method == i || method >= head.size() || !isSpace(head[method])) return std::nullopt;
  size_t start = skipSpaces(head, method);
  size_t end = toSpace(head, start);
  if (end == start || end >= head.size() || !isSpace(head[end])) return std::nullopt;
  if (!httpVersionFollows(head, end)) return std::nullopt;
  std::string_view url = stripProxyHost(head.substr(start, end - start));
  std::string out(url);
  if (url.substr(0, 5) != "/tor/") out = (url.substr(0, 1) == "/" ? "/tor" : "/tor/") + out;
  if (out.size() > 2 && out.compare(out.size() - 2, 2, ".z") == 0) out.resize(out.size() - 2);
  return out;
}

std::optional<DirPortAnswer> answerDirPort(std::string_view head, bool havePage, size_t pageLength,
                                           std::time_t now) {
  std::string_view line = head.substr(skipSpaces(head, 0));
  bool get = startsWithNoCase(line, "GET"), post = startsWithNoCase(line, "POST");
  if (!get && !post) return std::nullopt;  // C tor: "unknown command", closed unanswered
  auto url = dirPortUrl(head);
  if (!url) return DirPortAnswer{shortAnswer(400, "Bad request", now)};
  if (post) {
    if (url->compare(0, 8, "/tor/hs/") == 0)
      return DirPortAnswer{shortAnswer(503, "Rejecting single hop HS descriptor post", now)};
    return DirPortAnswer{shortAnswer(
        400, "Nonauthoritative directory does not accept posted server descriptors", now)};
  }
  if (*url != "/tor/" || !havePage) return DirPortAnswer{shortAnswer(404, "Not found", now)};
  std::string h = "HTTP/1.0 200 OK\r\nDate: " + httpDate(now) +
                  "\r\nContent-Type: text/html\r\nContent-Encoding: identity\r\nContent-Length: " +
                  std::to_string(pageLength) +
                  "\r\nExpires: " + httpDate(now + kFrontPageCacheSeconds) + "\r\n\r\n";
  return DirPortAnswer{std::move(h), true};
}

}  // namespace onionsplit::launcher
