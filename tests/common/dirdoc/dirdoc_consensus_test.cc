// Tests for common/dirdoc/consensus and verify: a real consensus of the private network
// (tests/data/dirdoc/) parses, verifies with the real certificates and configured authorities,
// and is refused when damaged, under-signed, expired or not yet valid.
#include "common/dirdoc/consensus.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/base/hex.h"
#include "common/dirdoc/verify.h"
#include "tests/common/dirdoc/dirdoc_data.h"

namespace onionsplit::dirdoc {
namespace {

Consensus parsed(const std::string& text) {
  auto c = parseConsensus(text, kTestnet);
  EXPECT_TRUE(c) << c.error().toString();
  return c ? std::move(*c) : Consensus{};
}

std::vector<AuthorityCert> realCerts() {
  auto certs = parseAuthorityCerts(testdata::certsText());
  EXPECT_TRUE(certs);
  return certs ? std::move(*certs) : std::vector<AuthorityCert>{};
}

// The saved document at a moment inside its lifetime.
int64_t liveNow(const Consensus& c) {
  return c.validAfterUnix + 1;
}

DirErrc verifyError(const std::string& text, int64_t now = 0) {
  auto c = parseConsensus(text, kTestnet);
  if (!c) return c.error().code;
  auto certs = realCerts();
  auto auths = testdata::authorities();
  auto r = verifyConsensus(*c, certs, auths, now != 0 ? now : liveNow(*c));
  EXPECT_FALSE(r) << "verified";
  return r ? DirErrc::kMalformed : r.error().code;
}

TEST(Consensus, RealDocumentParses) {
  std::string text = testdata::consensusText();
  Consensus c = parsed(text);
  EXPECT_LT(c.validAfterUnix, c.freshUntilUnix);
  EXPECT_LT(c.freshUntilUnix, c.validUntilUnix);
  EXPECT_GE(c.consensusMethod, 32u);
  EXPECT_NE(std::find(c.knownFlags.begin(), c.knownFlags.end(), "Running"), c.knownFlags.end());
  EXPECT_EQ(c.voters.size(), 3u);
  ASSERT_EQ(c.routers.size(), 5u);  // 3 authorities and 2 middles
  ASSERT_EQ(c.signatures.size(), 3u);
  for (const DirectorySignature& s : c.signatures)
    EXPECT_EQ(s.alg, DigestAlg::kSha1);
  // The authorities' entries carry their DirAuthority line's fingerprint and ORPort.
  std::string lines = testdata::readData("dirauthority-lines");
  int authorities = 0;
  for (const RouterEntry& r : c.routers) {
    EXPECT_EQ(r.ipv4.toString(), "127.0.0.1");
    EXPECT_TRUE(r.has(RelayFlag::kRunning) && r.has(RelayFlag::kValid)) << r.nickname;
    EXPECT_FALSE(r.has(RelayFlag::kExit));
    EXPECT_TRUE(r.version.starts_with("Tor 0.4.9"));
    EXPECT_FALSE(r.protocols.empty());
    EXPECT_EQ(c.findRouter(r.identity), &r);
    std::string fp = toHex(r.identity, true);
    size_t at = lines.find(fp);
    if (r.has(RelayFlag::kAuthority)) {
      ++authorities;
      ASSERT_NE(at, std::string::npos) << r.nickname;
      size_t lineStart = lines.rfind('\n', at);
      lineStart = lineStart == std::string::npos ? 0 : lineStart;
      EXPECT_NE(lines.find("orport=" + std::to_string(r.orPort), lineStart), std::string::npos);
    }
  }
  EXPECT_EQ(authorities, 3);
  Sha1Digest absent{};
  EXPECT_EQ(c.findRouter(absent), nullptr);
}

TEST(Consensus, ProtocolLines) {
  Consensus c = parsed(testdata::consensusText());
  ASSERT_FALSE(c.requiredRelayProtocols.empty());
  ASSERT_FALSE(c.recommendedRelayProtocols.empty());
  ASSERT_FALSE(c.requiredClientProtocols.empty());
  ASSERT_FALSE(c.recommendedClientProtocols.empty());
  // Every relay of the network runs C tor 0.4.9, which has what the network requires.
  for (const RouterEntry& r : c.routers) {
    EXPECT_TRUE(supportsAll(r.protocols, c.requiredRelayProtocols))
        << r.nickname << " lacks " << missingProtocols(r.protocols, c.requiredRelayProtocols);
  }
  auto ours = parseProtocolList({"Link=4-5", "Relay=2"});
  ASSERT_TRUE(ours);
  EXPECT_FALSE(supportsAll(*ours, c.requiredRelayProtocols));
  auto relay = parseProtocolList({"Relay=2-4", "Link=1,3-5"});
  ASSERT_TRUE(relay);
  auto need = parseProtocolList({"Relay=3-6", "Link=2-3", "Conflux=1"});
  ASSERT_TRUE(need);
  EXPECT_EQ(missingProtocols(*relay, *need), "Relay=5-6 Link=2 Conflux=1");
  for (auto bad : {"Link", "=1", "Link=1-", "Link=3-1", "Link=64", "Link=1,", "Li*k=1", "Link=-1"})
    EXPECT_FALSE(parseProtocolList({bad})) << bad;
  auto twice = parseProtocolList({"Link=1", "Link=3"});
  ASSERT_TRUE(twice);
  ASSERT_EQ(twice->size(), 1u);
  EXPECT_EQ((*twice)[0].versions, 0b1010u);
}

TEST(ConsensusVerify, RealConsensusVerifies) {
  Consensus c = parsed(testdata::consensusText());
  auto certs = realCerts();
  auto auths = testdata::authorities();
  ASSERT_EQ(auths.size(), 3u);
  auto r = verifyConsensus(c, certs, auths, liveNow(c));
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_EQ(r->good, 3u);
  EXPECT_EQ(r->required, 2u);
  EXPECT_EQ(r->bad + r->missingKey + r->unrecognized, 0u);
}

TEST(ConsensusVerify, ChangedByteInSignedPortionIsABadSignature) {
  std::string text = testdata::consensusText();
  size_t pos = text.find("\nparams ") + 10;  // inside the params line
  ASSERT_LT(pos, text.find("directory-signature"));
  EXPECT_EQ(verifyError(testdata::flipChar(text, pos)), DirErrc::kBadSignature);
  // A router's flags (C tor ignores a flag it does not know, so this parses).
  pos = text.find("\ns ") + 4;
  EXPECT_EQ(verifyError(testdata::flipChar(text, pos)), DirErrc::kBadSignature);
  // A router's bandwidth.
  pos = text.find("\nw Bandwidth=") + 13;
  EXPECT_EQ(verifyError(testdata::flipChar(text, pos)), DirErrc::kBadSignature);
}

TEST(ConsensusVerify, ChangedSignatureIsBad) {
  std::string text = testdata::consensusText();
  size_t sig = text.find("-----BEGIN SIGNATURE-----\n") + 30;
  Consensus c = parsed(testdata::flipChar(text, sig));
  auto certs = realCerts();
  auto auths = testdata::authorities();
  // Two good signatures of three are still a majority.
  auto r = verifyConsensus(c, certs, auths, liveNow(c));
  ASSERT_TRUE(r) << r.error().toString();
  EXPECT_EQ(r->good, 2u);
  EXPECT_EQ(r->bad, 1u);
}

TEST(ConsensusVerify, TooFewSignatures) {
  std::string text = testdata::consensusText();
  std::string two = testdata::withoutSignature(text, 2);
  Consensus c2 = parsed(two);
  ASSERT_EQ(c2.signatures.size(), 2u);
  auto certs = realCerts();
  auto auths = testdata::authorities();
  EXPECT_TRUE(verifyConsensus(c2, certs, auths, liveNow(c2)));  // 2 of 3 is more than half
  std::string one = testdata::withoutSignature(two, 0);
  Consensus c1 = parsed(one);
  ASSERT_EQ(c1.signatures.size(), 1u);
  auto r = verifyConsensus(c1, certs, auths, liveNow(c1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kTooFewSignatures);
  EXPECT_NE(r.error().detail.find("needs 2"), std::string::npos) << r.error().detail;
}

TEST(ConsensusVerify, OnlyConfiguredAuthoritiesCount) {
  Consensus c = parsed(testdata::consensusText());
  auto certs = realCerts();
  auto auths = testdata::authorities();
  // Two strangers configured beside one real authority: 1 of 3 configured signed.
  std::vector<V3Ident> mixed = {auths[0], V3Ident{1}, V3Ident{2}};
  auto r = verifyConsensus(c, certs, mixed, liveNow(c));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kTooFewSignatures);
  // The same authority twice in the torrc counts once.
  std::vector<V3Ident> dup = {auths[0], auths[0]};
  auto d = verifyConsensus(c, certs, dup, liveNow(c));
  ASSERT_TRUE(d) << d.error().toString();
  EXPECT_EQ(d->required, 1u);
  EXPECT_EQ(d->unrecognized, 2u);
  auto none = verifyConsensus(c, certs, {}, liveNow(c));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, DirErrc::kNoAuthorities);
}

TEST(ConsensusVerify, CertificatesAreNeeded) {
  Consensus c = parsed(testdata::consensusText());
  auto auths = testdata::authorities();
  auto r = verifyConsensus(c, {}, auths, liveNow(c));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kTooFewSignatures);
  // A certificate with a broken cross-certificate vouches for nothing.
  std::string certs = testdata::certsText();
  size_t cross = certs.find("-----BEGIN ID SIGNATURE-----\n") + 40;
  auto broken = parseAuthorityCerts(testdata::flipChar(certs, cross));
  ASSERT_TRUE(broken);
  auto b = verifyConsensus(c, *broken, auths, liveNow(c));
  ASSERT_TRUE(b) << b.error().toString();  // the other two authorities still sign
  EXPECT_EQ(b->good, 2u);
  EXPECT_EQ(b->missingKey, 1u);
  // An expired certificate counts for nothing either.
  auto certsVec = realCerts();
  int64_t afterExpiry = certsVec[0].expiresUnix + 1;
  auto e = checkConsensusSignatures(c, certsVec, auths, afterExpiry);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, DirErrc::kTooFewSignatures);
}

