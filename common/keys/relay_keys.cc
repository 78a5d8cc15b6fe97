// common/keys/relay_keys.cc: see relay_keys.h.
#include "common/keys/relay_keys.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/base/hex.h"
#include "common/crypto/curve25519.h"
#include "common/crypto/ed25519_cert.h"

namespace onionsplit::keys {
namespace {

using Lines = std::vector<std::string>;
using crypto::Ed25519ExpandedKeypair;
using crypto::Ed25519ExpandedSecret;

constexpr size_t kEd25519SecretBodyLen = 64;
constexpr size_t kEd25519PublicBodyLen = 32;

std::string keysDir(const std::string& dataDirectory) {
  return dataDirectory + "/keys";
}

std::optional<std::vector<uint8_t>> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// Writes through a temporary file and rename, mode 0600, so a crash never leaves half a key.
bool writeFile(const std::string& path, Bytes data, std::string& error) {
  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  for (size_t off = 0; ok && off < data.size();) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) ok = false;
    off += n > 0 ? static_cast<size_t>(n) : 0;
  }
  if (ok) ok = fsync(fd) == 0;
  if (fd >= 0) close(fd);
  if (ok) ok = rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    error = "cannot write " + path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
  }
  return ok;
}

bool writeText(const std::string& path, const std::string& text, std::string& error) {
  return writeFile(path, Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size()), error);
}

bool randomBytes(MutBytes out) {
  return RAND_bytes(out.data(), static_cast<int>(out.size())) == 1;
}

// RFC 8032 5.1.5: the expanded secret C tor stores, from a fresh random seed.
std::optional<Ed25519ExpandedSecret> newExpandedSecret() {
  uint8_t seed[32], h[64];
  unsigned hl = 0;
  if (!randomBytes(MutBytes(seed)) ||
      EVP_Digest(seed, sizeof seed, h, &hl, EVP_sha512(), nullptr) != 1)
    return std::nullopt;
  OPENSSL_cleanse(seed, sizeof seed);
  h[0] &= 248;
  h[31] &= 127;
  h[31] |= 64;
  Ed25519ExpandedSecret s;
  std::memcpy(s.scalar.data(), h, 32);
  std::memcpy(s.prefix.data(), h + 32, 32);
  OPENSSL_cleanse(h, sizeof h);
  return s;
}

std::vector<uint8_t> secretBody(const Ed25519ExpandedSecret& s) {
  std::vector<uint8_t> b(s.scalar.begin(), s.scalar.end());
  b.insert(b.end(), s.prefix.begin(), s.prefix.end());
  return b;
}

std::optional<Ed25519ExpandedKeypair> readEd25519Secret(const std::string& path,
                                                        std::string_view tag, std::string& error) {
  auto file = readFile(path);
  if (!file) return std::nullopt;
  auto body = crypto::parseTaggedBody(Bytes(*file), "ed25519v1-secret", tag, kEd25519SecretBodyLen);
  if (!body) {
    error = path + ": not an ed25519 secret key file";
    return std::nullopt;
  }
  Ed25519ExpandedSecret s;
  std::memcpy(s.scalar.data(), body->data(), 32);
  std::memcpy(s.prefix.data(), body->data() + 32, 32);
  return Ed25519ExpandedKeypair::fromExpandedSecret(s);
}

bool writeEd25519Secret(const std::string& path, std::string_view tag,
                        const Ed25519ExpandedSecret& s, std::string& error) {
  auto body = secretBody(s);
  auto file = crypto::makeTaggedFile("ed25519v1-secret", tag, Bytes(body));
  OPENSSL_cleanse(body.data(), body.size());
  bool ok = writeFile(path, Bytes(file), error);
  OPENSSL_cleanse(file.data(), file.size());
  return ok;
}

std::optional<crypto::RsaPrivateKey> readRsa(const std::string& path) {
  auto file = readFile(path);
  if (!file) return std::nullopt;
  return crypto::RsaPrivateKey::fromPem(
      std::string_view(reinterpret_cast<const char*>(file->data()), file->size()));
}

