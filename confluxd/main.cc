// confluxd/main.cc: wiring only (STYLE.md start-up order). confluxd serves circuitd on
// IPCDirectory/confluxd.sock (Control + ConfluxEntry) and calls streamd. The sets themselves live
// in confluxd/net/reactor.h around common/conflux (ConfluxMgr, one ConfluxController per set).

#include <spdlog/spdlog.h>

#include <string_view>
#include <utility>
#include <vector>

#include "common/base/clock.h"
#include "common/conflux/params.h"
#include "common/daemon/mem_share.h"
#include "common/daemon/wiring.h"
#include "common/ipc/client_link.h"
#include "common/ipc/net_params_wire.h"
#include "confluxd/net/oom_handler.h"
#include "confluxd/net/reactor.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::confluxd {
namespace {

using Traits = ipc::LegTraits;

class Bootstrap final : public ipc::WithControl<proto::Confluxd::Server> {
 public:
  Bootstrap(const ipc::ControlInfo& info, ipc::ServerSessions<Traits>& sessions, Reactor& reactor,
            const conflux::ConfluxParams& local, uint64_t& updates, ipc::ConnectionId id,
            std::function<void()> drop)
      : WithControl(info),
        sessions_(sessions),
        reactor_(reactor),
        local_(local),
        updates_(updates),
        id_(id),
        drop_(std::move(drop)) {}
  kj::Promise<void> attachCircuitd(AttachCircuitdContext ctx) override {
    ctx.getResults().setToConfluxd(sessions_.attach(
        id_, std::make_unique<CircuitdSession>(reactor_, drop_), ctx.getParams().getToCircuitd()));
    return kj::READY_NOW;
  }
  kj::Promise<void> setNetParams(SetNetParamsContext ctx) override {
    auto wire = ipc::netParamsOf(ctx.getParams().getParams());
    if (!wire) return KJ_EXCEPTION(FAILED, "setNetParams: too many parameters");
    auto fresh = conflux::confluxParamsFromWire(*wire, local_);
    if (!fresh) return KJ_EXCEPTION(FAILED, "setNetParams", fresh.error().c_str());
    const conflux::ConfluxParams& old = reactor_.params();
    if (fresh->enabled != old.enabled || fresh->maxLegsPerSet != old.maxLegsPerSet ||
        fresh->maxOooqBytes != old.maxOooqBytes)
      spdlog::info("consensus: cfx_enabled {}, cfx_max_legs_set {}, reorder cap {} bytes",
                   fresh->enabled ? 1 : 0, fresh->maxLegsPerSet, fresh->maxOooqBytes);
    reactor_.setParams(*fresh);
    ++updates_;
    return kj::READY_NOW;
  }

