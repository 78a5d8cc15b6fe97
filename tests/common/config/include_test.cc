// Tests for common/config/include.h: C tor's %include over an in-memory file system.
#include "common/config/include.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "common/config/config.h"

namespace onionsplit::config {
namespace {

class MapFiles final : public FileSource {
 public:
  std::map<std::string, std::string> files;
  std::set<std::string> dirs;

  Kind kind(const std::string& p) const override {
    if (files.count(p)) return Kind::kFile;
    if (dirs.count(p) || dirs.count(p + "/")) return Kind::kDirectory;
    return Kind::kMissing;
  }
  Expected<std::string, std::string> readFile(const std::string& p) const override {
    auto it = files.find(p);
    if (it == files.end()) return fail(std::string("No such file or directory"));
    return it->second;
  }
  Expected<std::vector<std::string>, std::string> listDirectory(
      const std::string& p) const override {
    std::string dir = p.empty() || p.back() == '/' ? p : p + "/";
    if (!dirs.count(dir.substr(0, dir.size() - 1))) return fail(std::string("not a directory"));
    std::vector<std::string> out;
    auto direct = [&](const std::string& path) {
      if (path.rfind(dir, 0) != 0) return;
      std::string rest = path.substr(dir.size());
      if (!rest.empty() && rest.find('/') == std::string::npos) out.push_back(rest);
    };
    for (const auto& [path, text] : files)
      direct(path);
    for (const auto& d : dirs)
      direct(d);
    std::reverse(out.begin(), out.end());  // the reader must sort, not rely on this order
    return out;
  }
};

std::vector<std::string> keys(const std::vector<TorrcEntry>& es) {
  std::vector<std::string> out;
  for (const auto& e : es)
    out.push_back(e.key + "=" + e.value + "@" + e.file + ":" + std::to_string(e.line));
  return out;
}

TEST(Include, AFileIsReadWhereTheLineIs) {
  MapFiles fs;
  fs.files["/t/torrc"] = "Nickname a\n%include /t/extra\nContactInfo c\n";
  fs.files["/t/extra"] = "# comment\nExitRelay 1\n";
  auto r = readTorrcFile("/t/torrc", fs);
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(keys(*r), (std::vector<std::string>{"Nickname=a@/t/torrc:1", "ExitRelay=1@/t/extra:2",
                                                "ContactInfo=c@/t/torrc:3"}));
}

TEST(Include, ADirectoryInLexicalOrderWithoutDotFilesOrSubdirectories) {
  MapFiles fs;
  fs.files["/t/torrc"] = "%include /t/d\n";
  fs.dirs = {"/t/d", "/t/d/sub"};
  fs.files["/t/d/b.conf"] = "ContactInfo b\n";
  fs.files["/t/d/a.conf"] = "ContactInfo a\n";
  fs.files["/t/d/.hidden"] = "ContactInfo hidden\n";
  fs.files["/t/d/sub/c.conf"] = "ContactInfo c\n";
  auto r = readTorrcFile("/t/torrc", fs);
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(keys(*r), (std::vector<std::string>{"ContactInfo=a@/t/d/a.conf:1",
                                                "ContactInfo=b@/t/d/b.conf:1"}));
}

TEST(Include, WildcardsInTheLastComponent) {
  MapFiles fs;
  fs.dirs = {"/t"};
  fs.files["/t/torrc"] = "%include /t/*.conf\n";
  fs.files["/t/2.conf"] = "ContactInfo 2\n";
  fs.files["/t/1.conf"] = "ContactInfo 1\n";
  fs.files["/t/.x.conf"] = "ContactInfo dot\n";
  fs.files["/t/other"] = "ContactInfo other\n";
  auto targets = includeTargets("/t/*.conf", fs);
  ASSERT_TRUE(targets) << targets.error();
  EXPECT_EQ(*targets, (std::vector<std::string>{"/t/1.conf", "/t/2.conf"}));
  EXPECT_FALSE(includeTargets("/t*/x", fs));
  EXPECT_TRUE(wildcardMatch("a?c", "abc"));
  EXPECT_FALSE(wildcardMatch("a?c", "ac"));
  EXPECT_TRUE(wildcardMatch("*", "x"));
  EXPECT_FALSE(wildcardMatch("*", ".x"));
  EXPECT_TRUE(wildcardMatch(".*", ".x"));
  EXPECT_TRUE(wildcardMatch("a\\*", "a*"));
  EXPECT_FALSE(wildcardMatch("a\\*", "ab"));
  EXPECT_TRUE(wildcardMatch("*b*c", "abxbc"));
}

TEST(Include, ErrorsNameTheIncludedFileAndLine) {
  MapFiles fs;
  fs.files["/t/torrc"] = "Nickname a\n%include /t/extra\n%include /t/missing\n";
  fs.files["/t/extra"] = "ContactInfo ok\nContactInfo \"open\n";
  auto r = readTorrcFile("/t/torrc", fs);
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 2u);
  EXPECT_EQ(describe(r.error()[0]).rfind("/t/extra:2: unterminated", 0), 0u);
  EXPECT_EQ(describe(r.error()[1]).rfind("/t/torrc:3: %include: no such file", 0), 0u);
}

TEST(Include, NestingIsLimitedAndLoopsEnd) {
  MapFiles fs;
  fs.files["/t/loop"] = "%include /t/loop\n%include /t/loop\n";
  auto r = readTorrcFile("/t/loop", fs);
  ASSERT_FALSE(r);
  bool depth = false;
  for (const auto& e : r.error())
    depth |= e.message.find("nested %includes") != std::string::npos;
  EXPECT_TRUE(depth);
  // A chain exactly kMaxIncludeDepth deep is fine.
  for (int i = 0; i < kMaxIncludeDepth; ++i)
    fs.files["/c/" + std::to_string(i)] = "%include /c/" + std::to_string(i + 1) + "\n";
  fs.files["/c/" + std::to_string(kMaxIncludeDepth)] = "Nickname deep\n";
  auto deep = readTorrcFile("/c/0", fs);
  ASSERT_TRUE(deep) << describe(deep.error());
  ASSERT_EQ(deep->size(), 1u);
  fs.files["/c/" + std::to_string(kMaxIncludeDepth)] = "%include /c/end\n";
  fs.files["/c/end"] = "Nickname deeper\n";
  EXPECT_FALSE(readTorrcFile("/c/0", fs));
}

TEST(Include, IncludedOptionsAreBuiltWithTheirLines) {
  MapFiles fs;
  fs.files["/t/torrc"] = "%include /t/extra\n";
  fs.files["/t/extra"] = "Nickname ok\nAssumeReachable perhaps\n";
  auto entries = readTorrcFile("/t/torrc", fs);
  ASSERT_TRUE(entries);
  auto built = buildConfig(*entries);
  ASSERT_FALSE(built);
  EXPECT_EQ(describe(built.error()[0]).rfind("/t/extra:2: AssumeReachable", 0), 0u);
}

}  // namespace
}  // namespace onionsplit::config
