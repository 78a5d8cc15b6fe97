// Tests for common/crypto/ed25519_ext.h and ed25519_field.h: the key material of test-vectors.md
// §5.1 byte for byte, a DERIVED ntor-onion-key-crosscert (type 0A) and signatures computed by an
// independent Python reading of RFC 8032, agreement with OpenSSL's Ed25519 (same signature bytes
// for a seed's expanded key; every signature verifies with EVP) and X25519 (conversion of the
// public key), and the edge cases of the field and scalar arithmetic.
#include "common/crypto/ed25519_ext.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/hex.h"
#include "common/crypto/ed25519.h"
#include "common/crypto/ed25519_cert.h"
#include "common/crypto/ed25519_field.h"

namespace onionsplit::crypto {
namespace {

namespace ef = ed25519field;

std::vector<uint8_t> hex(std::string_view s) {
  auto v = fromHex(s);
  EXPECT_TRUE(v.has_value()) << s;
  return v.value_or(std::vector<uint8_t>{});
}

template <size_t N>
std::array<uint8_t, N> arr(std::string_view s) {
  std::array<uint8_t, N> a{};
  auto v = hex(s);
  EXPECT_EQ(v.size(), N) << s;
  if (v.size() == N) std::copy(v.begin(), v.end(), a.begin());
  return a;
}

template <size_t N>
std::string hexOf(const std::array<uint8_t, N>& a) {
  return toHex(Bytes(a));
}

std::array<uint8_t, 64> sha512(Bytes in) {
  std::array<uint8_t, 64> out{};
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(in.data(), in.size(), out.data(), &len, EVP_sha512(), nullptr), 1);
  return out;
}

// X25519(secret, 9) by OpenSSL: the independent side of the conversion checks.
Curve25519PublicKey x25519Public(const Curve25519SecretKey& secret) {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()),
      EVP_PKEY_free);
  Curve25519PublicKey pub{};
  size_t len = pub.size();
  EXPECT_TRUE(pkey);
  if (pkey) {
    EXPECT_EQ(EVP_PKEY_get_raw_public_key(pkey.get(), pub.data(), &len), 1);
  }
  return pub;
}

// RFC 8032 §5.1.5 key expansion of a seed, as OpenSSL does it internally.
Ed25519ExpandedSecret expandSeed(const Ed25519Seed& seed) {
  auto h = sha512(Bytes(seed));
  Ed25519ExpandedSecret s;
  std::copy(h.begin(), h.begin() + 32, s.scalar.begin());
  std::copy(h.begin() + 32, h.end(), s.prefix.begin());
  s.scalar[0] &= 248;
  s.scalar[31] &= 127;
  s.scalar[31] |= 64;
  return s;
}

// Deterministic test bytes (the tests must be reproducible): SHA-512 of a label and counter.
template <size_t N>
std::array<uint8_t, N> testBytes(std::string_view label, uint32_t i) {
  std::vector<uint8_t> in(label.begin(), label.end());
  for (int s = 0; s < 32; s += 8)
    in.push_back(static_cast<uint8_t>(i >> s));
  std::array<uint8_t, N> out{};
  size_t done = 0;
  while (done < N) {
    auto h = sha512(Bytes(in));
    size_t n = std::min<size_t>(64, N - done);
    std::copy(h.begin(), h.begin() + static_cast<ptrdiff_t>(n), out.begin() + done);
    done += n;
    in.assign(h.begin(), h.end());
  }
  return out;
}

Ed25519Signature mustSign(const Ed25519Signer& s, Bytes msg) {
  Ed25519Signature sig{};
  EXPECT_TRUE(s.sign(msg, sig));
  return sig;
}

