// Tests for channeld/link/initiator.h: our initiator against our responder (channeld/link/
// responder.h) in memory, both completing the handshake and agreeing on who the other is, and every
// way a responder can fail to prove the identity EXTEND2 named: another identity, CERTS that do not
// chain, a bad signature, a type 5 or type 1 that does not match the TLS certificate, cells out of
// order.
#include "channeld/link/initiator.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "channeld/link/responder.h"
#include "common/crypto/ed25519_cert.h"

namespace onionsplit::channeld {
namespace {

constexpr int64_t kNow = 1800000000;
using cell::CellCmd;
using IV = LinkInitiator::Verdict;
using RV = LinkResponder::Verdict;
using CertList = std::vector<std::pair<uint8_t, std::vector<uint8_t>>>;

crypto::Ed25519Keypair keypair(uint8_t seedByte) {
  crypto::Ed25519Seed s{};
  s.fill(seedByte);
  return *crypto::Ed25519Keypair::fromSeed(s);
}

std::array<uint8_t, 32> sha256(Bytes b) {
  std::array<uint8_t, 32> d{};
  unsigned n = 0;
  EVP_Digest(b.data(), b.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

// A relay's keys and both sides' credentials.
struct Relay {
  crypto::RsaPrivateKey rsa = *crypto::RsaPrivateKey::generate(1024);
  crypto::Ed25519Keypair master, signing;
  std::vector<uint8_t> type4;
  std::optional<LinkCredentials> creds;
  std::optional<InitiatorCredentials> init;
  std::array<uint8_t, 32> rsaIdSha256{};
  explicit Relay(uint8_t seed)
      : master(keypair(seed)), signing(keypair(static_cast<uint8_t>(seed + 1))) {
    crypto::Ed25519CertFields f;
    f.certifiedKey = signing.publicKey();
    f.expirationHours = crypto::certExpirationHours(kNow + 86400 * 30);
    std::array<uint8_t, crypto::kEd25519CertMaxEncodedLen> buf{};
    auto c = crypto::encodeEd25519Cert(f, master, buf);
    type4.assign(c->begin(), c->end());
    std::vector<uint8_t> entropy(64, seed);
    std::string err;
    creds = LinkCredentials::create(rsa, signing, type4, master.publicKey(), kNow, entropy, err);
    init = InitiatorCredentials::create(*creds, rsa, signing, kNow, entropy, err);
    rsaIdSha256 = sha256(Bytes(rsa.publicKey().derPkcs1()));
  }
  crypto::RsaFingerprint fingerprint() const { return rsa.publicKey().fingerprint(); }
};

// Both ends of one connection. The TLS exporter is modelled as SHA-256(session | CID), so that
// both ends agree only if they share the session and the initiator's identity.
struct Link {
  Relay& us;    // initiator
  Relay& them;  // responder
  std::array<uint8_t, 32> session{};
  std::unique_ptr<LinkInitiator> initiator;
  std::unique_ptr<LinkResponder> responder;
  std::vector<uint8_t> toResponder, toInitiator;
  LinkInitiator::Step iStep;
  LinkResponder::Step rStep;

  Link(Relay& a, Relay& b) : us(a), them(b) { session.fill(0x5a); }

  std::array<uint8_t, 32> exporter(const std::array<uint8_t, 32>& s,
                                   const std::array<uint8_t, 32>& cid) const {
    std::vector<uint8_t> in(s.begin(), s.end());
    in.insert(in.end(), cid.begin(), cid.end());
    return sha256(Bytes(in));
  }
  InitiatorSetup initiatorSetup() const {
    InitiatorSetup s;
    s.certs = us.init->initiatorCerts(*us.creds);
    s.authKey = &us.init->authKey;
    s.ourRsaIdSha256 = us.rsaIdSha256;
    s.ourEdId = us.master.publicKey();
    s.expectedRsaId = them.fingerprint();
    s.expectedEdId = them.master.publicKey();
    s.peerTlsCertDer = them.creds->linkCert.der();
    s.tlsSecrets = exporter(session, us.rsaIdSha256);
    s.authRandom.fill(0x42);
    s.peerAddress = cell::NetAddress{4, {127, 0, 0, 2}};
    s.ourAddresses = {cell::NetAddress{4, {127, 0, 0, 1}}};
    s.nowUnix = kNow;
    return s;
  }
  ResponderSetup responderSetup(CertList certs) {
    ResponderSetup s;
    s.certs = std::move(certs);
    s.challenge.fill(0x33);
    s.ourRsaIdSha256 = them.rsaIdSha256;
    s.ourEdId = them.master.publicKey();
    s.ourTlsCertSha256 = them.creds->linkCert.sha256();
    s.tlsSecrets = [this](const std::array<uint8_t, 32>& cid) {
      return std::optional<std::array<uint8_t, 32>>(exporter(session, cid));
    };
    s.peerAddress = cell::NetAddress{4, {127, 0, 0, 1}};
    s.nowUnix = kNow;
    return s;
  }
  void make(InitiatorSetup is, CertList responderCerts) {
    initiator = std::make_unique<LinkInitiator>(std::move(is));
    responder = std::make_unique<LinkResponder>(responderSetup(std::move(responderCerts)));
  }
  void make() { make(initiatorSetup(), them.creds->responderCerts()); }

  // Feeds whole cells from `buf` to one side until it has no more or stops.
  template <class Side, class Step, class Version>
  bool pump(std::vector<uint8_t>& buf, Side& side, Step& step, std::vector<uint8_t>& out,
            Version version) {
    bool moved = false;
    size_t off = 0;
    while (step.verdict == decltype(step.verdict)::kContinue) {
      auto c = cell::nextCell(Bytes(buf).subspan(off), version());
      if (!c || !*c) break;
      step = side.onCell(**c, Bytes(buf).subspan(off, (*c)->wireLen), out);
      off += (*c)->wireLen;
      moved = true;
    }
    buf.erase(buf.begin(), buf.begin() + static_cast<long>(off));
    return moved;
  }
  // Runs the handshake until neither side moves.
  void run() {
    initiator->start(toResponder);
    for (int i = 0; i < 20; ++i) {
      bool a = pump(toResponder, *responder, rStep, toInitiator,
                    [&] { return responder->linkVersion(); });
      bool b = pump(toInitiator, *initiator, iStep, toResponder,
                    [&] { return initiator->linkVersion(); });
      if (!a && !b) break;
    }
  }
};

// The commands in a stream of cells framed for link `version` (after VERSIONS).
std::vector<uint8_t> commandsOf(Bytes all, uint16_t version) {
  std::vector<uint8_t> cmds;
  for (size_t off = 0; off < all.size();) {
    auto c = cell::nextCell(all.subspan(off), version);
    if (!c || !*c) break;
    cmds.push_back((*c)->command);
    off += (*c)->wireLen;
  }
  return cmds;
}

TEST(LinkInitiator, OpensAgainstOurResponderAndBothKnowEachOther) {
  Relay a(1), b(11);
  Link l(a, b);
  l.make();
  l.run();
  ASSERT_EQ(l.iStep.verdict, IV::kOpen) << l.iStep.why;
  ASSERT_EQ(l.rStep.verdict, RV::kOpen) << l.rStep.why;
  EXPECT_EQ(l.initiator->linkVersion(), 5);
  EXPECT_EQ(l.responder->linkVersion(), 5);
  EXPECT_TRUE(l.initiator->authenticated());
  ASSERT_TRUE(l.initiator->peer());
  EXPECT_EQ(l.initiator->peer()->rsaId, b.fingerprint());
  EXPECT_EQ(l.initiator->peer()->edId, b.master.publicKey());
  ASSERT_TRUE(l.responder->peer()) << "the responder counts us as an authenticated relay";
  EXPECT_EQ(l.responder->peer()->rsaId, a.fingerprint());
  EXPECT_EQ(l.responder->peer()->edId, a.master.publicKey());
  ASSERT_TRUE(l.initiator->peerNetinfo());
  ASSERT_TRUE(l.responder->peerNetinfo());
  EXPECT_EQ(l.responder->peerNetinfo()->myAddressCount, 1);
}

TEST(LinkInitiator, SendsVersionsThenCertsAuthenticateNetinfoLikeCTor) {
  Relay a(1), b(11);
  Link l(a, b);
  l.make();
  std::vector<uint8_t> first;
  l.initiator->start(first);
  auto v = cell::nextCell(Bytes(first), 0);
  ASSERT_TRUE(v && *v);
  auto versions = cell::decodeVersions((*v)->payload);
  ASSERT_TRUE(versions);
  EXPECT_EQ(versions->count, 2);
  EXPECT_EQ(versions->versions[0], 4);
  EXPECT_EQ(versions->versions[1], 5);
  // Capture what the initiator sends after the responder's flight.
  std::vector<uint8_t> fromResponder, second;
  LinkResponder::Step rs;
  auto rc = cell::nextCell(Bytes(first), 0);
  rs = l.responder->onCell(**rc, Bytes(first), fromResponder);
  ASSERT_EQ(rs.verdict, RV::kContinue);
  LinkInitiator::Step is;
  for (size_t off = 0; off < fromResponder.size();) {
    auto c = cell::nextCell(Bytes(fromResponder).subspan(off), l.initiator->linkVersion());
    ASSERT_TRUE(c && *c);
    is = l.initiator->onCell(**c, Bytes(fromResponder).subspan(off, (*c)->wireLen), second);
    off += (*c)->wireLen;
  }
  EXPECT_EQ(is.verdict, IV::kOpen);
  EXPECT_EQ(commandsOf(Bytes(second), 5), (std::vector<uint8_t>{129, 131, 8}));
  auto c = cell::nextCell(Bytes(second), 5);
  auto certs = cell::decodeCerts((*c)->payload);
  ASSERT_TRUE(certs);
  std::vector<uint8_t> types;
  for (uint8_t i = 0; i < certs->count; ++i)
    types.push_back(certs->certs[i].type);
  EXPECT_EQ(types, (std::vector<uint8_t>{3, 2, 4, 6, 7}));
  // The type 3 certificate is an RSA-1024 key signed by our identity.
  auto t3 = crypto::X509Cert::fromDer(certs->certs[0].body);
  ASSERT_TRUE(t3);
  EXPECT_TRUE(t3->signedBy(a.rsa.publicKey()));
  EXPECT_EQ(t3->rsaPublicKey()->bits(), 1024u);
}

TEST(LinkInitiator, EitherIdentityAloneIsEnough) {
  Relay a(1), b(11);
  {
    Link l(a, b);
    auto s = l.initiatorSetup();
    s.expectedEdId.reset();
    l.make(std::move(s), b.creds->responderCerts());
    l.run();
    EXPECT_EQ(l.iStep.verdict, IV::kOpen) << l.iStep.why;
  }
  {
    Link l(a, b);
    auto s = l.initiatorSetup();
    s.expectedRsaId.reset();
    l.make(std::move(s), b.creds->responderCerts());
    l.run();
    EXPECT_EQ(l.iStep.verdict, IV::kOpen) << l.iStep.why;
  }
  {
    Link l(a, b);  // but one is needed
    auto s = l.initiatorSetup();
    s.expectedRsaId.reset();
    s.expectedEdId.reset();
    l.make(std::move(s), b.creds->responderCerts());
    l.run();
    EXPECT_EQ(l.iStep.verdict, IV::kClose);
  }
}

TEST(LinkInitiator, RefusesAResponderWithAnotherIdentity) {
  Relay a(1), b(11), c(21);
  {
    Link l(a, b);
    auto s = l.initiatorSetup();
    s.expectedRsaId = c.fingerprint();
    l.make(std::move(s), b.creds->responderCerts());
    l.run();
    ASSERT_EQ(l.iStep.verdict, IV::kClose);
    EXPECT_NE(l.iStep.why.find("RSA identity"), std::string::npos) << l.iStep.why;
    EXPECT_FALSE(l.initiator->authenticated()) << "no AUTHENTICATE to the wrong relay";
  }
  {
    Link l(a, b);
    auto s = l.initiatorSetup();
    s.expectedEdId = c.master.publicKey();
    l.make(std::move(s), b.creds->responderCerts());
    l.run();
    ASSERT_EQ(l.iStep.verdict, IV::kClose);
    EXPECT_NE(l.iStep.why.find("ed25519 identity"), std::string::npos) << l.iStep.why;
  }
  {
    Link l(a, a);  // ourselves
    l.make();
    l.run();
    ASSERT_EQ(l.iStep.verdict, IV::kClose);
    EXPECT_NE(l.iStep.why.find("our own"), std::string::npos) << l.iStep.why;
  }
}

TEST(LinkInitiator, RefusesCertsThatDoNotProveTheIdentity) {
  Relay a(1), b(11), c(21);
  auto withCert = [&](uint8_t type, std::vector<uint8_t> body) {
    CertList list = b.creds->responderCerts();
    for (auto& [t, bytes] : list)
      if (t == type) bytes = std::move(body);
    return list;
  };
  auto refused = [&](CertList certs, const char* what) {
    Link l(a, b);
    l.make(l.initiatorSetup(), std::move(certs));
    l.run();
    EXPECT_EQ(l.iStep.verdict, IV::kClose) << what;
    EXPECT_FALSE(l.initiator->authenticated()) << what;
    return l.iStep.why;
  };
  // Another relay's crosscert: the RSA identity does not certify this ed25519 identity.
  refused(withCert(7, c.creds->rsaEdCrosscert), "crosscert");
  // Another relay's type 5: it does not certify this TLS certificate.
  refused(withCert(5, c.creds->edLinkCert), "type 5");
  // A type 1 that is not the TLS certificate.
  refused(withCert(1, c.creds->linkCert.der()), "type 1");
  // A bad signature on the identity->signing certificate.
  auto bad4 = b.creds->edSigningCert;
  ASSERT_FALSE(bad4.empty());
  bad4[bad4.size() - 1] ^= 1;
  refused(withCert(4, bad4), "type 4 signature");
  // A missing type 2, a repeated type 5.
  {
    CertList list = b.creds->responderCerts();
    std::erase_if(list, [](const auto& e) { return e.first == 2; });
    refused(list, "no type 2");
  }
  {
    CertList list = b.creds->responderCerts();
    list.push_back(list[3]);
    refused(list, "two type 5");
  }
  // A TLS certificate that is not the one the CERTS cell certifies.
  {
    Link l(a, b);
    auto s = l.initiatorSetup();
    s.peerTlsCertDer = c.creds->linkCert.der();
    l.make(std::move(s), b.creds->responderCerts());
    l.run();
    EXPECT_EQ(l.iStep.verdict, IV::kClose);
  }
}

TEST(LinkInitiator, AuthenticateFromAnotherSessionIsRefusedByTheResponder) {
  Relay a(1), b(11);
  Link l(a, b);
  auto s = l.initiatorSetup();
  std::array<uint8_t, 32> other{};
  other.fill(0x01);
  s.tlsSecrets = l.exporter(other, a.rsaIdSha256);
  l.make(std::move(s), b.creds->responderCerts());
  l.run();
  ASSERT_EQ(l.rStep.verdict, RV::kClose);
  EXPECT_NE(l.rStep.why.find("TLSSECRETS"), std::string::npos) << l.rStep.why;
}

TEST(LinkInitiator, WithoutExporterOrKeysItOpensUnauthenticated) {
  Relay a(1), b(11);
  Link l(a, b);
  auto s = l.initiatorSetup();
  s.tlsSecrets.reset();
  l.make(std::move(s), b.creds->responderCerts());
  l.run();
  ASSERT_EQ(l.iStep.verdict, IV::kOpen) << l.iStep.why;
  ASSERT_EQ(l.rStep.verdict, RV::kOpen) << l.rStep.why;
  EXPECT_FALSE(l.initiator->authenticated());
  EXPECT_FALSE(l.responder->peer());
  EXPECT_TRUE(l.initiator->peer()) << "the responder still proved who it is";
}

// Frames one responder cell for the initiator under test.
LinkInitiator::Step feed(LinkInitiator& i, CellCmd cmd, Bytes payload, std::vector<uint8_t>& out,
                         uint32_t circId = 0) {
  std::vector<uint8_t> buf(70000);
  Writer w{MutBytes(buf)};
  uint16_t v = cmd == CellCmd::kVersions ? 0 : i.linkVersion();
  if (cell::isVariableLength(static_cast<uint8_t>(cmd)))
    cell::encodeVarCell(w, v, circId, cmd, payload);
  else
    cell::encodeFixedCell(w, v, circId, cmd, payload);
  auto c = cell::nextCell(w.written(), v);
  return i.onCell(**c, w.written(), out);
}

std::vector<uint8_t> versionsPayload(std::initializer_list<uint16_t> vs) {
  cell::Versions v;
  for (uint16_t x : vs)
    v.versions[v.count++] = x;
  std::vector<uint8_t> buf(64);
  Writer w{MutBytes(buf)};
  cell::encodeVersions(v, w);
  return {w.written().begin(), w.written().end()};
}

TEST(LinkInitiator, RefusesCellsOutOfOrder) {
  Relay a(1), b(11);
  Link l(a, b);
  std::vector<uint8_t> out, netinfo(509, 0), challenge(36, 0);
  challenge[33] = 1;
  challenge[35] = 3;
  {
    LinkInitiator i(l.initiatorSetup());
    auto v = versionsPayload({4, 5});
    EXPECT_EQ(feed(i, CellCmd::kVersions, Bytes(v), out).verdict, IV::kClose) << "before start";
  }
  {
    LinkInitiator i(l.initiatorSetup());
    i.start(out);
    auto v = versionsPayload({3});
    EXPECT_EQ(feed(i, CellCmd::kVersions, Bytes(v), out).verdict, IV::kClose) << "no common";
  }
  {
    LinkInitiator i(l.initiatorSetup());
    i.start(out);
    EXPECT_EQ(feed(i, CellCmd::kNetinfo, Bytes(netinfo), out).verdict, IV::kClose) << "first";
  }
  {
    LinkInitiator i(l.initiatorSetup());
    i.start(out);
    auto v = versionsPayload({4, 5});
    ASSERT_EQ(feed(i, CellCmd::kVersions, Bytes(v), out).verdict, IV::kContinue);
    EXPECT_EQ(feed(i, CellCmd::kAuthChallenge, Bytes(challenge), out).verdict, IV::kClose)
        << "AUTH_CHALLENGE before CERTS";
  }
  {
    LinkInitiator i(l.initiatorSetup());
    i.start(out);
    auto v = versionsPayload({4, 5});
    ASSERT_EQ(feed(i, CellCmd::kVersions, Bytes(v), out).verdict, IV::kContinue);
    EXPECT_EQ(feed(i, CellCmd::kNetinfo, Bytes(netinfo), out).verdict, IV::kClose)
        << "NETINFO before CERTS proves nothing";
  }
  {
    LinkInitiator i(l.initiatorSetup());
    i.start(out);
    auto v = versionsPayload({4, 5});
    ASSERT_EQ(feed(i, CellCmd::kVersions, Bytes(v), out).verdict, IV::kContinue);
    std::vector<uint8_t> p(509);
    EXPECT_EQ(feed(i, CellCmd::kCreated2, Bytes(p), out, 5).verdict, IV::kClose);
  }
}

}  // namespace
}  // namespace onionsplit::channeld
