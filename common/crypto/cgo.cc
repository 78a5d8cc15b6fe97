// common/crypto/cgo.cc: see cgo.h.
#include "common/crypto/cgo.h"

#include <openssl/crypto.h>

#include <cstring>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ONIONSPLIT_CGO_X86 1
#endif

namespace onionsplit::crypto {
namespace {

// A field element of POLYVAL: bit k of the 128-bit little-endian value is the coefficient of x^k.
struct U128 {
  uint64_t lo, hi;
};

uint64_t loadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

void storeLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

U128 load128(const uint8_t* p) {
  return {loadLe64(p), loadLe64(p + 8)};
}

// ---- portable carry-less arithmetic (no secret-dependent branches or table lookups) ----

// Low 64 bits of the carry-less product. Each operand is split into four classes of bits 4
// apart; an integer product of two classes then has at most 15 terms per bit position below bit
// 60 (16 at bit 60, whose carry leaves the word), so carries never reach the next bit of the same
// class and masking keeps exactly the XOR of the terms.
uint64_t bmul64(uint64_t x, uint64_t y) {
  constexpr uint64_t m0 = 0x1111111111111111, m1 = m0 << 1, m2 = m0 << 2, m3 = m0 << 3;
  uint64_t x0 = x & m0, x1 = x & m1, x2 = x & m2, x3 = x & m3;
  uint64_t y0 = y & m0, y1 = y & m1, y2 = y & m2, y3 = y & m3;
  uint64_t z0 = (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1);
  uint64_t z1 = (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2);
  uint64_t z2 = (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3);
  uint64_t z3 = (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0);
  return (z0 & m0) | (z1 & m1) | (z2 & m2) | (z3 & m3);
}

uint64_t rev64(uint64_t x) {
  x = ((x >> 1) & 0x5555555555555555) | ((x & 0x5555555555555555) << 1);
  x = ((x >> 2) & 0x3333333333333333) | ((x & 0x3333333333333333) << 2);
  x = ((x >> 4) & 0x0F0F0F0F0F0F0F0F) | ((x & 0x0F0F0F0F0F0F0F0F) << 4);
  x = ((x >> 8) & 0x00FF00FF00FF00FF) | ((x & 0x00FF00FF00FF00FF) << 8);
  x = ((x >> 16) & 0x0000FFFF0000FFFF) | ((x & 0x0000FFFF0000FFFF) << 16);
  return (x >> 32) | (x << 32);
}

// Full 64x64 -> 128 carry-less product: the high half is the low half of the bit-reversed
// operands' product, reversed back (the 127-bit product reverses as a whole).
U128 clmul64(uint64_t a, uint64_t b) {
  return {bmul64(a, b), rev64(bmul64(rev64(a), rev64(b))) >> 1};
}

// v * (x^63 + x^62 + x^57), the high word of POLYVAL's reduction constant.
U128 mulReductionConst(uint64_t v) {
  return {(v << 63) ^ (v << 62) ^ (v << 57), (v >> 1) ^ (v >> 2) ^ (v >> 7)};
}

// Montgomery reduction: (hi:lo) * x^-128 mod x^128 + x^127 + x^126 + x^121 + 1, clearing the
// low 128 bits one word at a time by adding multiples of the modulus.
U128 reduce(U128 lo, U128 hi) {
  U128 t = mulReductionConst(lo.lo);
  uint64_t a = lo.hi ^ t.lo, b = lo.lo ^ t.hi;
  U128 u = mulReductionConst(a);
  return {hi.lo ^ b ^ u.lo, hi.hi ^ a ^ u.hi};
}

// Unreduced 256-bit product, accumulated into (lo, hi).
void mulAccPortable(U128 a, U128 b, U128& lo, U128& hi) {
  U128 ll = clmul64(a.lo, b.lo), hh = clmul64(a.hi, b.hi);
  U128 m1 = clmul64(a.lo, b.hi), m2 = clmul64(a.hi, b.lo);
  uint64_t mlo = m1.lo ^ m2.lo, mhi = m1.hi ^ m2.hi;
  lo.lo ^= ll.lo;
  lo.hi ^= ll.hi ^ mlo;
  hi.lo ^= hh.lo ^ mhi;
  hi.hi ^= hh.hi;
}

U128 dotPortable(U128 a, U128 b) {
  U128 lo{0, 0}, hi{0, 0};
  mulAccPortable(a, b, lo, hi);
  return reduce(lo, hi);
}

// Absorbs n whole blocks into s; with `aggregate`, 8 at a time against H^8..H^1 (pow[i] is
// H^(8-i)).
U128 absorbPortable(const uint64_t (*pow)[2], bool aggregate, U128 s, const uint8_t* p, size_t n) {
  if (aggregate) {
    for (; n >= 8; n -= 8, p += 128) {
      U128 lo{0, 0}, hi{0, 0};
      for (size_t i = 0; i < 8; ++i) {
        U128 x = load128(p + 16 * i);
        if (i == 0) x.lo ^= s.lo, x.hi ^= s.hi;
        mulAccPortable(x, U128{pow[i][0], pow[i][1]}, lo, hi);
      }
      s = reduce(lo, hi);
    }
  }
  U128 h{pow[7][0], pow[7][1]};
  for (; n > 0; --n, p += 16) {
    U128 x = load128(p);
    s = dotPortable(U128{s.lo ^ x.lo, s.hi ^ x.hi}, h);
  }
  return s;
}

// ---- PCLMULQDQ ----
#ifdef ONIONSPLIT_CGO_X86
#define CGO_CLMUL __attribute__((target("pclmul,sse2")))

CGO_CLMUL __m128i toM128(U128 v) {
  return _mm_set_epi64x(static_cast<long long>(v.hi), static_cast<long long>(v.lo));
}

CGO_CLMUL U128 fromM128(__m128i v) {
  alignas(16) uint64_t w[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(w), v);
  return {w[0], w[1]};
}

// The same reduction as reduce(), on (hi:lo) in registers.
CGO_CLMUL __m128i reduceClmul(__m128i lo, __m128i hi) {
  const __m128i c = _mm_set_epi64x(static_cast<long long>(0xc200000000000000ULL), 0);
  __m128i t = _mm_xor_si128(_mm_shuffle_epi32(lo, 0x4e), _mm_clmulepi64_si128(lo, c, 0x10));
  __m128i u = _mm_xor_si128(_mm_shuffle_epi32(t, 0x4e), _mm_clmulepi64_si128(t, c, 0x10));
  return _mm_xor_si128(u, hi);
}

// Karatsuba: lo = a0*b0, hi = a1*b1, mid = (a0^a1)*(b0^b1), the three kept apart until the
// reduction (finish() turns mid into a0*b1 ^ a1*b0). `bk` is b's halves XORed (in its low word).
struct Acc {
  __m128i lo, mid, hi;
};

CGO_CLMUL __m128i halvesXored(__m128i b) {
  return _mm_xor_si128(b, _mm_shuffle_epi32(b, 0x4e));
}

CGO_CLMUL void mulAccClmul(__m128i a, __m128i b, __m128i bk, Acc& acc) {
  acc.lo = _mm_xor_si128(acc.lo, _mm_clmulepi64_si128(a, b, 0x00));
  acc.hi = _mm_xor_si128(acc.hi, _mm_clmulepi64_si128(a, b, 0x11));
  acc.mid = _mm_xor_si128(acc.mid, _mm_clmulepi64_si128(halvesXored(a), bk, 0x00));
}

CGO_CLMUL __m128i finish(const Acc& acc) {
  __m128i mid = _mm_xor_si128(acc.mid, _mm_xor_si128(acc.lo, acc.hi));
  __m128i lo = _mm_xor_si128(acc.lo, _mm_slli_si128(mid, 8));
  __m128i hi = _mm_xor_si128(acc.hi, _mm_srli_si128(mid, 8));
  return reduceClmul(lo, hi);
}

CGO_CLMUL __m128i loadBlock(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));  // little-endian host
}

