// Tests of checkPassedSocket (launcher/metrics_server.h) on real sockets: the socket systemd passes
// for the MetricsPort is taken only if it is a listening TCP socket bound to exactly the torrc's
// MetricsPort (address and port), and the refusal names both.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "launcher/metrics_server.h"

namespace onionsplit::launcher {
namespace {

// A TCP socket on 127.0.0.1 (port chosen by the kernel), listening or not; closed at the end.
struct TcpSocket {
  int fd = -1;
  uint16_t port = 0;
  TcpSocket(const char* address, bool listening, int family = AF_INET) {
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
      in6->sin6_family = AF_INET6;
      inet_pton(AF_INET6, address, &in6->sin6_addr);
      len = sizeof *in6;
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&ss);
      in->sin_family = AF_INET;
      inet_pton(AF_INET, address, &in->sin_addr);
      len = sizeof *in;
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) return;
    if (listening) listen(fd, 4);
    getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    port = ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                    : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  ~TcpSocket() { close(fd); }
};

config::MetricsPort at(const std::string& address, uint16_t port) {
  config::MetricsPort m;
  m.address = address;
  m.port = port;
  return m;
}

TEST(MetricsPassedSocket, TakenWhenItListensWhereTheTorrcSays) {
  TcpSocket s("127.0.0.1", true);
  ASSERT_NE(s.port, 0);
  EXPECT_EQ(checkPassedSocket(s.fd, at("127.0.0.1", s.port)), "");
}

TEST(MetricsPassedSocket, AnotherPortOrAddressIsRefusedNamingBoth) {
  TcpSocket s("127.0.0.1", true);
  ASSERT_NE(s.port, 0);
  uint16_t other = static_cast<uint16_t>(s.port == 65535 ? 1 : s.port + 1);
  std::string why = checkPassedSocket(s.fd, at("127.0.0.1", other));
  EXPECT_NE(why.find("listens on 127.0.0.1:" + std::to_string(s.port)), std::string::npos) << why;
  EXPECT_NE(why.find("MetricsPort 127.0.0.1:" + std::to_string(other)), std::string::npos) << why;
  why = checkPassedSocket(s.fd, at("127.0.0.2", s.port));
  EXPECT_NE(why.find("MetricsPort 127.0.0.2:"), std::string::npos) << why;
  // A socket on every address is not the loopback port the torrc names.
  TcpSocket any("0.0.0.0", true);
  EXPECT_NE(checkPassedSocket(any.fd, at("127.0.0.1", any.port)), "");
  // Another family with the same port.
  EXPECT_NE(checkPassedSocket(s.fd, at("::1", s.port)), "");
}

TEST(MetricsPassedSocket, IPv6Literals) {
  TcpSocket s("::1", true, AF_INET6);
  if (s.port == 0) GTEST_SKIP() << "no IPv6 loopback here";
  EXPECT_EQ(checkPassedSocket(s.fd, at("::1", s.port)), "");
  EXPECT_NE(checkPassedSocket(s.fd, at("::2", s.port)).find("[::1]:"), std::string::npos);
}

TEST(MetricsPassedSocket, NotListeningNotTcpOrNotASocketIsRefused) {
  TcpSocket idle("127.0.0.1", false);
  EXPECT_NE(checkPassedSocket(idle.fd, at("127.0.0.1", idle.port)), "");
  int unix[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, unix), 0);
  EXPECT_NE(checkPassedSocket(unix[0], at("127.0.0.1", 9035)), "");
  close(unix[0]);
  close(unix[1]);
  int dgram = socket(AF_INET, SOCK_DGRAM, 0);
  EXPECT_NE(checkPassedSocket(dgram, at("127.0.0.1", 9035)), "");
  close(dgram);
  int pipes[2];
  ASSERT_EQ(pipe(pipes), 0);
  EXPECT_NE(checkPassedSocket(pipes[0], at("127.0.0.1", 9035)).find("not a socket"),
            std::string::npos);
  close(pipes[0]);
  close(pipes[1]);
  EXPECT_NE(checkPassedSocket(-1, at("127.0.0.1", 9035)), "");
}

}  // namespace
}  // namespace onionsplit::launcher
