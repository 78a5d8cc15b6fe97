// Tests for common/config: the torrc lexer and the option policy of DESIGN.md §6.
#include "common/config/config.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/base/hex.h"

namespace onionsplit::config {
namespace {

TEST(Torrc, CommentsContinuationsAndQuotes) {
  auto e = lexTorrc(
      "# a comment\n"
      "Nickname  onion1   # trailing comment\n"
      "ContactInfo \"op \\\"x\\\" <a@b>\"\n"
      "ExitPolicy accept *:80, \\\n"
      "  accept *:443\n"
      "\n");
  ASSERT_TRUE(e) << describe(e.error());
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0].key, "Nickname");
  EXPECT_EQ((*e)[0].value, "onion1");
  EXPECT_EQ((*e)[0].line, 2);
  EXPECT_EQ((*e)[1].value, "op \"x\" <a@b>");
  EXPECT_EQ((*e)[2].value, "accept *:80,    accept *:443");
  EXPECT_EQ((*e)[2].line, 4);
}

TEST(Torrc, RejectsBadSyntax) {
  EXPECT_FALSE(lexTorrc("ContactInfo \"unterminated\n"));
  EXPECT_FALSE(lexTorrc("ContactInfo \"bad\\q\"\n"));
  EXPECT_FALSE(lexTorrc("Nick-name x\n"));
  EXPECT_FALSE(lexTorrc(std::string(kMaxTorrcBytes + 1, '#')));
}

TEST(Config, ExtendAllowPrivateAddresses) {
  auto off = parseConfig("DataDirectory /tmp/os\n");
  ASSERT_TRUE(off) << describe(off.error());
  EXPECT_FALSE(off->config.extendAllowPrivateAddresses);
  auto on = parseConfig("DataDirectory /tmp/os\nExtendAllowPrivateAddresses 1\n");
  ASSERT_TRUE(on) << describe(on.error());
  EXPECT_TRUE(on->config.extendAllowPrivateAddresses);
  EXPECT_FALSE(parseConfig("DataDirectory /tmp/os\nExtendAllowPrivateAddresses maybe\n"));
}

// TestingOfferCgo 0 drops Relay=5-6 from the descriptor (bench/exit's tor1 run); a test network
// only.
TEST(Config, TestingOfferCgoOnlyInATestNetwork) {
  const std::string net =
      "TestingTorNetwork 1\nDataDirectory /tmp/os\n"
      "DirAuthority a orport=5000 127.0.0.1:7000 AAAABBBBCCCCDDDDEEEEFFFF0000111122223333\n";
  auto on = parseConfig(net);
  ASSERT_TRUE(on) << describe(on.error());
  EXPECT_TRUE(on->config.testingOfferCgo);
  auto off = parseConfig(net + "TestingOfferCgo 0\n");
  ASSERT_TRUE(off) << describe(off.error());
  EXPECT_FALSE(off->config.testingOfferCgo);
  EXPECT_FALSE(parseConfig("DataDirectory /tmp/os\nTestingOfferCgo 0\n"));
}