CGO_CLMUL __m128i dotM(__m128i a, __m128i b) {
  const __m128i zero = _mm_setzero_si128();
  Acc acc{zero, zero, zero};
  mulAccClmul(a, b, halvesXored(b), acc);
  return finish(acc);
}

// One 16-byte store, so that the next 16-byte load of it is forwarded from the store.
CGO_CLMUL CgoBlock blockOf(__m128i v) {
  CgoBlock out;
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out.data()), v);
  return out;
}

// POLYVAL of one block with byte 15 of the result ANDed with `lastByteMask`, in registers.
CGO_CLMUL CgoBlock hashBlockClmul(const uint64_t (*pow)[2], const uint8_t* block,
                                  uint8_t lastByteMask) {
  const __m128i h = _mm_load_si128(reinterpret_cast<const __m128i*>(pow[7]));
  const __m128i m = _mm_insert_epi16(_mm_set1_epi8(-1),
                                     static_cast<int>(0xff | (unsigned{lastByteMask} << 8)), 7);
  return blockOf(_mm_and_si128(dotM(loadBlock(block), h), m));
}

CGO_CLMUL U128 absorbClmul(const uint64_t (*pow)[2], bool aggregate, U128 s0, const uint8_t* p,
                           size_t n) {
  __m128i s = toM128(s0);
  const __m128i zero = _mm_setzero_si128();
  if (aggregate && n >= 8) {
    __m128i hp[8], hk[8];
    for (size_t i = 0; i < 8; ++i) {
      hp[i] = _mm_load_si128(reinterpret_cast<const __m128i*>(pow[i]));
      hk[i] = halvesXored(hp[i]);
    }
    for (; n >= 8; n -= 8, p += 128) {
      Acc acc{zero, zero, zero};
      mulAccClmul(_mm_xor_si128(s, loadBlock(p)), hp[0], hk[0], acc);
      for (size_t i = 1; i < 8; ++i)
        mulAccClmul(loadBlock(p + 16 * i), hp[i], hk[i], acc);
      s = finish(acc);
    }
  }
  const __m128i h = _mm_load_si128(reinterpret_cast<const __m128i*>(pow[7]));
  for (; n > 0; --n, p += 16)
    s = dotM(_mm_xor_si128(s, loadBlock(p)), h);
  return fromM128(s);
}

