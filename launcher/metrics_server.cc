// launcher/metrics_server.cc: see metrics_server.h.
#include "launcher/metrics_server.h"
#include "launcher/http_conn.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

namespace onionsplit::launcher {

struct MetricsServer::Conn {
  MetricsServer* owner = nullptr;
  bufferevent* bev = nullptr;
  bool answered = false;   // the answer is queued; close once it has left
  bool lingering = false;  // answered and shut for writing: what the peer still sends is dropped
  kj::Promise<void> pending = nullptr;
};

namespace {

std::optional<exitpolicy::IpAddress> peerAddress(const sockaddr* sa, int len) {
  exitpolicy::IpAddress a;
  if (sa->sa_family == AF_INET && len >= static_cast<int>(sizeof(sockaddr_in))) {
    a.family = 4;
    std::memcpy(a.b.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return a;
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<int>(sizeof(sockaddr_in6))) {
    const auto* in6 = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(in6)) {
      a.family = 4;
      std::memcpy(a.b.data(), in6->s6_addr + 12, 4);
    } else {
      a.family = 6;
      std::memcpy(a.b.data(), in6->s6_addr, 16);
    }
    return a;
  }
  return std::nullopt;
}

// `where` as a socket address; len 0 if its address is not an IP literal.
socklen_t toSockaddr(const config::MetricsPort& where, sockaddr_storage& ss) {
  ss = sockaddr_storage{};
  if (where.address.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(where.port);
    return inet_pton(AF_INET6, where.address.c_str(), &in6->sin6_addr) == 1 ? sizeof *in6 : 0;
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  in->sin_family = AF_INET;
  in->sin_port = htons(where.port);
  return inet_pton(AF_INET, where.address.c_str(), &in->sin_addr) == 1 ? sizeof *in : 0;
}

std::string describe(const sockaddr_storage& ss) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
  }
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  return "a socket of family " + std::to_string(ss.ss_family);
}

bool sameAddress(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in*>(&b);
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (a.ss_family == AF_INET6) {
    const auto* x = reinterpret_cast<const sockaddr_in6*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in6*>(&b);
    return x->sin6_port == y->sin6_port &&
           std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  return false;
}

}  // namespace

std::string checkPassedSocket(int fd, const config::MetricsPort& where) {
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return "fd " + std::to_string(fd) + " is not a socket";
  len = sizeof listening;
  if (type != SOCK_STREAM || getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
      !listening)
    return "the passed socket is not a listening stream socket";
  sockaddr_storage bound{}, wanted{};
  len = sizeof bound;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0 ||
      (bound.ss_family != AF_INET && bound.ss_family != AF_INET6))
    return "the passed socket is not a TCP socket";
  if (toSockaddr(where, wanted) == 0) return "MetricsPort " + where.address + ": bad address";
  if (!sameAddress(bound, wanted))
    return "the passed socket listens on " + describe(bound) + " but the torrc says MetricsPort " +
           describe(wanted) + ": make them the same (systemctl edit onionsplit-metrics.socket)";
  return "";
}

