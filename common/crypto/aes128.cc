// common/crypto/aes128.cc: see aes128.h.
#include "common/crypto/aes128.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define ONIONSPLIT_AESNI 1
#endif

namespace onionsplit::crypto {

void EvpCipherCtxFree::operator()(evp_cipher_ctx_st* c) const {
  EVP_CIPHER_CTX_free(c);
}

namespace {

#ifdef ONIONSPLIT_AESNI
#define AESNI_TARGET __attribute__((target("aes,sse2")))

#define AESNI_KEY_TARGET __attribute__((target("aes,ssse3,sse2")))

// Stores a schedule for encryption, or its equivalent inverse cipher (FIPS-197 5.3.5: the round
// keys in reverse, the inner ones through InvMixColumns), and wipes the registers' copy.
AESNI_KEY_TARGET void storeSchedule(__m128i* k, bool decrypt, uint8_t (*out)[16]) {
  for (int i = 0; i < 11; ++i) {
    __m128i r = !decrypt ? k[i] : i == 0 ? k[10] : i == 10 ? k[0] : _mm_aesimc_si128(k[10 - i]);
    _mm_store_si128(reinterpret_cast<__m128i*>(out[i]), r);
  }
  for (int i = 0; i < 11; ++i)
    k[i] = _mm_setzero_si128();
}

// The AES-128 key schedule (FIPS-197 5.2) of N keys side by side, without AESKEYGENASSIST (slow
// on some cores): PSHUFB broadcasts RotWord(w3) to all four columns, so AESENCLAST's ShiftRows
// changes nothing and it leaves SubWord(RotWord(w3)) ^ Rcon in every column.
template <int N>
AESNI_KEY_TARGET void expandKeys(const uint8_t* const (&keys)[N], const bool (&decrypt)[N],
                                 uint8_t (*const (&out)[N])[16]) {
  const __m128i rotWord3 =
      _mm_set_epi8(12, 15, 14, 13, 12, 15, 14, 13, 12, 15, 14, 13, 12, 15, 14, 13);
  __m128i k[N][11];
  for (int n = 0; n < N; ++n)
    k[n][0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(keys[n]));
  __m128i rcon = _mm_set1_epi32(1);
  for (int r = 1; r <= 10; ++r) {
    if (r == 9) rcon = _mm_set1_epi32(0x1b);  // x^8 reduced: the constants go on 0x1b, 0x36
    for (int n = 0; n < N; ++n) {
      __m128i t = _mm_aesenclast_si128(_mm_shuffle_epi8(k[n][r - 1], rotWord3), rcon);
      __m128i w = k[n][r - 1];
      w = _mm_xor_si128(w, _mm_slli_si128(w, 4));
      w = _mm_xor_si128(w, _mm_slli_si128(w, 8));
      k[n][r] = _mm_xor_si128(w, t);
    }
    rcon = _mm_slli_epi32(rcon, 1);
  }
  for (int n = 0; n < N; ++n)
    storeSchedule(k[n], decrypt[n], out[n]);
}

// Eight blocks at a time, so the AES unit's pipeline stays full; then one at a time.
template <bool kDecrypt>
AESNI_TARGET void ecb(const uint8_t (*rk)[16], uint8_t* data, size_t blocks) {
  __m128i k[11];
  for (int i = 0; i < 11; ++i)
    k[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(rk[i]));
  auto* p = reinterpret_cast<__m128i*>(data);
  size_t i = 0;
  for (; i + 8 <= blocks; i += 8) {
    __m128i b[8];
    for (int j = 0; j < 8; ++j)
      b[j] = _mm_xor_si128(_mm_loadu_si128(p + i + j), k[0]);
    for (int r = 1; r < 10; ++r)
      for (int j = 0; j < 8; ++j)
        b[j] = kDecrypt ? _mm_aesdec_si128(b[j], k[r]) : _mm_aesenc_si128(b[j], k[r]);
    for (int j = 0; j < 8; ++j)
      _mm_storeu_si128(p + i + j, kDecrypt ? _mm_aesdeclast_si128(b[j], k[10])
                                           : _mm_aesenclast_si128(b[j], k[10]));
  }
  for (; i < blocks; ++i) {
    __m128i b = _mm_xor_si128(_mm_loadu_si128(p + i), k[0]);
    for (int r = 1; r < 10; ++r)
      b = kDecrypt ? _mm_aesdec_si128(b, k[r]) : _mm_aesenc_si128(b, k[r]);
    _mm_storeu_si128(p + i,
                     kDecrypt ? _mm_aesdeclast_si128(b, k[10]) : _mm_aesenclast_si128(b, k[10]));
  }
  for (auto& r : k)
    r = _mm_setzero_si128();
}
// block = AES(block ^ mask) ^ mask in registers (LRW, CGO's ET), one load and one store each.
template <bool kDecrypt>
AESNI_TARGET void maskedBlock(const uint8_t (*rk)[16], const uint8_t* mask16, uint8_t* block) {
  const __m128i m = _mm_loadu_si128(reinterpret_cast<const __m128i*>(mask16));
  auto* p = reinterpret_cast<__m128i*>(block);
  __m128i b = _mm_xor_si128(_mm_xor_si128(_mm_loadu_si128(p), m),
                            _mm_load_si128(reinterpret_cast<const __m128i*>(rk[0])));
  for (int r = 1; r < 10; ++r) {
    const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(rk[r]));
    b = kDecrypt ? _mm_aesdec_si128(b, k) : _mm_aesenc_si128(b, k);
  }
  const __m128i k = _mm_load_si128(reinterpret_cast<const __m128i*>(rk[10]));
  b = kDecrypt ? _mm_aesdeclast_si128(b, k) : _mm_aesenclast_si128(b, k);
  _mm_storeu_si128(p, _mm_xor_si128(b, m));
}

// One counter block: `base` with (first + i) ORed into its last byte.
AESNI_TARGET __m128i counter(__m128i base, size_t i) {
  return _mm_or_si128(base, _mm_slli_si128(_mm_cvtsi32_si128(static_cast<int>(i)), 15));
}

// data = keystream for one partial block (the tail).
AESNI_TARGET void storeTail(__m128i ks, uint8_t* data, size_t len) {
  alignas(16) uint8_t buf[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(buf), ks);
  std::memcpy(data, buf, len);
  _mm_store_si128(reinterpret_cast<__m128i*>(buf), _mm_setzero_si128());
}

// data ^= keystream for one partial block (the tail).
AESNI_TARGET void xorTail(__m128i ks, uint8_t* data, size_t len) {
  alignas(16) uint8_t buf[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(buf), ks);
  for (size_t i = 0; i < len; ++i)
    data[i] ^= buf[i];
  _mm_store_si128(reinterpret_cast<__m128i*>(buf), _mm_setzero_si128());
}

AESNI_TARGET void ctrXor(const uint8_t (*rk)[16], const uint8_t* iv16, uint8_t first, uint8_t* data,
                         size_t len) {
  __m128i k[11];
  for (int i = 0; i < 11; ++i)
    k[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(rk[i]));
  __m128i base = _mm_loadu_si128(reinterpret_cast<const __m128i*>(iv16));
  size_t blocks = (len + 15) / 16, i = 0;
  for (; i < blocks; i += 8) {
    size_t n = blocks - i < 8 ? blocks - i : 8;
    __m128i b[8];
    for (size_t j = 0; j < 8; ++j)
      b[j] = _mm_xor_si128(counter(base, first + i + j), k[0]);
    for (int r = 1; r < 10; ++r)
      for (size_t j = 0; j < 8; ++j)
        b[j] = _mm_aesenc_si128(b[j], k[r]);
    for (size_t j = 0; j < n; ++j) {
      __m128i ks = _mm_aesenclast_si128(b[j], k[10]);
      uint8_t* p = data + (i + j) * 16;
      size_t left = len - (i + j) * 16;
      if (left >= 16) {
        auto* q = reinterpret_cast<__m128i*>(p);
        _mm_storeu_si128(q, _mm_xor_si128(_mm_loadu_si128(q), ks));
      } else {
        xorTail(ks, p, left);
      }
    }
  }
}

// GCC 12's AVX-512 headers pass _mm512_undefined_*() as the unused merge operand of unmasked
// intrinsics (lane extracts), which -O3 reports as (maybe-)uninitialized inside the headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define VAES_TARGET __attribute__((target("vaes,avx512f,avx512bw,aes,sse2")))

// The 11 round keys, each in all four 128-bit lanes.
VAES_TARGET inline void broadcastRoundKeys(const uint8_t (*rk)[16], __m512i k[11]) {
  for (int i = 0; i < 11; ++i)
    k[i] = _mm512_maskz_broadcast_i32x4(0xffff,
                                        _mm_load_si128(reinterpret_cast<const __m128i*>(rk[i])));
}

VAES_TARGET inline __m512i broadcastBlock(const uint8_t* block16) {
  return _mm512_maskz_broadcast_i32x4(0xffff,
                                      _mm_loadu_si128(reinterpret_cast<const __m128i*>(block16)));
}

// Sixteen counter blocks (base | ctr, four per register) through all rounds but the last, the
// counters advanced past them; the caller finishes each with aesenclast (it needs b one at a time).
VAES_TARGET inline void encryptSixteenBlocks(__m512i base, __m512i& ctr, __m512i step,
                                             const __m512i k[11], __m512i b[4]) {
  for (size_t j = 0; j < 4; ++j) {
    b[j] = _mm512_xor_si512(_mm512_or_si512(base, ctr), k[0]);
    ctr = _mm512_add_epi64(ctr, step);
  }
  for (int r = 1; r < 10; ++r)
    for (size_t j = 0; j < 4; ++j)
      b[j] = _mm512_aesenc_epi128(b[j], k[r]);
}

// Four counter blocks per register, up to 64 blocks in one pass of 16 registers' worth of rounds
// (CGO asks for at most 37: the T0 stream or the 80 bytes of the next keys).
// kXor: data ^= keystream; else data = keystream (written, never read: the next keys are loaded
// from these stores right after).
template <bool kXor>
VAES_TARGET void ctrVaes(const uint8_t (*rk)[16], const uint8_t* iv16, uint8_t first, uint8_t* data,
                         size_t len) {
  __m512i k[11];
  broadcastRoundKeys(rk, k);
  const __m512i base = broadcastBlock(iv16);
  // Lane j of a register holds block 4g + j: its counter byte sits at byte 15 of the lane.
  const __m512i lane =
      _mm512_set_epi64(int64_t{3} << 56, 0, int64_t{2} << 56, 0, int64_t{1} << 56, 0, 0, 0);
  const __m512i step = _mm512_set_epi64(int64_t{4} << 56, 0, int64_t{4} << 56, 0, int64_t{4} << 56,
                                        0, int64_t{4} << 56, 0);
  __m512i ctr =
      _mm512_add_epi64(lane, _mm512_set_epi64(int64_t{first} << 56, 0, int64_t{first} << 56, 0,
                                              int64_t{first} << 56, 0, int64_t{first} << 56, 0));
  size_t groups = (len + 63) / 64;
  for (size_t g = 0; g < groups; g += 4) {
    size_t n = groups - g < 4 ? groups - g : 4;
    __m512i b[4];
    encryptSixteenBlocks(base, ctr, step, k, b);
    for (size_t j = 0; j < n; ++j) {
      __m512i ks = _mm512_aesenclast_epi128(b[j], k[10]);
      size_t off = (g + j) * 64, left = len - off;
      __mmask64 m = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
      if (kXor) ks = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, data + off), ks);
      if (left >= 64)
        _mm512_storeu_si512(data + off, ks);
      else
        _mm512_mask_storeu_epi8(data + off, m, ks);
    }
  }
}

