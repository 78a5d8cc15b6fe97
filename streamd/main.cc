// streamd/main.cc: wiring only (STYLE.md start-up order). streamd serves circuitd and confluxd on
// IPCDirectory/streamd.sock (Control + StreamEntry + ConfluxStreamEntry); it calls nobody.
//
// Exit streams themselves (BEGIN, DNS, sockets) arrive with the exit-traffic issue; until then
// every stream side a circuit or set opens is closed at once with END reason RESOURCELIMIT.
#include "common/daemon/wiring.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::streamd {
namespace {

using Sessions = ipc::ServerSessions<ipc::StreamTraits>;

class Bootstrap final : public ipc::WithControl<proto::Streamd::Server> {
 public:
  Bootstrap(const ipc::ControlInfo& info, Sessions& circuits, Sessions& sets, ipc::ConnectionId id,
            std::function<void()> drop)
      : WithControl(info), circuits_(circuits), sets_(sets), id_(id), drop_(std::move(drop)) {}

  kj::Promise<void> attachCircuitd(AttachCircuitdContext ctx) override {
    auto session = daemon::refusingSession<ipc::StreamTraits>("circuitd", drop_);
    ctx.getResults().setToStreamd(
        circuits_.attach(id_, std::move(session), ctx.getParams().getToCircuitd()));
    return kj::READY_NOW;
  }
  kj::Promise<void> attachConfluxd(AttachConfluxdContext ctx) override {
    auto session = daemon::refusingSession<ipc::StreamTraits>("confluxd", drop_);
    ctx.getResults().setToStreamd(
        sets_.attach(id_, std::move(session), ctx.getParams().getToConfluxd()));
    return kj::READY_NOW;
  }

 private:
  Sessions& circuits_;
  Sessions& sets_;
  ipc::ConnectionId id_;
  std::function<void()> drop_;
};

int run(daemon::Runtime& rt) {
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  Sessions circuits, sets;
  auto listener = daemon::serve(
      rt, fd,
      [&](ipc::ConnectionId id, std::function<void()> drop) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control(), circuits, sets, id, std::move(drop));
      },
      [&](ipc::ConnectionId id) {
        circuits.closed(id);
        sets.closed(id);
      });
  rt.control().waitingFor = [] { return std::vector<std::string>{}; };
  rt.control().counters = [&](std::vector<std::pair<std::string, uint64_t>>& out) {
    out.emplace_back("ipc_connections_accepted_total", listener->accepted());
    out.emplace_back("ipc_circuitd_sessions", circuits.size());
    out.emplace_back("ipc_confluxd_sessions", sets.size());
  };
  return rt.run();
}

}  // namespace
}  // namespace onionsplit::streamd

int main(int argc, char** argv) {
  return onionsplit::daemon::daemonMain(argc, argv, "streamd", onionsplit::streamd::run);
}
