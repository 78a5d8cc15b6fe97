// `onionsplit --verify-config` as an operator runs it: every error of the file (and of the files it
// includes) in one run, each with its file and line, and the exit status.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

struct VerifyRun {
  int status = -1;
  std::string output;  // stdout and stderr
};

VerifyRun verify(const std::string& torrc, const std::string& more = "") {
  std::string cmd = std::string(ONIONSPLIT_BIN_DIR) + "/onionsplit --verify-config -f " + torrc +
                    " " + more + " 2>&1";
  VerifyRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    r.output.append(buf.data(), n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/onionsplit-verify-XXXXXX";
    if (mkdtemp(tmpl)) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST(VerifyConfig, EveryErrorWithFileAndLine) {
  TempDir t;
  std::filesystem::create_directory(t.path + "/torrc.d");
  std::ofstream(t.path + "/torrc.d/50-exit.conf") << "ExitRelay 1\nExitPolicy accept *:99999\n";
  std::ofstream(t.path + "/torrc.d/.ignored") << "Bogus 1\n";
  std::ofstream(t.path + "/torrc") << "DataDirectory " << t.path << "/data\n"
                                   << "Nickname bad-name\n"
                                   << "ExitPolicy allow *:80\n"
                                   << "%include " << t.path << "/torrc.d\n"
                                   << "Log [nonet]info stderr\n";
  VerifyRun r = verify(t.path + "/torrc");
  EXPECT_EQ(r.status, 1) << r.output;
  std::string torrc = t.path + "/torrc";
  for (const std::string& want : {torrc + ":2: Nickname", torrc + ":3: ExitPolicy \"allow *:80\"",
                                  t.path + "/torrc.d/50-exit.conf:2: ExitPolicy \"accept *:99999\"",
                                  torrc + ":5: Log: no such logging domain as nonet"})
    EXPECT_NE(r.output.find(want), std::string::npos) << want << "\n" << r.output;
  EXPECT_EQ(r.output.find("Bogus"), std::string::npos) << "dot-files are not read";
}

// C tor's layers, as Debian's tor@default starts tor (--defaults-torrc D -f F --RunAsDaemon 0):
// the torrc's options replace the defaults', the command line's replace both.
TEST(VerifyConfig, DefaultsTorrcAndCommandLineOptionsLayerAsInCtor) {
  TempDir t;
  std::ofstream(t.path + "/defaults")
      << "DataDirectory " << t.path << "/data\n"
      << "ExitPolicy allow *:80\n"  // bad, but the torrc's ExitPolicy replaces it
      << "RunAsDaemon 1\nSocksPort 9050\n";
  std::ofstream(t.path + "/torrc") << "ExitPolicy accept *:443, reject *:*\nNickname fromfile\n";
  std::string layers = "--defaults-torrc " + t.path + "/defaults --RunAsDaemon 0";
  VerifyRun r = verify(t.path + "/torrc", layers);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("SocksPort 9050: onionsplit is a relay without a client role"),
            std::string::npos)
      << r.output;
  r = verify(t.path + "/torrc", layers + " --Nickname bad-name");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("command line"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Nickname"), std::string::npos) << r.output;
  r = verify(t.path + "/torrc", "--defaults-torrc " + t.path + "/defaults --/ExitPolicy x");
  EXPECT_EQ(r.status, 0) << "cleared on the command line, the defaults' bad line is not back: "
                         << r.output;
}

TEST(VerifyConfig, AGoodFileIsValidAndChangesNothing) {
  TempDir t;
  std::ofstream(t.path + "/torrc") << "DataDirectory " << t.path << "/data\n"
                                   << "Log [handshake]debug [*]notice stderr\n"
                                   << "RelayBandwidthRate 5 MBytes\nPublishServerDescriptor 0\n"
                                   << "ExitPolicy accept *:443, reject *:*\n";
  VerifyRun r = verify(t.path + "/torrc");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("Configuration was valid"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(t.path + "/data"));
}

TEST(VerifyConfig, ADataDirectoryThatIsAFileIsRefused) {
  TempDir t;
  std::ofstream(t.path + "/data") << "not a directory";
  std::ofstream(t.path + "/torrc") << "DataDirectory " << t.path << "/data\n";
  VerifyRun r = verify(t.path + "/torrc");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("is not a directory"), std::string::npos) << r.output;
}

// FamilyId: --verify-config reads the family keys as the start does (a key made by Debian's
// `tor --keygen-family`, tests/data/ctor-family): a listed id without its key is refused.
TEST(VerifyConfig, FamilyIdNeedsItsKeyInFamilyKeyDirectory) {
  TempDir t;
  std::string data = std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/ctor-family/";
  std::filesystem::create_directory(t.path + "/fam");
  std::filesystem::copy_file(data + "testfamily.secret_family_key",
                             t.path + "/fam/testfamily.secret_family_key");
  const std::string id = "CkVMcZNvtZ/PpBxjvn/Ip72bvNFcq9c1pBqO5R7nOpQ";
  std::ofstream(t.path + "/torrc")
      << "DataDirectory " << t.path << "/data\n"
      << "FamilyId " << id << "\nFamilyKeyDirectory " << t.path << "/fam\n";
  VerifyRun good = verify(t.path + "/torrc");
  EXPECT_EQ(good.status, 0) << good.output;
  std::ofstream(t.path + "/torrc", std::ios::app) << "FamilyId " << std::string(43, 'A') << "\n";
  VerifyRun bad = verify(t.path + "/torrc");
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_NE(bad.output.find("No key was found in " + t.path + "/fam for the listed FamilyId AAAA"),
            std::string::npos)
      << bad.output;
}

// The crash loop of issue 16: a policy item streamd cannot parse used to pass the configuration and
// kill streamd at every start with no line number. Now every daemon refuses it at start, with it.
TEST(VerifyConfig, StreamdRefusesABadPolicyItemWithItsLine) {
  TempDir t;
  std::ofstream(t.path + "/torrc") << "DataDirectory " << t.path << "/data\n"
                                   << "ExitRelay 1\nExitPolicy accept *:99999\n";
  std::string cmd = std::string(ONIONSPLIT_BIN_DIR) + "/streamd -f " + t.path + "/torrc 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
    out.append(buf.data(), n);
  int st = pclose(p);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1) << out;
  EXPECT_NE(out.find(t.path + "/torrc:3: ExitPolicy \"accept *:99999\""), std::string::npos) << out;
}

// The DirPort's sandboxed child reads only the page's directory: one that holds DataDirectory (and
// so the keys) is refused at start, so --verify-config refuses it too.
TEST(VerifyConfig, AFrontPageBesideTheDataDirectoryIsRefused) {
  TempDir t;
  std::ofstream(t.path + "/notice.html") << "<p>exit</p>\n";
  std::ofstream(t.path + "/torrc") << "DataDirectory " << t.path << "/data\n"
                                   << "DirPort 127.0.0.1:9030\n"
                                   << "DirPortFrontPage " << t.path << "/notice.html\n";
  VerifyRun r = verify(t.path + "/torrc");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(
      r.output.find("DirPort: DirPortFrontPage's directory " + t.path + " holds the DataDirectory"),
      std::string::npos)
      << r.output;
}

}  // namespace