// p[i] = H^(i+1) from p[0] = H, in registers (H^2; H^3 and H^4 from it; H^5..H^8 from H^4).
CGO_CLMUL void powersOf(__m128i (&p)[8]) {
  p[1] = dotM(p[0], p[0]);
  p[2] = dotM(p[1], p[0]);
  p[3] = dotM(p[1], p[1]);
  for (size_t i = 4; i < 8; ++i)
    p[i] = dotM(p[3], p[i - 4]);
}

// pow[0..6] (H^8..H^2) from pow[7] (H).
CGO_CLMUL void powersClmul(uint64_t (*pow)[2]) {
  __m128i p[8];
  p[0] = _mm_load_si128(reinterpret_cast<const __m128i*>(pow[7]));
  powersOf(p);
  for (size_t i = 1; i < 8; ++i)
    _mm_store_si128(reinterpret_cast<__m128i*>(pow[7 - i]), p[i]);
}

// ---- VPCLMULQDQ (AVX-512): the 8-block rounds as two 4-lane products ----
// GCC 12's AVX-512 headers pass _mm512_undefined_*() as the unused merge operand of unmasked
// intrinsics, which -O3 reports as (maybe-)uninitialized inside the headers; nothing here reads it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define CGO_VCLMUL __attribute__((target("vpclmulqdq,avx512f,avx512bw,avx2,pclmul,sse2")))

