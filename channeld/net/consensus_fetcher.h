// channeld/net/consensus_fetcher.h: follows the consensus as a relay does (dir-spec §5.1): fetches
// the authorities' key certificates and the unflavored consensus over DirPort from the configured
// DirAuthorities, verifies it (common/dirdoc: signatures of more than half of the authorities with
// valid, cross-certified keys; valid-after/valid-until), and hands each new good one on. A bad,
// stale or under-signed consensus is refused with a log line and the last good one stays in force.
//
// Schedule: at start, then at a random time between fresh-until and halfway to valid-until (what
// dir-spec asks of caches, so the relay never runs on a stale consensus); after a failure, again
// in 60 s doubling to 10 minutes, trying the next authority each time.
//
// The last good pair is kept in DataDirectory (ConsensusCache): at start the cached consensus is
// verified like a fetched one, at the time of the start, and when it is still valid it is in force
// at once and the next fetch follows the schedule; otherwise a fetch starts at once.
//
// Where it sits: channeld, which already speaks HTTP to the authorities to publish the descriptor
// and is the only daemon with both the network and a reason to talk to directories (circuitd has
// no network; streamd talks only to the Internet's exit destinations).
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "channeld/net/consensus_cache.h"
#include "channeld/net/dir_client.h"
#include "common/config/config.h"
#include "common/dirdoc/consensus.h"
#include "common/dirdoc/key_cert.h"
#include "proto/channel_circuit.capnp.h"

namespace onionsplit::channeld {

struct ConsensusCounters {
  uint64_t fetched = 0;   // consensus documents received
  uint64_t accepted = 0;  // ... that verified and were newer than the one in force
  uint64_t refused = 0;   // ... that did not parse or verify (bad, stale, under-signed)
  uint64_t failures = 0;  // fetches that got no usable answer
  uint64_t cached = 0;    // consensuses put in force from the cache at start
};

class ConsensusFetcher {
 public:
  using OnConsensus = std::function<void(const dirdoc::Consensus&)>;
  using Clock = std::function<int64_t()>;  // seconds since the epoch
  // `cfg`, `base` and `cache` (if any) outlive the fetcher.
  ConsensusFetcher(event_base* base, const config::Config& cfg, OnConsensus onConsensus,
                   ConsensusCache* cache = nullptr, Clock now = {});
  ~ConsensusFetcher();
  ConsensusFetcher(const ConsensusFetcher&) = delete;
  ConsensusFetcher& operator=(const ConsensusFetcher&) = delete;

  void start();
  const std::optional<dirdoc::Consensus>& current() const { return current_; }
  const ConsensusCounters& counters() const { return counters_; }

  // The schedule (pure, for tests): seconds from `now` until the next fetch of a relay holding
  // `c`, given a draw `r` in [0, 1000).
  static int64_t secondsUntilNextFetch(const dirdoc::Consensus& c, int64_t nowUnix, uint64_t r);

 private:
  static void onTimer(evutil_socket_t, short, void* self);
  void fetch();
  void gotCerts(const HttpResult& res);
  void gotConsensus(const HttpResult& res);
  void fail(const std::string& why);
  // Parses and verifies `text` against certs_; puts it in force when it is newer. False: refused.
  bool adopt(const std::string& text, bool fromCache);
  bool loadCache();
  void schedule(int64_t seconds);
  void scheduleNext();  // on the schedule of the consensus in force
  DirEndpoint endpoint() const;

  const config::Config& cfg_;
  OnConsensus onConsensus_;
  DirClient dir_;
  event* timer_ = nullptr;
  size_t next_ = 0;  // the authority to ask next
  int64_t retry_ = 60;
  ConsensusCache* cache_;
  Clock now_;
  std::vector<dirdoc::AuthorityCert> certs_;
  std::string certsText_;  // what certs_ came from, for the cache
  std::optional<dirdoc::Consensus> current_;
  ConsensusCounters counters_;
};

// Sends `c`'s parameters to circuitd (channel_circuit.capnp's setNetParams): the first 256 whose
// names the contract allows (at most 64 bytes of [A-Za-z0-9_]); a failed call is logged, and the
// next attach sends them again.
void sendNetParams(proto::CircuitEntry::Client& entry, const dirdoc::Consensus& c);

// Sends the RSA identities of `c`'s relays to circuitd (setKnownRelays), the first 40,000 (the
// contract's bound; today's network lists about 9,000), for its refuseunknownexits rule.
void sendKnownRelays(proto::CircuitEntry::Client& entry, const dirdoc::Consensus& c);

// Both: what circuitd gets after every attach and with every newer consensus.
inline void sendConsensus(proto::CircuitEntry::Client& entry, const dirdoc::Consensus& c) {
  sendNetParams(entry, c);
  sendKnownRelays(entry, c);
}

}  // namespace onionsplit::channeld
