// Tests for channeld/net/or_listener.h over real TCP + TLS on 127.0.0.1: TLS completes on accepted
// connections, the connection DoS defence (channeld/link/channel_dos.h) refuses the connection over
// an address's limit while another address is served, and closing a connection frees its place.
#include "channeld/net/or_listener.h"

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <memory>
#include <vector>

#include "channeld/link/channel_dos.h"

namespace onionsplit::channeld {
namespace {

crypto::X509Cert selfSigned(const crypto::RsaPrivateKey& k) {
  crypto::RsaPublicKey pub = k.publicKey();
  crypto::X509Request req;
  req.subjectKey = &pub;
  req.issuerKey = &k;
  req.subjectCommonName = "www.example.net";
  req.issuerCommonName = "www.example.net";
  req.notBeforeUnix = 1700000000;
  req.notAfterUnix = 1900000000;
  return *crypto::makeX509Cert(req);
}

struct Client {
  bufferevent* bev = nullptr;
  bool connected = false;
  bool closed = false;
};

void clientEvent(bufferevent*, short what, void* arg) {
  auto* c = static_cast<Client*>(arg);
  if (what & BEV_EVENT_CONNECTED) c->connected = true;
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) c->closed = true;
}

void spin(event_base* base, int ms) {
  timeval tv{0, ms * 1000};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

// A TLS client from `from` (a loopback address) to the listener.
void connectFrom(event_base* base, const LinkTlsContext& tls, const char* from, uint16_t port,
                 Client& c) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, from, &local.sin_addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local), 0);
  evutil_make_socket_nonblocking(fd);
  c.bev = bufferevent_openssl_socket_new(base, fd, tls.newSsl(), BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(c.bev, nullptr, nullptr, clientEvent, &c);
  bufferevent_enable(c.bev, EV_READ | EV_WRITE);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  ASSERT_EQ(bufferevent_socket_connect(c.bev, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
}

// The connection defence at accept (DoSConnectionMaxConcurrentCount 2, refuse): as in C tor, an
// address is refused once it holds more than the maximum, so its fourth connection is closed
// before TLS, another address is still served, and closing
// a connection frees its place.
TEST(OrListener, TlsAndConnectionDefencePerAddress) {
  signal(SIGPIPE, SIG_IGN);  // as every daemon does: a peer that hangs up is an error value
  event_base* base = event_base_new();
  auto key = *crypto::RsaPrivateKey::generate(2048);
  auto cert = selfSigned(key);
  std::string err;
  auto serverTls = LinkTlsContext::create(TlsRole::kResponder, key, cert, err);
  auto clientTls = LinkTlsContext::create(TlsRole::kInitiator, key, cert, err);
  ASSERT_TRUE(serverTls && clientTls) << err;

  dos::DosTorrc torrc;
  torrc.connectionEnabled = true;
  torrc.connectionMaxConcurrentCount = 2;
  torrc.connectionDefenseType = 2;
  auto dos = std::make_shared<ChannelDos>(
      torrc, [](uint32_t lo, uint32_t) { return lo; }, std::array<uint64_t, 2>{1, 2});
  const uint64_t now = 1000;
  std::vector<std::unique_ptr<OrConnection>> accepted;
  OrListenerLimits limits;
  limits.admit = [dos](const PeerAddress& p) -> std::optional<std::function<void()>> {
    auto addr = ChannelDos::parseAddr(p.ip);
    if (!addr) return std::nullopt;
    auto t = dos->admit(*addr, now);
    if (!t) return std::nullopt;
    return [dos, t = *t] { dos->closed(t); };
  };
  auto listener = OrListener::create(
      base, *serverTls, -1, "127.0.0.1", 0, limits,
      [&](std::unique_ptr<OrConnection> c) { accepted.push_back(std::move(c)); }, err);
  ASSERT_TRUE(listener) << err;
  ASSERT_NE(listener->port(), 0);

  auto flooder = *ChannelDos::parseAddr("127.0.0.1");
  std::vector<Client> clients(4);
  for (auto& c : clients) {
    connectFrom(base, *clientTls, "127.0.0.1", listener->port(), c);
    spin(base, 100);
  }
  for (int i = 0; i < 20 && !(clients[0].connected && clients[2].connected); ++i)
    spin(base, 50);
  EXPECT_EQ(accepted.size(), 3u);
  EXPECT_TRUE(clients[0].connected);
  EXPECT_TRUE(clients[1].connected);
  EXPECT_TRUE(clients[2].connected);
  EXPECT_FALSE(clients[3].connected);
  EXPECT_EQ(listener->refusedConnections(), 1u);
  EXPECT_EQ(dos->tracker().concurrentCount(flooder), 3u);
  EXPECT_EQ(dos->counters().concurrentConnRejected, 1u);

  Client other;  // another address is served
  connectFrom(base, *clientTls, "127.0.0.2", listener->port(), other);
  for (int i = 0; i < 20 && !other.connected; ++i)
    spin(base, 50);
  EXPECT_TRUE(other.connected);
  EXPECT_EQ(accepted.size(), 4u);

  accepted.erase(accepted.begin());  // closing one frees its place
  EXPECT_EQ(dos->tracker().concurrentCount(flooder), 2u);
  Client again;
  connectFrom(base, *clientTls, "127.0.0.1", listener->port(), again);
  for (int i = 0; i < 20 && !again.connected; ++i)
    spin(base, 50);
  EXPECT_TRUE(again.connected);
  EXPECT_EQ(accepted.size(), 4u);
  EXPECT_EQ(listener->refusedConnections(), 1u);

  accepted.clear();
  for (auto& c : clients)
    bufferevent_free(c.bev);
  bufferevent_free(other.bev);
  bufferevent_free(again.bev);
  listener.reset();
  event_base_free(base);
}

}  // namespace
}  // namespace onionsplit::channeld