TEST(ConsensusVerify, TimeChecks) {
  Consensus c = parsed(testdata::consensusText());
  auto certs = realCerts();
  auto auths = testdata::authorities();
  EXPECT_TRUE(verifyConsensus(c, certs, auths, c.validUntilUnix));
  auto late = verifyConsensus(c, certs, auths, c.validUntilUnix + 1);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, DirErrc::kExpired);
  // C tor's "reasonably live" tolerance, when the caller asks for it.
  TimeTolerance lenient{.afterValidUntilSeconds = kReasonablyLiveSeconds};
  EXPECT_TRUE(verifyConsensus(c, certs, auths, c.validUntilUnix + 3600, lenient));
  // Up to 60 s early is our clock's fault (EARLY_CONSENSUS_NOTICE_SKEW); more is refused.
  EXPECT_TRUE(checkConsensusTime(c, c.validAfterUnix - kEarlyConsensusSkewSeconds));
  auto early = verifyConsensus(c, certs, auths, c.validAfterUnix - kEarlyConsensusSkewSeconds - 1);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, DirErrc::kNotYetValid);
  EXPECT_TRUE(isFresh(c, c.validAfterUnix));
  EXPECT_FALSE(isFresh(c, c.freshUntilUnix));
}

TEST(Consensus, MalformedDocumentsNameTheirLine) {
  std::string text = testdata::consensusText();
  auto lineOf = [&](size_t pos) {
    return static_cast<uint32_t>(std::count(text.begin(), text.begin() + pos, '\n') + 1);
  };
  // An r line with a bad ORPort.
  size_t r = text.find("\nr ") + 1;
  size_t eol = text.find('\n', r);
  std::string badR = text.substr(0, eol) + "99999" + text.substr(eol);
  auto e = parseConsensus(badR, kTestnet);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, DirErrc::kMalformed);
  EXPECT_EQ(e.error().line, lineOf(r));
  // Unsorted params.
  size_t p = text.find("\nparams ") + 8;
  std::string unsorted = text.substr(0, p) + "zzz=1 " + text.substr(p);
  e = parseConsensus(unsorted, kTestnet);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().line, lineOf(p));
  // A microdesc-flavored or vote document is not an ns consensus.
  std::string md = text;
  md.replace(0, std::string_view("network-status-version 3").size(),
             "network-status-version 3 microdesc");
  EXPECT_FALSE(parseConsensus(md, kTestnet));
  std::string vote = text;
  vote.replace(vote.find("vote-status consensus"), 21, "vote-status vote     ");
  EXPECT_FALSE(parseConsensus(vote, kTestnet));
  // Nothing but signatures after the first signature.
  EXPECT_FALSE(parseConsensus(text + "params a=1\n", kTestnet));
  // No signature at all.
  EXPECT_FALSE(parseConsensus(text.substr(0, text.find("directory-signature")), kTestnet));
}