TEST(Config, TheOptionsTheTestNetworkUses) {
  auto r = parseConfig(
      "TestingTorNetwork 1\n"
      "DataDirectory /tmp/os\n"
      "Nickname onionsplit1\n"
      "Address 127.0.0.1\n"
      "ORPort 127.0.0.1:5100\n"
      "ContactInfo ops@example\n"
      "AssumeReachable 1\n"
      "Log notice stderr\n"
      "Log info-err file /tmp/os/log\n"
      "DirAuthority auth1 orport=5000 no-v2 "
      "v3ident=0123456789ABCDEF0123456789ABCDEF01234567 127.0.0.1:7000 "
      "AAAA BBBB CCCC DDDD EEEE FFFF 0000 1111 2222 3333\n"
      "ExitRelay 1\n"
      "ExitPolicy accept 127.0.0.0/8:*\n"
      "ExitPolicy reject *:25, accept *:*\n"
      "ExitPolicyRejectPrivate 0\n"
      "ExitPolicyRejectLocalInterfaces 0\n"
      "ReducedExitPolicy 0\n"
      "IPv6Exit 1\n"
      "MyFamily "
      "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,$BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n"
      "BandwidthRate 10 MB\n"
      "BandwidthBurst 20 MBytes\n"
      "User debian-tor\n");
  ASSERT_TRUE(r) << describe(r.error());
  const Config& c = r->config;
  EXPECT_TRUE(c.testingTorNetwork);
  EXPECT_EQ(c.ipcDirectory, "/tmp/os/ipc");
  EXPECT_EQ(c.nickname, "onionsplit1");
  ASSERT_EQ(c.orPorts.size(), 1u);
  EXPECT_EQ(c.orPorts[0].address, "127.0.0.1");
  EXPECT_EQ(c.orPorts[0].port, 5100);
  ASSERT_EQ(c.logs.size(), 2u);
  EXPECT_EQ(c.logs[1].kind, LogTarget::Kind::kFile);
  EXPECT_EQ(c.logs[1].minSeverity, LogSeverity::kInfo);
  ASSERT_EQ(c.dirAuthorities.size(), 1u);
  const DirAuthority& a = c.dirAuthorities[0];
  EXPECT_EQ(a.nickname, "auth1");
  EXPECT_EQ(a.orPort, 5000);
  EXPECT_EQ(a.dirPort, 7000);
  EXPECT_EQ(a.address, "127.0.0.1");
  EXPECT_EQ(toHex(a.fingerprint, true), "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333");
  EXPECT_EQ(toHex(a.v3Identity, true), "0123456789ABCDEF0123456789ABCDEF01234567");
  EXPECT_EQ(c.exitRelay, std::optional<bool>(true));
  EXPECT_EQ(c.exitPolicy,
            (std::vector<std::string>{"accept 127.0.0.0/8:*", "reject *:25", "accept *:*"}));
  EXPECT_FALSE(c.exitPolicyRejectPrivate);
  EXPECT_TRUE(c.ipv6Exit);
  EXPECT_EQ(c.myFamily.size(), 2u);
  EXPECT_EQ(c.bandwidthRateBytes, 10u << 20);
  EXPECT_EQ(c.bandwidthBurstBytes, 20u << 20);
  EXPECT_EQ(c.user, "debian-tor");
  EXPECT_TRUE(r->warnings.empty());
}

