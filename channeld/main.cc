// channeld/main.cc: wiring only (STYLE.md start-up order). channeld serves Control on
// IPCDirectory/channeld.sock and calls circuitd (channel_circuit.capnp).
//
// The ORPort, the link handshake and descriptor publication arrive with the channeld issue; today
// channeld keeps its link to circuitd (reconnecting when circuitd restarts) and announces no
// channel.
#include "common/daemon/wiring.h"
#include "common/ipc/client_link.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::channeld {
namespace {

class Bootstrap final : public ipc::WithControl<proto::Channeld::Server> {
 public:
  using WithControl::WithControl;
};

int run(daemon::Runtime& rt) {
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  auto listener = daemon::serve(
      rt, fd,
      [&](ipc::ConnectionId, std::function<void()>) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control());
      },
      nullptr);
  ipc::ClientLink<ipc::ChannelCircuitTraits> circuitd(
      rt.loop(), rt.socketPath("circuitd"), "circuitd",
      [](auto drop) {
        return daemon::refusingSession<ipc::ChannelCircuitTraits>("circuitd", drop);
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
    out.emplace_back("ipc_connections_accepted_total", listener->accepted());
    out.emplace_back("ipc_circuitd_connects_total", circuitd.connects());
  };
  circuitd.start();
  return rt.run();
}

}  // namespace
}  // namespace onionsplit::channeld

int main(int argc, char** argv) {
  return onionsplit::daemon::daemonMain(argc, argv, "channeld", onionsplit::channeld::run);
}
