// common/dirdoc/verify.cc: the consensus' signature count and time checks.
#include "common/dirdoc/verify.h"

#include <algorithm>
#include <string>

namespace onionsplit::dirdoc {
namespace {

enum class SigOutcome : uint8_t { kNone, kMissingKey, kBad, kGood };

// The certificate that vouches for `sig`, if one is usable at `now`.
const AuthorityCert* certFor(const DirectorySignature& sig, std::span<const AuthorityCert> certs,
                             int64_t nowUnix) {
  for (const AuthorityCert& c : certs) {
    if (c.fingerprint != sig.identity || c.signingKeyDigest != sig.signingKeyDigest) continue;
    if (checkAuthorityCert(c, nowUnix)) return &c;
  }
  return nullptr;
}

SigOutcome checkOne(const Consensus& c, const DirectorySignature& sig,
                    std::span<const AuthorityCert> certs, int64_t nowUnix) {
  const AuthorityCert* cert = certFor(sig, certs, nowUnix);
  if (cert == nullptr) return SigOutcome::kMissingKey;
  Bytes digest = sig.alg == DigestAlg::kSha1 ? Bytes(c.signedSha1) : Bytes(c.signedSha256);
  return cert->signingKey.verifyTorSignature(digest, sig.signature) ? SigOutcome::kGood
                                                                    : SigOutcome::kBad;
}

std::string describe(const SignatureTally& t) {
  return "needs " + std::to_string(t.required) +
         " good signatures from configured authorities, has " + std::to_string(t.good) + " (" +
         std::to_string(t.bad) + " bad, " + std::to_string(t.missingKey) +
         " without a usable certificate, " + std::to_string(t.unrecognized) +
         " from unknown authorities)";
}

}  // namespace

DirResult<SignatureTally> checkConsensusSignatures(const Consensus& c,
                                                   std::span<const AuthorityCert> certs,
                                                   std::span<const V3Ident> authorities,
                                                   int64_t nowUnix) {
  // Distinct configured identities: a DirAuthority listed twice still counts once.
  std::vector<V3Ident> configured(authorities.begin(), authorities.end());
  std::sort(configured.begin(), configured.end());
  configured.erase(std::unique(configured.begin(), configured.end()), configured.end());
  if (configured.empty()) return fail(DirError{DirErrc::kNoAuthorities, 0, ""});
  SignatureTally t;
  t.required = static_cast<uint32_t>(configured.size() / 2 + 1);
  std::vector<SigOutcome> best(configured.size(), SigOutcome::kNone);
  for (const DirectorySignature& sig : c.signatures) {
    auto pos = std::lower_bound(configured.begin(), configured.end(), sig.identity);
    if (pos == configured.end() || *pos != sig.identity) {
      ++t.unrecognized;
      continue;
    }
    SigOutcome& b = best[static_cast<size_t>(pos - configured.begin())];
    if (b == SigOutcome::kGood) continue;  // one good signature per authority is enough
    b = std::max(b, checkOne(c, sig, certs, nowUnix));
  }
  for (SigOutcome o : best) {
    if (o == SigOutcome::kGood) ++t.good;
    if (o == SigOutcome::kBad) ++t.bad;
    if (o == SigOutcome::kMissingKey) ++t.missingKey;
  }
  if (t.good >= t.required) return t;
  DirErrc code = t.bad > 0 ? DirErrc::kBadSignature : DirErrc::kTooFewSignatures;
  return fail(DirError{code, 0, describe(t)});
}

Expected<void, DirError> checkConsensusTime(const Consensus& c, int64_t nowUnix,
                                            TimeTolerance tol) {
  if (nowUnix < c.validAfterUnix - tol.beforeValidAfterSeconds)
    return fail(DirError{
        DirErrc::kNotYetValid, 0,
        "valid-after is " + std::to_string(c.validAfterUnix - nowUnix) + " s ahead of our clock"});
  if (nowUnix > c.validUntilUnix + tol.afterValidUntilSeconds)
    return fail(
        DirError{DirErrc::kExpired, 0,
                 "valid-until passed " + std::to_string(nowUnix - c.validUntilUnix) + " s ago"});
  return {};
}

DirResult<SignatureTally> verifyConsensus(const Consensus& c, std::span<const AuthorityCert> certs,
                                          std::span<const V3Ident> authorities, int64_t nowUnix,
                                          TimeTolerance tol) {
  auto tally = checkConsensusSignatures(c, certs, authorities, nowUnix);
  if (!tally) return tally;
  if (auto t = checkConsensusTime(c, nowUnix, tol); !t) return fail(t.error());
  return tally;
}

}  // namespace onionsplit::dirdoc
