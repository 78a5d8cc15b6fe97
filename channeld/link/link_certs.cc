// channeld/link/link_certs.cc: see link_certs.h.
#include "channeld/link/link_certs.h"

#include <openssl/sha.h>

#include <cstring>

#include "common/crypto/ed25519_cert.h"
#include "common/crypto/rsa_crosscert.h"

namespace onionsplit::channeld {
namespace {

using crypto::CertType;
using Err = std::string;

// Finds the single certificate of `type`; fails if it is missing or repeated.
Expected<Bytes, Err> exactlyOne(std::span<const CertEntry> certs, CertsCellType type) {
  std::optional<Bytes> found;
  for (const CertEntry& c : certs) {
    if (c.type != static_cast<uint8_t>(type)) continue;
    if (found)
      return fail("CERTS has more than one certificate of type " +
                  std::to_string(static_cast<int>(type)));
    found = c.body;
  }
  if (!found)
    return fail("CERTS lacks a certificate of type " + std::to_string(static_cast<int>(type)));
  return *found;
}

std::array<uint8_t, 32> sha256(Bytes b) {
  std::array<uint8_t, 32> d{};
  SHA256(b.data(), b.size(), d.data());
  return d;
}

// The common part of both checks: types 2, 4 and 7, and the chain between them.
struct IdentityChain {
  PeerIdentity id;
  crypto::Ed25519Cert signingCert;
};

Expected<IdentityChain, Err> checkIdentityChain(std::span<const CertEntry> certs, int64_t now) {
  auto idDer = exactlyOne(certs, CertsCellType::kRsaId);
  if (!idDer) return fail(idDer.error());
  auto idCert = crypto::X509Cert::fromDer(*idDer);
  if (!idCert) return fail(Err("the RSA identity certificate is not X.509"));
  if (!idCert->isSelfSignedRsa1024())
    return fail(Err("the RSA identity certificate is not a self-signed RSA-1024 certificate"));
  if (!idCert->validAt(now)) return fail(Err("the RSA identity certificate is not valid now"));
  auto rsaKey = idCert->rsaPublicKey();
  if (!rsaKey) return fail(Err("the RSA identity certificate has no RSA key"));

  auto signingBytes = exactlyOne(certs, CertsCellType::kEdSigning);
  if (!signingBytes) return fail(signingBytes.error());
  auto signing = crypto::decodeEd25519Cert(*signingBytes);
  if (!signing)
    return fail("the identity->signing certificate is malformed: " +
                std::string(signing.error().field));
  if (!crypto::checkEd25519CertType(*signing, CertType::kIdentitySigning))
    return fail(Err("the identity->signing certificate has the wrong type"));
  if (!signing->signedWithKey)
    return fail(Err("the identity->signing certificate does not name the identity key"));
  if (auto v =
          crypto::verifyEd25519Cert(*signing, signing->signedWithKey, static_cast<uint64_t>(now));
      !v)
    return fail("the identity->signing certificate does not verify: " +
                std::string(crypto::toString(v.error())));

  auto crossBytes = exactlyOne(certs, CertsCellType::kRsaEdCross);
  if (!crossBytes) return fail(crossBytes.error());
  auto cross = crypto::decodeRsaCrosscert(*crossBytes);
  if (!cross) return fail(Err("the RSA->ed25519 crosscert is malformed"));
  if (auto v = crypto::verifyRsaCrosscert(*cross, *rsaKey, static_cast<uint64_t>(now)); !v)
    return fail("the RSA->ed25519 crosscert does not verify: " +
                std::string(crypto::toString(v.error())));
  if (cross->edKey != *signing->signedWithKey)
    return fail(Err("the RSA->ed25519 crosscert certifies another ed25519 identity"));

  IdentityChain out{PeerIdentity{}, *signing};
  out.id.rsaId = rsaKey->fingerprint();
  out.id.rsaIdSha256 = sha256(rsaKey->derPkcs1());
  out.id.edId = *signing->signedWithKey;
  std::memcpy(out.id.edSigningKey.data(), signing->certifiedKey.data(), 32);
  return out;
}

// A type 5 or 6 certificate signed by the signing key of `chain`.
Expected<crypto::Ed25519Cert, Err> checkSignedBySigningKey(Bytes body, CertType type,
                                                           const PeerIdentity& id, int64_t now) {
  auto cert = crypto::decodeEd25519Cert(body);
  if (!cert) return fail("a certificate is malformed: " + std::string(cert.error().field));
  if (!crypto::checkEd25519CertType(*cert, type))
    return fail(Err("a certificate has the wrong type or key type"));
  if (auto v = crypto::verifyEd25519Cert(*cert, id.edSigningKey, static_cast<uint64_t>(now)); !v)
    return fail("a certificate does not verify with the signing key: " +
                std::string(crypto::toString(v.error())));
  return *cert;
}

}  // namespace

Expected<PeerIdentity, std::string> checkInitiatorCerts(std::span<const CertEntry> certs,
                                                        int64_t nowUnix) {
  auto chain = checkIdentityChain(certs, nowUnix);
  if (!chain) return fail(chain.error());
  auto authBytes = exactlyOne(certs, CertsCellType::kEdAuth);
  if (!authBytes) return fail(authBytes.error());
  auto auth = checkSignedBySigningKey(*authBytes, CertType::kSigningAuth, chain->id, nowUnix);
  if (!auth) return fail(auth.error());
  PeerIdentity id = chain->id;
  crypto::Ed25519PublicKey authKey{};
  std::memcpy(authKey.data(), auth->certifiedKey.data(), 32);
  id.edAuthKey = authKey;
  return id;
}

Expected<PeerIdentity, std::string> checkResponderCerts(std::span<const CertEntry> certs,
                                                        Bytes tlsCertDer, int64_t nowUnix) {
  auto chain = checkIdentityChain(certs, nowUnix);
  if (!chain) return fail(chain.error());
  auto linkBytes = exactlyOne(certs, CertsCellType::kEdLink);
  if (!linkBytes) return fail(linkBytes.error());
  auto link = checkSignedBySigningKey(*linkBytes, CertType::kSigningLink, chain->id, nowUnix);
  if (!link) return fail(link.error());
  if (link->certifiedKey != sha256(tlsCertDer))
    return fail(Err("the signing->link certificate does not certify the TLS certificate"));
  // Type 1 (C tor sends its TLS certificate as type 1; C tor 0.4.9 itself ignores it once the
  // ed25519 certificates check out): if present, it must be that certificate, signed by the
  // identity.
  std::optional<Bytes> tlsX509;
  for (const CertEntry& c : certs) {
    if (c.type != static_cast<uint8_t>(CertsCellType::kLink)) continue;
    if (tlsX509) return fail(Err("CERTS has more than one certificate of type 1"));
    tlsX509 = c.body;
  }
  if (tlsX509) {
    if (!constantTimeEqual(*tlsX509, tlsCertDer))
      return fail(Err("the type 1 link certificate is not the TLS certificate"));
    auto x = crypto::X509Cert::fromDer(*tlsX509);
    auto idDer = exactlyOne(certs, CertsCellType::kRsaId);
    auto idCert = idDer ? crypto::X509Cert::fromDer(*idDer) : std::nullopt;
    auto idKey = idCert ? idCert->rsaPublicKey() : std::nullopt;
    if (!x || !idKey || !x->signedBy(*idKey))
      return fail(Err("the type 1 link certificate is not signed by the RSA identity"));
  }
  return chain->id;
}

Expected<void, std::string> verifyAuth3(Bytes body, const Auth3Expected& e,
                                        const crypto::Ed25519PublicKey& authKey) {
  static constexpr size_t kTotal = kAuth3FixedLen + kAuth3RandLen + kAuth3SigLen;
  if (body.size() < kTotal) return fail(Err("AUTHENTICATE body is too short"));
  if (body.size() > kTotal) return fail(Err("AUTHENTICATE body has trailing bytes"));
  if (std::memcmp(body.data(), "AUTH0003", 8) != 0)
    return fail(Err("AUTHENTICATE body is not of type AUTH0003"));
  const std::array<uint8_t, 32>* fields[] = {&e.cid,  &e.sid,  &e.cidEd, &e.sidEd,
                                             &e.slog, &e.clog, &e.scert, &e.tlsSecrets};
  static constexpr const char* kNames[] = {"CID",  "SID",  "CID_ED", "SID_ED",
                                           "SLOG", "CLOG", "SCERT",  "TLSSECRETS"};
  for (size_t i = 0; i < 8; ++i) {
    if (!constantTimeEqual(body.subspan(8 + 32 * i, 32), *fields[i]))
      return fail("AUTHENTICATE " + std::string(kNames[i]) + " is wrong");
  }
  crypto::Ed25519Signature sig{};
  std::memcpy(sig.data(), body.data() + kAuth3FixedLen + kAuth3RandLen, kAuth3SigLen);
  if (!crypto::ed25519Verify(authKey, body.first(kAuth3FixedLen + kAuth3RandLen), sig))
    return fail(Err("AUTHENTICATE signature does not verify"));
  return {};
}

std::vector<uint8_t> makeAuth3(const Auth3Expected& f, Bytes rand24,
                               const crypto::Ed25519Signer& authKey) {
  std::vector<uint8_t> out(kAuth3FixedLen + kAuth3RandLen + kAuth3SigLen, 0);
  std::memcpy(out.data(), "AUTH0003", 8);
  const std::array<uint8_t, 32>* fields[] = {&f.cid,  &f.sid,  &f.cidEd, &f.sidEd,
                                             &f.slog, &f.clog, &f.scert, &f.tlsSecrets};
  for (size_t i = 0; i < 8; ++i)
    std::memcpy(out.data() + 8 + 32 * i, fields[i]->data(), 32);
  std::memcpy(out.data() + kAuth3FixedLen, rand24.data(), std::min<size_t>(rand24.size(), 24));
  crypto::Ed25519Signature sig{};
  authKey.sign(Bytes(out.data(), kAuth3FixedLen + kAuth3RandLen), sig);
  std::memcpy(out.data() + kAuth3FixedLen + kAuth3RandLen, sig.data(), sig.size());
  return out;
}

std::optional<LinkCredentials> LinkCredentials::create(const crypto::RsaPrivateKey& rsaIdentity,
                                                       const crypto::Ed25519Signer& signingKey,
                                                       Bytes edSigningCert,
                                                       const crypto::Ed25519PublicKey& masterKey,
                                                       int64_t nowUnix, Bytes entropy,
                                                       std::string& error) {
  if (entropy.size() < 64) {
    error = "not enough entropy for link credentials";
    return std::nullopt;
  }
  auto linkKey = crypto::RsaPrivateKey::generate(2048);
  if (!linkKey) {
    error = "cannot generate the link key";
    return std::nullopt;
  }
  std::string idName = crypto::randomHostname(entropy.subspan(0, crypto::kHostnameEntropyLen));
  std::string linkName = crypto::randomHostname(entropy.subspan(14, crypto::kHostnameEntropyLen));
  auto idPub = rsaIdentity.publicKey();
  auto linkPub = linkKey->publicKey();
  uint64_t r = 0;
  std::memcpy(&r, entropy.data() + 28, sizeof r);

  crypto::X509Request idReq;
  idReq.subjectKey = &idPub;
  idReq.issuerKey = &rsaIdentity;
  idReq.subjectCommonName = idName;
  idReq.issuerCommonName = idName;
  std::memcpy(idReq.serial.data(), entropy.data() + 36, 8);
  auto idWindow = crypto::x509ValidityWindow(nowUnix, 365LL * 24 * 3600, r);
  idReq.notBeforeUnix = idWindow.notBeforeUnix;
  idReq.notAfterUnix = idWindow.notAfterUnix;
  auto idCert = crypto::makeX509Cert(idReq);

  crypto::X509Request linkReq = idReq;
  linkReq.subjectKey = &linkPub;
  linkReq.subjectCommonName = linkName;
  std::memcpy(linkReq.serial.data(), entropy.data() + 44, 8);
  auto linkWindow = crypto::x509ValidityWindow(nowUnix, 2LL * 24 * 3600, r >> 17);
  linkReq.notBeforeUnix = linkWindow.notBeforeUnix;
  linkReq.notAfterUnix = linkWindow.notAfterUnix;
  auto linkCert = crypto::makeX509Cert(linkReq);
  if (!idCert || !linkCert) {
    error = "cannot make the link X.509 certificates";
    return std::nullopt;
  }

  // Type 5: the signing key certifies the SHA-256 of the TLS certificate, as long as that lives.
  crypto::Ed25519CertFields f5;
  f5.certType = CertType::kSigningLink;
  f5.certKeyType = crypto::CertKeyType::kSha256OfX509;
  f5.certifiedKey = linkCert->sha256();
  f5.expirationHours = crypto::certExpirationHours(static_cast<uint64_t>(linkWindow.notAfterUnix));
  f5.includeSigningKey = false;
  std::array<uint8_t, crypto::kEd25519CertMaxEncodedLen> buf5{};
  auto c5 = crypto::encodeEd25519Cert(f5, signingKey, buf5);
  // Type 7: the RSA identity certifies the ed25519 master identity.
  std::array<uint8_t, crypto::kRsaCrosscertMaxEncodedLen> buf7{};
  auto c7 = crypto::encodeRsaCrosscert(
      masterKey, crypto::certExpirationHours(static_cast<uint64_t>(idWindow.notAfterUnix)),
      rsaIdentity, buf7);
  if (!c5 || !c7) {
    error = "cannot sign the link certificates";
    return std::nullopt;
  }
  return LinkCredentials{std::move(*linkKey),
                         std::move(*linkCert),
                         std::move(*idCert),
                         std::vector<uint8_t>(edSigningCert.begin(), edSigningCert.end()),
                         std::vector<uint8_t>(c5->begin(), c5->end()),
                         std::vector<uint8_t>(c7->begin(), c7->end())};
}

std::vector<std::pair<uint8_t, std::vector<uint8_t>>> LinkCredentials::responderCerts() const {
  return {{1, linkCert.der()},
          {2, identityCert.der()},
          {4, edSigningCert},
          {5, edLinkCert},
          {7, rsaEdCrosscert}};
}

std::optional<InitiatorCredentials> InitiatorCredentials::create(
    const LinkCredentials& link, const crypto::RsaPrivateKey& rsaIdentity,
    const crypto::Ed25519Signer& signingKey, int64_t nowUnix, Bytes entropy, std::string& error) {
  if (entropy.size() < 64) {
    error = "not enough entropy for initiator credentials";
    return std::nullopt;
  }
  crypto::Ed25519Seed seed{};
  std::memcpy(seed.data(), entropy.data(), seed.size());
  auto authKey = crypto::Ed25519Keypair::fromSeed(seed);
  auto rsaAuth = crypto::RsaPrivateKey::generate(1024);
  if (!authKey || !rsaAuth) {
    error = "cannot generate the authentication keys";
    return std::nullopt;
  }
  constexpr int64_t kLifetime = 2LL * 24 * 3600;  // C tor's TestingAuthKeyLifetime default
  std::string name = crypto::randomHostname(entropy.subspan(32, crypto::kHostnameEntropyLen));
  std::string issuer = link.identityCert.subjectCommonName();
  auto authPub = rsaAuth->publicKey();
  uint64_t r = 0;
  std::memcpy(&r, entropy.data() + 46, sizeof r);
  crypto::X509Request req;
  req.subjectKey = &authPub;
  req.issuerKey = &rsaIdentity;
  req.subjectCommonName = name;
  req.issuerCommonName = issuer;
  std::memcpy(req.serial.data(), entropy.data() + 54, 8);
  auto window = crypto::x509ValidityWindow(nowUnix, kLifetime, r);
  req.notBeforeUnix = window.notBeforeUnix;
  req.notAfterUnix = window.notAfterUnix;
  auto authCert = crypto::makeX509Cert(req);

  crypto::Ed25519CertFields f6;
  f6.certType = CertType::kSigningAuth;
  f6.certifiedKey = authKey->publicKey();
  f6.expirationHours = crypto::certExpirationHours(static_cast<uint64_t>(nowUnix + kLifetime));
  f6.includeSigningKey = true;
  std::array<uint8_t, crypto::kEd25519CertMaxEncodedLen> buf6{};
  auto c6 = crypto::encodeEd25519Cert(f6, signingKey, buf6);
  if (!authCert || !c6) {
    error = "cannot sign the authentication certificates";
    return std::nullopt;
  }
  return InitiatorCredentials{std::move(*authCert), std::move(*authKey),
                              std::vector<uint8_t>(c6->begin(), c6->end())};
}

std::vector<std::pair<uint8_t, std::vector<uint8_t>>> InitiatorCredentials::initiatorCerts(
    const LinkCredentials& link) const {
  return {{3, authCert.der()},
          {2, link.identityCert.der()},
          {4, link.edSigningCert},
          {6, edAuthCert},
          {7, link.rsaEdCrosscert}};
}

}  // namespace onionsplit::channeld
