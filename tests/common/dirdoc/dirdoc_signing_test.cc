// Tests for common/dirdoc with documents this test signs itself: a test authority's key
// certificate and a consensus with sha256 and sha1 signatures (the saved network's "ns" consensus
// carries only sha1 ones), so both digest algorithms and the signed byte range are exercised.
#include <gtest/gtest.h>

#include "common/base/hex.h"
#include "common/crypto/rsa_identity.h"
#include "common/dirdoc/key_cert.h"
#include "common/dirdoc/verify.h"
#include "tests/common/dirdoc/dirdoc_data.h"

namespace onionsplit::dirdoc {
namespace {

using crypto::RsaPrivateKey;

std::string object(std::string_view tag, const std::vector<uint8_t>& bytes) {
  std::string b64 = toBase64(bytes);
  std::string out = "-----BEGIN " + std::string(tag) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64)
    out += b64.substr(i, 64) + "\n";
  return out + "-----END " + std::string(tag) + "-----\n";
}

std::vector<uint8_t> sign(const RsaPrivateKey& key, Bytes digest) {
  std::vector<uint8_t> out(key.bits() / 8);
  out.resize(key.signTor(digest, out));
  return out;
}

struct TestAuthority {
  RsaPrivateKey identity = *RsaPrivateKey::generate(1024);
  RsaPrivateKey signing = *RsaPrivateKey::generate(1024);

  V3Ident v3ident() const { return identity.publicKey().fingerprint(); }

  std::string certificate(bool goodCrossCert = true) const {
    auto idPub = identity.publicKey();
    auto skPub = signing.publicKey();
    Sha1Digest idDigest = idPub.fingerprint();
    if (!goodCrossCert) idDigest[0] ^= 1;
    std::string t =
        "dir-key-certificate-version 3\nfingerprint " + toHex(idPub.fingerprint(), true) +
        "\ndir-key-published 2026-01-01 00:00:00\n"
        "dir-key-expires 2027-01-01 00:00:00\ndir-identity-key\n" +
        idPub.pemPkcs1() + "dir-signing-key\n" + skPub.pemPkcs1() + "dir-key-crosscert\n" +
        object("ID SIGNATURE", sign(signing, idDigest)) + "dir-key-certification\n";
    return t + object("SIGNATURE", sign(identity, sha1Of(t)));
  }

  // The saved consensus with its signatures replaced by ours, one per algorithm in `algs`.
  std::string consensus(const std::vector<std::string>& algs, bool sha256OverSha1 = false) const {
    std::string real = testdata::consensusText();
    std::string body = real.substr(0, real.find("directory-signature "));
    std::string signedPart = body + "directory-signature ";
    std::string out = body;
    for (const std::string& alg : algs) {
      Sha256Digest d256 = sha256Of(signedPart);
      Sha1Digest d1 = sha1Of(signedPart);
      Bytes digest = alg == "sha256" && !sha256OverSha1 ? Bytes(d256) : Bytes(d1);
      out += "directory-signature " + (alg.empty() ? "" : alg + " ") +
             toHex(identity.publicKey().fingerprint(), true) + " " +
             toHex(signing.publicKey().fingerprint(), true) + "\n" +
             object("SIGNATURE", sign(signing, digest));
    }
    return out;
  }
};

TEST(DirdocSigning, Sha256AndSha1Signatures) {
  TestAuthority a;
  auto cert = parseAuthorityCert(a.certificate());
  ASSERT_TRUE(cert) << cert.error().toString();
  ASSERT_TRUE(checkAuthorityCert(*cert, cert->publishedUnix));
  std::vector<AuthorityCert> certs;
  certs.push_back(std::move(*cert));
  std::vector<V3Ident> auths = {a.v3ident()};
  for (auto algs :
       std::vector<std::vector<std::string>>{{"sha256"}, {"sha1"}, {""}, {"sha256", ""}}) {
    auto c = parseConsensus(a.consensus(algs), kTestnet);
    ASSERT_TRUE(c) << c.error().toString();
    auto r = verifyConsensus(*c, certs, auths, c->validAfterUnix);
    ASSERT_TRUE(r) << r.error().toString();
    EXPECT_EQ(r->good, 1u);  // one authority, however many signatures
  }
}

TEST(DirdocSigning, WrongDigestOrUnknownAlgorithm) {
  TestAuthority a;
  auto certs = parseAuthorityCerts(a.certificate());
  ASSERT_TRUE(certs);
  std::vector<V3Ident> auths = {a.v3ident()};
  // A sha256 signature over the sha1 digest is a bad signature.
  auto c = parseConsensus(a.consensus({"sha256"}, true), kTestnet);
  ASSERT_TRUE(c);
  auto r = verifyConsensus(*c, *certs, auths, c->validAfterUnix);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kBadSignature);
  // dir-spec: a signature with an unknown algorithm is ignored, leaving none.
  auto unknown = parseConsensus(a.consensus({"sha3-256"}), kTestnet);
  ASSERT_TRUE(unknown) << unknown.error().toString();
  EXPECT_TRUE(unknown->signatures.empty());
  r = verifyConsensus(*unknown, *certs, auths, unknown->validAfterUnix);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kTooFewSignatures);
}

TEST(DirdocSigning, CrossCertMustCoverTheIdentityKey) {
  TestAuthority a;
  auto cert = parseAuthorityCert(a.certificate(false));
  ASSERT_TRUE(cert) << cert.error().toString();
  auto check = checkAuthorityCert(*cert, cert->publishedUnix);
  ASSERT_FALSE(check);
  EXPECT_EQ(check.error().code, DirErrc::kBadCertificate);
  // Such a certificate vouches for no signature.
  std::vector<AuthorityCert> certs;
  certs.push_back(std::move(*cert));
  auto c = parseConsensus(a.consensus({"sha256"}), kTestnet);
  ASSERT_TRUE(c);
  auto r = verifyConsensus(*c, certs, std::vector<V3Ident>{a.v3ident()}, c->validAfterUnix);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kTooFewSignatures);
}

}  // namespace
}  // namespace onionsplit::dirdoc
