// common/dos/dos_tracker.h: the per-client-address DoS state of a relay (pure), as C tor 0.4.9
// keeps it in its geoip client cache entry (dos.h dos_client_stats_t) and the decisions dos.c
// takes from it.
//
// Where it sits: in channeld, which accepts the OR connections and sees every CREATE cell on
// them before circuitd does. Per address it holds:
//  - the connection count and connect-rate bucket (DoSConnection*): on accept, a marked address
//    or one with more than DoSConnectionMaxConcurrentCount open connections is refused
//    (onConnectAttempt), and each opened connection spends a connect token; the last token marks
//    the address for DoSConnectionConnectDefenseTimePeriod plus 1..period/2 random seconds.
//    Since 0.4.8.5 (tor#40821) C tor counts every incoming OR connection from the moment it is
//    accepted, relays included, so connections carry no relay flag here.
//  - the circuit creation bucket (DoSCircuitCreation*): each CREATE from a client channel spends
//    a token; when the bucket is empty and the address has at least MinConnections open
//    connections, the address is marked for DefenseTimePeriod + 1..period/2 random seconds, and
//    CREATE cells from a marked address are refused (DESTROY RESOURCELIMIT). Channels whose peer
//    authenticated as a relay are not clients and are never counted (channel_is_client).
//  - the cell-queue-limit count (dos_num_circ_max_outq) that also marks the address.
//
// Addresses are keyed as C tor keys them: the exact IPv4 or IPv6 address (no prefix grouping).
// Memory is bounded whatever the sources: at most `maxEntries` addresses are tracked. An entry
// is created only when a connection is opened (C tor: geoip_note_client_seen), never for a
// CREATE or a refused connection. Eviction:
//  1. sweep(now) drops every idle entry: no open connection, not marked, no queue-limit count,
//     both buckets full. An idle entry decides exactly as a fresh one would, so no decision
//     changes; only the marked_address counter may count such an address again if it is marked
//     anew (C tor counts an address once for as long as its entry lives). C tor itself keeps
//     entries until its stats interval, or its OOM handler, ages them out by last-seen time.
//  2. At the cap, a new address evicts one entry. The kEvictScan least recently seen (last
//     connection opened) are examined, oldest first: the first idle one goes; failing that the
//     first unmarked one with no open connection, then the first unmarked one, then the oldest.
//     Examined entries that stay get a second chance (they move to the front, as in CLOCK), so
//     open or marked entries cannot pile up at the old end and shield each other. Connections of
//     an evicted entry stop being tracked (their tickets go stale), as C tor untracks them in
//     dos_geoip_entry_about_to_free. A flood therefore evicts its own short-lived entries first,
//     and a marked address loses its mark only when kEvictScan marked addresses line up.
// The hash is keyed with a caller-supplied secret, so chosen addresses cannot collide on purpose.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <unordered_map>

#include "common/dos/dos_counters.h"
#include "common/dos/dos_params.h"

namespace onionsplit::dos {

// An IPv4 or IPv6 client address, compared exactly.
struct ClientAddr {
  std::array<uint8_t, 16> bytes{};  // IPv4: the first 4 bytes, network order; the rest zero
  bool v6 = false;

  static ClientAddr v4(uint32_t hostOrder);
  static ClientAddr v6From(const std::array<uint8_t, 16>& b) { return ClientAddr{b, true}; }
  bool operator==(const ClientAddr&) const = default;
};

// Handed out when a connection is counted; given back when it closes. A ticket whose entry was
// evicted (or which was never counted) is ignored on close.
struct ConnTicket {
  ClientAddr addr;
  uint64_t generation = 0;  // 0: not counted
  bool counted() const { return generation != 0; }
};

// Draws a uniform integer in [lo, hi) (lo < hi); the daemon passes its CSPRNG, tests a fake.
using RandRange = std::function<uint32_t(uint32_t lo, uint32_t hi)>;

class DosTracker {
 public:
  // Two /16s' worth of IPv4 sources. An entry costs about 170 bytes (map node, LRU node, bucket
  // slot), so the default cap bounds the table near 22 MiB; the daemon may pass a smaller cap
  // taken from its memory budget.
  static constexpr size_t kDefaultMaxEntries = 1u << 17;
  static constexpr size_t kEvictScan = 32;

  DosTracker(const DosParams& params, RandRange rand, std::array<uint64_t, 2> hashKey,
             size_t maxEntries = kDefaultMaxEntries);
  // lru_ points into map_'s nodes: a copy would point into the original. Moves keep the nodes.
  DosTracker(const DosTracker&) = delete;
  DosTracker& operator=(const DosTracker&) = delete;
  DosTracker(DosTracker&&) = default;
  DosTracker& operator=(DosTracker&&) = default;

