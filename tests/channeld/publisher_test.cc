// Tests for channeld/net/publisher.h against fake directory authorities on 127.0.0.1
// (tests/channeld/fake_authority.h): the descriptor reaches every authority, and one that refused
// the first uploads gets it again after the backoff, while the others are not asked again.
#include "channeld/net/publisher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "channeld/descriptor/server_descriptor.h"
#include "common/crypto/ed25519_cert.h"
#include "common/dirdoc/dir_text.h"

#include "tests/channeld/fake_authority.h"

namespace onionsplit::channeld {
namespace {

using testing::FakeAuthority;

config::DirAuthority authorityAt(const std::string& nickname, uint16_t dirPort) {
  config::DirAuthority a;
  a.nickname = nickname;
  a.address = "127.0.0.1";
  a.dirPort = dirPort;
  a.orPort = 1;
  return a;
}

TEST(DescriptorPublisher, AnAuthorityThatRefusedGetsTheDescriptorAgainAfterTheBackoff) {
  char tmpl[] = "/tmp/onionsplit-publisher-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto now = std::time(nullptr);
  ASSERT_TRUE(keys::ensureRelayKeys(dir, "pubtest", static_cast<uint64_t>(now), {}));
  auto id = keys::loadIdentityKeys(dir);
  auto onion = keys::loadDescriptorOnionKeys(dir);
  ASSERT_TRUE(id && onion);
  event_base* base = event_base_new();
  {
    FakeAuthority good(base), flaky(base);
    flaky.failPosts = 2;
    config::Config cfg;
    cfg.nickname = "pubtest";
    cfg.address = "127.0.0.1";
    cfg.dirAuthorities = {authorityAt("good", good.port), authorityAt("flaky", flaky.port)};
    DescriptorPublisher pub(base, cfg, *id, *onion, 9001, now);
    pub.setRetryDelays(std::chrono::milliseconds(50), std::chrono::milliseconds(200));
    pub.start();
    for (int i = 0; i < 500 && pub.acceptedBy() < 2; ++i) {
      timeval tick{0, 20'000};
      event_base_loopexit(base, &tick);
      event_base_dispatch(base);
    }
    EXPECT_EQ(pub.acceptedBy(), 2u);
    EXPECT_EQ(pub.retries(), 2u) << "two refusals, two retries";
    EXPECT_EQ(flaky.posts, 3);
    EXPECT_EQ(good.posts, 1) << "an authority that has it is not asked again";
    EXPECT_NE(flaky.stored.find("router pubtest 127.0.0.1 9001"), std::string::npos);
  }
  event_base_free(base);
  std::filesystem::remove_all(dir);
}

// Accounting's hibernation: setHibernating publishes at once a descriptor with "hibernating 1"
// (before "contact", where C tor writes it), and waking publishes one without it.
TEST(DescriptorPublisher, HibernatingIsPublishedAtOnceAndWakingToo) {
  char tmpl[] = "/tmp/onionsplit-publisher-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto now = std::time(nullptr);
  ASSERT_TRUE(keys::ensureRelayKeys(dir, "pubtest", static_cast<uint64_t>(now), {}));
  auto id = keys::loadIdentityKeys(dir);
  auto onion = keys::loadDescriptorOnionKeys(dir);
  ASSERT_TRUE(id && onion);
  event_base* base = event_base_new();
  {
    FakeAuthority auth(base);
    config::Config cfg;
    cfg.nickname = "pubtest";
    cfg.address = "127.0.0.1";
    cfg.contactInfo = "ops@example";
    cfg.dirAuthorities = {authorityAt("auth", auth.port)};
    DescriptorPublisher pub(base, cfg, *id, *onion, 9001, now);
    auto until = [&](int posts) {
      for (int i = 0; i < 500 && (auth.posts < posts || pub.acceptedBy() < 1); ++i) {
        timeval tick{0, 20'000};
        event_base_loopexit(base, &tick);
        event_base_dispatch(base);
      }
    };
    pub.setHibernating(true);  // before publishing starts: nothing sent yet
    EXPECT_EQ(auth.posts, 0);
    pub.start();
    until(1);
    size_t at = auth.stored.find("\nhibernating 1\n");
    ASSERT_NE(at, std::string::npos) << auth.stored;
    EXPECT_LT(at, auth.stored.find("\ncontact ops@example\n"));
    pub.setHibernating(false);
    until(2);
    EXPECT_EQ(auth.posts, 2);
    EXPECT_EQ(auth.stored.find("hibernating"), std::string::npos) << auth.stored;
  }
  event_base_free(base);
  std::filesystem::remove_all(dir);
}

// A family key made by Debian's `tor --keygen-family` (tests/data/ctor-family): the descriptor
// carries one family-cert, after "family" and before "contact" as C tor writes it, and the
// certificate verifies with the project's own parser: type 0C, signed with the family key it
// embeds (the FamilyId), certifying the relay's master identity key, expiring 30 days after
// "published", rounded up to the hour.
TEST(DescriptorPublisher, FamilyCertFromACtorFamilyKeyVerifiesAgainstTheIdentity) {
  char tmpl[] = "/tmp/onionsplit-family-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string data = std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/ctor-family/";
  std::filesystem::create_directories(dir + "/fam");
  std::filesystem::copy_file(data + "testfamily.secret_family_key",
                             dir + "/fam/testfamily.secret_family_key");
  std::ifstream idFile(data + "testfamily.public_family_id");
  std::string familyId;
  std::getline(idFile, familyId);
  const std::time_t now = 1764012135;
  ASSERT_TRUE(keys::ensureRelayKeys(dir, "famtest", static_cast<uint64_t>(now), {}));
  auto id = keys::loadIdentityKeys(dir);
  auto onion = keys::loadDescriptorOnionKeys(dir);
  ASSERT_TRUE(id && onion);
  config::Config cfg;
  cfg.nickname = "famtest";
  cfg.address = "127.0.0.1";
  cfg.contactInfo = "ops@example";
  cfg.myFamily = {"$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
  cfg.familyIds = {familyId};
  cfg.familyKeyDirectory = dir + "/fam";
  auto family = keys::loadFamilyKeys(cfg);
  ASSERT_TRUE(family) << family.error();
  ASSERT_EQ(family->keys.size(), 1u);
  event_base* base = event_base_new();
  std::string desc, error;
  {
    DescriptorPublisher pub(base, cfg, *id, *onion, 9001, now);
    pub.setFamilyKeys(family->keys);
    desc = pub.build(now, error);
  }
  event_base_free(base);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(desc.empty()) << error;
  size_t at = desc.find("\nfamily-cert\n-----BEGIN FAMILY CERT-----\n");
  ASSERT_NE(at, std::string::npos) << desc;
  EXPECT_LT(desc.find("\nfamily $"), at);
  EXPECT_GT(desc.find("\ncontact "), at);
  size_t b = desc.find('\n', at + 13) + 1, e = desc.find("-----END FAMILY CERT-----\n", b);
  std::string b64;
  for (char ch : desc.substr(b, e - b))
    if (ch != '\n') b64.push_back(ch);
  auto bytes = dirdoc::decodeBase64(b64);
  ASSERT_TRUE(bytes);
  auto cert = crypto::decodeEd25519Cert(Bytes(*bytes));
  ASSERT_TRUE(cert);
  EXPECT_TRUE(crypto::checkEd25519CertType(*cert, crypto::CertType::kFamilyIdentity));
  EXPECT_EQ(cert->certifiedKey, id->masterPublic);
  auto familyKey = keys::parseFamilyId(familyId);
  ASSERT_TRUE(familyKey && cert->signedWithKey);
  EXPECT_EQ(*cert->signedWithKey, *familyKey);
  EXPECT_TRUE(crypto::verifyEd25519Cert(*cert, familyKey, static_cast<uint64_t>(now)));
  EXPECT_EQ(cert->expirationHours, (now + 30 * 86400 + 3599) / 3600);
  EXPECT_FALSE(
      crypto::verifyEd25519Cert(*cert, familyKey, static_cast<uint64_t>(now) + 31 * 86400));
}

}  // namespace
}  // namespace onionsplit::channeld
