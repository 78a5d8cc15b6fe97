// tests/channeld/fresh_identity.h: a relay identity made in memory for the test tools that open
// channels the way channeld does (link_initiator_tool, tests/client/conflux_client_tool): an RSA
// identity, an ed25519 master and signing key with its type 4 certificate, and the link and
// initiator credentials built from them. Its link certificate is what TLS presents; a tool that
// authenticates as a relay uses the initiator credentials (C tor accepts relays it does not know).
#pragma once

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channeld/net/outbound.h"
#include "common/crypto/ed25519_cert.h"

namespace onionsplit::channeld::testing {

inline void randomBytes(MutBytes b) {
  RAND_bytes(b.data(), static_cast<int>(b.size()));
}

struct FreshIdentity {
  crypto::RsaPrivateKey rsa = *crypto::RsaPrivateKey::generate(1024);
  std::optional<crypto::Ed25519Keypair> master, signing;
  std::optional<LinkCredentials> creds;
  std::shared_ptr<InitiatorCredentials> init;
  bool ok = false;  // every part was made

  explicit FreshIdentity(int64_t now) {
    crypto::Ed25519Seed seed{};
    randomBytes(MutBytes(seed));
    master = crypto::Ed25519Keypair::fromSeed(seed);
    randomBytes(MutBytes(seed));
    signing = crypto::Ed25519Keypair::fromSeed(seed);
    crypto::Ed25519CertFields f;
    f.certifiedKey = signing->publicKey();
    f.expirationHours = crypto::certExpirationHours(static_cast<uint64_t>(now + 86400 * 30));
    std::array<uint8_t, crypto::kEd25519CertMaxEncodedLen> buf{};
    auto type4 = crypto::encodeEd25519Cert(f, *master, buf);
    std::vector<uint8_t> entropy(64);
    randomBytes(MutBytes(entropy));
    std::string err;
    if (!type4) return;
    creds = LinkCredentials::create(rsa, *signing, *type4, master->publicKey(), now, entropy, err);
    if (!creds) return;
    randomBytes(MutBytes(entropy));
    auto i = InitiatorCredentials::create(*creds, rsa, *signing, now, entropy, err);
    if (!i) return;
    init = std::make_shared<InitiatorCredentials>(std::move(*i));
    ok = true;
  }

  // SHA-256 of the RSA identity key (DER, PKCS#1), as AUTHENTICATE names it.
  std::array<uint8_t, 32> rsaIdSha256() const {
    std::array<uint8_t, 32> out{};
    auto der = rsa.publicKey().derPkcs1();
    unsigned n = 0;
    EVP_Digest(der.data(), der.size(), out.data(), &n, EVP_sha256(), nullptr);
    return out;
  }
};

// A test tool's initiator TLS context presenting `me`'s link certificate, or nullopt after saying
// why on stderr (also when `me` could not be made).
inline std::optional<LinkTlsContext> initiatorTls(const FreshIdentity& me) {
  if (!me.ok) {
    std::fprintf(stderr, "cannot make an identity\n");
    return std::nullopt;
  }
  std::string err;
  auto tls =
      LinkTlsContext::create(TlsRole::kInitiator, me.creds->linkKey, me.creds->linkCert, err);
  if (!tls) std::fprintf(stderr, "TLS: %s\n", err.c_str());
  return tls;
}

}  // namespace onionsplit::channeld::testing
