// Tests for channeld/net/or_listener.h over real TCP + TLS on 127.0.0.1: TLS completes on accepted
// connections, the per-address limit refuses the connection over it, and closing a connection frees
// its place.
#include "channeld/net/or_listener.h"

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <signal.h>

#include <vector>

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

TEST(OrListener, TlsAndPerAddressLimit) {
  signal(SIGPIPE, SIG_IGN);  // as every daemon does: a peer that hangs up is an error value
  event_base* base = event_base_new();
  auto key = *crypto::RsaPrivateKey::generate(2048);
  auto cert = selfSigned(key);
  std::string err;
  auto serverTls = LinkTlsContext::create(TlsRole::kResponder, key, cert, err);
  auto clientTls = LinkTlsContext::create(TlsRole::kInitiator, key, cert, err);
  ASSERT_TRUE(serverTls && clientTls) << err;

  std::vector<std::unique_ptr<OrConnection>> accepted;
  std::vector<bool> serverHandshakeDone;
  OrListenerLimits limits;
  limits.maxConnectionsPerAddress = 2;
  auto listener = OrListener::create(
      base, *serverTls, -1, "127.0.0.1", 0, limits,
      [&](std::unique_ptr<OrConnection> c) { accepted.push_back(std::move(c)); }, err);
  ASSERT_TRUE(listener) << err;
  ASSERT_NE(listener->port(), 0);

  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(listener->port());
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  std::vector<Client> clients(3);
  for (auto& c : clients) {
    c.bev = bufferevent_openssl_socket_new(base, -1, clientTls->newSsl(),
                                           BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c.bev, nullptr, nullptr, clientEvent, &c);
    bufferevent_enable(c.bev, EV_READ | EV_WRITE);
    ASSERT_EQ(bufferevent_socket_connect(c.bev, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
    spin(base, 100);
  }
  for (int i = 0; i < 20 && !(clients[0].connected && clients[1].connected); ++i)
    spin(base, 50);
  EXPECT_EQ(accepted.size(), 2u);
  EXPECT_TRUE(clients[0].connected);
  EXPECT_TRUE(clients[1].connected);
  EXPECT_FALSE(clients[2].connected);
  EXPECT_EQ(listener->refusedConnections(), 1u);
  EXPECT_EQ(listener->connectionsFrom("127.0.0.1"), 2u);

  accepted.erase(accepted.begin());  // closing one frees its place
  EXPECT_EQ(listener->connectionsFrom("127.0.0.1"), 1u);
  Client again;
  again.bev = bufferevent_openssl_socket_new(base, -1, clientTls->newSsl(),
                                             BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
  bufferevent_setcb(again.bev, nullptr, nullptr, clientEvent, &again);
  bufferevent_enable(again.bev, EV_READ | EV_WRITE);
  bufferevent_socket_connect(again.bev, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  for (int i = 0; i < 20 && !again.connected; ++i)
    spin(base, 50);
  EXPECT_TRUE(again.connected);
  EXPECT_EQ(accepted.size(), 2u);

  accepted.clear();
  for (auto& c : clients)
    bufferevent_free(c.bev);
  bufferevent_free(again.bev);
  listener.reset();
  event_base_free(base);
}

}  // namespace
}  // namespace onionsplit::channeld