  // A new consensus or torrc reload. Existing connect buckets keep the rate and burst they were
  // created with, as in C tor.
  void setParams(const DosParams& p) { params_ = p; }
  const DosParams& params() const { return params_; }

  // --- Connections (channeld, at accept) ---
  // Before accepting a TCP connection from `addr` (dos_conn_addr_get_defense_type). kClose means
  // close the socket now. Counts connRejected / concurrentConnRejected even when the defence type
  // is "none", as C tor does.
  ConnDefense onConnectAttempt(const ClientAddr& addr, uint64_t nowSec);
  // An accepted OR connection (dos_new_client_conn). Not counted while both the circuit and the
  // connection defences are off.
  ConnTicket onConnectionOpened(const ClientAddr& addr, uint64_t nowSec);
  void onConnectionClosed(const ConnTicket& t);

  // --- Circuit creation (a CREATE/CREATE_FAST/CREATE2 cell) ---
  // C tor counts every CREATE first, even one it then drops as malformed (dos_cc_new_create_cell)
  // and asks for the defence only for the cells it would otherwise answer
  // (dos_cc_get_defense_type, which counts circuitRejected). `peerIsRelay`: the channel's peer
  // authenticated as a relay (not channel_is_client).
  void noteCreateCell(const ClientAddr& addr, bool peerIsRelay, uint64_t nowSec);
  CircDefense createDefense(const ClientAddr& addr, bool peerIsRelay, uint64_t nowSec);

  // A circuit from this client hit its cell queue limit (dos_note_circ_max_outq / _inq). The
  // caller counts circuitKilledMaxCell* itself.
  void noteCircMaxQueue(const ClientAddr& addr, bool peerIsRelay, uint64_t nowSec);

  // --- Single-hop rendezvous ---
  bool shouldRefuseSingleHopClient() const { return params_.refuseSingleHopClientRendezvous; }
  void noteSingleHopRefused() { ++counters_.singleHopRefused; }

  // Drops every idle entry (see the file comment); returns how many. Call it periodically.
  size_t sweep(uint64_t nowSec);

  size_t size() const { return map_.size(); }
  size_t maxEntries() const { return maxEntries_; }
  bool tracks(const ClientAddr& a) const { return map_.count(a) != 0; }
  // Open connections counted for `addr` (0 if untracked); for tests and status.
  uint32_t concurrentCount(const ClientAddr& a) const;
  bool isCircMarked(const ClientAddr& a, uint64_t nowSec) const;
  bool isConnMarked(const ClientAddr& a, uint64_t nowSec) const;

  const DosCounters& counters() const { return counters_; }
  DosCounters& counters() { return counters_; }

 private:
  struct Hash {
    std::array<uint64_t, 2> key;
    size_t operator()(const ClientAddr& a) const;
  };
  struct Entry;
  using Slot = std::pair<const ClientAddr, Entry>;  // a map node; its address never changes
  using LruList = std::list<Slot*>;
  struct Entry {
    // Connections.
    uint32_t concurrent = 0;
    uint32_t connectTokens = 0;
    uint32_t connectRate = 0;   // snapshot at creation (token_bucket_ctr_init)
    uint32_t connectBurst = 0;  // snapshot at creation
    uint64_t connectRefillSec = 0;
    uint64_t connMarkedUntil = 0;  // 0: not marked
    // Circuit creation.
    uint32_t circTokens = 0;
    bool circFilled = false;  // the bucket was never filled yet (C tor: last refill 0)
    uint64_t circRefillSec = 0;
    uint64_t circMarkedUntil = 0;  // 0: never marked
    uint32_t maxQueueHits = 0;
    // Bookkeeping.
    uint64_t generation = 0;
    LruList::iterator lru;  // position in lru_, most recently seen at the front
  };
  using Map = std::unordered_map<ClientAddr, Entry, Hash>;

  Entry* find(const ClientAddr& a);
  const Entry* find(const ClientAddr& a) const;
  Entry& insert(const ClientAddr& a, uint64_t nowSec);
  void evictOne(uint64_t nowSec);
  void erase(Slot* slot);
  bool idle(const Entry& e, uint64_t nowSec) const;
  void refillCircBucket(Entry& e, uint64_t nowSec) const;
  void refillConnectBucket(Entry& e, uint64_t nowSec) const;
  uint64_t markUntil(uint64_t nowSec, uint32_t periodSec) const;

  DosParams params_;
  RandRange rand_;
  size_t maxEntries_;
  Map map_;
  LruList lru_;
  uint64_t nextGeneration_ = 1;
  DosCounters counters_;
};

}  // namespace onionsplit::dos
