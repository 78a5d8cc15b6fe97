// streamd/net/resolver.cc: see resolver.h.
#include "streamd/net/resolver.h"

#include <arpa/inet.h>
#include <event2/util.h>
#include <spdlog/spdlog.h>
#include <algorithm>

#include <chrono>
#include <cstring>

namespace onionsplit::streamd {
namespace {

uint64_t nowSeconds() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint64_t nowMicros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

uint32_t randomU32() {
  uint32_t r = 0;
  evutil_secure_rng_get_bytes(&r, sizeof r);
  return r;
}

// "IP:PORT" or "[IPv6]:PORT": the nameserver's label on the MetricsPort.
std::string formatNameserver(const sockaddr_storage& ss) {
  char ip[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &in.sin_addr, ip, sizeof ip);
    return std::string(ip) + ":" + std::to_string(ntohs(in.sin_port));
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
  inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof ip);
  return "[" + std::string(ip) + "]:" + std::to_string(ntohs(in6.sin6_port));
}

}  // namespace

struct Resolver::Query {
  std::shared_ptr<Resolver*> resolver;
  Handle handle;
  Kind kind = Kind::kA;
  uint8_t family = 4;  // of `address` (kPtr)
  std::array<uint8_t, 16> address{};
  size_t nameserver = 0;  // of the attempt in flight
  int attempt = 0;        // 0 for the first
  uint64_t sentUs = 0;    // the first attempt's
};

Resolver::Resolver(event_base* base, const std::string& resolvConf) : base_(base) {
  deliverEv_ = event_new(base, -1, 0, &Resolver::onDeliver, this);
  addNameservers(resolvConf);
  rotation_ = NameserverRotation(bases_.size());
}

