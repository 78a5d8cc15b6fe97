// Tests for common/control/auth.h against real vectors: HashedControlPassword values printed by
// Debian's `tor --hash-password` (0.4.9.11), and SAFECOOKIE hashes computed with Python's hmac.
#include "common/control/auth.h"

#include <gtest/gtest.h>

#include "common/base/hex.h"

namespace onionsplit::control {
namespace {

// `tor --hash-password onionsplit-test` and `tor --hash-password 'pass word "x"'`.
constexpr const char* kTorHash1 = "16:5D8816B349AB98E260174D7E3CC75A693E2C26CFC93670004C45053B5C";
constexpr const char* kTorHash2 = "16:1C5838ED18518F1560DA4C9D48414867996B4C6951A02F5D49C174F1FF";

TEST(ControlAuth, VerifiesPasswordsHashedByCTor) {
  auto h1 = decodeHashedPassword(kTorHash1);
  ASSERT_TRUE(h1);
  EXPECT_EQ(h1->specifier[8], 0x60);  // C tor's count byte: 65536 bytes hashed
  EXPECT_TRUE(passwordMatches("onionsplit-test", *h1));
  EXPECT_FALSE(passwordMatches("onionsplit-tesT", *h1));
  EXPECT_FALSE(passwordMatches("", *h1));
  auto h2 = decodeHashedPassword(kTorHash2);
  ASSERT_TRUE(h2);
  EXPECT_TRUE(passwordMatches("pass word \"x\"", *h2));
}

TEST(ControlAuth, HashesAsCTorDoes) {
  auto h = decodeHashedPassword(kTorHash1);
  ASSERT_TRUE(h);
  EXPECT_EQ(hashPassword("onionsplit-test", h->specifier), kTorHash1);
}

TEST(ControlAuth, RefusesMalformedHashes) {
  EXPECT_FALSE(decodeHashedPassword(""));
  EXPECT_FALSE(decodeHashedPassword("16:"));
  EXPECT_FALSE(
      decodeHashedPassword("15:5D8816B349AB98E260174D7E3CC75A693E2C26CFC93670004C45053B5C"));
  EXPECT_FALSE(decodeHashedPassword("16:5D8816B349AB98E260174D7E3CC75A693E2C26CFC93670004C45053B"));
  EXPECT_FALSE(
      decodeHashedPassword("16:ZZ8816B349AB98E260174D7E3CC75A693E2C26CFC93670004C45053B5C"));
}

TEST(ControlAuth, SafeCookieHashesMatchAnIndependentHmac) {
  Cookie cookie;
  for (size_t i = 0; i < cookie.size(); ++i)
    cookie[i] = static_cast<uint8_t>(i);
  std::string client(32, '\xaa'), server(32, '\x55');
  EXPECT_EQ(toHex(safeCookieServerHash(cookie, client, server), true),
            "5F7CB5569957C99373E329258545940F029AF175DA225F4A3125EEBF30C24BBA");
  EXPECT_EQ(toHex(safeCookieClientHash(cookie, client, server), true),
            "9F99F2C4B75C91123CA5C6C6E3F76A9EF7FBD9471053CBE34454A4269CC39F7C");
}

}  // namespace
}  // namespace onionsplit::control