// Returns the RSA key at `path`, creating it (1024 bits, exponent 65537) when missing.
Expected<crypto::RsaPrivateKey, std::string> ensureRsa(const std::string& path, Lines& made) {
  if (std::filesystem::exists(path)) {
    auto k = readRsa(path);
    if (!k || k->bits() != crypto::kRsaIdentityBits)
      return fail(path + ": not an RSA-1024 private key");
    return std::move(*k);
  }
  auto k = crypto::RsaPrivateKey::generate();
  std::string error;
  if (!k) return fail(std::string("cannot generate an RSA key"));
  if (!writeText(path, k->pemPkcs1(), error)) return fail(error);
  made.push_back("created " + path);
  return std::move(*k);
}

// The master identity: its public key, and its keypair when the secret is here.
struct Master {
  crypto::Ed25519PublicKey publicKey{};
  std::optional<Ed25519ExpandedKeypair> keypair;
};

Expected<Master, std::string> ensureMaster(const std::string& dir, const KeyPolicy& policy,
                                           Lines& made) {
  std::string secretPath = dir + "/ed25519_master_id_secret_key";
  std::string publicPath = dir + "/ed25519_master_id_public_key";
  std::string error;
  Master m;
  if (auto kp = readEd25519Secret(secretPath, "type0", error)) {
    m.publicKey = kp->publicKey();
    m.keypair = std::move(*kp);
  } else if (!error.empty()) {
    return fail(error);
  } else if (!policy.offlineMasterKey && !std::filesystem::exists(publicPath)) {
    auto s = newExpandedSecret();
    if (!s) return fail(std::string("cannot generate an ed25519 key"));
    if (!writeEd25519Secret(secretPath, "type0", *s, error)) return fail(error);
    made.push_back("created " + secretPath);
    m.keypair = Ed25519ExpandedKeypair::fromExpandedSecret(*s);
    m.publicKey = m.keypair->publicKey();
  }
  auto pub = readFile(publicPath);
  if (pub) {
    auto body =
        crypto::parseTaggedBody(Bytes(*pub), "ed25519v1-public", "type0", kEd25519PublicBodyLen);
    if (!body) return fail(publicPath + ": not an ed25519 public key file");
    crypto::Ed25519PublicKey fromFile;
    std::memcpy(fromFile.data(), body->data(), 32);
    if (m.keypair && fromFile != m.publicKey)
      return fail(publicPath + " does not match ed25519_master_id_secret_key");
    m.publicKey = fromFile;
  } else if (m.keypair) {
    auto file = crypto::makeTaggedFile("ed25519v1-public", "type0", Bytes(m.publicKey));
    if (!writeFile(publicPath, Bytes(file), error)) return fail(error);
    made.push_back("created " + publicPath);
  } else {
    return fail("no ed25519 master identity key in " + dir +
                " (OfflineMasterKey is set: run `onionsplit keygen` where the master key is)");
  }
  return m;
}

// Seconds until the signing cert in `dir` expires, or nullopt if it is missing, unreadable, not
// made by `master`, or does not certify the signing key on disk.
std::optional<int64_t> signingCertValidFor(const std::string& dir,
                                           const crypto::Ed25519PublicKey& master,
                                           uint64_t nowUnix) {
  std::string error;
  auto signing = readEd25519Secret(dir + "/ed25519_signing_secret_key", "type4", error);
  auto file = readFile(dir + "/ed25519_signing_cert");
  if (!signing || !file) return std::nullopt;
  auto body = crypto::parseTaggedFile(Bytes(*file));
  if (!body || body->type != "ed25519v1-cert" || body->tag != "type4") return std::nullopt;
  auto cert = crypto::decodeEd25519Cert(body->body);
  if (!cert || !crypto::checkEd25519CertType(*cert, crypto::CertType::kIdentitySigning) ||
      cert->certifiedKey != signing->publicKey() ||
      !crypto::verifyEd25519Cert(*cert, master, nowUnix))
    return std::nullopt;
  return static_cast<int64_t>(uint64_t{cert->expirationHours} * 3600) -
         static_cast<int64_t>(nowUnix);
}