CGO_VCLMUL __m128i xorLanes(__m512i v) {
  __m256i a = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
  return _mm_xor_si128(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
}

CGO_VCLMUL __m512i halvesXored4(__m512i b) {
  return _mm512_xor_si512(b, _mm512_shuffle_epi32(b, _MM_PERM_BADC));
}

// The unreduced sum of eight blocks (x0: blocks 0-3, x1: 4-7) times H^8..H^1 (h0: H^8..H^5,
// h1: H^4..H^1; k0, k1 their halves XORed).
struct Powers4 {
  __m512i h0, h1, k0, k1;
};

CGO_VCLMUL Powers4 loadPowers4(const uint64_t (*pow)[2]) {
  __m512i h0 = _mm512_load_si512(pow[0]), h1 = _mm512_load_si512(pow[4]);
  return {h0, h1, halvesXored4(h0), halvesXored4(h1)};
}

CGO_VCLMUL Acc sum8(__m512i x0, __m512i x1, const Powers4& h) {
  __m512i lo = _mm512_xor_si512(_mm512_clmulepi64_epi128(x0, h.h0, 0x00),
                                _mm512_clmulepi64_epi128(x1, h.h1, 0x00));
  __m512i hi = _mm512_xor_si512(_mm512_clmulepi64_epi128(x0, h.h0, 0x11),
                                _mm512_clmulepi64_epi128(x1, h.h1, 0x11));
  __m512i mid = _mm512_xor_si512(_mm512_clmulepi64_epi128(halvesXored4(x0), h.k0, 0x00),
                                 _mm512_clmulepi64_epi128(halvesXored4(x1), h.k1, 0x00));
  return Acc{xorLanes(lo), xorLanes(mid), xorLanes(hi)};
}

CGO_VCLMUL Acc accXor(const Acc& a, const Acc& b) {
  return Acc{_mm_xor_si128(a.lo, b.lo), _mm_xor_si128(a.mid, b.mid), _mm_xor_si128(a.hi, b.hi)};
}

// s <- (s * P + acc) reduced, P = H^8 or H^16 for rounds of 8 or 16 blocks: only s's own product
// waits for the previous round, the blocks' products (acc) do not.
CGO_VCLMUL __m128i fold(__m128i s, Acc acc, __m128i p, __m128i pk) {
  mulAccClmul(s, p, pk, acc);
  return finish(acc);
}

CGO_VCLMUL U128 absorbVclmul(const uint64_t (*pow)[2], U128 s0, const uint8_t* p, size_t n) {
  __m128i s = toM128(s0);
  if (n >= 8) {
    const Powers4 h = loadPowers4(pow);
    const __m128i h8 = _mm_load_si128(reinterpret_cast<const __m128i*>(pow[0]));
    const __m128i k8 = halvesXored(h8);
    for (; n >= 8; n -= 8, p += 128)
      s = fold(s, sum8(_mm512_loadu_si512(p), _mm512_loadu_si512(p + 64), h), h8, k8);
  }
  const __m128i h = _mm_load_si128(reinterpret_cast<const __m128i*>(pow[7]));
  for (; n > 0; --n, p += 16)
    s = dotM(_mm_xor_si128(s, loadBlock(p)), h);
  return fromM128(s);
}

// POLYVAL of ET's tweak H | AD | X_R (32 blocks, the last two bytes zero) read in place: T's
// block i >= 1 starts at xr - 17 + 16 i, so register g (blocks 4g..4g+3) is the 64 bytes at
// xr - 17 + 64 g, with the bytes outside T (before X_R, after its 493 bytes) masked off and
// never read.
CGO_VCLMUL __m128i etTweakVclmul(const uint64_t (*pow)[2], const uint8_t* h16, uint8_t ad,
                                 const uint8_t* xr) {
  const Powers4 h = loadPowers4(pow), l = loadPowers4(pow + 8);  // H^16..H^9, H^8..H^1
  const uint8_t* base = xr - 17;
  __m512i x[8];
  x[0] = _mm512_maskz_loadu_epi8(~((__mmask64{1} << 17) - 1), base);
  x[0] = _mm512_mask_set1_epi8(x[0], __mmask64{1} << 16, static_cast<char>(ad));
  x[0] = _mm512_inserti32x4(x[0], loadBlock(h16), 0);
  for (int g = 1; g < 7; ++g)
    x[g] = _mm512_loadu_si512(base + 64 * g);
  x[7] = _mm512_maskz_loadu_epi8((__mmask64{1} << 62) - 1, base + 64 * 7);
  // Two rounds of 16 blocks (H^16..H^1): one product of the running sum on the chain, not three.
  const __m128i p16 = _mm_load_si128(reinterpret_cast<const __m128i*>(pow[0]));
  __m128i s = finish(accXor(sum8(x[0], x[1], h), sum8(x[2], x[3], l)));
  return fold(s, accXor(sum8(x[4], x[5], h), sum8(x[6], x[7], l)), p16, halvesXored(p16));
}

// H^16..H^2 from H (pow[15]), each quarter of the table written with one 64-byte store (the next
// cell's 64-byte loads of it are then forwarded from the store).
CGO_VCLMUL void powersVclmul(uint64_t (*pow)[2]) {
  __m128i p[16];
  p[0] = _mm_load_si128(reinterpret_cast<const __m128i*>(pow[15]));
  __m128i(&low)[8] = *reinterpret_cast<__m128i(*)[8]>(p);
  powersOf(low);
  for (size_t i = 8; i < 16; ++i)  // H^9..H^16 = H^8 times H^1..H^8
    p[i] = dotM(p[7], p[i - 8]);
  for (int quarter = 0; quarter < 4; ++quarter) {  // pow[j] = H^(16-j) = p[15-j]
    const __m128i* q = p + 12 - 4 * quarter;       // lanes 0..3 take q[3], q[2], q[1], q[0]
    __m512i v = _mm512_castsi128_si512(q[3]);
    v = _mm512_inserti32x4(v, q[2], 1);  // the lane must be a constant (clang)
    v = _mm512_inserti32x4(v, q[1], 2);
    v = _mm512_inserti32x4(v, q[0], 3);
    _mm512_store_si512(pow[4 * quarter], v);
  }
}
#endif

CgoBlock toBlock(U128 s) {
  CgoBlock out;
  storeLe64(out.data(), s.lo);
  storeLe64(out.data() + 8, s.hi);
  return out;
}

constexpr uint8_t kPrfIvMask = 0xC0;  // the PRF clears the IV's low 6 bits (byte 15 is last)

}  // namespace

