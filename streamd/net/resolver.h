// streamd/net/resolver.h: the exit's DNS resolver: libevent's evdns in front of the DnsCache.
//
// Where it sits: streamd's sessions ask it to resolve BEGIN hostnames and RESOLVE names (forward A
// and AAAA, reverse PTR); it answers from the cache or from the nameservers of the configured
// resolv.conf (ServerDNSResolvConfFile; "nameserver IP:PORT" lines are understood). Answers always
// arrive on a later loop turn, never inside lookup(), and never after cancel().
//
// One evdns_base per nameserver, each making one attempt per request: the resolver retries a
// timed-out attempt at the next nameserver itself (streamd/dns/nameservers.h says why: it is how
// each nameserver's timeouts are counted correctly).
#pragma once

#include <event2/dns.h>
#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/exitpolicy/exit_policy.h"
#include "streamd/dns/dns_cache.h"
#include "streamd/dns/nameservers.h"

namespace onionsplit::streamd {

class Resolver {
 public:
  using Callback = std::function<void(const DnsAnswer&)>;
  using Handle = uint64_t;

  struct Stats {
    uint64_t queries = 0;       // queries sent to nameservers (A, AAAA and PTR count one each;
                                // a retry is the same query)
    uint64_t cacheHits = 0;     // lookups answered from the cache
    uint64_t failures = 0;      // lookups that ended in an error
    uint64_t coalesced = 0;     // lookups that waited for the same name's query in flight
    uint64_t invalidNames = 0;  // names in answers that were not valid hostnames (dropped)
    // Every nameserver answer (one per A, AAAA or PTR query) by libevent's result code, as C tor
    // counts them for tor_relay_exit_dns_error_total (DNS_ERR_NONE included, as "success").
    std::vector<std::pair<std::string_view, uint64_t>> answersByResult = {
        {"success", 0},     {"format", 0},   {"serverfailed", 0}, {"notexist", 0},
        {"notimpl", 0},     {"refused", 0},  {"truncated", 0},    {"unknown", 0},
        {"tor_timeout", 0}, {"shutdown", 0}, {"cancel", 0},       {"nodata", 0}};
  };

  // Reads `resolvConf`; without usable nameservers every lookup fails (transiently) and a warning
  // is logged.
  Resolver(event_base* base, const std::string& resolvConf);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  Handle lookup(std::string_view name, bool wantIpv6, Callback cb);
  Handle lookupReverse(const exitpolicy::IpAddress& address, Callback cb);
  void cancel(Handle h);

  // The consensus' exit_dns_timeout and exit_dns_num_attempts (streamd/core/net_params.h): each
  // attempt's timeout in seconds and the sends of a query, for queries sent from now on.
  void setAttempts(uint32_t timeoutSeconds, uint32_t attempts);
  uint32_t attemptTimeoutSeconds() const { return timeoutSeconds_; }
  uint32_t attempts() const { return attempts_; }

  const Stats& stats() const { return stats_; }
  size_t nameservers() const { return bases_.size(); }
  // "IP:PORT" or "[IPv6]:PORT" of nameserver i, as NameserverRotation numbers them.
  const std::string& nameserverAddress(size_t i) const { return addresses_[i]; }
  const NameserverRotation& rotation() const { return rotation_; }
  // From a query's first attempt to its last answer (or its last timeout): one per query.
  const LatencyHistogram& latency() const { return latency_; }
  size_t cacheSize() const { return cache_.size(); }

 private:
  struct Pending {
    Callback cb;
    DnsAnswer answer;
    std::string cacheKey;
    int outstanding = 0;
    uint32_t ttl = kMaxDnsTtl;
    bool anyNotExist = false;
    bool anyTransient = false;
    std::vector<Handle> followers;  // lookups of the same name that wait for this one's answer
  };
  struct Query;  // one query in flight (its attempts, one evdns request at a time)
  enum class Kind : uint8_t { kA, kAaaa, kPtr };
  void addNameservers(const std::string& resolvConf);
  Query* newQuery(Handle h);
  void dropQuery(Query* q);
  // Sends q's current attempt to its nameserver; `name` for kA and kAaaa.
  evdns_request* transmit(Query* q, const char* name);
  // After a timed-out attempt: true if q was sent again to the next nameserver.
  bool retried(Query* q, int result);

  Handle start(Callback cb);
  // Files the lookup under `key`; true if it is answered without a query of its own (from the
  // cache, without nameservers, or by following the same name's query in flight).
  bool answeredWithoutQuery(Handle h, std::string key);
  // Sends one query of `h`; a query evdns refuses counts as a transient failure. Callbacks evdns
  // makes inside it are held until sent() (inLookup_).
  void query(Handle h, Kind kind, const char* name, const exitpolicy::IpAddress* address);
  // After the queries: answered at once if none is outstanding, else h is the name's query in
  // flight for others to follow.
  void sent(Handle h);
  void deliverLater(Handle h);
  static void onDnsAnswer(int result, char type, int count, int ttl, void* addresses, void* arg);
  static void onDeliver(evutil_socket_t, short, void* arg);
  void noteResult(int result);  // one nameserver answer, into Stats::answersByResult
  void complete(Handle h);      // sets the error and caches the answer
  void deliver(Handle h);

  event_base* base_;
  uint32_t timeoutSeconds_ = 1;       // C tor's default exit_dns_timeout (1000 ms)
  uint32_t attempts_ = kDnsAttempts;  // C tor's default exit_dns_num_attempts
  std::vector<evdns_base*> bases_;    // one per nameserver
  std::vector<std::string> addresses_;
  NameserverRotation rotation_{0};
  LatencyHistogram latency_;
  event* deliverEv_ = nullptr;
  DnsCache cache_;
  Stats stats_;
  Handle next_ = 1;
  bool inLookup_ = false;
  std::unordered_map<Handle, Pending> pending_;
  // One query per name in flight: later lookups of a name being resolved follow the first
  // (C tor's pending resolves), so a burst of BEGINs to one host asks the nameserver once.
  std::unordered_map<std::string, Handle> inFlight_;
  // Attaches a lookup to the one in flight for its key, if there is one.
  bool follow(Handle h);
  std::unordered_set<Query*> queries_;
  std::vector<Handle> ready_;  // answered from the cache, delivered on the next turn
  std::shared_ptr<Resolver*> alive_ = std::make_shared<Resolver*>(this);
};

}  // namespace onionsplit::streamd
