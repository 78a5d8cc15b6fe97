// common/dos/stream_dos.h: the stream creation defence, one token bucket per circuit (pure).
//
// Where it sits: streamd, at the exit, when a BEGIN or RESOLVE arrives on a circuit and before
// the name is resolved (C tor 0.4.9: dos_stream_new_begin_or_resolve_cell, called from
// connection_exit_begin_conn and connection_exit_begin_resolve). BEGIN_DIR is not counted: C tor
// hands it to the directory code before the check. Each circuit's bucket starts full with the
// rate and burst in force when the circuit was created (dos_stream_init_circ_tbf) and refills
// once per whole second; whether the defence is on, and which one, is read at each request.
// Memory: 16 bytes per circuit, owned by whoever owns the circuit.
#pragma once

#include <cstdint>

#include "common/dos/dos_counters.h"
#include "common/dos/dos_params.h"

namespace onionsplit::dos {

enum class StreamRequest : uint8_t { kBegin, kBeginDir, kResolve };

// What the caller does with the request, as C tor 0.4.9 does.
enum class StreamAction : uint8_t {
  kAllow,
  // BEGIN refused: RELAY_END reason MISC (C tor avoids RESOURCELIMIT so that clients do not mark
  // the exit as broken until the next consensus), and the stream is never opened.
  kEndStreamMisc,
  // RESOLVE refused: RESOLVED with one answer of type "error, transient" (0xF0).
  kResolvedErrorTransient,
  // Close the whole circuit: DESTROY (or TRUNCATED toward the client) reason RESOURCELIMIT.
  kCloseCircuitResourceLimit,
};

class StreamDos {
 public:
  // At circuit creation; `nowSec` is the caller's monotonic clock in seconds.
  StreamDos(const DosParams& p, uint64_t nowSec)
      : rate_(p.streamRatePerSec),
        burst_(p.streamBurst),
        tokens_(p.streamBurst),
        lastRefillSec_(static_cast<uint32_t>(nowSec)) {}

  // A BEGIN, BEGIN_DIR or RESOLVE on this circuit. Counts streamRejected when over the bucket
  // with the defence enabled, even when the defence type is "none" (C tor does).
  StreamAction onRequest(StreamRequest kind, const DosParams& p, uint64_t nowSec,
                         DosCounters& counters);

  uint32_t tokens() const { return tokens_; }

 private:
  void refill(uint64_t nowSec);

  uint32_t rate_;
  uint32_t burst_;
  uint32_t tokens_;
  uint32_t lastRefillSec_;  // C tor's coarse clock is 32-bit seconds; wrap is handled in refill
};

}  // namespace onionsplit::dos