// ---- Polyval ----

bool Polyval::clmulAvailable() {
#ifdef ONIONSPLIT_CGO_X86
  return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
#else
  return false;
#endif
}

bool Polyval::vclmulAvailable() {
#ifdef ONIONSPLIT_CGO_X86
  return clmulAvailable() && __builtin_cpu_supports("vpclmulqdq") &&
         __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx2");
#else
  return false;
#endif
}

Polyval::Impl Polyval::best() {
  return vclmulAvailable() ? Impl::kVclmul : clmulAvailable() ? Impl::kClmul : Impl::kPortable;
}

namespace {
Polyval::Impl usable(Polyval::Impl impl) {
  if (impl == Polyval::Impl::kVclmul && !Polyval::vclmulAvailable()) impl = Polyval::Impl::kClmul;
  if (impl == Polyval::Impl::kClmul && !Polyval::clmulAvailable()) impl = Polyval::Impl::kPortable;
  return impl;
}
}  // namespace

Polyval::Polyval(Impl impl) : impl_(usable(impl)) {}

bool Polyval::setKey(Bytes key, bool aggregate) {
  if (key.size() != kCgoBlockLen) return false;
  U128 h = load128(key.data());
  aggregate_ = aggregate;
  pow_[kPowers - 1][0] = h.lo;
  pow_[kPowers - 1][1] = h.hi;
#ifdef ONIONSPLIT_CGO_X86
  std::memcpy(pow_[kPowers - 1], key.data(), kCgoBlockLen);  // little-endian: one 16-byte store
#endif
  if (!aggregate) return true;
#ifdef ONIONSPLIT_CGO_X86
  if (impl_ != Impl::kPortable) {
    if (impl_ == Impl::kVclmul)
      powersVclmul(pow_);
    else
      powersClmul(round());
    return true;
  }
#endif
  // H^2 from H, H^3 and H^4 from H^2, H^5..H^8 from H^4: three dependent steps instead of seven.
  U128 p[kRound];
  p[0] = h;
  p[1] = dotPortable(h, h);
  p[2] = dotPortable(p[1], h);
  p[3] = dotPortable(p[1], p[1]);
  for (size_t i = 4; i < kRound; ++i)
    p[i] = dotPortable(p[3], p[i - 4]);
  for (size_t i = 1; i < kRound; ++i)
    pow_[kPowers - 1 - i][0] = p[i].lo, pow_[kPowers - 1 - i][1] = p[i].hi;
  OPENSSL_cleanse(p, sizeof(p));
  return true;
}

Polyval::~Polyval() {
  OPENSSL_cleanse(pow_, sizeof(pow_));
}

CgoBlock Polyval::hash(Bytes x) const {
  U128 s{0, 0};
  size_t full = x.size() / kCgoBlockLen, rest = x.size() % kCgoBlockLen;
  uint8_t last[kCgoBlockLen] = {};
  if (rest) std::memcpy(last, x.data() + full * kCgoBlockLen, rest);
#ifdef ONIONSPLIT_CGO_X86
  if (impl_ != Impl::kPortable) {
    s = impl_ == Impl::kVclmul && aggregate_ ? absorbVclmul(round(), s, x.data(), full)
                                             : absorbClmul(round(), aggregate_, s, x.data(), full);
    if (rest) s = absorbClmul(round(), false, s, last, 1);
  } else
#endif
  {
    s = absorbPortable(round(), aggregate_, s, x.data(), full);
    if (rest) s = absorbPortable(round(), false, s, last, 1);
  }
  return toBlock(s);
}

CgoBlock Polyval::hashBlock(const uint8_t* block, uint8_t lastByteMask) const {
#ifdef ONIONSPLIT_CGO_X86
  if (impl_ != Impl::kPortable) return hashBlockClmul(round(), block, lastByteMask);
#endif
  CgoBlock out = hash(Bytes(block, kCgoBlockLen));
  out[kCgoBlockLen - 1] &= lastByteMask;
  return out;
}

