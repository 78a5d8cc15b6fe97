// common/crypto/aes128.h: AES-128 on a key schedule of its own, for Counter Galois Onion
// (common/crypto/cgo.h), which re-keys its block ciphers after every cell a hop originates or
// recognizes. With AES-NI (checked at run time) keying is the ten-step schedule and nothing
// else; re-keying an OpenSSL 3 EVP context costs about 170 ns more (parameter lookups, string
// compares), twice per cell at an exit. Without AES-NI it falls back to OpenSSL's EVP AES-128-ECB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

struct evp_cipher_ctx_st;

namespace onionsplit::crypto {

struct EvpCipherCtxFree {
  void operator()(evp_cipher_ctx_st* c) const;
};
using EvpCipherCtxPtr = std::unique_ptr<evp_cipher_ctx_st, EvpCipherCtxFree>;

class Aes128 {
 public:
  enum class Dir : uint8_t { kEncrypt, kDecrypt };
  // kVaes: AES-NI for keying and single blocks, VAES (AVX-512, four blocks per instruction) for
  // the counter stream.
  enum class Impl : uint8_t { kEvp, kAesni, kVaes };

  // AES-NI and SSE2 on this CPU; VAES with AVX-512 F and BW as well.
  static bool aesniAvailable();
  static bool vaesAvailable();
  static Impl best() {
    return vaesAvailable() ? Impl::kVaes : aesniAvailable() ? Impl::kAesni : Impl::kEvp;
  }

  // An `impl` this CPU lacks falls back to the next one it has (tests pass any).
  explicit Aes128(Impl impl = best());
  ~Aes128();  // wipes the schedule
  Aes128(Aes128&& o) noexcept;
  Aes128& operator=(Aes128&& o) noexcept;
  Aes128(const Aes128&) = delete;
  Aes128& operator=(const Aes128&) = delete;

  // Keys it with a 16-byte key for one direction. False only if OpenSSL fails (kEvp).
  bool setKey(const uint8_t* key16, Dir dir);
  // Keys two at once (CGO's key update re-keys ET and the PRF together): with AES-NI the two
  // schedules are computed side by side, so their dependency chains overlap.
  static bool setKeys(Aes128& a, const uint8_t* keyA, Dir dirA, Aes128& b, const uint8_t* keyB,
                      Dir dirB);
  // ECB in place over `blocks` 16-byte blocks, in the direction it was keyed for; false if it was
  // never keyed or OpenSSL fails.
  bool apply(uint8_t* data, size_t blocks) const;
  // block16 = E(block16 ^ mask16) ^ mask16 in the direction it was keyed for (CGO's ET), in
  // registers with AES-NI. False if it was never keyed or OpenSSL fails.
  bool applyMasked(const uint8_t* mask16, uint8_t* block16) const;
  // As xorCounterStream, but out[0, len) = the keystream itself (CGO's next keys).
  bool counterStream(const uint8_t* iv16, uint8_t first, uint8_t* out, size_t len) const;
  // One stream from counter 0: data[0, len) ^= its first ceil(len / 16) blocks, out[0, outLen) =
  // the blocks after them (CGO's PRF at t = 0 and t = 1 on one IV). At most 64 blocks in all.
  bool xorCounterStreamThenKeystream(const uint8_t* iv16, uint8_t* data, size_t len, uint8_t* out,
                                     size_t outLen) const;
  // CGO's PRF keystream (encrypt keys only): data[0, len) ^= the encryption of the counter blocks
  // `iv` with its last byte ORed with first, first + 1, ... (the caller keeps those bits clear
  // and first + blocks <= 64, so there is no carry). At most 64 blocks; false if unkeyed, keyed to
  // decrypt, or OpenSSL fails. The keystream never leaves the registers (AES-NI, VAES).
  bool xorCounterStream(const uint8_t* iv16, uint8_t first, uint8_t* data, size_t len) const;
  Impl impl() const { return impl_; }

 private:
  void wipe();
  Impl impl_;
  Dir dir_ = Dir::kEncrypt;
  bool keyed_ = false;
  alignas(16) uint8_t rk_[11][16] = {};  // kAesni, kVaes: the round keys for dir_
  EvpCipherCtxPtr evp_;                  // kEvp
};

}  // namespace onionsplit::crypto
