// tests/launcher/metrics_http.h: the test side of the MetricsPort, shared by the launcher's and
// `onionsplit metrics`'s component tests: a free port on 127.0.0.1, one HTTP exchange from a
// chosen loopback address (bounded: 5 s of silence ends it), a scrape, and a line test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace onionsplit::launcher::http_test {

inline uint16_t freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

struct Reply {
  bool connected = false;
  std::string text;  // everything the server sent before closing
};

// Sends `request` to to:port from `from` and reads until the server closes (5 s at most).
inline Reply talk(uint16_t port, const std::string& request, const char* from = "127.0.0.1",
                  const char* to = "127.0.0.1") {
  Reply r;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, from, &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  inet_pton(AF_INET, to, &dst.sin_addr);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    close(fd);
    return r;
  }
  r.connected = true;
  signal(SIGPIPE, SIG_IGN);
  if (!request.empty()) (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  char buf[4096];
  for (int i = 0; i < 10000; ++i) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    r.text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return r;
}

inline std::string scrape(uint16_t port) {
  return talk(port, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").text;
}

inline bool hasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

}  // namespace onionsplit::launcher::http_test
