// Tests for channeld/descriptor/server_descriptor.h: field order as C tor writes it (compared with
// a descriptor Debian's tor 0.4.9 published, tests/data/ctor-exit-descriptor.txt) and both
// signatures verified with OpenSSL.
#include "channeld/descriptor/server_descriptor.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace onionsplit::channeld {
namespace {

struct TestSigner : DescriptorSigner {
  EVP_PKEY* ed = nullptr;
  EVP_PKEY* rsa = nullptr;
  TestSigner() {
    EVP_PKEY_CTX* c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr);
    EVP_PKEY_keygen_init(c);
    EVP_PKEY_keygen(c, &ed);
    EVP_PKEY_CTX_free(c);
    c = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr);
    EVP_PKEY_keygen_init(c);
    EVP_PKEY_CTX_set_rsa_keygen_bits(c, 1024);
    EVP_PKEY_keygen(c, &rsa);
    EVP_PKEY_CTX_free(c);
  }
  ~TestSigner() override {
    EVP_PKEY_free(ed);
    EVP_PKEY_free(rsa);
  }
  std::array<uint8_t, 64> signEd25519(Bytes m) override {
    std::array<uint8_t, 64> sig{};
    size_t len = sig.size();
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    EVP_DigestSignInit(c, nullptr, nullptr, nullptr, ed);
    EVP_DigestSign(c, sig.data(), &len, m.data(), m.size());
    EVP_MD_CTX_free(c);
    return sig;
  }
  std::vector<uint8_t> signRsaDigest(Bytes digest) override {
    std::vector<uint8_t> sig(128);
    size_t len = sig.size();
    EVP_PKEY_CTX* c = EVP_PKEY_CTX_new(rsa, nullptr);
    EVP_PKEY_sign_init(c);
    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING);
    EVP_PKEY_sign(c, sig.data(), &len, digest.data(), digest.size());
    EVP_PKEY_CTX_free(c);
    sig.resize(len);
    return sig;
  }
};

std::vector<uint8_t> fromB64(std::string s) {
  std::string clean;
  for (char ch : s)
    if (ch != '\n') clean.push_back(ch);
  while (clean.size() % 4)
    clean.push_back('=');
  std::vector<uint8_t> out(clean.size());
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  out.resize(static_cast<size_t>(n));
  size_t pad = 0;
  while (pad < clean.size() && clean[clean.size() - 1 - pad] == '=')
    ++pad;
  out.resize(out.size() - pad);
  return out;
}

std::vector<std::string> keywords(const std::string& doc) {
  std::vector<std::string> out;
  std::istringstream in(doc);
  std::string line;
  bool inBlock = false;
  while (std::getline(in, line)) {
    if (line.starts_with("-----BEGIN")) inBlock = true;
    if (!inBlock && !line.empty()) {
      std::string kw = line.substr(0, line.find(' '));
      if (out.empty() || out.back() != kw) out.push_back(kw);  // accept/reject runs count once
    }
    if (line.starts_with("-----END")) inBlock = false;
  }
  return out;
}