// Lane i (0-3) of v.
VAES_TARGET __m128i laneOf(__m512i v, size_t i) {
  switch (i) {
    case 0:
      return _mm512_castsi512_si128(v);
    case 1:
      return _mm512_extracti32x4_epi32(v, 1);
    case 2:
      return _mm512_extracti32x4_epi32(v, 2);
    default:
      return _mm512_extracti32x4_epi32(v, 3);
  }
}

// Writes keystream block `blk` (lane `lane` of `ks`) to out when it is one of out's blocks: out
// holds blocks nd.. of the stream, outLen bytes.
VAES_TARGET void storeOutBlock(__m512i ks, size_t lane, size_t blk, size_t nd, uint8_t* out,
                               size_t outLen) {
  if (blk < nd || (blk - nd) * 16 >= outLen) return;
  size_t o = (blk - nd) * 16, left = outLen - o;
  __m128i k = laneOf(ks, lane);
  if (left >= 16)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + o), k);
  else
    storeTail(k, out + o, left);
}

// One pass of the stream from counter 0: data[0, len) ^= its first nd = ceil(len / 16) blocks,
// out[0, outLen) = the blocks after them (CGO: a cell's PRF stream at t = 0 and the next keys at
// t = 1 share the IV, and t = 1 starts at block 31 = ceil(493 / 16)).
VAES_TARGET void ctrSplitVaes(const uint8_t (*rk)[16], const uint8_t* iv16, uint8_t* data,
                              size_t len, uint8_t* out, size_t outLen) {
  __m512i k[11];
  broadcastRoundKeys(rk, k);
  const __m512i base = broadcastBlock(iv16);
  __m512i ctr =
      _mm512_set_epi64(int64_t{3} << 56, 0, int64_t{2} << 56, 0, int64_t{1} << 56, 0, 0, 0);
  const __m512i step = _mm512_set_epi64(int64_t{4} << 56, 0, int64_t{4} << 56, 0, int64_t{4} << 56,
                                        0, int64_t{4} << 56, 0);
  const size_t nd = (len + 15) / 16, groups = (nd + (outLen + 15) / 16 + 3) / 4;
  for (size_t g = 0; g < groups; g += 4) {
    size_t n = groups - g < 4 ? groups - g : 4;
    __m512i b[4];
    encryptSixteenBlocks(base, ctr, step, k, b);
    for (size_t j = 0; j < n; ++j) {
      __m512i ks = _mm512_aesenclast_epi128(b[j], k[10]);
      size_t off = (g + j) * 64;
      if (off < len) {
        size_t left = len - off;
        __mmask64 m = left >= 64 ? ~__mmask64{0} : (__mmask64{1} << left) - 1;
        __m512i d = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, data + off), ks);
        if (left >= 64)
          _mm512_storeu_si512(data + off, d);
        else
          _mm512_mask_storeu_epi8(data + off, m, d);
      }
      for (size_t lane = 0; lane < 4; ++lane)
        storeOutBlock(ks, lane, (g + j) * 4 + lane, nd, out, outLen);
    }
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

}  // namespace

