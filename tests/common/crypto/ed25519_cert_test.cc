// Tests for common/crypto/ed25519.h and ed25519_cert.h: RFC 8032 keys from test-vectors §5.1, the
// type 04 certificate of test-vectors §5.2 byte for byte, round trips for every certificate type
// channeld and descriptor publishing use, and every way a decoder or verifier must refuse a cert.
#include "common/crypto/ed25519_cert.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/base/hex.h"
#include "common/crypto/ed25519.h"

namespace onionsplit::crypto {
namespace {

std::vector<uint8_t> hex(std::string_view s) {
  auto v = fromHex(s);
  EXPECT_TRUE(v.has_value()) << s;
  return v.value_or(std::vector<uint8_t>{});
}

template <size_t N>
std::array<uint8_t, N> arr(std::string_view s) {
  std::array<uint8_t, N> a{};
  auto v = hex(s);
  EXPECT_EQ(v.size(), N);
  if (v.size() == N) std::copy(v.begin(), v.end(), a.begin());
  return a;
}

// test-vectors.md §5.1, rows 0-2.
constexpr std::string_view kSeed[3] = {
    "26c76712d89d906e6672dafa614c42e5cb1caac8c6568e4d2493087db51f0d36",
    "fba7a5366b5cb98c2667a18783f5cf8f4f8d1a2ce939ad22a6e685edde85128d",
    "67e3aa7a14fac8445d15e45e38a523481a69ae35513c9e4143eb1c2196729a0e"};
constexpr std::string_view kPub[3] = {
    "c2247870536a192d142d056abefca68d6193158e7c1a59c1654c954eccaff894",
    "1519a3b15816a1aafab0b213892026ebf5c0dc232c58b21088d88cb90e9b940d",
    "081faa81992e360ea22c06af1aba096e7a73f1c665bc8b3e4e531c46455fd1dd"};

// test-vectors.md §5.2: type 04, identity = row 0, certified = row 1 public, 500000 hours.
constexpr std::string_view kCert04 =
    "01 04 0007a120 01"
    "1519a3b15816a1aafab0b213892026ebf5c0dc232c58b21088d88cb90e9b940d"
    "01 0020 04 00"
    "c2247870536a192d142d056abefca68d6193158e7c1a59c1654c954eccaff894"
    "d3421d28d320f738b02851a2b29577a45425e796f5e8dac5d60576f6c8c31635"
    "ae8a567023a2696374cad175fde17450056652d36e68bf630df935ef12bae406";
constexpr uint64_t kCert04Expiry = 500000ull * 3600;

Ed25519Keypair key(int row) {
  auto k = Ed25519Keypair::fromSeed(arr<32>(kSeed[row]));
  EXPECT_TRUE(k.has_value());
  return std::move(*k);
}

// Appends a signature by `k` over everything in `body` (for hand-built certificates).
std::vector<uint8_t> signed_(std::vector<uint8_t> body, const Ed25519Keypair& k) {
  Ed25519Signature sig{};
  EXPECT_TRUE(k.sign(body, sig));
  body.insert(body.end(), sig.begin(), sig.end());
  return body;
}

// Header of a type 04 cert certifying row 1, ending before N_EXTENSIONS.
std::vector<uint8_t> header04() {
  return hex("01 04 0007a120 01 1519a3b15816a1aafab0b213892026ebf5c0dc232c58b21088d88cb90e9b940d");
}

TEST(Ed25519, KeysFromSeedMatchRfc8032Vectors) {
  for (int i = 0; i < 3; ++i) {
    Ed25519Keypair k = key(i);
    EXPECT_EQ(toHex(k.publicKey()), kPub[i]);
    EXPECT_EQ(toHex(*k.seed()), kSeed[i]);
  }
}

TEST(Ed25519, SignVerifyRoundTripAndTamper) {
  Ed25519Keypair k = key(2);
  std::vector<uint8_t> msg = hex("00112233445566778899");
  Ed25519Signature sig{};
  ASSERT_TRUE(k.sign(msg, sig));
  EXPECT_TRUE(ed25519Verify(k.publicKey(), msg, sig));
  msg[3] ^= 1;
  EXPECT_FALSE(ed25519Verify(k.publicKey(), msg, sig));
  msg[3] ^= 1;
  sig[10] ^= 0x80;
  EXPECT_FALSE(ed25519Verify(k.publicKey(), msg, sig));
  sig[10] ^= 0x80;
  EXPECT_FALSE(ed25519Verify(key(0).publicKey(), msg, sig));
}

TEST(Ed25519Cert, Vector52Decodes) {
  std::vector<uint8_t> in = hex(kCert04);
  ASSERT_EQ(in.size(), 140u);
  auto c = decodeEd25519Cert(in);
  ASSERT_TRUE(c) << toString(c.error().code) << " " << c.error().field;
  EXPECT_EQ(c->certType, 4);
  EXPECT_EQ(c->expirationHours, 500000u);
  EXPECT_EQ(c->certKeyType, 1);
  EXPECT_EQ(toHex(c->certifiedKey), kPub[1]);
  ASSERT_TRUE(c->signedWithKey.has_value());
  EXPECT_EQ(toHex(*c->signedWithKey), kPub[0]);
  EXPECT_EQ(c->nExtensions, 1);
  EXPECT_EQ(c->extensions[0].type, kCertExtSignedWithKey);
  EXPECT_EQ(c->extensions[0].data.size(), 32u);
  EXPECT_EQ(c->signedPart.size(), 76u);
  EXPECT_EQ(c->signedPart.data(), in.data());  // a view, not a copy
  EXPECT_EQ(c->encoded.size(), 140u);
  EXPECT_TRUE(checkEd25519CertType(*c, CertType::kIdentitySigning));
}

TEST(Ed25519Cert, Vector52VerifiesWithEmbeddedOrGivenKey) {
  std::vector<uint8_t> in = hex(kCert04);
  auto c = decodeEd25519Cert(in);
  ASSERT_TRUE(c);
  EXPECT_TRUE(verifyEd25519Cert(*c, std::nullopt, kCert04Expiry));
  EXPECT_TRUE(verifyEd25519Cert(*c, arr<32>(kPub[0]), 1700000000));
  auto expired = verifyEd25519Cert(*c, std::nullopt, kCert04Expiry + 1);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error(), CertErrc::kExpired);
  auto mismatch = verifyEd25519Cert(*c, arr<32>(kPub[2]), 0);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error(), CertErrc::kSigningKeyMismatch);
}