// test-vectors.md §5.1 ([T23] src/test/ed25519_vectors.inc, first three rows).
struct Row {
  const char* seed;
  const char* edPublic;
  bool sign;
  const char* curveSecret;
  const char* curvePublic;
};
constexpr Row kRows[] = {
    {"26c76712d89d906e6672dafa614c42e5cb1caac8c6568e4d2493087db51f0d36",
     "c2247870536a192d142d056abefca68d6193158e7c1a59c1654c954eccaff894", true,
     "c0a4de23cc64392d85aa1da82b3defddbea946d13bb053bf8489fa9296281f49",
     "17ba77846e04c7ee5ca17cade774ac1884408f9701f439d4df32cbd8736c6a1f"},
    {"fba7a5366b5cb98c2667a18783f5cf8f4f8d1a2ce939ad22a6e685edde85128d",
     "1519a3b15816a1aafab0b213892026ebf5c0dc232c58b21088d88cb90e9b940d", false,
     "18a8a69a06790dac778e882f7e868baacfa12521a5c058f5194f3a729184514a",
     "022be2124bc1899a78ba2b4167d191af3b59cadf94f0382bc31ce183a117f161"},
    {"67e3aa7a14fac8445d15e45e38a523481a69ae35513c9e4143eb1c2196729a0e",
     "081faa81992e360ea22c06af1aba096e7a73f1c665bc8b3e4e531c46455fd1dd", true,
     "58d84f8862d2ecfa30eb491a81c36d05b574310ea69dae18ecb57e992a896656",
     "bf4fd38ef22f718f03c0a12ba5127bd1e3afd494793753f519728b29cc577571"},
};

TEST(Ed25519Ext, TestVectors51) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(row.curveSecret);
    const auto curveSecret = arr<32>(row.curveSecret);
    const auto curvePublic = arr<32>(row.curvePublic);
    const auto edPublic = arr<32>(row.edPublic);
    const auto seed = arr<32>(row.seed);

    // The relations the vector file states: the curve secret is the clamped first half of the
    // seed's expansion, and X25519 of it is the curve public key.
    EXPECT_EQ(hexOf(expandSeed(seed).scalar), row.curveSecret);
    EXPECT_EQ(hexOf(x25519Public(curveSecret)), row.curvePublic);

    auto kp = ed25519FromCurve25519Secret(curveSecret);
    ASSERT_TRUE(kp.has_value());
    EXPECT_EQ(hexOf(kp->publicKey()), row.edPublic);
    EXPECT_EQ(kp->signBit(), row.sign);
    EXPECT_EQ(hexOf(convertCurve25519PublicToEd25519(curvePublic, row.sign)), row.edPublic);
    // The other sign bit gives the other point (the negation), not the key.
    EXPECT_NE(convertCurve25519PublicToEd25519(curvePublic, !row.sign), edPublic);

    // Same public key from the seed's expansion through our arithmetic and through OpenSSL.
    EXPECT_EQ(hexOf(Ed25519ExpandedKeypair::fromExpandedSecret(expandSeed(seed)).publicKey()),
              row.edPublic);
    auto evp = Ed25519Keypair::fromSeed(seed);
    ASSERT_TRUE(evp.has_value());
    EXPECT_EQ(evp->publicKey(), edPublic);
  }
}

// DERIVED with an independent Python implementation of RFC 8032 (expanded-key signing) and the
// prefix rule of test-vectors.md §5.1; the signatures were also checked with Python
// `cryptography`'s Ed25519 verify. Message i = "onionsplit ntor-onion-key-crosscert test <i>".
struct DerivedSig {
  const char* prefix;
  const char* sig;
};
constexpr DerivedSig kDerived[] = {
    {"5e5989c4896a438ba3694c08834173f6e7e9393a2aef6a15aecc46560288aa64",
     "816e81976a0511ff32ea7f0b24ee522fc3e6750842b9ec8941f84d2bad34a4c4"
     "c1c00a450d404edeb2b81f5762e2f956c778931e535d682ba16e3080f5ea6c0d"},
    {"083fa2ba2987d0da077b0b4ab9815da8cd6a4448bd84f87ea332d9d490e8bf1f",
     "78ebfa24163559889be4a9cd7c56f7ccc5c2fc3034aef9f0f60951c7cd81c3d8"
     "aa3dde5e6aac663327244a4dc08f54befffbefc8d01e35449d382994c24ea80b"},
    {"92a3f4353bce04485342c7eda373487aebe6d3cd974d887d75b6ada113c64a01",
     "7de1da1daf6396aaed164b22c8f8341e151f2f31ae2b66a6210b6ba0f5b5bfea"
     "ca73987b72a4191845b7352c2cde5c3035db0444e568c9c0f3e49715d11aa002"},
};

