// Tests for common/config/data_directory.h: C tor's check_private_dir decisions.
#include "common/config/data_directory.h"

#include <gtest/gtest.h>

namespace onionsplit::config {
namespace {

DataDirectoryFacts dir(uint32_t owner, uint32_t mode, bool writable = true) {
  DataDirectoryFacts f;
  f.kind = DataDirectoryFacts::Kind::kDirectory;
  f.ownerUid = owner;
  f.mode = mode;
  f.writable = writable;
  return f;
}

TEST(DataDirectory, APrivateDirectoryOfTheRelaysUserIsUsedAsItIs) {
  auto v = judgeDataDirectory("/var/lib/tor", dir(100, 0700), 100, "debian-tor");
  EXPECT_TRUE(v.errors.empty());
  EXPECT_FALSE(v.create);
  EXPECT_FALSE(v.fixMode);
}

TEST(DataDirectory, AnotherOwnerIsRefused) {
  auto v = judgeDataDirectory("/var/lib/tor", dir(65534, 0700), 100, "debian-tor");
  ASSERT_EQ(v.errors.size(), 1u);
  EXPECT_NE(v.errors[0].find("owned by uid 65534"), std::string::npos);
  EXPECT_NE(v.errors[0].find("debian-tor"), std::string::npos);
}

TEST(DataDirectory, NotADirectoryIsRefused) {
  DataDirectoryFacts f;
  f.kind = DataDirectoryFacts::Kind::kOther;
  auto v = judgeDataDirectory("/var/lib/tor", f, 0, "root");
  ASSERT_EQ(v.errors.size(), 1u);
  EXPECT_NE(v.errors[0].find("not a directory"), std::string::npos);
}

TEST(DataDirectory, GroupOrWorldAccessIsFixedTo0700) {
  for (uint32_t mode : {0750u, 0705u, 0777u, 0500u}) {
    auto v = judgeDataDirectory("/d", dir(5, mode), 5, "u");
    EXPECT_TRUE(v.errors.empty()) << mode;
    ASSERT_TRUE(v.fixMode) << mode;
    EXPECT_EQ(*v.fixMode, 0700u);
    EXPECT_NE(v.fixMessage.find("Fixing permissions"), std::string::npos);
  }
}

TEST(DataDirectory, UnwritableIsRefused) {
  auto v = judgeDataDirectory("/d", dir(5, 0700, false), 5, "u");
  ASSERT_EQ(v.errors.size(), 1u);
  EXPECT_NE(v.errors[0].find("not writable by u"), std::string::npos);
}

TEST(DataDirectory, MissingIsCreatedWhenItsParentAllows) {
  DataDirectoryFacts f;
  auto v = judgeDataDirectory("/d", f, 5, "u");
  EXPECT_TRUE(v.create);
  EXPECT_TRUE(v.errors.empty());
  f.writable = false;
  f.blockingAncestor = "/etc/passwd";
  auto no = judgeDataDirectory("/etc/passwd/d", f, 5, "u");
  EXPECT_FALSE(no.create);
  ASSERT_EQ(no.errors.size(), 1u);
  EXPECT_NE(no.errors[0].find("/etc/passwd"), std::string::npos);
}

}  // namespace
}  // namespace onionsplit::config
