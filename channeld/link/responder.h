// channeld/link/responder.h: the link handshake of an ORPort connection, responder side (tor-spec
// section 4), as a pure state machine: cells in, cells out, and a verdict. channeld's TLS shell
// feeds it every cell the initiator sends (framed by cell::nextCell, with the raw bytes as they
// were on the wire) until it says the channel is open or must close.
//
//   initiator                          responder (us)
//   VERSIONS              ------->
//                         <-------     VERSIONS, CERTS (1,2,4,5,7), AUTH_CHALLENGE, NETINFO
//   [CERTS (2,4,6,7), AUTHENTICATE]   (a relay that authenticates; a client sends neither)
//   NETINFO               ------->     open
//
// Link protocols 4 and 5 are offered. PADDING and VPADDING are ignored before the channel opens;
// any other cell, a second CERTS or AUTHENTICATE, an AUTHENTICATE without CERTS, or certificates
// and an AUTH0003 body that do not check out, close the connection with a reason for the log.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "channeld/link/link_certs.h"
#include "common/cell/cells.h"

namespace onionsplit::channeld {

struct ResponderSetup {
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> certs;  // LinkCredentials::responderCerts()
  std::array<uint8_t, 32> challenge{};         // fresh random bytes for AUTH_CHALLENGE
  std::array<uint8_t, 32> ourRsaIdSha256{};    // SID: SHA-256 of our RSA identity key (DER)
  crypto::Ed25519PublicKey ourEdId{};          // SID_ED: our ed25519 master identity
  std::array<uint8_t, 32> ourTlsCertSha256{};  // SCERT: SHA-256 of the TLS certificate we showed
  // TLSSECRETS: this TLS session's AUTH0003 exporter value for CID (the SHA-256 of the initiator's
  // RSA identity key, the exporter's context), e.g. channeld::authTlsSecrets; nullopt if TLS cannot
  // give it.
  std::function<std::optional<std::array<uint8_t, 32>>(const std::array<uint8_t, 32>& cid)>
      tlsSecrets;
  cell::NetAddress peerAddress{};              // NETINFO "other address"
  std::vector<cell::NetAddress> ourAddresses;  // NETINFO "my addresses"
  int64_t nowUnix = 0;
};

class LinkResponder {
 public:
  enum class Verdict : uint8_t { kContinue, kOpen, kClose };
  struct Step {
    Verdict verdict = Verdict::kContinue;
    std::string why;  // for kClose
  };

  explicit LinkResponder(ResponderSetup setup);
  ~LinkResponder();
  LinkResponder(const LinkResponder&) = delete;
  LinkResponder& operator=(const LinkResponder&) = delete;

  // Link version the next cell is framed with (0 until VERSIONS was answered).
  uint16_t linkVersion() const { return linkVersion_; }
  // One cell from the initiator, `raw` its bytes on the wire. Cells to send are appended to `out`.
  Step onCell(const cell::CellView& c, Bytes raw, std::vector<uint8_t>& out);
  // After kOpen: who the initiator proved to be (nullopt for a client that did not authenticate).
  const std::optional<PeerIdentity>& peer() const { return peer_; }
  const std::optional<cell::Netinfo>& peerNetinfo() const { return netinfo_; }

 private:
  enum class State : uint8_t {
    kVersions,
    kCertsOrNetinfo,
    kAuthenticate,
    kNetinfo,
    kOpen,
    kClosed
  };
  Step close(std::string why);
  Step onVersions(Bytes payload, std::vector<uint8_t>& out);
  Step onCerts(Bytes payload);
  Step onAuthenticate(Bytes payload);
  Step onNetinfo(Bytes payload);
  void send(std::vector<uint8_t>& out, cell::CellCmd cmd, Bytes payload, bool variable);
  std::array<uint8_t, 32> digestSoFar(EVP_MD_CTX* ctx) const;

  ResponderSetup setup_;
  State state_ = State::kVersions;
  uint16_t linkVersion_ = 0;
  std::optional<PeerIdentity> peer_;
  std::optional<cell::Netinfo> netinfo_;
  // SLOG / CLOG: running SHA-256 of everything we sent / received, for AUTH0003.
  EVP_MD_CTX* sent_ = nullptr;
  EVP_MD_CTX* received_ = nullptr;
  std::array<uint8_t, 32> slog_{};  // frozen after AUTH_CHALLENGE
  std::array<uint8_t, 32> clog_{};  // frozen before AUTHENTICATE
  bool slogOpen_ = true;
  bool clogOpen_ = true;
};

}  // namespace onionsplit::channeld
