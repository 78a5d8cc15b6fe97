// launcher/dirport_http.h: C tor's DirPort answers for a relay that serves no directory documents.
#include "launcher/dirport_http.h"

#include <gtest/gtest.h>

#include <string>

namespace onionsplit::launcher {
namespace {

constexpr std::time_t kNow = 1'796'680'474;  // Mon, 07 Dec 2026 21:54:34 GMT

std::string statusLine(const std::optional<DirPortAnswer>& a) {
  return a ? a->head.substr(0, a->head.find("\r\n")) : "(closed)";
}

TEST(DirPortHttp, Date) {
  EXPECT_EQ(httpDate(kNow), "Mon, 07 Dec 2026 21:54:34 GMT");
  EXPECT_EQ(httpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(DirPortHttp, UrlsAsCTorRewritesThem) {
  EXPECT_EQ(dirPortUrl("GET / HTTP/1.0\r\n\r\n"), "/tor/");
  EXPECT_EQ(dirPortUrl("GET /tor/ HTTP/1.1\r\nHost: x\r\n\r\n"), "/tor/");
  EXPECT_EQ(dirPortUrl("GET /index.html HTTP/1.0\r\n\r\n"), "/tor/index.html");
  EXPECT_EQ(dirPortUrl("GET x HTTP/1.0\r\n\r\n"), "/tor/x");
  EXPECT_EQ(dirPortUrl("GET http://exit.example/ HTTP/1.0\r\n\r\n"), "/tor/");
  EXPECT_EQ(dirPortUrl("GET https://exit.example/a HTTP/1.0\r\n\r\n"), "/tor/a");
  EXPECT_EQ(dirPortUrl("GET /tor/.z HTTP/1.0\r\n\r\n"), "/tor/");
  EXPECT_EQ(dirPortUrl("  GET   /   HTTP/1.0\r\n\r\n"), "/tor/");
  // Not HTTP/1.x ending in CR: C tor's parser refuses them.
  EXPECT_EQ(dirPortUrl("GET / HTTP/1.0\n\n"), std::nullopt);
  EXPECT_EQ(dirPortUrl("GET / HTTP/2\r\n\r\n"), std::nullopt);
  EXPECT_EQ(dirPortUrl("GET / HTTP/1.\r\n\r\n"), std::nullopt);
  EXPECT_EQ(dirPortUrl("GET /\r\n\r\n"), std::nullopt);
  EXPECT_EQ(dirPortUrl("GET\r\n\r\n"), std::nullopt);
  EXPECT_EQ(dirPortUrl(""), std::nullopt);
}

TEST(DirPortHttp, TheFrontPage) {
  auto a = answerDirPort("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", true, 1234, kNow);
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->withPage);
  EXPECT_EQ(a->head,
            "HTTP/1.0 200 OK\r\nDate: Mon, 07 Dec 2026 21:54:34 GMT\r\n"
            "Content-Type: text/html\r\nContent-Encoding: identity\r\nContent-Length: 1234\r\n"
            "Expires: Mon, 07 Dec 2026 22:14:34 GMT\r\n\r\n");
  EXPECT_TRUE(answerDirPort("get /tor/ HTTP/1.0\r\n\r\n", true, 1, kNow)->withPage);
  // No page (unset, or the file could not be read): 404 as C tor.
  a = answerDirPort("GET / HTTP/1.0\r\n\r\n", false, 0, kNow);
  EXPECT_EQ(a->head, "HTTP/1.0 404 Not found\r\nDate: Mon, 07 Dec 2026 21:54:34 GMT\r\n\r\n");
  EXPECT_FALSE(a->withPage);
}

TEST(DirPortHttp, EverythingElse) {
  auto answer = [](std::string_view head) {
    return statusLine(answerDirPort(head, true, 10, kNow));
  };
  EXPECT_EQ(answer("GET /tor/status-vote/current/consensus HTTP/1.0\r\n\r\n"),
            "HTTP/1.0 404 Not found");
  EXPECT_EQ(answer("GET /tor/server/authority.z HTTP/1.0\r\n\r\n"), "HTTP/1.0 404 Not found");
  EXPECT_EQ(answer("GET /index.html HTTP/1.0\r\n\r\n"), "HTTP/1.0 404 Not found");
  EXPECT_EQ(answer("GET / HTTP/9.9\r\n\r\n"), "HTTP/1.0 400 Bad request");
  EXPECT_EQ(answer("POST /tor/ HTTP/1.0\r\nContent-Length: 5\r\n\r\n"),
            "HTTP/1.0 400 Nonauthoritative directory does not accept posted server descriptors");
  EXPECT_EQ(answer("POST /tor/hs/3/publish HTTP/1.0\r\n\r\n"),
            "HTTP/1.0 503 Rejecting single hop HS descriptor post");
  EXPECT_EQ(answer("POST / HTTP\r\n\r\n"), "HTTP/1.0 400 Bad request");
  // Other methods: closed without an answer ("unknown command" in C tor).
  EXPECT_EQ(answer("HEAD / HTTP/1.0\r\n\r\n"), "(closed)");
  EXPECT_EQ(answer("OPTIONS * HTTP/1.1\r\n\r\n"), "(closed)");
  EXPECT_EQ(answer("\x16\x03\x01\x02\x00\r\n\r\n"), "(closed)");
  EXPECT_EQ(answer(""), "(closed)");
}

}  // namespace
}  // namespace onionsplit::launcher
