// common/dirdoc/consensus.h: the unflavored ("ns") network-status consensus (dir-spec §3.4.1), as
// a relay fetches it and caches it in DataDirectory/cached-consensus.
//
// parseConsensus() reads the parts a relay acts on: the times, the known flags, the recommended
// and required protocols, the network parameters, every router entry (identity, address, ports,
// flags, version, protocols, bandwidth) and the signatures with the digests they sign. It checks
// form only; verify.h decides whether the consensus is signed enough and current. The text comes
// from the network: sizes are bounded, every error names its line.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/dirdoc/digest.h"
#include "common/dirdoc/dir_text.h"
#include "common/exitpolicy/exit_policy.h"

namespace onionsplit::dirdoc {

inline constexpr size_t kMaxConsensusBytes = 32 * 1024 * 1024;  // the real one is ~3 MiB
inline constexpr size_t kMaxRouters = 50000;
inline constexpr size_t kMaxSignatures = 64;
inline constexpr size_t kMaxParams = 1024;
inline constexpr size_t kMaxProtocols = 64;
inline constexpr unsigned kMaxProtocolVersion = 63;  // as C tor's protover.c

// The flags a relay acts on, one bit each. Flags not listed here (but in known-flags) are kept
// only by name in Consensus::knownFlags.
enum class RelayFlag : uint16_t {
  kAuthority = 1 << 0,
  kBadExit = 1 << 1,
  kExit = 1 << 2,
  kFast = 1 << 3,
  kGuard = 1 << 4,
  kHSDir = 1 << 5,
  kMiddleOnly = 1 << 6,
  kNoEdConsensus = 1 << 7,
  kRunning = 1 << 8,
  kStable = 1 << 9,
  kStaleDesc = 1 << 10,
  kSybil = 1 << 11,
  kV2Dir = 1 << 12,
  kValid = 1 << 13,
};
std::optional<RelayFlag> relayFlagFromName(std::string_view name);
std::string_view relayFlagName(RelayFlag f);
// The names of the flags set in `flags`, space-separated, in the order of the spec's list.
std::string relayFlagNames(uint16_t flags);

// One subprotocol of a protocol list ("Relay=2-4"): bit v of `versions` = version v.
struct ProtoEntry {
  std::string name;
  uint64_t versions = 0;
  friend bool operator==(const ProtoEntry&, const ProtoEntry&) = default;
};
using ProtocolList = std::vector<ProtoEntry>;  // in the order written

// "Cons=1-2 Desc=1-4 Link=3-5" (dir-spec §3.4.1 "pr", tor-spec §9). nullopt when malformed.
std::optional<ProtocolList> parseProtocolList(const std::vector<std::string_view>& entries);
// True iff every version `required` names is in `have` (C tor protover_all_supported).
bool supportsAll(const ProtocolList& have, const ProtocolList& required);
// The entries of `required` that `have` lacks, as "Name=versions" text, for a log line.
std::string missingProtocols(const ProtocolList& have, const ProtocolList& required);

struct RouterEntry {
  std::string nickname;
  Sha1Digest identity{};  // RSA identity fingerprint
  Sha1Digest descriptorDigest{};
  int64_t publishedUnix = 0;
  exitpolicy::IpAddress ipv4;
  uint16_t orPort = 0;
  uint16_t dirPort = 0;
  std::optional<exitpolicy::IpAddress> ipv6;  // the first IPv6 "a" line
  uint16_t ipv6OrPort = 0;
  uint16_t flags = 0;   // RelayFlag bits
  std::string version;  // the "v" line, "" when absent
  ProtocolList protocols;
  std::optional<uint32_t> bandwidth;  // "w Bandwidth="
  uint32_t line = 0;

  bool has(RelayFlag f) const { return (flags & static_cast<uint16_t>(f)) != 0; }
};

enum class DigestAlg : uint8_t { kSha1, kSha256 };

struct DirectorySignature {
  DigestAlg alg = DigestAlg::kSha1;
  Sha1Digest identity{};          // the authority's v3ident
  Sha1Digest signingKeyDigest{};  // SHA-1 of its signing key's DER
  std::vector<uint8_t> signature;
  uint32_t line = 0;
};

struct NetParam {
  std::string name;
  int32_t value = 0;
  friend bool operator==(const NetParam&, const NetParam&) = default;
};

struct Consensus {
  uint32_t consensusMethod = 0;
  int64_t validAfterUnix = 0;
  int64_t freshUntilUnix = 0;
  int64_t validUntilUnix = 0;
  std::vector<std::string> knownFlags;
  ProtocolList recommendedRelayProtocols, requiredRelayProtocols;
  ProtocolList recommendedClientProtocols, requiredClientProtocols;
  std::vector<NetParam> params;                // "params", sorted and unique as dir-spec requires
  std::vector<Sha1Digest> voters;              // "dir-source" identities, in order
  std::vector<RouterEntry> routers;            // sorted by identity (checked)
  std::vector<DirectorySignature> signatures;  // of known algorithms only
  // Digests of the signed portion: from "network-status-version" through the space after the
  // first "directory-signature" (dir-spec §3.4.1).
  Sha1Digest signedSha1{};
  Sha256Digest signedSha256{};

  // The entry with this identity, or nullptr (binary search).
  const RouterEntry* findRouter(const Sha1Digest& identity) const;
};

// C tor's shortest voting intervals (dirvote.h MIN_VOTE_INTERVAL, MIN_VOTE_INTERVAL_TESTING): a
// consensus must be fresh for at least one and valid for at least two of them; "voting-delay"
// must give at least 2 s for votes and for signatures (MIN_VOTE_SECONDS, MIN_DIST_SECONDS).
inline constexpr int64_t kMinVoteIntervalSeconds = 300;
inline constexpr int64_t kMinVoteIntervalTestingSeconds = 10;
inline constexpr int64_t kMinVoteDistSeconds = 2;

struct ConsensusParseOptions {
  bool testingTorNetwork = false;  // the torrc's TestingTorNetwork: the shorter interval applies
};

DirResult<Consensus> parseConsensus(std::string_view text, ConsensusParseOptions opts = {});

}  // namespace onionsplit::dirdoc
