// streamd/net/oom_target.h: one holder of buffered bytes that streamd's OOM handler
// (oom_handler.h) may close: an exit stream of a session, or a lingering socket.
#pragma once

#include <cstdint>

namespace onionsplit::streamd {

class StreamSession;

struct OomTarget {
  StreamSession* session = nullptr;  // null: a lingering socket (`lingering`)
  uint64_t flow = 0;
  uint64_t serial = 0;  // the circuit's serial (StreamSession::circuitOf)
  uint16_t stream = 0;
  const void* lingering = nullptr;
};

}  // namespace onionsplit::streamd
