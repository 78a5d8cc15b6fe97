// common/flowctl/xon_xoff.h: stream flow control on congestion-controlled circuits (pure):
// proposal 324 §4 (XON/XOFF), with the exit's parameters and C tor 0.4.9's behaviour as
// specs/README.md §5 records it. Time is passed in, in microseconds of a monotonic clock.
//
// Where it sits (DESIGN.md §2, the design doc's open question): streamd's StreamWrite owns a
// StreamFlowWriter per stream and decides when to send XOFF/XON from the state of the stream's
// outgoing socket buffer; the messages leave as ordinary client-bound stream messages. StreamRead
// owns a StreamFlowReader per stream, fed the XOFF/XON the client sends, and stops or resumes
// reading the stream's socket.
#pragma once

#include <cstddef>
#include <cstdint>

namespace onionsplit::flowctl {

struct XonXoffParams {
  uint32_t xoffExitCells = 500;    // cc_xoff_exit: our buffer limit before XOFF, in cells
  uint32_t xoffClientCells = 500;  // cc_xoff_client: the client's, for checking its XOFFs
  uint32_t xonRateCells = 500;     // cc_xon_rate: drained cells between drain-rate samples
  uint32_t xonChangePct = 25;      // cc_xon_change_pct: advisory XON when the rate moves this much
  uint32_t xonEwmaCnt = 2;         // cc_xon_ewma_cnt
  size_t cellPayloadBytes = 488;   // RELAY_PAYLOAD_SIZE_MIN of C tor 0.4.9 (509 - 21)
  uint64_t xoffGraceUsec = 5000;   // the buffer must stay over the limit this long
};

enum class FlowEmit : uint8_t { kNone, kXoff, kXon };

struct FlowDecision {
  FlowEmit emit = FlowEmit::kNone;
  uint32_t kbpsEwma = 0;  // for XON: drain rate in units of 1000 bytes/s; 0 means unlimited
};

// Decides XOFF/XON for data flowing from the client to the stream's socket.
class StreamFlowWriter {
 public:
  explicit StreamFlowWriter(const XonXoffParams& p = XonXoffParams{}) : p_(p) {}

  // The stream's outgoing buffer now holds `bufferedBytes`; `drainedBytes` were written to the
  // socket since the last call. Call after every enqueue, every socket write, and on a timer while
  // the buffer is over the limit (the XOFF grace period needs time to pass).
  FlowDecision onBuffer(size_t bufferedBytes, size_t drainedBytes, uint64_t nowUsec);

  bool xoffSent() const { return xoffSent_; }
  uint32_t lastAdvertisedKbps() const { return lastKbps_; }

 private:
  XonXoffParams p_;
  bool xoffSent_ = false;
  bool over_ = false;
  uint64_t overSince_ = 0;
  // Drain-rate sampling for advisory XONs.
  uint64_t sampleStart_ = 0;
  size_t sampleBytes_ = 0;
  uint64_t ewmaBytesPerSec_ = 0;
  uint32_t lastKbps_ = 0;
  bool sentAnyXon_ = false;
};

enum class FlowInput : uint8_t {
  kApplied,
  kIgnoredDuplicate,  // XOFF while already off: logged, not a circuit close (C tor 0.4.9)
  kIgnoredEarly,      // XOFF before the client could have buffered its limit: a dropmark probe
};

// Applies the XOFF/XON a client sends for data flowing from the stream's socket to the client.
class StreamFlowReader {
 public:
  explicit StreamFlowReader(const XonXoffParams& p = XonXoffParams{}) : p_(p) {}

  // Count bytes we packaged toward the client on this stream.
  void onBytesSent(size_t n) { sentSinceXoff_ += n; }
  FlowInput onXoff();
  FlowInput onXon(uint32_t kbpsEwma);

  bool paused() const { return paused_; }
  // The client's advisory rate limit in bytes per second (0 = unlimited).
  uint64_t rateLimitBytesPerSec() const { return uint64_t{rateKbps_} * 1000; }

 private:
  XonXoffParams p_;
  bool paused_ = false;
  uint32_t rateKbps_ = 0;
  size_t sentSinceXoff_ = 0;
};

}  // namespace onionsplit::flowctl