Expected<void, std::string> newSigningKey(const std::string& dir,
                                          const Ed25519ExpandedKeypair& master, uint64_t nowUnix,
                                          const KeyPolicy& policy, Lines& made) {
  auto s = newExpandedSecret();
  if (!s) return fail(std::string("cannot generate an ed25519 key"));
  auto signing = Ed25519ExpandedKeypair::fromExpandedSecret(*s);
  crypto::Ed25519CertFields f;
  f.certType = crypto::CertType::kIdentitySigning;
  f.expirationHours = crypto::certExpirationHours(nowUnix + policy.signingKeyLifetimeSeconds);
  f.certKeyType = crypto::CertKeyType::kEd25519;
  f.certifiedKey = signing.publicKey();
  f.includeSigningKey = true;
  uint8_t buf[crypto::kEd25519CertMaxEncodedLen];
  auto cert = crypto::encodeEd25519Cert(f, master, MutBytes(buf));
  if (!cert)
    return fail(std::string("cannot sign the signing key certificate: ") +
                crypto::toString(cert.error()));
  std::string error;
  std::string secretPath = dir + "/ed25519_signing_secret_key";
  std::string certPath = dir + "/ed25519_signing_cert";
  if (!writeEd25519Secret(secretPath, "type4", *s, error)) return fail(error);
  auto certFile = crypto::makeTaggedFile("ed25519v1-cert", "type4", *cert);
  if (!writeFile(certPath, Bytes(certFile), error)) return fail(error);
  made.push_back("created " + secretPath);
  made.push_back("created " + certPath);
  return {};
}

// Moves `path` to `path.old` and makes a new key there when it is older than the rotation period.
bool dueForRotation(const std::string& path, uint64_t nowUnix, const KeyPolicy& policy) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return false;
  return nowUnix > static_cast<uint64_t>(st.st_mtime) &&
         nowUnix - static_cast<uint64_t>(st.st_mtime) >= policy.onionKeyRotationSeconds;
}

Expected<void, std::string> ensureOnionKeys(const std::string& dir, uint64_t nowUnix,
                                            const KeyPolicy& policy, Lines& made) {
  std::string ntor = dir + "/secret_onion_key_ntor", tap = dir + "/secret_onion_key";
  std::string error;
  for (const std::string& path : {ntor, tap}) {
    if (!dueForRotation(path, nowUnix, policy)) continue;
    if (rename(path.c_str(), (path + ".old").c_str()) != 0)
      return fail("cannot rotate " + path + ": " + std::strerror(errno));
    made.push_back("rotated " + path + " to " + path + ".old");
  }
  if (!std::filesystem::exists(ntor)) {
    crypto::NtorKeyFile k;
    if (!randomBytes(MutBytes(k.secret))) return fail(std::string("no randomness"));
    k.secret[0] &= 248;  // RFC 7748 clamping, as C tor stores it
    k.secret[31] &= 127;
    k.secret[31] |= 64;
    auto kp = crypto::Curve25519Keypair::fromSecret(Bytes(k.secret));
    if (!kp) return fail(std::string("cannot derive a curve25519 public key"));
    k.publicKey = kp->publicKey;
    auto file = crypto::makeNtorKeyFile(k);
    OPENSSL_cleanse(k.secret.data(), k.secret.size());
    bool ok = writeFile(ntor, Bytes(file), error);
    OPENSSL_cleanse(file.data(), file.size());
    if (!ok) return fail(error);
    made.push_back("created " + ntor);
  }
  if (auto t = ensureRsa(tap, made); !t) return fail(t.error());
  return {};
}

// In a directory of its own: channeld's sandbox may read beneath keys/descriptor, nothing else.
constexpr const char* kDescriptorOnionKeysFile = "descriptor/onionsplit-descriptor-onion-keys";
// The ntor crosscert must outlive the onion key it speaks for, plus a grace week.
constexpr uint64_t kCrosscertGraceSeconds = 7 * 86400;

std::string hexLine(const char* name, Bytes b) {
  return std::string(name) + " " + toHex(b) + "\n";
}

