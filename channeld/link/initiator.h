// channeld/link/initiator.h: the link handshake of a connection we open to another relay
// (EXTEND2's next hop), initiator side (tor-spec section 4), as a pure state machine: cells in,
// cells out, and a verdict. channeld's outbound TLS shell (channeld/net/outbound.h) sends what
// start() returns, then feeds it every cell the responder sends (framed by cell::nextCell, with the
// raw bytes as they were on the wire) until it says the channel is open or must close.
//
//   initiator (us)                                  responder
//   VERSIONS (4, 5)                   ------->
//                                     <-------      VERSIONS, CERTS (1,2,4,5,7), AUTH_CHALLENGE,
//                                                   NETINFO
//   CERTS (3,2,4,6,7), AUTHENTICATE (type 3), NETINFO  ------->
//
// The responder's CERTS must chain (RSA-1024 identity, ed25519 identity -> signing key, the RSA
// crosscert) and certify the TLS certificate it presented (type 5; a type 1, if sent, must be that
// certificate signed by the identity), and its identities must be the ones EXTEND2's link
// specifiers named. We authenticate with AUTHENTICATE type 3 (Ed25519-SHA256-RFC5705) when the
// AUTH_CHALLENGE offers it, as C tor 0.4.9 does, and open when the responder's NETINFO arrives.
// Anything else (a cell out of order, a second CERTS, a malformed cell, a wrong identity) closes
// the connection with a reason for the log.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "channeld/link/link_certs.h"
#include "common/cell/cells.h"

namespace onionsplit::channeld {

struct InitiatorSetup {
  // Our CERTS (InitiatorCredentials::initiatorCerts(): types 3, 2, 4, 6, 7) and the key that the
  // type 6 certificate certifies. Borrowed: `authKey` must outlive the LinkInitiator. With no
  // certificates or no key we do not authenticate (the responder then sees a client).
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> certs;
  const crypto::Ed25519Signer* authKey = nullptr;
  std::array<uint8_t, 32> ourRsaIdSha256{};  // CID: SHA-256 of our RSA identity key (DER)
  crypto::Ed25519PublicKey ourEdId{};        // CID_ED: our ed25519 master identity
  // Who EXTEND2's link specifiers say the next hop is; a missing one is not checked, but at least
  // one must be given.
  std::optional<crypto::RsaFingerprint> expectedRsaId;
  std::optional<crypto::Ed25519PublicKey> expectedEdId;
  // From TLS: the DER of the certificate the responder presented (its SHA-256 is SCERT and what
  // CERTS type 5 must certify), and this session's AUTH0003 exporter value for CID = our
  // ourRsaIdSha256 (channeld::authTlsSecrets); nullopt if TLS cannot export (then no AUTHENTICATE).
  std::vector<uint8_t> peerTlsCertDer;
  std::optional<std::array<uint8_t, 32>> tlsSecrets;
  std::array<uint8_t, 24> authRandom{};  // RAND of AUTH0003: fresh random bytes
  cell::NetAddress peerAddress{};        // NETINFO "other address": where we connected
  std::vector<cell::NetAddress> ourAddresses;
  int64_t nowUnix = 0;
};

class LinkInitiator {
 public:
  enum class Verdict : uint8_t { kContinue, kOpen, kClose };
  struct Step {
    Verdict verdict = Verdict::kContinue;
    std::string why;  // for kClose
  };

  explicit LinkInitiator(InitiatorSetup setup);
  ~LinkInitiator();
  LinkInitiator(const LinkInitiator&) = delete;
  LinkInitiator& operator=(const LinkInitiator&) = delete;

  // Our VERSIONS cell, appended to `out`; call once, right after TLS connects.
  void start(std::vector<uint8_t>& out);
  // Link version the next cell is framed with (0 until the responder's VERSIONS arrived).
  uint16_t linkVersion() const { return linkVersion_; }
  // One cell from the responder, `raw` its bytes on the wire. Cells to send are appended to `out`.
  Step onCell(const cell::CellView& c, Bytes raw, std::vector<uint8_t>& out);
  // After CERTS checked out (and so after kOpen): who the responder proved to be.
  const std::optional<PeerIdentity>& peer() const { return peer_; }
  // True once we sent AUTHENTICATE (the responder can count us as a relay).
  bool authenticated() const { return authenticated_; }
  const std::optional<cell::Netinfo>& peerNetinfo() const { return netinfo_; }

 private:
  enum class State : uint8_t {
    kStart,
    kVersions,
    kCerts,
    kAuthChallenge,
    kNetinfo,
    kOpen,
    kClosed
  };
  Step close(std::string why);
  Step onVersions(Bytes payload);
  Step onCerts(Bytes payload);
  Step onAuthChallenge(Bytes payload, std::vector<uint8_t>& out);
  Step onNetinfo(Bytes payload, std::vector<uint8_t>& out);
  bool sendNetinfo(std::vector<uint8_t>& out);
  void send(std::vector<uint8_t>& out, cell::CellCmd cmd, Bytes payload, bool variable);

  InitiatorSetup setup_;
  State state_ = State::kStart;
  uint16_t linkVersion_ = 0;
  bool authenticated_ = false;
  bool sentNetinfo_ = false;
  std::optional<PeerIdentity> peer_;
  std::optional<cell::Netinfo> netinfo_;
  // SLOG / CLOG of AUTH0003: running SHA-256 of everything the responder sent / we sent, until
  // AUTHENTICATE is computed.
  EVP_MD_CTX* received_ = nullptr;
  EVP_MD_CTX* sent_ = nullptr;
};

}  // namespace onionsplit::channeld
