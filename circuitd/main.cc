// circuitd/main.cc: wiring only (STYLE.md start-up order). circuitd serves channeld on
// IPCDirectory/circuitd.sock (Control + CircuitEntry) and calls streamd and confluxd. The
// circuits themselves live in circuitd/net/reactor.h around circuitd/core/circuit.h.
#include <openssl/rand.h>

#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "circuitd/core/net_params.h"
#include "circuitd/net/oom_handler.h"
#include "circuitd/net/reactor.h"
#include "common/base/clock.h"
#include "common/daemon/mem_share.h"
#include "common/daemon/shards.h"
#include "common/daemon/wiring.h"
#include "common/ipc/client_link.h"
#include "common/ipc/net_params_wire.h"
#include "common/keys/relay_keys.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::circuitd {
namespace {

using Traits = ipc::ChannelCircuitTraits;

// Sends `params` to streamd or confluxd (their setNetParams); a refusal is logged, and the next
// attach sends them again.
template <class Entry>
void sendNetParams(Entry& entry, const std::vector<dirdoc::NetParam>& params, const char* peer) {
  auto req = entry.setNetParamsRequest();
  auto list = req.initParams(static_cast<unsigned>(params.size()));
  for (unsigned i = 0; i < params.size(); ++i) {
    list[i].setName(params[i].name);
    list[i].setValue(params[i].value);
  }
  req.send().detach([peer](kj::Exception&& e) {
    spdlog::info(
        "consensus: {} did not take the parameters ({}); it gets them again when it attaches", peer,
        e.getDescription().cStr());
  });
}

// The consensus parameters streamd and confluxd read (circuit_stream.capnp's and
// circuit_conflux.capnp's setNetParams): circuitd is the one daemon linked to both. The last list
// channeld gave goes to each peer when it attaches and again with every newer list.
class ParamForwarder {
 public:
  // channeld's setNetParams was accepted with these entries.
  void update(std::vector<dirdoc::NetParam> all) {
    streamdParams_ = dirdoc::selectNetParams(all, isStreamdNetParam);
    confluxdParams_ = dirdoc::selectNetParams(all, isConfluxdNetParam);
    have_ = true;
    if (streamd_) sendNetParams(*streamd_, streamdParams_, "streamd");
    if (confluxd_) sendNetParams(*confluxd_, confluxdParams_, "confluxd");
  }
  // A new connection to streamd / confluxd: its entry, which has the parameters (if any) first.
  proto::StreamEntry::Client& streamd(ipc::RpcConnection& c) {
    streamd_ = c.bootstrap<proto::StreamEntry>();
    if (have_) sendNetParams(*streamd_, streamdParams_, "streamd");
    return *streamd_;
  }
  proto::ConfluxEntry::Client& confluxd(ipc::RpcConnection& c) {
    confluxd_ = c.bootstrap<proto::ConfluxEntry>();
    if (have_) sendNetParams(*confluxd_, confluxdParams_, "confluxd");
    return *confluxd_;
  }

 private:
  bool have_ = false;  // channeld has given a list
  std::vector<dirdoc::NetParam> streamdParams_, confluxdParams_;
  std::optional<proto::StreamEntry::Client> streamd_;
  std::optional<proto::ConfluxEntry::Client> confluxd_;
};

class Bootstrap final : public ipc::WithControl<proto::Circuitd::Server> {
 public:
  Bootstrap(const ipc::ControlInfo& info, ipc::ServerSessions<Traits>& sessions, Reactor& reactor,
            uint64_t& netParamUpdates, ParamForwarder& forward, ipc::ConnectionId id,
            std::function<void()> drop)
      : WithControl(info),
        sessions_(sessions),
        reactor_(reactor),
        netParamUpdates_(netParamUpdates),
        forward_(forward),
        id_(id),
        drop_(std::move(drop)) {}
  kj::Promise<void> attach(AttachContext ctx) override {
    ctx.getResults().setToCircuitd(sessions_.attach(
        id_, std::make_unique<ChanneldSession>(reactor_, drop_), ctx.getParams().getToChanneld()));
    return kj::READY_NOW;
  }
  kj::Promise<void> setNetParams(SetNetParamsContext ctx) override {
    auto wire = ipc::netParamsOf(ctx.getParams().getParams());
    if (!wire) return KJ_EXCEPTION(FAILED, "setNetParams: too many parameters");
    auto checked = circuitParamsFromWire(*wire);
    if (!checked) return KJ_EXCEPTION(FAILED, "setNetParams", checked.error().c_str());
    const CircuitParams& fresh = *checked;
    const CircuitParams& old = reactor_.params();
    if (fresh.cc.ccAlg != old.cc.ccAlg || fresh.cc.sendmeInc != old.cc.sendmeInc ||
        fresh.circWindow != old.circWindow)
      spdlog::info("consensus: cc_alg {}, cc_sendme_inc {}, circwindow {} for new circuits",
                   fresh.cc.ccAlg, fresh.cc.sendmeInc, fresh.circWindow);
    reactor_.setParams(fresh);
    ++netParamUpdates_;
    std::vector<dirdoc::NetParam> all;
    all.reserve(wire->size());
    for (const auto& [name, value] : *wire)
      all.push_back({std::string(name), value});
    forward_.update(std::move(all));
    return kj::READY_NOW;
  }
  kj::Promise<void> setKnownRelays(SetKnownRelaysContext ctx) override {
    auto wire = ctx.getParams().getRelays();
    auto known = KnownRelays::fromWire(Bytes(wire.begin(), wire.size()));
    if (!known) return KJ_EXCEPTION(FAILED, "setKnownRelays", known.error().c_str());
    if (!reactor_.knownRelays() || reactor_.knownRelays()->size() != known->size())
      spdlog::info("consensus: {} known relays", known->size());
    reactor_.setKnownRelays(std::move(*known));
    return kj::READY_NOW;
  }

