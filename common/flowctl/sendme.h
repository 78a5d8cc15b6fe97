// common/flowctl/sendme.h: SENDME windows of a circuit (pure): tor-spec §7.3-7.4 and proposal 289
// (authenticated SENDMEs), with the exit's behaviour as specs/README.md §4 records it from C tor.
//
// Where it sits: circuitd's inbound reactor (BWD) owns the sending side, paired with
// VegasController on circuits that negotiated congestion control or with the classic 1000/100
// package window otherwise; the outbound reactor (FWD) owns the receiving side, which decides when
// to send a SENDME back to the client and with which tag. Only DATA cells count in either window.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/base/bytes.h"

namespace onionsplit::flowctl {

inline constexpr size_t kSendmeTagLen = 20;  // tor1's full SHA-1 running digest
using SendmeTag = std::array<uint8_t, kSendmeTagLen>;

inline constexpr uint32_t kCircWindowStart = 1000;
inline constexpr uint32_t kCircWindowIncrement = 100;

enum class SendmeCheck : uint8_t {
  kOk,
  kUnexpected,  // no acknowledged cell outstanding: close the circuit
  kBadTag,      // a v1 tag that is not the expected digest: close the circuit
  kV0Refused,   // an empty (v0) SENDME while v0 is not accepted: close the circuit
};

// The tags of the DATA cells the peer's SENDMEs will acknowledge, oldest first (proposal 289).
// A ring that only grows with the window, so steady state does not allocate.
class SendmeTagQueue {
 public:
  SendmeTagQueue() : ring_(8) {}
  void push(const SendmeTag& tag);
  std::optional<SendmeTag> pop();
  size_t size() const { return count_; }

 private:
  std::vector<SendmeTag> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
};

// Checks a circuit-level SENDME against the oldest recorded tag. `v1Tag` is the tag of a version 1
// body, or nullopt for an empty (v0) body, accepted only when `acceptV0` (consensus
// sendme_accept_min_version <= 0; C tor's default accepts it). The circuit's tags are `tagLen`
// bytes (20 tor1, 16 CGO), kept in the first bytes of each SendmeTag; a tag of another length is
// a bad tag.
SendmeCheck checkCircuitSendme(SendmeTagQueue& q, std::optional<Bytes> v1Tag, bool acceptV0,
                               size_t tagLen = kSendmeTagLen);

// The classic package window of a circuit without congestion control (tor-spec §7.3). It starts
// at `start` (the consensus' circwindow, 100..1000); SENDMEs may open it up to kCircWindowStart,
// as C tor's limit is CIRCWINDOW_START_MAX whatever the start was.
class ClassicSendWindow {
 public:
  explicit ClassicSendWindow(uint32_t start = kCircWindowStart) : start_(start), window_(start) {}
  bool canSend() const { return window_ > 0; }
  // A DATA cell is being sent. Returns true if it is the cell the peer's next SENDME acknowledges:
  // every 100th cell since the start, as the peer counts them. With the start at 1000 that is C
  // tor's rule (window - 1 a multiple of the increment); C tor applies that rule to every start,
  // which expects the wrong tag when circwindow is not a multiple of 100; this one does not.
  bool onDataSent();
  // A SENDME arrived; false if it would open the window beyond its start (a protocol violation).
  bool onSendme();
  uint32_t window() const { return window_; }

 private:
  uint32_t start_;
  uint32_t window_;
};

// The receiving side: counts delivered DATA cells and says when to send a SENDME. The increment is
// the negotiated cc_sendme_inc on congestion-controlled circuits, 100 otherwise.
class DeliverWindow {
 public:
  explicit DeliverWindow(uint32_t increment = kCircWindowIncrement) : inc_(increment) {}
  // A DATA cell arrived. Returns true when a SENDME must be sent now, whose v1 tag is the running
  // digest right after this cell. The window is refilled when the SENDME is due, so it cannot run
  // out: a peer that ignores our SENDMEs is limited by its own package window, not by ours.
  bool onDataReceived();
  uint32_t window() const { return window_; }

 private:
  uint32_t inc_;
  uint32_t window_ = kCircWindowStart;
};

// Stream-level windows (tor-spec §7.4): only on circuits without congestion control.
inline constexpr uint32_t kStreamWindowStart = 500;
inline constexpr uint32_t kStreamWindowIncrement = 50;

}  // namespace onionsplit::flowctl
