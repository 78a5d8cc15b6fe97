// Tests for streamd/dns/dns_cache.h: TTL clipping and fuzz, expiry, bounds, hostname rules.
#include "streamd/dns/dns_cache.h"

#include <gtest/gtest.h>

namespace onionsplit::streamd {
namespace {

DnsAnswer v4(uint8_t last) {
  DnsAnswer a;
  a.ipv4.push_back({10, 0, 0, last});
  return a;
}

TEST(DnsTtl, ClipAndFuzzAsCtor) {
  EXPECT_EQ(clipDnsTtl(0), 300u);
  EXPECT_EQ(clipDnsTtl(299), 300u);
  EXPECT_EQ(clipDnsTtl(300), 3600u);
  EXPECT_EQ(clipDnsTtl(86400), 3600u);
  EXPECT_EQ(fuzzDnsTtl(10, 0), 300u - 240u);
  EXPECT_EQ(fuzzDnsTtl(10, 480), 300u + 240u);
  EXPECT_EQ(fuzzDnsTtl(10, 481), 300u - 240u) << "uniform over [-240, 240]";
  for (uint32_t r = 0; r < 2000; r += 7) {
    uint32_t t = fuzzDnsTtl(7200, r);
    EXPECT_GE(t, 3600u - 240u);
    EXPECT_LE(t, 3600u + 240u);
  }
}

TEST(DnsCache, ExpiresAndIsCaseInsensitive) {
  DnsCache c;
  c.put("Example.COM", v4(1), 300, 1000);
  ASSERT_NE(c.get("example.com", 1299), nullptr);
  EXPECT_EQ(c.get("example.com", 1299)->ipv4[0][3], 1);
  EXPECT_EQ(c.get("example.com", 1300), nullptr);
  EXPECT_EQ(c.size(), 0u) << "an expired entry is dropped when seen";
}

TEST(DnsCache, FailuresAreCachedToo) {
  DnsCache c;
  DnsAnswer nx;
  nx.error = DnsError::kNonTransient;
  c.put("nx.example", nx, 300, 0);
  ASSERT_NE(c.get("nx.example", 10), nullptr);
  EXPECT_EQ(c.get("nx.example", 10)->error, DnsError::kNonTransient);
}

TEST(DnsCache, BoundedEvictsSoonestToExpire) {
  DnsCache c(3);
  c.put("a", v4(1), 100, 0);
  c.put("b", v4(2), 50, 0);
  c.put("c", v4(3), 200, 0);
  c.put("d", v4(4), 300, 0);
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.get("b", 1), nullptr) << "b expires first";
  EXPECT_NE(c.get("a", 1), nullptr);
  c.put("a", v4(9), 500, 1);  // replacing does not grow
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.get("a", 2)->ipv4[0][3], 9);
  DnsCache none(0);
  none.put("x", v4(1), 10, 0);
  EXPECT_EQ(none.size(), 0u);
}

TEST(Hostnames, ExitResolvesOnlyOrdinaryNames) {
  EXPECT_TRUE(isResolvableHostname("www.example.com"));
  EXPECT_TRUE(isResolvableHostname("www.example.com."));
  EXPECT_TRUE(isResolvableHostname("a_b-c.example"));
  EXPECT_FALSE(isResolvableHostname(""));
  EXPECT_FALSE(isResolvableHostname("."));
  EXPECT_FALSE(isResolvableHostname("a..b"));
  EXPECT_FALSE(isResolvableHostname("x.onion"));
  EXPECT_FALSE(isResolvableHostname("X.ONION"));
  EXPECT_FALSE(isResolvableHostname("www.relay.exit"));
  EXPECT_TRUE(isResolvableHostname("notonion"));
  EXPECT_FALSE(isResolvableHostname("bad name"));
  EXPECT_FALSE(isResolvableHostname(std::string(256, 'a')));
}

// ServerDNSAllowNonRFC953Hostnames 1: C tor then resolves names with characters RFC 953 does not
// allow; the DNS bounds, .onion and .exit, and bytes no nameserver takes stay refused.
TEST(Hostnames, NonRfc953NamesOnlyWhenAllowed) {
  for (std::string_view n : {"user@example.com", "a:b.example", "-lead.example", "x+y.example"}) {
    EXPECT_FALSE(isResolvableHostname(n)) << n;
    EXPECT_TRUE(isResolvableHostname(n, true)) << n;
  }
  EXPECT_TRUE(isResolvableHostname("www.example.com", true));
  for (std::string_view n : {"x@y.onion", "a.b.exit", "bad name", "a..b", "tab\t.example", ""}) {
    EXPECT_FALSE(isResolvableHostname(n, true)) << n;
  }
  EXPECT_FALSE(isResolvableHostname(std::string(64, '@') + ".example", true));
  EXPECT_FALSE(isResolvableHostname("caf\xc3\xa9.example", true));
}

// TROVE-2026-035: what a hostname may be (C tor's string_is_valid_nonrfc_hostname, plus the DNS
// bounds of 255 characters and 63 per label).
TEST(Hostnames, Trove2026_035_ValidHostnames) {
  EXPECT_TRUE(isValidHostname("www.example.com"));
  EXPECT_TRUE(isValidHostname("www.example.com."));
  EXPECT_TRUE(isValidHostname("a_b-c.example"));
  EXPECT_TRUE(isValidHostname("x.onion"));  // well-formed; isResolvableHostname refuses it
  EXPECT_TRUE(isValidHostname(std::string(63, 'a') + ".com"));
  EXPECT_FALSE(isValidHostname(std::string(64, 'a') + ".com"));
  std::string l63(63, 'a');
  std::string n255 = l63 + "." + l63 + "." + l63 + "." + std::string(63, 'b');
  ASSERT_EQ(n255.size(), 255u);
  EXPECT_TRUE(isValidHostname(n255));
  EXPECT_FALSE(isValidHostname(n255 + "."));  // 256 with the dot
  EXPECT_FALSE(isValidHostname(""));
  EXPECT_FALSE(isValidHostname("."));
  EXPECT_FALSE(isValidHostname(".."));
  EXPECT_FALSE(isValidHostname("a..b"));
  EXPECT_FALSE(isValidHostname(".a"));
  EXPECT_FALSE(isValidHostname("a.b.."));
  EXPECT_FALSE(isValidHostname("-a.com"));
  EXPECT_FALSE(isValidHostname("a._b.com"));
  for (int c = 0; c < 256; ++c) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';  // '.': "a.b.com"
    std::string name = std::string("a") + static_cast<char>(c) + "b.com";
    EXPECT_EQ(isValidHostname(name), ok) << c;
    EXPECT_EQ(isResolvableHostname(name), ok) << c;
  }
  EXPECT_FALSE(isValidHostname(std::string("a\0b.com", 7)));
  EXPECT_FALSE(isResolvableHostname("x.onion."));
  EXPECT_FALSE(isResolvableHostname("-a.com"));
}

}  // namespace
}  // namespace onionsplit::streamd
