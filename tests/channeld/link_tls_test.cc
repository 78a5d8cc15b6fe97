// Tests for channeld/net/link_tls.h: a real TLS handshake between a responder and an initiator
// context over a socketpair; both ends agree on the AUTH0003 exporter and on the certificates, and
// a peer limited to TLS 1.1 is refused.
#include "channeld/net/link_tls.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace onionsplit::channeld {
namespace {

struct Keys {
  crypto::RsaPrivateKey key = *crypto::RsaPrivateKey::generate(2048);  // C tor link keys
  crypto::X509Cert cert;
  explicit Keys(const char* name) : cert(makeCert(key, name)) {}
  static crypto::X509Cert makeCert(const crypto::RsaPrivateKey& k, const char* name) {
    crypto::RsaPublicKey pub = k.publicKey();
    crypto::X509Request req;
    req.subjectKey = &pub;
    req.issuerKey = &k;
    req.subjectCommonName = name;
    req.issuerCommonName = name;
    req.serial = {1, 2, 3, 4, 5, 6, 7, 8};
    req.notBeforeUnix = 1700000000;
    req.notAfterUnix = 1900000000;
    return *crypto::makeX509Cert(req);
  }
};

// Drives both ends of a handshake until both finish or one fails; returns true if both finished.
bool handshake(SSL* server, SSL* client) {
  bool sDone = false, cDone = false;
  for (int i = 0; i < 1000 && !(sDone && cDone); ++i) {
    if (!cDone) {
      int r = SSL_connect(client);
      if (r == 1)
        cDone = true;
      else if (SSL_get_error(client, r) != SSL_ERROR_WANT_READ)
        return false;
    }
    if (!sDone) {
      int r = SSL_accept(server);
      if (r == 1)
        sDone = true;
      else if (SSL_get_error(server, r) != SSL_ERROR_WANT_READ)
        return false;
    }
  }
  return sDone && cDone;
}

struct Pair {
  int fds[2] = {-1, -1};
  SSL* server = nullptr;
  SSL* client = nullptr;
  Pair(const LinkTlsContext& s, const LinkTlsContext& c) {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    for (int fd : fds)
      fcntl(fd, F_SETFL, O_NONBLOCK);
    server = s.newSsl();
    client = c.newSsl();
    SSL_set_fd(server, fds[0]);
    SSL_set_fd(client, fds[1]);
  }
  ~Pair() {
    SSL_free(server);
    SSL_free(client);
    close(fds[0]);
    close(fds[1]);
  }
};

TEST(LinkTls, HandshakeExporterAndCertificates) {
  Keys responderKeys("www.responder.net"), initiatorKeys("www.initiator.net");
  std::string err;
  auto resp =
      LinkTlsContext::create(TlsRole::kResponder, responderKeys.key, responderKeys.cert, err);
  ASSERT_TRUE(resp) << err;
  auto init =
      LinkTlsContext::create(TlsRole::kInitiator, initiatorKeys.key, initiatorKeys.cert, err);
  ASSERT_TRUE(init) << err;
  Pair p(*resp, *init);
  ASSERT_TRUE(handshake(p.server, p.client));
  EXPECT_GE(SSL_version(p.server), TLS1_2_VERSION);

  EXPECT_EQ(localCertDer(p.server), responderKeys.cert.der());
  EXPECT_EQ(peerCertDer(p.client), responderKeys.cert.der());
  EXPECT_EQ(peerCertDer(p.server), initiatorKeys.cert.der());

  uint8_t id[32] = {7};
  auto a = authTlsSecrets(p.server, Bytes(id));
  auto b = authTlsSecrets(p.client, Bytes(id));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  uint8_t otherId[32] = {8};
  EXPECT_NE(*authTlsSecrets(p.server, Bytes(otherId)), *a) << "the context binds the identity";
}

TEST(LinkTls, RefusesTls11) {
  Keys k("www.r.net"), c("www.c.net");
  std::string err;
  auto resp = LinkTlsContext::create(TlsRole::kResponder, k.key, k.cert, err);
  auto init = LinkTlsContext::create(TlsRole::kInitiator, c.key, c.cert, err);
  ASSERT_TRUE(resp && init);
  SSL_CTX_set_min_proto_version(init->get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(init->get(), TLS1_1_VERSION);
  SSL_CTX_set_security_level(init->get(), 0);
  Pair p(*resp, *init);
  EXPECT_FALSE(handshake(p.server, p.client));
}

}  // namespace
}  // namespace onionsplit::channeld
