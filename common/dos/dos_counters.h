// common/dos/dos_counters.h: what the DoS defences did, as C tor's MetricsPort family
// tor_relay_dos_total{type="..."} reports it (relay_metrics.c fill_dos_values, 0.4.9).
//
// Each daemon owns one DosCounters, the pure cores add to it, and the daemon exports it; the
// metrics endpoint sums the daemons' structs (operator+=) and writes one sample per label, in C
// tor's order (forEach). All counters only grow.
#pragma once

#include <cstdint>
#include <string_view>

namespace onionsplit::dos {

struct DosCounters {
  uint64_t circuitRejected = 0;           // CREATE cells refused (or counted) from marked addresses
  uint64_t circuitKilledMaxCell = 0;      // circuits closed for too many queued cells (inbound)
  uint64_t circuitKilledMaxCellOutq = 0;  // ... (outbound queue); both bumped by the queue code
  uint64_t markedAddress = 0;             // addresses marked by the circuit creation defence
  uint64_t markedAddressMaxq = 0;         // addresses marked for hitting the cell queue limit
  uint64_t connRejected = 0;              // connections refused by the connect-rate mark
  uint64_t concurrentConnRejected = 0;    // connections refused over the concurrent maximum
  uint64_t singleHopRefused = 0;          // single-hop ESTABLISH_RENDEZVOUS refused
  uint64_t introduce2Rejected = 0;        // onion-service intro point; not served, stays 0
  uint64_t streamRejected = 0;            // BEGIN/RESOLVE over the per-circuit stream bucket

  DosCounters& operator+=(const DosCounters& o) {
    circuitRejected += o.circuitRejected;
    circuitKilledMaxCell += o.circuitKilledMaxCell;
    circuitKilledMaxCellOutq += o.circuitKilledMaxCellOutq;
    markedAddress += o.markedAddress;
    markedAddressMaxq += o.markedAddressMaxq;
    connRejected += o.connRejected;
    concurrentConnRejected += o.concurrentConnRejected;
    singleHopRefused += o.singleHopRefused;
    introduce2Rejected += o.introduce2Rejected;
    streamRejected += o.streamRejected;
    return *this;
  }
  bool operator==(const DosCounters&) const = default;

  // Calls fn(label, value) for each `type` label of tor_relay_dos_total, C tor's spelling and
  // order.
  template <class Fn>
  void forEach(Fn&& fn) const {
    fn(std::string_view("circuit_rejected"), circuitRejected);
    fn(std::string_view("circuit_killed_max_cell"), circuitKilledMaxCell);
    fn(std::string_view("circuit_killed_max_cell_outq"), circuitKilledMaxCellOutq);
    fn(std::string_view("marked_address"), markedAddress);
    fn(std::string_view("marked_address_maxq"), markedAddressMaxq);
    fn(std::string_view("conn_rejected"), connRejected);
    fn(std::string_view("concurrent_conn_rejected"), concurrentConnRejected);
    fn(std::string_view("single_hop_refused"), singleHopRefused);
    fn(std::string_view("introduce2_rejected"), introduce2Rejected);
    fn(std::string_view("stream_rejected"), streamRejected);
  }
};

}  // namespace onionsplit::dos
