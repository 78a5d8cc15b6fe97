// common/daemon/wiring.h: the pieces every daemon's main.cc wires together the same way: the entry
// point, serving the bootstrap on the daemon's socket, and binding the sessions peers attach.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/daemon/runtime.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/control.h"
#include "common/ipc/peers.h"
#include "common/ipc/session.h"

namespace onionsplit::daemon {

// DESTROY reason and END reason RESOURCELIMIT share the value 5 (tor-spec).
inline constexpr uint8_t kReasonResourceLimit = 5;

// A session that refuses every flow the peer opens (the daemon's reactors for it are not built yet,
// or it is shutting down).
template <class Traits>
std::unique_ptr<ipc::PeerSession<Traits>> refusingSession(std::string peer,
                                                          std::function<void()> drop) {
  return std::make_unique<ipc::RefusingSession<Traits>>(std::move(peer), ipc::defaultWindows(),
                                                        std::move(drop), kReasonResourceLimit);
}

// Serves the daemon's bootstrap on `fd`. `make(id, drop)` builds the bootstrap of connection `id`;
// `drop()` ends that connection. `closed(id)` runs when a connection ends.
template <class Make>
std::unique_ptr<ipc::Listener> serve(Runtime& rt, int fd, Make make, ipc::Listener::Closed closed) {
  auto self = std::make_shared<ipc::Listener*>(nullptr);
  auto listener = std::make_unique<ipc::Listener>(
      rt.loop(), fd,
      [make, self](ipc::ConnectionId id) -> capnp::Capability::Client {
        return make(id, [self, id] {
          if (*self) (*self)->drop(id);
        });
      },
      std::move(closed));
  *self = listener.get();
  return listener;
}

// The bootstrap of one connection that peers attach sessions of one boundary to.
template <class Server, class Traits>
class SessionBootstrap : public ipc::WithControl<Server> {
 public:
  SessionBootstrap(const ipc::ControlInfo& info, ipc::ServerSessions<Traits>& sessions,
                   ipc::ConnectionId id, std::function<void()> drop, std::string peer)
      : ipc::WithControl<Server>(info),
        sessions_(sessions),
        id_(id),
        drop_(std::move(drop)),
        peer_(std::move(peer)) {}

 protected:
  // Binds a refusing session to this connection, pointed at `peerSink`; returns our sink.
  typename Traits::Sink::Client bind(typename Traits::Sink::Client peerSink) {
    return sessions_.attach(id_, refusingSession<Traits>(peer_, drop_), kj::mv(peerSink));
  }

 private:
  ipc::ServerSessions<Traits>& sessions_;
  ipc::ConnectionId id_;
  std::function<void()> drop_;
  std::string peer_;
};

// main() of every daemon: start-up (config, logging) then `run`.
inline int daemonMain(int argc, char** argv, const char* name, int (*run)(Runtime&)) {
  int code = 0;
  auto rt = Runtime::start(argc, argv, name, code);
  if (!rt) return code;
  return run(*rt);
}

}  // namespace onionsplit::daemon
