// streamd/main.cc: wiring only (STYLE.md start-up order). streamd serves circuitd and confluxd on
// IPCDirectory/streamd.sock (Control + StreamEntry + ConfluxStreamEntry); it calls nobody.
//
// The exit policy comes from the config exactly as channeld advertises it (policyFromConfig), the
// nameservers from ServerDNSResolvConfFile. Every attach gets a StreamSession (streamd/net/): for
// circuitd its flows are circuits, for confluxd conflux sets.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/relay_options.h"
#include "common/config/reload.h"
#include "common/daemon/mem_share.h"
#include "common/daemon/wiring.h"
#include "common/dos/dos_params.h"
#include "common/exitpolicy/from_config.h"
#include "common/flowctl/mem_budget.h"
#include "common/ipc/net_params_wire.h"
#include "common/sandbox/policy.h"
#include "proto/daemons.capnp.h"
#include "streamd/core/net_params.h"
#include "streamd/net/oom_handler.h"
#include "streamd/net/resolver.h"
#include "streamd/net/stream_session.h"

namespace onionsplit::streamd {
namespace {

using Sessions = ipc::ServerSessions<ipc::StreamTraits>;
using ApplyNetParams = std::function<void(const StreamNetParams&)>;

class Bootstrap final : public ipc::WithControl<proto::Streamd::Server> {
 public:
  Bootstrap(const ipc::ControlInfo& info, StreamdContext& ctx, Sessions& circuits, Sessions& sets,
            const ApplyNetParams& apply, ipc::ConnectionId id, std::function<void()> drop)
      : WithControl(info),
        ctx_(ctx),
        circuits_(circuits),
        sets_(sets),
        apply_(apply),
        id_(id),
        drop_(std::move(drop)) {}

  kj::Promise<void> attachCircuitd(AttachCircuitdContext ctx) override {
    auto session = std::make_unique<StreamSession>("circuitd", ipc::Side::kCircuitd, ctx_, drop_);
    ctx.getResults().setToStreamd(
        circuits_.attach(id_, std::move(session), ctx.getParams().getToCircuitd()));
    return kj::READY_NOW;
  }
  kj::Promise<void> attachConfluxd(AttachConfluxdContext ctx) override {
    auto session = std::make_unique<StreamSession>("confluxd", ipc::Side::kConfluxd, ctx_, drop_);
    ctx.getResults().setToStreamd(
        sets_.attach(id_, std::move(session), ctx.getParams().getToConfluxd()));
    return kj::READY_NOW;
  }
  kj::Promise<void> setNetParams(SetNetParamsContext ctx) override {
    auto wire = ipc::netParamsOf(ctx.getParams().getParams());
    if (!wire) return KJ_EXCEPTION(FAILED, "setNetParams: too many parameters");
    auto fresh = streamNetParamsFromWire(*wire);
    if (!fresh) return KJ_EXCEPTION(FAILED, "setNetParams", fresh.error().c_str());
    apply_(*fresh);
    return kj::READY_NOW;
  }
  kj::Promise<void> setHibernating(SetHibernatingContext ctx) override {
    ctx_.setHibernating(id_, ctx.getParams().getHibernating());
    return kj::READY_NOW;
  }

