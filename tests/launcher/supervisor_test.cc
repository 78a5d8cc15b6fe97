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
  return DaemonSpec{name, "/bin/sh", {"-c", script}, fd};
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

TEST(Supervisor, PassesTheListeningSocketAsFd3) {
  Harness h;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  Supervisor sup(h.base,
                 {shell("gamma",
                        "echo \"env=$ONIONSPLIT_LISTEN_FDS\"; "
                        "if [ -e /proc/self/fd/3 ]; then echo fd3; fi; "
                        "if [ -e /proc/self/fd/4 ]; then echo leaked; fi; exec sleep 30",
                        sv[0])},
                 RestartBackoff::Params{}, [&](const std::string& l) { h.lines.push_back(l); });
  sup.startAll();
  ASSERT_TRUE(h.runUntil([&] { return h.sawLine("gamma: fd3"); }, 5000));
  EXPECT_TRUE(h.sawLine("gamma: env=gamma=3"));
  EXPECT_FALSE(h.sawLine("gamma: leaked"));
  bool done = false;
  sup.stopAll(std::chrono::milliseconds(3000), [&] { done = true; });
  ASSERT_TRUE(h.runUntil([&] { return done; }, 5000));
  close(sv[0]);
  close(sv[1]);
}

}  // namespace
}  // namespace onionsplit::launcher