bool Aes128::vaesAvailable() {
#ifdef ONIONSPLIT_AESNI
  // Clang 14 cannot ask __builtin_cpu_supports for VAES: CPUID leaf 7, ECX bit 9. AVX-512 F and
  // BW through the builtin, which also checks that the OS saves the AVX-512 state. Asked once: in
  // a virtual machine CPUID traps to the hypervisor, and every CGO circuit makes four Aes128s.
  static const bool available = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    bool vaes = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 9)) != 0;
    return vaes && aesniAvailable() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw");
  }();
  return available;
#else
  return false;
#endif
}

bool Aes128::aesniAvailable() {
#ifdef ONIONSPLIT_AESNI
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2");
#else
  return false;
#endif
}

Aes128::Aes128(Impl impl) : impl_(impl) {
  if (impl_ == Impl::kVaes && !vaesAvailable()) impl_ = Impl::kAesni;
  if (impl_ == Impl::kAesni && !aesniAvailable()) impl_ = Impl::kEvp;
}

Aes128::~Aes128() {
  wipe();
}

Aes128::Aes128(Aes128&& o) noexcept
    : impl_(o.impl_), dir_(o.dir_), keyed_(o.keyed_), evp_(std::move(o.evp_)) {
  std::memcpy(rk_, o.rk_, sizeof(rk_));
  o.wipe();
}

