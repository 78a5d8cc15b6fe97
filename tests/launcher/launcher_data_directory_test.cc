// Tests for launcher/data_directory.h on real directories: what --verify-config reports and what
// start does (make, fix the mode) or refuses (not a directory, another owner).
#include "launcher/data_directory.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace onionsplit::launcher {
namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/onionsplit-datadir-XXXXXX";
    if (mkdtemp(tmpl)) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

uint32_t modeOf(const std::string& p) {
  struct stat st {};
  stat(p.c_str(), &st);
  return st.st_mode & 07777;
}

config::Config withDataDirectory(const std::string& dir) {
  config::Config c;
  c.dataDirectory = dir;
  return c;
}

TEST(DataDirectoryCheck, MissingIsMadeOnlyAtStart) {
  TempDir t;
  std::string dd = t.path + "/a/b";
  auto verify = checkDataDirectory(withDataDirectory(dd), false);
  EXPECT_TRUE(verify.errors.empty());
  EXPECT_FALSE(std::filesystem::exists(dd)) << "--verify-config changes nothing";
  auto start = checkDataDirectory(withDataDirectory(dd), true);
  EXPECT_TRUE(start.errors.empty()) << start.errors[0];
  EXPECT_TRUE(std::filesystem::is_directory(dd));
  EXPECT_EQ(modeOf(dd), 0700u);
}

TEST(DataDirectoryCheck, TooOpenIsReportedThenFixed) {
  TempDir t;
  chmod(t.path.c_str(), 0755);
  auto verify = checkDataDirectory(withDataDirectory(t.path), false);
  EXPECT_TRUE(verify.errors.empty());
  ASSERT_EQ(verify.notes.size(), 1u);
  EXPECT_NE(verify.notes[0].find("Fixing permissions"), std::string::npos);
  EXPECT_EQ(modeOf(t.path), 0755u);
  auto start = checkDataDirectory(withDataDirectory(t.path), true);
  EXPECT_TRUE(start.errors.empty());
  EXPECT_EQ(modeOf(t.path), 0700u);
}

TEST(DataDirectoryCheck, AFileIsRefused) {
  TempDir t;
  std::string f = t.path + "/file";
  std::ofstream(f) << "x";
  auto r = checkDataDirectory(withDataDirectory(f), true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("not a directory"), std::string::npos);
  auto under = checkDataDirectory(withDataDirectory(f + "/sub"), true);
  ASSERT_EQ(under.errors.size(), 1u);
  EXPECT_NE(under.errors[0].find("cannot be created"), std::string::npos);
}

TEST(DataDirectoryCheck, AnotherUsersDirectoryIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the directory away";
  const passwd* pw = getpwnam("nobody");
  if (!pw) GTEST_SKIP() << "no user nobody";
  TempDir t;
  ASSERT_EQ(chown(t.path.c_str(), pw->pw_uid, pw->pw_gid), 0);
  auto r = checkDataDirectory(withDataDirectory(t.path), true);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("is owned by uid"), std::string::npos);
  // With User nobody it is the right owner; root's own directory is then the wrong one.
  auto c = withDataDirectory(t.path);
  c.user = "nobody";
  EXPECT_TRUE(checkDataDirectory(c, false).errors.empty());
  TempDir mine;
  c.dataDirectory = mine.path;
  EXPECT_EQ(checkDataDirectory(c, false).errors.size(), 1u);
  c.user = "no-such-user-here";
  EXPECT_NE(checkDataDirectory(c, false).errors.at(0).find("no such user"), std::string::npos);
}

}  // namespace
}  // namespace onionsplit::launcher
