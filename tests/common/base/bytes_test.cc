// Tests for common/base/bytes.h: the sticky reader and writer every codec uses.
#include "common/base/bytes.h"

#include <gtest/gtest.h>

#include "common/base/hex.h"

namespace onionsplit {
namespace {

TEST(Reader, ReadsBigEndianFields) {
  const uint8_t in[] = {1, 0x02, 0x03, 0, 0, 1, 0, 9, 9};
  Reader r{Bytes(in)};
  EXPECT_EQ(r.u8("a"), 1);
  EXPECT_EQ(r.u16("b"), 0x0203);
  EXPECT_EQ(r.u32("c"), 0x100u);
  EXPECT_EQ(r.bytes(2, "d").size(), 2u);
  r.expectEnd("msg");
  EXPECT_FALSE(r.failed());
}

TEST(Reader, TruncationIsStickyAndNamesTheField) {
  const uint8_t in[] = {1, 2, 3};
  Reader r{Bytes(in)};
  EXPECT_EQ(r.u16("first"), 0x0102);
  EXPECT_EQ(r.u32("second"), 0u);
  EXPECT_EQ(r.u8("third"), 0);  // would fit, but the reader already failed
  ASSERT_TRUE(r.failed());
  EXPECT_EQ(r.error(), (ParseError{ParseErrc::kTruncated, "second"}));
}

TEST(Reader, TrailingBytesAreAnError) {
  const uint8_t in[] = {1, 2};
  Reader r{Bytes(in)};
  r.u8("x");
  r.expectEnd("body");
  ASSERT_TRUE(r.failed());
  EXPECT_EQ(r.error().code, ParseErrc::kTrailingBytes);
}

TEST(Reader, HugeLengthDoesNotWrap) {
  const uint8_t in[] = {1, 2, 3};
  Reader r{Bytes(in)};
  EXPECT_TRUE(r.bytes(SIZE_MAX, "blob").empty());
  EXPECT_TRUE(r.failed());
}

TEST(Writer, OverflowIsStickyAndWritesNothingPastTheEnd) {
  uint8_t out[5] = {0xee, 0xee, 0xee, 0xee, 0xee};
  Writer w{MutBytes(out, 4)};
  w.u16(0x0102);
  w.u32(0x03040506);
  w.u8(7);
  EXPECT_TRUE(w.overflowed());
  EXPECT_EQ(w.size(), 2u);
  EXPECT_EQ(out[4], 0xee);
}

TEST(Writer, PatchFillsReservedLength) {
  uint8_t out[8];
  Writer w{MutBytes(out)};
  size_t at = w.reserve(2);
  w.u8(0xaa);
  w.patchU16(at, 1);
  EXPECT_EQ(toHex(w.written()), "0001aa");
}

TEST(Hex, RoundTripAndRejectsJunk) {
  auto v = fromHex("00 ff A0\n1b");
  ASSERT_TRUE(v);
  EXPECT_EQ(toHex(*v), "00ffa01b");
  EXPECT_FALSE(fromHex("abc"));
  EXPECT_FALSE(fromHex("zz"));
}

TEST(ConstantTimeEqual, ComparesContentAndSize) {
  const uint8_t a[] = {1, 2, 3}, b[] = {1, 2, 4};
  EXPECT_TRUE(constantTimeEqual(Bytes(a), Bytes(a)));
  EXPECT_FALSE(constantTimeEqual(Bytes(a), Bytes(b)));
  EXPECT_FALSE(constantTimeEqual(Bytes(a), Bytes(a, 2)));
}

}  // namespace
}  // namespace onionsplit
