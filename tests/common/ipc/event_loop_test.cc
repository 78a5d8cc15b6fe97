// Tests for common/ipc/event_loop.h: libevent and KJ on one thread. One test runs a libevent timer,
// a libevent TCP echo over loopback, an evdns query answered by a local DNS server, and a Cap'n
// Proto call over a Unix socketpair, all at once in one loop.
#include "common/ipc/event_loop.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/listener.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <strings.h>

#include "proto/control.capnp.h"

namespace onionsplit::ipc {
namespace {

class TestControl final : public proto::Control::Server {
 public:
  kj::Promise<void> version(VersionContext ctx) override {
    auto r = ctx.getResults();
    r.setDaemon("test");
    r.setVersion("0");
    r.setPid(static_cast<uint32_t>(getpid()));
    ++calls;
    return kj::READY_NOW;
  }
  int calls = 0;
};

struct Everything {
  EventLoop* loop = nullptr;
  bool timerFired = false;
  std::string echoed;
  std::string resolved;
  bool rpcDone = false;
  bufferevent* echoServer = nullptr;  // the accepted side of the TCP echo, freed by the test
  void maybeStop() {
    if (timerFired && echoed == "ping" && !resolved.empty() && rpcDone) loop->stop();
  }
};

void onTimer(evutil_socket_t, short, void* arg) {
  auto* e = static_cast<Everything*>(arg);
  e->timerFired = true;
  e->maybeStop();
}

// Echo server side.
void onEchoRead(bufferevent* bev, void*) {
  bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}
void onEchoAccept(evconnlistener* l, evutil_socket_t fd, sockaddr*, int, void* arg) {
  bufferevent* bev = bufferevent_socket_new(evconnlistener_get_base(l), fd, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(bev, onEchoRead, nullptr, nullptr, nullptr);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  static_cast<Everything*>(arg)->echoServer = bev;
}
// Echo client side.
void onClientRead(bufferevent* bev, void* arg) {
  auto* e = static_cast<Everything*>(arg);
  char buf[16];
  size_t n = bufferevent_read(bev, buf, sizeof buf);
  e->echoed.append(buf, n);
  e->maybeStop();
}

// A DNS server answering every A query for "example.test" with 127.0.0.7.
void onDnsRequest(evdns_server_request* req, void*) {
  for (int i = 0; i < req->nquestions; ++i) {
    if (req->questions[i]->type == EVDNS_TYPE_A &&
        strcasecmp(req->questions[i]->name, "example.test") == 0) {  // evdns randomizes case
      in_addr a;
      inet_pton(AF_INET, "127.0.0.7", &a);
      evdns_server_request_add_a_reply(req, req->questions[i]->name, 1, &a, 60);
    }
  }
  evdns_server_request_respond(req, 0);
}
void onResolved(int result, char type, int count, int, void* addrs, void* arg) {
  auto* e = static_cast<Everything*>(arg);
  if (result == DNS_ERR_NONE && type == DNS_IPv4_A && count > 0) {
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, addrs, text, sizeof text);
    e->resolved = text;
  } else {
    e->resolved = "error";
  }
  e->maybeStop();
}

TEST(EventLoop, LibeventTimerTcpEchoEvdnsAndCapnpInOneThread) {
  EventLoop loop;
  Everything e;
  e.loop = &loop;
  event_base* base = loop.base();

  // 1. A libevent timer.
  event* timer = evtimer_new(base, onTimer, &e);
  timeval tv{0, 20000};
  evtimer_add(timer, &tv);

  // 2. TCP echo over loopback (port 0).
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  evconnlistener* listener =
      evconnlistener_new_bind(base, onEchoAccept, &e, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
                              reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  ASSERT_NE(listener, nullptr);
  socklen_t len = sizeof sin;
  getsockname(evconnlistener_get_fd(listener), reinterpret_cast<sockaddr*>(&sin), &len);
  bufferevent* client = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(client, onClientRead, nullptr, nullptr, &e);
  bufferevent_enable(client, EV_READ | EV_WRITE);
  ASSERT_EQ(bufferevent_socket_connect(client, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  bufferevent_write(client, "ping", 4);

  // 3. evdns against a DNS server on 127.0.0.1 (port 0), served by libevent in the same loop.
  int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in dns{};
  dns.sin_family = AF_INET;
  dns.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(udp, reinterpret_cast<sockaddr*>(&dns), sizeof dns), 0);
  len = sizeof dns;
  getsockname(udp, reinterpret_cast<sockaddr*>(&dns), &len);
  evdns_server_port* dnsServer =
      evdns_add_server_port_with_base(base, udp, 0, onDnsRequest, nullptr);
  evdns_base* resolver = evdns_base_new(base, 0);
  std::string ns = "127.0.0.1:" + std::to_string(ntohs(dns.sin_port));
  ASSERT_EQ(evdns_base_nameserver_ip_add(resolver, ns.c_str()), 0);
  evdns_base_resolve_ipv4(resolver, "example.test", DNS_QUERY_NO_SEARCH, onResolved, &e);

  // 4. A Cap'n Proto call over a Unix socketpair, both ends in this loop.
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  auto impl = kj::heap<TestControl>();
  TestControl& control = *impl;
  RpcConnection server(base, sv[0], true, kj::mv(impl));
  RpcConnection clientConn(base, sv[1], false, capnp::Capability::Client(nullptr));
  auto cap = clientConn.bootstrap<proto::Control>();
  std::string who;
  auto call =
      cap.versionRequest().send().then([&](capnp::Response<proto::Control::VersionResults>&& r) {
        who = r.getDaemon();
        e.rpcDone = true;
        e.maybeStop();
      });
  auto done =
      call.eagerlyEvaluate([](kj::Exception&& ex) { ADD_FAILURE() << ex.getDescription().cStr(); });

  // The loop runs until all four have happened (bounded by a watchdog timer).
  event* watchdog = evtimer_new(
      base, [](evutil_socket_t, short, void* l) { static_cast<EventLoop*>(l)->stop(); }, &loop);
  timeval limit{10, 0};
  evtimer_add(watchdog, &limit);
  ASSERT_EQ(loop.run(), 0);

  EXPECT_TRUE(e.timerFired);
  EXPECT_EQ(e.echoed, "ping");
  EXPECT_EQ(e.resolved, "127.0.0.7");
  EXPECT_EQ(who, "test");
  EXPECT_EQ(control.calls, 1);

  event_free(watchdog);
  event_free(timer);
  bufferevent_free(client);
  if (e.echoServer) bufferevent_free(e.echoServer);
  evconnlistener_free(listener);
  evdns_base_free(resolver, 0);
  evdns_close_server_port(dnsServer);
  close(udp);
}

TEST(EventLoop, PromiseWaitDrivesLibevent) {
  EventLoop loop;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  FramedSocket a(loop.base(), sv[0]), b(loop.base(), sv[1]);
  std::string big(1 << 20, 'x');
  auto w = a.write(big.data(), big.size());
  std::string got(big.size(), '\0');
  size_t n = b.tryRead(got.data(), got.size(), got.size()).wait(loop.waitScope());
  w.wait(loop.waitScope());
  EXPECT_EQ(n, big.size());
  EXPECT_EQ(got, big);
  a.shutdownWrite();
  char c;
  EXPECT_EQ(b.tryRead(&c, 1, 1).wait(loop.waitScope()), 0u);
}

TEST(EventLoop, PeerCloseBreaksTheRpcConnection) {
  EventLoop loop;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  auto conn = std::make_unique<RpcConnection>(loop.base(), sv[0], false,
                                              capnp::Capability::Client(nullptr));
  auto cap = conn->bootstrap<proto::Control>();
  auto call = cap.versionRequest().send();
  close(sv[1]);
  bool failed = false;
  call.then([](auto&&) {}, [&](kj::Exception&&) { failed = true; }).wait(loop.waitScope());
  EXPECT_TRUE(failed);
  conn->onDisconnect().wait(loop.waitScope());
}

}  // namespace
}  // namespace onionsplit::ipc
