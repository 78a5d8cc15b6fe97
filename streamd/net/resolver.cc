// streamd/net/resolver.cc: see resolver.h.
#include "streamd/net/resolver.h"

#include <arpa/inet.h>
#include <event2/util.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

namespace onionsplit::streamd {
namespace {

uint64_t nowSeconds() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint32_t randomU32() {
  uint32_t r = 0;
  evutil_secure_rng_get_bytes(&r, sizeof r);
  return r;
}

}  // namespace

struct Resolver::Query {
  std::shared_ptr<Resolver*> resolver;
  Handle handle;
};

Resolver::Resolver(event_base* base, const std::string& resolvConf) : base_(base) {
  dns_ = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
  deliverEv_ = event_new(base, -1, 0, &Resolver::onDeliver, this);
  if (!dns_) {
    spdlog::error("dns: evdns_base_new failed; every lookup will fail");
    return;
  }
  int r = evdns_base_resolv_conf_parse(dns_, DNS_OPTION_NAMESERVERS | DNS_OPTION_MISC,
                                       resolvConf.c_str());
  if (r != 0 || nameservers() == 0)
    spdlog::warn("dns: no usable nameserver in {} (code {}); lookups will fail", resolvConf, r);
  else
    spdlog::info("dns: {} nameserver(s) from {}", nameservers(), resolvConf);
  // C tor's settings for an exit (dns.c), over resolv.conf's. libevent's own defaults let 64
  // queries be in flight and queue the rest: one client's names that no nameserver answers would
  // then hold every other client's lookups for as long as they take (seen in bench_resources'
  // RESOLVE flood). 8192 in flight, as C tor; a lookup gives up after 1 s and 2 attempts (C tor's
  // defaults of exit_dns_timeout and exit_dns_num_attempts); one nameserver is never marked down
  // for timeouts (nothing to fall back to), several after 10 in a row.
  const char* maxTimeouts = nameservers() == 1 ? "1000000" : "10";
  for (auto [key, value] : {std::pair<const char*, const char*>{"max-timeouts:", maxTimeouts},
                            {"max-inflight:", "8192"},
                            {"timeout:", "1"},
                            {"attempts:", "2"}})
    if (evdns_base_set_option(dns_, key, value) != 0)
      spdlog::warn("dns: libevent refused the option {}{}", key, value);
}

Resolver::~Resolver() {
  *alive_ = nullptr;
  // Requests in flight are freed without their callbacks; their Query objects are ours to free.
  if (dns_) evdns_base_free(dns_, 0);
  for (Query* q : queries_)
    delete q;
  if (deliverEv_) event_free(deliverEv_);
}

Resolver::Query* Resolver::newQuery(Handle h) {
  auto* q = new Query{alive_, h};
  queries_.insert(q);
  return q;
}

void Resolver::dropQuery(Query* q) {
  queries_.erase(q);
  delete q;
}

size_t Resolver::nameservers() const {
  return dns_ ? static_cast<size_t>(evdns_base_count_nameservers(dns_)) : 0;
}

Resolver::Handle Resolver::start(Callback cb) {
  Handle h = next_++;
  pending_[h].cb = std::move(cb);
  return h;
}

void Resolver::deliverLater(Handle h) {
  ready_.push_back(h);
  event_active(deliverEv_, EV_TIMEOUT, 1);
}

bool Resolver::answeredWithoutQuery(Handle h, std::string key) {
  Pending& p = pending_[h];
  p.cacheKey = std::move(key);
  if (const DnsAnswer* a = cache_.get(p.cacheKey, nowSeconds())) {
    ++stats_.cacheHits;
    p.answer = *a;
    deliverLater(h);
    return true;
  }
  if (!dns_) {
    p.answer.error = DnsError::kTransient;
    p.cacheKey.clear();
    deliverLater(h);
    return true;
  }
  return follow(h);
}

template <class Send>
void Resolver::query(Handle h, Send send) {
  Query* q = newQuery(h);
  ++stats_.queries;
  ++pending_[h].outstanding;
  inLookup_ = true;
  evdns_request* req = send(q);
  inLookup_ = false;
  if (!req) {  // not sent, and no callback will come
    dropQuery(q);
    Pending& p = pending_[h];
    --p.outstanding;
    p.anyTransient = true;
  }
}

void Resolver::sent(Handle h) {
  Pending& p = pending_[h];
  if (p.outstanding <= 0) {
    complete(h);
    deliverLater(h);
  } else {
    inFlight_[p.cacheKey] = h;
  }
}

Resolver::Handle Resolver::lookup(std::string_view name, bool wantIpv6, Callback cb) {
  Handle h = start(std::move(cb));
  if (answeredWithoutQuery(h, std::string(name) + (wantIpv6 ? "/46" : "/4"))) return h;
  std::string n(name);
  query(h, [&](Query* q) {
    return evdns_base_resolve_ipv4(dns_, n.c_str(), DNS_QUERY_NO_SEARCH, &Resolver::onDnsAnswer, q);
  });
  if (wantIpv6)
    query(h, [&](Query* q) {
      return evdns_base_resolve_ipv6(dns_, n.c_str(), DNS_QUERY_NO_SEARCH, &Resolver::onDnsAnswer,
                                     q);
    });
  sent(h);
  return h;
}

bool Resolver::follow(Handle h) {
  Pending& p = pending_[h];
  auto it = inFlight_.find(p.cacheKey);
  if (it == inFlight_.end()) return false;
  auto leader = pending_.find(it->second);
  if (leader == pending_.end()) return false;
  leader->second.followers.push_back(h);
  ++stats_.coalesced;
  return true;
}

Resolver::Handle Resolver::lookupReverse(const exitpolicy::IpAddress& address, Callback cb) {
  Handle h = start(std::move(cb));
  if (answeredWithoutQuery(h, address.toString() + "/ptr")) return h;
  query(h, [&](Query* q) {
    if (address.family == 4) {
      in_addr in{};
      std::memcpy(&in, address.b.data(), 4);
      return evdns_base_resolve_reverse(dns_, &in, DNS_QUERY_NO_SEARCH, &Resolver::onDnsAnswer, q);
    }
    in6_addr in6{};
    std::memcpy(&in6, address.b.data(), 16);
    return evdns_base_resolve_reverse_ipv6(dns_, &in6, DNS_QUERY_NO_SEARCH, &Resolver::onDnsAnswer,
                                           q);
  });
  sent(h);
  return h;
}

void Resolver::cancel(Handle h) {
  auto it = pending_.find(h);
  if (it == pending_.end()) return;
  // A lookup others follow keeps going for them; it only stops answering its own caller.
  if (!it->second.followers.empty()) {
    it->second.cb = nullptr;
    return;
  }
  // Requests in flight still call back; their Pending is gone, so nothing is delivered.
  if (auto f = inFlight_.find(it->second.cacheKey); f != inFlight_.end() && f->second == h)
    inFlight_.erase(f);
  pending_.erase(it);
}

void Resolver::onDnsAnswer(int result, char type, int count, int ttl, void* addresses, void* arg) {
  auto* q = static_cast<Query*>(arg);
  Resolver* self = *q->resolver;
  Handle h = q->handle;
  if (!self) return;  // cannot happen: evdns_base_free(_, 0) calls nothing back
  self->dropQuery(q);
  self->noteResult(result);  // cancelled lookups too, as C tor counts every evdns callback
  auto it = self->pending_.find(h);
  if (it == self->pending_.end()) return;  // cancelled
  Pending& p = it->second;
  --p.outstanding;
  if (result == DNS_ERR_NONE && count > 0 && addresses) {
    if (ttl >= 0 && static_cast<uint32_t>(ttl) < p.ttl) p.ttl = static_cast<uint32_t>(ttl);
    if (type == DNS_IPv4_A) {
      auto* a = static_cast<const uint8_t*>(addresses);
      for (int i = 0; i < count && p.answer.ipv4.size() < 8; ++i) {
        std::array<uint8_t, 4> v{};
        std::memcpy(v.data(), a + 4 * i, 4);
        p.answer.ipv4.push_back(v);
      }
    } else if (type == DNS_IPv6_AAAA) {
      auto* a = static_cast<const uint8_t*>(addresses);
      for (int i = 0; i < count && p.answer.ipv6.size() < 8; ++i) {
        std::array<uint8_t, 16> v{};
        std::memcpy(v.data(), a + 16 * i, 16);
        p.answer.ipv6.push_back(v);
      }
    } else if (type == DNS_PTR) {
      const char* name = *static_cast<char**>(addresses);
      // A name from the network: one that is not a valid hostname (control characters, empty or
      // over-long labels, TROVE-2026-035) is dropped, as if there were no record.
      std::string ptr = name ? std::string(name, strnlen(name, kMaxHostnameBytes + 1)) : "";
      if (isValidHostname(ptr))
        p.answer.ptrName = std::move(ptr);
      else if (name)
        ++self->stats_.invalidNames;
    }
  } else if (result == DNS_ERR_NOTEXIST || (result == DNS_ERR_NONE && count == 0)) {
    p.anyNotExist = true;
  } else {
    p.anyTransient = true;
  }
  // Answered inside lookup(): lookup() completes it and delivers it on the next turn.
  if (p.outstanding > 0 || self->inLookup_) return;
  self->complete(h);
  self->deliver(h);
}

void Resolver::noteResult(int result) {
  // libevent's codes: 0-5 are the RCODEs, 65-70 its own (truncated ... nodata).
  size_t i = 0;
  if (result >= DNS_ERR_NONE && result <= DNS_ERR_REFUSED) {
    i = static_cast<size_t>(result);
  } else if (result >= DNS_ERR_TRUNCATED && result <= DNS_ERR_NODATA) {
    i = static_cast<size_t>(result - DNS_ERR_TRUNCATED) + 6;
  } else {
    return;  // a code libevent does not define: C tor's metric has no bucket for it either
  }
  ++stats_.answersByResult[i].second;
}

void Resolver::complete(Handle h) {
  auto it = pending_.find(h);
  if (it == pending_.end()) return;
  Pending& p = it->second;
  bool have = !p.answer.ipv4.empty() || !p.answer.ipv6.empty() || !p.answer.ptrName.empty();
  if (!have) {
    ++stats_.failures;
    p.answer.error = p.anyTransient ? DnsError::kTransient : DnsError::kNonTransient;
  }
  // Failures that may pass (timeouts, server failures) are not remembered.
  if (!p.cacheKey.empty() && p.answer.error != DnsError::kTransient) {
    uint32_t ttl = have ? p.ttl : kMinDnsTtl;
    cache_.put(p.cacheKey, p.answer, fuzzDnsTtl(clipDnsTtl(ttl), randomU32()), nowSeconds());
  }
}

void Resolver::deliver(Handle h) {
  auto it = pending_.find(h);
  if (it == pending_.end()) return;
  Callback cb = std::move(it->second.cb);
  DnsAnswer answer = std::move(it->second.answer);
  std::vector<Handle> followers = std::move(it->second.followers);
  if (auto f = inFlight_.find(it->second.cacheKey); f != inFlight_.end() && f->second == h)
    inFlight_.erase(f);
  pending_.erase(it);
  for (Handle f : followers) {  // each gets the same answer (a callback may cancel others)
    auto fit = pending_.find(f);
    if (fit == pending_.end()) continue;
    fit->second.answer = answer;
    deliver(f);
  }
  if (cb) cb(answer);
}

void Resolver::onDeliver(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Resolver*>(arg);
  std::vector<Handle> ready;
  ready.swap(self->ready_);
  for (Handle h : ready)
    self->deliver(h);
}

}  // namespace onionsplit::streamd
