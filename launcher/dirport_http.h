// launcher/dirport_http.h: what the DirPort answers (pure, no I/O): C tor's answers of a relay's
// DirPort to an HTTP request head, for a relay that serves no directory documents.
//
// As C tor 0.4.9 (dircache.c): the request line is "METHOD URL HTTP/1.x" ending in CR LF, a URL
// given in the proxy form "http://host/path" is taken from its path, and a URL not under /tor/ is
// read as if it were (so "/" is "/tor/"), a trailing ".z" removed. GET "/tor/" answers the
// DirPortFrontPage (200, text/html, Content-Encoding identity, Expires 20 minutes on) or 404
// without one; every other GET URL 404 (onionsplit caches no directory documents: C tor's answer
// for a document it does not have). POST answers 400 (a relay that is not an authority takes no
// posted descriptors) or 503 for /tor/hs/ (no single-hop onion service descriptors); any other
// method gets no answer (the connection is closed); a head that is not HTTP gets 400. C tor's
// X-Your-Address-Is header is left out: it serves the bootstrap address discovery of directory
// fetches, not a person reading the page.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace onionsplit::launcher {

// C tor's lifetime of the front page in caches (DIRPORTFRONTPAGE_CACHE_LIFETIME).
inline constexpr long kFrontPageCacheSeconds = 20 * 60;

struct DirPortAnswer {
  std::string head;       // status line and headers, with the blank line
  bool withPage = false;  // the front page follows as the body
};

// The answer to `head` (the request up to and including its "\r\n\r\n"), or nullopt to close the
// connection without one. `havePage`: a DirPortFrontPage was read; `pageLength` its size.
std::optional<DirPortAnswer> answerDirPort(std::string_view head, bool havePage, size_t pageLength,
                                           std::time_t now);

// The URL of a request line as C tor reads it ("/tor/..."), or nullopt if the line is not
// "METHOD URL HTTP/1.x\r". Exposed for tests.
std::optional<std::string> dirPortUrl(std::string_view head);

// RFC 1123 time, as HTTP's Date header ("Mon, 07 Dec 2026 21:54:34 GMT").
std::string httpDate(std::time_t t);

}  // namespace onionsplit::launcher
