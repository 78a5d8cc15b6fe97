// Tests for common/control/protocol.h: framing with its caps, QuotedString and keyword arguments,
// reply formatting with dot-encoded data.
#include "common/control/protocol.h"

#include <gtest/gtest.h>

namespace onionsplit::control {
namespace {

TEST(ControlProtocol, SplitsLinesWithCrlfOrLf) {
  CommandReader r;
  ASSERT_TRUE(r.feed("GETINFO version\r\nQUIT\nPROTO"));
  auto a = r.next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->keyword, "GETINFO");
  EXPECT_EQ(a->args, "version");
  auto b = r.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->keyword, "QUIT");
  EXPECT_EQ(b->args, "");
  EXPECT_FALSE(r.next());
  ASSERT_TRUE(r.feed("COLINFO 1\r\n"));
  auto c = r.next();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->keyword, "PROTOCOLINFO");
  EXPECT_EQ(c->args, "1");
}

TEST(ControlProtocol, RefusesALineOverTheCap) {
  CommandReader r;
  std::string longLine(kMaxLineBytes + 1, 'A');
  EXPECT_FALSE(r.feed(longLine));
  EXPECT_TRUE(r.failed());
  EXPECT_FALSE(r.next());
  EXPECT_FALSE(r.feed("QUIT\r\n"));
}

TEST(ControlProtocol, ManyShortLinesAreNotOneLongLine) {
  CommandReader r;
  std::string many;
  for (int i = 0; i < 2000; ++i)
    many += "GETINFO version\r\n";
  ASSERT_TRUE(r.feed(many));
  int n = 0;
  while (r.next())
    ++n;
  EXPECT_EQ(n, 2000);
}

TEST(ControlProtocol, PlusCommandCarriesDotDecodedData) {
  CommandReader r;
  ASSERT_TRUE(r.feed("+LOADCONF\r\nNickname a\r\n..hidden\r\n.\r\nQUIT\r\n"));
  auto c = r.next();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->keyword, "LOADCONF");
  ASSERT_TRUE(c->data);
  EXPECT_EQ(*c->data, "Nickname a\n.hidden");
  EXPECT_EQ(r.next()->keyword, "QUIT");
}

TEST(ControlProtocol, ParsesQuotedAndKeywordArguments) {
  auto a = parseArgs("SAFECOOKIE \"a \\\"b\\\" \\\\ \\n\\101\" key=value k2=\"x y\"");
  ASSERT_TRUE(a);
  ASSERT_EQ(a->size(), 4u);
  EXPECT_EQ((*a)[0].value, "SAFECOOKIE");
  EXPECT_EQ((*a)[1].value, "a \"b\" \\ \nA");
  EXPECT_TRUE((*a)[1].quoted);
  EXPECT_EQ((*a)[2].key, "key");
  EXPECT_EQ((*a)[2].value, "value");
  EXPECT_EQ((*a)[3].key, "k2");
  EXPECT_EQ((*a)[3].value, "x y");
}

TEST(ControlProtocol, RefusesBrokenQuotedStrings) {
  EXPECT_FALSE(parseArgs("\"unterminated"));
  EXPECT_FALSE(parseArgs("\"bad \\q escape\""));
  EXPECT_FALSE(parseArgs("\"x\"y"));
  EXPECT_FALSE(parseArgs("a\"b\""));
  EXPECT_FALSE(parseArgs("\"\\777\""));
}

TEST(ControlProtocol, QuoteRoundTrips) {
  std::string s = "a\"b\\c\nd\te";
  size_t used = 0;
  auto back = unquote(quote(s), used);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
  EXPECT_EQ(used, quote(s).size());
}

TEST(ControlProtocol, FormatsRepliesAndDotEncodesData) {
  Reply r(250);
  r.keyValue("version", "0.4.9.11");
  r.keyValue("exit-policy/full", "accept *:80\n.reject *:*");
  EXPECT_EQ(r.finish("OK"),
            "250-version=0.4.9.11\r\n"
            "250+exit-policy/full=\r\naccept *:80\r\n..reject *:*\r\n.\r\n"
            "250 OK\r\n");
  EXPECT_EQ(endReply(514, "Authentication required."), "514 Authentication required.\r\n");
}

}  // namespace
}  // namespace onionsplit::control
