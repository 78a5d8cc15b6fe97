// Tests for common/crypto/rsa_identity.h and rsa_crosscert.h: a key made by `openssl genrsa` whose
// fingerprint, tor-style signature, self-signed certificate and RSA->Ed25519 crosscert were all
// computed independently with the openssl command line, plus round trips and refusals.
#include "common/crypto/rsa_identity.h"

#include <gtest/gtest.h>

#include <vector>

#include "common/base/hex.h"
#include "common/crypto/rsa_crosscert.h"

namespace onionsplit::crypto {
namespace {

std::vector<uint8_t> hex(std::string_view s) {
  auto v = fromHex(s);
  EXPECT_TRUE(v.has_value()) << s;
  return v.value_or(std::vector<uint8_t>{});
}

// `openssl genrsa -traditional 1024` (the format of C tor's keys/secret_id_key).
constexpr std::string_view kPrivPem = R"(-----BEGIN RSA PRIVATE KEY-----
MIICXAIBAAKBgQDXHPbewAw65qKfTQVduVBjAyb9uzLD1a7MmMamcO9XbIj3zEqb
Ba2UGXZMV8ukYebQ9+Xc/kW/aFqEezEaA+i9E5TDaD/Dpmlx0HCgVgu9JlUhKdGb
bH9xsoYpZrprOPaGocbwWnHURaAzISHE+wchyijqLrqKBnCGIg9p6R6t5QIDAQAB
AoGBAKaXNdC4JkCPUK3R9i/pTgn/7PhfOydSmvaz8lP/7jtkQIa3XafEs/KX7Xee
HoWFlD2NXiTRfq6HYGJtDU+6a0hnAcz+dXQHQ7Ok2N44HTrHEa2LyvCGcCIatKTm
tuEAga/nm67yFsK5hxvjYlObN+hDZ4CU30qSnQNKyDZu4DMZAkEA8PL8E6FacYYG
U3oZ9X2JCFHo3EmgJqlREM6IX02C7I+FdBR27lF0cuLhBReGs61XcEPBClRufMU8
9MrRqF7VTwJBAOSM1hFPa6JX2XvKS1aFVPOmuy+EbdLhvGJfK6EqbgQuBrXQn8mn
EtdXJ1gz+MkfpYOCQl682I4E4HIPRjFSZIsCQAclrgSHDL/BUf636H03tBDjHR0r
sexzqUvuVG0/R1rtBvBiiwSWtfWSdUpJYF2EDsvttpQv3PcmgqBgQ8fSyFECQCa0
v1BBLg5ZaGixkt69R+zXsN3URLExL7FNQttRjz4/+Tzzbww8slEr3mruqlSNen9y
IQFgZCBxLP3EHnQd6w8CQH9mtUU6A0FwaANx/z/hCCP+9YBbxhVvCfm334ue/lu3
+HUnDluFfUAqpXBfidSaoDBl+RAvyjPBQaAQsBxXt4g=
-----END RSA PRIVATE KEY-----
)";
// `openssl rsa -RSAPublicKey_out`
constexpr std::string_view kPubPem = R"(-----BEGIN RSA PUBLIC KEY-----
MIGJAoGBANcc9t7ADDrmop9NBV25UGMDJv27MsPVrsyYxqZw71dsiPfMSpsFrZQZ
dkxXy6Rh5tD35dz+Rb9oWoR7MRoD6L0TlMNoP8OmaXHQcKBWC70mVSEp0Ztsf3Gy
hilmums49oahxvBacdRFoDMhIcT7ByHKKOouuooGcIYiD2npHq3lAgMBAAE=
-----END RSA PUBLIC KEY-----
)";
// `openssl rsa -in k.pem -RSAPublicKey_out -outform DER | sha1sum`
constexpr std::string_view kFingerprint = "b5b9db3cf186ea9fac955a0874c391bf858da259";
// `printf abcdefghijklmnopqrst | openssl pkeyutl -sign -inkey k.pem -pkeyopt
// rsa_padding_mode:pkcs1`: PKCS#1 v1.5 over the raw bytes, no DigestInfo.
constexpr std::string_view kTorSigOfAbc =
    "b93de93474d9926e20123981bb1f1338ffdba762f8e6fd7ffd22ff574c97f58ab0047397d51ab336f65b9778395288"
    "74"
    "110b14d14e06e5b068a9a329bb28c5c6a87e0ea0c46540da72a563ebb39b098c10d3e6b5baa3f7d7176f3905c10c6e"
    "fb"
    "9ae3d103c3b5543da5ee1df8809ac40130421749f075dc90a92d58a8eaf4feb5";
