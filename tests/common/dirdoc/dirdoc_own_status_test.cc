// Tests for common/dirdoc/own_status.h on the private network's real consensus: our entry and
// flags, and which required or recommended relay protocols we lack (roles not taken apart).
#include "common/dirdoc/own_status.h"

#include <gtest/gtest.h>

#include "tests/common/dirdoc/dirdoc_data.h"

namespace onionsplit::dirdoc {
namespace {

Consensus parsedText(const std::string& text) {
  auto c = parseConsensus(text, kTestnet);
  EXPECT_TRUE(c) << c.error().toString();
  return c ? std::move(*c) : Consensus{};
}

ProtocolList ours(std::vector<std::string_view> entries) {
  auto p = parseProtocolList(entries);
  EXPECT_TRUE(p);
  return p ? *p : ProtocolList{};
}

// `text` with one line (starting with `key `) replaced.
std::string withLine(std::string text, const std::string& key, const std::string& line) {
  size_t at = text.find("\n" + key + " ");
  EXPECT_NE(at, std::string::npos);
  size_t end = text.find('\n', at + 1);
  return text.replace(at + 1, end - at - 1, line);
}

const std::vector<std::string_view> kOnionsplit = {"Conflux=1", "FlowCtrl=1-2", "Link=4-5",
                                                   "LinkAuth=3", "Relay=2-4"};

TEST(OwnStatus, OurEntryAndFlagsFromTheRealConsensus) {
  Consensus c = parsedText(testdata::consensusText());
  ASSERT_FALSE(c.routers.empty());
  const RouterEntry& r = c.routers.back();
  OwnStatus s = ownStatus(c, r.identity, ours(kOnionsplit));
  EXPECT_TRUE(s.listed);
  EXPECT_EQ(s.flags, r.flags);
  EXPECT_TRUE(r.has(RelayFlag::kRunning));
  EXPECT_NE(relayFlagNames(s.flags).find("Running"), std::string::npos);
  Sha1Digest stranger{};
  stranger.fill(0xee);
  OwnStatus none = ownStatus(c, stranger, ours(kOnionsplit));
  EXPECT_FALSE(none.listed);
  EXPECT_EQ(none.flags, 0);
}

TEST(OwnStatus, RolesNotTakenAreNeverMissingProtocols) {
  // The private network requires Cons, Desc, DirCache, HSDir, HSIntro, HSRend and Microdesc of
  // every relay, as the real one does; onionsplit offers none of those roles.
  Consensus c = parsedText(testdata::consensusText());
  OwnStatus s = ownStatus(c, Sha1Digest{}, ours(kOnionsplit));
  EXPECT_EQ(s.missingRequired, "");
  EXPECT_EQ(s.missingRecommended, "");
  EXPECT_EQ(s.rolesNotTaken, "Cons Desc DirCache HSDir HSIntro HSRend Microdesc");
}

TEST(OwnStatus, AMissingRequiredOrRecommendedProtocolOfOurRolesIsNamed) {
  std::string text = testdata::consensusText();
  text = withLine(text, "required-relay-protocols",
                  "required-relay-protocols Cons=2 Link=4-5 LinkAuth=3 Relay=2-6");
  text = withLine(text, "recommended-relay-protocols",
                  "recommended-relay-protocols FlowCtrl=1-3 Padding=2 Relay=2-4");
  Consensus c = parsedText(text);
  OwnStatus s = ownStatus(c, Sha1Digest{}, ours(kOnionsplit));
  EXPECT_EQ(s.missingRequired, "Relay=5-6");
  EXPECT_EQ(s.missingRecommended, "FlowCtrl=3 Padding=2");
  EXPECT_EQ(s.rolesNotTaken, "Cons");
  EXPECT_NE(requiredProtocolsMessage(s.missingRequired)
                .find("will not work as a relay on the Tor network. The missing protocols are: "
                      "Relay=5-6"),
            std::string::npos);
  // Once we advertise what is asked, nothing is missing.
  OwnStatus later = ownStatus(
      c, Sha1Digest{}, ours({"FlowCtrl=1-3", "Link=4-5", "LinkAuth=3", "Padding=2", "Relay=2-6"}));
  EXPECT_EQ(later.missingRequired, "");
  EXPECT_EQ(later.missingRecommended, "");
}

}  // namespace
}  // namespace onionsplit::dirdoc
