// Tests for common/crypto/key_files.h against keys written by Debian's tor (tests/data/ctor-keys).
#include "common/crypto/key_files.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>

#include "common/base/hex.h"

namespace onionsplit::crypto {
namespace {

std::vector<uint8_t> readData(const std::string& name) {
  std::ifstream in(std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/ctor-keys/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in) << name;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string readText(const std::string& name) {
  auto v = readData(name);
  return std::string(v.begin(), v.end());
}

TEST(KeyFiles, ReadsCtorTaggedFiles) {
  auto pub = readData("ed25519_master_id_public_key");
  auto body = parseTaggedBody(pub, "ed25519v1-public", "type0", 32);
  ASSERT_TRUE(body);
  // fingerprint-ed25519 holds "<nickname> <base64 of the master public key, no padding>".
  std::string line = readText("fingerprint-ed25519");
  std::string b64 = line.substr(line.find(' ') + 1);
  while (!b64.empty() && (b64.back() == '\n' || b64.back() == '\r'))
    b64.pop_back();
  unsigned char enc[64];
  int n = EVP_EncodeBlock(enc, body->data(), 32);
  std::string ours(reinterpret_cast<char*>(enc), static_cast<size_t>(n));
  while (!ours.empty() && ours.back() == '=')
    ours.pop_back();
  EXPECT_EQ(ours, b64);

  EXPECT_TRUE(
      parseTaggedBody(readData("ed25519_master_id_secret_key"), "ed25519v1-secret", "type0", 64));
  EXPECT_TRUE(
      parseTaggedBody(readData("ed25519_signing_secret_key"), "ed25519v1-secret", "type4", 64));
  auto certFile = readData("ed25519_signing_cert");  // the parse result views into it
  auto cert = parseTaggedFile(certFile);
  ASSERT_TRUE(cert);
  EXPECT_EQ(cert->type, "ed25519v1-cert");
  EXPECT_EQ(cert->tag, "type4");
  EXPECT_EQ(cert->body[0], 1);  // certificate version 1
  EXPECT_EQ(cert->body[1], 4);  // type 4: identity -> signing key
}

TEST(KeyFiles, NtorKeyPublicMatchesSecret) {
  auto k = parseNtorKeyFile(readData("secret_onion_key_ntor"));
  ASSERT_TRUE(k);
  EVP_PKEY* p = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, k->secret.data(), 32);
  ASSERT_NE(p, nullptr);
  uint8_t pubOut[32];
  size_t len = sizeof pubOut;
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(p, pubOut, &len), 1);
  EVP_PKEY_free(p);
  EXPECT_EQ(toHex(Bytes(pubOut)), toHex(k->publicKey));
  // And our writer produces C tor's bytes exactly.
  EXPECT_EQ(makeNtorKeyFile(*k), readData("secret_onion_key_ntor"));
}

TEST(KeyFiles, FingerprintFileLineMatchesCtor) {
  std::string pem = readText("secret_id_key");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  unsigned char* der = nullptr;
  int derLen = i2d_PublicKey(key, &der);  // PKCS#1 RSAPublicKey
  ASSERT_GT(derLen, 0);
  uint8_t digest[20];
  SHA1(der, static_cast<size_t>(derLen), digest);
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  EXPECT_EQ(fingerprintFileLine("middle0", Bytes(digest)), readText("fingerprint"));
}

TEST(KeyFiles, RejectsMalformed) {
  auto good = readData("ed25519_master_id_public_key");
  EXPECT_EQ(parseTaggedFile(Bytes(good.data(), 10)).error().code, ParseErrc::kTruncated);
  auto bad = good;
  bad[0] = 'X';
  EXPECT_EQ(parseTaggedFile(bad).error().code, ParseErrc::kBadValue);
  bad = good;
  bad[31] = 'x';  // junk in the NUL padding
  EXPECT_FALSE(parseTaggedFile(bad));
  EXPECT_EQ(parseTaggedBody(good, "ed25519v1-secret", "type0", 32).error().code,
            ParseErrc::kUnknownType);
  EXPECT_EQ(parseTaggedBody(good, "ed25519v1-public", "type0", 31).error().code,
            ParseErrc::kTrailingBytes);
  EXPECT_EQ(parseTaggedBody(good, "ed25519v1-public", "type0", 33).error().code,
            ParseErrc::kTruncated);
  EXPECT_FALSE(parseNtorKeyFile(good));
}

TEST(KeyFiles, WriterRoundTrip) {
  const uint8_t body[] = {1, 2, 3};
  auto f = makeTaggedFile("ed25519v1-cert", "type4", Bytes(body));
  ASSERT_EQ(f.size(), kTaggedHeaderLen + 3);
  auto back = parseTaggedFile(f);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->type, "ed25519v1-cert");
  EXPECT_EQ(back->tag, "type4");
  EXPECT_EQ(back->body.size(), 3u);
}

}  // namespace
}  // namespace onionsplit::crypto
