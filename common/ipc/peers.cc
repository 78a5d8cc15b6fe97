// common/ipc/peers.cc: Listener and Reconnector (see peers.h).
#include "common/ipc/peers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace onionsplit::ipc {

namespace {

// Disconnects surface as broken promises as often as fulfilled ones; both mean "ended", which the
// continuation handles, so nothing reaches here but bugs worth a line.
struct LogTaskErrors final : kj::TaskSet::ErrorHandler {
  void taskFailed(kj::Exception&& e) override {
    spdlog::warn("ipc: background task failed: {}", e.getDescription().cStr());
  }
};
LogTaskErrors gLogTaskErrors;

bool fillAddr(const std::string& path, sockaddr_un& addr) {
  addr = sockaddr_un{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

int listenUnix(const std::string& path) {
  sockaddr_un addr;
  if (!fillAddr(path, addr)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());  // stale
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      chmod(path.c_str(), 0660) != 0 || listen(fd, 128) != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int listenTcp(const std::string& address, uint16_t port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string ip = address.empty() ? "0.0.0.0" : address;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    len = sizeof *in4;
  } else if (inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    len = sizeof *in6;
  } else {
    errno = EINVAL;
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  bool ok = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            (ss.ss_family != AF_INET6 ||
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0) &&
            bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0 && listen(fd, 128) == 0;
  if (!ok) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

Listener::Listener(EventLoop& loop, int listenFd, Factory factory, Closed closed, RpcLimits limits)
    : loop_(loop),
      fd_(listenFd),
      factory_(std::move(factory)),
      closed_(std::move(closed)),
      limits_(limits),
      errors_(&gLogTaskErrors),
      tasks_(kj::heap<kj::TaskSet>(*errors_)) {
  // accept4() runs until EAGAIN: a listening socket handed over blocking (systemd passes them as
  // they were made) would hang the loop after its first connection.
  int flags = fcntl(fd_, F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  ev_ = event_new(loop_.base(), fd_, EV_READ | EV_PERSIST, &Listener::onAccept, this);
  event_add(ev_, nullptr);
}

Listener::~Listener() {
  event_free(ev_);
  close(fd_);
  tasks_ = nullptr;
  conns_.clear();
}

void Listener::onAccept(evutil_socket_t fd, short, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  for (int i = 0; i < 64; ++i) {
    int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        spdlog::warn("ipc: accept failed: {}", std::strerror(errno));
      return;
    }
    ConnectionId id = self->next_++;
    self->accepted_++;
    auto conn = std::make_unique<RpcConnection>(self->loop_.base(), c, true, self->factory_(id),
                                                self->limits_);
    self->tasks_->add(conn->onDisconnect().then([self, id]() { self->ended(id); },
                                                [self, id](kj::Exception&&) { self->ended(id); }));
    self->conns_.emplace(id, std::move(conn));
  }
}

void Listener::drop(ConnectionId id) {
  ended(id);
}

void Listener::ended(ConnectionId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  std::shared_ptr<RpcConnection> dying(std::move(it->second));
  conns_.erase(it);
  if (closed_) closed_(id);
  // Destroyed on a later turn: we may be inside one of its own callbacks.
  tasks_->add(kj::evalLater([dying]() mutable { dying.reset(); }));
}

Reconnector::Reconnector(EventLoop& loop, std::string path, std::string peerName, Hooks hooks,
                         RestartBackoff::Params backoff, RpcLimits limits)
    : loop_(loop),
      path_(std::move(path)),
      peer_(std::move(peerName)),
      hooks_(std::move(hooks)),
      backoff_(backoff),
      limits_(limits),
      errors_(&gLogTaskErrors),
      tasks_(kj::heap<kj::TaskSet>(*errors_)) {
  timer_ = evtimer_new(loop_.base(), &Reconnector::onTimer, this);
}

Reconnector::~Reconnector() {
  event_free(timer_);
  tasks_ = nullptr;
  conn_.reset();
}

void Reconnector::start() {
  tryConnect();
}

void Reconnector::onTimer(evutil_socket_t, short, void* arg) {
  static_cast<Reconnector*>(arg)->tryConnect();
}

void Reconnector::tryConnect() {
  if (conn_) return;
  sockaddr_un addr;
  if (!fillAddr(path_, addr)) {
    spdlog::error("ipc: socket path too long: {}", path_);
    return;
  }
  backoff_.started(std::chrono::steady_clock::now());  // a failed attempt counts as a short run
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) close(fd);
    scheduleRetry();
    return;
  }
  connects_++;
  uint64_t gen = ++generation_;
  conn_ = std::make_unique<RpcConnection>(loop_.base(), fd, false,
                                          capnp::Capability::Client(nullptr), limits_);
  tasks_->add(conn_->onDisconnect().then(
      [this, gen]() {
        if (gen == generation_) ended();
      },
      [this, gen](kj::Exception&&) {
        if (gen == generation_) ended();
      }));
  spdlog::info("ipc: connected to {}", peer_);
  if (hooks_.connected) hooks_.connected(*conn_);
}

void Reconnector::scheduleRetry() {
  auto wait = backoff_.exited(std::chrono::steady_clock::now());
  timeval tv{static_cast<time_t>(wait.count() / 1000),
             static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
  evtimer_add(timer_, &tv);
}

void Reconnector::drop() {
  ended();
}

void Reconnector::ended() {
  if (!conn_) return;
  ++generation_;
  std::shared_ptr<RpcConnection> dying(std::move(conn_));
  spdlog::warn("ipc: lost {}; reconnecting", peer_);
  if (hooks_.lost) hooks_.lost();
  tasks_->add(kj::evalLater([dying]() mutable { dying.reset(); }));
  scheduleRetry();
}

}  // namespace onionsplit::ipc
