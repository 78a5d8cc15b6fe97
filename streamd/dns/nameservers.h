// streamd/dns/nameservers.h: which configured nameserver a DNS query goes to, each one's timeouts,
// and the query latency histogram (pure; the time is passed in).
//
// Where it sits: streamd's resolver (streamd/net/resolver.h) runs one evdns_base per nameserver of
// resolv.conf, because libevent 2.1's evdns keeps no count per nameserver: with all of them in one
// base a timed-out attempt is retransmitted to another nameserver inside evdns and the caller only
// learns that the query as a whole timed out, not where. (evdns's log callback names a nameserver
// only when it marks it down or up, which counts failures, not timeouts.) So the resolver makes
// the attempts itself: NameserverRotation picks the nameserver of a query's first attempt and of
// its retry, and counts every attempt sent and every attempt that timed out, per nameserver: a
// correct count. It keeps C tor's settings (1 s per attempt, 2 attempts per query) and, like
// evdns, leaves a nameserver out of first attempts after 10 timeouts in a row, trying it with one
// query every 10 s until it answers again.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace onionsplit::streamd {

inline constexpr size_t kMaxNameservers = 8;          // more lines in resolv.conf are ignored
inline constexpr int kDnsAttempts = 2;                // C tor's exit_dns_num_attempts default
inline constexpr uint32_t kNameserverDownAfter = 10;  // timeouts in a row (evdns's max-timeouts)
inline constexpr uint64_t kNameserverRetryMs = 10'000;

class NameserverRotation {
 public:
  struct Counts {
    uint64_t attempts = 0;  // attempts sent to this nameserver (first tries and retries)
    uint64_t timeouts = 0;  // of those, the ones that had no answer within the timeout
  };

  explicit NameserverRotation(size_t nameservers) : servers_(nameservers) {}

  // The nameserver of a query's first attempt: in turn among those not down; a down one when its
  // retry time has come (then the next retry is 10 s later); in turn among all if all are down.
  // Needs at least one nameserver.
  size_t first(uint64_t nowMs);
  // The nameserver of the retry after an attempt at `previous` timed out: the next one in turn
  // (the same one if there is only one).
  size_t retry(size_t previous) const { return (previous + 1) % servers_.size(); }
  void sent(size_t i) { ++servers_[i].counts.attempts; }
  void answered(size_t i);  // any answer, error codes included: the nameserver is there
  void timedOut(size_t i, uint64_t nowMs);

  size_t size() const { return servers_.size(); }
  const Counts& counts(size_t i) const { return servers_[i].counts; }
  bool down(size_t i) const { return servers_[i].timeoutsInARow >= kNameserverDownAfter; }

 private:
  struct Server {
    Counts counts;
    uint32_t timeoutsInARow = 0;
    uint64_t retryAtMs = 0;
  };
  std::vector<Server> servers_;
  size_t next_ = 0;
};

// Seconds from a query's first attempt to its answer (or to giving up), as Prometheus buckets.
class LatencyHistogram {
 public:
  static constexpr std::array<uint64_t, 11> kBoundsUs = {5'000,     10'000,    25'000,    50'000,
                                                         100'000,   250'000,   500'000,   1'000'000,
                                                         2'500'000, 5'000'000, 10'000'000};
  // The same bounds as Prometheus' `le` label values (seconds).
  static constexpr std::array<std::string_view, 11> kBoundLabels = {
      "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10"};

  void observe(uint64_t micros);
  // Observations of at most kBoundsUs[i] (cumulative, as Prometheus' buckets).
  uint64_t atMost(size_t i) const;
  uint64_t count() const { return count_; }
  uint64_t sumMicros() const { return sumUs_; }

 private:
  std::array<uint64_t, kBoundsUs.size()> buckets_{};  // not cumulative
  uint64_t count_ = 0;
  uint64_t sumUs_ = 0;
};

}  // namespace onionsplit::streamd
