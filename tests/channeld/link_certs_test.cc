// Tests for channeld/link/link_certs.h: our responder CERTS pass the checks an initiator makes, an
// initiator's Ed25519 CERTS and AUTH0003 body are verified, and every broken chain is refused.
#include "channeld/link/link_certs.h"

#include <gtest/gtest.h>

#include "common/crypto/ed25519_cert.h"
#include "common/crypto/rsa_crosscert.h"

namespace onionsplit::channeld {
namespace {

constexpr int64_t kNow = 1800000000;  // 2027-01-15

crypto::Ed25519Keypair keypair(uint8_t seedByte) {
  crypto::Ed25519Seed s{};
  s.fill(seedByte);
  return *crypto::Ed25519Keypair::fromSeed(s);
}

std::vector<uint8_t> edCert(crypto::CertType type, const crypto::Ed25519Signer& signer,
                            const crypto::Ed25519PublicKey& certified, bool includeKey,
                            int64_t expiresUnix = kNow + 86400 * 30) {
  crypto::Ed25519CertFields f;
  f.certType = type;
  f.certifiedKey = certified;
  f.expirationHours = crypto::certExpirationHours(static_cast<uint64_t>(expiresUnix));
  f.includeSigningKey = includeKey;
  std::array<uint8_t, crypto::kEd25519CertMaxEncodedLen> buf{};
  auto c = crypto::encodeEd25519Cert(f, signer, buf);
  EXPECT_TRUE(c);
  return std::vector<uint8_t>(c->begin(), c->end());
}

struct Relay {
  crypto::RsaPrivateKey rsa = *crypto::RsaPrivateKey::generate(1024);
  crypto::Ed25519Keypair master;
  crypto::Ed25519Keypair signing;
  std::vector<uint8_t> type4;
  explicit Relay(uint8_t seed)
      : master(keypair(seed)),
        signing(keypair(static_cast<uint8_t>(seed + 1))),
        type4(edCert(crypto::CertType::kIdentitySigning, master, signing.publicKey(), true)) {}

  LinkCredentials creds() const {
    std::vector<uint8_t> entropy(64, 0x42);
    std::string err;
    auto c = LinkCredentials::create(rsa, signing, type4, master.publicKey(), kNow, entropy, err);
    EXPECT_TRUE(c) << err;
    return std::move(*c);
  }
};

std::vector<CertEntry> entries(const std::vector<std::pair<uint8_t, std::vector<uint8_t>>>& v) {
  std::vector<CertEntry> out;
  for (const auto& [t, b] : v)
    out.push_back(CertEntry{t, Bytes(b)});
  return out;
}

TEST(LinkCerts, OurResponderCertsPassTheInitiatorsChecks) {
  Relay r(1);
  LinkCredentials c = r.creds();
  auto certs = c.responderCerts();
  ASSERT_EQ(certs.size(), 5u);
  auto id = checkResponderCerts(entries(certs), c.linkCert.der(), kNow);
  ASSERT_TRUE(id) << id.error();
  EXPECT_EQ(id->rsaId, r.rsa.publicKey().fingerprint());
  EXPECT_EQ(id->edId, r.master.publicKey());
  EXPECT_EQ(id->edSigningKey, r.signing.publicKey());
}

TEST(LinkCerts, ResponderChecksRefuseBrokenChains) {
  Relay r(1), other(7);
  LinkCredentials c = r.creds();
  auto certs = c.responderCerts();
  // Another TLS certificate than the one type 5 certifies.
  LinkCredentials c2 = other.creds();
  EXPECT_FALSE(checkResponderCerts(entries(certs), c2.linkCert.der(), kNow));
  // A missing and a duplicated certificate.
  auto missing = certs;
  missing.pop_back();
  EXPECT_FALSE(checkResponderCerts(entries(missing), c.linkCert.der(), kNow));
  auto dup = certs;
  dup.push_back(dup[2]);
  EXPECT_FALSE(checkResponderCerts(entries(dup), c.linkCert.der(), kNow));
  // The crosscert of another relay: signed by the wrong RSA key.
  auto mixed = certs;
  mixed[4] = c2.responderCerts()[4];
  auto res = checkResponderCerts(entries(mixed), c.linkCert.der(), kNow);
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().find("crosscert"), std::string::npos) << res.error();
  // Expired: the type 5 cert lives about two days.
  EXPECT_FALSE(checkResponderCerts(entries(certs), c.linkCert.der(), kNow + 40LL * 86400));
  // Garbage in a certificate.
  auto junk = certs;
  junk[2].second = {1, 2, 3};
  EXPECT_FALSE(checkResponderCerts(entries(junk), c.linkCert.der(), kNow));
}

TEST(LinkCerts, InitiatorCertsAndAuthenticate) {
  Relay init(3);
  LinkCredentials c = init.creds();
  crypto::Ed25519Keypair authKey = keypair(9);
  auto type6 = edCert(crypto::CertType::kSigningAuth, init.signing, authKey.publicKey(), false);
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> list = {
      {2, c.identityCert.der()}, {4, init.type4}, {6, type6}, {7, c.rsaEdCrosscert}};
  auto id = checkInitiatorCerts(entries(list), kNow);
  ASSERT_TRUE(id) << id.error();
  ASSERT_TRUE(id->edAuthKey);
  EXPECT_EQ(*id->edAuthKey, authKey.publicKey());

  Auth3Expected e;
  e.cid = id->rsaIdSha256;
  e.sid.fill(2);
  e.cidEd = id->edId;
  e.sidEd.fill(4);
  e.slog.fill(5);
  e.clog.fill(6);
  e.scert.fill(7);
  e.tlsSecrets.fill(8);
  std::vector<uint8_t> rnd(24, 0x11);
  auto body = makeAuth3(e, rnd, authKey);
  EXPECT_TRUE(verifyAuth3(body, e, *id->edAuthKey));

  Auth3Expected wrong = e;
  wrong.tlsSecrets.fill(9);
  auto r = verifyAuth3(body, wrong, *id->edAuthKey);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("TLSSECRETS"), std::string::npos);
  auto tampered = body;
  tampered[kAuth3FixedLen] ^= 1;  // RAND is signed
  EXPECT_FALSE(verifyAuth3(tampered, e, *id->edAuthKey));
  auto longer = body;
  longer.push_back(0);
  EXPECT_FALSE(verifyAuth3(longer, e, *id->edAuthKey));
  EXPECT_FALSE(verifyAuth3(Bytes(body.data(), 100), e, *id->edAuthKey));
  EXPECT_FALSE(verifyAuth3(body, e, init.master.publicKey())) << "wrong auth key";

  // The same list without type 6 does not authenticate an initiator.
  list.erase(list.begin() + 2);
  EXPECT_FALSE(checkInitiatorCerts(entries(list), kNow));
}

}  // namespace
}  // namespace onionsplit::channeld