// `openssl req -x509 -key k.pem -days 36500 -subj /CN=www.example.net -sha256 -outform DER`
// (valid 2026-11-24 .. 2126-10-31).
constexpr std::string_view kSelfSignedDer =
    "308202123082017ba00302010202146287148444f2e1ff5d379c77add6fe7dd37ec143300d06092a864886f70d0101"
    "0b"
    "0500301a3118301606035504030c0f7777772e6578616d706c652e6e65743020170d3236313132343139333534335a"
    "18"
    "0f32313236313033313139333534335a301a3118301606035504030c0f7777772e6578616d706c652e6e657430819f"
    "30"
    "0d06092a864886f70d010101050003818d0030818902818100d71cf6dec00c3ae6a29f4d055db950630326fdbb32c3"
    "d5"
    "aecc98c6a670ef576c88f7cc4a9b05ad9419764c57cba461e6d0f7e5dcfe45bf685a847b311a03e8bd1394c3683fc3"
    "a6"
    "6971d070a0560bbd26552129d19b6c7f71b2862966ba6b38f686a1c6f05a71d445a0332121c4fb0721ca28ea2eba8a"
    "06"
    "7086220f69e91eade50203010001a3533051301d0603551d0e04160414b5b9db3cf186ea9fac955a0874c391bf858d"
    "a2"
    "59301f0603551d23041830168014b5b9db3cf186ea9fac955a0874c391bf858da259300f0603551d130101ff040530"
    "03"
    "0101ff300d06092a864886f70d01010b05000381810006167778cb5542df96b2e971fa61f6babefc9e83357c237c5d"
    "08"
    "a2177fc736cb5382b9f0d26d11ab4106311c6ac4a785be975dd37a95c161ef0544290f0e6bbd098a8b733df4d27b8a"
    "2c"
    "cbdb64204719e9920954beb860daedb281a1f5d76ec54338e6e117ad749610b98b0f5035a78bf008ebbee91dcf363e"
    "85"
    "ac244d3941a9";
// SHA256("Tor TLS RSA/Ed25519 cross-certificate" | ed_key | 0007a120) signed by
// `openssl pkeyutl -sign -pkeyopt rsa_padding_mode:pkcs1`, ed_key = test-vectors §5.1 row 0 public.
constexpr std::string_view kCrosscert =
    "c2247870536a192d142d056abefca68d6193158e7c1a59c1654c954eccaff894"
    "0007a120"
    "80"
    "3bf320977d91b850ced9739c391eb10f891cd4051099463698f7610d83102481abb0d25a8a3f033a51db95f45df0d2"
    "dc"
    "10cfb0e6d04c870054b40eeecad2043327dde22cfc421f07fe3b82a74dda4c2fe44371febe21d050c051ae080dd473"
    "62"
    "c28a23bf8ce9ead269a2aa26fa3a436bd106279c4859833e7c4dfd912de69a99";

constexpr std::string_view kEdPub0 =
    "c2247870536a192d142d056abefca68d6193158e7c1a59c1654c954eccaff894";
constexpr int64_t kNow = 1800000000;  // 2027-01-15, inside the openssl certificate's window

RsaPrivateKey knownKey() {
  auto k = RsaPrivateKey::fromPem(kPrivPem);
  EXPECT_TRUE(k.has_value());
  return std::move(*k);
}

Ed25519PublicKey edPub0() {
  Ed25519PublicKey k{};
  auto v = hex(kEdPub0);
  std::copy(v.begin(), v.end(), k.begin());
  return k;
}

TEST(RsaIdentity, FingerprintOfKnownKey) {
  RsaPrivateKey k = knownKey();
  EXPECT_EQ(k.bits(), 1024u);
  RsaPublicKey pub = k.publicKey();
  EXPECT_TRUE(pub.hasTorExponent());
  EXPECT_EQ(toHex(pub.fingerprint()), kFingerprint);
  auto fromPem = RsaPublicKey::fromPem(kPubPem);
  ASSERT_TRUE(fromPem.has_value());
  EXPECT_EQ(toHex(fromPem->fingerprint()), kFingerprint);
  EXPECT_TRUE(*fromPem == pub);
}