Aes128& Aes128::operator=(Aes128&& o) noexcept {
  if (this != &o) {
    impl_ = o.impl_;
    dir_ = o.dir_;
    keyed_ = o.keyed_;
    evp_ = std::move(o.evp_);
    std::memcpy(rk_, o.rk_, sizeof(rk_));
    o.wipe();
  }
  return *this;
}

void Aes128::wipe() {
  OPENSSL_cleanse(rk_, sizeof(rk_));
  keyed_ = false;
}

bool Aes128::setKey(const uint8_t* key16, Dir dir) {
  dir_ = dir;
#ifdef ONIONSPLIT_AESNI
  if (impl_ != Impl::kEvp) {
    expandKeys<1>({key16}, {dir == Dir::kDecrypt}, {rk_});
    keyed_ = true;
    return true;
  }
#endif
  keyed_ = false;
  int enc = dir == Dir::kEncrypt ? 1 : 0;
  if (!evp_) {
    evp_.reset(EVP_CIPHER_CTX_new());
    if (!evp_ ||
        EVP_CipherInit_ex(evp_.get(), EVP_aes_128_ecb(), nullptr, key16, nullptr, enc) != 1)
      return false;
  } else if (EVP_CipherInit_ex(evp_.get(), nullptr, nullptr, key16, nullptr, enc) != 1) {
    return false;
  }
  // Whole blocks only: without this, decryption would hold the last block back.
  if (EVP_CIPHER_CTX_set_padding(evp_.get(), 0) != 1) return false;
  keyed_ = true;
  return true;
}