DescriptorInputs sampleInputs() {
  DescriptorInputs in;
  in.nickname = "onionsplit1";
  in.address = "127.0.0.1";
  in.orPort = 5100;
  static const uint8_t cert[] = {1, 4, 0, 7, 0x9f, 0x1c, 1};
  in.signingCert = Bytes(cert);
  in.masterKey.fill(7);
  in.platform = "onionsplit 0.1.0 on Linux";
  in.proto = "Cons=1-2 Desc=1-2 Link=4-5 LinkAuth=3 Microdesc=1-2 Relay=2-4";
  in.published = 1764012135;  // 2025-11-24 19:22:15 UTC
  in.rsaFingerprint.fill(0xab);
  in.bandwidthAvg = in.bandwidthBurst = 1073741824;
  in.tapOnionKeyPem = "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----\n";
  in.identityKeyPem = in.tapOnionKeyPem;
  static const uint8_t cross[] = {9, 9, 9};
  in.tapOnionKeyCrosscert = Bytes(cross);
  in.ntorOnionKeyCrosscert = Bytes(cert);
  in.ntorCrosscertSignBit = 1;
  in.family = {"$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
  in.contact = "ops@example";
  in.ntorOnionKey.fill(3);
  in.policyLines = "accept 127.0.0.0/8:*\naccept *:*\n";
  return in;
}

TEST(ServerDescriptor, FieldsInCtorOrder) {
  TestSigner signer;
  std::string doc = buildServerDescriptor(sampleInputs(), signer);
  std::ifstream f(std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/ctor-exit-descriptor.txt");
  std::string ctor((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(ctor.empty());
  // C tor's keywords, less those onionsplit does not publish (no extra-info, no directory service).
  std::vector<std::string> expected;
  for (auto& k : keywords(ctor))
    if (k != "extra-info-digest" && k != "hidden-service-dir" && k != "tunnelled-dir-server")
      expected.push_back(k);
  // onionsplit adds "family" where C tor would (before "contact").
  auto contact = std::find(expected.begin(), expected.end(), "contact");
  expected.insert(contact, "family");
  EXPECT_EQ(keywords(doc), expected) << doc;
  EXPECT_NE(doc.find("\nfingerprint ABAB ABAB ABAB"), std::string::npos);
  EXPECT_NE(doc.find("\npublished 2025-11-24 19:22:15\n"), std::string::npos);
  EXPECT_NE(doc.find("\nntor-onion-key-crosscert 1\n-----BEGIN ED25519 CERT-----\n"),
            std::string::npos);
  EXPECT_NE(doc.find("\nmaster-key-ed25519 BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc\n"),
            std::string::npos);
}

TEST(ServerDescriptor, BothSignaturesVerify) {
  TestSigner signer;
  std::string doc = buildServerDescriptor(sampleInputs(), signer);

  size_t edAt = doc.find("router-sig-ed25519 ");
  ASSERT_NE(edAt, std::string::npos);
  size_t edEnd = edAt + std::string("router-sig-ed25519 ").size();
  std::string signedPart = "Tor router descriptor signature v1" + doc.substr(0, edEnd);
  uint8_t digest[32];
  SHA256(reinterpret_cast<const unsigned char*>(signedPart.data()), signedPart.size(), digest);
  auto edSig = fromB64(doc.substr(edEnd, doc.find('\n', edEnd) - edEnd));
  ASSERT_EQ(edSig.size(), 64u);
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  EVP_DigestVerifyInit(c, nullptr, nullptr, nullptr, signer.ed);
  EXPECT_EQ(EVP_DigestVerify(c, edSig.data(), 64, digest, 32), 1);
  EVP_MD_CTX_free(c);

  size_t rsaAt = doc.find("router-signature\n");
  ASSERT_NE(rsaAt, std::string::npos);
  std::string rsaSigned = doc.substr(0, rsaAt + std::string("router-signature\n").size());
  uint8_t sha1[20];
  SHA1(reinterpret_cast<const unsigned char*>(rsaSigned.data()), rsaSigned.size(), sha1);
  size_t b = doc.find("-----BEGIN SIGNATURE-----\n", rsaAt) + 26;
  size_t e = doc.find("-----END SIGNATURE-----", b);
  auto rsaSig = fromB64(doc.substr(b, e - b));
  ASSERT_EQ(rsaSig.size(), 128u);
  std::vector<uint8_t> recovered(128);
  size_t rlen = recovered.size();
  EVP_PKEY_CTX* pc = EVP_PKEY_CTX_new(signer.rsa, nullptr);
  EVP_PKEY_verify_recover_init(pc);
  EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING);
  ASSERT_EQ(EVP_PKEY_verify_recover(pc, recovered.data(), &rlen, rsaSig.data(), rsaSig.size()), 1);
  EVP_PKEY_CTX_free(pc);
  ASSERT_EQ(rlen, 20u);
  EXPECT_EQ(0, memcmp(recovered.data(), sha1, 20));
  EXPECT_TRUE(doc.ends_with("-----END SIGNATURE-----\n"));
}

TEST(ServerDescriptor, PemBlocksWrapAt64Columns) {
  std::vector<uint8_t> der(100, 0x5a);
  std::string pem = pemBlock("X", der);
  std::istringstream in(pem);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "-----BEGIN X-----");
  std::getline(in, line);
  EXPECT_EQ(line.size(), 64u);
  std::getline(in, line);
  EXPECT_EQ(line.size(), 64u);
  std::getline(in, line);
  EXPECT_EQ(line.size(), 136u - 128u);  // 100 bytes are 136 base64 characters
  std::getline(in, line);
  EXPECT_EQ(line, "-----END X-----");
}

}  // namespace
}  // namespace onionsplit::channeld