TEST(RsaIdentity, PemAndDerRoundTrip) {
  RsaPrivateKey k = knownKey();
  std::string pem = k.pemPkcs1();
  EXPECT_EQ(pem.rfind("-----BEGIN RSA PRIVATE KEY-----\n", 0), 0u) << pem;
  EXPECT_EQ(pem, std::string(kPrivPem));
  EXPECT_EQ(k.publicKey().pemPkcs1(), std::string(kPubPem));
  std::vector<uint8_t> der = k.publicKey().derPkcs1();
  auto again = RsaPublicKey::fromDer(der);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->fingerprint(), k.publicKey().fingerprint());
  // Malformed inputs.
  der.push_back(0);
  EXPECT_FALSE(RsaPublicKey::fromDer(der).has_value());
  der.resize(der.size() - 10);
  EXPECT_FALSE(RsaPublicKey::fromDer(der).has_value());
  EXPECT_FALSE(RsaPublicKey::fromDer({}).has_value());
  EXPECT_FALSE(RsaPublicKey::fromPem("-----BEGIN RSA PUBLIC KEY-----\nAAAA\n").has_value());
  EXPECT_FALSE(RsaPrivateKey::fromPem(kPubPem).has_value());
  // A private PEM read as public keeps only the public half.
  auto pubOfPriv = RsaPublicKey::fromPem(kPrivPem);
  ASSERT_TRUE(pubOfPriv.has_value());
  EXPECT_EQ(toHex(pubOfPriv->fingerprint()), kFingerprint);
}

TEST(RsaIdentity, GeneratedKeyRoundTripsThroughPem) {
  auto k = RsaPrivateKey::generate();
  ASSERT_TRUE(k.has_value());
  EXPECT_EQ(k->bits(), 1024u);
  EXPECT_TRUE(k->publicKey().hasTorExponent());
  auto back = RsaPrivateKey::fromPem(k->pemPkcs1());
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->publicKey().fingerprint(), k->publicKey().fingerprint());
  EXPECT_NE(k->publicKey().fingerprint(), knownKey().publicKey().fingerprint());
}

TEST(RsaIdentity, TorSignatureMatchesOpensslAndVerifies) {
  RsaPrivateKey k = knownKey();
  std::string_view msg = "abcdefghijklmnopqrst";
  Bytes data(reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
  std::array<uint8_t, 128> sig{};
  ASSERT_EQ(k.signTor(data, sig), 128u);
  EXPECT_EQ(toHex(sig), kTorSigOfAbc);  // PKCS#1 v1.5 is deterministic
  RsaPublicKey pub = k.publicKey();
  EXPECT_TRUE(pub.verifyTorSignature(data, sig));
  sig[5] ^= 1;
  EXPECT_FALSE(pub.verifyTorSignature(data, sig));
  sig[5] ^= 1;
  EXPECT_FALSE(pub.verifyTorSignature(data.first(19), sig));
  EXPECT_FALSE(pub.verifyTorSignature(data, Bytes(sig).first(127)));
  auto other = RsaPrivateKey::generate();
  ASSERT_TRUE(other.has_value());
  EXPECT_FALSE(other->publicKey().verifyTorSignature(data, sig));
  std::array<uint8_t, 127> small{};
  EXPECT_EQ(k.signTor(data, small), 0u);
}

TEST(X509, OpensslSelfSignedCertAccepted) {
  auto c = X509Cert::fromDer(hex(kSelfSignedDer));
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->isSelfSignedRsa1024());
  EXPECT_EQ(c->subjectCommonName(), "www.example.net");
  EXPECT_EQ(toHex(c->rsaPublicKey()->fingerprint()), kFingerprint);
  EXPECT_TRUE(c->validAt(kNow));
  EXPECT_FALSE(c->validAt(1700000000));  // before notBefore
  EXPECT_TRUE(c->validAt(1700000000, 0, 200000000));
  EXPECT_EQ(toHex(c->der()), kSelfSignedDer);
}

TEST(X509, MalformedDerRejected) {
  std::vector<uint8_t> der = hex(kSelfSignedDer);
  EXPECT_FALSE(X509Cert::fromDer(Bytes(der).first(der.size() - 1)).has_value());
  der.push_back(0);
  EXPECT_FALSE(X509Cert::fromDer(der).has_value());
  EXPECT_FALSE(X509Cert::fromDer({}).has_value());
  der.pop_back();
  der[der.size() - 3] ^= 0x10;  // inside the signature
  auto c = X509Cert::fromDer(der);
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->isSelfSignedRsa1024());
}