CgoBlock Polyval::hashEtTweak(const CgoBlock& h, uint8_t ad, const uint8_t* xr) const {
#ifdef ONIONSPLIT_CGO_X86
  if (impl_ == Impl::kVclmul && aggregate_) return blockOf(etTweakVclmul(pow_, h.data(), ad, xr));
#endif
  // T = H | AD | X_R is 510 bytes; POLYVAL pads it with two zero bytes to 32 blocks.
  uint8_t t[32 * kCgoBlockLen];
  std::memcpy(t, h.data(), kCgoBlockLen);
  t[kCgoBlockLen] = ad;
  std::memcpy(t + kCgoBlockLen + 1, xr, kCgoRightLen);
  t[sizeof(t) - 2] = t[sizeof(t) - 1] = 0;
  return hash(Bytes(t, sizeof(t)));
}

// ---- ET ----

std::optional<CgoEt> CgoEt::create(Bytes key, CgoRole role) {
  if (key.size() != kCgoEtKeyLen) return std::nullopt;
  CgoEt et(role);
  if (!et.rekey(key.data())) return std::nullopt;
  return et;
}

bool CgoEt::rekey(const uint8_t* key32) {
  return aes_.setKey(key32, dir()) && ku_.setKey(Bytes(key32 + 16, 16), true);
}

CgoBlock CgoEt::mask(const CgoBlock& h, uint8_t ad, const uint8_t* xr) const {
  return ku_.hashEtTweak(h, ad, xr);
}

bool CgoEt::apply(const CgoBlock& h, uint8_t ad, const uint8_t* xr, uint8_t* block) {
  CgoBlock m = mask(h, ad, xr);
  bool ok = aes_.applyMasked(m.data(), block);
  OPENSSL_cleanse(m.data(), m.size());
  return ok;
}

// ---- PRF ----

std::optional<CgoPrf> CgoPrf::create(Bytes key) {
  if (key.size() != kCgoPrfKeyLen) return std::nullopt;
  CgoPrf prf;
  if (!prf.rekey(key.data())) return std::nullopt;
  return prf;
}

bool CgoPrf::rekey(const uint8_t* key32) {
  return aes_.setKey(key32, Aes128::Dir::kEncrypt) && b_.setKey(Bytes(key32 + 16, 16), false);
}

bool CgoPrf::xorT0(const uint8_t* tweak16, uint8_t* data) {
  CgoBlock iv = b_.hashBlock(tweak16, kPrfIvMask);
  return aes_.xorCounterStream(iv.data(), 0, data, kCgoRightLen);
}

static_assert(kCgoPrfT1Offset * kCgoBlockLen == (kCgoRightLen + 15) / 16 * 16,
              "PRF(S, T, 1) starts where the blocks of PRF(S, T, 0)'s 493 bytes end");

bool CgoPrf::xorT0AndGenT1(const uint8_t* tweak16, uint8_t* data, uint8_t* next80) {
  CgoBlock iv = b_.hashBlock(tweak16, kPrfIvMask);
  return aes_.xorCounterStreamThenKeystream(iv.data(), data, kCgoRightLen, next80, kCgoSeedLen);
}

bool CgoPrf::genT1(const uint8_t* tweak16, MutBytes out) {
  if (out.size() > kCgoPrfT1MaxLen) return false;
  CgoBlock iv = b_.hashBlock(tweak16, kPrfIvMask);
  return aes_.counterStream(iv.data(), kCgoPrfT1Offset, out.data(), out.size());  // next keys
}

// ---- UIV+ ----

std::optional<CgoUiv> CgoUiv::create(Bytes key, CgoRole role) {
  if (key.size() != kCgoUivKeyLen) return std::nullopt;
  auto j = CgoEt::create(key.first(kCgoEtKeyLen), role);
  auto s = CgoPrf::create(key.subspan(kCgoEtKeyLen, kCgoPrfKeyLen));
  if (!j || !s) return std::nullopt;
  CgoUiv uiv(std::move(*j), std::move(*s), role);
  std::memcpy(uiv.key_.data(), key.data(), kCgoUivKeyLen);
  return uiv;
}

CgoUiv::~CgoUiv() {
  OPENSSL_cleanse(key_.data(), key_.size());
}

bool CgoUiv::encrypt(const CgoBlock& h, uint8_t ad, RelayPayload cell) {
  return encryptTag(h, ad, cell) && finishEncrypt(cell, nullptr);
}

