// common/crypto/ed25519_field.h: the arithmetic under ed25519_ext.h: GF(2^255-19), points of the
// twisted Edwards curve -x^2 + y^2 = 1 + d x^2 y^2, and scalars mod the group order L.
//
// Not on the cell path: descriptor publishing uses it once per ntor onion key rotation to sign the
// ntor-onion-key-crosscert, and channeld's public-key conversion uses the field part. OpenSSL has
// the same arithmetic inside but does not export it, and its EVP interface only signs from a
// 32-byte seed, which a key derived from a curve25519 secret does not have.
//
// Everything that can touch a secret (field operations, scalar multiplication, scalar
// arithmetic) runs in time independent of the values: no branch and no memory index depends on
// them. Inversion branches only on the bits of the public exponent p-2.
#pragma once

#include <array>
#include <cstdint>

namespace onionsplit::crypto::ed25519field {

// A field element in radix 2^51: value = sum v[i] * 2^(51*i). Every function returns limbs below
// 2^52 (not necessarily the canonical value); feToBytes gives the canonical encoding.
struct Fe {
  uint64_t v[5];
};

// Little-endian 32 bytes; bit 255 is ignored, and values in [p, 2^255) are accepted and reduced
// (RFC 7748 §5 for u-coordinates, RFC 8032 §5.1.3 for the y of a point).
Fe feFromBytes(const uint8_t in[32]);
// The canonical little-endian encoding (value in [0, p)), bit 255 clear.
void feToBytes(uint8_t out[32], const Fe& a);

Fe feZero();
Fe feOne();
Fe feAdd(const Fe& a, const Fe& b);
Fe feSub(const Fe& a, const Fe& b);
Fe feMul(const Fe& a, const Fe& b);
Fe feSquare(const Fe& a);
// a^(p-2), i.e. 1/a for a != 0, and 0 for a == 0.
Fe feInvert(const Fe& a);
// r = mask ? b : r, where mask is all ones or all zeros.
void feCmov(Fe& r, const Fe& b, uint64_t mask);

// A point in extended coordinates (X:Y:Z:T) with x = X/Z, y = Y/Z, x*y = T/Z (Hisil et al. 2008).
struct Point {
  Fe x, y, z, t;
};

Point pointIdentity();
Point pointBase();  // B of RFC 8032 §5.1 (y = 4/5, x even)
// The unified addition of RFC 8032 §5.1.4; complete on this curve, so it also doubles and adds
// the identity, with no special case (and so no branch) for either.
Point pointAdd(const Point& p, const Point& q);
Point pointDouble(const Point& p);
// RFC 8032 §5.1.2: y little-endian with the low bit of x in bit 255.
void pointEncode(uint8_t out[32], const Point& p);

// s*B for a 256-bit little-endian scalar s (any value, not only reduced or clamped ones), in
// constant time: 4-bit fixed windows over a table of 0..15 * B read by masked selection.
Point scalarMultBase(const uint8_t s[32]);

// Scalars mod L = 2^252 + 27742317777372353535851937790883648493, little-endian 32 bytes.
// out = in mod L for a 64-byte little-endian value (a SHA-512 output in RFC 8032 §5.1.6).
void scalarReduce64(uint8_t out[32], const uint8_t in[64]);
// out = (a * b + c) mod L for any 256-bit a and c and b < 2^255 (so that a*b + c < 2^512).
void scalarMulAdd(uint8_t out[32], const uint8_t a[32], const uint8_t b[32], const uint8_t c[32]);

}  // namespace onionsplit::crypto::ed25519field