// Writes the descriptor's onion-key material when it is missing, older than the onion keys, or its
// ntor crosscert expires within two days.
Expected<void, std::string> ensureDescriptorOnionKeys(const std::string& dataDirectory,
                                                      const crypto::RsaPrivateKey& identity,
                                                      const crypto::Ed25519PublicKey& master,
                                                      uint64_t nowUnix, const KeyPolicy& policy,
                                                      bool keysChanged, Lines& made) {
  std::string dir = keysDir(dataDirectory), path = dir + "/" + kDescriptorOnionKeysFile;
  auto current = loadDescriptorOnionKeys(dataDirectory);
  struct stat out {
  }, ntor{};
  bool stale = !current || keysChanged || stat(path.c_str(), &out) != 0 ||
               stat((dir + "/secret_onion_key_ntor").c_str(), &ntor) != 0 ||
               ntor.st_mtime > out.st_mtime || current->ntorCrosscertExpires < nowUnix + 2 * 86400;
  if (!stale) return {};
  auto tap = readRsa(dir + "/secret_onion_key");
  auto ntorFile = readFile(dir + "/secret_onion_key_ntor");
  if (!tap || !ntorFile) return fail("cannot read the onion keys in " + dir);
  auto ntorKey = crypto::parseNtorKeyFile(Bytes(*ntorFile));
  if (!ntorKey) return fail(dir + "/secret_onion_key_ntor: not a curve25519 key file");

  std::vector<uint8_t> signed20_32;
  auto fp = identity.publicKey().fingerprint();
  signed20_32.insert(signed20_32.end(), fp.begin(), fp.end());
  signed20_32.insert(signed20_32.end(), master.begin(), master.end());
  std::vector<uint8_t> tapSig(tap->bits() / 8);
  size_t n = tap->signTor(Bytes(signed20_32), MutBytes(tapSig));
  if (n == 0) return fail(std::string("cannot sign onion-key-crosscert"));
  tapSig.resize(n);

  auto ed = crypto::ed25519FromCurve25519Secret(ntorKey->secret);
  if (!ed) return fail(std::string("cannot derive the ed25519 key of the ntor onion key"));
  uint64_t expires = nowUnix + policy.onionKeyRotationSeconds + kCrosscertGraceSeconds;
  crypto::Ed25519CertFields f;
  f.certType = crypto::CertType::kNtorCrosscert;
  f.expirationHours = crypto::certExpirationHours(expires);
  f.certKeyType = crypto::CertKeyType::kEd25519;
  f.certifiedKey = master;
  f.includeSigningKey = false;
  uint8_t buf[crypto::kEd25519CertMaxEncodedLen];
  auto cert = crypto::encodeEd25519Cert(f, *ed, MutBytes(buf));
  if (!cert) return fail(std::string("cannot sign ntor-onion-key-crosscert"));

  auto tapDer = tap->publicKey().derPkcs1();
  std::string text =
      hexLine("tap-public-key", Bytes(tapDer)) + hexLine("tap-crosscert", Bytes(tapSig)) +
      hexLine("ntor-public-key", Bytes(ntorKey->publicKey)) + hexLine("ntor-crosscert", *cert) +
      "ntor-crosscert-sign-bit " + std::to_string(ed->signBit() ? 1 : 0) + "\n" +
      "ntor-crosscert-expires " + std::to_string(uint64_t{f.expirationHours} * 3600) + "\n";
  std::string error;
  mkdir((dir + "/descriptor").c_str(), 0700);
  if (!writeText(path, text, error)) return fail(error);
  made.push_back("created " + path);
  return {};
}

// circuitd's own directory: copies of the files circuitd reads, so that its sandbox may read
// beneath keys/onion and nothing else of the keys (the identity secrets sit beside the originals).
constexpr const char* kCircuitdDir = "onion";

// Makes keys/onion hold exact copies of the ntor onion keys (the .old one only while it exists),
// the master public key and the fingerprint file; rewrites a copy that differs.
Expected<void, std::string> ensureCircuitdCopies(const std::string& dataDirectory, Lines& made) {
  std::string keys = keysDir(dataDirectory), dir = keys + "/" + kCircuitdDir, error;
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail("cannot create " + dir + ": " + std::strerror(errno));
  const std::pair<std::string, std::string> copies[] = {
      {keys + "/secret_onion_key_ntor", "secret_onion_key_ntor"},
      {keys + "/secret_onion_key_ntor.old", "secret_onion_key_ntor.old"},
      {keys + "/ed25519_master_id_public_key", "ed25519_master_id_public_key"},
      {dataDirectory + "/fingerprint", "fingerprint"},
  };
  for (const auto& [from, name] : copies) {
    std::string to = dir + "/" + name;
    auto src = readFile(from);
    if (!src) {
      if (unlink(to.c_str()) == 0) made.push_back("removed " + to);  // .old after it went
      continue;
    }
    auto dst = readFile(to);
    bool same = dst && *dst == *src;
    bool ok = same || writeFile(to, Bytes(*src), error);
    OPENSSL_cleanse(src->data(), src->size());
    if (dst) OPENSSL_cleanse(dst->data(), dst->size());
    if (!ok) return fail(error);
    if (!same) made.push_back("created " + to);
  }
  return {};
}

}  // namespace

