// Tests for common/base/hex.h: hex and base64 encodings.
#include "common/base/hex.h"

#include <gtest/gtest.h>

#include <string_view>

namespace onionsplit {
namespace {

TEST(Hex, RoundTripAndRefusals) {
  const uint8_t raw[] = {0x00, 0xab, 0xff};
  EXPECT_EQ(toHex(Bytes(raw, 3)), "00abff");
  EXPECT_EQ(toHex(Bytes(raw, 3), true), "00ABFF");
  auto back = fromHex("00 AB ff");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->size(), 3u);
  EXPECT_FALSE(fromHex("abc"));
  EXPECT_FALSE(fromHex("zz"));
}

TEST(Base64, Rfc4648Vectors) {
  auto b = [](std::string_view s) {
    return Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  EXPECT_EQ(toBase64(b("")), "");
  EXPECT_EQ(toBase64(b("f")), "Zg==");
  EXPECT_EQ(toBase64(b("fo")), "Zm8=");
  EXPECT_EQ(toBase64(b("foo")), "Zm9v");
  EXPECT_EQ(toBase64(b("foob")), "Zm9vYg==");
  EXPECT_EQ(toBase64(b("fooba")), "Zm9vYmE=");
  EXPECT_EQ(toBase64(b("foobar")), "Zm9vYmFy");
  EXPECT_EQ(toBase64NoPad(b("foob")), "Zm9vYg");
  const uint8_t high[] = {0xff, 0xfe, 0xfd};
  EXPECT_EQ(toBase64(Bytes(high, 3)), "//79");
}

}  // namespace
}  // namespace onionsplit
