// channeld/net/link_tls.cc: see link_tls.h.
#include "channeld/net/link_tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace onionsplit::channeld {
namespace {

std::string lastSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

std::vector<uint8_t> derOf(X509* cert) {
  if (!cert) return {};
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) return {};
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// A socket BIO's callback: adds the bytes of each completed read or write to the LinkTraffic in
// its argument.
long countBytes(BIO* bio, int oper, const char*, size_t, int, long, int ret, size_t* processed) {
  if (ret <= 0 || !processed) return ret;
  if (oper == (BIO_CB_READ | BIO_CB_RETURN)) {
    reinterpret_cast<LinkTraffic*>(BIO_get_callback_arg(bio))->read += *processed;
  } else if (oper == (BIO_CB_WRITE | BIO_CB_RETURN)) {
    reinterpret_cast<LinkTraffic*>(BIO_get_callback_arg(bio))->written += *processed;
  }
  return ret;
}

// Accept whatever the peer presents: the link protocol (CERTS) authenticates it.
int acceptAnyCert(int, X509_STORE_CTX*) {
  return 1;
}

}  // namespace

void LinkTlsContext::CtxFree::operator()(ssl_ctx_st* c) const {
  SSL_CTX_free(c);
}

std::optional<LinkTlsContext> LinkTlsContext::create(TlsRole role,
                                                     const crypto::RsaPrivateKey& linkKey,
                                                     const crypto::X509Cert& linkCert,
                                                     std::string& error) {
  SSL_CTX* ctx =
      SSL_CTX_new(role == TlsRole::kResponder ? TLS_server_method() : TLS_client_method());
  if (!ctx) {
    error = lastSslError();
    return std::nullopt;
  }
  LinkTlsContext out(role, ctx);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    error = lastSslError();
    return std::nullopt;
  }
  // Level 1: C tor relays sign their link certificate with the 1024-bit identity key.
  SSL_CTX_set_security_level(ctx, 1);
  // No compression, no renegotiation, no session tickets: a link is one long-lived session.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:ECDHE+AES") != 1) {
    error = lastSslError();
    return std::nullopt;
  }
  if (SSL_CTX_use_certificate(ctx, linkCert.x509()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, linkKey.evp()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    error = lastSslError();
    return std::nullopt;
  }
  // The responder asks for the initiator's certificate only to learn it, never to verify it.
  SSL_CTX_set_verify(ctx, role == TlsRole::kResponder ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                     acceptAnyCert);
  return out;
}

ssl_st* LinkTlsContext::newSsl() const {
  return SSL_new(ctx_.get());
}

void LinkTlsContext::countWireBytes(ssl_st* ssl) const {
  if (!ssl) return;
  BIO* bios[2] = {SSL_get_rbio(ssl), SSL_get_wbio(ssl)};
  for (BIO* bio : bios) {
    if (!bio || BIO_get_callback_ex(bio) == &countBytes) continue;  // one BIO for both ways
    BIO_set_callback_arg(bio, reinterpret_cast<char*>(traffic_.get()));
    BIO_set_callback_ex(bio, &countBytes);
  }
}

std::vector<uint8_t> localCertDer(ssl_st* ssl) {
  return derOf(SSL_get_certificate(ssl));
}

std::vector<uint8_t> peerCertDer(ssl_st* ssl) {
  X509* peer = SSL_get1_peer_certificate(ssl);
  auto der = derOf(peer);
  X509_free(peer);
  return der;
}

std::optional<std::array<uint8_t, 32>> authTlsSecrets(ssl_st* ssl, Bytes cid) {
  static constexpr char kLabel[] = "EXPORTER FOR TOR TLS CLIENT BINDING AUTH0003";
  std::array<uint8_t, 32> out{};
  if (SSL_export_keying_material(ssl, out.data(), out.size(), kLabel, sizeof kLabel - 1, cid.data(),
                                 cid.size(), 1) != 1)
    return std::nullopt;
  return out;
}

}  // namespace onionsplit::channeld
