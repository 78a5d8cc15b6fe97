// The DirPort with the real launcher (and its daemons): `onionsplit -f FILE` with "DirPort
// 127.0.0.1:<free port>" and DirPortFrontPage answers "GET /" over TCP with the file as text/html,
// other URLs and methods as C tor's DirPort does, an oversized request with a close, and after
// SIGHUP the page as the file now is, all from the launcher's sandboxed child `onionsplit dirport`.
// A DirPort line with NoListen binds nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "tests/launcher/metrics_http.h"

namespace onionsplit::launcher {
namespace {

using http_test::freePort;
using http_test::talk;

struct Launcher {
  std::string dir;
  pid_t pid = -1;

  explicit Launcher(const std::string& extra, bool withPage = true) {
    char tmpl[] = "/tmp/onionsplit-dirport-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    std::filesystem::create_directory(dir + "/www");  // the page's directory: not DataDirectory's
    if (withPage)
      std::ofstream(dir + "/www/notice.html") << "<html><body>This is a Tor exit.</body></html>\n";
    std::ofstream(dir + "/torrc") << "DataDirectory " << dir << "/data\nNickname dirporttest\n"
                                  << "ORPort 127.0.0.1:0\nPublishServerDescriptor 0\n"
                                  << "Log notice file " << dir << "/log\n"
                                  << "DirPortFrontPage " << dir << "/www/notice.html\n"
                                  << extra;
    std::string bin = std::string(ONIONSPLIT_BIN_DIR) + "/onionsplit";
    pid = fork();
    if (pid == 0) {
      int err = open((dir + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(err, 1);
      dup2(err, 2);
      execl(bin.c_str(), "onionsplit", "-f", (dir + "/torrc").c_str(), nullptr);
      _exit(127);
    }
  }
  ~Launcher() {
    if (pid > 0 && kill(pid, SIGTERM) == 0) {
      int status = 0;
      bool exited = false;
      for (int i = 0; i < 150 && !exited; ++i) {
        exited = waitpid(pid, &status, WNOHANG) == pid;
        if (!exited) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
      }
    }
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

// Sends `request`, shuts the socket for writing (as `printf ... | nc` does) and reads the answer.
std::string talkThenShut(uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(port);
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string text;
  if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size()) &&
      shutdown(fd, SHUT_WR) == 0) {
    char buf[4096];
    for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;)
      text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return text;
}

// GET / until the body is `want` (bounded: 150 x 100 ms); the last reply.
std::string waitForPage(uint16_t port, const std::string& want) {
  std::string text;
  for (int i = 0; i < 150; ++i) {
    text = talk(port, "GET / HTTP/1.0\r\n\r\n").text;
    size_t body = text.find("\r\n\r\n");
    if (body != std::string::npos && text.substr(body + 4) == want) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "no page \"" << want << "\"; last reply:\n" << text;
  return text;
}

TEST(LauncherDirPort, ServesTheFrontPageAndAnswersTheRestAsCTor) {
  uint16_t port = freePort(), unused = freePort();
  Launcher l("DirPort 127.0.0.1:" + std::to_string(port) +
             " NoAdvertise\nDirPort 127.0.0.1:" + std::to_string(unused) + " NoListen\n");
  ASSERT_GT(l.pid, 0);
  std::string page = "<html><body>This is a Tor exit.</body></html>\n";
  std::string text = waitForPage(port, page);
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(text.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << text;
  EXPECT_NE(text.find("\r\nContent-Type: text/html\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\nContent-Length: " + std::to_string(page.size()) + "\r\n"),
            std::string::npos);
  EXPECT_NE(text.find("\r\nExpires: "), std::string::npos);
  // A browser's request, and the proxy form.
  text = talk(port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n").text;
  EXPECT_EQ(text.substr(text.find("\r\n\r\n") + 4), page);
  text = talk(port, "GET http://127.0.0.1/ HTTP/1.0\r\n\r\n").text;
  EXPECT_EQ(text.substr(text.find("\r\n\r\n") + 4), page);
  text = talkThenShut(port, "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(text.substr(text.find("\r\n\r\n") + 4), page) << "a peer that shut its side";

  auto status = [port](const std::string& request) {
    std::string t = talk(port, request).text;
    return t.substr(0, t.find("\r\n"));
  };
  EXPECT_EQ(status("GET /tor/status-vote/current/consensus HTTP/1.0\r\n\r\n"),
            "HTTP/1.0 404 Not found");
  EXPECT_EQ(status("GET /etc/passwd HTTP/1.0\r\n\r\n"), "HTTP/1.0 404 Not found");
  EXPECT_EQ(status("POST /tor/ HTTP/1.0\r\n\r\n"),
            "HTTP/1.0 400 Nonauthoritative directory does not accept posted server descriptors");
  EXPECT_EQ(status("GET / HTTP/2.0\r\n\r\n"), "HTTP/1.0 400 Bad request");
  auto head = talk(port, "HEAD / HTTP/1.0\r\n\r\n");
  EXPECT_TRUE(head.connected);
  EXPECT_EQ(head.text, "") << "C tor closes on a method other than GET and POST";
  auto huge = talk(port, "GET /" + std::string(9000, 'a') + " HTTP/1.0\r\n\r\n");
  EXPECT_EQ(huge.text, "") << "an oversized request is closed unanswered";
  EXPECT_FALSE(talk(unused, "GET / HTTP/1.0\r\n\r\n").connected) << "NoListen binds nothing";

  // SIGHUP reads the page again.
  std::string changed = "<html><body>Changed notice.</body></html>\n";
  std::ofstream(l.dir + "/www/notice.html") << changed;
  ASSERT_EQ(kill(l.pid, SIGHUP), 0);
  waitForPage(port, changed);

  // The requests were parsed in `onionsplit dirport`, the launcher's sandboxed child.
  std::ifstream err(l.dir + "/stderr");
  std::string errText((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
  EXPECT_NE(errText.find("onionsplit dirport: DirPort on port " + std::to_string(port)),
            std::string::npos)
      << errText;
  if (getuid() == 0) {
    EXPECT_NE(errText.find("onionsplit dirport: sandbox: entered"), std::string::npos) << errText;
  }
}

TEST(LauncherDirPort, AMissingPageIsAWarningAndA404) {
  uint16_t port = freePort();
  Launcher l("DirPort 127.0.0.1:" + std::to_string(port) + "\n", false);
  ASSERT_GT(l.pid, 0);
  std::string text;
  for (int i = 0; i < 150 && text.empty(); ++i) {
    text = talk(port, "GET / HTTP/1.0\r\n\r\n").text;
    if (text.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(text.substr(0, text.find("\r\n")), "HTTP/1.0 404 Not found") << text;
  std::string want = "DirPortFrontPage file '" + l.dir + "/www/notice.html' not found", logText;
  for (int i = 0; i < 150 && logText.find(want) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream log(l.dir + "/log");
    logText.assign(std::istreambuf_iterator<char>(log), std::istreambuf_iterator<char>());
  }
  EXPECT_NE(logText.find(want), std::string::npos) << logText;
}

}  // namespace
}  // namespace onionsplit::launcher
