// tests/launcher/service_relay.h: the relay as systemd runs it, without the launcher, shared by the
// service modes' component tests (metrics_service_test, control_service_test,
// dirport_service_test): processes started with their sockets passed by socket activation
// (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES; fds from 3), the sockets kept here across a daemon's
// restart as systemd keeps them, the keys from `onionsplit keygen --only-due` as
// onionsplit-keys.service makes them, every process stopped by its pid at the end.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/ipc/peers.h"

namespace onionsplit::launcher::service_test {

inline constexpr const char* kDaemons[] = {"channeld", "circuitd", "streamd", "confluxd"};

inline std::string bin(const std::string& name) {
  return std::string(ONIONSPLIT_BIN_DIR) + "/" + name;
}

inline std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Waits (bounded: 15 s) for `pid` to exit; its wait status, or -1 if it did not.
inline int waitExit(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 150; ++i) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

// The exit code of `pid` within 15 s; -1 if it was signalled or still ran (then it is killed).
inline int exitCode(pid_t pid) {
  int status = waitExit(pid);
  if (status == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Ends `pid` (one of ours: never 0 or negative) with SIGTERM, SIGKILL after 15 s.
inline void stop(pid_t& pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  if (waitExit(pid) == -1) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  pid = -1;
}

// fork + exec of `argv` with `fds` passed by socket activation as `names` (fd 3 on), output to
// `out`. The child's own pid goes in LISTEN_PID, as systemd sets it.
inline pid_t spawn(const std::vector<std::string>& argv, const std::vector<int>& fds,
                   const std::string& names, const std::string& out) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  int log = open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log >= 0) {
    dup2(log, 1);
    dup2(log, 2);
  }
  std::vector<int> high;  // out of the way of 3.. first, so no dup2 overwrites another source
  for (int fd : fds)
    high.push_back(fcntl(fd, F_DUPFD_CLOEXEC, 100));
  for (size_t i = 0; i < high.size(); ++i)
    dup2(high[i], 3 + static_cast<int>(i));  // dup2 leaves the copy without close-on-exec
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

// A TCP socket listening on 127.0.0.1:0, as a .socket unit's ListenStream= makes it.
inline int listenTcp(uint16_t& port) {
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

// A private directory (removed at the end) with the torrc in etc/ (as /etc/onionsplit, so a
// service's sandbox may read it again), the four daemons' listening sockets, their processes, and
// one service mode (`onionsplit <service>`) with the TCP socket its .socket unit would pass.
struct ServiceRelay {
  std::string service;  // "metrics", "control": the mode and its socket's FileDescriptorName
  std::string dir;
  std::map<std::string, int> sockets;  // daemon -> its listening Unix socket
  std::map<std::string, pid_t> pids;
  int orport = -1;
  int serviceFd = -1;
  uint16_t servicePort = 0;
  pid_t servicePid = -1;

  // `extra` torrc lines; "@PORT@" stands for the service's port, "@DIR@" for the directory.
  ServiceRelay(std::string mode, const std::string& extra) : service(std::move(mode)) {
    char tmpl[] = "/tmp/onionsplit-service-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    chmod(dir.c_str(), 0755);
    std::filesystem::create_directories(dir + "/etc");
    uint16_t orPortNumber = 0;
    orport = listenTcp(orPortNumber);
    serviceFd = listenTcp(servicePort);
    std::string text = extra;
    for (size_t at; (at = text.find("@PORT@")) != std::string::npos;)
      text.replace(at, 6, std::to_string(servicePort));
    for (size_t at; (at = text.find("@DIR@")) != std::string::npos;)
      text.replace(at, 5, dir);
    std::ofstream(torrc()) << "DataDirectory " << dir << "/data\nIPCDirectory " << dir
                           << "/ipc\nNickname " << service
                           << "svctest\nORPort 127.0.0.1:" << orPortNumber << "\nLog notice file "
                           << dir << "/log\n"
                           << text;
  }
  std::string torrc() const { return dir + "/etc/torrc"; }
  std::string ipc() const { return dir + "/ipc"; }

  // What onionsplit-keys.service does before channeld and circuitd start.
  bool keygen() {
    pid_t pid = spawn({bin("onionsplit"), "keygen", "--only-due", "-f", torrc()}, {}, "",
                      dir + "/keygen.out");
    return exitCode(pid) == 0;
  }

  // What the .socket units do: bind each daemon's socket, once.
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

  // What onionsplit-<daemon>.service does: the daemon with its sockets passed in.
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
    ASSERT_GT(pid, 0);  // never kill(0, ...): that is our whole process group
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    waitpid(pid, nullptr, 0);
    pids[d] = -1;
  }

  // onionsplit-<service>.service: with its socket as the .socket unit passes it, or alone (then
  // it binds what the torrc says itself, so the test lets go of the port first).
  void startService(bool passSocket) {
    std::vector<int> fds;
    if (passSocket) {
      fds.push_back(serviceFd);
    } else if (serviceFd >= 0) {
      close(serviceFd);
      serviceFd = -1;
    }
    servicePid = spawn({bin("onionsplit"), service, "-f", torrc()}, fds, service, serviceLog());
  }
  std::string serviceLog() const { return dir + "/" + service + ".out"; }
  std::string serviceOutput() const { return readAll(serviceLog()); }

  ~ServiceRelay() {
    stop(servicePid);
    for (auto& [d, pid] : pids)
      stop(pid);
    for (auto& [d, fd] : sockets)
      close(fd);
    if (orport >= 0) close(orport);
    if (serviceFd >= 0) close(serviceFd);
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

}  // namespace onionsplit::launcher::service_test
