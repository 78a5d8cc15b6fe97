// Tests for common/keys/family_keys.h against a key made by Debian's `tor --keygen-family`
// (tests/data/ctor-family): C tor's rules for which keys of FamilyKeyDirectory are used.
#include "common/keys/family_keys.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace onionsplit::keys {
namespace {

namespace fs = std::filesystem;

const std::string kData = std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/ctor-family/";
const std::string kCtorId = "CkVMcZNvtZ/PpBxjvn/Ip72bvNFcq9c1pBqO5R7nOpQ";
const std::string kOtherId = std::string(43, 'A');

struct FamilyDir {
  std::string path;
  FamilyDir() {
    char tmpl[] = "/tmp/onionsplit-familykeys-XXXXXX";
    path = mkdtemp(tmpl);
    fs::copy_file(kData + "testfamily.secret_family_key", path + "/testfamily.secret_family_key");
    fs::copy_file(kData + "testfamily.public_family_id", path + "/testfamily.public_family_id");
  }
  ~FamilyDir() { fs::remove_all(path); }
  config::Config config(std::vector<std::string> ids) const {
    config::Config c;
    c.familyKeyDirectory = path;
    for (auto& id : ids) {
      if (id == "*") {
        c.allFamilyIds = true;
      } else {
        c.familyIds.push_back(id);
      }
    }
    return c;
  }
};

TEST(FamilyKeys, ReadsCtorsKeyFileAndItsIdMatchesPublicFamilyId) {
  FamilyDir d;
  std::ifstream in(kData + "testfamily.public_family_id");
  std::string id;
  std::getline(in, id);
  EXPECT_EQ(id, kCtorId);
  auto k = loadFamilyKeys(d.config({id}));
  ASSERT_TRUE(k) << k.error();
  ASSERT_EQ(k->keys.size(), 1u);
  EXPECT_EQ(k->keys[0].key.publicKey(), *parseFamilyId(id));
  EXPECT_TRUE(k->warnings.empty());
  // Padding is optional, as in C tor's base64 decoding.
  EXPECT_EQ(parseFamilyId(id + "="), parseFamilyId(id));
  EXPECT_FALSE(parseFamilyId(id.substr(1)));
}

TEST(FamilyKeys, NoFamilyIdNoKeys) {
  FamilyDir d;
  auto k = loadFamilyKeys(d.config({}));
  ASSERT_TRUE(k);
  EXPECT_TRUE(k->keys.empty());
}

TEST(FamilyKeys, AListedIdWithoutAKeyIsAnError) {
  FamilyDir d;
  auto k = loadFamilyKeys(d.config({kCtorId, kOtherId}));
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().find(kOtherId), std::string::npos) << k.error();
}

TEST(FamilyKeys, StarTakesEveryKeyFileWhateverItsName) {
  FamilyDir d;
  fs::rename(d.path + "/testfamily.secret_family_key", d.path + "/x.secret_family_key");
  auto k = loadFamilyKeys(d.config({"*"}));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->keys.size(), 1u);
}

TEST(FamilyKeys, AKeyNoFamilyIdNamesIsSkippedWithAWarning) {
  FamilyDir d;
  fs::copy_file(kData + "otherfamily.secret_family_key", d.path + "/otherfamily.secret_family_key");
  fs::copy_file(d.path + "/testfamily.public_family_id", d.path + "/notes.txt");  // not a key name
  auto k = loadFamilyKeys(d.config({kCtorId}));
  ASSERT_TRUE(k) << k.error();
  ASSERT_EQ(k->keys.size(), 1u);
  EXPECT_EQ(k->keys[0].key.publicKey(), *parseFamilyId(kCtorId));
  ASSERT_EQ(k->warnings.size(), 1u);
  EXPECT_NE(k->warnings[0].find("otherfamily.secret_family_key"), std::string::npos);
  auto all = loadFamilyKeys(d.config({"*"}));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->keys.size(), 2u);
  EXPECT_TRUE(all->warnings.empty());
}

TEST(FamilyKeys, AFileThatIsNotAFamilyKeyIsAnError) {
  FamilyDir d;
  // A relay key with the family suffix: tagged "type4", not "fmly-id".
  fs::copy_file(
      std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/ctor-keys/ed25519_signing_secret_key",
      d.path + "/wrong.secret_family_key");
  auto k = loadFamilyKeys(d.config({kCtorId}));
  ASSERT_FALSE(k);
  EXPECT_NE(k.error().find("wrong.secret_family_key"), std::string::npos);
}

TEST(FamilyKeys, DefaultDirectoryIsDataDirectoryKeys) {
  config::Config c;
  c.dataDirectory = "/var/lib/x";
  EXPECT_EQ(familyKeyDirectory(c), "/var/lib/x/keys");
  c.familyKeyDirectory = "/etc/fam";
  EXPECT_EQ(familyKeyDirectory(c), "/etc/fam");
}

TEST(FamilyKeys, AMissingDirectoryIsAnError) {
  config::Config c;
  c.familyKeyDirectory = "/nonexistent/onionsplit-family";
  c.allFamilyIds = true;
  EXPECT_FALSE(loadFamilyKeys(c));
}

}  // namespace
}  // namespace onionsplit::keys
