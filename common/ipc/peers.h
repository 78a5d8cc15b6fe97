// common/ipc/peers.h: connections between daemons over AF_UNIX sockets.
//
// Listener: the serving side. Accepts on a listening socket (made by the launcher, by systemd, or
// by the daemon itself) and gives each connection its bootstrap capability. A connection ends when
// the peer goes away or when the owner drops it (a contract violation); either way everything bound
// to it is destroyed, outside the callback that noticed.
//
// Reconnector: the calling side. Keeps one connection to a peer's socket path, reconnecting with
// exponential backoff when the peer restarts (Cap'n Proto 0.9.2 has no reconnecting client). Before
// a new connection is made, `lost` has run and every object bound to the old one is gone.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/base/backoff.h"
#include "common/ipc/event_loop.h"

namespace onionsplit::ipc {

using ConnectionId = uint64_t;

// Creates a listening AF_UNIX SOCK_STREAM socket at `path` (replacing a stale socket, never another
// kind of file), mode 0660, non-blocking. Returns -1 with errno set on failure.
int listenUnix(const std::string& path);

// Creates a listening TCP socket on `address` (an IPv4 or IPv6 literal without brackets; "" means
// 0.0.0.0) and `port` (0: the kernel picks), SO_REUSEADDR, IPV6_V6ONLY for IPv6 (so `ORPort 9001`
// and `ORPort [::]:9001` can be bound side by side), non-blocking, close-on-exec. Returns -1 with
// errno set on failure (EINVAL for an address that is not a literal).
int listenTcp(const std::string& address, uint16_t port);

class Listener {
 public:
  using Factory = std::function<capnp::Capability::Client(ConnectionId)>;
  using Closed = std::function<void(ConnectionId)>;

  // Takes ownership of `listenFd`. `factory` makes the bootstrap for each new connection; `closed`
  // runs when a connection ended (before its objects are destroyed).
  Listener(EventLoop& loop, int listenFd, Factory factory, Closed closed,
           RpcLimits limits = RpcLimits{});
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Ends a connection (a peer broke the contract). Safe to call from inside its callbacks.
  void drop(ConnectionId id);
  size_t connections() const { return conns_.size(); }
  // The data plane of connection `id` (nullptr once it ended).
  std::shared_ptr<DataPlane> dataPlane(ConnectionId id) const {
    auto it = conns_.find(id);
    return it == conns_.end() ? nullptr : it->second->dataPlane();
  }
  uint64_t accepted() const { return accepted_; }

 private:
  static void onAccept(evutil_socket_t fd, short, void* arg);
  void ended(ConnectionId id);

  EventLoop& loop_;
  int fd_;
  event* ev_ = nullptr;
  Factory factory_;
  Closed closed_;
  RpcLimits limits_;
  ConnectionId next_ = 1;
  uint64_t accepted_ = 0;
  std::map<ConnectionId, std::unique_ptr<RpcConnection>> conns_;
  kj::TaskSet::ErrorHandler* errors_;
  kj::Own<kj::TaskSet> tasks_;
};

class Reconnector {
 public:
  struct Hooks {
    // A new connection is up; bind objects to it (its bootstrap is the peer's service).
    std::function<void(RpcConnection&)> connected;
    // The connection is gone (peer died or was dropped); forget everything bound to it.
    std::function<void()> lost;
  };

  Reconnector(EventLoop& loop, std::string path, std::string peerName, Hooks hooks,
              RestartBackoff::Params backoff = {std::chrono::milliseconds(100),
                                                std::chrono::milliseconds(5000),
                                                std::chrono::milliseconds(30000)},
              RpcLimits limits = RpcLimits{});
  ~Reconnector();
  Reconnector(const Reconnector&) = delete;
  Reconnector& operator=(const Reconnector&) = delete;

  void start();
  // Drops the current connection (the peer broke the contract) and reconnects after the backoff.
  void drop();
  bool connected() const { return conn_ != nullptr; }
  const std::string& peerName() const { return peer_; }
  unsigned connects() const { return connects_; }

 private:
  static void onTimer(evutil_socket_t, short, void* arg);
  void tryConnect();
  void scheduleRetry();
  void ended();

  EventLoop& loop_;
  std::string path_;
  std::string peer_;
  Hooks hooks_;
  RestartBackoff backoff_;
  RpcLimits limits_;
  event* timer_ = nullptr;
  std::unique_ptr<RpcConnection> conn_;
  unsigned connects_ = 0;
  uint64_t generation_ = 0;  // which connection a disconnect promise belongs to
  kj::TaskSet::ErrorHandler* errors_;
  kj::Own<kj::TaskSet> tasks_;
};

}  // namespace onionsplit::ipc
