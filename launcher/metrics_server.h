// launcher/metrics_server.h: the MetricsPort's HTTP/1.0 server on the launcher's libevent loop.
// It answers GET /metrics with the page a `Collect` function makes (launcher/metrics_scrape.h),
// and nothing else.
//
// Hostile input: a peer MetricsPortPolicy refuses is closed before a byte is read (as C tor does);
// a request line and headers may take 1024 bytes and 10 s, at most 16 connections are open at
// once (more are closed at accept), anything but "GET /metrics" gets 400, 404 or 405, and every
// connection closes after one answer. Memory is bounded by those limits and the page.
#pragma once

#include <event2/event.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include <kj/async.h>

#include "common/config/config.h"
#include "launcher/metrics_policy.h"

struct evconnlistener;
struct bufferevent;

namespace onionsplit::launcher {

// Why the listening socket `fd` cannot serve as MetricsPort `where`, or "" if it can: it must be a
// listening TCP socket bound to exactly that address and port. The torrc and the socket unit must
// agree, or an operator reading `MetricsPort 127.0.0.1:9035` would believe the port is where it
// is not (e.g. on every address).
std::string checkPassedSocket(int fd, const config::MetricsPort& where);

class MetricsServer {
 public:
  using Collect = std::function<kj::Promise<std::string>()>;

  // Binds and listens on `where` now (so that it may happen before the launcher gives up root),
  // but accepts nothing until serve(). nullptr, with `error` set, if the port cannot be had.
  // `base` must outlive the server.
  static std::unique_ptr<MetricsServer> listen(event_base* base, const config::MetricsPort& where,
                                               MetricsPolicy policy, std::string& error);
  // Serves on `fd`, a listening socket someone else bound (systemd's onionsplit-metrics.socket),
  // which must be a listening TCP socket bound to exactly `where` (checkPassedSocket). Takes `fd`
  // in every case (closed on failure). nullptr, with `error` set, if it is not.
  static std::unique_ptr<MetricsServer> adopt(event_base* base, int fd,
                                              const config::MetricsPort& where,
                                              MetricsPolicy policy, std::string& error);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Starts accepting; each GET /metrics calls `collect` for a fresh page.
  void serve(Collect collect);
  uint16_t port() const { return port_; }
  uint64_t refused() const { return refused_; }  // connections closed by the policy
  // MetricsPortPolicy changed (reload): it applies to the next connection.
  void setPolicy(MetricsPolicy policy) { policy_ = std::move(policy); }

  static constexpr size_t kMaxRequestBytes = 1024;
  static constexpr size_t kMaxConnections = 16;
  static constexpr int kTimeoutSeconds = 10;

 private:
  struct Conn;
  MetricsServer(event_base* base, MetricsPolicy policy);
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* self);
  static void onRead(bufferevent* bev, void* conn);
  static void onWrite(bufferevent* bev, void* conn);
  static void onEvent(bufferevent* bev, short what, void* conn);
  void handle(Conn& c, const std::string& requestLine);
  void reply(Conn& c, const std::string& status, const std::string& body,
             const std::string& extraHeaders = "");
  void drop(Conn& c);

  event_base* base_;
  MetricsPolicy policy_;
  Collect collect_;
  evconnlistener* listener_ = nullptr;
  uint16_t port_ = 0;
  uint64_t refused_ = 0;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
};

}  // namespace onionsplit::launcher