bool Aes128::setKeys(Aes128& a, const uint8_t* keyA, Dir dirA, Aes128& b, const uint8_t* keyB,
                     Dir dirB) {
#ifdef ONIONSPLIT_AESNI
  if (a.impl_ != Impl::kEvp && b.impl_ != Impl::kEvp) {
    expandKeys<2>({keyA, keyB}, {dirA == Dir::kDecrypt, dirB == Dir::kDecrypt}, {a.rk_, b.rk_});
    a.dir_ = dirA;
    b.dir_ = dirB;
    a.keyed_ = b.keyed_ = true;
    return true;
  }
#endif
  return a.setKey(keyA, dirA) && b.setKey(keyB, dirB);
}

bool Aes128::apply(uint8_t* data, size_t blocks) const {
  if (!keyed_) return false;
#ifdef ONIONSPLIT_AESNI
  if (impl_ != Impl::kEvp) {
    if (dir_ == Dir::kDecrypt)
      ecb<true>(rk_, data, blocks);
    else
      ecb<false>(rk_, data, blocks);
    return true;
  }
#endif
  int n = static_cast<int>(blocks * 16), out = 0;
  return EVP_CipherUpdate(evp_.get(), data, &out, data, n) == 1 && out == n;
}

bool Aes128::applyMasked(const uint8_t* mask16, uint8_t* block16) const {
  if (!keyed_) return false;
#ifdef ONIONSPLIT_AESNI
  if (impl_ != Impl::kEvp) {
    if (dir_ == Dir::kDecrypt)
      maskedBlock<true>(rk_, mask16, block16);
    else
      maskedBlock<false>(rk_, mask16, block16);
    return true;
  }
#endif
  for (size_t i = 0; i < 16; ++i)
    block16[i] ^= mask16[i];
  if (!apply(block16, 1)) return false;
  for (size_t i = 0; i < 16; ++i)
    block16[i] ^= mask16[i];
  return true;
}

bool Aes128::counterStream(const uint8_t* iv16, uint8_t first, uint8_t* out, size_t len) const {
#ifdef ONIONSPLIT_AESNI
  size_t blocks = (len + 15) / 16;
  if (impl_ == Impl::kVaes && keyed_ && dir_ == Dir::kEncrypt && first + blocks <= 64) {
    ctrVaes<false>(rk_, iv16, first, out, len);
    return true;
  }
#endif
  std::memset(out, 0, len);
  return xorCounterStream(iv16, first, out, len);
}

bool Aes128::xorCounterStreamThenKeystream(const uint8_t* iv16, uint8_t* data, size_t len,
                                           uint8_t* out, size_t outLen) const {
  size_t nd = (len + 15) / 16;
#ifdef ONIONSPLIT_AESNI
  if (impl_ == Impl::kVaes && keyed_ && dir_ == Dir::kEncrypt && nd + (outLen + 15) / 16 <= 64) {
    ctrSplitVaes(rk_, iv16, data, len, out, outLen);
    return true;
  }
#endif
  return nd <= 64 && xorCounterStream(iv16, 0, data, len) &&
         counterStream(iv16, static_cast<uint8_t>(nd), out, outLen);
}

bool Aes128::xorCounterStream(const uint8_t* iv16, uint8_t first, uint8_t* data, size_t len) const {
  size_t blocks = (len + 15) / 16;
  if (!keyed_ || dir_ != Dir::kEncrypt || blocks > 64 || first + blocks > 64) return false;
#ifdef ONIONSPLIT_AESNI
  if (impl_ == Impl::kVaes) {
    ctrVaes<true>(rk_, iv16, first, data, len);
    return true;
  }
  if (impl_ == Impl::kAesni) {
    ctrXor(rk_, iv16, first, data, len);
    return true;
  }
#endif
  alignas(16) uint8_t ks[64 * 16];
  for (size_t i = 0; i < blocks; ++i) {
    std::memcpy(ks + i * 16, iv16, 16);
    ks[i * 16 + 15] = static_cast<uint8_t>(iv16[15] | (first + i));
  }
  bool ok = apply(ks, blocks);
  if (ok)
    for (size_t i = 0; i < len; ++i)
      data[i] ^= ks[i];
  OPENSSL_cleanse(ks, blocks * 16);
  return ok;
}

}  // namespace onionsplit::crypto
