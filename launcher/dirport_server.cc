// launcher/dirport_server.cc: see dirport_server.h.
#include "launcher/dirport_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>

#include "launcher/dirport_http.h"
#include "launcher/http_conn.h"

namespace onionsplit::launcher {

struct DirPortServer::Conn {
  DirPortServer* owner = nullptr;
  bufferevent* bev = nullptr;
  FrontPage page;          // kept while the answer references it
  bool answered = false;   // the answer is queued; close once it has left
  bool lingering = false;  // answered and shut for writing: what the peer still sends is dropped
};

namespace {

// A DirPort line as a socket address: a bare port is every IPv4 address (C tor's "0.0.0.0").
socklen_t toSockaddr(const config::OrPort& p, sockaddr_storage& ss) {
  ss = sockaddr_storage{};
  if (p.address.find(':') != std::string::npos) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(p.port);
    return inet_pton(AF_INET6, p.address.c_str(), &in6->sin6_addr) == 1 ? sizeof *in6 : 0;
  }
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  in->sin_family = AF_INET;
  in->sin_port = htons(p.port);
  std::string a = p.address.empty() ? "0.0.0.0" : p.address;
  return inet_pton(AF_INET, a.c_str(), &in->sin_addr) == 1 ? sizeof *in : 0;
}

uint16_t boundPort(evconnlistener* l) {
  sockaddr_storage bound{};
  socklen_t len = sizeof bound;
  if (getsockname(evconnlistener_get_fd(l), reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    return 0;
  return ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

}  // namespace

FrontPage loadFrontPage(const std::string& path, std::string& warning) {
  std::ifstream f(path, std::ios::binary);
  std::string text;
  if (f) {
    char buf[4096];
    while (f.read(buf, sizeof buf) || f.gcount() > 0) {
      text.append(buf, static_cast<size_t>(f.gcount()));
      if (text.size() > kMaxFrontPageBytes) break;
    }
  }
  if (!f && !f.eof()) {
    warning = "DirPortFrontPage file '" + path + "' not found. Continuing anyway.";
    return nullptr;
  }
  if (text.size() > kMaxFrontPageBytes) {
    warning = "DirPortFrontPage file '" + path + "' is larger than " +
              std::to_string(kMaxFrontPageBytes) + " bytes; not served";
    return nullptr;
  }
  text.resize(std::strlen(text.c_str()));  // as C tor: the page ends at a NUL byte
  return std::make_shared<const std::string>(std::move(text));
}

std::unique_ptr<DirPortServer> DirPortServer::listen(event_base* base,
                                                     const std::vector<config::OrPort>& ports,
                                                     std::string& error) {
  std::unique_ptr<DirPortServer> s(new DirPortServer(base));
  for (const auto& p : ports) {
    if (p.noListen) continue;
    sockaddr_storage ss{};
    socklen_t len = toSockaddr(p, ss);
    std::string name =
        (p.address.find(':') != std::string::npos ? "[" + p.address + "]" : p.address) + ":" +
        std::to_string(p.port);
    if (len == 0) {
      error = "DirPort " + name + ": bad address";
      return nullptr;
    }
    evconnlistener* l = evconnlistener_new_bind(
        base, &DirPortServer::onAccept, s.get(),
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, 64,
        reinterpret_cast<sockaddr*>(&ss), static_cast<int>(len));
    if (!l) {
      error = "cannot listen on DirPort " + name + ": " + std::strerror(errno);
      return nullptr;
    }
    s->listeners_.push_back(l);
    s->ports_.push_back(boundPort(l));
  }
  return s;
}

// Why `fd` cannot serve as one of `ports`, or "".
static std::string checkPassed(int fd, const std::vector<config::OrPort>& ports) {
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM)
    return "passed fd " + std::to_string(fd) + " is not a stream socket";
  len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening)
    return "passed fd " + std::to_string(fd) + " is not listening";
  sockaddr_storage bound{};
  len = sizeof bound;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) != 0 ||
      (bound.ss_family != AF_INET && bound.ss_family != AF_INET6))
    return "passed fd " + std::to_string(fd) + " is not a TCP socket";
  uint16_t port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                        : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  for (const auto& p : ports)
    if (p.port == port && !p.noListen) return "";
  return "the passed socket listens on port " + std::to_string(port) +
         ", which no DirPort line of the torrc names (systemctl edit onionsplit-dirport.socket)";
}

