// channeld/net/or_listener.cc: see or_listener.h.
#include "channeld/net/or_listener.h"

#include <arpa/inet.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/ipc/peers.h"

namespace onionsplit::channeld {
namespace {

PeerAddress peerOf(const sockaddr* addr) {
  char buf[INET6_ADDRSTRLEN] = {};
  PeerAddress p;
  if (addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    p.port = ntohs(in->sin_port);
  } else if (addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    p.port = ntohs(in6->sin6_port);
  }
  p.ip = buf;
  return p;
}

}  // namespace

OrConnection::~OrConnection() {
  if (bev_) bufferevent_free(bev_);
  if (onGone_) onGone_();
}

std::unique_ptr<OrListener> OrListener::create(event_base* base, const LinkTlsContext& tls, int fd,
                                               const std::string& address, uint16_t port,
                                               OrListenerLimits limits, OnConnection onConnection,
                                               std::string& error) {
  std::unique_ptr<OrListener> l(new OrListener(base, tls, limits, std::move(onConnection)));
  unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
  if (fd < 0) {
    fd = ipc::listenTcp(address, port);
    if (fd < 0 && errno == EINVAL) {
      error = "bad ORPort address " + (address.empty() ? std::string("0.0.0.0") : address);
      return nullptr;
    }
  }
  if (fd >= 0)
    l->listener_ = evconnlistener_new(base, &OrListener::onAccept, l.get(), flags, -1, fd);
  if (!l->listener_) {
    error = std::string("cannot listen on the ORPort: ") + std::strerror(errno);
    return nullptr;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  getsockname(evconnlistener_get_fd(l->listener_), reinterpret_cast<sockaddr*>(&bound), &blen);
  l->port_ = peerOf(reinterpret_cast<sockaddr*>(&bound)).port;
  return l;
}

OrListener::~OrListener() {
  if (listener_) evconnlistener_free(listener_);
}

void OrListener::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int, void* arg) {
  auto* self = static_cast<OrListener*>(arg);
  PeerAddress peer = peerOf(addr);
  std::function<void()> onGone;
  if (self->limits_.admit) {
    auto admitted = self->limits_.admit(peer);
    if (!admitted) {
      ++self->refused_;
      evutil_closesocket(fd);
      return;
    }
    onGone = std::move(*admitted);
  }
  // Cells are small and latency-bound (a SENDME or a CREATED2 must not wait for the peer's delayed
  // ACK under Nagle's algorithm); channeld writes whole TLS records, so nothing is lost by this.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL* ssl = self->tls_.newSsl();
  bufferevent* bev =
      ssl ? bufferevent_openssl_socket_new(self->base_, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                           BEV_OPT_CLOSE_ON_FREE)
          : nullptr;
  if (!bev) {
    if (ssl) SSL_free(ssl);
    evutil_closesocket(fd);
    if (onGone) onGone();
    return;
  }
  self->tls_.countWireBytes(ssl);  // the bufferevent gave the SSL its socket BIO
  auto conn =
      std::unique_ptr<OrConnection>(new OrConnection(bev, std::move(peer), std::move(onGone)));
  self->onConnection_(std::move(conn));
}

}  // namespace onionsplit::channeld
