// streamd/main.cc: wiring only (STYLE.md start-up order). streamd serves circuitd and confluxd on
// IPCDirectory/streamd.sock (Control + StreamEntry + ConfluxStreamEntry); it calls nobody.
//
// Exit streams themselves (BEGIN, DNS, sockets) arrive with the exit-traffic issue; until then
// every stream side a circuit or set opens is closed at once with END reason RESOURCELIMIT.
#include <memory>

#include "common/daemon/runtime.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/control.h"
#include "common/ipc/peers.h"
#include "common/ipc/session.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::streamd {
namespace {

constexpr uint8_t kEndReasonResourceLimit = 5;

using Sessions = ipc::ServerSessions<ipc::StreamTraits>;

std::unique_ptr<ipc::PeerSession<ipc::StreamTraits>> refusing(const char* peer,
                                                              std::function<void()> drop) {
  return std::make_unique<ipc::RefusingSession<ipc::StreamTraits>>(
      peer, ipc::defaultWindows(), std::move(drop), kEndReasonResourceLimit);
}

class Bootstrap final : public ipc::WithControl<proto::Streamd::Server> {
 public:
  Bootstrap(const ipc::ControlInfo& info, Sessions& circuits, Sessions& sets, ipc::ConnectionId id,
            std::function<void()> drop)
      : WithControl(info), circuits_(circuits), sets_(sets), id_(id), drop_(std::move(drop)) {}

  kj::Promise<void> attachCircuitd(AttachCircuitdContext ctx) override {
    ctx.getResults().setToStreamd(
        circuits_.attach(id_, refusing("circuitd", drop_), ctx.getParams().getToCircuitd()));
    return kj::READY_NOW;
  }
  kj::Promise<void> attachConfluxd(AttachConfluxdContext ctx) override {
    ctx.getResults().setToStreamd(
        sets_.attach(id_, refusing("confluxd", drop_), ctx.getParams().getToConfluxd()));
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
  std::unique_ptr<ipc::Listener> listener;
  listener = std::make_unique<ipc::Listener>(
      rt.loop(), fd,
      [&](ipc::ConnectionId id) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control(), circuits, sets, id,
                                   [&, id] { listener->drop(id); });
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
  int rc = rt.run();
  listener.reset();
  return rc;
}

}  // namespace
}  // namespace onionsplit::streamd

int main(int argc, char** argv) {
  int code = 0;
  auto rt = onionsplit::daemon::Runtime::start(argc, argv, "streamd", code);
  if (!rt) return code;
  return onionsplit::streamd::run(*rt);
}