TEST(X509, OurIdentityAndLinkCertificates) {
  RsaPrivateKey id = knownKey();
  RsaPublicKey idPub = id.publicKey();
  std::array<uint8_t, kHostnameEntropyLen> e1{}, e2{};
  for (size_t i = 0; i < e1.size(); ++i) {
    e1[i] = static_cast<uint8_t>(i * 37 + 1);
    e2[i] = static_cast<uint8_t>(i * 91 + 5);
  }
  std::string idName = randomHostname(e1), linkName = randomHostname(e2);
  X509Validity w = x509ValidityWindow(kNow, 365 * 86400, 0x123456789abcdef);
  X509Request r;
  r.subjectKey = &idPub;
  r.issuerKey = &id;
  r.subjectCommonName = idName;
  r.issuerCommonName = idName;
  r.serial = {0xff, 1, 2, 3, 4, 5, 6, 7};
  r.notBeforeUnix = w.notBeforeUnix;
  r.notAfterUnix = w.notAfterUnix;
  auto idCert = makeX509Cert(r);
  ASSERT_TRUE(idCert.has_value());
  EXPECT_TRUE(idCert->isSelfSignedRsa1024());
  EXPECT_TRUE(idCert->validAt(kNow));
  EXPECT_EQ(idCert->subjectCommonName(), idName);
  auto reparsed = X509Cert::fromDer(idCert->der());
  ASSERT_TRUE(reparsed.has_value());
  EXPECT_TRUE(reparsed->isSelfSignedRsa1024());
  EXPECT_EQ(reparsed->sha256(), idCert->sha256());

  // The link certificate: a fresh key certified by the identity; not self-signed.
  auto link = RsaPrivateKey::generate(1024);
  ASSERT_TRUE(link.has_value());
  RsaPublicKey linkPub = link->publicKey();
  r.subjectKey = &linkPub;
  r.subjectCommonName = linkName;
  auto linkCert = makeX509Cert(r);
  ASSERT_TRUE(linkCert.has_value());
  EXPECT_TRUE(linkCert->signedBy(idPub));
  EXPECT_FALSE(linkCert->signedBy(linkPub));
  EXPECT_FALSE(linkCert->isSelfSignedRsa1024());
  EXPECT_EQ(linkCert->issuerCommonName(), idName);
  EXPECT_EQ(linkCert->subjectCommonName(), linkName);

  // Same names on both sides but signed by another key: still not self-signed.
  r.subjectKey = &idPub;
  r.subjectCommonName = idName;
  r.issuerKey = &*link;
  auto forged = makeX509Cert(r);
  ASSERT_TRUE(forged.has_value());
  EXPECT_FALSE(forged->isSelfSignedRsa1024());
}

TEST(X509, SelfSigned2048Rejected) {
  auto big = RsaPrivateKey::generate(2048);
  ASSERT_TRUE(big.has_value());
  RsaPublicKey pub = big->publicKey();
  X509Request r;
  r.subjectKey = &pub;
  r.issuerKey = &*big;
  r.subjectCommonName = r.issuerCommonName = "www.abcdefgh.net";
  r.notBeforeUnix = kNow - 86400;
  r.notAfterUnix = kNow + 86400;
  auto c = makeX509Cert(r);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->signedBy(pub));
  EXPECT_FALSE(c->isSelfSignedRsa1024());
}

