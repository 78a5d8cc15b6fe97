// Component test of launcher/supervisor.h with real child processes (/bin/sh scripts standing in
// for the daemons, whose own restart tests live with them): output is prefixed, a killed child
// restarts with backoff while the other keeps running, and stopAll ends every child.
#include "launcher/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

namespace onionsplit::launcher {
namespace {

struct Harness {
  event_base* base = event_base_new();
  std::vector<std::string> lines;
  ~Harness() { event_base_free(base); }

  // Runs the loop until `pred` holds or `ms` pass.
  bool runUntil(const std::function<bool()>& pred, int ms) {
    for (int i = 0; i < ms / 10; ++i) {
      timeval tv{0, 10000};
      event_base_loopexit(base, &tv);
      event_base_dispatch(base);
      if (pred()) return true;
    }
    return pred();
  }
  bool sawLine(const std::string& s) const {
    return std::find(lines.begin(), lines.end(), s) != lines.end();
  }
};

DaemonSpec shell(const std::string& name, const std::string& script, int fd = -1) {
  DaemonSpec spec;
  spec.name = name;
  spec.path = "/bin/sh";
  spec.args = {"-c", script};
  spec.listenFd = fd;
  return spec;
}

TEST(Supervisor, PrefixesOutputRestartsOneAndStopsAll) {
  Harness h;
  RestartBackoff::Params fast{std::chrono::milliseconds(50), std::chrono::milliseconds(400),
                              std::chrono::milliseconds(60000)};
  Supervisor sup(
      h.base,
      {shell("alpha", "echo started; exec sleep 30"), shell("beta", "echo started; exec sleep 30")},
      fast, [&](const std::string& l) { h.lines.push_back(l); });
  sup.startAll();
  ASSERT_TRUE(
      h.runUntil([&] { return h.sawLine("alpha: started") && h.sawLine("beta: started"); }, 5000));
  pid_t alpha = sup.pidOf("alpha"), beta = sup.pidOf("beta");
  ASSERT_GT(alpha, 0);
  ASSERT_GT(beta, 0);

  ASSERT_EQ(kill(alpha, SIGKILL), 0);
  ASSERT_TRUE(
      h.runUntil([&] { return sup.pidOf("alpha") > 0 && sup.pidOf("alpha") != alpha; }, 5000));
  EXPECT_EQ(sup.restartsOf("alpha"), 1u);
  EXPECT_EQ(sup.pidOf("beta"), beta) << "the other daemon must not be touched";
  EXPECT_EQ(sup.restartsOf("beta"), 0u);

  bool done = false;
  sup.stopAll(std::chrono::milliseconds(3000), [&] { done = true; });
  ASSERT_TRUE(h.runUntil([&] { return done; }, 5000));
  EXPECT_EQ(sup.pidOf("alpha"), -1);
  EXPECT_EQ(sup.pidOf("beta"), -1);
  EXPECT_EQ(kill(beta, 0), -1) << "beta must be gone";
}

// The control port's log lines: a line marked for it goes to onControlLog only, the others to the
// output as before; the lowest severity controllers want reaches a running daemon and one started
// later over its "launcher" socket (a Python child prints what it receives there).
TEST(Supervisor, ControlLogLinesAndLevel) {
  Harness h;
  std::vector<std::string> control;
  const std::string reader =
      "import os, socket\n"
      "names = os.environ['LISTEN_FDNAMES'].split(':')\n"
      "s = socket.socket(fileno=3 + names.index('launcher'))\n"
      "print('\\x1f[notice] gamma: marked', flush=True)\n"
      "while True: print('got', s.recv(100).decode(), flush=True)\n";
  DaemonSpec gamma{"gamma", "/usr/bin/python3", {"-c", reader}, -1, {}, false};
  Supervisor sup(h.base, {gamma}, RestartBackoff::Params{},
                 [&](const std::string& l) { h.lines.push_back(l); });
  sup.onControlLog([&](const std::string& l) { control.push_back(l); });
  sup.setControlLogLevel("control-log info");  // before the start: sent when it starts
  sup.startAll();
  ASSERT_TRUE(h.runUntil([&] { return h.sawLine("gamma: got control-log info"); }, 10000));
  EXPECT_EQ(control, std::vector<std::string>{"gamma: [notice] gamma: marked"});
  sup.setControlLogLevel("control-log off");
  ASSERT_TRUE(h.runUntil([&] { return h.sawLine("gamma: got control-log off"); }, 10000));
  for (const auto& l : h.lines)
    EXPECT_EQ(l.find("marked"), std::string::npos) << l;
  bool done = false;
  sup.stopAll(std::chrono::milliseconds(3000), [&] { done = true; });
  ASSERT_TRUE(h.runUntil([&] { return done; }, 5000));
}

// A daemon that exits with daemon::kExitRefuseToRun (channeld, when the consensus requires a
// protocol it lacks) is not restarted: the supervisor reports it, and the launcher stops the relay.
TEST(Supervisor, ADaemonThatRefusesToRunIsNotRestarted) {
  Harness h;
  RestartBackoff::Params fast{std::chrono::milliseconds(50), std::chrono::milliseconds(400),
                              std::chrono::milliseconds(60000)};
  Supervisor sup(h.base, {shell("alpha", "exit 78"), shell("beta", "exec sleep 30")}, fast,
                 [&](const std::string& l) { h.lines.push_back(l); });
  std::string refused;
  sup.onRefusal([&](const std::string& name) { refused = name; });
  sup.startAll();
  ASSERT_TRUE(h.runUntil([&] { return !refused.empty(); }, 5000));
  EXPECT_EQ(refused, "alpha");
  EXPECT_TRUE(h.sawLine("launcher: alpha refuses to run (see its log); stopping the relay"));
  h.runUntil([] { return false; }, 300);  // longer than the backoff
  EXPECT_EQ(sup.restartsOf("alpha"), 0u);
  EXPECT_EQ(sup.pidOf("alpha"), -1);
  bool done = false;
  sup.stopAll(std::chrono::milliseconds(3000), [&] { done = true; });
  ASSERT_TRUE(h.runUntil([&] { return done; }, 5000));
}

// After drain() each daemon ends by itself when its own wait is over; stopAll with termAfter lets
// one that takes its time (here half a second) end with its own status, and sends SIGTERM only to
// one still running when termAfter is over, or at once when hurried.
TEST(Supervisor, AfterADrainSigtermWaitsForTermAfter) {
  Harness h;
  Supervisor sup(h.base,
                 {shell("slow",
                        "trap 'sleep 0.5; exit 0' INT; echo up; "
                        "while :; do sleep 0.05; done"),
                  shell("stuck", "trap '' INT; echo up; exec sleep 30")},
                 RestartBackoff::Params{}, [&](const std::string& l) { h.lines.push_back(l); });
  sup.startAll();
  ASSERT_TRUE(h.runUntil([&] { return h.sawLine("slow: up") && h.sawLine("stuck: up"); }, 5000));
  sup.drain();
  bool done = false;
  sup.stopAll(
      std::chrono::milliseconds(3000), [&] { done = true; }, std::chrono::milliseconds(60000));
  ASSERT_TRUE(h.runUntil([&] { return sup.pidOf("slow") == -1; }, 5000));
  EXPECT_TRUE(h.sawLine("launcher: slow stopped (exited with status 0)"));
  EXPECT_GT(sup.pidOf("stuck"), 0) << "SIGTERM came before termAfter";
  EXPECT_FALSE(done);
  sup.hurry();
  ASSERT_TRUE(h.runUntil([&] { return done; }, 5000));
  EXPECT_TRUE(h.sawLine("launcher: stuck stopped (killed by signal 15)"));
}

// Sockets are passed as systemd passes them: the IPC socket as fd 3 named after the daemon, the
// extra ones (channeld's ORPorts) after it, then the launcher's channel (new Log file
// descriptors), LISTEN_PID naming the daemon itself, nothing else.
TEST(Supervisor, PassesItsSocketsAsSystemdDoes) {
  Harness h;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  DaemonSpec spec = shell("gamma",
                          "echo \"env=$LISTEN_FDS $LISTEN_FDNAMES\"; "
                          "if [ \"$LISTEN_PID\" = \"$$\" ]; then echo pid-ok; fi; "
                          "if [ -e /proc/self/fd/3 ] && [ -e /proc/self/fd/4 ] && "
                          "[ -e /proc/self/fd/5 ]; then echo fds; fi; "
                          "if [ -e /proc/self/fd/6 ]; then echo leaked; fi; exec sleep 30",
                          sv[0]);
  spec.extraFds.emplace_back("orport", sv[1]);
  Supervisor sup(h.base, {spec}, RestartBackoff::Params{},
                 [&](const std::string& l) { h.lines.push_back(l); });
  sup.startAll();
  ASSERT_TRUE(h.runUntil([&] { return h.sawLine("gamma: fds"); }, 5000));
  EXPECT_TRUE(h.sawLine("gamma: env=3 gamma:orport:launcher"));
  EXPECT_TRUE(h.sawLine("gamma: pid-ok"));
  EXPECT_FALSE(h.sawLine("gamma: leaked"));
  bool done = false;
  sup.stopAll(std::chrono::milliseconds(3000), [&] { done = true; });
  ASSERT_TRUE(h.runUntil([&] { return done; }, 5000));
  close(sv[0]);
  close(sv[1]);
}

}  // namespace
}  // namespace onionsplit::launcher
