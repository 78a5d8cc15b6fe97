// channeld/main.cc: wiring only (STYLE.md start-up order). channeld serves Control on
// IPCDirectory/channeld.sock and calls circuitd (channel_circuit.capnp).
//
// The ORPort, the link handshake and descriptor publication arrive with the channeld issue; today
// channeld keeps its link to circuitd (reconnecting when circuitd restarts) and announces no
// channel.
#include <memory>

#include "common/daemon/runtime.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/client_link.h"
#include "common/ipc/control.h"
#include "common/ipc/peers.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::channeld {
namespace {

constexpr uint8_t kDestroyResourceLimit = 5;

class Bootstrap final : public ipc::WithControl<proto::Channeld::Server> {
 public:
  explicit Bootstrap(const ipc::ControlInfo& info) : WithControl(info) {}
};

int run(daemon::Runtime& rt) {
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  ipc::Listener listener(
      rt.loop(), fd,
      [&](ipc::ConnectionId) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control());
      },
      nullptr);
  ipc::ClientLink<ipc::ChannelCircuitTraits> circuitd(
      rt.loop(), rt.socketPath("circuitd"), "circuitd",
      [](std::function<void()> drop) {
        return std::make_unique<ipc::RefusingSession<ipc::ChannelCircuitTraits>>(
            "circuitd", ipc::defaultWindows(), std::move(drop), kDestroyResourceLimit);
      },
      [](ipc::RpcConnection& c, proto::CellSink::Client ours) {
        auto req = c.bootstrap<proto::CircuitEntry>().attachRequest();
        req.setToChanneld(kj::mv(ours));
        return req.send().then([](auto&& r) { return r.getToCircuitd(); });
      });
  rt.control().waitingFor = [&] {
    return circuitd.attached() ? std::vector<std::string>{} : std::vector<std::string>{"circuitd"};
  };
  rt.control().counters = [&](std::vector<std::pair<std::string, uint64_t>>& out) {
    out.emplace_back("ipc_connections_accepted_total", listener.accepted());
    out.emplace_back("ipc_circuitd_connects_total", circuitd.connects());
  };
  circuitd.start();
  return rt.run();
}

}  // namespace
}  // namespace onionsplit::channeld

int main(int argc, char** argv) {
  int code = 0;
  auto rt = onionsplit::daemon::Runtime::start(argc, argv, "channeld", code);
  if (!rt) return code;
  return onionsplit::channeld::run(*rt);
}
