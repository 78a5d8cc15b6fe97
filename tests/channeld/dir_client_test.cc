// Tests for channeld/net/dir_client.h against a real HTTP server on 127.0.0.1 (libevent's evhttp)
// standing in for a directory authority's DirPort; the interop tests use real authorities.
#include "channeld/net/dir_client.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>

#include "tests/channeld/fake_authority.h"

namespace onionsplit::channeld {
namespace {

using testing::FakeAuthority;

std::optional<HttpResult> run(event_base* base, const std::function<void(DirClient::Done)>& go) {
  std::optional<HttpResult> out;
  go([&](const HttpResult& r) {
    out = r;
    event_base_loopbreak(base);
  });
  timeval limit{10, 0};
  event_base_loopexit(base, &limit);
  event_base_dispatch(base);
  return out;
}

TEST(DirClient, UploadsThenFetchesBack) {
  event_base* base = event_base_new();
  {
    FakeAuthority auth(base);
    DirClient client(base, 5);
    DirEndpoint ep{"127.0.0.1", auth.port, "auth"};
    auto posted = run(base, [&](DirClient::Done d) {
      client.postDescriptor(ep, "router x 127.0.0.1 1 0 0\n", d);
    });
    ASSERT_TRUE(posted);
    EXPECT_EQ(posted->status, 200);
    EXPECT_EQ(auth.stored, "router x 127.0.0.1 1 0 0\n");
    auto fetched =
        run(base, [&](DirClient::Done d) { client.fetchServerDescriptor(ep, "AAAA", d); });
    ASSERT_TRUE(fetched);
    EXPECT_EQ(fetched->status, 200);
    EXPECT_EQ(auth.lastPath, "/tor/server/fp/AAAA");
    EXPECT_EQ(fetched->body, auth.stored);
  }
  event_base_free(base);
}

TEST(DirClient, RefusedConnectionAndOversizedAnswerAreFailures) {
  event_base* base = event_base_new();
  {
    // A port nobody listens on: bind, read the port, close.
    int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
    socklen_t len = sizeof sin;
    getsockname(s, reinterpret_cast<sockaddr*>(&sin), &len);
    close(s);
    DirClient client(base, 2);
    auto r = run(base, [&](DirClient::Done d) {
      client.postDescriptor({"127.0.0.1", ntohs(sin.sin_port), "gone"}, "x", d);
    });
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 0);

    FakeAuthority auth(base);
    auth.stored = "x";
    auth.huge = true;
    auto big = run(base, [&](DirClient::Done d) {
      client.fetchServerDescriptor({"127.0.0.1", auth.port, "auth"}, "AAAA", d);
    });
    ASSERT_TRUE(big);
    EXPECT_NE(big->status, 200) << "a response over the cap is not accepted";
  }
  event_base_free(base);
}

}  // namespace
}  // namespace onionsplit::channeld