Expected<std::vector<std::string>, std::string> ensureRelayKeys(const std::string& dataDirectory,
                                                                const std::string& nickname,
                                                                uint64_t nowUnix,
                                                                const KeyPolicy& policy,
                                                                bool forceNewSigningKey) {
  Lines made;
  std::string dir = keysDir(dataDirectory);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir + ": " + ec.message());
  chmod(dataDirectory.c_str(), 0700);
  chmod(dir.c_str(), 0700);

  auto rsa = ensureRsa(dir + "/secret_id_key", made);
  if (!rsa) return fail(rsa.error());
  auto master = ensureMaster(dir, policy, made);
  if (!master) return fail(master.error());

  auto validFor = signingCertValidFor(dir, master->publicKey, nowUnix);
  bool renew = forceNewSigningKey || !validFor ||
               *validFor < static_cast<int64_t>(policy.signingKeyRenewBeforeSeconds);
  if (renew && master->keypair) {
    if (auto st = newSigningKey(dir, *master->keypair, nowUnix, policy, made); !st)
      return fail(st.error());
  } else if (!validFor) {
    return fail("the ed25519 signing key or its certificate in " + dir +
                " is missing or expired, and the master key is offline: run `onionsplit keygen`"
                " where the master key is and copy ed25519_signing_secret_key and"
                " ed25519_signing_cert here");
  }

  if (auto st = ensureOnionKeys(dir, nowUnix, policy, made); !st) return fail(st.error());
  // The crosscerts speak for the identity and the onion keys; a new signing key changes nothing.
  bool crosscertInputsChanged = std::any_of(made.begin(), made.end(), [](const std::string& l) {
    return l.find("secret_id_key") != std::string::npos ||
           l.find("ed25519_master_id") != std::string::npos ||
           l.find("secret_onion_key") != std::string::npos;
  });
  if (auto st = ensureDescriptorOnionKeys(dataDirectory, *rsa, master->publicKey, nowUnix, policy,
                                          crosscertInputsChanged, made);
      !st)
    return fail(st.error());

  std::string error;
  auto fp = rsa->publicKey().fingerprint();
  if (!writeText(dataDirectory + "/fingerprint", crypto::fingerprintFileLine(nickname, Bytes(fp)),
                 error) ||
      !writeText(dataDirectory + "/fingerprint-ed25519",
                 nickname + " " + toBase64NoPad(Bytes(master->publicKey)) + "\n", error))
    return fail(error);
  if (auto st = ensureCircuitdCopies(dataDirectory, made); !st) return fail(st.error());
  return made;
}

Expected<std::string, std::string> fingerprintLine(const std::string& dataDirectory,
                                                   const std::string& nickname) {
  std::string path = keysDir(dataDirectory) + "/secret_id_key";
  auto k = readRsa(path);
  if (!k) return fail("cannot read the identity key " + path);
  auto fp = k->publicKey().fingerprint();
  std::string line = crypto::fingerprintFileLine(nickname, Bytes(fp));
  if (!line.empty() && line.back() == '\n') line.pop_back();
  return line;
}

Expected<IdentityKeys, std::string> loadIdentityKeys(const std::string& dataDirectory) {
  std::string dir = keysDir(dataDirectory), error;
  auto rsa = readRsa(dir + "/secret_id_key");
  if (!rsa) return fail("cannot read " + dir + "/secret_id_key");
  auto signing = readEd25519Secret(dir + "/ed25519_signing_secret_key", "type4", error);
  if (!signing)
    return fail(error.empty() ? "cannot read " + dir + "/ed25519_signing_secret_key" : error);
  auto certFile = readFile(dir + "/ed25519_signing_cert");
  auto pubFile = readFile(dir + "/ed25519_master_id_public_key");
  if (!certFile || !pubFile)
    return fail("missing ed25519 certificate or master public key in " + dir);
  auto cert = crypto::parseTaggedBody(Bytes(*certFile), "ed25519v1-cert", "type4",
                                      certFile->size() - crypto::kTaggedHeaderLen);
  auto pub =
      crypto::parseTaggedBody(Bytes(*pubFile), "ed25519v1-public", "type0", kEd25519PublicBodyLen);
  if (!cert || !pub) return fail("unreadable ed25519 certificate or master public key in " + dir);
  IdentityKeys k{
      std::move(*rsa), {}, std::move(*signing), std::vector<uint8_t>(cert->begin(), cert->end())};
  std::memcpy(k.masterPublic.data(), pub->data(), 32);
  return k;
}

