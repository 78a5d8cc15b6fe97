// `onionsplit dirport -f FILE` as systemd runs it (onionsplit-dirport.service): the listening
// socket passed by socket activation (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES=dirport; fd 3), the
// sandbox on. Checked over TCP on 127.0.0.1: GET / is the DirPortFrontPage, other URLs 404, SIGHUP
// reads the page again (inside the sandbox); a passed socket on a port no DirPort line names, or a
// torrc without DirPort, is an error at start; run by hand, it binds the DirPort itself.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "tests/launcher/metrics_http.h"
#include "tests/launcher/service_relay.h"

namespace onionsplit::launcher {
namespace {

using http_test::freePort;
using http_test::talk;

using service_test::exitCode;
using service_test::listenTcp;

// `onionsplit dirport -f torrc`, `fd` (if >= 0) passed as "dirport" on fd 3.
pid_t spawn(const std::string& torrc, int fd, const std::string& out) {
  return service_test::spawn({service_test::bin("onionsplit"), "dirport", "-f", torrc},
                             fd >= 0 ? std::vector<int>{fd} : std::vector<int>{}, "dirport", out);
}

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/onionsplit-dirport-svc-XXXXXX";
    if (mkdtemp(tmpl)) path = tmpl;
    std::filesystem::create_directory(path + "/www");
    std::filesystem::create_directory(path + "/data");
  }
  ~Dir() { std::filesystem::remove_all(path); }
  std::string torrc(const std::string& dirPortLine) const {
    std::ofstream(path + "/torrc") << "DataDirectory " << path << "/data\nORPort 127.0.0.1:9001\n"
                                   << "DirPortFrontPage " << path << "/www/notice.html\n"
                                   << dirPortLine;
    return path + "/torrc";
  }
  std::string log() const {
    std::ifstream f(path + "/out.log");
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
};

std::string bodyOf(const std::string& reply) {
  size_t at = reply.find("\r\n\r\n");
  return at == std::string::npos ? "" : reply.substr(at + 4);
}

// GET / until the body is `want` (bounded: 150 x 100 ms).
bool pageBecomes(uint16_t port, const std::string& want) {
  for (int i = 0; i < 150; ++i) {
    if (bodyOf(talk(port, "GET / HTTP/1.0\r\n\r\n").text) == want) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(DirPortService, ServesThePageOnThePassedSocketAndRereadsItOnSighup) {
  Dir d;
  std::ofstream(d.path + "/www/notice.html") << "<p>exit notice</p>\n";
  uint16_t port = 0;
  int fd = listenTcp(port);
  ASSERT_GE(fd, 0);
  pid_t pid =
      spawn(d.torrc("DirPort 127.0.0.1:" + std::to_string(port) + "\n"), fd, d.path + "/out.log");
  close(fd);  // the service has it now, as systemd keeps its own copy
  ASSERT_TRUE(pageBecomes(port, "<p>exit notice</p>\n")) << d.log();
  std::string reply = talk(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").text;
  EXPECT_EQ(reply.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("\r\nContent-Type: text/html\r\n"), std::string::npos);
  reply = talk(port, "GET /tor/server/all HTTP/1.0\r\n\r\n").text;
  EXPECT_EQ(reply.substr(0, reply.find("\r\n")), "HTTP/1.0 404 Not found");
  std::ofstream(d.path + "/www/notice.html") << "<p>new notice</p>\n";
  ASSERT_EQ(kill(pid, SIGHUP), 0);
  EXPECT_TRUE(pageBecomes(port, "<p>new notice</p>\n")) << d.log();
  EXPECT_NE(d.log().find("socket from systemd"), std::string::npos) << d.log();
  if (getuid() == 0) {
    EXPECT_NE(d.log().find("sandbox: entered"), std::string::npos) << d.log();
  }
  kill(pid, SIGTERM);
  EXPECT_EQ(exitCode(pid), 0) << d.log();
}

TEST(DirPortService, BindsTheDirPortItselfWhenRunByHand) {
  Dir d;
  std::ofstream(d.path + "/www/notice.html") << "<p>by hand</p>\n";
  uint16_t port = freePort();
  pid_t pid =
      spawn(d.torrc("DirPort 127.0.0.1:" + std::to_string(port) + "\n"), -1, d.path + "/out.log");
  EXPECT_TRUE(pageBecomes(port, "<p>by hand</p>\n")) << d.log();
  kill(pid, SIGTERM);
  EXPECT_EQ(exitCode(pid), 0) << d.log();
}

TEST(DirPortService, AWrongSocketOrNoDirPortIsAnErrorAtStart) {
  Dir d;
  uint16_t port = 0;
  int fd = listenTcp(port);
  ASSERT_GE(fd, 0);
  uint16_t other = port == 65535 ? 1024 : port + 1;
  pid_t pid =
      spawn(d.torrc("DirPort 127.0.0.1:" + std::to_string(other) + "\n"), fd, d.path + "/out.log");
  EXPECT_EQ(exitCode(pid), 1);
  EXPECT_NE(d.log().find("which no DirPort line of the torrc names"), std::string::npos) << d.log();
  pid = spawn(d.torrc(""), fd, d.path + "/out.log");
  close(fd);
  EXPECT_EQ(exitCode(pid), 1);
  EXPECT_NE(d.log().find("no DirPort in the configuration"), std::string::npos) << d.log();
}

}  // namespace
}  // namespace onionsplit::launcher