TEST(Ed25519Ext, DerivedSignaturesFromCurveSecrets) {
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    const auto curveSecret = arr<32>(kRows[i].curveSecret);
    std::string msg = "onionsplit ntor-onion-key-crosscert test " + std::to_string(i);
    Bytes m(reinterpret_cast<const uint8_t*>(msg.data()), msg.size());

    auto kp = ed25519FromCurve25519Secret(curveSecret);
    ASSERT_TRUE(kp.has_value());
    Ed25519Signature sig = mustSign(*kp, m);
    EXPECT_EQ(hexOf(sig), kDerived[i].sig);
    EXPECT_TRUE(ed25519Verify(kp->publicKey(), m, sig));

    // The prefix rule on its own, with the trailing NUL: SHA512(a | string | 00)[0:32].
    // 32 + 51 characters + NUL, assembled by hand rather than through the library's constant.
    constexpr char kLabel[] = "Derive high part of ed25519 key from curve25519 key";
    static_assert(sizeof(kLabel) == 52);
    std::array<uint8_t, 32 + sizeof(kLabel)> in{};
    std::copy(curveSecret.begin(), curveSecret.end(), in.begin());
    std::memcpy(in.data() + 32, kLabel, sizeof(kLabel));
    auto h = sha512(Bytes(in));
    EXPECT_EQ(toHex(Bytes(h.data(), 32)), kDerived[i].prefix);
    Ed25519ExpandedSecret expanded{curveSecret, arr<32>(kDerived[i].prefix)};
    EXPECT_EQ(mustSign(Ed25519ExpandedKeypair::fromExpandedSecret(expanded), m), sig);
  }
}

// A whole ntor-onion-key-crosscert as C tor makes it (make_ntor_onion_key_crosscert: no
// signed-with-key extension): onion key = row 1's curve secret, certified key = row 0's identity,
// EXPIRATION_DATE 500000 hours. DERIVED with the same Python implementation.
TEST(Ed25519Ext, NtorOnionKeyCrosscertType0A) {
  const std::string_view kCert =
      "010a0007a12001c2247870536a192d142d056abefca68d6193158e7c1a59c1654c954eccaff89400"
      "2ca56b1de5f9b3a6ca0ae8358dba5e14ba96e788cd59f10d7dab0e33960af76a"
      "b68bf919fb55d6fa14d4df99328d4fc02f444a6a97781a1116307ee48975fd0e";
  auto kp = ed25519FromCurve25519Secret(arr<32>(kRows[1].curveSecret));
  ASSERT_TRUE(kp.has_value());
  Ed25519CertFields f;
  f.certType = CertType::kNtorCrosscert;
  f.expirationHours = 500000;
  f.certifiedKey = arr<32>(kRows[0].edPublic);
  f.includeSigningKey = false;
  std::array<uint8_t, kEd25519CertMaxEncodedLen> buf{};
  auto out = encodeEd25519Cert(f, *kp, buf);
  ASSERT_TRUE(out);
  EXPECT_EQ(toHex(*out), kCert);

  // What a reader of our descriptor does: rebuild the key from ntor-onion-key and the bit.
  auto cert = decodeEd25519Cert(*out);
  ASSERT_TRUE(cert);
  EXPECT_TRUE(checkEd25519CertType(*cert, CertType::kNtorCrosscert));
  const auto curvePublic = arr<32>(kRows[1].curvePublic);
  EXPECT_TRUE(verifyEd25519Cert(*cert, convertCurve25519PublicToEd25519(curvePublic, kp->signBit()),
                                1700000000));
  auto wrongBit = verifyEd25519Cert(
      *cert, convertCurve25519PublicToEd25519(curvePublic, !kp->signBit()), 1700000000);
  ASSERT_FALSE(wrongBit);
  EXPECT_EQ(wrongBit.error(), CertErrc::kBadSignature);
}