Expected<OnionKeys, std::string> loadOnionKeys(const std::string& dataDirectory) {
  const std::string dir = keysDir(dataDirectory) + "/" + kCircuitdDir;
  std::string path = dir + "/secret_onion_key_ntor";
  auto cur = readFile(path);
  if (!cur) return fail("cannot read " + path);
  auto k = crypto::parseNtorKeyFile(Bytes(*cur));
  if (!k) return fail(path + ": not a curve25519 key file");
  OnionKeys out{*k, std::nullopt, {}, {}};
  if (auto old = readFile(path + ".old")) {
    auto o = crypto::parseNtorKeyFile(Bytes(*old));
    if (!o) return fail(path + ".old: not a curve25519 key file");
    out.previous = *o;
  }
  // "<nickname> <40 hex>" as C tor writes it.
  std::string fpPath = dir + "/fingerprint";
  auto fp = readFile(fpPath);
  if (!fp) return fail("cannot read " + fpPath);
  std::string line(fp->begin(), fp->end());
  auto sp = line.find(' ');
  auto digest =
      sp == std::string::npos ? std::nullopt : fromHex(std::string_view(line).substr(sp + 1, 40));
  if (!digest || digest->size() != 20) return fail(fpPath + ": not a fingerprint line");
  std::memcpy(out.rsaIdDigest.data(), digest->data(), 20);
  std::string pubPath = dir + "/ed25519_master_id_public_key";
  auto pubFile = readFile(pubPath);
  if (!pubFile) return fail("cannot read " + pubPath);
  auto pub =
      crypto::parseTaggedBody(Bytes(*pubFile), "ed25519v1-public", "type0", kEd25519PublicBodyLen);
  if (!pub) return fail(pubPath + ": not an ed25519 public key file");
  std::memcpy(out.edIdentity.data(), pub->data(), 32);
  return out;
}

Expected<DescriptorOnionKeys, std::string> loadDescriptorOnionKeys(
    const std::string& dataDirectory) {
  std::string path = keysDir(dataDirectory) + "/" + kDescriptorOnionKeysFile;
  std::ifstream in(path);
  if (!in) return fail("cannot read " + path);
  DescriptorOnionKeys k;
  std::string line;
  unsigned seen = 0;
  while (std::getline(in, line)) {
    auto sp = line.find(' ');
    if (sp == std::string::npos) return fail(path + ": malformed line");
    std::string name = line.substr(0, sp), value = line.substr(sp + 1);
    if (name == "ntor-crosscert-sign-bit") {
      k.ntorCrosscertSignBit = value == "1" ? 1 : 0;
      seen |= 16;
      continue;
    }
    if (name == "ntor-crosscert-expires") {
      k.ntorCrosscertExpires = std::strtoull(value.c_str(), nullptr, 10);
      seen |= 32;
      continue;
    }
    auto bytes = fromHex(value);
    if (!bytes) return fail(path + ": bad hex in " + name);
    if (name == "tap-public-key") {
      k.tapPublicDer = *bytes;
      seen |= 1;
    } else if (name == "tap-crosscert") {
      k.tapCrosscert = *bytes;
      seen |= 2;
    } else if (name == "ntor-public-key" && bytes->size() == 32) {
      std::memcpy(k.ntorPublic.data(), bytes->data(), 32);
      seen |= 4;
    } else if (name == "ntor-crosscert") {
      k.ntorCrosscert = *bytes;
      seen |= 8;
    }
  }
  if (seen != 63) return fail(path + ": incomplete");
  return k;
}

}  // namespace onionsplit::keys
