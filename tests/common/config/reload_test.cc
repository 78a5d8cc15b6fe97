// Tests for common/config/reload.h: what a reload may change, and the daemons' snapshot.
#include "common/config/reload.h"

#include <gtest/gtest.h>

namespace onionsplit::config {
namespace {

Config build(const std::string& text) {
  auto r = parseConfig(text);
  EXPECT_TRUE(r) << (r ? "" : describe(r.error().front()));
  return r ? r->config : Config{};
}

const std::string kBase =
    "DataDirectory /var/lib/x\nORPort 9001\nNickname a\nLog notice stderr\nExitRelay 1\n";

TEST(Reload, PolicyNicknameAndBandwidthMayChange) {
  Config running = build(kBase + "ExitPolicy accept *:80\nBandwidthRate 1 MBytes\n");
  Config fresh = build(kBase + "ExitPolicy accept *:443\nBandwidthRate 2 MBytes\n");
  EXPECT_TRUE(fixedWhileRunning(running, fresh).empty());
  EXPECT_TRUE(exitPolicyChanged(running, fresh));
  EXPECT_TRUE(descriptorChanged(running, fresh));
  EXPECT_FALSE(exitPolicyChanged(running, running));
  EXPECT_FALSE(descriptorChanged(running, running));
  Config renamed = build(
      "DataDirectory /var/lib/x\nORPort 9001\nNickname b\nLog notice stderr\n"
      "ExitRelay 1\nExitPolicy accept *:80\nBandwidthRate 1 MBytes\n");
  EXPECT_FALSE(exitPolicyChanged(running, renamed));
  EXPECT_TRUE(descriptorChanged(running, renamed));
}

TEST(Reload, WhatWasOpenedAtStartCannotChange) {
  Config running = build(kBase);
  auto names = fixedWhileRunning(
      running, build("DataDirectory /elsewhere\nORPort 9002\nNickname a\nLog info stderr\n"
                     "ExitRelay 1\nUser nobody\nSandbox 0\n"));
  EXPECT_EQ(names, (std::vector<std::string>{"DataDirectory", "IPCDirectory", "User", "ORPort",
                                             "Log", "Sandbox"}));
}

TEST(Reload, NumCpusIsFixedWhileRunning) {  // the shards run from the start
  EXPECT_EQ(fixedWhileRunning(build(kBase), build(kBase + "NumCPUs 3\n")),
            (std::vector<std::string>{"NumCPUs"}));
}

TEST(Reload, FamilyIdMayChangeFamilyKeyDirectoryMayNot) {
  Config running = build(kBase + "FamilyKeyDirectory /etc/fam\n");
  EXPECT_TRUE(fixedWhileRunning(running, build(kBase + "FamilyKeyDirectory /etc/fam\nFamilyId *\n"))
                  .empty());
  EXPECT_EQ(fixedWhileRunning(running, build(kBase + "FamilyKeyDirectory /etc/other\n")),
            (std::vector<std::string>{"FamilyKeyDirectory"}));
}

TEST(Reload, TheSnapshotReadsBackToTheSameEntries) {
  std::vector<TorrcEntry> entries = {
      {"Nickname", "plain", 1, ""},
      {"ContactInfo", "quote \" backslash \\ tab\t cr\r nl\n hash # end", 2, ""},
      {"ExitPolicy", "accept *:80, reject *:*", 3, ""},
      {"Address", "", 4, ""},
  };
  auto back = lexTorrc(renderTorrc(entries));
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ((*back)[i].key, entries[i].key);
    EXPECT_EQ((*back)[i].value, entries[i].value) << i;
  }
}

}  // namespace
}  // namespace onionsplit::config
