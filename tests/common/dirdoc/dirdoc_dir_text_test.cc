// Tests for common/dirdoc/dir_text: the dir-spec §1.2 item reader, base64 and times.
#include "common/dirdoc/dir_text.h"

#include <gtest/gtest.h>

namespace onionsplit::dirdoc {
namespace {

TEST(DirText, ItemsWithObjects) {
  std::string text =
      "alpha 1  two\tthree\n"
      "opt beta\n"
      "gamma\n-----BEGIN SIG NATURE-----\nAAEC\nAw==\n-----END SIG NATURE-----\n";
  ItemReader r(text);
  auto a = r.next();
  ASSERT_TRUE(a && *a);
  EXPECT_EQ((*a)->keyword, "alpha");
  ASSERT_EQ((*a)->args.size(), 3u);
  EXPECT_EQ((*a)->args[2], "three");
  EXPECT_EQ((*a)->line, 1u);
  auto b = r.next();
  ASSERT_TRUE(b && *b);
  EXPECT_EQ((*b)->keyword, "beta");
  auto g = r.next();
  ASSERT_TRUE(g && *g);
  EXPECT_EQ((*g)->objectTag, "SIG NATURE");
  EXPECT_EQ((*g)->object, (std::vector<uint8_t>{0, 1, 2, 3}));
  EXPECT_EQ((*g)->line, 3u);
  EXPECT_EQ((*g)->keywordLineEnd - (*g)->begin, 6u);
  EXPECT_EQ((*g)->end, text.size());
  auto end = r.next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
}

TEST(DirText, Errors) {
  struct Case {
    std::string text;
    uint32_t line;
  };
  for (const Case& c : std::vector<Case>{
           {"no newline", 1},
           {"ok\nbad*keyword\n", 2},
           {" leading\n", 1},
           {"k\n-----BEGIN X-----\nAAAA\n", 4},
           {"k\n-----BEGIN X-----\nAAAA\n-----END Y-----\n", 4},
           {"k\n-----BEGIN X-----\nA*AA\n-----END X-----\n", 4},
           {std::string("k\0x\n", 4), 1},
       }) {
    ItemReader r(c.text);
    DirResult<std::optional<Item>> it = std::optional<Item>{};
    do {
      it = r.next();
    } while (it && *it);
    ASSERT_FALSE(it) << c.text;
    EXPECT_EQ(it.error().line, c.line) << c.text;
  }
  std::string longLine(kMaxLineBytes + 1, 'a');
  longLine += "\n";
  ItemReader r(longLine);
  auto it = r.next();
  ASSERT_FALSE(it);
  EXPECT_EQ(it.error().code, DirErrc::kTooLarge);
  std::string bigObject =
      "k\n-----BEGIN X-----\n" + std::string(kMaxObjectBytes * 2, 'A') + "\n-----END X-----\n";
  ItemReader r2(bigObject);
  auto big = r2.next();
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, DirErrc::kTooLarge);
}

TEST(DirText, Base64) {
  EXPECT_EQ(decodeBase64(""), std::vector<uint8_t>{});
  EXPECT_EQ(decodeBase64("Zm9vYg=="), (std::vector<uint8_t>{'f', 'o', 'o', 'b'}));
  EXPECT_EQ(decodeBase64("Zm9vYg"), (std::vector<uint8_t>{'f', 'o', 'o', 'b'}));
  EXPECT_FALSE(decodeBase64("Zm9vYh"));  // non-zero trailing bits
  EXPECT_FALSE(decodeBase64("Z"));
  EXPECT_FALSE(decodeBase64("Zm 9v"));
}

TEST(DirText, Times) {
  EXPECT_EQ(parseIsoTime("1970-01-01", "00:00:00"), 0);
  EXPECT_EQ(parseIsoTime("2000-03-01", "12:34:56"), 951914096);
  EXPECT_EQ(parseIsoTime("2024-02-29", "23:59:59"), 1709251199);
  EXPECT_FALSE(parseIsoTime("2023-02-29", "00:00:00"));
  EXPECT_FALSE(parseIsoTime("2023-13-01", "00:00:00"));
  EXPECT_FALSE(parseIsoTime("2023-01-01", "24:00:00"));
  EXPECT_FALSE(parseIsoTime("2023-1-01", "00:00:00"));
  EXPECT_FALSE(parseIsoTime("1969-12-31", "23:59:59"));
}

TEST(DirText, Numbers) {
  EXPECT_EQ(parseInt("-2147483648", INT32_MIN, INT32_MAX), INT32_MIN);
  EXPECT_FALSE(parseInt("2147483648", INT32_MIN, INT32_MAX));
  EXPECT_FALSE(parseInt("", 0, 1));
  EXPECT_FALSE(parseInt("-", 0, 1));
  EXPECT_FALSE(parseInt("1x", 0, 9));
  EXPECT_FALSE(parseInt("99999999999999999999", 0, INT64_MAX));
  EXPECT_TRUE(parseHexDigest("BC07B2713E5113378A90CE268158EE3649CFE5B6"));
  EXPECT_FALSE(parseHexDigest("BC07B2713E5113378A90CE268158EE3649CFE5B"));
  EXPECT_FALSE(parseHexDigest("XC07B2713E5113378A90CE268158EE3649CFE5B6"));
}

}  // namespace
}  // namespace onionsplit::dirdoc
