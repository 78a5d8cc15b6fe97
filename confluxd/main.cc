// confluxd/main.cc: wiring only (STYLE.md start-up order). confluxd serves circuitd on
// IPCDirectory/confluxd.sock (Control + ConfluxEntry) and calls streamd.
//
// ConfluxMgr and the controllers arrive with the conflux issue; until then every leg circuitd
// announces with `link` is closed at once (DESTROY reason RESOURCELIMIT), which a C tor client
// treats as a failed leg and falls back from.
#include <memory>

#include "common/daemon/runtime.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/client_link.h"
#include "common/ipc/control.h"
#include "common/ipc/peers.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::confluxd {
namespace {

constexpr uint8_t kDestroyResourceLimit = 5;
constexpr uint8_t kEndReasonResourceLimit = 5;

using LegSessions = ipc::ServerSessions<ipc::LegTraits>;

class Bootstrap final : public ipc::WithControl<proto::Confluxd::Server> {
 public:
  Bootstrap(const ipc::ControlInfo& info, LegSessions& legs, ipc::ConnectionId id,
            std::function<void()> drop)
      : WithControl(info), legs_(legs), id_(id), drop_(std::move(drop)) {}

  kj::Promise<void> attachCircuitd(AttachCircuitdContext ctx) override {
    auto session = std::make_unique<ipc::RefusingSession<ipc::LegTraits>>(
        "circuitd", ipc::defaultWindows(), drop_, kDestroyResourceLimit);
    ctx.getResults().setToConfluxd(
        legs_.attach(id_, std::move(session), ctx.getParams().getToCircuitd()));
    return kj::READY_NOW;
  }

 private:
  LegSessions& legs_;
  ipc::ConnectionId id_;
  std::function<void()> drop_;
};

int run(daemon::Runtime& rt) {
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  LegSessions legs;
  std::unique_ptr<ipc::Listener> listener;
  listener = std::make_unique<ipc::Listener>(
      rt.loop(), fd,
      [&](ipc::ConnectionId id) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control(), legs, id, [&, id] { listener->drop(id); });
      },
      [&](ipc::ConnectionId id) { legs.closed(id); });
  ipc::ClientLink<ipc::StreamTraits> streamd(
      rt.loop(), rt.socketPath("streamd"), "streamd",
      [](std::function<void()> drop) {
        return std::make_unique<ipc::RefusingSession<ipc::StreamTraits>>(
            "streamd", ipc::defaultWindows(), std::move(drop), kEndReasonResourceLimit);
      },
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
  int rc = rt.run();
  listener.reset();
  return rc;
}

}  // namespace
}  // namespace onionsplit::confluxd

int main(int argc, char** argv) {
  int code = 0;
  auto rt = onionsplit::daemon::Runtime::start(argc, argv, "confluxd", code);
  if (!rt) return code;
  return onionsplit::confluxd::run(*rt);
}