// RFC 8032 §7.1 TEST 1 through the expanded-key path.
TEST(Ed25519Ext, Rfc8032Test1) {
  auto seed = arr<32>("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  auto kp = Ed25519ExpandedKeypair::fromExpandedSecret(expandSeed(seed));
  EXPECT_EQ(hexOf(kp.publicKey()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(hexOf(mustSign(kp, Bytes())),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc6"
            "1e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
}

// Ed25519 is deterministic, so our arithmetic must give OpenSSL's exact bytes for a seed's key.
TEST(Ed25519Ext, SameSignaturesAsOpenSslForSeeds) {
  const size_t kLens[] = {0, 1, 31, 32, 63, 64, 65, 200, 1000};
  for (uint32_t i = 0; i < 24; ++i) {
    SCOPED_TRACE(i);
    auto seed = testBytes<32>("seed", i);
    auto evp = Ed25519Keypair::fromSeed(seed);
    ASSERT_TRUE(evp.has_value());
    auto ours = Ed25519ExpandedKeypair::fromExpandedSecret(expandSeed(seed));
    ASSERT_EQ(ours.publicKey(), evp->publicKey());
    for (size_t len : kLens) {
      auto buf = testBytes<1000>("msg", i * 16 + static_cast<uint32_t>(len));
      Bytes m(buf.data(), len);
      EXPECT_EQ(hexOf(mustSign(ours, m)), hexOf(mustSign(*evp, m))) << "len " << len;
    }
  }
}

TEST(Ed25519Ext, RandomCurveSecretsConvertSignAndVerify) {
  bool seen[2] = {false, false};
  for (uint32_t i = 0; i < 64; ++i) {
    SCOPED_TRACE(i);
    // Unclamped on purpose: the derivation clamps, as X25519 does.
    auto secret = testBytes<32>("curve", i);
    auto kp = ed25519FromCurve25519Secret(secret);
    ASSERT_TRUE(kp.has_value());
    seen[kp->signBit() ? 1 : 0] = true;
    Ed25519PublicKey rebuilt =
        convertCurve25519PublicToEd25519(x25519Public(secret), kp->signBit());
    EXPECT_EQ(rebuilt, kp->publicKey());

    auto clamped = secret;
    clamped[0] &= 248;
    clamped[31] = static_cast<uint8_t>((clamped[31] & 127) | 64);
    auto kp2 = ed25519FromCurve25519Secret(clamped);
    ASSERT_TRUE(kp2.has_value());
    EXPECT_EQ(kp2->publicKey(), kp->publicKey());

    auto msg = testBytes<104>("crosscert", i);
    Ed25519Signature sig = mustSign(*kp, Bytes(msg));
    EXPECT_EQ(mustSign(*kp2, Bytes(msg)), sig);
    EXPECT_TRUE(ed25519Verify(rebuilt, Bytes(msg), sig));

    auto badMsg = msg;
    badMsg[i % badMsg.size()] ^= static_cast<uint8_t>(1U << (i % 8));
    EXPECT_FALSE(ed25519Verify(rebuilt, Bytes(badMsg), sig));
    auto badSig = sig;
    badSig[(i * 7) % badSig.size()] ^= static_cast<uint8_t>(1U << ((i + 3) % 8));
    EXPECT_FALSE(ed25519Verify(rebuilt, Bytes(msg), badSig));
    EXPECT_FALSE(ed25519Verify(
        convertCurve25519PublicToEd25519(x25519Public(secret), !kp->signBit()), Bytes(msg), sig));
  }
  // Both signs occur, so the sign-bit handling is really exercised.
  EXPECT_TRUE(seen[0]);
  EXPECT_TRUE(seen[1]);
}

// fromExpandedSecret takes any 256-bit scalar (C tor key files hold a, not a seed): top bit set,
// low bits set, all ones. The public key is a*B whatever a is, so signatures still verify.
TEST(Ed25519Ext, UnclampedScalarsSignAndVerify) {
  for (uint32_t i = 0; i < 16; ++i) {
    SCOPED_TRACE(i);
    Ed25519ExpandedSecret s{testBytes<32>("scalar", i), testBytes<32>("prefix", i)};
    if (i == 0) s.scalar.fill(0xff);
    if (i == 1) s.scalar[31] |= 0x80;
    auto kp = Ed25519ExpandedKeypair::fromExpandedSecret(s);
    auto msg = testBytes<50>("m", i);
    Ed25519Signature sig = mustSign(kp, Bytes(msg));
    EXPECT_TRUE(ed25519Verify(kp.publicKey(), Bytes(msg), sig));
    msg[0] ^= 1;
    EXPECT_FALSE(ed25519Verify(kp.publicKey(), Bytes(msg), sig));
  }
  Ed25519ExpandedSecret one{};
  one.scalar[0] = 1;
  EXPECT_EQ(hexOf(Ed25519ExpandedKeypair::fromExpandedSecret(one).publicKey()),
            "5866666666666666666666666666666666666666666666666666666666666666");
  Ed25519ExpandedSecret zero{};
  EXPECT_EQ(hexOf(Ed25519ExpandedKeypair::fromExpandedSecret(zero).publicKey()),
            "0100000000000000000000000000000000000000000000000000000000000000");
}

TEST(Ed25519Ext, MoveKeepsTheKeyAndCleansTheSource) {
  auto kp = ed25519FromCurve25519Secret(arr<32>(kRows[0].curveSecret));
  ASSERT_TRUE(kp.has_value());
  const Bytes m(reinterpret_cast<const uint8_t*>("abc"), 3);
  Ed25519Signature before = mustSign(*kp, m);
  Ed25519ExpandedKeypair moved(std::move(*kp));
  EXPECT_EQ(mustSign(moved, m), before);
  EXPECT_EQ(hexOf(moved.publicKey()), kRows[0].edPublic);
  // The moved-from secret is zero: its signatures no longer verify under the key.
  EXPECT_FALSE(ed25519Verify(moved.publicKey(), m, mustSign(*kp, m)));
  auto other = Ed25519ExpandedKeypair::fromExpandedSecret(Ed25519ExpandedSecret{});
  other = std::move(moved);
  EXPECT_EQ(mustSign(other, m), before);
}

TEST(Ed25519Ext, ConversionEdgeCases) {
  auto u = testBytes<32>("u", 0);
  u[31] &= 0x7f;
  auto uTop = u;
  uTop[31] |= 0x80;
  // Bit 255 of u is ignored (RFC 7748 §5).
  EXPECT_EQ(convertCurve25519PublicToEd25519(uTop, false),
            convertCurve25519PublicToEd25519(u, false));
  // u = 0: y = -1 = p - 1.
  EXPECT_EQ(hexOf(convertCurve25519PublicToEd25519(Curve25519PublicKey{}, false)),
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  // u = p - 1 = -1: u + 1 = 0 has no inverse; like C tor the result is y = 0 (plus the sign).
  auto minusOne = arr<32>("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  EXPECT_EQ(hexOf(convertCurve25519PublicToEd25519(minusOne, true)),
            "0000000000000000000000000000000000000000000000000000000000000080");
  // Non-canonical u = p + 2 is u = 2.
  auto pPlus2 = arr<32>("efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  Curve25519PublicKey two{};
  two[0] = 2;
  EXPECT_EQ(convertCurve25519PublicToEd25519(pPlus2, false),
            convertCurve25519PublicToEd25519(two, false));
}

TEST(Ed25519Field, CanonicalEncoding) {
  auto enc = [](std::string_view h) {
    auto in = arr<32>(h);
    std::array<uint8_t, 32> out{};
    ef::feToBytes(out.data(), ef::feFromBytes(in.data()));
    return hexOf(out);
  };
  const std::string zero(64, '0');
  // p -> 0, p + 1 -> 1, 2^255 - 1 -> 18, p - 1 stays.
  EXPECT_EQ(enc("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"), zero);
  EXPECT_EQ(enc("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            "01" + zero.substr(2));
  EXPECT_EQ(enc("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            "12" + zero.substr(2));
  EXPECT_EQ(enc("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  // Bit 255 is dropped.
  EXPECT_EQ(enc("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
            "12" + zero.substr(2));
  // (p - 1) + (p - 1) = p - 2 and 0 - 1 = p - 1 after full reduction.
  auto m1 = arr<32>("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  std::array<uint8_t, 32> out{};
  ef::feToBytes(out.data(), ef::feAdd(ef::feFromBytes(m1.data()), ef::feFromBytes(m1.data())));
  EXPECT_EQ(hexOf(out), "ebffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
  ef::feToBytes(out.data(), ef::feSub(ef::feZero(), ef::feOne()));
  EXPECT_EQ(hexOf(out), "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
}

TEST(Ed25519Field, InverseAndMultiply) {
  std::array<uint8_t, 32> out{};
  ef::feToBytes(out.data(), ef::feInvert(ef::feZero()));
  EXPECT_EQ(hexOf(out), std::string(64, '0'));
  for (uint32_t i = 0; i < 32; ++i) {
    auto b = testBytes<32>("fe", i);
    ef::Fe x = ef::feFromBytes(b.data());
    ef::feToBytes(out.data(), ef::feMul(x, ef::feInvert(x)));
    EXPECT_EQ(hexOf(out), "01" + std::string(62, '0')) << i;
    // (x + 1)^2 = x^2 + 2x + 1
    ef::Fe lhs = ef::feSquare(ef::feAdd(x, ef::feOne()));
    ef::Fe rhs = ef::feAdd(ef::feAdd(ef::feSquare(x), ef::feAdd(x, x)), ef::feOne());
    std::array<uint8_t, 32> l{}, r{};
    ef::feToBytes(l.data(), lhs);
    ef::feToBytes(r.data(), rhs);
    EXPECT_EQ(l, r) << i;
  }
}

TEST(Ed25519Field, PointDoubleMatchesAdd) {
  ef::Point p = ef::scalarMultBase(testBytes<32>("pt", 0).data());
  std::array<uint8_t, 32> a{}, b{};
  ef::pointEncode(a.data(), ef::pointDouble(p));
  ef::pointEncode(b.data(), ef::pointAdd(p, p));
  EXPECT_EQ(a, b);
  ef::pointEncode(a.data(), ef::pointAdd(p, ef::pointIdentity()));
  ef::pointEncode(b.data(), p);
  EXPECT_EQ(a, b);
  // L * B is the identity.
  auto l = arr<32>("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  ef::pointEncode(a.data(), ef::scalarMultBase(l.data()));
  EXPECT_EQ(hexOf(a), "01" + std::string(62, '0'));
}

TEST(Ed25519Field, ScalarReduction) {
  std::array<uint8_t, 64> in{};
  std::array<uint8_t, 32> out{};
  in.fill(0xff);
  ef::scalarReduce64(out.data(), in.data());
  EXPECT_EQ(hexOf(out), "000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903");
  // L -> 0 and L - 1 stays.
  in.fill(0);
  auto l = arr<32>("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  std::copy(l.begin(), l.end(), in.begin());
  ef::scalarReduce64(out.data(), in.data());
  EXPECT_EQ(hexOf(out), std::string(64, '0'));
  in[0] = 0xec;
  ef::scalarReduce64(out.data(), in.data());
  EXPECT_EQ(hexOf(out), "ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");

  // (a*b + c) mod L, values from Python.
  auto a = arr<32>("ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb");
  auto b = arr<32>("e9af43d212bdb331aa059baa9018db788abd7a0088d42c4acb73eeaed59c000d");
  auto c = arr<32>("2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6");
  ef::scalarMulAdd(out.data(), a.data(), b.data(), c.data());
  EXPECT_EQ(hexOf(out), "d692f2031fa45d1a5e7f5d347cc603609c33cfb563912525d15f4555dae97a06");
  // The largest inputs allowed: (2^256 - 1)(L - 1) + 2^256 - 1 = (2^256 - 1) L = 0 mod L.
  std::array<uint8_t, 32> ones{};
  ones.fill(0xff);
  auto lm1 = arr<32>("ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  ef::scalarMulAdd(out.data(), ones.data(), lm1.data(), ones.data());
  EXPECT_EQ(hexOf(out), std::string(64, '0'));
}

}  // namespace
}  // namespace onionsplit::crypto