TEST(X509, HostnamesLookLikeCTors) {
  for (int seed = 0; seed < 64; ++seed) {
    std::array<uint8_t, kHostnameEntropyLen> e{};
    for (size_t i = 0; i < e.size(); ++i)
      e[i] = static_cast<uint8_t>(seed * 13 + i * 7);
    std::string h = randomHostname(e);
    ASSERT_EQ(h.rfind("www.", 0), 0u);
    ASSERT_EQ(h.substr(h.size() - 4), ".net");
    size_t letters = h.size() - 8;
    EXPECT_GE(letters, 8u);
    EXPECT_LE(letters, 20u);
    EXPECT_EQ(h.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567", 4), h.size() - 4) << h;
  }
}

TEST(X509, ValidityWindowShape) {
  for (uint64_t rnd : {uint64_t{0}, uint64_t{12345}, ~uint64_t{0}}) {
    X509Validity w = x509ValidityWindow(kNow, 365 * 86400, rnd);
    EXPECT_EQ(w.notAfterUnix - w.notBeforeUnix, 365 * 86400);
    EXPECT_EQ(w.notBeforeUnix % 86400, 0);
    EXPECT_LE(w.notBeforeUnix, kNow);
    EXPECT_GE(w.notAfterUnix, kNow + 86400);
  }
  X509Validity shortW = x509ValidityWindow(kNow, 3600, 99);
  EXPECT_LE(shortW.notBeforeUnix, kNow);
}

TEST(RsaCrosscert, MatchesOpensslAndVerifies) {
  std::vector<uint8_t> in = hex(kCrosscert);
  auto cc = decodeRsaCrosscert(in);
  ASSERT_TRUE(cc) << cc.error().field;
  EXPECT_EQ(toHex(cc->edKey), kEdPub0);
  EXPECT_EQ(cc->expirationHours, 500000u);
  EXPECT_EQ(cc->signature.size(), 128u);
  RsaPrivateKey k = knownKey();
  EXPECT_TRUE(verifyRsaCrosscert(*cc, k.publicKey(), 500000ull * 3600));

  std::array<uint8_t, kRsaCrosscertMaxEncodedLen> buf{};
  auto out = encodeRsaCrosscert(edPub0(), 500000, k, buf);
  ASSERT_TRUE(out);
  EXPECT_EQ(toHex(*out), kCrosscert);
}

TEST(RsaCrosscert, RoundTripExpiredAndTampered) {
  auto k = RsaPrivateKey::generate();
  ASSERT_TRUE(k.has_value());
  std::array<uint8_t, kRsaCrosscertMaxEncodedLen> buf{};
  uint32_t exp = certExpirationHours(kNow + 180 * 86400);
  auto out = encodeRsaCrosscert(edPub0(), exp, *k, buf);
  ASSERT_TRUE(out);
  std::vector<uint8_t> bytes(out->begin(), out->end());
  auto cc = decodeRsaCrosscert(bytes);
  ASSERT_TRUE(cc);
  EXPECT_TRUE(verifyRsaCrosscert(*cc, k->publicKey(), kNow));
  auto expired = verifyRsaCrosscert(*cc, k->publicKey(), uint64_t{exp} * 3600 + 1);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error(), CertErrc::kExpired);
  auto wrongKey = verifyRsaCrosscert(*cc, knownKey().publicKey(), kNow);
  ASSERT_FALSE(wrongKey);
  EXPECT_EQ(wrongKey.error(), CertErrc::kBadSignature);
  for (size_t at : {0u, 33u, 40u, 160u}) {
    std::vector<uint8_t> t = bytes;
    t[at] ^= 0x01;
    auto tc = decodeRsaCrosscert(t);
    ASSERT_TRUE(tc);
    auto v = verifyRsaCrosscert(*tc, k->publicKey(), kNow);
    ASSERT_FALSE(v) << at;
    EXPECT_EQ(v.error(), CertErrc::kBadSignature);
  }
}

TEST(RsaCrosscert, MalformedRejected) {
  std::vector<uint8_t> in = hex(kCrosscert);
  for (size_t n = 0; n < in.size(); ++n) {
    auto cc = decodeRsaCrosscert(Bytes(in.data(), n));
    ASSERT_FALSE(cc) << n;
    EXPECT_EQ(cc.error().code, ParseErrc::kTruncated);
  }
  EXPECT_EQ(decodeRsaCrosscert(Bytes(in.data(), 40)).error(),
            (ParseError{ParseErrc::kTruncated, "sig"}));
  std::vector<uint8_t> longer = in;
  longer.push_back(0);
  EXPECT_EQ(decodeRsaCrosscert(longer).error(),
            (ParseError{ParseErrc::kTrailingBytes, "rsa_ed_crosscert"}));
  std::vector<uint8_t> zero(in.begin(), in.begin() + 36);
  zero.push_back(0);
  EXPECT_EQ(decodeRsaCrosscert(zero).error(), (ParseError{ParseErrc::kBadLength, "sig_len"}));
  // A signature of the wrong length decodes but never verifies.
  std::vector<uint8_t> shortSig(in.begin(), in.begin() + 36);
  shortSig.push_back(127);
  shortSig.insert(shortSig.end(), in.begin() + 37, in.end() - 1);
  auto cc = decodeRsaCrosscert(shortSig);
  ASSERT_TRUE(cc);
  EXPECT_EQ(verifyRsaCrosscert(*cc, knownKey().publicKey(), 0).error(), CertErrc::kBadSignature);
}

TEST(RsaCrosscert, EncodeRefusesSmallBuffer) {
  std::array<uint8_t, 36 + 128> small{};
  auto out = encodeRsaCrosscert(edPub0(), 1, knownKey(), small);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error(), CertErrc::kBufferTooSmall);
}

}  // namespace
}  // namespace onionsplit::crypto
