// circuitd/main.cc: wiring only (STYLE.md start-up order). circuitd serves channeld on
// IPCDirectory/circuitd.sock (Control + CircuitEntry) and calls streamd and confluxd.
//
// Circuits themselves (CREATE2, relay crypto, the FWD/BWD reactors) arrive with the exit-traffic
// issue; until then circuitd answers every CREATE with DESTROY (RESOURCELIMIT), a refusal a Tor
// client handles by choosing another relay.
#include <map>
#include <memory>

#include "common/daemon/runtime.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/client_link.h"
#include "common/ipc/control.h"
#include "common/ipc/peers.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::circuitd {
namespace {

constexpr uint8_t kDestroyResourceLimit = 5;
constexpr uint8_t kEndReasonResourceLimit = 5;

using ChannelSessions = ipc::ServerSessions<ipc::ChannelCircuitTraits>;

class Bootstrap final : public ipc::WithControl<proto::Circuitd::Server> {
 public:
  Bootstrap(const ipc::ControlInfo& info, ChannelSessions& sessions, ipc::ConnectionId id,
            std::function<void()> drop)
      : WithControl(info), sessions_(sessions), id_(id), drop_(std::move(drop)) {}

  kj::Promise<void> attach(AttachContext ctx) override {
    auto session = std::make_unique<ipc::RefusingSession<ipc::ChannelCircuitTraits>>(
        "channeld", ipc::defaultWindows(), drop_, kDestroyResourceLimit);
    ctx.getResults().setToCircuitd(
        sessions_.attach(id_, std::move(session), ctx.getParams().getToChanneld()));
    return kj::READY_NOW;
  }

 private:
  ChannelSessions& sessions_;
  ipc::ConnectionId id_;
  std::function<void()> drop_;
};

int run(daemon::Runtime& rt) {
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  ChannelSessions channels;
  std::unique_ptr<ipc::Listener> listener;
  listener = std::make_unique<ipc::Listener>(
      rt.loop(), fd,
      [&](ipc::ConnectionId id) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control(), channels, id, [&, id] { listener->drop(id); });
      },
      [&](ipc::ConnectionId id) { channels.closed(id); });

  ipc::ClientLink<ipc::StreamTraits> streamd(
      rt.loop(), rt.socketPath("streamd"), "streamd",
      [](std::function<void()> drop) {
        return std::make_unique<ipc::RefusingSession<ipc::StreamTraits>>(
            "streamd", ipc::defaultWindows(), std::move(drop), kEndReasonResourceLimit);
      },
      [](ipc::RpcConnection& c, proto::StreamSink::Client ours) {
        auto req = c.bootstrap<proto::StreamEntry>().attachCircuitdRequest();
        req.setToCircuitd(kj::mv(ours));
        return req.send().then([](auto&& r) { return r.getToStreamd(); });
      });
  ipc::ClientLink<ipc::LegTraits> confluxd(
      rt.loop(), rt.socketPath("confluxd"), "confluxd",
      [](std::function<void()> drop) {
        return std::make_unique<ipc::RefusingSession<ipc::LegTraits>>(
            "confluxd", ipc::defaultWindows(), std::move(drop), kDestroyResourceLimit);
      },
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
  int rc = rt.run();
  listener.reset();
  return rc;
}

}  // namespace
}  // namespace onionsplit::circuitd

int main(int argc, char** argv) {
  int code = 0;
  auto rt = onionsplit::daemon::Runtime::start(argc, argv, "circuitd", code);
  if (!rt) return code;
  return onionsplit::circuitd::run(*rt);
}
