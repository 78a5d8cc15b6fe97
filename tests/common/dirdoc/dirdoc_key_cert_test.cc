// Tests for common/dirdoc/key_cert: the three authority certificates of a real private network
// (tests/data/dirdoc/cached-certs), each check C tor makes, and damaged or hostile certificates.
#include "common/dirdoc/key_cert.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/common/dirdoc/dirdoc_data.h"

namespace onionsplit::dirdoc {
namespace {

using testdata::certsText;

// The first certificate of cached-certs, as its own text.
std::string firstCertText() {
  std::string all = certsText();
  size_t second = all.find("dir-key-certificate-version", 1);
  return all.substr(0, second);
}

// Offset of the first base64 line of the object after `keyword` in `text`.
size_t objectBodyOffset(const std::string& text, std::string_view keyword) {
  size_t k = text.find(std::string(keyword) + "\n");
  size_t begin = text.find("-----\n", k);
  return begin + 6 + 10;  // ten characters into the first base64 line
}

TEST(AuthorityCert, RealCertificatesParseAndCheck) {
  std::string text = certsText();
  auto certs = parseAuthorityCerts(text);
  ASSERT_TRUE(certs) << certs.error().toString();
  ASSERT_EQ(certs->size(), 3u);
  auto auths = testdata::authorities();
  ASSERT_EQ(auths.size(), 3u);
  for (const AuthorityCert& c : *certs) {
    EXPECT_TRUE(std::find(auths.begin(), auths.end(), c.fingerprint) != auths.end());
    EXPECT_GE(c.identityKey.bits(), 2048u);
    EXPECT_LT(c.publishedUnix, c.expiresUnix);
    EXPECT_EQ(c.signingKeyDigest, c.signingKey.fingerprint());
    auto ok = checkAuthorityCert(c, c.publishedUnix + 60);
    EXPECT_TRUE(ok) << ok.error().toString();
  }
}

TEST(AuthorityCert, BlankLinesBetweenCertificates) {
  std::string one = firstCertText();
  auto two = parseAuthorityCerts("\n" + one + "\n \n" + one);
  ASSERT_TRUE(two) << two.error().toString();
  EXPECT_EQ(two->size(), 2u);
}

TEST(AuthorityCert, SingleCertificateParses) {
  auto one = parseAuthorityCert(firstCertText());
  ASSERT_TRUE(one) << one.error().toString();
  auto all = parseAuthorityCerts(certsText());
  ASSERT_TRUE(all);
  EXPECT_EQ(one->fingerprint, (*all)[0].fingerprint);
  EXPECT_EQ(one->signedDigest, (*all)[0].signedDigest);
  // Two certificates are not one.
  EXPECT_FALSE(parseAuthorityCert(certsText()));
}

TEST(AuthorityCert, BrokenCrossCertIsRefused) {
  std::string text = firstCertText();
  std::string bad = testdata::flipChar(text, objectBodyOffset(text, "dir-key-crosscert"));
  auto c = parseAuthorityCert(bad);
  ASSERT_TRUE(c) << c.error().toString();
  auto r = checkAuthorityCert(*c, c->publishedUnix + 60);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kBadCertificate);
  EXPECT_NE(r.error().detail.find("crosscert"), std::string::npos);
}

TEST(AuthorityCert, BrokenCertificationIsRefused) {
  std::string text = firstCertText();
  std::string bad = testdata::flipChar(text, objectBodyOffset(text, "dir-key-certification"));
  auto c = parseAuthorityCert(bad);
  ASSERT_TRUE(c) << c.error().toString();
  auto r = checkAuthorityCert(*c, c->publishedUnix + 60);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kBadCertificate);
}

TEST(AuthorityCert, ChangedSignedFieldBreaksTheCertification) {
  std::string text = firstCertText();
  size_t pos = text.find("dir-key-expires ") + std::string_view("dir-key-expires ").size();
  std::string bad = testdata::flipChar(text, pos + 3);  // a digit of the year
  auto c = parseAuthorityCert(bad);
  ASSERT_TRUE(c) << c.error().toString();
  auto r = checkAuthorityCert(*c, c->publishedUnix + 60);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kBadCertificate);
}

TEST(AuthorityCert, WrongFingerprintIsRefused) {
  std::string text = firstCertText();
  size_t pos = text.find("\nfingerprint ") + std::string_view("\nfingerprint ").size();
  std::string bad = text;
  bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
  auto c = parseAuthorityCert(bad);
  ASSERT_TRUE(c) << c.error().toString();
  auto r = checkAuthorityCert(*c, c->publishedUnix + 60);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kBadCertificate);
}

TEST(AuthorityCert, TimeValidity) {
  auto c = parseAuthorityCert(firstCertText());
  ASSERT_TRUE(c);
  EXPECT_TRUE(checkAuthorityCert(*c, c->expiresUnix));
  auto late = checkAuthorityCert(*c, c->expiresUnix + 1);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, DirErrc::kExpired);
  EXPECT_TRUE(checkAuthorityCert(*c, c->publishedUnix - kCertPublishedSkewSeconds));
  auto early = checkAuthorityCert(*c, c->publishedUnix - kCertPublishedSkewSeconds - 1);
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, DirErrc::kNotYetValid);
}

TEST(AuthorityCert, MalformedCertificatesNameTheirLine) {
  std::string text = firstCertText();
  // Version other than 3.
  std::string v4 = text;
  v4.replace(text.find(" 3\n"), 3, " 4\n");
  auto r = parseAuthorityCert(v4);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kMalformed);
  EXPECT_EQ(r.error().line, 1u);
  // A required item missing.
  size_t fp = text.find("fingerprint ");
  std::string noFp = text.substr(0, fp) + text.substr(text.find('\n', fp) + 1);
  r = parseAuthorityCert(noFp);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kMalformed);
  // A repeated item.
  size_t pub = text.find("dir-key-published");
  std::string pubLine = text.substr(pub, text.find('\n', pub) - pub + 1);
  std::string twice = text.substr(0, pub) + pubLine + text.substr(pub);
  r = parseAuthorityCert(twice);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().line, 5u);  // the second dir-key-published
  // Not base64 inside an object.
  std::string notB64 = text;
  notB64[objectBodyOffset(text, "dir-signing-key")] = '*';
  EXPECT_FALSE(parseAuthorityCert(notB64));
}

TEST(AuthorityCert, EveryTruncationFailsCleanly) {
  std::string text = firstCertText();
  for (size_t n = 0; n < text.size(); ++n) {
    auto r = parseAuthorityCert(std::string_view(text).substr(0, n));
    EXPECT_FALSE(r) << "prefix of " << n << " bytes parsed";
  }
}

TEST(AuthorityCert, SizeBounds) {
  std::string big(kMaxCertBytes + 1, 'a');
  auto r = parseAuthorityCert(big);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, DirErrc::kTooLarge);
  std::string many;
  std::string one = firstCertText();
  while (many.size() <= kMaxCertsBytes)
    many += one;
  auto m = parseAuthorityCerts(many);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code, DirErrc::kTooLarge);
}

}  // namespace
}  // namespace onionsplit::dirdoc
