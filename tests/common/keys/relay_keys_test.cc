// Tests for common/keys/relay_keys.h: first start creates every key in C tor's formats; keys made
// by Debian's tor give the same fingerprints; `tor --list-fingerprint` on onionsplit's
// DataDirectory prints onionsplit's fingerprint; renewal, rotation and the offline master key.
#include "common/keys/relay_keys.h"

#include "common/crypto/ed25519_cert.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <utime.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace onionsplit::keys {
namespace {

namespace fs = std::filesystem;
constexpr uint64_t kNow = 1790000000;  // 2026-09-21

struct TempDir {
  TempDir() {
    char t[] = "/tmp/onionsplit-keys-XXXXXX";
    path = mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RelayKeys, FirstStartCreatesEveryKeyAndTheFingerprintFiles) {
  TempDir d;
  auto made = ensureRelayKeys(d.path, "splitexit", kNow, KeyPolicy{});
  ASSERT_TRUE(made) << made.error();
  for (const char* f : {"secret_id_key", "ed25519_master_id_secret_key",
                        "ed25519_master_id_public_key", "ed25519_signing_secret_key",
                        "ed25519_signing_cert", "secret_onion_key", "secret_onion_key_ntor"}) {
    struct stat st {};
    ASSERT_EQ(stat((d.path + "/keys/" + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  auto line = fingerprintLine(d.path, "splitexit");
  ASSERT_TRUE(line);
  EXPECT_EQ(slurp(d.path + "/fingerprint"), *line + "\n");
  EXPECT_EQ(line->size(), std::string("splitexit ").size() + 40);
  EXPECT_EQ(slurp(d.path + "/fingerprint-ed25519").size(), std::string("splitexit \n").size() + 43);
  auto id = loadIdentityKeys(d.path);
  ASSERT_TRUE(id) << id.error();
  auto onion = loadOnionKeys(d.path);
  ASSERT_TRUE(onion) << onion.error();
  EXPECT_FALSE(onion->previous);
  // A second start changes nothing.
  auto again = ensureRelayKeys(d.path, "splitexit", kNow + 3600, KeyPolicy{});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
}

TEST(RelayKeys, KeysMadeByCtorKeepTheirFingerprints) {
  TempDir d;
  fs::copy(std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/ctor-keys", d.path + "/keys");
  fs::remove(d.path + "/keys/fingerprint");
  fs::remove(d.path + "/keys/fingerprint-ed25519");
  fs::remove(d.path + "/keys/README.md");
  // The signing cert in the test data is from the day it was made; renewing it is expected.
  auto made = ensureRelayKeys(d.path, "middle0", kNow, KeyPolicy{});
  ASSERT_TRUE(made) << made.error();
  std::string dataDir = std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/ctor-keys";
  EXPECT_EQ(slurp(d.path + "/fingerprint"), slurp(dataDir + "/fingerprint"));
  EXPECT_EQ(slurp(d.path + "/fingerprint-ed25519"), slurp(dataDir + "/fingerprint-ed25519"));
  for (const auto& line : *made)
    EXPECT_EQ(line.find("secret_id_key"), std::string::npos) << line;
}

TEST(RelayKeys, CtorListFingerprintReadsOurKeys) {
  if (system("command -v tor >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "Debian's tor is not installed";
  TempDir d;
  ASSERT_TRUE(
      ensureRelayKeys(d.path, "splitexit", static_cast<uint64_t>(time(nullptr)), KeyPolicy{}));
  std::string torrc = d.path + "/torrc";
  std::ofstream(torrc) << "DataDirectory " << d.path << "\nNickname splitexit\nORPort 127.0.0.1:1\n"
                       << "SocksPort 0\nLog err stderr\n";
  std::string edBefore = slurp(d.path + "/fingerprint-ed25519");
  std::string certBefore = slurp(d.path + "/keys/ed25519_signing_cert");
  std::string cmd = "tor --list-fingerprint -f " + torrc + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p))
    out += buf;
  int rc = pclose(p);
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out;
  // tor prints the fingerprint with spaces between groups of four.
  auto line = fingerprintLine(d.path, "splitexit");
  ASSERT_TRUE(line);
  std::string hex = line->substr(line->find(' ') + 1), spaced;
  for (size_t i = 0; i < hex.size(); i += 4)
    spaced += (i ? " " : "") + hex.substr(i, 4);
  EXPECT_NE(out.find("splitexit " + spaced), std::string::npos) << out;
  // tor accepted our ed25519 keys as they are: it rewrote neither the cert nor the identity.
  EXPECT_EQ(slurp(d.path + "/keys/ed25519_signing_cert"), certBefore);
  EXPECT_EQ(slurp(d.path + "/fingerprint-ed25519"), edBefore);
}

TEST(RelayKeys, SigningKeyIsRenewedBeforeItExpires) {
  TempDir d;
  KeyPolicy p;
  p.signingKeyLifetimeSeconds = 3 * 86400;
  ASSERT_TRUE(ensureRelayKeys(d.path, "n", kNow, p));
  auto first = slurp(d.path + "/keys/ed25519_signing_cert");
  auto later = ensureRelayKeys(d.path, "n", kNow + 86400 + 3600, p);  // expires within 2 days
  ASSERT_TRUE(later);
  EXPECT_NE(slurp(d.path + "/keys/ed25519_signing_cert"), first);
  auto forced = ensureRelayKeys(d.path, "n", kNow + 86400 + 7200, p, true);
  ASSERT_TRUE(forced);
  EXPECT_EQ(forced->size(), 2u);
}

TEST(RelayKeys, OfflineMasterKeyNeedsACurrentSigningCert) {
  TempDir d;
  ASSERT_TRUE(ensureRelayKeys(d.path, "n", kNow, KeyPolicy{}));
  fs::remove(d.path + "/keys/ed25519_master_id_secret_key");
  KeyPolicy offline;
  offline.offlineMasterKey = true;
  auto ok = ensureRelayKeys(d.path, "n", kNow + 86400, offline);
  ASSERT_TRUE(ok) << ok.error();
  EXPECT_FALSE(fs::exists(d.path + "/keys/ed25519_master_id_secret_key"));
  auto expired = ensureRelayKeys(d.path, "n", kNow + 40 * 86400, offline);
  ASSERT_FALSE(expired);
  EXPECT_NE(expired.error().find("onionsplit keygen"), std::string::npos);
}

TEST(RelayKeys, OnionKeysRotateAndKeepThePreviousOne) {
  TempDir d;
  ASSERT_TRUE(ensureRelayKeys(d.path, "n", kNow, KeyPolicy{}));
  auto before = loadOnionKeys(d.path);
  ASSERT_TRUE(before);
  // Age the keys past the rotation period.
  for (const char* f : {"secret_onion_key_ntor", "secret_onion_key"}) {
    utimbuf t{static_cast<time_t>(kNow - 29 * 86400), static_cast<time_t>(kNow - 29 * 86400)};
    ASSERT_EQ(utime((d.path + "/keys/" + f).c_str(), &t), 0);
  }
  auto made = ensureRelayKeys(d.path, "n", kNow, KeyPolicy{});
  ASSERT_TRUE(made);
  auto after = loadOnionKeys(d.path);
  ASSERT_TRUE(after);
  ASSERT_TRUE(after->previous);
  EXPECT_EQ(after->previous->publicKey, before->current.publicKey);
  EXPECT_NE(after->current.publicKey, before->current.publicKey);
  EXPECT_TRUE(fs::exists(d.path + "/keys/secret_onion_key.old"));
}

// circuitd reads keys/onion only (its sandbox reaches nothing else of the keys): exact copies that
// follow every rotation.
TEST(RelayKeys, CircuitdsDirectoryHoldsCopiesThatFollowRotations) {
  TempDir d;
  ASSERT_TRUE(ensureRelayKeys(d.path, "n", kNow, KeyPolicy{}));
  std::string k = d.path + "/keys", o = k + "/onion";
  auto same = [&](const std::string& original, const char* copy) {
    return fs::exists(o + "/" + copy) && slurp(original) == slurp(o + "/" + copy);
  };
  EXPECT_TRUE(same(k + "/secret_onion_key_ntor", "secret_onion_key_ntor"));
  EXPECT_TRUE(same(k + "/ed25519_master_id_public_key", "ed25519_master_id_public_key"));
  EXPECT_TRUE(same(d.path + "/fingerprint", "fingerprint"));
  EXPECT_FALSE(fs::exists(o + "/secret_onion_key_ntor.old"));
  for (const auto& e : fs::directory_iterator(o)) {
    std::string name = e.path().filename();
    EXPECT_TRUE(name == "secret_onion_key_ntor" || name == "ed25519_master_id_public_key" ||
                name == "fingerprint")
        << name << ": nothing else belongs in circuitd's directory";
  }

  utimbuf t{static_cast<time_t>(kNow - 29 * 86400), static_cast<time_t>(kNow - 29 * 86400)};
  ASSERT_EQ(utime((k + "/secret_onion_key_ntor").c_str(), &t), 0);
  auto made = ensureRelayKeys(d.path, "n", kNow, KeyPolicy{});
  ASSERT_TRUE(made);
  EXPECT_TRUE(same(k + "/secret_onion_key_ntor", "secret_onion_key_ntor")) << "rotated";
  EXPECT_TRUE(same(k + "/secret_onion_key_ntor.old", "secret_onion_key_ntor.old"));
  auto loaded = loadOnionKeys(d.path);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_TRUE(loaded->previous);

  // A damaged copy is rewritten; a copy whose original went is removed.
  std::ofstream(o + "/secret_onion_key_ntor") << "garbage";
  fs::remove(k + "/secret_onion_key_ntor.old");
  ASSERT_TRUE(ensureRelayKeys(d.path, "n", kNow, KeyPolicy{}));
  EXPECT_TRUE(same(k + "/secret_onion_key_ntor", "secret_onion_key_ntor"));
  EXPECT_FALSE(fs::exists(o + "/secret_onion_key_ntor.old"));
}

TEST(RelayKeys, DescriptorCrosscertsCheckOutAsReadersCheckThem) {
  TempDir d;
  ASSERT_TRUE(ensureRelayKeys(d.path, "n", kNow, KeyPolicy{}));
  auto k = loadDescriptorOnionKeys(d.path);
  ASSERT_TRUE(k) << k.error();
  auto id = loadIdentityKeys(d.path);
  ASSERT_TRUE(id);
  // onion-key-crosscert: the TAP key signed SHA1(identity) | master key.
  auto tap = crypto::RsaPublicKey::fromDer(Bytes(k->tapPublicDer));
  ASSERT_TRUE(tap);
  auto fp = id->rsaIdentity.publicKey().fingerprint();
  std::vector<uint8_t> msg(fp.begin(), fp.end());
  msg.insert(msg.end(), id->masterPublic.begin(), id->masterPublic.end());
  EXPECT_TRUE(tap->verifyTorSignature(Bytes(msg), Bytes(k->tapCrosscert)));
  // ntor-onion-key-crosscert: a type 0A cert certifying the master key, signed by the key a reader
  // rebuilds from ntor-onion-key and the sign bit.
  auto cert = crypto::decodeEd25519Cert(Bytes(k->ntorCrosscert));
  ASSERT_TRUE(cert);
  EXPECT_TRUE(crypto::checkEd25519CertType(*cert, crypto::CertType::kNtorCrosscert));
  EXPECT_EQ(cert->certifiedKey, id->masterPublic);
  auto signer =
      crypto::convertCurve25519PublicToEd25519(k->ntorPublic, k->ntorCrosscertSignBit != 0);
  EXPECT_TRUE(crypto::verifyEd25519Cert(*cert, signer, kNow));
  EXPECT_GT(k->ntorCrosscertExpires, kNow + 28 * 86400);
  auto onion = loadOnionKeys(d.path);
  ASSERT_TRUE(onion);
  EXPECT_EQ(onion->current.publicKey, k->ntorPublic);
}

TEST(RelayKeys, RefusesDamagedKeyFiles) {
  TempDir d;
  ASSERT_TRUE(ensureRelayKeys(d.path, "n", kNow, KeyPolicy{}));
  std::ofstream(d.path + "/keys/secret_id_key") << "not a key";
  auto r = ensureRelayKeys(d.path, "n", kNow, KeyPolicy{});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("secret_id_key"), std::string::npos);
}

}  // namespace
}  // namespace onionsplit::keys
