// common/ipc/boundaries.h: the BatchPipe traits of each boundary of proto/: which schema types it
// uses, which flow each event belongs to, which events open and close a flow, the bounds on
// batches, and what each side may send (the contract's static rules, checked at stage 3 of a
// pipe's receive by the sessions' admit()).
#pragma once

#include <cstdint>
#include <optional>

#include "common/ipc/batch_pipe.h"
#include "common/ipc/relay_commands.h"
#include "proto/channel_circuit.capnp.h"
#include "proto/circuit_conflux.capnp.h"
#include "proto/circuit_stream.capnp.h"

namespace onionsplit::ipc {

// A relay message body is at most 498 bytes; a link cell payload 509. Event sizes are Cap'n Proto
// words (struct sections, pointers, padded data), so the bounds leave room for that framing.
inline constexpr uint32_t kMaxEventsPerBatch = 1024;
inline constexpr uint32_t kCellPayloadBytes = 509;
inline constexpr uint32_t kRelayBodyMaxBytes = 498;

// The windows every boundary uses: 64 messages per flow (a circuit's or stream side's share of a
// connection), 1 MiB per connection, 65536 open flows per connection.
inline flowctl::CreditWindows defaultWindows() {
  flowctl::CreditWindows w;
  w.flowMessages = 64;
  w.connBytes = 1u << 20;
  w.maxFlows = 65536;
  return w;
}

// channeld <-> circuitd: flow = (channel << 32) | circId; a DESTROY cell closes it.
struct ChannelCircuitTraits {
  using Sink = proto::CellSink;
  using Batch = proto::CellBatch;
  using Event = proto::ChannelEvent;
  static constexpr uint32_t kMaxEventsPerBatch = ipc::kMaxEventsPerBatch;
  static constexpr uint32_t kMaxEventBytes = 640;
  static constexpr uint8_t kDestroy = static_cast<uint8_t>(cell::CellCmd::kDestroy);
  static std::optional<FlowId> flowOf(Event::Reader e) {
    if (!e.isCell()) return std::nullopt;
    return (static_cast<FlowId>(e.getChannel()) << 32) | e.getCell().getCircId();
  }
  static bool closesFlow(Event::Reader e) {
    return e.isCell() && e.getCell().getCommand() == kDestroy;
  }
  template <class E>  // a Reader or a Builder
  static size_t payloadBytes(E e) {
    if (e.isCell()) return e.getCell().getPayload().size();
    if (e.isOpened())
      return e.getOpened().getPeerRsaId().size() + e.getOpened().getPeerEd25519Id().size();
    if (e.isExtend()) {
      auto x = e.getExtend();
      return x.getIpv4().size() + x.getIpv6().size() + x.getRsaId().size() +
             x.getEd25519Id().size() + x.getHdata().size();
    }
    return 0;
  }
  // CREATE, CREATE_FAST and CREATE2 start a circuit, and only a new one.
  static bool opensFlow(Event::Reader e) {
    return e.isCell() && isCreate(e.getCell().getCommand());
  }
  static bool opensNewFlowOnly(Event::Reader e) { return opensFlow(e); }
  // A DESTROY cell for the flow; `reason` is a tor-spec DESTROY reason.
  static void fillClose(Event::Builder out, FlowId f, uint8_t reason) {
    out.setChannel(static_cast<uint32_t>(f >> 32));
    auto cell = out.initCell();
    cell.setCircId(static_cast<uint32_t>(f));
    cell.setCommand(kDestroy);
    auto payload = cell.initPayload(kCellPayloadBytes);
    payload[0] = reason;
  }
  static void echoClose(Event::Builder out, FlowId f, Event::Reader in) {
    fillClose(out, f, in.getCell().getPayload()[0]);
  }
  // What channeld may send circuitd (proto/channel_circuit.capnp).
  static Verdict admitFromChanneld(Event::Reader e);
  // What circuitd may send channeld.
  static Verdict admitFromCircuitd(Event::Reader e);
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
  template <class E>  // a Reader or a Builder
  static size_t payloadBytes(E e) {
    return e.isRelay() ? e.getRelay().getBody().size() : 0;
  }
  // BEGIN, RESOLVE and BEGIN_DIR start a circuit's stream side, or open one more stream on it.
  static bool opensFlow(Event::Reader e) {
    return e.isRelay() && opensStreamSide(e.getRelay().getCommand());
  }
  static bool opensNewFlowOnly(Event::Reader) { return false; }
  // `closed` with an END reason for every stream still open; never 0 (C tor bug 41353: MISC).
  static void fillClose(Event::Builder out, FlowId f, uint8_t reason) {
    out.setFlow(f);
    out.setClosed(reason == 0 ? static_cast<uint8_t>(cell::EndReason::kMisc) : reason);
  }
  static void echoClose(Event::Builder out, FlowId f, Event::Reader in) {
    fillClose(out, f, in.getClosed());
  }
  // What `from` may send `to` (the relay-command table of relay_commands.h).
  static Verdict admit(Side from, Side to, Event::Reader e);
};

// circuitd <-> confluxd: flow = leg (circuit id); `closed` closes it. `state` reports carry no
// credit (the pipe treats them as control events; the handler checks the leg they name).
struct LegTraits {
  using Sink = proto::LegSink;
  using Batch = proto::LegBatch;
  using Event = proto::LegEvent;
  static constexpr uint32_t kMaxEventsPerBatch = ipc::kMaxEventsPerBatch;
  static constexpr uint32_t kMaxEventBytes = 640;
  static std::optional<FlowId> flowOf(Event::Reader e) {
    if (e.isState()) return std::nullopt;
    return e.getLeg();
  }
  static bool closesFlow(Event::Reader e) { return e.isClosed(); }
  template <class E>  // a Reader or a Builder
  static size_t payloadBytes(E e) {
    if (e.isRelay()) return e.getRelay().getBody().size();
    if (e.isLink()) return e.getLink().getBody().size();
    if (e.isLinked()) return e.getLinked().getBody().size();
    return 0;
  }
  // LINK makes a circuit a leg, once.
  static bool opensFlow(Event::Reader e) { return e.isLink(); }
  static bool opensNewFlowOnly(Event::Reader e) { return e.isLink(); }
  // `closed`: close the leg with DESTROY and this reason.
  static void fillClose(Event::Builder out, FlowId f, uint8_t reason) {
    out.setLeg(f);
    out.setClosed(reason);
  }
  static void echoClose(Event::Builder out, FlowId f, Event::Reader in) {
    fillClose(out, f, in.getClosed());
  }
  static Verdict admitFromCircuitd(Event::Reader e);
  static Verdict admitFromConfluxd(Event::Reader e);
};

}  // namespace onionsplit::ipc
