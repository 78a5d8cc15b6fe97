// circuitd/net/circuit_table.h: the circuits circuitd holds, by key, and the lists of those waiting
// for a boundary's credit.
//
// Where it sits: the Reactor (reactor.h) owns one CircuitTable; its three boundary adapters
// (channeld_adapter.h, streamd_adapter.h, confluxd_adapter.h) and the middle role (middle_role.h)
// find circuits here by key, at use. A circuit's key is the channeld connection it lives on and
// its flow there, (channel << 32) | circId. Connection ids are never reused in the life of the
// process, so a key cannot name a circuit of an earlier connection, and nothing holds a pointer to
// an entry: other tables (the pipes' per-flow states, the outstanding extends) hold keys.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "circuitd/core/circuit.h"
#include "common/flowctl/credit_token.h"

namespace onionsplit::circuitd {

using flowctl::FlowId;
// A connection to a peer daemon, numbered in the order they were made: never reused.
using ConnId = uint64_t;

struct CircKey {
  ConnId conn = 0;  // the channeld connection
  FlowId flow = 0;  // (channel << 32) | circId on it
  bool operator==(const CircKey&) const = default;
  uint32_t channel() const { return static_cast<uint32_t>(flow >> 32); }
};
struct CircKeyHash {
  size_t operator()(const CircKey& k) const {
    return std::hash<uint64_t>()(k.conn * 0x9e3779b97f4a7c15ULL ^ k.flow);
  }
};

// A flow of this circuit on another connection (streamd's or confluxd's).
struct Binding {
  ConnId conn = 0;  // 0: none
  FlowId flow = 0;
  explicit operator bool() const { return conn != 0; }
};

// One circuit and its place on the boundaries.
struct Entry {
  Entry(CircKey k, Circuit c) : key(k), circuit(std::move(c)) {}
  CircKey key;
  Circuit circuit;
  Binding streams;  // its stream side on streamd (opened by the first BEGIN, RESOLVE, BEGIN_DIR)
  Binding leg;      // its flow on confluxd once it is a conflux leg
  FlowId next = 0;  // the next hop's flow on the same channeld connection (a middle), 0 if none
  std::vector<cell::StreamId> openStreams;  // for END when the stream side goes away
  bool hadStreams = false;                  // a stream side was ever opened (LINK is refused)
  bool leftSlowStart = false;               // its congestion control left slow start (CcGauges)
  // The leg's last `state` report (a new one goes when these change).
  bool reported = false, reportedCanSend = false;
  uint64_t reportedCwnd = 0, reportedRtt = 0;
};

class CircuitTable {
 public:
  Entry* find(const CircKey& k) {
    auto it = entries_.find(k);
    return it == entries_.end() ? nullptr : &it->second;
  }
  Entry& add(CircKey k, Circuit c) {
    return entries_.emplace(k, Entry(k, std::move(c))).first->second;
  }
  // By value: callers pass an entry's own key, which the first erase frees.
  void erase(CircKey k) {
    entries_.erase(k);
    waitChanneld_.erase(k);
    waitSide_.erase(k);
  }
  size_t size() const { return entries_.size(); }
  // The keys of the circuits `pred(entry)` selects (collected first: callers close them after).
  std::vector<CircKey> select(const std::function<bool(const Entry&)>& pred) const {
    std::vector<CircKey> out;
    for (const auto& [k, e] : entries_)
      if (pred(e)) out.push_back(k);
    return out;
  }
  template <class F>
  void forEach(F f) const {
    for (const auto& [k, e] : entries_)
      f(e);
  }

  // Circuits waiting for channeld's credit (BWD's queue, our SENDMEs, the next hop's cells, the
  // client's cells for the next hop) and for the stream side's (FWD's held messages): credit
  // coming back visits only them.
  void track(const Entry& e, bool legBlocked) {
    const Circuit& c = e.circuit;
    if (c.bwdWaiting() || c.fwdWaiting() || legBlocked) {
      waitChanneld_.insert(e.key);
    } else {
      waitChanneld_.erase(e.key);
    }
    if (c.held() > 0) {
      waitSide_.insert(e.key);
    } else {
      waitSide_.erase(e.key);
    }
  }
  std::vector<CircKey> waitingForChanneld(ConnId conn) const {
    std::vector<CircKey> out;
    for (const CircKey& k : waitChanneld_)
      if (k.conn == conn) out.push_back(k);
    return out;
  }
  std::vector<CircKey> waitingForSide() const { return {waitSide_.begin(), waitSide_.end()}; }

 private:
  std::unordered_map<CircKey, Entry, CircKeyHash> entries_;
  std::unordered_set<CircKey, CircKeyHash> waitChanneld_, waitSide_;
};

}  // namespace onionsplit::circuitd