std::unique_ptr<DirPortServer> DirPortServer::adopt(event_base* base, const std::vector<int>& fds,
                                                    const std::vector<config::OrPort>& ports,
                                                    std::string& error) {
  std::unique_ptr<DirPortServer> s(new DirPortServer(base));
  for (size_t i = 0; i < fds.size(); ++i) {
    int fd = fds[i];
    error = checkPassed(fd, ports);
    evconnlistener* l = nullptr;
    if (error.empty() && evutil_make_socket_nonblocking(fd) == 0 &&
        evutil_make_socket_closeonexec(fd) == 0)
      l = evconnlistener_new(base, &DirPortServer::onAccept, s.get(),
                             LEV_OPT_CLOSE_ON_FREE | LEV_OPT_DISABLED, 0, fd);
    if (!l) {
      if (error.empty()) error = std::string("the passed DirPort socket: ") + std::strerror(errno);
      for (size_t j = i; j < fds.size(); ++j)
        close(fds[j]);
      return nullptr;
    }
    s->listeners_.push_back(l);
    s->ports_.push_back(boundPort(l));
  }
  return s;
}

DirPortServer::DirPortServer(event_base* base) : base_(base) {}

DirPortServer::~DirPortServer() {
  for (auto& [p, c] : conns_)
    bufferevent_free(c->bev);
  for (auto* l : listeners_)
    evconnlistener_free(l);
}

void DirPortServer::serve(FrontPage page) {
  page_ = std::move(page);
  for (auto* l : listeners_)
    evconnlistener_enable(l);
}

void DirPortServer::onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto* self = static_cast<DirPortServer*>(arg);
  if (self->conns_.size() >= kMaxConnections) {
    close(fd);
    return;
  }
  auto c = std::make_unique<Conn>();
  c->owner = self;
  c->bev = acceptHttpConn(self->base_, fd, &DirPortServer::onRead, &DirPortServer::onWrite,
                          &DirPortServer::onEvent, c.get(), kMaxRequestBytes, kTimeoutSeconds);
  if (!c->bev) return;
  Conn* raw = c.get();
  self->conns_.emplace(raw, std::move(c));
}

void DirPortServer::onRead(bufferevent* bev, void* arg) {
  auto& c = *static_cast<Conn*>(arg);
  evbuffer* in = bufferevent_get_input(bev);
  size_t len = evbuffer_get_length(in);
  if (c.lingering) {
    evbuffer_drain(in, len);
    return;
  }
  evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, nullptr);
  if (end.pos < 0 || static_cast<size_t>(end.pos) + 4 > kMaxRequestBytes) {
    if (len > kMaxRequestBytes) c.owner->drop(c);  // as C tor: too large, closed unanswered
    return;                                        // else wait for the rest (or the timeout)
  }
  bufferevent_disable(bev, EV_READ);
  char head[kMaxRequestBytes];
  size_t n = evbuffer_copyout(in, head, static_cast<size_t>(end.pos) + 4);
  c.owner->answer(c, std::string_view(head, n));
}

void DirPortServer::answer(Conn& c, std::string_view head) {
  FrontPage page = page_;
  auto a = answerDirPort(head, page != nullptr, page ? page->size() : 0, std::time(nullptr));
  if (!a) return drop(c);
  evbuffer* out = bufferevent_get_output(c.bev);
  evbuffer_add(out, a->head.data(), a->head.size());
  if (a->withPage && !page->empty()) {
    c.page = page;  // the buffer references the page's bytes until the connection is freed
    evbuffer_add_reference(out, c.page->data(), c.page->size(), nullptr, nullptr);
  }
  c.answered = true;
  bufferevent_enable(c.bev, EV_WRITE);
}

// The answer has left: shut for writing and drop what the peer still sends until it closes or
// the timeout, so that closing never becomes a reset that could cost the peer the answer.
void DirPortServer::onWrite(bufferevent* bev, void* arg) {
  auto& c = *static_cast<Conn*>(arg);
  if (!c.answered || c.lingering) return;
  c.lingering = true;
  shutdown(bufferevent_getfd(bev), SHUT_WR);
  evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
  bufferevent_setwatermark(bev, EV_READ, 0, 0);
  bufferevent_enable(bev, EV_READ);
}

void DirPortServer::onEvent(bufferevent*, short, void* arg) {
  auto& c = *static_cast<Conn*>(arg);
  c.owner->drop(c);  // EOF, error or timeout
}

void DirPortServer::drop(Conn& c) {
  auto it = conns_.find(&c);
  if (it == conns_.end()) return;
  auto owned = std::move(it->second);
  conns_.erase(it);
  bufferevent_free(owned->bev);  // before the page its output may reference
}

}  // namespace onionsplit::launcher
