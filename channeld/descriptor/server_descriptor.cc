// channeld/descriptor/server_descriptor.cc: see server_descriptor.h.
#include "channeld/descriptor/server_descriptor.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/base/hex.h"
#include "common/crypto/ed25519_cert.h"

namespace onionsplit::channeld {
namespace {

std::string spacedFingerprint(Bytes fp) {
  std::string hex = toHex(fp, true), out;
  for (size_t i = 0; i < hex.size(); i += 4) {
    if (i) out.push_back(' ');
    out.append(hex, i, 4);
  }
  return out;
}

}  // namespace

std::string pemBlock(std::string_view label, Bytes der) {
  std::string b64 = toBase64(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (size_t i = 0; i < b64.size(); i += 64)
    out += b64.substr(i, 64) + "\n";
  return out + "-----END " + std::string(label) + "-----\n";
}

std::string formatUtcTime(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::vector<uint8_t> makeFamilyCert(const crypto::Ed25519Signer& familyKey,
                                    const std::array<uint8_t, 32>& identity,
                                    std::time_t published) {
  crypto::Ed25519CertFields f;
  f.certType = crypto::CertType::kFamilyIdentity;
  f.expirationHours = crypto::certExpirationHours(
      static_cast<uint64_t>(published > 0 ? published : 0) + kFamilyCertLifetimeSeconds);
  f.certKeyType = crypto::CertKeyType::kEd25519;
  f.certifiedKey = identity;
  f.includeSigningKey = true;
  std::array<uint8_t, crypto::kEd25519CertMaxEncodedLen> buf{};
  auto cert = crypto::encodeEd25519Cert(f, familyKey, MutBytes(buf));
  if (!cert) return {};
  return std::vector<uint8_t>(cert->begin(), cert->end());
}

std::string buildServerDescriptor(const DescriptorInputs& in, DescriptorSigner& signer) {
  std::string d;
  d += "router " + in.nickname + " " + in.address + " " + std::to_string(in.orPort) + " 0 0\n";
  d += "identity-ed25519\n" + pemBlock("ED25519 CERT", in.signingCert);
  d += "master-key-ed25519 " + toBase64NoPad(in.masterKey) + "\n";
  d += "platform " + in.platform + "\n";
  d += "proto " + in.proto + "\n";
  d += "published " + formatUtcTime(in.published) + "\n";
  d += "fingerprint " + spacedFingerprint(in.rsaFingerprint) + "\n";
  d += "uptime " + std::to_string(in.uptimeSeconds) + "\n";
  d += "bandwidth " + std::to_string(in.bandwidthAvg) + " " + std::to_string(in.bandwidthBurst) +
       " " + std::to_string(in.bandwidthObserved) + "\n";
  d += "onion-key\n" + in.tapOnionKeyPem;
  d += "signing-key\n" + in.identityKeyPem;
  d += "onion-key-crosscert\n" + pemBlock("CROSSCERT", in.tapOnionKeyCrosscert);
  d += "ntor-onion-key-crosscert " + std::to_string(in.ntorCrosscertSignBit) + "\n" +
       pemBlock("ED25519 CERT", in.ntorOnionKeyCrosscert);
  if (!in.family.empty()) {
    d += "family";
    for (const auto& f : in.family)
      d += " " + f;
    d += "\n";
  }
  // After "family" and before "contact", as C tor's router_dump_router_to_string.
  for (const auto& cert : in.familyCerts)
    d += "family-cert\n" + pemBlock("FAMILY CERT", Bytes(cert));
  if (in.hibernating) d += "hibernating 1\n";  // where C tor puts it
  if (!in.contact.empty()) d += "contact " + in.contact + "\n";
  d += "ntor-onion-key " + toBase64NoPad(in.ntorOnionKey) + "\n";
  d += in.policyLines;
  if (!in.ipv6Policy.empty()) d += "ipv6-policy " + in.ipv6Policy + "\n";

  d += "router-sig-ed25519 ";
  {
    static constexpr std::string_view kPrefix = "Tor router descriptor signature v1";
    std::string signedPart = std::string(kPrefix) + d;
    uint8_t digest[32];
    SHA256(reinterpret_cast<const unsigned char*>(signedPart.data()), signedPart.size(), digest);
    d += toBase64NoPad(signer.signEd25519(Bytes(digest))) + "\n";
  }
  d += "router-signature\n";
  uint8_t sha1[20];
  SHA1(reinterpret_cast<const unsigned char*>(d.data()), d.size(), sha1);
  d += pemBlock("SIGNATURE", signer.signRsaDigest(Bytes(sha1)));
  return d;
}

}  // namespace onionsplit::channeld