TEST(Ed25519Cert, Vector52EncodesByteExact) {
  Ed25519Keypair id = key(0);
  Ed25519CertFields f;
  f.certType = CertType::kIdentitySigning;
  f.expirationHours = 500000;
  f.certifiedKey = arr<32>(kPub[1]);
  std::array<uint8_t, kEd25519CertMaxEncodedLen> buf{};
  auto out = encodeEd25519Cert(f, id, buf);
  ASSERT_TRUE(out);
  EXPECT_EQ(toHex(*out), toHex(hex(kCert04)));
}

TEST(Ed25519Cert, RoundTripEveryType) {
  Ed25519Keypair signer = key(1);
  struct Case {
    CertType type;
    CertKeyType keyType;
    bool embed;
  };
  const Case cases[] = {
      {CertType::kIdentitySigning, CertKeyType::kEd25519, true},
      {CertType::kSigningLink, CertKeyType::kSha256OfX509, false},
      {CertType::kSigningAuth, CertKeyType::kEd25519, false},
      {CertType::kHsDescSigning, CertKeyType::kEd25519, true},
      {CertType::kNtorCrosscert, CertKeyType::kEd25519, true},
  };
  for (const Case& k : cases) {
    Ed25519CertFields f;
    f.certType = k.type;
    f.certKeyType = k.keyType;
    f.expirationHours = certExpirationHours(1700000000 + 86400);
    f.certifiedKey = arr<32>(kPub[2]);
    f.includeSigningKey = k.embed;
    std::array<uint8_t, kEd25519CertMaxEncodedLen> buf{};
    auto out = encodeEd25519Cert(f, signer, buf);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->size(), k.embed ? 140u : 104u);
    auto c = decodeEd25519Cert(*out);
    ASSERT_TRUE(c);
    EXPECT_TRUE(checkEd25519CertType(*c, k.type));
    EXPECT_EQ(c->certifiedKey, f.certifiedKey);
    EXPECT_EQ(c->expirationHours, f.expirationHours);
    EXPECT_EQ(c->signedWithKey.has_value(), k.embed);
    EXPECT_TRUE(verifyEd25519Cert(*c, signer.publicKey(), 1700000000));
    if (!k.embed) {
      auto none = verifyEd25519Cert(*c, std::nullopt, 1700000000);
      ASSERT_FALSE(none);
      EXPECT_EQ(none.error(), CertErrc::kNoSigningKey);
    }
    auto wrongKey = verifyEd25519Cert(*c, key(0).publicKey(), 1700000000);
    ASSERT_FALSE(wrongKey);
    EXPECT_EQ(wrongKey.error(), k.embed ? CertErrc::kSigningKeyMismatch : CertErrc::kBadSignature);
  }
}