 private:
  ipc::ServerSessions<Traits>& sessions_;
  Reactor& reactor_;
  uint64_t& netParamUpdates_;  // consensus_params_updates_total
  ParamForwarder& forward_;
  ipc::ConnectionId id_;
  std::function<void()> drop_;
};

Expected<OnionIdentity, std::string> loadIdentity(const std::string& dataDirectory) {
  auto keys = keys::loadOnionKeys(dataDirectory);
  if (!keys) return fail(keys.error());
  OnionIdentity id;
  id.rsaId = keys->rsaIdDigest;
  std::copy(keys->edIdentity.begin(), keys->edIdentity.end(), id.edId.begin());
  for (const auto* k : {&keys->current, keys->previous ? &*keys->previous : nullptr}) {
    if (!k) continue;
    auto pair = crypto::Curve25519Keypair::fromSecret(Bytes(k->secret));
    if (!pair) return fail(std::string("unusable ntor onion key"));
    id.onionKeys.push_back(*pair);
  }
  return id;
}

// C tor's tor_relay_congestion_control gauges that circuitd keeps (the launcher's table,
// launcher/metrics_format.cc), rounded as C tor rounds them.
void addCcGauges(const flowctl::CcGauges& g, std::vector<std::pair<std::string, uint64_t>>& out) {
  auto round = [](double v) { return static_cast<uint64_t>(std::llround(v)); };
  out.emplace_back("cc_slow_start_exit_cwnd", round(g.exitSsCwnd));
  out.emplace_back("cc_slow_start_exit_bdp", round(g.exitSsBdp));
  out.emplace_back("cc_slow_start_exit_inc", round(g.exitSsInc));
  out.emplace_back("cc_on_circ_close_cwnd", round(g.closeCwnd));
  out.emplace_back("cc_on_circ_close_ss_cwnd", round(g.closeSsCwnd));
}

// Reactor::Counters::onionServiceCells, in its order.
constexpr const char* kOnionServiceCounters[] = {
    "est_intro_cells_refused_total", "est_rend_cells_refused_total", "intro1_cells_refused_total",
    "rend1_cells_refused_total"};

int run(daemon::Runtime& rt) {
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  auto id = loadIdentity(rt.config().dataDirectory);
  if (!id) {
    spdlog::error("onion keys: {}", id.error());
    return 1;
  }
  // C tor 0.4.9's defaults until channeld hands over a verified consensus' parameters.
  Reactor reactor(
      std::move(*id), CircuitParams{},
      [](MutBytes out) { RAND_bytes(out.data(), static_cast<int>(out.size())); }, monotonicUsec);
  // MaxMemInQueues: circuitd's share bounds the cells its circuits queue (oom_handler.h).
  // The shards (NumCPUs) split circuitd's share evenly; their number is fixed while running.
  const uint64_t physical = daemon::physicalMemory();
  const unsigned shards = daemon::circuitdShards(rt.config());
  auto budget = [&] {
    return daemon::memShare(rt.config(), physical, &flowctl::DaemonBudgets::circuitd) / shards;
  };
  reactor.memory().setBudget(budget());
  OomHandler oom(rt.loop().base(), reactor);
  spdlog::info("{}: memory budget {} MB (its share of MaxMemInQueues, shard {} of {})", rt.name(),
               reactor.memory().budget() >> 20, rt.shard(), shards);
  ipc::ServerSessions<Traits> channels;
  uint64_t netParamUpdates = 0;
  ParamForwarder forward;  // before the links: their connections' entries live in it
  auto listener = daemon::serve(
      rt, fd,
      [&](ipc::ConnectionId cid, std::function<void()> drop) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control(), channels, reactor, netParamUpdates, forward, cid,
                                   std::move(drop));
      },
      [&](ipc::ConnectionId cid) { channels.closed(cid); });
  channels.usePlanesOf(*listener);
  ipc::ClientLink<ipc::StreamTraits> streamd(
      rt.loop(), rt.socketPath("streamd"), "streamd",
      [&reactor](auto drop) { return std::make_unique<StreamdSession>(reactor, drop); },
      [&forward](ipc::RpcConnection& c, proto::StreamSink::Client ours) {
        auto req = forward.streamd(c).attachCircuitdRequest();
        req.setToCircuitd(kj::mv(ours));
        return req.send().then([](auto&& r) { return r.getToStreamd(); });
      });
  reactor.setStreamdLookup([&streamd] { return static_cast<StreamdSession*>(streamd.session()); });
  ipc::ClientLink<ipc::LegTraits> confluxd(
      rt.loop(), rt.socketPath("confluxd"), "confluxd",
      [&reactor](auto drop) { return std::make_unique<ConfluxdSession>(reactor, drop); },
      [&forward](ipc::RpcConnection& c, proto::LegSink::Client ours) {
        auto req = forward.confluxd(c).attachCircuitdRequest();
        req.setToCircuitd(kj::mv(ours));
        return req.send().then([](auto&& r) { return r.getToConfluxd(); });
      });
  reactor.setConfluxdLookup(
      [&confluxd] { return static_cast<ConfluxdSession*>(confluxd.session()); });
  rt.control().waitingFor = [&] {
    std::vector<std::string> w;
    if (!streamd.attached()) w.push_back("streamd");
    if (!confluxd.attached()) w.push_back("confluxd");
    return w;
  };
  rt.control().counters = [&](std::vector<std::pair<std::string, uint64_t>>& out) {
    out.emplace_back("consensus_params_updates_total", netParamUpdates);
    out.emplace_back("consensus_cc_sendme_inc", reactor.params().cc.sendmeInc);
    out.emplace_back("consensus_cc_alg", reactor.params().cc.ccAlg);
    out.emplace_back("consensus_circwindow", reactor.params().circWindow);
    const auto& c = reactor.counters();
    out.emplace_back("ipc_connections_accepted_total", listener->accepted());
    out.emplace_back("ipc_channeld_sessions", channels.size());
    // Batching: events per batch is what amortises each call's fixed cost.
    ipc::PipeStats toChanneld;
    channels.forEach([&toChanneld](const ipc::Session<Traits>& s) { toChanneld += s.pipeStats(); });
    out.emplace_back("ipc_channeld_batches_sent_total", toChanneld.batchesSent);
    out.emplace_back("ipc_channeld_events_sent_total", toChanneld.eventsSent);
    out.emplace_back("ipc_channeld_batches_received_total", toChanneld.batchesReceived);
    out.emplace_back("ipc_channeld_events_received_total", toChanneld.eventsReceived);
    out.emplace_back("ipc_channeld_events_crossed_close_total", toChanneld.crossedClose);
    out.emplace_back("ipc_credit_over_returns_total", toChanneld.overReturns);
    if (auto* sd = streamd.session()) {
      out.emplace_back("ipc_streamd_batches_sent_total", sd->pipeStats().batchesSent);
      out.emplace_back("ipc_streamd_events_sent_total", sd->pipeStats().eventsSent);
      out.emplace_back("ipc_streamd_batches_received_total", sd->pipeStats().batchesReceived);
      out.emplace_back("ipc_streamd_events_received_total", sd->pipeStats().eventsReceived);
    }
    out.emplace_back("ipc_streamd_connects_total", streamd.connects());
    out.emplace_back("ipc_confluxd_connects_total", confluxd.connects());
    out.emplace_back("circuits_open", reactor.circuits());
    out.emplace_back("circuits_created_fast_total", c.createdFast);
    out.emplace_back("circuits_created_ntor_total", c.createdNtor);
    out.emplace_back("circuits_created_ntor3_total", c.createdNtor3);
    out.emplace_back("circuits_congestion_control_total", c.createdCc);
    out.emplace_back("circuits_cgo_total", c.createdCgo);
    addCcGauges(reactor.ccGauges(), out);
    out.emplace_back("circuits_create_refused_total", c.refusedCreates);
    out.emplace_back("circuits_destroyed_locally_total", c.destroyedByUs);
    out.emplace_back("circuits_destroyed_by_client_total", c.destroyedByClient);
    out.emplace_back("cells_from_client_total", c.cellsFromClient);
    out.emplace_back("cells_to_client_total", c.cellsToClient);
    out.emplace_back("cgo_cells_from_client_total", c.cgoCellsFromClient);
    out.emplace_back("cgo_cells_to_client_total", c.cgoCellsToClient);
    out.emplace_back("stream_messages_to_streamd_total", c.streamMessagesOut);
    out.emplace_back("stream_messages_from_streamd_total", c.streamMessagesIn);
    out.emplace_back("streams_single_hop_refused_total", c.singleHopRefused);
    out.emplace_back("streams_unknown_relay_refused_total", c.unknownRelayRefused);
    out.emplace_back("consensus_known_relays",
                     reactor.knownRelays() ? reactor.knownRelays()->size() : 0);
    out.emplace_back("circuits_protocol_violations_total", c.protocolViolations);
    out.emplace_back("drop_cells_received_total", c.dropCells);
    for (size_t i = 0; i < c.onionServiceCells.size(); ++i)
      out.emplace_back(kOnionServiceCounters[i], c.onionServiceCells[i]);
    out.emplace_back("extends_requested_total", c.extendsRequested);
    out.emplace_back("extends_failed_total", c.extendsFailed);
    out.emplace_back("extended_total", c.extended);
    out.emplace_back("cells_forwarded_total", c.cellsForwarded);
    out.emplace_back("cells_relayed_back_total", c.cellsRelayedBack);
    out.emplace_back("truncates_total", c.truncates);
    out.emplace_back("circuits_destroyed_by_next_hop_total", c.destroyedByNextHop);
    out.emplace_back("conflux_legs_linking_total", c.legsLinking);
    out.emplace_back("conflux_legs_refused_total", c.legsRefused);
    out.emplace_back("conflux_legs_closed_by_confluxd_total", c.legsClosedByConfluxd);
    out.emplace_back("leg_messages_to_confluxd_total", c.legMessagesOut);
    out.emplace_back("leg_messages_from_confluxd_total", c.legMessagesIn);
    out.emplace_back("leg_state_reports_total", c.legStateReports);
    out.emplace_back("circuits_cap_refused_total", c.circuitCapRefused);
    out.emplace_back("memory_held_bytes", reactor.memory().bytes());
    out.emplace_back("memory_budget_bytes", reactor.memory().budget());
    out.emplace_back("oom_bytes_total", c.oomBytesFreed);
    out.emplace_back("oom_circuits_closed_total", c.oomCircuitsClosed);
    auto cc = reactor.ccSnapshot();
    out.emplace_back("cc_circuits_in_slow_start", cc.inSlowStart);
    out.emplace_back("cc_cwnd_max_cells", cc.cwndMax);
    out.emplace_back("cc_cwnd_max_min_rtt_usec", cc.minRttUsec);
    out.emplace_back("cc_cwnd_max_ewma_rtt_usec", cc.ewmaRttUsec);
  };
  rt.onReload([&](const config::Config&) {
    if (uint64_t b = budget(); b != reactor.memory().budget()) {
      reactor.memory().setBudget(b);  // applies at once: over it, the OOM handler runs
      spdlog::info("reload: circuitd's memory budget is now {} MB (MaxMemInQueues)", b >> 20);
      if (reactor.memory().over()) oom.schedule();
    }
    auto fresh = loadIdentity(rt.config().dataDirectory);
    if (!fresh) {
      spdlog::warn("onion keys: {}; keeping the keys in use", fresh.error());
      return;
    }
    spdlog::info("onion keys reloaded ({} in use)", fresh->onionKeys.size());
    reactor.setIdentity(std::move(*fresh));
  });
  streamd.start();
  confluxd.start();
  return rt.run();
}

}  // namespace
}  // namespace onionsplit::circuitd

int main(int argc, char** argv) {
  return onionsplit::daemon::daemonMain(argc, argv, "circuitd", onionsplit::circuitd::run);
}
