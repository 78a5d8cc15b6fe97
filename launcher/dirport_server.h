// launcher/dirport_server.h: the DirPort on `onionsplit dirport`'s libevent loop (the launcher's
// sandboxed child, or systemd's onionsplit-dirport.service: launcher/dirport_service.h). It serves
// the DirPortFrontPage (the exit notice a person sees who browses to the relay's address) and
// answers everything else as a C tor relay's DirPort does (launcher/dirport_http.h). It holds no
// key and serves no directory document; the page is read at start and at SIGHUP (loadFrontPage),
// never from a path a request names.
//
// Hostile input: a request head may take kMaxRequestBytes and kTimeoutSeconds (more, or a head not
// ended in time: closed unanswered, as C tor closes an oversized request); at most kMaxConnections
// are open at once (more are closed at accept); every connection closes after one answer. The
// page is shared by every answer, not copied per connection.
#pragma once

#include <event2/event.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config/config.h"

struct evconnlistener;
struct bufferevent;

namespace onionsplit::launcher {

using FrontPage = std::shared_ptr<const std::string>;

// Reads DirPortFrontPage `path` as C tor does (the text up to a NUL byte); nullptr with `warning`
// set if it cannot be read (C tor carries on without a page: "/" then answers 404) or is larger
// than kMaxFrontPageBytes.
FrontPage loadFrontPage(const std::string& path, std::string& warning);
inline constexpr size_t kMaxFrontPageBytes = 1 << 20;

class DirPortServer {
 public:
  // Binds and listens on every DirPort line without NoListen (`onionsplit dirport` run by hand),
  // accepting nothing until serve(). nullptr, with `error` set, if a port cannot be had. `base`
  // must outlive the server.
  static std::unique_ptr<DirPortServer> listen(event_base* base,
                                               const std::vector<config::OrPort>& ports,
                                               std::string& error);
  // Serves on `fds`, listening TCP sockets someone else bound (systemd's
  // onionsplit-dirport.socket), each on the port of a DirPort line. Takes every fd (closed on
  // failure). nullptr, with `error` set, if one is not such a socket.
  static std::unique_ptr<DirPortServer> adopt(event_base* base, const std::vector<int>& fds,
                                              const std::vector<config::OrPort>& ports,
                                              std::string& error);
  ~DirPortServer();
  DirPortServer(const DirPortServer&) = delete;
  DirPortServer& operator=(const DirPortServer&) = delete;

  void serve(FrontPage page);
  // A reload read the page again: it applies to the next request.
  void setPage(FrontPage page) { page_ = std::move(page); }
  // The port each listener got, in the order of the DirPort lines that listen.
  const std::vector<uint16_t>& ports() const { return ports_; }

  static constexpr size_t kMaxRequestBytes = 8192;
  static constexpr size_t kMaxConnections = 64;
  static constexpr int kTimeoutSeconds = 10;

 private:
  struct Conn;
  explicit DirPortServer(event_base* base);
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* self);
  static void onRead(bufferevent* bev, void* conn);
  static void onWrite(bufferevent* bev, void* conn);
  static void onEvent(bufferevent* bev, short what, void* conn);
  void answer(Conn& c, std::string_view head);
  void drop(Conn& c);

  event_base* base_;
  FrontPage page_;
  std::vector<evconnlistener*> listeners_;
  std::vector<uint16_t> ports_;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
};

}  // namespace onionsplit::launcher