// The signer interface is what lets ed25519_ext.h's expanded keys sign 0A crosscerts.
class CountingSigner final : public Ed25519Signer {
 public:
  explicit CountingSigner(const Ed25519Keypair& k) : k_(k) {}
  const Ed25519PublicKey& publicKey() const override { return k_.publicKey(); }
  bool sign(Bytes msg, Ed25519Signature& out) const override {
    ++calls;
    return k_.sign(msg, out);
  }
  mutable int calls = 0;

 private:
  const Ed25519Keypair& k_;
};

TEST(Ed25519Cert, EncodesThroughAnySigner) {
  Ed25519Keypair k = key(2);
  CountingSigner s(k);
  Ed25519CertFields f;
  f.certType = CertType::kNtorCrosscert;
  f.expirationHours = 600000;
  f.certifiedKey = arr<32>(kPub[0]);
  std::array<uint8_t, kEd25519CertMaxEncodedLen> buf{};
  auto out = encodeEd25519Cert(f, s, buf);
  ASSERT_TRUE(out);
  EXPECT_EQ(s.calls, 1);
  auto c = decodeEd25519Cert(*out);
  ASSERT_TRUE(c);
  EXPECT_TRUE(verifyEd25519Cert(*c, k.publicKey(), 0));
}

TEST(Ed25519Cert, EncodeRefusesSmallBufferAndFailingSigner) {
  Ed25519Keypair k = key(0);
  Ed25519CertFields f;
  std::array<uint8_t, kEd25519CertMaxEncodedLen - 1> small{};
  auto out = encodeEd25519Cert(f, k, small);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), CertErrc::kBufferTooSmall);

  struct Failing final : Ed25519Signer {
    Ed25519PublicKey pk{};
    const Ed25519PublicKey& publicKey() const override { return pk; }
    bool sign(Bytes, Ed25519Signature&) const override { return false; }
  } failing;
  std::array<uint8_t, kEd25519CertMaxEncodedLen> buf{};
  out = encodeEd25519Cert(f, failing, buf);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), CertErrc::kSignFailed);
}

TEST(Ed25519Cert, TamperedSignatureOrBodyFails) {
  for (size_t at : {3u, 20u, 100u, 139u}) {  // not in the embedded key: that is a mismatch
    std::vector<uint8_t> in = hex(kCert04);
    in[at] ^= 0x01;
    auto c = decodeEd25519Cert(in);
    ASSERT_TRUE(c);
    auto v = verifyEd25519Cert(*c, arr<32>(kPub[0]), 0);
    ASSERT_FALSE(v) << at;
    EXPECT_EQ(v.error(), CertErrc::kBadSignature);
  }
}

TEST(Ed25519Cert, ExpiryBoundaryIsInclusive) {
  std::vector<uint8_t> in = hex(kCert04);  // the decoded cert points into it
  auto c = decodeEd25519Cert(in);
  ASSERT_TRUE(c);
  EXPECT_TRUE(verifyEd25519Cert(*c, std::nullopt, kCert04Expiry));
  EXPECT_EQ(verifyEd25519Cert(*c, std::nullopt, kCert04Expiry + 1).error(), CertErrc::kExpired);
  EXPECT_EQ(certExpirationHours(3600), 1u);
  EXPECT_EQ(certExpirationHours(3601), 2u);
  EXPECT_EQ(certExpirationHours(0), 0u);
  EXPECT_EQ(certExpirationHours(~uint64_t{0}), 0xffffffffu);
}

TEST(Ed25519Cert, BadVersionRejected) {
  std::vector<uint8_t> in = hex(kCert04);
  for (uint8_t v : {0, 2, 255}) {
    in[0] = v;
    auto c = decodeEd25519Cert(in);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), (ParseError{ParseErrc::kUnknownType, "version"}));
  }
}

TEST(Ed25519Cert, ReservedCertTypesRejected) {
  std::vector<uint8_t> in = hex(kCert04);
  for (uint8_t t : {0, 1, 2, 3, 7}) {
    in[1] = t;
    auto c = decodeEd25519Cert(in);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error(), (ParseError{ParseErrc::kUnknownType, "cert_type"}));
  }
}

TEST(Ed25519Cert, TypeAndKeyTypeChecks) {
  std::vector<uint8_t> in = hex(kCert04);
  auto c = decodeEd25519Cert(in);
  ASSERT_TRUE(c);
  EXPECT_EQ(checkEd25519CertType(*c, CertType::kSigningLink).error(), CertErrc::kWrongType);
  Ed25519Cert t5 = *c;
  t5.certType = 5;
  t5.certKeyType = 3;
  EXPECT_TRUE(checkEd25519CertType(t5, CertType::kSigningLink));
  t5.certKeyType = 1;  // C tor before 0.4.5.1-alpha
  EXPECT_TRUE(checkEd25519CertType(t5, CertType::kSigningLink));
  t5.certKeyType = 2;
  EXPECT_EQ(checkEd25519CertType(t5, CertType::kSigningLink).error(), CertErrc::kWrongKeyType);
  Ed25519Cert t4 = *c;
  t4.certKeyType = 3;
  EXPECT_EQ(checkEd25519CertType(t4, CertType::kIdentitySigning).error(), CertErrc::kWrongKeyType);
}