TEST(Consensus, CtorIntervalRules) {
  std::string text = testdata::consensusText();
  // Outside a TestingTorNetwork, 10-second intervals are too short (MIN_VOTE_INTERVAL 300 s).
  auto real = parseConsensus(text);
  ASSERT_FALSE(real);
  EXPECT_EQ(real.error().code, DirErrc::kMalformed);
  // known-flags out of order.
  size_t kf = text.find("known-flags Authority Exit");
  ASSERT_NE(kf, std::string::npos);
  std::string swapped = text;
  swapped.replace(kf, 26, "known-flags Exit Authority");
  EXPECT_FALSE(parseConsensus(swapped, kTestnet));
  // voting-delay below 2 s.
  size_t vd = text.find("voting-delay ");
  size_t vdEnd = text.find('\n', vd);
  EXPECT_FALSE(
      parseConsensus(text.substr(0, vd) + "voting-delay 1 2" + text.substr(vdEnd), kTestnet));
  // C tor orders params by the whole "name=value" text: "a-b=1" sorts before "a=2".
  size_t p = text.find('\n', text.find("\nparams ") + 1);  // the end of the params line
  EXPECT_TRUE(parseConsensus(text.substr(0, p) + " zz-b=1 zz=2" + text.substr(p), kTestnet));
  EXPECT_FALSE(parseConsensus(text.substr(0, p) + " zz=1 zz=2" + text.substr(p), kTestnet));
}

TEST(Consensus, EveryTruncationFailsCleanly) {
  std::string text = testdata::consensusText();
  size_t lastSig = text.rfind("directory-signature");
  for (size_t n = 0; n < text.size(); n += (n < lastSig ? 7 : 1)) {
    auto r = parseConsensus(std::string_view(text).substr(0, n), kTestnet);
    // A cut right after a complete signature item is itself a consensus with fewer signatures.
    if (r) {
      EXPECT_LT(r->signatures.size(), 3u);
    }
  }
}

TEST(Consensus, SizeBound) {
  std::string big(kMaxConsensusBytes + 1, '\n');
  auto r = parseConsensus(big, kTestnet);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kTooLarge);
}

}  // namespace
}  // namespace onionsplit::dirdoc
