// common/ipc/boundaries.h: the BatchPipe traits of each boundary of proto/: which schema types it
// uses, which flow each event belongs to, which events close a flow, and the bounds on batches.
#pragma once

#include <cstdint>
#include <optional>

#include "common/ipc/batch_pipe.h"
#include "proto/channel_circuit.capnp.h"
#include "proto/circuit_conflux.capnp.h"
#include "proto/circuit_stream.capnp.h"

namespace onionsplit::ipc {

// A relay message body is at most 498 bytes; a link cell payload 509. Event sizes are Cap'n Proto
// words (struct sections, pointers, padded data), so the bounds leave room for that framing.
inline constexpr uint32_t kMaxEventsPerBatch = 1024;

// channeld <-> circuitd: flow = (channel << 32) | circId; a DESTROY cell closes it.
struct ChannelCircuitTraits {
  using Sink = proto::CellSink;
  using Batch = proto::CellBatch;
  using Event = proto::ChannelEvent;
  static constexpr uint32_t kMaxEventsPerBatch = ipc::kMaxEventsPerBatch;
  static constexpr uint32_t kMaxEventBytes = 640;
  static constexpr uint8_t kDestroy = 4;  // link cell command DESTROY
  static std::optional<FlowId> flowOf(Event::Reader e) {
    if (!e.isCell()) return std::nullopt;
    return (static_cast<FlowId>(e.getChannel()) << 32) | e.getCell().getCircId();
  }
  static bool closesFlow(Event::Reader e) {
    return e.isCell() && e.getCell().getCommand() == kDestroy;
  }
};

// circuitd <-> streamd and confluxd <-> streamd: flow = circuit or set id; `closed` closes it.
struct StreamTraits {
  using Sink = proto::StreamSink;
  using Batch = proto::StreamBatch;
  using Event = proto::StreamEvent;
  static constexpr uint32_t kMaxEventsPerBatch = ipc::kMaxEventsPerBatch;
  static constexpr uint32_t kMaxEventBytes = 640;
  static std::optional<FlowId> flowOf(Event::Reader e) { return e.getFlow(); }
  static bool closesFlow(Event::Reader e) { return e.isClosed(); }
};

// circuitd <-> confluxd: flow = leg (circuit id); `closed` closes it.
struct LegTraits {
  using Sink = proto::LegSink;
  using Batch = proto::LegBatch;
  using Event = proto::LegEvent;
  static constexpr uint32_t kMaxEventsPerBatch = ipc::kMaxEventsPerBatch;
  static constexpr uint32_t kMaxEventBytes = 640;
  static std::optional<FlowId> flowOf(Event::Reader e) { return e.getLeg(); }
  static bool closesFlow(Event::Reader e) { return e.isClosed(); }
};

}  // namespace onionsplit::ipc
