// Tests for channeld/link/responder.h: the responder's side of the link handshake against an
// initiator played with the project's own codecs and certificates: an authenticating relay, a
// client that does not authenticate, and every way the initiator can get it wrong.
#include "channeld/link/responder.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "common/crypto/ed25519_cert.h"

namespace onionsplit::channeld {
namespace {

constexpr int64_t kNow = 1800000000;
using cell::CellCmd;

crypto::Ed25519Keypair keypair(uint8_t seedByte) {
  crypto::Ed25519Seed s{};
  s.fill(seedByte);
  return *crypto::Ed25519Keypair::fromSeed(s);
}

std::vector<uint8_t> edCert(crypto::CertType type, const crypto::Ed25519Signer& signer,
                            const crypto::Ed25519PublicKey& certified, bool includeKey) {
  crypto::Ed25519CertFields f;
  f.certType = type;
  f.certifiedKey = certified;
  f.expirationHours = crypto::certExpirationHours(kNow + 86400 * 30);
  f.includeSigningKey = includeKey;
  std::array<uint8_t, crypto::kEd25519CertMaxEncodedLen> buf{};
  auto c = crypto::encodeEd25519Cert(f, signer, buf);
  return std::vector<uint8_t>(c->begin(), c->end());
}

std::array<uint8_t, 32> sha256(Bytes b) {
  std::array<uint8_t, 32> d{};
  unsigned n = 0;
  EVP_Digest(b.data(), b.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

struct Relay {
  crypto::RsaPrivateKey rsa = *crypto::RsaPrivateKey::generate(1024);
  crypto::Ed25519Keypair master, signing, auth;
  std::vector<uint8_t> type4, type6;
  std::optional<LinkCredentials> creds;
  explicit Relay(uint8_t seed)
      : master(keypair(seed)),
        signing(keypair(static_cast<uint8_t>(seed + 1))),
        auth(keypair(static_cast<uint8_t>(seed + 2))),
        type4(edCert(crypto::CertType::kIdentitySigning, master, signing.publicKey(), true)),
        type6(edCert(crypto::CertType::kSigningAuth, signing, auth.publicKey(), false)) {
    std::vector<uint8_t> entropy(64, seed);
    std::string err;
    creds = LinkCredentials::create(rsa, signing, type4, master.publicKey(), kNow, entropy, err);
  }
};

// The responder under test, with the fields an initiator needs to check it.
struct Harness {
  Relay us{1};
  std::array<uint8_t, 32> tlsSecrets{};
  PeerIdentity ourId;
  std::unique_ptr<LinkResponder> responder;
  std::vector<uint8_t> fromResponder, toResponder;

  Harness() {
    tlsSecrets.fill(0x5a);
    auto certs = us.creds->responderCerts();
    std::vector<CertEntry> entries;
    for (auto& [t, b] : certs)
      entries.push_back(CertEntry{t, Bytes(b)});
    ourId = *checkResponderCerts(entries, us.creds->linkCert.der(), kNow);
    ResponderSetup s;
    s.certs = certs;
    s.challenge.fill(0x33);
    s.ourRsaIdSha256 = ourId.rsaIdSha256;
    s.ourEdId = us.master.publicKey();
    s.ourTlsCertSha256 = us.creds->linkCert.sha256();
    // Like the real exporter, the value depends on the context, CID.
    s.tlsSecrets = [this](const std::array<uint8_t, 32>& initiator) {
      std::vector<uint8_t> in(tlsSecrets.begin(), tlsSecrets.end());
      in.insert(in.end(), initiator.begin(), initiator.end());
      return std::optional<std::array<uint8_t, 32>>(sha256(Bytes(in)));
    };
    s.peerAddress.type = 4;
    s.peerAddress.bytes[0] = 127;
    s.peerAddress.bytes[3] = 1;
    s.nowUnix = kNow;
    responder = std::make_unique<LinkResponder>(s);
  }

  // Frames one initiator cell, records it, and feeds it to the responder.
  LinkResponder::Step feed(CellCmd cmd, Bytes payload) {
    std::vector<uint8_t> buf(70000);
    Writer w{MutBytes(buf)};
    uint16_t v = cmd == CellCmd::kVersions ? 0 : responder->linkVersion();
    if (cell::isVariableLength(static_cast<uint8_t>(cmd)))
      cell::encodeVarCell(w, v, 0, cmd, payload);
    else
      cell::encodeFixedCell(w, v, 0, cmd, payload);
    Bytes wire = w.written();
    auto c = cell::nextCell(wire, v);
    EXPECT_TRUE(c && *c);
    if (cmd != CellCmd::kAuthenticate)
      toResponder.insert(toResponder.end(), wire.begin(), wire.end());
    return responder->onCell(**c, wire, fromResponder);
  }
  LinkResponder::Step versions(std::initializer_list<uint16_t> vs) {
    cell::Versions v;
    for (uint16_t x : vs)
      v.versions[v.count++] = x;
    uint8_t buf[64];
    Writer w{MutBytes(buf)};
    cell::encodeVersions(v, w);
    return feed(CellCmd::kVersions, w.written());
  }
  LinkResponder::Step netinfo() {
    cell::Netinfo n;
    n.timestamp = static_cast<uint32_t>(kNow);
    n.otherAddress = cell::NetAddress{4, {127, 0, 0, 1}};
    uint8_t buf[509];
    Writer w{MutBytes(buf)};
    cell::encodeNetinfo(n, w);
    return feed(CellCmd::kNetinfo, w.written());
  }
  LinkResponder::Step certs(const std::vector<std::pair<uint8_t, std::vector<uint8_t>>>& list) {
    cell::CertsCell c;
    for (auto& [t, b] : list)
      c.certs[c.count++] = {t, Bytes(b)};
    std::vector<uint8_t> buf(8000);
    Writer w{MutBytes(buf)};
    cell::encodeCerts(c, w);
    return feed(CellCmd::kCerts, w.written());
  }
  // The AUTH0003 body an initiator `r` computes from what it saw.
  std::vector<uint8_t> auth3(const Relay& r, const PeerIdentity& rid,
                             const std::array<uint8_t, 32>& secrets) {
    // SLOG: what the responder sent up to and including AUTH_CHALLENGE (its first three cells).
    size_t upto = 0;
    Bytes all(fromResponder);
    for (int i = 0; i < 3; ++i) {
      auto c = cell::nextCell(all.subspan(upto), i == 0 ? 0 : responder->linkVersion());
      upto += (*c)->wireLen;
    }
    Auth3Expected e;
    e.cid = rid.rsaIdSha256;
    e.sid = ourId.rsaIdSha256;
    e.cidEd = r.master.publicKey();
    e.sidEd = us.master.publicKey();
    e.slog = sha256(all.subspan(0, upto));
    e.clog = sha256(Bytes(toResponder));
    e.scert = us.creds->linkCert.sha256();
    std::vector<uint8_t> in(secrets.begin(), secrets.end());
    in.insert(in.end(), rid.rsaIdSha256.begin(), rid.rsaIdSha256.end());
    e.tlsSecrets = sha256(Bytes(in));
    std::vector<uint8_t> rnd(24, 0x77);
    return makeAuth3(e, rnd, r.auth);
  }
  LinkResponder::Step authenticate(Bytes body) {
    std::vector<uint8_t> buf(1000);
    Writer w{MutBytes(buf)};
    cell::Authenticate a;
    a.authType = 3;
    a.auth = body;
    cell::encodeAuthenticate(a, w);
    return feed(CellCmd::kAuthenticate, w.written());
  }
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> initiatorCerts(const Relay& r) {
    return {
        {2, r.creds->identityCert.der()}, {4, r.type4}, {6, r.type6}, {7, r.creds->rsaEdCrosscert}};
  }
};

using V = LinkResponder::Verdict;

TEST(LinkResponder, AnswersVersionsWithCertsChallengeAndNetinfo) {
  Harness h;
  ASSERT_EQ(h.versions({3, 4, 5}).verdict, V::kContinue);
  EXPECT_EQ(h.responder->linkVersion(), 5);
  Bytes all(h.fromResponder);
  std::vector<uint8_t> cmds;
  size_t off = 0;
  for (int i = 0; off < all.size(); ++i) {
    auto c = cell::nextCell(all.subspan(off), i == 0 ? 0 : 5);
    ASSERT_TRUE(c && *c);
    cmds.push_back((*c)->command);
    if ((*c)->command == static_cast<uint8_t>(CellCmd::kCerts)) {
      auto certs = cell::decodeCerts((*c)->payload);
      ASSERT_TRUE(certs);
      std::vector<CertEntry> e;
      for (uint8_t k = 0; k < certs->count; ++k)
        e.push_back({certs->certs[k].type, certs->certs[k].body});
      EXPECT_TRUE(checkResponderCerts(e, h.us.creds->linkCert.der(), kNow));
    }
    if ((*c)->command == static_cast<uint8_t>(CellCmd::kAuthChallenge)) {
      auto ch = cell::decodeAuthChallenge((*c)->payload);
      ASSERT_TRUE(ch);
      EXPECT_EQ(ch->methodCount, 1);
      EXPECT_EQ(ch->methods[0], 3);
    }
    off += (*c)->wireLen;
  }
  EXPECT_EQ(cmds, (std::vector<uint8_t>{7, 129, 130, 8}));
}

TEST(LinkResponder, AnAuthenticatingRelayIsIdentified) {
  Harness h;
  Relay them(11);
  h.versions({4, 5});
  ASSERT_EQ(h.certs(h.initiatorCerts(them)).verdict, V::kContinue);
  // The initiator's own view of its identity digests, as the responder's checks compute them.
  std::vector<CertEntry> mine;
  auto list = h.initiatorCerts(them);
  for (auto& [t, b] : list)
    mine.push_back({t, Bytes(b)});
  auto self = checkInitiatorCerts(mine, kNow);
  ASSERT_TRUE(self);
  auto body = h.auth3(them, *self, h.tlsSecrets);
  ASSERT_EQ(h.authenticate(body).verdict, V::kContinue);
  ASSERT_EQ(h.netinfo().verdict, V::kOpen);
  ASSERT_TRUE(h.responder->peer());
  EXPECT_EQ(h.responder->peer()->rsaId, them.rsa.publicKey().fingerprint());
  EXPECT_EQ(h.responder->peer()->edId, them.master.publicKey());
}

TEST(LinkResponder, AClientThatDoesNotAuthenticateOpensAnonymously) {
  Harness h;
  h.versions({4});
  EXPECT_EQ(h.responder->linkVersion(), 4);
  ASSERT_EQ(h.feed(CellCmd::kVpadding, Bytes()).verdict, V::kContinue);
  ASSERT_EQ(h.netinfo().verdict, V::kOpen);
  EXPECT_FALSE(h.responder->peer());
  ASSERT_TRUE(h.responder->peerNetinfo());
}

TEST(LinkResponder, AuthenticateBoundToAnotherTlsSessionIsRefused) {
  Harness h;
  Relay them(11);
  h.versions({4, 5});
  h.certs(h.initiatorCerts(them));
  std::vector<CertEntry> mine;
  auto list = h.initiatorCerts(them);
  for (auto& [t, b] : list)
    mine.push_back({t, Bytes(b)});
  auto self = checkInitiatorCerts(mine, kNow);
  std::array<uint8_t, 32> otherSession{};
  otherSession.fill(0x01);
  auto step = h.authenticate(h.auth3(them, *self, otherSession));
  EXPECT_EQ(step.verdict, V::kClose);
  EXPECT_NE(step.why.find("TLSSECRETS"), std::string::npos) << step.why;
}

TEST(LinkResponder, CertsWithoutAuthenticateProveNothing) {
  Harness h;
  Relay them(11);
  h.versions({5});
  h.certs(h.initiatorCerts(them));
  ASSERT_EQ(h.netinfo().verdict, V::kOpen);
  EXPECT_FALSE(h.responder->peer());
}

TEST(LinkResponder, RefusesWhatTheSpecForbids) {
  {
    Harness h;  // no common version
    auto s = h.versions({3});
    EXPECT_EQ(s.verdict, V::kClose);
    EXPECT_TRUE(h.fromResponder.empty());
  }
  {
    Harness h;  // the first cell is not VERSIONS
    std::vector<uint8_t> p(509);
    EXPECT_EQ(h.responder->onCell(cell::CellView{0, 10, Bytes(p), 514}, Bytes(p), h.fromResponder)
                  .verdict,
              V::kClose);
  }
  {
    Harness h;  // CREATE2 before the handshake finished
    h.versions({4, 5});
    std::vector<uint8_t> p(509);
    EXPECT_EQ(h.feed(CellCmd::kCreate2, Bytes(p)).verdict, V::kClose);
  }
  {
    Harness h;  // AUTHENTICATE without CERTS
    h.versions({4, 5});
    std::vector<uint8_t> junk(352, 1);
    EXPECT_EQ(h.authenticate(Bytes(junk)).verdict, V::kClose);
  }
  {
    Harness h;  // a CERTS that does not chain
    Relay them(11), other(21);
    h.versions({4, 5});
    auto list = h.initiatorCerts(them);
    list[3] = h.initiatorCerts(other)[3];
    auto s = h.certs(list);
    EXPECT_EQ(s.verdict, V::kClose);
  }
  {
    Harness h;  // malformed VERSIONS
    uint8_t odd[3] = {0, 4, 0};
    EXPECT_EQ(h.feed(CellCmd::kVersions, Bytes(odd, 3)).verdict, V::kClose);
  }
}

}  // namespace
}  // namespace onionsplit::channeld
