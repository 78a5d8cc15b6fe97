// confluxd/main.cc: wiring only (STYLE.md start-up order). confluxd serves circuitd on
// IPCDirectory/confluxd.sock (Control + ConfluxEntry) and calls streamd.
//
// ConfluxMgr and the controllers arrive with the conflux issue; until then every leg circuitd
// announces with `link` is closed at once (DESTROY reason RESOURCELIMIT), which a C tor client
// treats as a failed leg and falls back from.
#include "common/daemon/wiring.h"
#include "common/ipc/client_link.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::confluxd {
namespace {

using Traits = ipc::LegTraits;

class Bootstrap final : public daemon::SessionBootstrap<proto::Confluxd::Server, Traits> {
 public:
  using SessionBootstrap::SessionBootstrap;
  kj::Promise<void> attachCircuitd(AttachCircuitdContext ctx) override {
    ctx.getResults().setToConfluxd(bind(ctx.getParams().getToCircuitd()));
    return kj::READY_NOW;
  }
};

int run(daemon::Runtime& rt) {
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  ipc::ServerSessions<Traits> legs;
  auto listener = daemon::serve(
      rt, fd,
      [&](ipc::ConnectionId id, std::function<void()> drop) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control(), legs, id, std::move(drop), "circuitd");
      },
      [&](ipc::ConnectionId id) { legs.closed(id); });
  ipc::ClientLink<ipc::StreamTraits> streamd(
      rt.loop(), rt.socketPath("streamd"), "streamd",
      [](auto drop) { return daemon::refusingSession<ipc::StreamTraits>("streamd", drop); },
      [](ipc::RpcConnection& c, proto::StreamSink::Client ours) {
        auto req = c.bootstrap<proto::ConfluxStreamEntry>().attachConfluxdRequest();
        req.setToConfluxd(kj::mv(ours));
        return req.send().then([](auto&& r) { return r.getToStreamd(); });
      });
  rt.control().waitingFor = [&] {
    return streamd.attached() ? std::vector<std::string>{} : std::vector<std::string>{"streamd"};
  };
  rt.control().counters = [&](std::vector<std::pair<std::string, uint64_t>>& out) {
    out.emplace_back("ipc_connections_accepted_total", listener->accepted());
    out.emplace_back("ipc_circuitd_sessions", legs.size());
    out.emplace_back("ipc_streamd_connects_total", streamd.connects());
  };
  streamd.start();
  return rt.run();
}

}  // namespace
}  // namespace onionsplit::confluxd

int main(int argc, char** argv) {
  return onionsplit::daemon::daemonMain(argc, argv, "confluxd", onionsplit::confluxd::run);
}