std::unique_ptr<MetricsServer> MetricsServer::adopt(event_base* base, int fd,
                                                    const config::MetricsPort& where,
                                                    MetricsPolicy policy, std::string& error) {
  error = checkPassedSocket(fd, where);
  if (!error.empty() || evutil_make_socket_nonblocking(fd) != 0 ||
      evutil_make_socket_closeonexec(fd) != 0) {
    if (error.empty())
      error = std::string("the passed MetricsPort socket: ") + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  std::unique_ptr<MetricsServer> s(new MetricsServer(base, std::move(policy)));
  // Backlog 0: the socket listens already (systemd chose its backlog).
  s->listener_ = evconnlistener_new(base, &MetricsServer::onAccept, s.get(),
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED, 0, fd);
  if (!s->listener_) {
    error = std::string("cannot serve the passed MetricsPort socket: ") + std::strerror(errno);
    close(fd);
    return nullptr;
  }
  s->port_ = where.port;
  return s;
}

std::unique_ptr<MetricsServer> MetricsServer::listen(event_base* base,
                                                     const config::MetricsPort& where,
                                                     MetricsPolicy policy, std::string& error) {
  sockaddr_storage ss{};
  socklen_t len = toSockaddr(where, ss);
  bool v6 = where.address.find(':') != std::string::npos;
  std::string name =
      (v6 ? "[" + where.address + "]" : where.address) + ":" + std::to_string(where.port);
  if (len == 0) {
    error = "MetricsPort " + name + ": bad address";
    return nullptr;
  }
  std::unique_ptr<MetricsServer> s(new MetricsServer(base, std::move(policy)));
  s->listener_ = evconnlistener_new_bind(
      base, &MetricsServer::onAccept, s.get(),
      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, 16,
      reinterpret_cast<sockaddr*>(&ss), static_cast<int>(len));
  if (!s->listener_) {
    error = "cannot listen on MetricsPort " + name + ": " + std::strerror(errno);
    return nullptr;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  if (getsockname(evconnlistener_get_fd(s->listener_), reinterpret_cast<sockaddr*>(&bound),
                  &blen) == 0)
    s->port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return s;
}

MetricsServer::MetricsServer(event_base* base, MetricsPolicy policy)
    : base_(base), policy_(std::move(policy)) {}

MetricsServer::~MetricsServer() {
  for (auto& [p, c] : conns_) {
    c->pending = nullptr;
    bufferevent_free(c->bev);
  }
  if (listener_) evconnlistener_free(listener_);
}

void MetricsServer::serve(Collect collect) {
  collect_ = std::move(collect);
  evconnlistener_enable(listener_);
}

void MetricsServer::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len,
                             void* arg) {
  auto* self = static_cast<MetricsServer*>(arg);
  auto peer = peerAddress(addr, len);
  if (!peer || !self->policy_.permits(*peer)) {
    ++self->refused_;
    close(fd);  // as C tor: not a byte of answer to whom the policy refuses
    return;
  }
  if (self->conns_.size() >= kMaxConnections) {
    close(fd);
    return;
  }
  auto c = std::make_unique<Conn>();
  c->owner = self;
  c->bev = acceptHttpConn(self->base_, fd, &MetricsServer::onRead, &MetricsServer::onWrite,
                          &MetricsServer::onEvent, c.get(), kMaxRequestBytes, kTimeoutSeconds);
  if (!c->bev) return;
  Conn* raw = c.get();
  self->conns_.emplace(raw, std::move(c));
}

void MetricsServer::onRead(bufferevent* bev, void* arg) {
  auto& c = *static_cast<Conn*>(arg);
  evbuffer* in = bufferevent_get_input(bev);
  size_t len = evbuffer_get_length(in);
  if (c.lingering) {
    evbuffer_drain(in, len);
    return;
  }
  bool complete = evbuffer_search(in, "\r\n\r\n", 4, nullptr).pos >= 0 ||
                  evbuffer_search(in, "\n\n", 2, nullptr).pos >= 0;
  if (!complete && len <= kMaxRequestBytes) return;  // wait for the rest (or the timeout)
  bufferevent_disable(bev, EV_READ);
  if (!complete) return c.owner->reply(c, "400 Bad Request", "request too long\n");
  char line[kMaxRequestBytes + 1];
  size_t n = evbuffer_copyout(in, line, std::min(len, kMaxRequestBytes));
  std::string text(line, n);
  c.owner->handle(c, text.substr(0, text.find('\n')));
}

// C tor's answers: 405 for a method other than GET, 404 for a path other than /metrics, 400 for
// what is not an HTTP request.
void MetricsServer::handle(Conn& c, const std::string& requestLine) {
  std::string l = requestLine;
  if (!l.empty() && l.back() == '\r') l.pop_back();
  size_t sp1 = l.find(' ');
  size_t sp2 = sp1 == std::string::npos ? sp1 : l.find(' ', sp1 + 1);
  if (sp2 == std::string::npos || l.compare(sp2 + 1, 5, "HTTP/") != 0)
    return reply(c, "400 Bad Request", "not an HTTP request\n");
  std::string method = l.substr(0, sp1), target = l.substr(sp1 + 1, sp2 - sp1 - 1);
  if (method != "GET") return reply(c, "405 Method Not Allowed", "only GET\n", "Allow: GET\r\n");
  if (target != "/metrics") return reply(c, "404 Not Found", "only /metrics\n");
  Conn* conn = &c;
  c.pending =
      collect_()
          .then([this, conn](std::string page) { reply(*conn, "200 OK", page, ""); })
          .eagerlyEvaluate([this, conn](kj::Exception&& e) {
            reply(*conn, "503 Service Unavailable", std::string(e.getDescription().cStr()) + "\n");
          });
}

void MetricsServer::reply(Conn& c, const std::string& status, const std::string& body,
                          const std::string& extraHeaders) {
  std::string head = "HTTP/1.0 " + status +
                     "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                     "Content-Length: " +
                     std::to_string(body.size()) + "\r\n" + extraHeaders +
                     "Connection: close\r\n\r\n";
  bufferevent_write(c.bev, head.data(), head.size());
  bufferevent_write(c.bev, body.data(), body.size());
  c.answered = true;
  bufferevent_enable(c.bev, EV_WRITE);
}

// The answer has left: shut the connection for writing and read (and drop) what the peer still
// sends until it closes or the timeout, so that closing never turns into a reset that could cost
// the peer the answer (a peer that sent more than it may leaves unread bytes behind).
void MetricsServer::onWrite(bufferevent* bev, void* arg) {
  auto& c = *static_cast<Conn*>(arg);
  if (!c.answered || c.lingering) return;
  c.lingering = true;
  shutdown(bufferevent_getfd(bev), SHUT_WR);
  evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
  bufferevent_setwatermark(bev, EV_READ, 0, 0);
  bufferevent_enable(bev, EV_READ);
}

void MetricsServer::onEvent(bufferevent*, short, void* arg) {
  auto& c = *static_cast<Conn*>(arg);
  c.owner->drop(c);  // EOF, error or timeout: the peer gets nothing more
}

void MetricsServer::drop(Conn& c) {
  auto it = conns_.find(&c);
  if (it == conns_.end()) return;
  auto owned = std::move(it->second);
  conns_.erase(it);
  owned->pending = nullptr;  // cancels a scrape still running
  bufferevent_free(owned->bev);
}

}  // namespace onionsplit::launcher