bool CgoUiv::encryptTag(const CgoBlock& h, uint8_t ad, RelayPayload cell) {
  if (role_ != CgoRole::kRelay) return false;
  return j_.apply(h, ad, cell.data() + kCgoTagLen, cell.data());
}

bool CgoUiv::finishEncrypt(RelayPayload cell, CgoBlock* nonce) {
  if (role_ != CgoRole::kRelay) return false;
  uint8_t* xl = cell.data();
  uint8_t* xr = cell.data() + kCgoTagLen;
  if (!nonce) return s_.xorT0(xl, xr);
  uint8_t fresh[kCgoSeedLen];
  if (!s_.xorT0AndGenT1(xl, xr, fresh)) {
    OPENSSL_cleanse(fresh, sizeof(fresh));
    return false;
  }
  return install(fresh, *nonce);
}

bool CgoUiv::decrypt(const CgoBlock& h, uint8_t ad, RelayPayload cell) {
  if (role_ != CgoRole::kClient) return false;
  uint8_t* yl = cell.data();
  uint8_t* yr = cell.data() + kCgoTagLen;
  return s_.xorT0(yl, yr) && j_.apply(h, ad, yr, yl);
}

bool CgoUiv::update(CgoBlock& nonce) {
  uint8_t fresh[kCgoSeedLen];
  if (!s_.genT1(nonce.data(), MutBytes(fresh, sizeof(fresh)))) {
    OPENSSL_cleanse(fresh, sizeof(fresh));
    return false;
  }
  return install(fresh, nonce);
}

bool CgoUiv::install(uint8_t* fresh, CgoBlock& nonce) {
  // J = KB | KU, S = K | B: both block cipher keys at once, then the two POLYVAL keys.
  const uint8_t* s = fresh + kCgoEtKeyLen;
  bool ok = Aes128::setKeys(j_.aes_, fresh, j_.dir(), s_.aes_, s, Aes128::Dir::kEncrypt) &&
            j_.ku_.setKey(Bytes(fresh + 16, 16), true) && s_.b_.setKey(Bytes(s + 16, 16), false);
  if (ok) {
    std::memcpy(key_.data(), fresh, kCgoUivKeyLen);
    std::memcpy(nonce.data(), fresh + kCgoUivKeyLen, kCgoBlockLen);
  }
  OPENSSL_cleanse(fresh, kCgoSeedLen);
  return ok;
}

// ---- one direction ----

namespace {

CgoBlock tagOf(RelayPayload cell) {
  CgoBlock t;
  std::memcpy(t.data(), cell.data(), kCgoTagLen);
  return t;
}

}  // namespace

std::optional<CgoDirection> CgoDirection::create(Bytes seed, CgoRole role, const CgoBlock& tprime) {
  if (seed.size() != kCgoSeedLen) return std::nullopt;
  auto uiv = CgoUiv::create(seed.first(kCgoUivKeyLen), role);
  if (!uiv) return std::nullopt;
  CgoBlock n;
  std::memcpy(n.data(), seed.data() + kCgoUivKeyLen, kCgoBlockLen);
  return CgoDirection(std::move(*uiv), n, tprime);
}

CgoDirection::Received CgoDirection::relayForward(uint8_t ad, RelayPayload cell, CgoTag* tag) {
  CgoBlock arrived = tagOf(cell);
  if (!uiv_.encryptTag(tprime_, ad, cell)) return Received::kError;
  tprime_ = tagOf(cell);
  // Recognized: UPDATE's N is the tag X_R's stream is keyed on, so both come from one pass.
  bool recognized = constantTimeEqual(Bytes(tprime_), Bytes(nonce_));
  if (!uiv_.finishEncrypt(cell, recognized ? &nonce_ : nullptr)) return Received::kError;
  if (!recognized) return Received::kNotRecognized;
  if (tag) *tag = arrived;
  return Received::kRecognized;
}

bool CgoDirection::relayBackward(uint8_t ad, RelayPayload cell) {
  if (!uiv_.encrypt(tprime_, ad, cell)) return false;
  tprime_ = tagOf(cell);
  return true;
}

bool CgoDirection::relayOriginate(uint8_t ad, RelayPayload cell, CgoTag* tag) {
  if (uiv_.role() != CgoRole::kRelay) return false;
  std::memcpy(cell.data(), nonce_.data(), kCgoTagLen);
  if (!uiv_.encryptTag(tprime_, ad, cell)) return false;
  tprime_ = tagOf(cell);
  nonce_ = tprime_;  // UPDATE's N, and X_R's PRF tweak: one pass of the stream for both
  if (!uiv_.finishEncrypt(cell, &nonce_)) return false;
  if (tag) *tag = tprime_;
  return true;
}

