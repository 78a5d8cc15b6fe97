// `onionsplit control -f FILE` with the four real daemons started as systemd starts them, without
// the launcher (socket activation: LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES; keys from
// `onionsplit keygen --only-due`), as tests/launcher/metrics_service_test.cc does for the
// MetricsPort. The control service gets its TCP socket as "control" from onionsplit-control.socket
// or binds ControlSocket itself. Checked with the control protocol: PROTOCOLINFO, AUTHENTICATE with
// the cookie it wrote, GETINFO version, the fingerprint channeld gives over IPC, SETEVENTS BW and
// log events (a daemon's restart named), orconn-status from channeld, SIGNAL RELOAD reaching every
// daemon and the torrc read again (CONF_CHANGED), HEARTBEAT, and the 551s of what it cannot do
// under systemd.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/base/hex.h"
#include "tests/launcher/metrics_http.h"
#include "tests/launcher/service_relay.h"

namespace onionsplit::launcher {
namespace {

using namespace service_test;

// A controller: commands and their whole replies; asynchronous events (650) kept apart.
struct Controller {
  int fd = -1;
  std::vector<std::string> events;

  explicit Controller(const sockaddr* a, socklen_t len) {
    for (int i = 0; i < 100 && fd < 0; ++i) {
      fd = socket(a->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect(fd, a, len) == 0) break;
      close(fd);
      fd = -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    timeval limit{30, 0};
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  }
  // One line, "" after 30 s without one.
  std::string line() {
    std::string out;
    char ch;
    while (out.size() < 65536 && !out.ends_with("\r\n") && read(fd, &ch, 1) == 1)
      out += ch;
    return out;
  }
  // The reply to `cmd`: its lines up to the one with a space after the code.
  std::string ask(const std::string& cmd) {
    std::string c = cmd + "\r\n";
    if (fd < 0 || write(fd, c.data(), c.size()) != static_cast<ssize_t>(c.size())) return "";
    std::string reply;
    for (int i = 0; i < 10000; ++i) {
      std::string l = line();
      if (l.empty()) break;
      if (l.starts_with("650")) {
        events.push_back(l);
        continue;
      }
      reply += l;
      if (l.size() >= 4 && l[3] == '+') {  // a data reply: its lines up to "."
        while (!l.empty() && l != ".\r\n")
          reply += (l = line());
      } else if (l.size() >= 4 && l[3] == ' ') {
        break;
      }
    }
    return reply;
  }
  // Reads events until one starts with `prefix` (bounded: 200 lines or 30 s without one).
  bool awaitEvent(const std::string& prefix) {
    for (const auto& e : events)
      if (e.starts_with(prefix)) return true;
    for (int i = 0; i < 200; ++i) {
      std::string l = line();
      if (l.empty()) return false;
      events.push_back(l);
      if (l.starts_with(prefix)) return true;
    }
    return false;
  }
  ~Controller() {
    if (fd >= 0) close(fd);
  }
};

Controller tcpController(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return Controller(reinterpret_cast<sockaddr*>(&a), sizeof a);
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

// Asks until the reply is `want` (bounded: 150 x 100 ms); the last reply.
std::string askUntil(Controller& c, const std::string& cmd, const std::string& want) {
  std::string got;
  for (int i = 0; i < 150 && got != want; ++i) {
    if (i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    got = c.ask(cmd);
  }
  return got;
}

TEST(ControlService, ServesTheDaemonsUnderSocketActivation) {
  ServiceRelay r("control",
                 "ControlPort 127.0.0.1:@PORT@\nCookieAuthentication 1\nCookieAuthFile "
                 "@DIR@/control_auth_cookie\n");
  ASSERT_FALSE(r.dir.empty());
  ASSERT_TRUE(r.keygen());
  ASSERT_TRUE(r.makeSockets());
  for (const char* d : kDaemons)
    r.start(d);
  r.startService(true);
  Controller c = tcpController(r.servicePort);
  ASSERT_GE(c.fd, 0) << r.serviceOutput();
  std::string cookiePath = r.dir + "/control_auth_cookie";
  EXPECT_EQ(c.ask("PROTOCOLINFO 1"),
            "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=COOKIE,SAFECOOKIE COOKIEFILE=\"" + cookiePath +
                "\"\r\n250-VERSION Tor=\"0.4.9.11\"\r\n250 OK\r\n");
  struct stat st {};
  ASSERT_EQ(stat(cookiePath.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string cookie = readAll(cookiePath);
  ASSERT_EQ(cookie.size(), 32u);
  EXPECT_EQ(c.ask("AUTHENTICATE " +
                  toHex(Bytes(reinterpret_cast<const uint8_t*>(cookie.data()), cookie.size()))),
            "250 OK\r\n");
  std::string version = c.ask("GETINFO version");
  EXPECT_TRUE(version.starts_with("250-version=0.4.9.11 (onionsplit-")) << version;
  // The fingerprint comes from channeld (Control.identity): the service never reads a key.
  std::string fpLine = readAll(r.dir + "/data/fingerprint");
  ASSERT_GT(fpLine.size(), 41u);
  std::string fp = fpLine.substr(fpLine.find(' ') + 1, 40);
  EXPECT_EQ(askUntil(c, "GETINFO fingerprint", "250-fingerprint=" + fp + "\r\n250 OK\r\n"),
            "250-fingerprint=" + fp + "\r\n250 OK\r\n");
  EXPECT_EQ(c.ask("GETINFO process/pid"),
            "250-process/pid=" + std::to_string(r.servicePid) + "\r\n250 OK\r\n");
  EXPECT_EQ(c.ask("GETINFO net/listeners/control"),
            "250-net/listeners/control=\"127.0.0.1:" + std::to_string(r.servicePort) +
                "\"\r\n250 OK\r\n");
  // orconn-status from channeld (Control.channels): a connection to the ORPort still in its
  // handshake is C tor's NEW, without the client's address; nothing published, so no desc/id.
  sockaddr_in orAddr{};
  socklen_t orLen = sizeof orAddr;
  ASSERT_EQ(getsockname(r.orport, reinterpret_cast<sockaddr*>(&orAddr), &orLen), 0);
  int peer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(peer, reinterpret_cast<sockaddr*>(&orAddr), orLen), 0);
  EXPECT_EQ(askUntil(c, "GETINFO orconn-status", "250-orconn-status=[scrubbed] NEW\r\n250 OK\r\n"),
            "250-orconn-status=[scrubbed] NEW\r\n250 OK\r\n");
  close(peer);
  EXPECT_EQ(c.ask("GETINFO desc/id/" + fp), "552 Unrecognized key \"desc/id/" + fp + "\"\r\n");
  EXPECT_EQ(c.ask("GETINFO ns/all"), "250-ns/all=\r\n250 OK\r\n");  // no consensus here
  EXPECT_EQ(c.ask("SETEVENTS BW NOTICE WARN CONF_CHANGED"), "250 OK\r\n");
  EXPECT_TRUE(c.awaitEvent("650 BW ")) << r.serviceOutput();

  // A daemon's restart: a log event naming it, on the same connection.
  r.kill9("streamd");
  r.start("streamd");
  EXPECT_TRUE(c.awaitEvent("650 NOTICE control: streamd restarted")) << r.serviceOutput();

  // SIGNAL RELOAD: the torrc read again here (CONF_CHANGED) and every daemon asked to reload.
  std::ofstream(r.torrc(), std::ios::app) << "ContactInfo reload-over-ipc\n";
  EXPECT_EQ(c.ask("SIGNAL RELOAD"), "250 OK\r\n");
  EXPECT_TRUE(c.awaitEvent("650-CONF_CHANGED")) << r.serviceOutput();
  EXPECT_TRUE(c.awaitEvent("650 NOTICE control: reload: every daemon reads the torrc again"))
      << r.serviceOutput();
  std::string text = c.ask("GETINFO config-text");
  EXPECT_NE(text.find("ContactInfo reload-over-ipc"), std::string::npos) << text;
  for (int i = 0; i < 150 && count(readAll(r.dir + "/log"), "reload asked over the control") < 4;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(count(readAll(r.dir + "/log"), "reload asked over the control socket"), 4u)
      << readAll(r.dir + "/log");

  EXPECT_EQ(c.ask("SIGNAL HEARTBEAT"), "250 OK\r\n");
  EXPECT_TRUE(c.awaitEvent("650 NOTICE control: Heartbeat: ")) << r.serviceOutput();
  // What a keyless process under systemd cannot do is refused, saying why.
  for (const char* sig : {"SHUTDOWN", "HALT", "DUMP", "DEBUG"})
    EXPECT_TRUE(c.ask(std::string("SIGNAL ") + sig).starts_with("551 SIGNAL " + std::string(sig)))
        << sig;
  EXPECT_TRUE(c.ask("TAKEOWNERSHIP").starts_with("551 TAKEOWNERSHIP"));
  EXPECT_TRUE(c.ask("SETCONF ContactInfo=x").starts_with("551 SETCONF is not available"));
  EXPECT_EQ(c.ask("GETINFO process/pid"),
            "250-process/pid=" + std::to_string(r.servicePid) + "\r\n250 OK\r\n");
  EXPECT_EQ(waitpid(r.servicePid, nullptr, WNOHANG), 0) << "the control service must still run";
  std::string out = r.serviceOutput();
  EXPECT_NE(out.find("sockets from systemd"), std::string::npos) << out;
  EXPECT_EQ(out.find("is no ControlPort or ControlSocket"), std::string::npos) << out;
  EXPECT_NE(out.find("sandbox: entered"), std::string::npos) << out;
}

TEST(ControlService, BindsControlSocketItselfWithAPassword) {
  // "password", as `tor --hash-password password` gives it.
  ServiceRelay r("control",
                 "ControlSocket @DIR@/control.sock\nHashedControlPassword "
                 "16:E742547D957B358B606B671DDAAD5008F503BBB7506C13293E71412369\n");
  ASSERT_FALSE(r.dir.empty());
  close(std::exchange(r.serviceFd, -1));
  r.startService(false);  // no daemon runs: the protocol is served all the same
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string path = r.dir + "/control.sock";
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  Controller c(reinterpret_cast<sockaddr*>(&a), sizeof a);
  ASSERT_GE(c.fd, 0) << r.serviceOutput();
  EXPECT_EQ(c.ask("PROTOCOLINFO"),
            "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=HASHEDPASSWORD\r\n250-VERSION "
            "Tor=\"0.4.9.11\"\r\n250 OK\r\n");
  EXPECT_EQ(c.ask("AUTHENTICATE \"password\""), "250 OK\r\n");
  EXPECT_EQ(c.ask("GETINFO net/listeners/control"),
            "250-net/listeners/control=\"unix:" + path + "\"\r\n250 OK\r\n");
  EXPECT_NE(r.serviceOutput().find("bound here"), std::string::npos) << r.serviceOutput();
}

TEST(ControlService, WithoutControlPortThereIsNothingToServe) {
  ServiceRelay r("control", "");
  ASSERT_FALSE(r.dir.empty());
  r.startService(false);
  int status = waitExit(r.servicePid);
  r.servicePid = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(r.serviceOutput().find("no ControlPort or ControlSocket"), std::string::npos);
}

}  // namespace
}  // namespace onionsplit::launcher
