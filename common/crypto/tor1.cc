// common/crypto/tor1.cc: see tor1.h.
#include "common/crypto/tor1.h"

#include <openssl/evp.h>

#include <cstring>
#include <utility>

namespace onionsplit::crypto {
namespace {

constexpr size_t kRecognizedAt = 1;
constexpr size_t kDigestAt = 5;

}  // namespace

std::optional<Tor1Keys> Tor1Keys::fromKeyMaterial(Bytes km) {
  if (km.size() < kTor1KeyMaterialLen) return std::nullopt;
  Tor1Keys k;
  std::memcpy(k.df.data(), km.data(), 20);
  std::memcpy(k.db.data(), km.data() + 20, 20);
  std::memcpy(k.kf.data(), km.data() + 40, 16);
  std::memcpy(k.kb.data(), km.data() + 56, 16);
  return k;
}

std::optional<Tor1Direction> Tor1Direction::create(const Tor1Digest& seed,
                                                   const std::array<uint8_t, kTor1KeyLen>& key) {
  Tor1Direction d;
  d.cipher_ = EVP_CIPHER_CTX_new();
  d.running_ = EVP_MD_CTX_new();
  d.scratch_ = EVP_MD_CTX_new();
  d.final_ = EVP_MD_CTX_new();
  static const uint8_t kZeroIv[16] = {};
  if (!d.cipher_ || !d.running_ || !d.scratch_ || !d.final_ ||
      EVP_EncryptInit_ex(d.cipher_, EVP_aes_128_ctr(), nullptr, key.data(), kZeroIv) != 1 ||
      EVP_DigestInit_ex(d.running_, EVP_sha1(), nullptr) != 1 ||
      EVP_DigestUpdate(d.running_, seed.data(), seed.size()) != 1 ||
      EVP_DigestInit_ex(d.scratch_, EVP_sha1(), nullptr) != 1 ||
      EVP_DigestInit_ex(d.final_, EVP_sha1(), nullptr) != 1)
    return std::nullopt;
  return d;
}

Tor1Direction::Tor1Direction(Tor1Direction&& o) noexcept
    : cipher_(std::exchange(o.cipher_, nullptr)),
      running_(std::exchange(o.running_, nullptr)),
      scratch_(std::exchange(o.scratch_, nullptr)),
      final_(std::exchange(o.final_, nullptr)) {}

Tor1Direction& Tor1Direction::operator=(Tor1Direction&& o) noexcept {
  std::swap(cipher_, o.cipher_);
  std::swap(running_, o.running_);
  std::swap(scratch_, o.scratch_);
  std::swap(final_, o.final_);
  return *this;
}

Tor1Direction::~Tor1Direction() {
  EVP_CIPHER_CTX_free(cipher_);
  EVP_MD_CTX_free(running_);
  EVP_MD_CTX_free(scratch_);
  EVP_MD_CTX_free(final_);
}

bool Tor1Direction::crypt(RelayPayload cell) {
  int outLen = 0;
  return EVP_EncryptUpdate(cipher_, cell.data(), &outLen, cell.data(),
                           static_cast<int>(cell.size())) == 1 &&
         outLen == static_cast<int>(cell.size());
}

bool Tor1Direction::setDigest(RelayPayload cell, Tor1Digest* full) {
  std::memset(cell.data() + kDigestAt, 0, 4);
  Tor1Digest d;
  unsigned len = 0;
  if (EVP_DigestUpdate(running_, cell.data(), cell.size()) != 1 ||
      EVP_MD_CTX_copy_ex(final_, running_) != 1 || EVP_DigestFinal_ex(final_, d.data(), &len) != 1)
    return false;
  std::memcpy(cell.data() + kDigestAt, d.data(), 4);
  if (full) *full = d;
  return true;
}

bool Tor1Direction::recognize(RelayPayload cell, Tor1Digest* full) {
  if (cell[kRecognizedAt] != 0 || cell[kRecognizedAt + 1] != 0) return false;
  uint8_t received[4];
  std::memcpy(received, cell.data() + kDigestAt, 4);
  std::memset(cell.data() + kDigestAt, 0, 4);
  Tor1Digest d;
  unsigned len = 0;
  bool ok = EVP_MD_CTX_copy_ex(scratch_, running_) == 1 &&
            EVP_DigestUpdate(scratch_, cell.data(), cell.size()) == 1 &&
            EVP_MD_CTX_copy_ex(final_, scratch_) == 1 &&
            EVP_DigestFinal_ex(final_, d.data(), &len) == 1;
  std::memcpy(cell.data() + kDigestAt, received, 4);
  if (!ok || !constantTimeEqual(Bytes(received), Bytes(d.data(), 4))) return false;
  std::swap(running_, scratch_);  // commit: the candidate state becomes the running one
  if (full) *full = d;
  return true;
}

bool Tor1Direction::recognizeAtLastHop(RelayPayload cell, Tor1Digest* full) {
  if (cell[kRecognizedAt] != 0 || cell[kRecognizedAt + 1] != 0) return false;
  uint8_t received[4];
  std::memcpy(received, cell.data() + kDigestAt, 4);
  std::memset(cell.data() + kDigestAt, 0, 4);
  Tor1Digest d;
  unsigned len = 0;
  bool ok = EVP_DigestUpdate(running_, cell.data(), cell.size()) == 1 &&
            EVP_MD_CTX_copy_ex(final_, running_) == 1 &&
            EVP_DigestFinal_ex(final_, d.data(), &len) == 1;
  std::memcpy(cell.data() + kDigestAt, received, 4);
  if (!ok || !constantTimeEqual(Bytes(received), Bytes(d.data(), 4))) return false;
  if (full) *full = d;
  return true;
}

std::optional<RelayLayer> RelayLayer::create(const Tor1Keys& k) {
  auto f = Tor1Direction::create(k.df, k.kf);
  auto b = Tor1Direction::create(k.db, k.kb);
  if (!f || !b) return std::nullopt;
  return RelayLayer(std::move(*f), std::move(*b));
}

RelayLayer::Outbound RelayLayer::processOutbound(RelayPayload cell, Tor1Digest* full,
                                                 bool lastHop) {
  if (!fwd_.crypt(cell)) return Outbound::kError;
  bool ok = lastHop ? fwd_.recognizeAtLastHop(cell, full) : fwd_.recognize(cell, full);
  return ok ? Outbound::kRecognized : Outbound::kNotRecognized;
}

bool RelayLayer::originateInbound(RelayPayload cell, Tor1Digest* full) {
  cell[kRecognizedAt] = 0;
  cell[kRecognizedAt + 1] = 0;
  return bwd_.setDigest(cell, full) && bwd_.crypt(cell);
}

bool RelayLayer::relayInbound(RelayPayload cell) {
  return bwd_.crypt(cell);
}

bool ClientCircuit::addHop(const Tor1Keys& k) {
  auto f = Tor1Direction::create(k.df, k.kf);
  auto b = Tor1Direction::create(k.db, k.kb);
  if (!f || !b) return false;
  fwd_.push_back(std::move(*f));
  bwd_.push_back(std::move(*b));
  return true;
}

bool ClientCircuit::originateOutbound(size_t target, RelayPayload cell, Tor1Digest* full) {
  if (target >= fwd_.size()) return false;
  cell[kRecognizedAt] = 0;
  cell[kRecognizedAt + 1] = 0;
  if (!fwd_[target].setDigest(cell, full)) return false;
  for (size_t i = target + 1; i-- > 0;)
    if (!fwd_[i].crypt(cell)) return false;
  return true;
}

std::optional<size_t> ClientCircuit::receiveInbound(RelayPayload cell, Tor1Digest* full) {
  for (size_t i = 0; i < bwd_.size(); ++i) {
    if (!bwd_[i].crypt(cell)) return std::nullopt;
    if (bwd_[i].recognize(cell, full)) return i;
  }
  return std::nullopt;
}

}  // namespace onionsplit::crypto
