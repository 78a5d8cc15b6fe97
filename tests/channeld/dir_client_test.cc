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

namespace onionsplit::channeld {
namespace {

struct FakeAuthority {
  event_base* base;
  evhttp* http;
  uint16_t port = 0;
  std::string stored;
  std::string lastPath;
  bool huge = false;

  explicit FakeAuthority(event_base* b) : base(b), http(evhttp_new(b)) {
    evhttp_bound_socket* s = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    sockaddr_in sin{};
    socklen_t len = sizeof sin;
    getsockname(evhttp_bound_socket_get_fd(s), reinterpret_cast<sockaddr*>(&sin), &len);
    port = ntohs(sin.sin_port);
    evhttp_set_gencb(http, &FakeAuthority::handle, this);
  }
  ~FakeAuthority() { evhttp_free(http); }

  static void handle(evhttp_request* req, void* arg) {
    auto* self = static_cast<FakeAuthority*>(arg);
    self->lastPath = evhttp_request_get_uri(req);
    evbuffer* out = evbuffer_new();
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && self->lastPath == "/tor/") {
      evbuffer* in = evhttp_request_get_input_buffer(req);
      self->stored.resize(evbuffer_get_length(in));
      evbuffer_remove(in, self->stored.data(), self->stored.size());
      evhttp_send_reply(req, 200, "OK", out);
    } else if (self->lastPath.starts_with("/tor/server/fp/") && !self->stored.empty()) {
      if (self->huge) {
        std::string big(kMaxResponseBytes + 10, 'x');
        evbuffer_add(out, big.data(), big.size());
      } else {
        evbuffer_add(out, self->stored.data(), self->stored.size());
      }
      evhttp_send_reply(req, 200, "OK", out);
    } else {
      evhttp_send_reply(req, 404, "Not found", out);
    }
    evbuffer_free(out);
  }
};

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