TEST(Ed25519Cert, UnknownCriticalExtensionRejected) {
  Ed25519Keypair id = key(0);
  std::vector<uint8_t> body = header04();
  std::vector<uint8_t> ext = hex("01 0003 09 01 aabbcc");
  body.insert(body.end(), ext.begin(), ext.end());
  auto c = decodeEd25519Cert(signed_(body, id));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), (ParseError{ParseErrc::kUnknownType, "extension"}));
}

TEST(Ed25519Cert, UnknownNonCriticalExtensionAccepted) {
  Ed25519Keypair id = key(0);
  std::vector<uint8_t> body = header04();
  std::vector<uint8_t> ext = hex("02 0003 09 02 aabbcc 0020 04 00");
  body.insert(body.end(), ext.begin(), ext.end());
  body.insert(body.end(), id.publicKey().begin(), id.publicKey().end());
  std::vector<uint8_t> in = signed_(body, id);
  auto c = decodeEd25519Cert(in);
  ASSERT_TRUE(c) << c.error().field;
  EXPECT_EQ(c->nExtensions, 2);
  EXPECT_EQ(c->extensions[0].type, 9);
  EXPECT_EQ(toHex(c->extensions[0].data), "aabbcc");
  EXPECT_TRUE(verifyEd25519Cert(*c, std::nullopt, 0));
}

TEST(Ed25519Cert, SignedWithKeyExtensionMustBe32BytesAndUnique) {
  Ed25519Keypair id = key(0);
  std::vector<uint8_t> body = header04();
  std::vector<uint8_t> ext = hex("01 0021 04 00");
  body.insert(body.end(), ext.begin(), ext.end());
  body.insert(body.end(), id.publicKey().begin(), id.publicKey().end());
  body.push_back(0);
  auto c = decodeEd25519Cert(signed_(body, id));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), (ParseError{ParseErrc::kBadLength, "signed_with_key"}));

  body = header04();
  body.push_back(2);
  for (int i = 0; i < 2; ++i) {
    ext = hex("0020 04 00");
    body.insert(body.end(), ext.begin(), ext.end());
    body.insert(body.end(), id.publicKey().begin(), id.publicKey().end());
  }
  c = decodeEd25519Cert(signed_(body, id));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), (ParseError{ParseErrc::kBadValue, "signed_with_key"}));
}

TEST(Ed25519Cert, TooManyExtensionsRejected) {
  Ed25519Keypair id = key(0);
  std::vector<uint8_t> body = header04();
  body.push_back(kMaxCertExtensions + 1);
  for (size_t i = 0; i <= kMaxCertExtensions; ++i) {
    std::vector<uint8_t> ext = hex("0000 09 00");
    body.insert(body.end(), ext.begin(), ext.end());
  }
  auto c = decodeEd25519Cert(signed_(body, id));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), (ParseError{ParseErrc::kTooLong, "n_extensions"}));
}

TEST(Ed25519Cert, ExtensionLongerThanCertIsTruncated) {
  std::vector<uint8_t> in = hex(kCert04);
  in[40] = 0x01;  // ExtLength 0x0120: runs past the signature
  auto c = decodeEd25519Cert(in);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), (ParseError{ParseErrc::kTruncated, "ext_data"}));
}

TEST(Ed25519Cert, EveryTruncationRejected) {
  std::vector<uint8_t> in = hex(kCert04);
  for (size_t n = 0; n < in.size(); ++n) {
    auto c = decodeEd25519Cert(Bytes(in.data(), n));
    ASSERT_FALSE(c) << n;
    EXPECT_EQ(c.error().code, ParseErrc::kTruncated) << n;
  }
  auto c = decodeEd25519Cert(Bytes(in.data(), 100));
  EXPECT_EQ(c.error(), (ParseError{ParseErrc::kTruncated, "signature"}));
}

TEST(Ed25519Cert, TrailingBytesRejected) {
  std::vector<uint8_t> in = hex(kCert04);
  in.push_back(0);
  auto c = decodeEd25519Cert(in);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), (ParseError{ParseErrc::kTrailingBytes, "ed25519_cert"}));
}

}  // namespace
}  // namespace onionsplit::crypto
