// circuitd/main.cc: wiring only (STYLE.md start-up order). circuitd serves channeld on
// IPCDirectory/circuitd.sock (Control + CircuitEntry) and calls streamd and confluxd.
//
// Circuits themselves (CREATE2, relay crypto, the FWD/BWD reactors) arrive with the exit-traffic
// issue; until then circuitd answers every CREATE with DESTROY (RESOURCELIMIT), a refusal a Tor
// client handles by choosing another relay.
#include "common/daemon/wiring.h"
#include "common/ipc/client_link.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::circuitd {
namespace {

using Traits = ipc::ChannelCircuitTraits;

class Bootstrap final : public daemon::SessionBootstrap<proto::Circuitd::Server, Traits> {
 public:
  using SessionBootstrap::SessionBootstrap;
  kj::Promise<void> attach(AttachContext ctx) override {
    ctx.getResults().setToCircuitd(bind(ctx.getParams().getToChanneld()));
    return kj::READY_NOW;
  }
};

int run(daemon::Runtime& rt) {
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  ipc::ServerSessions<Traits> channels;
  auto listener = daemon::serve(
      rt, fd,
      [&](ipc::ConnectionId id, std::function<void()> drop) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control(), channels, id, std::move(drop), "channeld");
      },
      [&](ipc::ConnectionId id) { channels.closed(id); });
  ipc::ClientLink<ipc::StreamTraits> streamd(
      rt.loop(), rt.socketPath("streamd"), "streamd",
      [](auto drop) { return daemon::refusingSession<ipc::StreamTraits>("streamd", drop); },
      [](ipc::RpcConnection& c, proto::StreamSink::Client ours) {
        auto req = c.bootstrap<proto::StreamEntry>().attachCircuitdRequest();
        req.setToCircuitd(kj::mv(ours));
        return req.send().then([](auto&& r) { return r.getToStreamd(); });
      });
  ipc::ClientLink<ipc::LegTraits> confluxd(
      rt.loop(), rt.socketPath("confluxd"), "confluxd",
      [](auto drop) { return daemon::refusingSession<ipc::LegTraits>("confluxd", drop); },
      [](ipc::RpcConnection& c, proto::LegSink::Client ours) {
        auto req = c.bootstrap<proto::ConfluxEntry>().attachCircuitdRequest();
        req.setToCircuitd(kj::mv(ours));
        return req.send().then([](auto&& r) { return r.getToConfluxd(); });
      });
  rt.control().waitingFor = [&] {
    std::vector<std::string> w;
    if (!streamd.attached()) w.push_back("streamd");
    if (!confluxd.attached()) w.push_back("confluxd");
    return w;
  };
  rt.control().counters = [&](std::vector<std::pair<std::string, uint64_t>>& out) {
    out.emplace_back("ipc_connections_accepted_total", listener->accepted());
    out.emplace_back("ipc_channeld_sessions", channels.size());
    out.emplace_back("ipc_streamd_connects_total", streamd.connects());
    out.emplace_back("ipc_confluxd_connects_total", confluxd.connects());
  };
  streamd.start();
  confluxd.start();
  return rt.run();
}

}  // namespace
}  // namespace onionsplit::circuitd

int main(int argc, char** argv) {
  return onionsplit::daemon::daemonMain(argc, argv, "circuitd", onionsplit::circuitd::run);
}
