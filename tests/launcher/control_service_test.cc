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
#include "common/ipc/peers.h"
#include "tests/launcher/metrics_http.h"

namespace onionsplit::launcher {
namespace {

constexpr const char* kDaemons[] = {"channeld", "circuitd", "streamd", "confluxd"};

std::string bin(const std::string& name) {
  return std::string(ONIONSPLIT_BIN_DIR) + "/" + name;
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Waits (bounded: 15 s) for `pid` to exit; its exit status, or -1 if it did not.
int waitExit(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 150; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

// Ends `pid` (one of ours: never 0 or negative) with SIGTERM, SIGKILL after 15 s.
void stop(pid_t& pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  if (waitExit(pid) == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pid = -1;
}

// fork + exec of `argv` with `fds` passed by socket activation as `names`, output to `out`.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<int>& fds,
            const std::string& names, const std::string& out) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int log = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log >= 0) {
    dup2(log, 1);
    dup2(log, 2);
  }
  std::vector<int> high;
  for (int fd : fds)
    high.push_back(fcntl(fd, F_DUPFD_CLOEXEC, 100));
  for (size_t i = 0; i < high.size(); ++i)
    dup2(high[i], 3 + static_cast<int>(i));
  if (!fds.empty()) {
    setenv("LISTEN_FDS", std::to_string(fds.size()).c_str(), 1);
    setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
    setenv("LISTEN_FDNAMES", names.c_str(), 1);
  }
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

int listenTcp(uint16_t& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return -1;
  }
  port = ntohs(a.sin_port);
  return fd;
}

// The relay as systemd runs it, with the torrc in a directory of its own (as /etc/onionsplit),
// so the control service's sandbox may read it again.
struct Relay {
  std::string dir;
  std::map<std::string, int> sockets;
  std::map<std::string, pid_t> pids;
  int orport = -1;
  int controlFd = -1;
  uint16_t controlPort = 0;
  pid_t control = -1;

  // `extra` torrc lines; "@CONTROL@" stands for the ControlPort's port, "@DIR@" for the directory.
  explicit Relay(const std::string& extra) {
    char tmpl[] = "/tmp/onionsplit-cservice-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    chmod(dir.c_str(), 0755);
    std::filesystem::create_directories(dir + "/etc");
    uint16_t orPortNumber = 0;
    orport = listenTcp(orPortNumber);
    controlFd = listenTcp(controlPort);
    std::string text = extra;
    for (size_t at; (at = text.find("@CONTROL@")) != std::string::npos;)
      text.replace(at, 9, std::to_string(controlPort));
    for (size_t at; (at = text.find("@DIR@")) != std::string::npos;)
      text.replace(at, 5, dir);
    std::ofstream(torrc()) << "DataDirectory " << dir << "/data\nIPCDirectory " << dir
                           << "/ipc\nNickname cservicetest\nORPort 127.0.0.1:" << orPortNumber
                           << "\nLog notice file " << dir << "/log\n"
                           << text;
  }
  std::string torrc() const { return dir + "/etc/torrc"; }
  std::string ipc() const { return dir + "/ipc"; }

  bool keygen() {
    pid_t pid = spawn({bin("onionsplit"), "keygen", "--only-due", "-f", torrc()}, {}, "",
                      dir + "/keygen.out");
    int status = waitExit(pid);
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }

  bool makeSockets() {
    std::filesystem::create_directories(ipc());
    for (const char* d : kDaemons) {
      int fd = ipc::listenUnix(ipc() + "/" + d + ".sock");
      if (fd < 0) return false;
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      sockets[d] = fd;
    }
    return true;
  }

  void start(const std::string& d) {
    std::vector<int> fds{sockets[d]};
    std::string names = d;
    if (d == "channeld") {
      fds.push_back(orport);
      names += ":orport";
    }
    pids[d] = spawn({bin(d), "-f", torrc()}, fds, names, dir + "/" + d + ".out");
  }

  void kill9(const std::string& d) {
    pid_t pid = pids[d];
    ASSERT_GT(pid, 0);
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    waitpid(pid, nullptr, 0);
    pids[d] = -1;
  }

  // onionsplit-control.service: socket activation with onionsplit-control.socket, or alone.
  void startControl(bool passSocket) {
    std::vector<int> fds;
    if (passSocket) fds.push_back(controlFd);
    control =
        spawn({bin("onionsplit"), "control", "-f", torrc()}, fds, "control", dir + "/control.out");
  }
  std::string controlOutput() const { return readAll(dir + "/control.out"); }