TEST(Config, UnknownOptionIsAnErrorNamingIt) {
  auto r = parseConfig("Nickname a\nExitPolcy accept *:*\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error()[0].line, 2);
  EXPECT_NE(r.error()[0].message.find("unknown option ExitPolcy"), std::string::npos);
}

TEST(Config, UnimplementedCtorOptionSaysSo) {
  auto r = parseConfig("HiddenServiceDir /x\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error()[0].message.find("C tor option that onionsplit does not implement"),
            std::string::npos);
  // A client listener is no reason to refuse a relay's file: nothing listens, and it says so.
  auto s = parseConfig("SocksPort 9050\nSocksPort unix:/run/tor/socks WorldWritable\n");
  ASSERT_TRUE(s) << describe(s.error());
  ASSERT_EQ(s->warnings.size(), 2u);
  EXPECT_NE(s->warnings[0].find("SocksPort 9050: onionsplit is a relay without a client role"),
            std::string::npos);
}

TEST(Config, NoEffectOptionsWarn) {
  auto r = parseConfig("DisableDebuggerAttachment 0\nSafeLogging 1\nSocksPort 0\n");
  ASSERT_TRUE(r) << describe(r.error());
  ASSERT_EQ(r->warnings.size(), 3u);
  EXPECT_NE(r->warnings[0].find("DisableDebuggerAttachment"), std::string::npos);
}

TEST(Config, OptionNamesAreCaseInsensitive) {
  auto r = parseConfig("nickname abc\nexitrelay auto\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->config.nickname, "abc");
  EXPECT_FALSE(r->config.exitRelay.has_value());
}

// DirPort in C tor's server-port forms: the same as ORPort's, IPv6Only refused as C tor refuses
// an IPv6-only DirPort; "DirPort 0" means none.
TEST(Config, DirPortLines) {
  auto r = parseConfig(
      "DirPort 9030\nDirPort 127.0.0.1:80 NoAdvertise\nDirPort [::1]:9030 NoListen\nDirPort 0\n");
  ASSERT_TRUE(r) << describe(r.error());
  ASSERT_EQ(r->config.dirPorts.size(), 3u);
  EXPECT_EQ(r->config.dirPorts[0].address, "");
  EXPECT_EQ(r->config.dirPorts[0].port, 9030);
  EXPECT_EQ(r->config.dirPorts[1].address, "127.0.0.1");
  EXPECT_TRUE(r->config.dirPorts[1].noAdvertise);
  EXPECT_EQ(r->config.dirPorts[2].address, "::1");
  EXPECT_TRUE(r->config.dirPorts[2].noListen);
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_TRUE(parseConfig("DirPort 0\n")->config.dirPorts.empty());
  for (const char* bad : {"DirPort 70000\n", "DirPort 9030 IPv6Only\n", "DirPort 1.2.3:80\n",
                          "DirPort 80 NoListen NoAdvertise\n", "DirPort 80 Frobnicate\n",
                          "DirPort 80 IPv4Only IPv6Only\n", "DirPort\n"})
    EXPECT_FALSE(parseConfig(bad)) << bad;
}

TEST(Config, BadValuesAreRefused) {
  EXPECT_FALSE(parseConfig("Nickname has-dash\n"));
  EXPECT_FALSE(parseConfig("Nickname abcdefghijklmnopqrst\n"));
  EXPECT_FALSE(parseConfig("AssumeReachable yes\n"));
  EXPECT_FALSE(parseConfig("ORPort 70000\n"));
  EXPECT_FALSE(parseConfig("ORPort 1.2.3:9001\n"));
  EXPECT_FALSE(parseConfig("ORPort 9001 Frobnicate\n"));
  EXPECT_FALSE(parseConfig("BandwidthRate 10 parsecs\n"));
  EXPECT_FALSE(parseConfig("BandwidthRate 99999999999999999999 GB\n"));
  EXPECT_FALSE(parseConfig("BandwidthRate 2 MB\nBandwidthBurst 1 MB\n"));
  EXPECT_FALSE(parseConfig("DirAuthority a orport=1 127.0.0.1:7000 ABCD\n"));
  EXPECT_FALSE(
      parseConfig("DirAuthority a 127.0.0.1:7000 "
                  "AAAABBBBCCCCDDDDEEEEFFFF0000111122223333\n"));  // no orport
  EXPECT_FALSE(parseConfig("Log [nonet]info stderr\n"));
  EXPECT_FALSE(parseConfig("Log loud stderr\n"));
  EXPECT_FALSE(parseConfig("TestingTorNetwork 1\n"));
}

TEST(Config, BandwidthUnits) {
  EXPECT_EQ(parseBandwidth("1024"), 1024u);
  EXPECT_EQ(parseBandwidth("1 KB"), 1024u);
  EXPECT_EQ(parseBandwidth("8 kbits"), 1000u);
  EXPECT_EQ(parseBandwidth("1 GBytes"), 1u << 30);
  EXPECT_FALSE(parseBandwidth(""));
  EXPECT_FALSE(parseBandwidth("1 2 3"));
}

TEST(Config, MemoryUnitsAsCtorReadsThem) {
  EXPECT_EQ(parseMemUnit("0"), 0u);
  EXPECT_EQ(parseMemUnit("4096"), 4096u);
  EXPECT_EQ(parseMemUnit("512 MB"), 512ULL << 20);
  EXPECT_EQ(parseMemUnit("512MB"), 512ULL << 20);  // no space needed
  EXPECT_EQ(parseMemUnit("2 gigabytes"), 2ULL << 30);
  EXPECT_EQ(parseMemUnit("1 TB"), 1ULL << 40);
  EXPECT_EQ(parseMemUnit("3 m"), 3ULL << 20);
  EXPECT_EQ(parseMemUnit("8 kbits"), 1024u);  // memory bits are 1024-based, unlike bandwidth
  EXPECT_EQ(parseMemUnit("1.5 GB"), 3ULL << 29);
  EXPECT_EQ(parseMemUnit("  64 MBytes "), 64ULL << 20);
  EXPECT_FALSE(parseMemUnit(""));
  EXPECT_FALSE(parseMemUnit("MB"));
  EXPECT_FALSE(parseMemUnit("-1 MB"));
  EXPECT_FALSE(parseMemUnit("10 parsecs"));
  EXPECT_FALSE(parseMemUnit("8388608 TB"));  // over INT64_MAX
  EXPECT_FALSE(parseMemUnit("99999999999999999999"));
}

TEST(Config, MaxMemInQueues) {
  auto unset = parseConfig("Nickname a\n");
  ASSERT_TRUE(unset);
  EXPECT_EQ(unset->config.maxMemInQueuesBytes, 0u);  // C tor's rule from the physical memory
  auto set = parseConfig("MaxMemInQueues 2 GB\n");
  ASSERT_TRUE(set) << describe(set.error());
  EXPECT_EQ(set->config.maxMemInQueuesBytes, 2ULL << 30);
  EXPECT_TRUE(set->warnings.empty());
  auto low = parseConfig("MaxMemInQueues 32 MB\n");
  ASSERT_TRUE(low);
  ASSERT_EQ(low->warnings.size(), 1u);
  EXPECT_NE(low->warnings[0].find("at least 64 MB"), std::string::npos);
  auto lowish = parseConfig("MaxMemInQueues 128 MB\n");
  ASSERT_TRUE(lowish);
  ASSERT_EQ(lowish->warnings.size(), 1u);
  EXPECT_NE(lowish->warnings[0].find("low value (128 MB)"), std::string::npos);
  auto bad = parseConfig("MaxMemInQueues lots\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error()[0].message.find("MaxMemInQueues"), std::string::npos);
}

TEST(Config, KnowsCtorOptionNames) {
  EXPECT_TRUE(isCtorOption("ExitPolicy"));
  EXPECT_TRUE(isCtorOption("hiddenservicedir"));
  EXPECT_FALSE(isCtorOption("IPCDirectory"));
}

}  // namespace
}  // namespace onionsplit::config

namespace onionsplit::config {
namespace {

TEST(ConfigKeys, OfflineMasterKeyAndSigningKeyLifetime) {
  auto r = parseConfig("OfflineMasterKey 1\nSigningKeyLifetime 7 days\n");
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_TRUE(r->config.offlineMasterKey);
  EXPECT_EQ(r->config.signingKeyLifetimeSeconds, 7u * 86400);
  EXPECT_FALSE(parseConfig("SigningKeyLifetime 1 day\n"));
  EXPECT_FALSE(parseConfig("SigningKeyLifetime soon\n"));
  EXPECT_EQ(parseInterval("2 weeks"), 14u * 86400);
  EXPECT_EQ(parseInterval("90"), 90u);
  EXPECT_EQ(parseInterval("1 Month"), 30u * 86400);
  EXPECT_FALSE(parseInterval("3 fortnights"));
}

}  // namespace
}  // namespace onionsplit::config

namespace onionsplit::config {
namespace {

TEST(ConfigDns, ServerDnsResolvConfFile) {
  auto d = parseConfig("Nickname a\n");
  ASSERT_TRUE(d) << describe(d.error());
  EXPECT_EQ(d->config.serverDnsResolvConfFile, "/etc/resolv.conf");  // C tor's default
  auto r = parseConfig("ServerDNSResolvConfFile /tmp/resolv.test\n");
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(r->config.serverDnsResolvConfFile, "/tmp/resolv.test");
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_FALSE(parseConfig("ServerDNSResolvConfFile\n"));
}

}  // namespace
}  // namespace onionsplit::config

namespace onionsplit::config {
namespace {

TEST(ConfigSandbox, OnByDefaultAndSyscallAction) {
  auto d = parseConfig("Nickname a\n");
  ASSERT_TRUE(d) << describe(d.error());
  EXPECT_TRUE(d->config.sandbox);  // unlike C tor, whose Sandbox defaults to 0
  EXPECT_EQ(d->config.sandboxSyscalls, SandboxSyscalls::kKill);
  auto off = parseConfig("Sandbox 0\nSandboxSyscalls trap\n");
  ASSERT_TRUE(off) << describe(off.error());
  EXPECT_FALSE(off->config.sandbox);
  EXPECT_EQ(off->config.sandboxSyscalls, SandboxSyscalls::kTrap);
  EXPECT_TRUE(off->warnings.empty());  // Sandbox is implemented now, not a no-effect option
  auto log = parseConfig("sandboxsyscalls LOG\n");
  ASSERT_TRUE(log) << describe(log.error());
  EXPECT_EQ(log->config.sandboxSyscalls, SandboxSyscalls::kLog);
  EXPECT_FALSE(parseConfig("Sandbox yes\n"));
  EXPECT_FALSE(parseConfig("SandboxSyscalls errno\n"));
  EXPECT_FALSE(isCtorOption("SandboxSyscalls"));
}

TEST(ConfigMetricsPort, CtorSyntaxLoopbackByDefault) {
  auto bare = parseConfig("MetricsPort 9035\nMetricsPortPolicy accept 127.0.0.1\n");
  ASSERT_TRUE(bare) << describe(bare.error());
  ASSERT_TRUE(bare->config.metricsPort);
  EXPECT_EQ(bare->config.metricsPort->address, "127.0.0.1");  // C tor's default address
  EXPECT_EQ(bare->config.metricsPort->port, 9035);
  EXPECT_EQ(bare->config.metricsPortPolicy, std::vector<std::string>{"accept 127.0.0.1"});
  EXPECT_TRUE(bare->warnings.empty());
  auto full = parseConfig(
      "MetricsPort 127.0.0.2:9100 prometheus\nMetricsPortPolicy accept 127.0.0.1, reject *\n"
      "MetricsPortPolicy accept [::1]\n");
  ASSERT_TRUE(full) << describe(full.error());
  EXPECT_EQ(full->config.metricsPort->address, "127.0.0.2");
  EXPECT_EQ(full->config.metricsPort->port, 9100);
  EXPECT_EQ(full->config.metricsPortPolicy.size(), 3u);
  auto v6 = parseConfig("MetricsPort [::1]:9035\n");
  ASSERT_TRUE(v6) << describe(v6.error());
  EXPECT_EQ(v6->config.metricsPort->address, "::1");
  // Without a policy C tor refuses every request; so does onionsplit, and it says so.
  ASSERT_EQ(v6->warnings.size(), 1u);
  EXPECT_NE(v6->warnings[0].find("MetricsPortPolicy"), std::string::npos);
  auto off = parseConfig("MetricsPort 0\n");
  ASSERT_TRUE(off) << describe(off.error());
  EXPECT_FALSE(off->config.metricsPort);
  EXPECT_FALSE(parseConfig("Nickname a\n")->config.metricsPort);
}

TEST(ConfigMetricsPort, BadValuesAreRefused) {
  EXPECT_FALSE(parseConfig("MetricsPort 9035 json\n"));
  EXPECT_FALSE(parseConfig("MetricsPort localhost:9035\n"));
  EXPECT_FALSE(parseConfig("MetricsPort 70000\n"));
  EXPECT_FALSE(parseConfig("MetricsPort 1\nMetricsPort 2\n"));
  EXPECT_FALSE(parseConfig("MetricsPortPolicy\n"));
}

TEST(Config, ReportsEveryErrorWithItsLine) {
  auto r = parseConfig(
      "Nickname ok\n"
      "Nickname has-dash\n"
      "ContactInfo \"unterminated\n"
      "AssumeReachable yes\n"
      "ORPort 9001\n"
      "Frobnicate 1\n");
  ASSERT_FALSE(r);
  std::vector<int> lines;
  for (const auto& e : r.error())
    lines.push_back(e.line);
  EXPECT_EQ(lines, (std::vector<int>{2, 3, 4, 6})) << "in file order";
  // Every error is one line of the description.
  std::string text = describe(r.error());
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_NE(text.find("line 6: unknown option Frobnicate"), std::string::npos);
}

TEST(Config, ErrorsAndWarningsNameTheirFile) {
  auto entries = lexTorrc("SafeLogging 1\nBogus 2\n", "/etc/tor/torrc");
  ASSERT_TRUE(entries);
  auto r = buildConfig(*entries);
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(describe(r.error()[0]), "/etc/tor/torrc:2: unknown option Bogus");
  auto ok = buildConfig({(*entries)[0]});
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->warnings.size(), 1u);
  EXPECT_EQ(ok->warnings[0].rfind("/etc/tor/torrc:1: SafeLogging", 0), 0u);
}

TEST(Config, ErrorsSortIntoFileOrder) {
  ConfigErrors e = {{0, "global", "a"}, {7, "seven", "b"}, {3, "three", "a"}, {2, "two", "b"}};
  sortErrors(e);
  std::vector<std::string> order;
  for (const auto& x : e)
    order.push_back(x.message);
  EXPECT_EQ(order, (std::vector<std::string>{"three", "global", "two", "seven"}));
}

TEST(Config, IncludeOnlyFromAFile) {
  auto r = parseConfig("%include /etc/tor/torrc.d\n");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error()[0].message.find("%include"), std::string::npos);
}

TEST(Config, LogDomainsAsCtorParsesThem) {
  auto a = parseLogValue("[handshake]debug [*]notice stderr");
  ASSERT_TRUE(a) << a.error();
  EXPECT_EQ(a->target.kind, LogTarget::Kind::kStderr);
  EXPECT_EQ(a->target.minSeverity, LogSeverity::kDebug);
  EXPECT_EQ(a->target.maxSeverity, LogSeverity::kErr);
  EXPECT_TRUE(a->domainsIgnored);
  auto b = parseLogValue("[~net,~MM]info-warn file /var/log/tor/x.log");
  ASSERT_TRUE(b) << b.error();
  EXPECT_EQ(b->target.kind, LogTarget::Kind::kFile);
  EXPECT_EQ(b->target.path, "/var/log/tor/x.log");
  EXPECT_EQ(b->target.minSeverity, LogSeverity::kInfo);
  EXPECT_EQ(b->target.maxSeverity, LogSeverity::kWarn);
  auto c = parseLogValue("[*] notice syslog");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->target.kind, LogTarget::Kind::kSyslog);
  EXPECT_FALSE(c->domainsIgnored);
  auto d = parseLogValue("notice");  // no target: stdout, as in C tor
  ASSERT_TRUE(d);
  EXPECT_EQ(d->target.kind, LogTarget::Kind::kStdout);
  auto gap = parseLogValue("debug-debug err stderr");
  EXPECT_FALSE(gap) << "two unqualified ranges";
  auto gap2 = parseLogValue("[circ]debug-debug err stderr");
  ASSERT_TRUE(gap2);
  EXPECT_TRUE(gap2->domainsIgnored);
  EXPECT_FALSE(parseLogValue("[handshak]debug stderr"));
  EXPECT_FALSE(parseLogValue("[handshake debug stderr"));
  EXPECT_FALSE(parseLogValue("[net]loud stderr"));
  EXPECT_FALSE(parseLogValue("stderr"));
  EXPECT_FALSE(parseLogValue("notice file"));
  EXPECT_FALSE(parseLogValue("notice stderr extra"));
}

TEST(Config, ALogLineWithDomainsWarnsThatTheyAreNotFiltered) {
  auto r = parseConfig("Log [handshake]debug [*]notice stderr\nLog notice file /tmp/x\n");
  ASSERT_TRUE(r) << describe(r.error());
  ASSERT_EQ(r->config.logs.size(), 2u);
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->warnings[0].rfind("line 1: Log: onionsplit does not filter by log domain", 0), 0u);
  EXPECT_NE(r->warnings[0].find("from debug to err"), std::string::npos);
  auto bad = parseConfig("Log [nosuch]info stderr\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error()[0].message.find("no such logging domain as nosuch"), std::string::npos);
}

}  // namespace
}  // namespace onionsplit::config