// resolv.conf is read by evdns into a base of its own, only to learn the nameservers; each then
// gets a base with C tor's exit settings (dns.c), over resolv.conf's options. libevent's own
// defaults let 64 queries be in flight and queue the rest: one client's names that no nameserver
// answers would then hold every other client's lookups for as long as they take (seen in
// bench_resources' RESOLVE flood). 8192 in flight, as C tor; 1 s per attempt (C tor's default
// exit_dns_timeout, until the consensus says otherwise: setAttempts); one attempt per base, as the
// resolver makes the attempts (exit_dns_num_attempts, 2 by default) itself. evdns still marks a
// base's nameserver down after a timeout and probes it, but a base whose only nameserver is down
// sends every request to it all the same.
void Resolver::addNameservers(const std::string& resolvConf) {
  evdns_base* conf = evdns_base_new(base_, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
  if (!conf) {
    spdlog::error("dns: evdns_base_new failed; every lookup will fail");
    return;
  }
  int r = evdns_base_resolv_conf_parse(conf, DNS_OPTION_NAMESERVERS, resolvConf.c_str());
  int listed = evdns_base_count_nameservers(conf);
  for (int i = 0; i < listed && bases_.size() < kMaxNameservers; ++i) {
    sockaddr_storage ss{};
    int len = evdns_base_get_nameserver_addr(conf, i, reinterpret_cast<sockaddr*>(&ss), sizeof ss);
    evdns_base* b = len > 0 ? evdns_base_new(base_, EVDNS_BASE_DISABLE_WHEN_INACTIVE) : nullptr;
    if (!b) continue;
    if (evdns_base_nameserver_sockaddr_add(b, reinterpret_cast<sockaddr*>(&ss),
                                           static_cast<ev_socklen_t>(len), 0) != 0) {
      evdns_base_free(b, 0);
      continue;
    }
    for (auto [key, value] : {std::pair<const char*, const char*>{"max-inflight:", "8192"},
                              {"timeout:", "1"},
                              {"attempts:", "1"}})
      if (evdns_base_set_option(b, key, value) != 0)
        spdlog::warn("dns: libevent refused the option {}{}", key, value);
    bases_.push_back(b);
    addresses_.push_back(formatNameserver(ss));
  }
  evdns_base_free(conf, 0);
  if (listed > static_cast<int>(kMaxNameservers))
    spdlog::warn("dns: {} lists {} nameservers; the first {} are used", resolvConf, listed,
                 kMaxNameservers);
  if (r != 0 || bases_.empty())
    spdlog::warn("dns: no usable nameserver in {} (code {}); lookups will fail", resolvConf, r);
  else
    spdlog::info("dns: {} nameserver(s) from {}", bases_.size(), resolvConf);
}

void Resolver::setAttempts(uint32_t timeoutSeconds, uint32_t attempts) {
  timeoutSeconds = std::clamp<uint32_t>(timeoutSeconds, 1, 120);  // exit_dns_timeout's range
  attempts = std::clamp<uint32_t>(attempts, 1, 255);
  if (timeoutSeconds == timeoutSeconds_ && attempts == attempts_) return;
  std::string value = std::to_string(timeoutSeconds);
  for (evdns_base* b : bases_)
    if (evdns_base_set_option(b, "timeout:", value.c_str()) != 0)
      spdlog::warn("dns: libevent refused the option timeout:{}", value);
  timeoutSeconds_ = timeoutSeconds;
  attempts_ = attempts;
  spdlog::info(
      "consensus: DNS queries wait {} s an attempt, {} attempt(s) (exit_dns_timeout, "
      "exit_dns_num_attempts)",
      timeoutSeconds, attempts);
}

Resolver::~Resolver() {
  *alive_ = nullptr;
  // Requests in flight are freed without their callbacks; their Query objects are ours to free.
  for (evdns_base* b : bases_)
    evdns_base_free(b, 0);
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
  if (bases_.empty()) {
    p.answer.error = DnsError::kTransient;
    p.cacheKey.clear();
    deliverLater(h);
    return true;
  }
  return follow(h);
}

evdns_request* Resolver::transmit(Query* q, const char* name) {
  evdns_base* b = bases_[q->nameserver];
  switch (q->kind) {
    case Kind::kA:
      return evdns_base_resolve_ipv4(b, name, DNS_QUERY_NO_SEARCH, &Resolver::onDnsAnswer, q);
    case Kind::kAaaa:
      return evdns_base_resolve_ipv6(b, name, DNS_QUERY_NO_SEARCH, &Resolver::onDnsAnswer, q);
    case Kind::kPtr:
      break;
  }
  if (q->family == 4) {
    in_addr in{};
    std::memcpy(&in, q->address.data(), 4);
    return evdns_base_resolve_reverse(b, &in, DNS_QUERY_NO_SEARCH, &Resolver::onDnsAnswer, q);
  }
  in6_addr in6{};
  std::memcpy(&in6, q->address.data(), 16);
  return evdns_base_resolve_reverse_ipv6(b, &in6, DNS_QUERY_NO_SEARCH, &Resolver::onDnsAnswer, q);
}

void Resolver::query(Handle h, Kind kind, const char* name, const exitpolicy::IpAddress* address) {
  Query* q = newQuery(h);
  q->kind = kind;
  if (address) {
    q->family = address->family;
    q->address = address->b;
  }
  q->nameserver = rotation_.first(nowMicros() / 1000);
  q->sentUs = nowMicros();
  size_t nameserver = q->nameserver;
  ++pending_[h].outstanding;
  inLookup_ = true;
  evdns_request* req = transmit(q, name);
  inLookup_ = false;
  if (!req) {  // not sent, and no callback will come
    dropQuery(q);
    Pending& p = pending_[h];
    --p.outstanding;
    p.anyTransient = true;
    return;
  }
  ++stats_.queries;
  rotation_.sent(nameserver);
}

bool Resolver::retried(Query* q, int result) {
  if (result != DNS_ERR_TIMEOUT) {
    if (result != DNS_ERR_SHUTDOWN && result != DNS_ERR_CANCEL) rotation_.answered(q->nameserver);
    return false;
  }
  rotation_.timedOut(q->nameserver, nowMicros() / 1000);
  if (static_cast<uint32_t>(q->attempt) + 1 >= attempts_) return false;
  auto it = pending_.find(q->handle);
  if (it == pending_.end()) return false;  // cancelled: nobody waits for another attempt
  // The name is the cache key's, before its "/4", "/46" or "/ptr" (a copy: retries only).
  const std::string& key = it->second.cacheKey;
  std::string name = key.substr(0, key.rfind('/'));
  ++q->attempt;
  q->nameserver = rotation_.retry(q->nameserver);
  size_t nameserver = q->nameserver;
  if (!transmit(q, name.c_str())) return false;  // ends as the timeout it was
  rotation_.sent(nameserver);
  return true;
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
  query(h, Kind::kA, n.c_str(), nullptr);
  if (wantIpv6) query(h, Kind::kAaaa, n.c_str(), nullptr);
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
  query(h, Kind::kPtr, nullptr, &address);
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
  if (self->retried(q, result)) return;
  self->latency_.observe(nowMicros() - q->sentUs);
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
