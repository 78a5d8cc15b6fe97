// common/daemon/wiring.h: the pieces every daemon's main.cc wires together the same way: the entry
// point, serving the bootstrap on the daemon's socket, and binding the sessions peers attach.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/daemon/runtime.h"
#include "common/ipc/control.h"
#include "common/ipc/peers.h"

namespace onionsplit::daemon {

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

// main() of every daemon: start-up (config, logging) then `run`.
inline int daemonMain(int argc, char** argv, const char* name, int (*run)(Runtime&)) {
  int code = 0;
  auto rt = Runtime::start(argc, argv, name, code);
  if (!rt) return code;
  return run(*rt);
}

}  // namespace onionsplit::daemon
