// Tests for common/daemon/log.h: journal priority prefixes, log ranges, and the rate limiter.
#include "common/daemon/log.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace onionsplit::daemon {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Logging, FileTargetHonoursTheSeverityRange) {
  auto dir = std::filesystem::temp_directory_path() / ("os-log-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  config::LogTarget t;
  t.kind = config::LogTarget::Kind::kFile;
  t.path = (dir / "log").string();
  t.minSeverity = config::LogSeverity::kInfo;
  t.maxSeverity = config::LogSeverity::kWarn;
  std::string err;
  ASSERT_TRUE(setupLogging({"testd", false}, {t}, err)) << err;
  spdlog::trace("too low");  // C tor's debug
  spdlog::debug("kept info");
  spdlog::info("kept notice");
  spdlog::warn("kept warn");
  spdlog::error("too high");
  spdlog::default_logger()->flush();
  std::string text = slurp(t.path);
  EXPECT_NE(text.find(" [info] testd: kept info"), std::string::npos) << text;
  EXPECT_NE(text.find(" [notice] testd: kept notice"), std::string::npos) << text;
  EXPECT_NE(text.find("kept warn"), std::string::npos);
  EXPECT_EQ(text.find("too low"), std::string::npos);
  EXPECT_EQ(text.find("too high"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Logging, UnwritableFileIsAnError) {
  config::LogTarget t;
  t.kind = config::LogTarget::Kind::kFile;
  t.path = "/proc/self/no-such-dir/log";  // cannot be created, even by root
  std::string err;
  EXPECT_FALSE(setupLogging({"testd", false}, {t}, err));
  EXPECT_FALSE(err.empty());
}

TEST(Logging, JournalLinesCarryThePriority) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  std::string err;
  ASSERT_TRUE(setupLogging({"testd", true}, {config::LogTarget{}}, err));
  spdlog::warn("careful");
  spdlog::info("fyi");
  spdlog::default_logger()->flush();
  dup2(saved, STDERR_FILENO);
  close(fds[1]);
  char buf[256] = {};
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  ASSERT_GT(n, 0);
  std::string text(buf, static_cast<size_t>(n));
  EXPECT_NE(text.find("<4>[warn] testd: careful"), std::string::npos) << text;
  EXPECT_NE(text.find("<5>[notice] testd: fyi"), std::string::npos) << text;
}

TEST(RateLimiter, BurstThenSuppressedThenCounted) {
  RateLimiter rl(2, std::chrono::milliseconds(1000));
  RateLimiter::Clock::time_point t{};
  uint64_t dropped = 99;
  EXPECT_TRUE(rl.allow("peer", t, dropped));
  EXPECT_EQ(dropped, 0u);
  EXPECT_TRUE(rl.allow("peer", t, dropped));
  EXPECT_FALSE(rl.allow("peer", t, dropped));
  EXPECT_FALSE(rl.allow("peer", t, dropped));
  EXPECT_TRUE(rl.allow("other", t, dropped)) << "keys are independent";
  t += std::chrono::milliseconds(1000);
  EXPECT_TRUE(rl.allow("peer", t, dropped));
  EXPECT_EQ(dropped, 2u);
}

}  // namespace
}  // namespace onionsplit::daemon