 private:
  StreamdContext& ctx_;
  Sessions& circuits_;
  Sessions& sets_;
  const ApplyNetParams& apply_;
  ipc::ConnectionId id_;
  std::function<void()> drop_;
};

const char* endReasonName(size_t r) {
  static const char* const kNames[] = {
      "none",      "misc",        "resolvefailed", "connectrefused", "exitpolicy", "destroy",
      "done",      "timeout",     "noroute",       "hibernating",    "internal",   "resourcelimit",
      "connreset", "torprotocol", "notdirectory",  "other"};
  return r < 16 ? kNames[r] : "other";
}

// Whether every port of `fresh` is in `running` (nullopt: every port).
bool portsWithin(const std::optional<std::vector<uint16_t>>& fresh,
                 const std::optional<std::vector<uint16_t>>& running) {
  if (!running) return true;
  if (!fresh) return false;
  return std::includes(running->begin(), running->end(), fresh->begin(), fresh->end());
}

// streamd's share of MaxMemInQueues (common/flowctl/mem_budget.h).
uint64_t streamdBudget(const config::Config& cfg, uint64_t physical) {
  return daemon::memShare(cfg, physical, &flowctl::DaemonBudgets::streamd);
}

// The torrc's options for new streams, at start and at every reload.
void applyExitOptions(StreamShared& shared, const config::Config& cfg) {
  shared.ipv6Exit = cfg.ipv6Exit;
  shared.limits.allowNonRfc953Hostnames = cfg.serverDnsAllowNonRfc953Hostnames;
}

// The resolver's counters (C tor's tor_relay_exit_dns_* among them), and its DNS health ones with a
// label in the name as `name{key=value}` (the MetricsPort makes it a label,
// launcher/metrics_format.h): per nameserver the attempts and timeouts, and the query latency
// histogram (cumulative buckets, the sum in microseconds).
void addDnsCounters(const Resolver& resolver, std::vector<std::pair<std::string, uint64_t>>& out) {
  out.emplace_back("dns_queries_total", resolver.stats().queries);
  out.emplace_back("dns_cache_hits_total", resolver.stats().cacheHits);
  out.emplace_back("dns_queries_coalesced_total", resolver.stats().coalesced);
  out.emplace_back("dns_failures_total", resolver.stats().failures);
  for (const auto& [result, n] : resolver.stats().answersByResult)
    out.emplace_back("dns_answers_" + std::string(result) + "_total", n);
  out.emplace_back("dns_invalid_names_total", resolver.stats().invalidNames);
  out.emplace_back("dns_cache_entries", resolver.cacheSize());
  for (size_t i = 0; i < resolver.nameservers(); ++i) {
    const auto& c = resolver.rotation().counts(i);
    std::string label = "{resolver=" + resolver.nameserverAddress(i) + "}";
    out.emplace_back("dns_resolver_attempts_total" + label, c.attempts);
    out.emplace_back("dns_resolver_timeouts_total" + label, c.timeouts);
    out.emplace_back("dns_resolver_down" + label, resolver.rotation().down(i) ? 1 : 0);
  }
  const LatencyHistogram& h = resolver.latency();
  for (size_t i = 0; i < LatencyHistogram::kBoundsUs.size(); ++i)
    out.emplace_back("dns_query_duration_seconds_bucket{le=" +
                         std::string(LatencyHistogram::kBoundLabels[i]) + "}",
                     h.atMost(i));
  out.emplace_back("dns_query_duration_seconds_bucket{le=+Inf}", h.count());
  out.emplace_back("dns_query_duration_seconds_sum_micros", h.sumMicros());
  out.emplace_back("dns_query_duration_seconds_count", h.count());
}

int run(daemon::Runtime& rt) {
  const config::Config& cfg = rt.config();
  auto policy = exitpolicy::policyFromConfig(cfg);
  if (!policy) {
    spdlog::error("exit policy: {}", policy.error());
    return 1;
  }
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  StreamShared shared(*policy);
  applyExitOptions(shared, cfg);
  // DoSStreamCreation*: the torrc over the consensus' values (from circuitd, setNetParams) over C
  // tor's defaults; XON/XOFF: the consensus' cc_xoff_*/cc_xon_* or C tor's defaults.
  shared.dos = dos::resolve(cfg.dos, {});
  dos::ConsensusParams consensusDos;
  uint64_t paramUpdates = 0;
  Resolver resolver(rt.loop().base(), cfg.serverDnsResolvConfFile);
  ApplyNetParams applyNetParams = [&](const StreamNetParams& p) {
    if (p.xonXoff.xoffExitCells != shared.xonXoff.xoffExitCells)
      spdlog::info("consensus: cc_xoff_exit {} for new streams", p.xonXoff.xoffExitCells);
    shared.xonXoff = p.xonXoff;
    consensusDos = p.dos;
    shared.dos = dos::resolve(cfg.dos, consensusDos);
    resolver.setAttempts(p.dnsTimeoutSeconds, p.dnsAttempts);
    ++paramUpdates;
  };
  StreamdContext ctx(rt.loop().base(), resolver, shared);
  // Ended streams flush what the client sent (C tor: connection_mark_and_flush), at most 4096
  // sockets at once, each for at most 30 s.
  SocketLinger linger(rt.loop().base(), 4096, 30000);
  ctx.linger = &linger;
  // MaxMemInQueues: streamd's share bounds the socket buffers it holds (oom_handler.h).
  const uint64_t physical = daemon::physicalMemory();
  ctx.memory.setBudget(streamdBudget(cfg, physical));
  linger.account(ctx.memory);
  OomHandler oom(ctx);
  spdlog::info("streamd: memory budget {} MB (its share of MaxMemInQueues {} MB{})",
               ctx.memory.budget() >> 20,
               flowctl::effectiveMaxMemInQueues(cfg.maxMemInQueuesBytes, physical) >> 20,
               cfg.maxMemInQueuesBytes ? "" : ", from the physical memory");
  ctx.bindIpv4 = config::exitBindAddress(cfg, false);
  ctx.bindIpv6 = config::exitBindAddress(cfg, true);
  Sessions circuits, sets;
  auto listener = daemon::serve(
      rt, fd,
      [&](ipc::ConnectionId id, std::function<void()> drop) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control(), ctx, circuits, sets, applyNetParams, id,
                                   std::move(drop));
      },
      [&](ipc::ConnectionId id) {
        circuits.closed(id);
        sets.closed(id);
        ctx.connectionClosed(id);
      });
  circuits.usePlanesOf(*listener);
  sets.usePlanesOf(*listener);
  // SIGHUP: a changed exit policy applies to every BEGIN from now on (streams already open stay,
  // as in C tor). The sandbox lets connect() reach only the ports the policy had at start-up; a
  // policy that accepts more needs a new sandbox, so streamd then exits and is started again.
  auto sandboxPorts = sandbox::exitPorts(cfg);
  uint64_t policyReloads = 0;
  rt.onReload([&](const config::Config& previous) {
    shared.dos = dos::resolve(cfg.dos, consensusDos);  // new BEGINs and RESOLVEs follow it
    if (uint64_t b = streamdBudget(cfg, physical); b != ctx.memory.budget()) {
      ctx.memory.setBudget(b);  // applies at once: over it, the OOM handler runs
      spdlog::info("reload: streamd's memory budget is now {} MB (MaxMemInQueues)", b >> 20);
      if (ctx.memory.over()) oom.schedule();
    }
    if (!config::exitPolicyChanged(previous, cfg)) return;
    auto fresh = exitpolicy::policyFromConfig(cfg);
    if (!fresh) {  // the launcher checked it; a file changed under us since
      spdlog::warn("reload: exit policy: {}; the running policy stays", fresh.error());
      return;
    }
    if (cfg.sandbox && !portsWithin(sandbox::exitPorts(cfg), sandboxPorts)) {
      spdlog::info(
          "reload: the exit policy now accepts ports this streamd's sandbox was started "
          "without; restarting to take them (open exit streams end)");
      rt.loop().stop();
      return;
    }
    *policy = std::move(*fresh);
    applyExitOptions(shared, cfg);
    ++policyReloads;
    spdlog::info("reload: exit policy replaced; new streams follow it");
  });
  rt.onShutdownBegin([&] { ctx.beginShutdown(); });
  rt.control().waitingFor = [] { return std::vector<std::string>{}; };
  rt.control().counters = [&](std::vector<std::pair<std::string, uint64_t>>& out) {
    out.emplace_back("ipc_connections_accepted_total", listener->accepted());
    out.emplace_back("exit_policy_reloads_total", policyReloads);
    out.emplace_back("dos_stream_rejected_total", shared.dosCounters.streamRejected);
    out.emplace_back("oom_bytes_total", oom.bytesFreed());
    out.emplace_back("oom_streams_closed_total", oom.streamsClosed());
    out.emplace_back("memory_held_bytes", ctx.memory.bytes());
    out.emplace_back("memory_budget_bytes", ctx.memory.budget());
    out.emplace_back("consensus_params_updates_total", paramUpdates);
    out.emplace_back("consensus_cc_xoff_exit", shared.xonXoff.xoffExitCells);
    out.emplace_back("dos_stream_creation_enabled", shared.dos.streamEnabled ? 1 : 0);
    out.emplace_back("ipc_circuitd_sessions", circuits.size());
    out.emplace_back("ipc_confluxd_sessions", sets.size());
    const StreamCounters& c = shared.counters;
    out.emplace_back("streams_opened_total", c.opened);
    out.emplace_back("streams_open", c.open);
    out.emplace_back("resolve_requests_total", c.resolveRequests);
    out.emplace_back("bytes_to_client_total", c.bytesToClient);
    out.emplace_back("bytes_from_client_total", c.bytesFromClient);
    // The same bytes as the exit sockets moved them: C tor's tor_relay_traffic_bytes and
    // GETINFO traffic/* count exit connections beside the links.
    out.emplace_back("exit_bytes_read_total", c.bytesToClient);
    out.emplace_back("exit_bytes_written_total", c.bytesFromClient);
    out.emplace_back("connects_out_of_ports_total", c.tcpExhaustion);
    out.emplace_back("messages_unknown_stream_total", c.unknownStream);
    out.emplace_back("dns_lookups_in_flight", c.lookups);
    out.emplace_back("dns_lookups_refused_total", c.lookupsRefused);
    out.emplace_back("hibernating", shared.hibernating ? 1 : 0);
    out.emplace_back("streams_refused_hibernating_total", c.refusedHibernating);
    for (size_t r = 1; r < c.endsSent.size(); ++r)
      if (c.endsSent[r])
        out.emplace_back(std::string("ends_sent_") + endReasonName(r) + "_total", c.endsSent[r]);
    size_t sockets = 0;
    ipc::PipeStats pipes;  // both boundaries' pipes together
    auto count = [&](const ipc::Session<ipc::StreamTraits>& s) {
      sockets += static_cast<const StreamSession&>(s).sockets();
      pipes += s.pipeStats();
    };
    circuits.forEach(count);
    sets.forEach(count);
    out.emplace_back("ipc_batches_sent_total", pipes.batchesSent);
    out.emplace_back("ipc_events_sent_total", pipes.eventsSent);
    out.emplace_back("ipc_batches_received_total", pipes.batchesReceived);
    out.emplace_back("ipc_events_received_total", pipes.eventsReceived);
    out.emplace_back("ipc_events_crossed_close_total", pipes.crossedClose);
    out.emplace_back("ipc_credit_over_returns_total", pipes.overReturns);
    out.emplace_back("sockets_open", sockets);
    out.emplace_back("sockets_flushing", linger.lingering());
    out.emplace_back("sockets_in_use", sockets + linger.lingering());
    out.emplace_back("sockets_limit", daemon::openFileLimit());
    out.emplace_back("sockets_flushed_after_end_total", linger.counters().flushed);
    out.emplace_back("sockets_flush_failed_total", linger.counters().failed);
    out.emplace_back("sockets_flush_refused_total", linger.counters().refused);
    addDnsCounters(resolver, out);
  };
  return rt.run();
}

}  // namespace
}  // namespace onionsplit::streamd

int main(int argc, char** argv) {
  return onionsplit::daemon::daemonMain(argc, argv, "streamd", onionsplit::streamd::run);
}