bool CgoDirection::clientForward(uint8_t ad, RelayPayload cell) {
  CgoBlock next = tagOf(cell);
  if (!uiv_.decrypt(tprime_, ad, cell)) return false;
  tprime_ = next;
  return true;
}

bool CgoDirection::clientOriginate(uint8_t ad, RelayPayload cell, CgoTag* tag) {
  if (uiv_.role() != CgoRole::kClient) return false;
  std::memcpy(cell.data(), nonce_.data(), kCgoTagLen);
  if (!clientForward(ad, cell) || !uiv_.update(nonce_)) return false;
  if (tag) *tag = tagOf(cell);
  return true;
}

CgoDirection::Received CgoDirection::clientBackward(uint8_t ad, RelayPayload cell, CgoTag* tag) {
  CgoBlock arrived = tagOf(cell);
  if (!uiv_.decrypt(tprime_, ad, cell)) return Received::kError;
  tprime_ = arrived;
  if (!constantTimeEqual(Bytes(cell.data(), kCgoTagLen), Bytes(nonce_)))
    return Received::kNotRecognized;
  nonce_ = arrived;
  if (!uiv_.update(nonce_)) return Received::kError;
  if (tag) *tag = arrived;
  return Received::kRecognized;
}

// ---- relay and client ----

std::optional<CgoRelayCrypto> CgoRelayCrypto::fromSeed(Bytes keyMaterial) {
  if (keyMaterial.size() != kCgoKeyMaterialLen) return std::nullopt;
  auto o = CgoDirection::create(keyMaterial.first(kCgoSeedLen), CgoRole::kRelay);
  auto i = CgoDirection::create(keyMaterial.subspan(kCgoSeedLen, kCgoSeedLen), CgoRole::kRelay);
  if (!o || !i) return std::nullopt;
  return CgoRelayCrypto(std::move(*o), std::move(*i));
}

CgoRelayCrypto::Outbound CgoRelayCrypto::processOutbound(uint8_t cmd, RelayPayload cell,
                                                         CgoTag* tag) {
  return out_.relayForward(cmd, cell, tag);
}

bool CgoRelayCrypto::originateInbound(uint8_t cmd, RelayPayload cell, CgoTag* tag) {
  return in_.relayOriginate(cmd, cell, tag);
}

bool CgoRelayCrypto::relayInbound(uint8_t cmd, RelayPayload cell) {
  return in_.relayBackward(cmd, cell);
}

bool CgoClientCircuit::addHop(Bytes keyMaterial) {
  if (keyMaterial.size() != kCgoKeyMaterialLen) return false;
  auto o = CgoDirection::create(keyMaterial.first(kCgoSeedLen), CgoRole::kClient);
  auto i = CgoDirection::create(keyMaterial.subspan(kCgoSeedLen, kCgoSeedLen), CgoRole::kClient);
  if (!o || !i) return false;
  return addHop(std::move(*o), std::move(*i));
}

bool CgoClientCircuit::addHop(CgoDirection outbound, CgoDirection inbound) {
  if (outbound.uiv().role() != CgoRole::kClient || inbound.uiv().role() != CgoRole::kClient)
    return false;
  out_.push_back(std::move(outbound));
  in_.push_back(std::move(inbound));
  return true;
}

bool CgoClientCircuit::originateOutbound(size_t target, uint8_t cmd, RelayPayload cell,
                                         CgoTag* tag) {
  if (target >= out_.size()) return false;
  if (!out_[target].clientOriginate(cmd, cell, tag)) return false;
  for (size_t i = target; i-- > 0;)
    if (!out_[i].clientForward(cmd, cell)) return false;
  return true;
}

std::optional<size_t> CgoClientCircuit::receiveInbound(uint8_t cmd, RelayPayload cell,
                                                       CgoTag* tag) {
  for (size_t i = 0; i < in_.size(); ++i) {
    switch (in_[i].clientBackward(cmd, cell, tag)) {
      case CgoDirection::Received::kRecognized:
        return i;
      case CgoDirection::Received::kError:
        return std::nullopt;
      case CgoDirection::Received::kNotRecognized:
        break;
    }
  }
  return std::nullopt;
}

}  // namespace onionsplit::crypto
