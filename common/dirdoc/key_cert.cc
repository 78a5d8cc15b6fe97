// common/dirdoc/key_cert.cc: parsing and checking authority key certificates (dir-spec §3.1).
#include "common/dirdoc/key_cert.h"

#include <utility>

namespace onionsplit::dirdoc {
namespace {

constexpr std::string_view kFirstKeyword = "dir-key-certificate-version";
constexpr std::string_view kLastKeyword = "dir-key-certification";

// What the items of one certificate gave, before the keys are known to parse.
struct CertFields {
  std::optional<Sha1Digest> fingerprint;
  std::optional<int64_t> published, expires;
  std::optional<crypto::RsaPublicKey> identityKey, signingKey;
  std::optional<std::vector<uint8_t>> crossCert, certification;
};

DirError dupOrMissing(uint32_t line, std::string_view what, bool duplicate) {
  return malformedAt(line, std::string(what) + (duplicate ? " appears twice" : " is missing"));
}

Expected<void, DirError> takeKey(const Item& it, std::optional<crypto::RsaPublicKey>& slot) {
  if (slot) return fail(dupOrMissing(it.line, it.keyword, true));
  if (!it.args.empty() || it.objectTag != "RSA PUBLIC KEY")
    return fail(malformedAt(it.line, std::string(it.keyword) + " needs an RSA PUBLIC KEY object"));
  auto key = crypto::RsaPublicKey::fromDer(it.object);
  if (!key) return fail(malformedAt(it.line, std::string(it.keyword) + " is not an RSA key"));
  if (key->bits() < kMinAuthorityKeyBits || key->bits() > kMaxAuthorityKeyBits)
    return fail(
        DirError{DirErrc::kBadCertificate, it.line,
                 std::string(it.keyword) + " has " + std::to_string(key->bits()) + " bits"});
  slot = std::move(*key);
  return {};
}

Expected<void, DirError> takeTime(const Item& it, std::optional<int64_t>& slot) {
  if (slot) return fail(dupOrMissing(it.line, it.keyword, true));
  std::optional<int64_t> t;
  if (it.args.size() == 2) t = parseIsoTime(it.args[0], it.args[1]);
  if (!t) return fail(malformedAt(it.line, std::string(it.keyword) + " is not a time"));
  slot = *t;
  return {};
}

// C tor checks the object's tag on the certification only (the cross-cert is read with
// CST_NO_CHECK_OBJTYPE: old authorities wrote "ID SIGNATURE", dir-spec allows "SIGNATURE").
Expected<void, DirError> takeSignature(const Item& it, std::optional<std::vector<uint8_t>>& slot,
                                       bool anyTag) {
  if (slot) return fail(dupOrMissing(it.line, it.keyword, true));
  bool tagOk = it.objectTag == "SIGNATURE" || (anyTag && !it.objectTag.empty());
  if (!it.args.empty() || !tagOk || it.object.empty())
    return fail(malformedAt(it.line, std::string(it.keyword) + " needs a SIGNATURE object"));
  slot = it.object;
  return {};
}

// One item of a certificate's body into `f`. Unknown keywords are ignored (dir-spec §1.2).
Expected<void, DirError> takeItem(const Item& it, CertFields& f) {
  const std::string_view k = it.keyword;
  if (k == "fingerprint") {
    if (f.fingerprint) return fail(dupOrMissing(it.line, k, true));
    auto fp = it.args.size() == 1 ? parseHexDigest(it.args[0]) : std::nullopt;
    if (!fp) return fail(malformedAt(it.line, "fingerprint is not 40 hex digits"));
    f.fingerprint = *fp;
    return {};
  }
  if (k == "dir-key-published") return takeTime(it, f.published);
  if (k == "dir-key-expires") return takeTime(it, f.expires);
  if (k == "dir-identity-key") return takeKey(it, f.identityKey);
  if (k == "dir-signing-key") return takeKey(it, f.signingKey);
  if (k == "dir-key-crosscert") return takeSignature(it, f.crossCert, true);
  if (k == kFirstKeyword) return fail(malformedAt(it.line, "certificate ended early"));
  return {};
}

// Reads one certificate from `r`, which stands at its first item.
DirResult<std::optional<AuthorityCert>> readCert(ItemReader& r, std::string_view text) {
  auto first = r.next();
  if (!first) return fail(first.error());
  if (!*first) return std::optional<AuthorityCert>{};
  const Item& head = **first;
  if (head.keyword != kFirstKeyword || head.args.size() != 1 || head.args[0] != "3")
    return fail(malformedAt(head.line, "a certificate starts with dir-key-certificate-version 3"));
  CertFields f;
  for (;;) {
    auto next = r.next();
    if (!next) return fail(next.error());
    if (!*next) return fail(malformedAt(r.line(), "certificate without dir-key-certification"));
    const Item& it = **next;
    if (it.end - head.begin > kMaxCertBytes)
      return fail(DirError{DirErrc::kTooLarge, it.line, "certificate too large"});
    if (it.keyword == kLastKeyword) {
      auto s = takeSignature(it, f.certification, false);
      if (!s) return fail(s.error());
      if (!f.fingerprint || !f.published || !f.expires || !f.identityKey || !f.signingKey ||
          !f.crossCert)
        return fail(malformedAt(head.line, "certificate lacks a required item"));
      AuthorityCert c{
          .fingerprint = *f.fingerprint,
          .publishedUnix = *f.published,
          .expiresUnix = *f.expires,
          .identityKey = std::move(*f.identityKey),
          .signingKey = std::move(*f.signingKey),
          .signingKeyDigest = {},
          .crossCert = std::move(*f.crossCert),
          .certification = std::move(*f.certification),
          .signedDigest = sha1Of(text.substr(head.begin, it.keywordLineEnd - head.begin)),
          .line = head.line,
      };
      c.signingKeyDigest = c.signingKey.fingerprint();
      return std::optional<AuthorityCert>(std::move(c));
    }
    auto t = takeItem(it, f);
    if (!t) return fail(t.error());
  }
}

}  // namespace

DirResult<AuthorityCert> parseAuthorityCert(std::string_view text) {
  if (text.size() > kMaxCertBytes)
    return fail(DirError{DirErrc::kTooLarge, 0, "certificate too large"});
  ItemReader r(text);
  auto c = readCert(r, text);
  if (!c) return fail(c.error());
  if (!*c) return fail(malformedAt(1, "empty certificate"));
  if (r.offset() != text.size())
    return fail(malformedAt(r.line() + 1, "text after the certificate"));
  return std::move(**c);
}

DirResult<std::vector<AuthorityCert>> parseAuthorityCerts(std::string_view text) {
  if (text.size() > kMaxCertsBytes)
    return fail(DirError{DirErrc::kTooLarge, 0, "certificates too large"});
  ItemReader r(text);
  std::vector<AuthorityCert> out;
  for (;;) {
    r.skipBlankLines();
    auto c = readCert(r, text);
    if (!c) return fail(c.error());
    if (!*c) return out;
    if (out.size() >= kMaxCerts)
      return fail(DirError{DirErrc::kTooLarge, (*c)->line, "too many certificates"});
    out.push_back(std::move(**c));
  }
}

Expected<void, DirError> checkAuthorityCert(const AuthorityCert& cert, int64_t nowUnix) {
  const Sha1Digest idDigest = cert.identityKey.fingerprint();
  if (idDigest != cert.fingerprint)
    return fail(
        DirError{DirErrc::kBadCertificate, cert.line, "fingerprint is not the identity key's"});
  if (!cert.signingKey.verifyTorSignature(idDigest, cert.crossCert))
    return fail(DirError{DirErrc::kBadCertificate, cert.line, "dir-key-crosscert does not verify"});
  if (!cert.identityKey.verifyTorSignature(cert.signedDigest, cert.certification))
    return fail(
        DirError{DirErrc::kBadCertificate, cert.line, "dir-key-certification does not verify"});
  if (nowUnix > cert.expiresUnix)
    return fail(DirError{DirErrc::kExpired, cert.line, "key certificate expired"});
  if (cert.publishedUnix > nowUnix + kCertPublishedSkewSeconds)
    return fail(
        DirError{DirErrc::kNotYetValid, cert.line, "key certificate published in the future"});
  return {};
}

}  // namespace onionsplit::dirdoc
