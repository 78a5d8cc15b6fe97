// channeld/net/or_listener.h: the ORPort. Accepts TCP connections (or takes the listening socket
// from systemd or the launcher), asks the connection DoS defence (DoSConnection*, see
// channeld/link/channel_dos.h) whether to keep each one, and wraps each accepted socket in TLS
// (libevent bufferevent_openssl). What happens on a link after TLS is the link handshake's
// business: OrListener hands each TLS connection to `onConnection`.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "channeld/net/link_tls.h"

namespace onionsplit::channeld {

struct PeerAddress {
  std::string ip;  // textual, IPv4 or IPv6
  uint16_t port = 0;
};

// One TLS connection: accepted by OrListener, or opened by OutboundDialer
// (channeld/net/outbound.h). Owns its bufferevent; what admitted it (the DoS defence's count) is
// told when it is destroyed.
class OrConnection {
 public:
  ~OrConnection();
  OrConnection(const OrConnection&) = delete;
  OrConnection& operator=(const OrConnection&) = delete;

  bufferevent* bev() const { return bev_; }
  const PeerAddress& peer() const { return peer_; }

 private:
  friend class OrListener;
  friend class OutboundDialer;
  OrConnection(bufferevent* bev, PeerAddress peer, std::function<void()> onGone)
      : bev_(bev), peer_(std::move(peer)), onGone_(std::move(onGone)) {}
  bufferevent* bev_;
  PeerAddress peer_;
  std::function<void()> onGone_;
};

struct OrListenerLimits {
  // Asked for each accepted socket before TLS starts: nullopt refuses it (closed at once, as C tor
  // closes a connection its DoS defence refuses); otherwise what to run when the connection goes.
  // Unset: every connection is kept.
  std::function<std::optional<std::function<void()>>(const PeerAddress&)> admit;
};

class OrListener {
 public:
  using OnConnection = std::function<void(std::unique_ptr<OrConnection>)>;

  // Listens on `fd` (already bound and listening, e.g. from systemd) or, if fd < 0, binds
  // address:port itself. Returns nullptr with `error` set on failure.
  static std::unique_ptr<OrListener> create(event_base* base, const LinkTlsContext& tls, int fd,
                                            const std::string& address, uint16_t port,
                                            OrListenerLimits limits, OnConnection onConnection,
                                            std::string& error);
  ~OrListener();

  uint16_t port() const { return port_; }
  uint64_t refusedConnections() const { return refused_; }

 private:
  OrListener(event_base* base, const LinkTlsContext& tls, OrListenerLimits limits,
             OnConnection onConnection)
      : base_(base), tls_(tls), limits_(limits), onConnection_(std::move(onConnection)) {}
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* self);

  event_base* base_;
  const LinkTlsContext& tls_;
  OrListenerLimits limits_;
  OnConnection onConnection_;
  evconnlistener* listener_ = nullptr;
  uint16_t port_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace onionsplit::channeld
