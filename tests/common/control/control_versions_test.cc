// Tests for common/control/versions.h: the consensus's server-versions and C tor's verdict on a
// version against it (each branch of C tor's tor_version_is_obsolete).
#include "common/control/versions.h"

#include <gtest/gtest.h>

namespace onionsplit::control {
namespace {

TEST(ControlVersions, ServerVersionsFromTheConsensusHeader) {
  EXPECT_EQ(serverVersions("network-status-version 3\nclient-versions 0.4.8.1\nserver-versions "
                           "0.4.8.10,0.4.9.11\nknown-flags Exit\nr a b c\n"),
            "0.4.8.10,0.4.9.11");
  EXPECT_EQ(serverVersions("network-status-version 3\nserver-versions\nr a\n"), "");
  EXPECT_EQ(serverVersions("network-status-version 3\nr a\nserver-versions 1.2.3\n"), "");
}

TEST(ControlVersions, StatusAsCtorJudgesIt) {
  EXPECT_EQ(versionStatus("0.4.9.11", "0.4.8.10,0.4.9.11,0.4.9.12"), "recommended");
  EXPECT_EQ(versionStatus("0.4.9.11", "Tor 0.4.9.11"), "recommended");
  EXPECT_EQ(versionStatus("0.4.9.11", ""), "none recommended");
  EXPECT_EQ(versionStatus("0.4.9.11", "0.4.9.12,0.5.0.1"), "obsolete");
  EXPECT_EQ(versionStatus("0.4.9.11", "0.4.8.10,0.4.9.3"), "new");
  EXPECT_EQ(versionStatus("0.4.9.11", "0.4.8.10,0.4.9.3,0.5.0.1"), "new in series");
  EXPECT_EQ(versionStatus("0.4.9.11", "0.4.8.10,0.4.10.1"), "unrecommended");
  EXPECT_EQ(versionStatus("0.4.9.11", "junk,0.4..9"), "unrecommended");  // nothing parses
  // The tag orders after the numbers, as strcmp orders it ("" first); extra text is ignored.
  EXPECT_EQ(versionStatus("0.4.9.11 (git-abc)", "0.4.9.11-alpha"), "obsolete");
  EXPECT_EQ(versionStatus("0.4.9.11-rc", "0.4.9.11-alpha"), "new");
  EXPECT_EQ(versionStatus("onionsplit-1.0", "0.4.9.11"), std::nullopt);
  EXPECT_EQ(versionStatus("0.4.9.11-", "0.4.9.11"), std::nullopt);
}

}  // namespace
}  // namespace onionsplit::control
