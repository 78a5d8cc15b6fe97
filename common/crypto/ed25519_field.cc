// common/crypto/ed25519_field.cc: GF(2^255-19), Edwards points and scalars mod L for
// ed25519_ext.cc (the ntor-onion-key-crosscert signer). See ed25519_field.h for the contract; the
// comments here say why each step is safe.
#include "common/crypto/ed25519_field.h"

#include <cstring>

namespace onionsplit::crypto::ed25519field {
namespace {

using u128 = unsigned __int128;

constexpr uint64_t kMask51 = (uint64_t{1} << 51) - 1;

// 2*d and the base point, as radix-2^51 limbs of the canonical values (d = -121665/121666).
constexpr Fe kD2 = {
    {0x69b9426b2f159, 0x35050762add7a, 0x3cf44c0038052, 0x6738cc7407977, 0x2406d9dc56dff}};
constexpr Fe kBaseX = {
    {0x62d608f25d51a, 0x412a4b4f6592a, 0x75b7171a4b31d, 0x1ff60527118fe, 0x216936d3cd6e5}};
constexpr Fe kBaseY = {
    {0x6666666666658, 0x4cccccccccccc, 0x1999999999999, 0x3333333333333, 0x6666666666666}};

// L in 64-bit little-endian limbs.
constexpr uint64_t kL[4] = {0x5812631a5cf5d3ed, 0x14def9dea2f79cd6, 0, 0x1000000000000000};

uint64_t load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

void store64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// Brings every limb below 2^51 except limb 0, which may exceed it by at most 19 * 2^13: the carry
// out of limb 4 is worth 2^255 = 19 (mod p).
Fe carry(Fe a) {
  uint64_t c;
  c = a.v[0] >> 51;
  a.v[0] &= kMask51;
  a.v[1] += c;
  c = a.v[1] >> 51;
  a.v[1] &= kMask51;
  a.v[2] += c;
  c = a.v[2] >> 51;
  a.v[2] &= kMask51;
  a.v[3] += c;
  c = a.v[3] >> 51;
  a.v[3] &= kMask51;
  a.v[4] += c;
  c = a.v[4] >> 51;
  a.v[4] &= kMask51;
  a.v[0] += 19 * c;
  return a;
}

}  // namespace

Fe feFromBytes(const uint8_t in[32]) {
  uint64_t w0 = load64(in), w1 = load64(in + 8), w2 = load64(in + 16), w3 = load64(in + 24);
  Fe r;
  r.v[0] = w0 & kMask51;
  r.v[1] = ((w0 >> 51) | (w1 << 13)) & kMask51;
  r.v[2] = ((w1 >> 38) | (w2 << 26)) & kMask51;
  r.v[3] = ((w2 >> 25) | (w3 << 39)) & kMask51;
  r.v[4] = (w3 >> 12) & kMask51;  // drops bit 255
  return r;
}

void feToBytes(uint8_t out[32], const Fe& a) {
  // After two carries the value h is below 2^255 + 19, hence below 2p, so h mod p is h or h - p.
  Fe h = carry(carry(a));
  // q = floor((h + 19) / 2^255) is 1 exactly when h >= p; the carry chain computes it exactly.
  uint64_t q = (h.v[0] + 19) >> 51;
  q = (h.v[1] + q) >> 51;
  q = (h.v[2] + q) >> 51;
  q = (h.v[3] + q) >> 51;
  q = (h.v[4] + q) >> 51;
  // h - q*p = h + 19q - q*2^255: add 19q and drop bit 255.
  h.v[0] += 19 * q;
  uint64_t c = h.v[0] >> 51;
  h.v[0] &= kMask51;
  h.v[1] += c;
  c = h.v[1] >> 51;
  h.v[1] &= kMask51;
  h.v[2] += c;
  c = h.v[2] >> 51;
  h.v[2] &= kMask51;
  h.v[3] += c;
  c = h.v[3] >> 51;
  h.v[3] &= kMask51;
  h.v[4] += c;
  h.v[4] &= kMask51;
  store64(out, h.v[0] | (h.v[1] << 51));
  store64(out + 8, (h.v[1] >> 13) | (h.v[2] << 38));
  store64(out + 16, (h.v[2] >> 26) | (h.v[3] << 25));
  store64(out + 24, (h.v[3] >> 39) | (h.v[4] << 12));
}

Fe feZero() {
  return Fe{{0, 0, 0, 0, 0}};
}

Fe feOne() {
  return Fe{{1, 0, 0, 0, 0}};
}

Fe feAdd(const Fe& a, const Fe& b) {
  Fe r;
  for (int i = 0; i < 5; ++i)
    r.v[i] = a.v[i] + b.v[i];
  return carry(r);
}

Fe feSub(const Fe& a, const Fe& b) {
  // Adding 4p (limbs 2^53 - 76, 2^53 - 4, ...) keeps every limb non-negative for b's limbs below
  // 2^52, which every function here guarantees.
  constexpr uint64_t k4p0 = (uint64_t{1} << 53) - 76;
  constexpr uint64_t k4pi = (uint64_t{1} << 53) - 4;
  Fe r;
  r.v[0] = a.v[0] + k4p0 - b.v[0];
  for (int i = 1; i < 5; ++i)
    r.v[i] = a.v[i] + k4pi - b.v[i];
  return carry(r);
}

Fe feMul(const Fe& a, const Fe& b) {
  // Limbs are below 2^52, so b*19 < 2^57, each product < 2^109 and each column sum < 2^112.
  const uint64_t b1 = b.v[1] * 19, b2 = b.v[2] * 19, b3 = b.v[3] * 19, b4 = b.v[4] * 19;
  auto m = [](uint64_t x, uint64_t y) { return static_cast<u128>(x) * y; };
  u128 r0 = m(a.v[0], b.v[0]) + m(a.v[1], b4) + m(a.v[2], b3) + m(a.v[3], b2) + m(a.v[4], b1);
  u128 r1 = m(a.v[0], b.v[1]) + m(a.v[1], b.v[0]) + m(a.v[2], b4) + m(a.v[3], b3) + m(a.v[4], b2);
  u128 r2 =
      m(a.v[0], b.v[2]) + m(a.v[1], b.v[1]) + m(a.v[2], b.v[0]) + m(a.v[3], b4) + m(a.v[4], b3);
  u128 r3 =
      m(a.v[0], b.v[3]) + m(a.v[1], b.v[2]) + m(a.v[2], b.v[1]) + m(a.v[3], b.v[0]) + m(a.v[4], b4);
  u128 r4 = m(a.v[0], b.v[4]) + m(a.v[1], b.v[3]) + m(a.v[2], b.v[2]) + m(a.v[3], b.v[1]) +
            m(a.v[4], b.v[0]);
  Fe r;
  r1 += static_cast<uint64_t>(r0 >> 51);
  r.v[0] = static_cast<uint64_t>(r0) & kMask51;
  r2 += static_cast<uint64_t>(r1 >> 51);
  r.v[1] = static_cast<uint64_t>(r1) & kMask51;
  r3 += static_cast<uint64_t>(r2 >> 51);
  r.v[2] = static_cast<uint64_t>(r2) & kMask51;
  r4 += static_cast<uint64_t>(r3 >> 51);
  r.v[3] = static_cast<uint64_t>(r3) & kMask51;
  // r4 < 2^113, so its carry is below 2^62 and times 19 it still fits once added to r.v[0] as u128.
  u128 top = (r4 >> 51) * 19 + (static_cast<uint64_t>(r0) & kMask51);
  r.v[4] = static_cast<uint64_t>(r4) & kMask51;
  r.v[0] = static_cast<uint64_t>(top) & kMask51;
  r.v[1] += static_cast<uint64_t>(top >> 51);
  return carry(r);
}

Fe feSquare(const Fe& a) {
  return feMul(a, a);
}

Fe feInvert(const Fe& a) {
  // Fermat: a^(p-2). The exponent is public, so branching on its bits is fine. p-2 = 2^255 - 21 =
  // (2^250 - 1) * 32 + 11: bits 254..5 are all ones and bits 4..0 are 01011.
  Fe r = feOne();
  for (int bit = 254; bit >= 0; --bit) {
    r = feSquare(r);
    bool set = bit >= 5 || ((0x0bU >> bit) & 1U) != 0;
    if (set) r = feMul(r, a);
  }
  return r;
}

void feCmov(Fe& r, const Fe& b, uint64_t mask) {
  for (int i = 0; i < 5; ++i)
    r.v[i] ^= mask & (r.v[i] ^ b.v[i]);
}

Point pointIdentity() {
  return Point{feZero(), feOne(), feOne(), feZero()};
}

Point pointBase() {
  return Point{kBaseX, kBaseY, feOne(), feMul(kBaseX, kBaseY)};
}

Point pointAdd(const Point& p, const Point& q) {
  Fe a = feMul(feSub(p.y, p.x), feSub(q.y, q.x));
  Fe b = feMul(feAdd(p.y, p.x), feAdd(q.y, q.x));
  Fe c = feMul(feMul(p.t, q.t), kD2);
  Fe zz = feMul(p.z, q.z);
  Fe d = feAdd(zz, zz);
  Fe e = feSub(b, a), f = feSub(d, c), g = feAdd(d, c), h = feAdd(b, a);
  return Point{feMul(e, f), feMul(g, h), feMul(f, g), feMul(e, h)};
}

Point pointDouble(const Point& p) {
  // RFC 8032 §5.1.4 doubling (a = -1); does not read T.
  Fe a = feSquare(p.x);
  Fe b = feSquare(p.y);
  Fe zz = feSquare(p.z);
  Fe c = feAdd(zz, zz);
  Fe h = feAdd(a, b);
  Fe e = feSub(h, feSquare(feAdd(p.x, p.y)));
  Fe g = feSub(a, b);
  Fe f = feAdd(c, g);
  return Point{feMul(e, f), feMul(g, h), feMul(f, g), feMul(e, h)};
}

void pointEncode(uint8_t out[32], const Point& p) {
  Fe zinv = feInvert(p.z);
  uint8_t xb[32];
  feToBytes(xb, feMul(p.x, zinv));
  feToBytes(out, feMul(p.y, zinv));
  out[31] = static_cast<uint8_t>(out[31] | ((xb[0] & 1) << 7));
}

Point scalarMultBase(const uint8_t s[32]) {
  Point table[16];
  table[0] = pointIdentity();
  table[1] = pointBase();
  for (int j = 2; j < 16; ++j)
    table[j] = pointAdd(table[j - 1], table[1]);

  Point acc = pointIdentity();
  for (int i = 63; i >= 0; --i) {
    if (i != 63) {
      for (int k = 0; k < 4; ++k)
        acc = pointDouble(acc);
    }
    const uint64_t nibble = (s[i / 2] >> (4 * (i & 1))) & 15U;
    // Read every entry and keep the one that matches, so the memory access pattern is the same
    // whatever the nibble is. (x - 1) >> 63 is 1 only for x == 0 (x < 16 here).
    Point sel = pointIdentity();
    for (uint64_t j = 0; j < 16; ++j) {
      const uint64_t mask = 0 - (((j ^ nibble) - 1) >> 63);
      feCmov(sel.x, table[j].x, mask);
      feCmov(sel.y, table[j].y, mask);
      feCmov(sel.z, table[j].z, mask);
      feCmov(sel.t, table[j].t, mask);
    }
    acc = pointAdd(acc, sel);
  }
  return acc;
}

namespace {

// r = value mod L for a little-endian 512-bit value, by binary long division: shift in one bit at a
// time and subtract L when the remainder reaches it. The subtraction is always computed and kept
// by mask, so neither timing nor memory access depends on the value. 512 cheap steps are fine for
// a signature per onion key rotation.
void reduceLimbs(uint64_t out[4], const uint64_t x[8]) {
  uint64_t r[4] = {0, 0, 0, 0};
  for (int bit = 511; bit >= 0; --bit) {
    const uint64_t in = (x[bit / 64] >> (bit % 64)) & 1;
    // r < L < 2^253 before the shift, so 2r + 1 < 2^254 and nothing leaves limb 3.
    r[3] = (r[3] << 1) | (r[2] >> 63);
    r[2] = (r[2] << 1) | (r[1] >> 63);
    r[1] = (r[1] << 1) | (r[0] >> 63);
    r[0] = (r[0] << 1) | in;
    uint64_t t[4];
    uint64_t borrow = 0;
    for (int i = 0; i < 4; ++i) {
      const u128 d = static_cast<u128>(r[i]) - kL[i] - borrow;
      t[i] = static_cast<uint64_t>(d);
      borrow = static_cast<uint64_t>(d >> 64) & 1;
    }
    const uint64_t keepT = borrow - 1;  // all ones when r >= L
    for (int i = 0; i < 4; ++i)
      r[i] = (t[i] & keepT) | (r[i] & ~keepT);
  }
  for (int i = 0; i < 4; ++i)
    out[i] = r[i];
}

}  // namespace

void scalarReduce64(uint8_t out[32], const uint8_t in[64]) {
  uint64_t x[8];
  for (int i = 0; i < 8; ++i)
    x[i] = load64(in + 8 * i);
  uint64_t r[4];
  reduceLimbs(r, x);
  for (int i = 0; i < 4; ++i)
    store64(out + 8 * i, r[i]);
}

void scalarMulAdd(uint8_t out[32], const uint8_t a[32], const uint8_t b[32], const uint8_t c[32]) {
  uint64_t al[4], bl[4];
  for (int i = 0; i < 4; ++i) {
    al[i] = load64(a + 8 * i);
    bl[i] = load64(b + 8 * i);
  }
  uint64_t prod[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) {
    uint64_t carryOut = 0;
    for (int j = 0; j < 4; ++j) {
      const u128 t = static_cast<u128>(al[i]) * bl[j] + prod[i + j] + carryOut;
      prod[i + j] = static_cast<uint64_t>(t);
      carryOut = static_cast<uint64_t>(t >> 64);
    }
    prod[i + 4] = carryOut;
  }
  uint64_t carryOut = 0;
  for (int i = 0; i < 8; ++i) {
    const u128 t = static_cast<u128>(prod[i]) + (i < 4 ? load64(c + 8 * i) : 0) + carryOut;
    prod[i] = static_cast<uint64_t>(t);
    carryOut = static_cast<uint64_t>(t >> 64);
  }
  uint64_t r[4];
  reduceLimbs(r, prod);
  for (int i = 0; i < 4; ++i)
    store64(out + 8 * i, r[i]);
  // The product holds secret material (r + k*a of a signature).
  std::memset(prod, 0, sizeof(prod));
}

}  // namespace onionsplit::crypto::ed25519field
