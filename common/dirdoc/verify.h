// common/dirdoc/verify.h: whether a parsed consensus may be used, as dir-spec and C tor decide.
//
// Signatures (C tor networkstatus_check_consensus_signature): only signatures whose identity is
// the v3ident of a configured DirAuthority count; each needs a certificate from that authority
// whose signing key has the signature's signing-key digest, which checkAuthorityCert() accepts at
// `now`; the signature must open (PKCS#1 v1.5, no DigestInfo) to the digest of the signed portion
// for its algorithm. An authority counts once however many good signatures it made. The consensus
// is signed enough when more than half of the configured authorities (n/2 + 1) count.
//
// Time (C tor networkstatus.c): a consensus is live from valid-after to valid-until; C tor
// accepts one up to EARLY_CONSENSUS_NOTICE_SKEW (60 s) before valid-after, blaming its own clock,
// and for some uses keeps one REASONABLY_LIVE_TIME (24 h) past valid-until. fresh-until only says
// when to fetch the next one.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/dirdoc/consensus.h"
#include "common/dirdoc/key_cert.h"

namespace onionsplit::dirdoc {

using V3Ident = Sha1Digest;

inline constexpr int64_t kEarlyConsensusSkewSeconds = 60;        // EARLY_CONSENSUS_NOTICE_SKEW
inline constexpr int64_t kReasonablyLiveSeconds = 24 * 60 * 60;  // REASONABLY_LIVE_TIME

struct TimeTolerance {
  int64_t beforeValidAfterSeconds = kEarlyConsensusSkewSeconds;
  int64_t afterValidUntilSeconds = 0;  // kReasonablyLiveSeconds for C tor's "reasonably live"
};

// What the signature check saw, for the log line (C tor says the same things).
struct SignatureTally {
  uint32_t required = 0;      // configured authorities / 2 + 1
  uint32_t good = 0;          // configured authorities with at least one good signature
  uint32_t bad = 0;           // ... with signatures, none good, at least one bad
  uint32_t missingKey = 0;    // ... whose signatures had no usable certificate
  uint32_t unrecognized = 0;  // signatures from authorities not configured
};

// kNoAuthorities, kBadSignature (fewer than required good and at least one bad), or
// kTooFewSignatures; the tally either way (in DirError::detail on failure).
DirResult<SignatureTally> checkConsensusSignatures(const Consensus& c,
                                                   std::span<const AuthorityCert> certs,
                                                   std::span<const V3Ident> authorities,
                                                   int64_t nowUnix);

// kNotYetValid or kExpired under `tol`.
Expected<void, DirError> checkConsensusTime(const Consensus& c, int64_t nowUnix,
                                            TimeTolerance tol = {});

// Both checks, signatures first: what a relay runs on a consensus it fetched or loaded.
DirResult<SignatureTally> verifyConsensus(const Consensus& c, std::span<const AuthorityCert> certs,
                                          std::span<const V3Ident> authorities, int64_t nowUnix,
                                          TimeTolerance tol = {});

// True while `now` is before fresh-until: no newer consensus is due yet.
inline bool isFresh(const Consensus& c, int64_t nowUnix) {
  return nowUnix < c.freshUntilUnix;
}

}  // namespace onionsplit::dirdoc
