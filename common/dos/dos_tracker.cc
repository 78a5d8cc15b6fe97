// common/dos/dos_tracker.cc: per-client-address DoS decisions (see dos_tracker.h).
#include "common/dos/dos_tracker.h"

#include <algorithm>
#include <cstring>

namespace onionsplit::dos {
namespace {

uint64_t rotl(uint64_t x, int b) {
  return (x << b) | (x >> (64 - b));
}

struct Sip {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  }
  void absorb(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

// SipHash-2-4 of the 17-byte key material (16 address bytes and the family), keyed by the
// tracker's secret, so that an attacker choosing source addresses cannot aim at one bucket.
uint64_t sipHash(const std::array<uint64_t, 2>& k, const ClientAddr& a) {
  Sip s{k[0] ^ 0x736f6d6570736575ULL, k[1] ^ 0x646f72616e646f6dULL, k[0] ^ 0x6c7967656e657261ULL,
        k[1] ^ 0x7465646279746573ULL};
  uint64_t w0 = 0, w1 = 0;
  std::memcpy(&w0, a.bytes.data(), 8);
  std::memcpy(&w1, a.bytes.data() + 8, 8);
  s.absorb(w0);
  s.absorb(w1);
  s.absorb((uint64_t{17} << 56) | (a.v6 ? 1 : 0));
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i)
    s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

}  // namespace

ClientAddr ClientAddr::v4(uint32_t hostOrder) {
  ClientAddr a;
  a.bytes[0] = static_cast<uint8_t>(hostOrder >> 24);
  a.bytes[1] = static_cast<uint8_t>(hostOrder >> 16);
  a.bytes[2] = static_cast<uint8_t>(hostOrder >> 8);
  a.bytes[3] = static_cast<uint8_t>(hostOrder);
  return a;
}

size_t DosTracker::Hash::operator()(const ClientAddr& a) const {
  return static_cast<size_t>(sipHash(key, a));
}

DosTracker::DosTracker(const DosParams& params, RandRange rand, std::array<uint64_t, 2> hashKey,
                       size_t maxEntries)
    : params_(params),
      rand_(std::move(rand)),
      maxEntries_(std::max<size_t>(maxEntries, 1)),
      map_(0, Hash{hashKey}) {}

DosTracker::Entry* DosTracker::find(const ClientAddr& a) {
  auto it = map_.find(a);
  return it == map_.end() ? nullptr : &it->second;
}

const DosTracker::Entry* DosTracker::find(const ClientAddr& a) const {
  auto it = map_.find(a);
  return it == map_.end() ? nullptr : &it->second;
}

uint64_t DosTracker::markUntil(uint64_t nowSec, uint32_t periodSec) const {
  // C tor adds crypto_rand_int_range(1, period / 2): [1, period/2). Below a 4 s period that range
  // is empty; we add 1 s there so the mark always ends strictly after now + period.
  const uint32_t hi = periodSec / 2;
  const uint32_t jitter = hi > 1 ? rand_(1, hi) : 1;
  return nowSec + periodSec + jitter;
}

// C tor's cc_stats_refill_bucket, in whole seconds: full on first use and when the clock went
// backwards, otherwise rate tokens per elapsed second, never above the burst.
void DosTracker::refillCircBucket(Entry& e, uint64_t nowSec) const {
  const uint32_t burst = params_.circBurst;
  if (e.circFilled && nowSec == e.circRefillSec) return;
  uint64_t add;
  if (!e.circFilled || nowSec < e.circRefillSec || nowSec - e.circRefillSec > UINT32_MAX) {
    add = burst;
  } else {
    add = (nowSec - e.circRefillSec) * uint64_t{params_.circRatePerSec};
  }
  const uint64_t sum = e.circTokens + add;
  e.circTokens = static_cast<uint32_t>(std::min<uint64_t>(sum, burst));
  e.circRefillSec = nowSec;
  e.circFilled = true;
}

// C tor's token_bucket_ctr_refill with the entry's own rate and burst.
void DosTracker::refillConnectBucket(Entry& e, uint64_t nowSec) const {
  if (nowSec > e.connectRefillSec) {
    const uint64_t elapsed = std::min<uint64_t>(nowSec - e.connectRefillSec, UINT32_MAX / 4);
    const uint64_t sum = e.connectTokens + elapsed * e.connectRate;
    e.connectTokens = static_cast<uint32_t>(std::min<uint64_t>(sum, e.connectBurst));
  }
  e.connectRefillSec = nowSec;
}

bool DosTracker::idle(const Entry& e, uint64_t nowSec) const {
  if (e.concurrent != 0 || e.maxQueueHits != 0) return false;
  if (e.circMarkedUntil != 0 && e.circMarkedUntil >= nowSec) return false;
  if (e.connMarkedUntil != 0 && e.connMarkedUntil >= nowSec) return false;
  Entry probe = e;  // refills are pure functions of (entry, now): try them on a copy
  refillConnectBucket(probe, nowSec);
  if (probe.connectTokens < probe.connectBurst) return false;
  if (!e.circFilled) return true;
  refillCircBucket(probe, nowSec);
  return probe.circTokens >= params_.circBurst;
}

void DosTracker::erase(Slot* slot) {
  lru_.erase(slot->second.lru);
  map_.erase(slot->first);
}

void DosTracker::evictOne(uint64_t nowSec) {
  // Rank of a victim, lower is better: 0 idle, 1 unmarked without connection, 2 unmarked, 3 any.
  Slot* best = nullptr;
  int bestRank = 4;
  for (size_t n = 0; n < kEvictScan && !lru_.empty(); ++n) {
    Slot* s = lru_.back();
    const Entry& e = s->second;
    const bool marked = (e.circMarkedUntil != 0 && e.circMarkedUntil >= nowSec) ||
                        (e.connMarkedUntil != 0 && e.connMarkedUntil >= nowSec);
    const int rank = idle(e, nowSec) ? 0 : !marked ? (e.concurrent == 0 ? 1 : 2) : 3;
    if (rank < bestRank) {
      best = s;
      bestRank = rank;
    }
    if (rank == 0) break;
    lru_.splice(lru_.begin(), lru_, s->second.lru);  // second chance, if it is not the victim
  }
  erase(best);
}

DosTracker::Entry& DosTracker::insert(const ClientAddr& a, uint64_t nowSec) {
  if (map_.size() >= maxEntries_) evictOne(nowSec);
  auto it = map_.try_emplace(a).first;
  Entry& e = it->second;
  lru_.push_front(&*it);
  e.lru = lru_.begin();
  e.generation = nextGeneration_++;
  // dos_geoip_entry_init: the connect bucket starts full with today's rate and burst.
  e.connectRate = params_.connConnectRatePerSec;
  e.connectBurst = params_.connConnectBurst;
  e.connectTokens = e.connectBurst;
  e.connectRefillSec = nowSec;
  return e;
}

ConnDefense DosTracker::onConnectAttempt(const ClientAddr& addr, uint64_t nowSec) {
  if (!params_.connEnabled) return ConnDefense::kNone;
  Entry* e = find(addr);
  if (e == nullptr) return ConnDefense::kNone;
  if (e->connMarkedUntil != 0 && e->connMarkedUntil >= nowSec) {
    ++counters_.connRejected;
    return params_.connDefense;
  }
  // An expired mark is cleared here so that the connect rate can mark the address again.
  e->connMarkedUntil = 0;
  if (e->concurrent > params_.connMaxConcurrentCount) {
    ++counters_.concurrentConnRejected;
    return params_.connDefense;
  }
  return ConnDefense::kNone;
}

ConnTicket DosTracker::onConnectionOpened(const ClientAddr& addr, uint64_t nowSec) {
  if (!params_.circEnabled && !params_.connEnabled) return ConnTicket{addr, 0};
  Entry* found = find(addr);
  Entry& e = found != nullptr ? *found : insert(addr, nowSec);
  lru_.splice(lru_.begin(), lru_, e.lru);  // last seen: now
  if (e.concurrent < UINT32_MAX) ++e.concurrent;
  refillConnectBucket(e, nowSec);
  if (e.connectTokens > 0) --e.connectTokens;
  // Marked once per exhaustion: an already marked address is not re-marked (which would extend
  // its period for ever); the mark is cleared when it expires (onConnectAttempt).
  if (e.connectTokens == 0 && e.connMarkedUntil == 0) {
    e.connMarkedUntil = markUntil(nowSec, params_.connConnectDefenseTimePeriodSec);
  }
  return ConnTicket{addr, e.generation};
}

void DosTracker::onConnectionClosed(const ConnTicket& t) {
  if (!t.counted()) return;
  Entry* e = find(t.addr);
  // An evicted entry's connections are no longer tracked; a new entry for the same address has
  // a new generation and must not lose a count it never had.
  if (e == nullptr || e->generation != t.generation || e->concurrent == 0) return;
  --e->concurrent;
}

void DosTracker::noteCreateCell(const ClientAddr& addr, bool peerIsRelay, uint64_t nowSec) {
  if (!params_.circEnabled || peerIsRelay) return;
  Entry* e = find(addr);
  if (e == nullptr) return;
  // Statistics continue while marked: a client that keeps going over the limit keeps extending
  // its own mark (C tor: "no point at unmarking a client that keeps DoSing us").
  refillCircBucket(*e, nowSec);
  if (e->circTokens > 0) --e->circTokens;
  if (e->circTokens == 0 && e->concurrent >= params_.circMinConnections) {
    if (e->circMarkedUntil == 0) ++counters_.markedAddress;
    e->circMarkedUntil = markUntil(nowSec, params_.circDefenseTimePeriodSec);
  }
}

CircDefense DosTracker::createDefense(const ClientAddr& addr, bool peerIsRelay, uint64_t nowSec) {
  if (!params_.circEnabled || peerIsRelay) return CircDefense::kNone;
  const Entry* e = find(addr);
  if (e == nullptr || e->circMarkedUntil == 0 || e->circMarkedUntil < nowSec) {
    return CircDefense::kNone;
  }
  ++counters_.circuitRejected;
  return params_.circDefense;
}

void DosTracker::noteCircMaxQueue(const ClientAddr& addr, bool peerIsRelay, uint64_t nowSec) {
  if (!params_.circEnabled || peerIsRelay) return;
  Entry* e = find(addr);
  if (e == nullptr) return;
  if (e->circMarkedUntil != 0 && e->circMarkedUntil >= nowSec) return;
  if (params_.numCircMaxOutq == 0) return;
  ++e->maxQueueHits;
  if (e->maxQueueHits >= params_.numCircMaxOutq) {
    if (e->circMarkedUntil == 0) ++counters_.markedAddressMaxq;
    e->circMarkedUntil = markUntil(nowSec, params_.circDefenseTimePeriodSec);
    e->maxQueueHits = 0;  // start clean once the mark expires
  }
}

size_t DosTracker::sweep(uint64_t nowSec) {
  size_t removed = 0;
  for (auto it = map_.begin(); it != map_.end();) {
    if (idle(it->second, nowSec)) {
      lru_.erase(it->second.lru);
      it = map_.erase(it);  // unordered_map keeps the other nodes (and lru_'s pointers) in place
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

uint32_t DosTracker::concurrentCount(const ClientAddr& a) const {
  const Entry* e = find(a);
  return e == nullptr ? 0 : e->concurrent;
}

bool DosTracker::isCircMarked(const ClientAddr& a, uint64_t nowSec) const {
  const Entry* e = find(a);
  return e != nullptr && e->circMarkedUntil != 0 && e->circMarkedUntil >= nowSec;
}

bool DosTracker::isConnMarked(const ClientAddr& a, uint64_t nowSec) const {
  const Entry* e = find(a);
  return e != nullptr && e->connMarkedUntil != 0 && e->connMarkedUntil >= nowSec;
}

}  // namespace onionsplit::dos
