// channeld/net/consensus_cache.h: the last good consensus and the authorities' key certificates,
// kept in DataDirectory under C tor's file names (cached-consensus, cached-certs), so that a
// channeld that starts again (alone, or with the relay) follows the network at once instead of
// running on defaults until its first fetch.
//
// The files are opened (created 0600 when missing) when the cache is made, before the daemon
// enters its sandbox, and written through those descriptors afterwards: the sandbox never lets a
// daemon open a file for writing (common/sandbox/policy.h), and needs only ftruncate and pwrite.
// A write is not atomic (no rename: that would need the directory); what is read back is parsed
// and verified like a fetched document, so a torn or foreign file costs a fetch, nothing more.
//
// Under systemd, DataDirectory is read-only to channeld except for these two files, which
// onionsplit-keys creates and gives to channeld's user; where they cannot be opened, the cache is
// off (one log line) and channeld fetches as before.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace onionsplit::channeld {

// The texts of a cached pair, as they were stored.
struct CachedDocuments {
  std::string certs;
  std::string consensus;
};

class ConsensusCache {
 public:
  // Files longer than these are not read (a consensus of today's network is about 3 MiB).
  static constexpr size_t kMaxConsensusBytes = 16 * 1024 * 1024;

  explicit ConsensusCache(const std::string& dataDirectory);
  ~ConsensusCache();
  ConsensusCache(const ConsensusCache&) = delete;
  ConsensusCache& operator=(const ConsensusCache&) = delete;

  bool usable() const { return certsFd_ >= 0 && consensusFd_ >= 0; }
  // Both texts, when both files hold something within their bounds.
  std::optional<CachedDocuments> load() const;
  // Replaces both files' contents (the certificates first). False (and logged) on an error.
  bool store(std::string_view certs, std::string_view consensus);

 private:
  int certsFd_ = -1;
  int consensusFd_ = -1;
};

}  // namespace onionsplit::channeld