 private:
  ipc::ServerSessions<Traits>& sessions_;
  Reactor& reactor_;
  const conflux::ConfluxParams& local_;  // confluxd's own bounds (kMaxOooqBytes)
  uint64_t& updates_;                    // consensus_params_updates_total
  ipc::ConnectionId id_;
  std::function<void()> drop_;
};

// The reorder queue's byte cap per set. C tor's consensus default (cfx_max_oooq_bytes) is
// INT32_MAX, leaving the bound to its OOM handler; a set here holds at most this much out of order
// before the leg that overflows it closes (RESOURCELIMIT).
constexpr uint64_t kMaxOooqBytes = 2 * 1024 * 1024;

int run(daemon::Runtime& rt) {
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  conflux::ConfluxParams params;
  params.maxOooqBytes = kMaxOooqBytes;
  Reactor reactor(params, monotonicUsec);
  // MaxMemInQueues: confluxd's share bounds the sets' queues (oom_handler.h).
  const uint64_t physical = daemon::physicalMemory();
  auto budget = [&] {
    return daemon::memShare(rt.config(), physical, &flowctl::DaemonBudgets::confluxd);
  };
  reactor.memory().setBudget(budget());
  OomHandler oom(rt.loop().base(), reactor);
  spdlog::info("confluxd: memory budget {} MB (its share of MaxMemInQueues)",
               reactor.memory().budget() >> 20);
  rt.onReload([&](const config::Config&) {
    if (uint64_t b = budget(); b != reactor.memory().budget()) {
      reactor.memory().setBudget(b);  // applies at once: over it, the OOM handler runs
      spdlog::info("reload: confluxd's memory budget is now {} MB (MaxMemInQueues)", b >> 20);
      if (reactor.memory().over()) oom.schedule();
    }
  });
  ipc::ServerSessions<Traits> legs;
  uint64_t paramUpdates = 0;
  auto listener = daemon::serve(
      rt, fd,
      [&](ipc::ConnectionId id, std::function<void()> drop) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control(), legs, reactor, params, paramUpdates, id,
                                   std::move(drop));
      },
      [&](ipc::ConnectionId id) { legs.closed(id); });
  legs.usePlanesOf(*listener);
  ipc::ClientLink<ipc::StreamTraits> streamd(
      rt.loop(), rt.socketPath("streamd"), "streamd",
      [&reactor](auto drop) { return std::make_unique<StreamdSession>(reactor, drop); },
      [](ipc::RpcConnection& c, proto::StreamSink::Client ours) {
        auto req = c.bootstrap<proto::ConfluxStreamEntry>().attachConfluxdRequest();
        req.setToConfluxd(kj::mv(ours));
        return req.send().then([](auto&& r) { return r.getToStreamd(); });
      });
  reactor.setStreamdLookup([&streamd] { return static_cast<StreamdSession*>(streamd.session()); });
  rt.control().waitingFor = [&] {
    return streamd.attached() ? std::vector<std::string>{} : std::vector<std::string>{"streamd"};
  };
  rt.control().counters = [&](std::vector<std::pair<std::string, uint64_t>>& out) {
    const ConfluxCounters& c = reactor.counters();
    out.emplace_back("ipc_connections_accepted_total", listener->accepted());
    out.emplace_back("ipc_circuitd_sessions", legs.size());
    out.emplace_back("ipc_streamd_connects_total", streamd.connects());
    out.emplace_back("consensus_params_updates_total", paramUpdates);
    out.emplace_back("consensus_cfx_max_legs_set", reactor.params().maxLegsPerSet);
    out.emplace_back("conflux_reorder_cap_bytes", reactor.params().maxOooqBytes);
    out.emplace_back("conflux_sets_open", reactor.sets());
    out.emplace_back("conflux_legs_open", reactor.legs());
    out.emplace_back("conflux_links_received_total", c.linksReceived);
    out.emplace_back("conflux_legs_linked_total", c.legsLinked);
    out.emplace_back("conflux_legs_refused_total", c.legsRefused);
    out.emplace_back("conflux_legs_closed_by_circuitd_total", c.legsClosedByCircuitd);
    out.emplace_back("conflux_sets_linked_total", c.setsLinked);
    out.emplace_back("conflux_sets_across_shards_total", c.setsAcrossShards);
    out.emplace_back("conflux_sets_torn_down_total", c.setsTornDown);
    out.emplace_back("conflux_linked_acks_total", c.linkedAcks);
    out.emplace_back("conflux_switches_sent_total", c.switchesSent);
    out.emplace_back("conflux_switches_received_total", c.switchesReceived);
    out.emplace_back("conflux_messages_to_streamd_total", c.messagesToStreamd);
    out.emplace_back("conflux_messages_to_client_total", c.messagesToClient);
    out.emplace_back("conflux_reordered_messages_total", c.reorderedMessages);
    out.emplace_back("conflux_reorder_bytes_max", c.reorderBytesMax);
    out.emplace_back("conflux_streams_refused_total", c.streamsRefused);
    out.emplace_back("conflux_sets_over_local_slots_total", c.setsOverLocalSlots);
    out.emplace_back("conflux_links_seqno_recv_ahead_total", c.linksSeqnoRecvAhead);
    out.emplace_back("conflux_linked_ack_timeouts_total", c.linkedAckTimeouts);
    out.emplace_back("memory_held_bytes", reactor.memory().bytes());
    out.emplace_back("memory_budget_bytes", reactor.memory().budget());
    out.emplace_back("oom_bytes_total", c.oomBytesFreed);
    out.emplace_back("oom_sets_closed_total", c.oomSetsClosed);
  };
  // The LINKED_ACK deadline (ConfluxParams::linkedAckTimeoutUsec): overdue legs close, checked
  // once a second.
  std::function<kj::Promise<void>()> tick = [&]() -> kj::Promise<void> {
    return rt.loop().afterDelay(1000).then([&]() {
      reactor.expireLinkedAcks(monotonicUsec());
      return tick();
    });
  };
  kj::Promise<void> ticking = tick().eagerlyEvaluate([](kj::Exception&& e) {
    spdlog::error("confluxd: the LINKED_ACK timer failed: {}", e.getDescription().cStr());
  });
  streamd.start();
  return rt.run();
}

}  // namespace
}  // namespace onionsplit::confluxd

int main(int argc, char** argv) {
  return onionsplit::daemon::daemonMain(argc, argv, "confluxd", onionsplit::confluxd::run);
}