  ~Relay() {
    stop(control);
    for (auto& [d, pid] : pids)
      stop(pid);
    for (auto& [d, fd] : sockets)
      close(fd);
    if (orport >= 0) close(orport);
    if (controlFd >= 0) close(controlFd);
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

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
  Relay r(
      "ControlPort 127.0.0.1:@CONTROL@\nCookieAuthentication 1\nCookieAuthFile "
      "@DIR@/control_auth_cookie\n");
  ASSERT_FALSE(r.dir.empty());
  ASSERT_TRUE(r.keygen());
  ASSERT_TRUE(r.makeSockets());
  for (const char* d : kDaemons)
    r.start(d);
  r.startControl(true);
  Controller c = tcpController(r.controlPort);
  ASSERT_GE(c.fd, 0) << r.controlOutput();
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
            "250-process/pid=" + std::to_string(r.control) + "\r\n250 OK\r\n");
  EXPECT_EQ(c.ask("GETINFO net/listeners/control"),
            "250-net/listeners/control=\"127.0.0.1:" + std::to_string(r.controlPort) +
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
  EXPECT_TRUE(c.awaitEvent("650 BW ")) << r.controlOutput();

  // A daemon's restart: a log event naming it, on the same connection.
  r.kill9("streamd");
  r.start("streamd");
  EXPECT_TRUE(c.awaitEvent("650 NOTICE control: streamd restarted")) << r.controlOutput();

  // SIGNAL RELOAD: the torrc read again here (CONF_CHANGED) and every daemon asked to reload.
  std::ofstream(r.torrc(), std::ios::app) << "ContactInfo reload-over-ipc\n";
  EXPECT_EQ(c.ask("SIGNAL RELOAD"), "250 OK\r\n");
  EXPECT_TRUE(c.awaitEvent("650-CONF_CHANGED")) << r.controlOutput();
  EXPECT_TRUE(c.awaitEvent("650 NOTICE control: reload: every daemon reads the torrc again"))
      << r.controlOutput();
  std::string text = c.ask("GETINFO config-text");
  EXPECT_NE(text.find("ContactInfo reload-over-ipc"), std::string::npos) << text;
  for (int i = 0; i < 150 && count(readAll(r.dir + "/log"), "reload asked over the control") < 4;
       ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(count(readAll(r.dir + "/log"), "reload asked over the control socket"), 4u)
      << readAll(r.dir + "/log");

  EXPECT_EQ(c.ask("SIGNAL HEARTBEAT"), "250 OK\r\n");
  EXPECT_TRUE(c.awaitEvent("650 NOTICE control: Heartbeat: ")) << r.controlOutput();
  // What a keyless process under systemd cannot do is refused, saying why.
  for (const char* sig : {"SHUTDOWN", "HALT", "DUMP", "DEBUG"})
    EXPECT_TRUE(c.ask(std::string("SIGNAL ") + sig).starts_with("551 SIGNAL " + std::string(sig)))
        << sig;
  EXPECT_TRUE(c.ask("TAKEOWNERSHIP").starts_with("551 TAKEOWNERSHIP"));
  EXPECT_TRUE(c.ask("SETCONF ContactInfo=x").starts_with("551 SETCONF is not available"));
  EXPECT_EQ(c.ask("GETINFO process/pid"),
            "250-process/pid=" + std::to_string(r.control) + "\r\n250 OK\r\n");
  EXPECT_EQ(waitpid(r.control, nullptr, WNOHANG), 0) << "the control service must still run";
  std::string out = r.controlOutput();
  EXPECT_NE(out.find("sockets from systemd"), std::string::npos) << out;
  EXPECT_EQ(out.find("is no ControlPort or ControlSocket"), std::string::npos) << out;
  EXPECT_NE(out.find("sandbox: entered"), std::string::npos) << out;
}

TEST(ControlService, BindsControlSocketItselfWithAPassword) {
  // "password", as `tor --hash-password password` gives it.
  Relay r(
      "ControlSocket @DIR@/control.sock\nHashedControlPassword "
      "16:E742547D957B358B606B671DDAAD5008F503BBB7506C13293E71412369\n");
  ASSERT_FALSE(r.dir.empty());
  close(std::exchange(r.controlFd, -1));
  r.startControl(false);  // no daemon runs: the protocol is served all the same
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string path = r.dir + "/control.sock";
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  Controller c(reinterpret_cast<sockaddr*>(&a), sizeof a);
  ASSERT_GE(c.fd, 0) << r.controlOutput();
  EXPECT_EQ(c.ask("PROTOCOLINFO"),
            "250-PROTOCOLINFO 1\r\n250-AUTH METHODS=HASHEDPASSWORD\r\n250-VERSION "
            "Tor=\"0.4.9.11\"\r\n250 OK\r\n");
  EXPECT_EQ(c.ask("AUTHENTICATE \"password\""), "250 OK\r\n");
  EXPECT_EQ(c.ask("GETINFO net/listeners/control"),
            "250-net/listeners/control=\"unix:" + path + "\"\r\n250 OK\r\n");
  EXPECT_NE(r.controlOutput().find("bound here"), std::string::npos) << r.controlOutput();
}

TEST(ControlService, WithoutControlPortThereIsNothingToServe) {
  Relay r("");
  ASSERT_FALSE(r.dir.empty());
  r.startControl(false);
  int status = waitExit(r.control);
  r.control = -1;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_NE(r.controlOutput().find("no ControlPort or ControlSocket"), std::string::npos);
}

}  // namespace
}  // namespace onionsplit::launcher
