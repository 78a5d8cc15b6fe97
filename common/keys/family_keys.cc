// common/keys/family_keys.cc: see family_keys.h.
#include "common/keys/family_keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/base/hex.h"
#include "common/crypto/key_files.h"

namespace onionsplit::keys {
namespace {

constexpr std::string_view kSuffix = ".secret_family_key";
constexpr std::string_view kTag = "fmly-id";

bool endsWith(std::string_view s, std::string_view end) {
  return s.size() >= end.size() && s.substr(s.size() - end.size()) == end;
}

std::optional<crypto::Ed25519ExpandedKeypair> readFamilyKey(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<uint8_t> file((std::istreambuf_iterator<char>(in)), {});
  auto body = crypto::parseTaggedBody(Bytes(file), "ed25519v1-secret", kTag, 64);
  std::optional<crypto::Ed25519ExpandedKeypair> out;
  if (body) {
    crypto::Ed25519ExpandedSecret s;
    std::memcpy(s.scalar.data(), body->data(), 32);
    std::memcpy(s.prefix.data(), body->data() + 32, 32);
    out = crypto::Ed25519ExpandedKeypair::fromExpandedSecret(s);
    OPENSSL_cleanse(&s, sizeof s);
  }
  OPENSSL_cleanse(file.data(), file.size());
  return out;
}

// The ".secret_family_key" files of `dir`, sorted (C tor takes them in directory order).
Expected<std::vector<std::string>, std::string> listKeyFiles(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (endsWith(name, kSuffix)) files.push_back(e.path().string());
  }
  if (ec) return fail("cannot list the family key directory " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::string familyKeyDirectory(const config::Config& cfg) {
  return cfg.familyKeyDirectory.empty() ? cfg.dataDirectory + "/keys" : cfg.familyKeyDirectory;
}

std::optional<crypto::Ed25519PublicKey> parseFamilyId(std::string_view id) {
  std::string padded(id);
  while (padded.size() % 4 != 0)
    padded.push_back('=');
  if (padded.size() != 44) return std::nullopt;
  uint8_t out[33];
  int n = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(padded.data()), 44);
  if (n != 33 || padded[43] != '=' || padded[42] == '=') return std::nullopt;
  crypto::Ed25519PublicKey k;
  std::memcpy(k.data(), out, 32);
  return k;
}

Expected<FamilyKeys, std::string> loadFamilyKeys(const config::Config& cfg) {
  FamilyKeys out;
  if (cfg.familyIds.empty() && !cfg.allFamilyIds) return out;
  std::vector<crypto::Ed25519PublicKey> wanted;
  for (const auto& id : cfg.familyIds) {
    auto k = parseFamilyId(id);
    if (!k) return fail("Invalid FamilyId " + id);
    wanted.push_back(*k);
  }
  std::string dir = familyKeyDirectory(cfg);
  auto files = listKeyFiles(dir);
  if (!files) return fail(files.error());
  for (const auto& path : *files) {
    auto key = readFamilyKey(path);
    if (!key) return fail(path + " is not a family key (as `tor --keygen-family` writes them)");
    const auto& pub = key->publicKey();
    if (cfg.allFamilyIds || std::find(wanted.begin(), wanted.end(), pub) != wanted.end()) {
      out.keys.push_back(FamilyKey{path, std::move(*key)});
    } else {
      out.warnings.push_back("Found secret family key in " + path + " with unexpected FamilyId " +
                             toBase64NoPad(Bytes(pub)));
    }
  }
  for (size_t i = 0; i < wanted.size(); ++i) {
    bool found = std::any_of(out.keys.begin(), out.keys.end(),
                             [&](const FamilyKey& k) { return k.key.publicKey() == wanted[i]; });
    if (!found)
      return fail("No key was found in " + dir + " for the listed FamilyId " + cfg.familyIds[i]);
  }
  return out;
}

}  // namespace onionsplit::keys
