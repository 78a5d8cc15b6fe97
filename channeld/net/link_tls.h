// channeld/net/link_tls.h: the TLS layer of a Tor link (tor-spec §2), both roles.
//
// Tor authenticates relays inside the link protocol (CERTS, AUTHENTICATE), not through TLS: the
// link certificate is arbitrary (C tor: a 2048-bit RSA key signed by the identity) and is bound to
// the relay's keys by CERTS type 5 (SHA-256 of its DER). So the TLS context presents the link key
// and certificate, requires TLS 1.2 or newer (as C tor 0.4.9 does), verifies nothing itself, and
// exposes what the link handshake needs: the DER of both certificates and the RFC 5705 exporter of
// AUTHENTICATE type 3.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/crypto/rsa_identity.h"

struct ssl_ctx_st;
struct ssl_st;

namespace onionsplit::channeld {

enum class TlsRole : uint8_t { kResponder, kInitiator };

// The bytes a context's connections moved on their sockets (TLS records and handshakes included),
// as C tor's tor_relay_traffic_bytes and GETINFO traffic/* count its links.
struct LinkTraffic {
  uint64_t read = 0;
  uint64_t written = 0;
};

class LinkTlsContext {
 public:
  // A context presenting `linkKey` with `linkCert` (the responder's link certificate; an
  // initiator presents one too, as C tor does). Returns nullopt with `error` set on failure.
  static std::optional<LinkTlsContext> create(TlsRole role, const crypto::RsaPrivateKey& linkKey,
                                              const crypto::X509Cert& linkCert, std::string& error);
  LinkTlsContext(LinkTlsContext&&) noexcept = default;
  LinkTlsContext& operator=(LinkTlsContext&&) noexcept = default;

  TlsRole role() const { return role_; }
  ssl_ctx_st* get() const { return ctx_.get(); }
  // A new SSL object for one connection (the caller owns it, e.g. through bufferevent_openssl).
  ssl_st* newSsl() const;
  // Counts what `ssl`'s socket BIO reads and writes from now on into traffic(): call it once the
  // SSL has its socket (bufferevent_openssl makes the BIO when it gets the fd). The context must
  // outlive the SSL. No BIO: nothing is counted.
  void countWireBytes(ssl_st* ssl) const;
  const LinkTraffic& traffic() const { return *traffic_; }

 private:
  struct CtxFree {
    void operator()(ssl_ctx_st* c) const;
  };
  LinkTlsContext(TlsRole role, ssl_ctx_st* ctx)
      : role_(role), ctx_(ctx), traffic_(std::make_unique<LinkTraffic>()) {}
  TlsRole role_;
  std::unique_ptr<ssl_ctx_st, CtxFree> ctx_;
  std::unique_ptr<LinkTraffic> traffic_;  // a fixed address for the BIO callbacks, across moves
};

// DER of the certificate this side presented / the peer presented on `ssl` (empty if none).
std::vector<uint8_t> localCertDer(ssl_st* ssl);
std::vector<uint8_t> peerCertDer(ssl_st* ssl);

// TLSSECRETS of AUTHENTICATE type 3 (tor-spec §4.4.2): RFC 5705 exporter with the label
// "EXPORTER FOR TOR TLS CLIENT BINDING AUTH0003" and CID (the SHA-256 of the initiator's RSA
// identity key) as context, 32 bytes, as C tor computes it (tor-spec's "Context value: The CID
// value"). Nullopt if the TLS session cannot export.
std::optional<std::array<uint8_t, 32>> authTlsSecrets(ssl_st* ssl, Bytes cid);

}  // namespace onionsplit::channeld
