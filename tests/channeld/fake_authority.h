// tests/channeld/fake_authority.h: a directory authority's DirPort as channeld's tests need it: a
// real HTTP server on 127.0.0.1 (libevent's evhttp) that stores an uploaded descriptor (POST /tor/)
// and serves it back (/tor/server/fp/...); it can refuse the first uploads (503) or answer with
// more than a client may read.
#pragma once

#include <event2/buffer.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "channeld/net/dir_client.h"

namespace onionsplit::channeld::testing {

struct FakeAuthority {
  event_base* base;
  evhttp* http;
  uint16_t port = 0;
  std::string stored;
  std::string lastPath;
  bool huge = false;
  int failPosts = 0;  // answer this many uploads with 503 first
  int posts = 0;

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
    if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && self->lastPath == "/tor/" &&
        self->posts++ < self->failPosts) {
      evhttp_send_reply(req, 503, "Busy", out);
    } else if (evhttp_request_get_command(req) == EVHTTP_REQ_POST && self->lastPath == "/tor/") {
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

}  // namespace onionsplit::channeld::testing
