// common/conflux/types.h: the vocabulary shared by the conflux core (pure): leg and set ids, the
// consensus parameters, the congestion-control facts a leg reports, and how a verdict closes a
// circuit (proposal 329; C tor 0.4.9 behaviour as specs/README.md §6 records it).
//
// Where it sits: confluxd owns one ConfluxMgr (common/conflux/mgr.h) and, through it, one
// ConfluxController (common/conflux/controller.h) per set. circuitd reports each leg's LINK,
// LINKED_ACK, SWITCH and multiplexed cells, its congestion-control state and its closing; the core
// answers with values (deliver these messages, send this LINKED or SWITCH, close this leg or the
// whole set). Nothing here does I/O, reads a clock or draws randomness: time is passed in.
#pragma once

#include <array>
#include <cstdint>

#include "common/cell/constants.h"

namespace onionsplit::conflux {

// A leg is one circuit of a set; the caller names it (e.g. circuitd connection + circuit id).
using LegId = uint64_t;
// A set is named by the manager when the first LINK of a nonce arrives; never reused.
using SetId = uint64_t;
// The 256-bit secret that ties legs together (proposal 329 §2.2). Never logged.
using Nonce = std::array<uint8_t, 32>;

// DESIRED_UX values (proposal 329 §2.2).
enum class Ux : uint8_t {
  kNoOpinion = 0,
  kMinLatency = 1,
  kLowMemLatency = 2,
  kHighThroughput = 3,
  kLowMemThroughput = 4,
};

// What an exit asks of clients in its LINKED: MIN_LATENCY (C tor 0.4.9 conflux_pool.c,
// DEFAULT_EXIT_UX; specs/README.md §6 rule 3).
inline constexpr uint8_t kExitDesiredUx = static_cast<uint8_t>(Ux::kMinLatency);

// The sender's leg choice (proposal 329 §3). C tor 0.4.9 ships MinRTT and LowRTT (its CWNDRTT is
// unreachable from any UX value), so those are the two implemented here.
enum class Scheduler : uint8_t {
  kMinRtt,  // §3.1: only the lowest-RTT leg; stop when it cannot send
  kLowRtt,  // §3.2: the lowest-RTT leg that can send
};

// The sender picks its scheduler from the peer's DESIRED_UX, as C tor 0.4.9
// conflux_pool.c:conflux_choose_algorithm does: NO_OPINION and HIGH_THROUGHPUT → LowRTT;
// MIN_LATENCY and both LOW_MEM values → MinRTT (no low-memory algorithms exist yet). Undefined
// values never get here: isKnownUx() refuses them first, as C tor's trunnel parser does.
constexpr Scheduler schedulerFor(uint8_t desiredUx) {
  switch (static_cast<Ux>(desiredUx)) {
    case Ux::kMinLatency:
    case Ux::kLowMemLatency:
    case Ux::kLowMemThroughput:
      return Scheduler::kMinRtt;
    case Ux::kNoOpinion:
    case Ux::kHighThroughput:
      break;
  }
  return Scheduler::kLowRtt;
}

// C tor's trunnel definition (conflux.trunnel: desired_ux IN [0..4]) fails to parse a LINK or
// LINKED with any other value, which closes the circuit (TORPROTOCOL). cell::decodeConfluxLink
// accepts every byte, so the conflux core checks.
constexpr bool isKnownUx(uint8_t desiredUx) {
  return desiredUx <= static_cast<uint8_t>(Ux::kLowMemThroughput);
}

struct ConfluxParams {
  // cfx_enabled: 0 closes every CONFLUX_LINK's circuit (TORPROTOCOL), as C tor's
  // conflux_is_enabled at an exit (conflux_process_link).
  bool enabled = true;
  // cfx_max_legs_set: legs in one set (C tor 0.4.9 conflux_params.c default 8, minimum 3).
  uint32_t maxLegsPerSet = 8;
  // cfx_max_oooq_bytes: bytes the out-of-order queue of one set may hold. C tor 0.4.9
  // (conflux_params.c MAX_OOO_QUEUE_BYTES_DEFAULT) defaults it to INT32_MAX, i.e. no practical
  // limit (its OOM killer is the real bound); we keep the consensus default and let the caller
  // lower it. Unlike C tor (which checks before adding, so it can overshoot by one message), we
  // refuse a message that would take the queue over the cap: the cap is a hard bound.
  uint64_t maxOooqBytes = 2147483647;
  // Our own bound on live sets per relay (C tor has none at the exit: every LINK on a fresh
  // circuit makes a set, so the circuit limits bound it). A LINK beyond it closes its leg with
  // RESOURCELIMIT.
  uint32_t maxSets = 65536;
  // cfx_linked_ack_timeout_ms (ours; C tor has no such deadline): a leg the exit linked whose
  // LINKED_ACK has not come this long after its LINKED is overdue and closes (TIMEOUT); a set
  // left without legs ends. The design document requires the deadline; 10 s is one round trip on
  // the leg with room to spare (C tor's circuit build timeout tops out in the same range).
  uint64_t linkedAckTimeoutUsec = 10'000'000;
};

// The congestion-control state of a leg in the exit-to-client direction (flowctl::VegasController
// on that circuit), as circuitd last reported it.
struct CcFacts {
  uint64_t cwnd = 124;
  uint64_t inflight = 0;
  uint32_t sendmeInc = 31;
  bool channelBlocked = false;  // the leg's channel toward the client is over its high watermark
  // CC's smoothed RTT; when non-zero it replaces the leg's RTT (C tor congestion_control_common.c
  // calls conflux_update_rtt with ewma_rtt_usec on every RTT sample).
  uint64_t ewmaRttUsec = 0;

  // C tor 0.4.9 conflux.c:circuit_ready_to_send.
  bool canSend() const { return inflight < cwnd && !channelBlocked; }
};

// How to close. TORPROTOCOL = DestroyReason::kProtocol (tor-spec §5.4 reason 1).
using CloseReason = cell::DestroyReason;

}  // namespace onionsplit::conflux
