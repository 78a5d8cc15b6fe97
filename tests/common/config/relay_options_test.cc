// Tests for common/config/relay_options.h: C tor's relay options of an exit torrc, read with C
// tor's syntax, defaults and ranges; refused (with their line) where onionsplit does not do what
// they ask.
#include "common/config/relay_options.h"

#include <gtest/gtest.h>

#include "common/config/config.h"

namespace onionsplit::config {
namespace {

Config ok(const std::string& text) {
  auto r = parseConfig(text);
  EXPECT_TRUE(r) << (r ? "" : describe(r.error()));
  return r ? r->config : Config{};
}

std::string refusal(const std::string& text) {
  auto r = parseConfig(text);
  EXPECT_FALSE(r) << text;
  return r ? "" : describe(r.error());
}

TEST(RelayOptions, Defaults) {
  Config c = ok("Nickname a\n");
  EXPECT_EQ(c.relayBandwidthRateBytes, 0u);
  EXPECT_EQ(c.accountingMaxBytes, 0u);
  EXPECT_EQ(c.accountingRule, AccountingRule::kMax);
  EXPECT_EQ(c.accountingStart.unit, AccountingStart::Unit::kMonth);
  EXPECT_EQ(c.accountingStart.day, 1);
  EXPECT_EQ(c.heartbeatPeriodSeconds, 6u * 3600);
  EXPECT_TRUE(c.publishServerDescriptor);
  EXPECT_EQ(c.keepalivePeriodSeconds, 300u);
  EXPECT_EQ(c.connLimit, 1000u);
  EXPECT_FALSE(c.serverDnsAllowNonRfc953Hostnames);
  EXPECT_TRUE(c.serverDnsDetectHijacking);
  EXPECT_EQ(c.serverDnsTestAddresses.size(), 4u);
  EXPECT_EQ(relayedBandwidthRate(c), c.bandwidthRateBytes);
}

TEST(RelayOptions, RunAsDaemonAndPidFile) {
  Config c = ok("RunAsDaemon 1\nPidFile /run/onionsplit.pid\n");
  EXPECT_TRUE(c.runAsDaemon);
  EXPECT_EQ(c.pidFile, "/run/onionsplit.pid");
  EXPECT_FALSE(ok("Nickname a\n").runAsDaemon);
  EXPECT_NE(refusal("RunAsDaemon 2\n").find("RunAsDaemon"), std::string::npos);
}

TEST(RelayOptions, RelayBandwidthAsCtorCombinesIt) {
  Config c = ok("BandwidthRate 10 MBytes\nBandwidthBurst 20 MBytes\nRelayBandwidthRate 5 MBytes\n");
  EXPECT_EQ(c.relayBandwidthRateBytes, 5u << 20);
  EXPECT_EQ(c.relayBandwidthBurstBytes, 5u << 20) << "Burst defaults to Rate";
  EXPECT_EQ(relayedBandwidthRate(c), 5u << 20);
  EXPECT_EQ(relayedBandwidthBurst(c), 5u << 20);
  Config b = ok("RelayBandwidthBurst 2 MBytes\n");
  EXPECT_EQ(b.relayBandwidthRateBytes, 2u << 20) << "Rate defaults to Burst";
  // Set above BandwidthRate/Burst: those are raised (C tor), so the relay bucket is what counts.
  Config up =
      ok("BandwidthRate 1 MBytes\nBandwidthBurst 1 MBytes\n"
         "RelayBandwidthRate 3 MBytes\nRelayBandwidthBurst 4 MBytes\n");
  EXPECT_EQ(up.bandwidthRateBytes, 3u << 20);
  EXPECT_EQ(relayedBandwidthBurst(up), 4u << 20);
  EXPECT_NE(refusal("RelayBandwidthRate 2 MBytes\nRelayBandwidthBurst 1 MBytes\n")
                .find("RelayBandwidthBurst must be at least equal to RelayBandwidthRate"),
            std::string::npos);
  EXPECT_NE(refusal("ORPort 9001\nRelayBandwidthRate 10 KBytes\n").find("at least 76800"),
            std::string::npos);
  EXPECT_NE(refusal("RelayBandwidthRate 3 GBytes\n").find("at most 2147483647"), std::string::npos);
  refusal("RelayBandwidthRate fast\n");
}

TEST(RelayOptions, Accounting) {
  Config c = ok("AccountingMax 0\nAccountingStart week 7 23:59\nAccountingRule sum\n");
  EXPECT_EQ(c.accountingStart.unit, AccountingStart::Unit::kWeek);
  EXPECT_EQ(c.accountingStart.day, 7);
  EXPECT_EQ(c.accountingStart.hour, 23);
  EXPECT_EQ(c.accountingStart.minute, 59);
  EXPECT_EQ(c.accountingRule, AccountingRule::kSum);
  Config d = ok("AccountingStart day 4:05\n");
  EXPECT_EQ(d.accountingStart.unit, AccountingStart::Unit::kDay);
  EXPECT_EQ(d.accountingStart.hour, 4);
  for (const char* bad : {"month 29 0:00", "week 0 1:00", "day 1 1:00", "year 1 0:00",
                          "month 1 24:00", "month 1 0:60", "month 1", "month x 0:00"})
    refusal(std::string("AccountingStart ") + bad + "\n");
  refusal("AccountingRule both\n");
  EXPECT_EQ(ok("AccountingMax 1 TBytes\n").accountingMaxBytes, uint64_t{1} << 40);
  EXPECT_EQ(ok("AccountingMax 300 KBytes\nAccountingRule out\n").accountingRule,
            AccountingRule::kOut);
  // C tor's messages (hibernate.c), after the line and the value.
  auto says = [](const std::string& value, const std::string& what) {
    std::string r = refusal("AccountingStart " + value + "\n");
    EXPECT_NE(r.find(what), std::string::npos) << r;
  };
  says("week 8 1:00", "Weekly accounting must begin on a day between 1 (Monday) and 7 (Sunday)");
  says("month 0 1:00", "Monthly accounting must begin on a day between 1 and 28");
  says("day", "Too few arguments to AccountingStart");
  says("day 1 1:00", "Accounting unit 'day' requires 1 argument.");
  says("month 1", "Accounting unit 'month' requires 2 arguments.");
  says("hour 1:00", "Unrecognized accounting unit 'hour'");
  says("day 25:00", "bad hour");
  says("day 1:61", "bad minute");
  says("day 10", "not in HH:MM format");
}

TEST(RelayOptions, OutboundBindAddress) {
  Config c = ok("OutboundBindAddressExit 192.0.2.1\nOutboundBindAddressExit [2001:db8::1]\n");
  EXPECT_EQ(c.outboundBindAddressExit.ipv4, "192.0.2.1");
  EXPECT_EQ(c.outboundBindAddressExit.ipv6, "2001:db8::1");
  EXPECT_EQ(exitBindAddress(c, false), "192.0.2.1");
  EXPECT_EQ(exitBindAddress(c, true), "2001:db8::1");
  EXPECT_EQ(exitBindAddress(ok("Nickname a\n"), false), "");
  // OutboundBindAddress is the fallback of both; the Exit and OR options override it per family.
  Config all =
      ok("OutboundBindAddress 198.51.100.7\nOutboundBindAddressOR 203.0.113.9\n"
         "OutboundBindAddress [2001:db8::7]\n");
  EXPECT_EQ(exitBindAddress(all, false), "198.51.100.7");
  EXPECT_EQ(orBindAddress(all, false), "203.0.113.9");
  EXPECT_EQ(exitBindAddress(all, true), "2001:db8::7");
  EXPECT_EQ(orBindAddress(all, true), "2001:db8::7");
  Config exitOnly = ok("OutboundBindAddressExit 192.0.2.1\n");
  EXPECT_EQ(orBindAddress(exitOnly, false), "") << "Exit does not reach channeld";
  EXPECT_NE(refusal("OutboundBindAddressExit example.com\n").find("not an IP address"),
            std::string::npos);
  EXPECT_NE(refusal("OutboundBindAddressExit 192.0.2.1\nOutboundBindAddressExit 192.0.2.2\n")
                .find("more than one IPv4"),
            std::string::npos);
}

TEST(RelayOptions, FamilyIdAndFamilyKeyDirectory) {
  std::string err = refusal("Nickname x\nFamilyId abc\n");
  EXPECT_NE(err.find("not a family key identity"), std::string::npos);
  EXPECT_NE(err.find("line 2"), std::string::npos) << err;
  auto r = parseConfig(
      "FamilyId CkVMcZNvtZ/PpBxjvn/Ip72bvNFcq9c1pBqO5R7nOpQ\n"
      "FamilyId " +
      std::string(43, 'A') + "\nFamilyKeyDirectory /var/lib/tor/fam\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->warnings.empty());
  EXPECT_EQ(r->config.familyIds.size(), 2u);
  EXPECT_FALSE(r->config.allFamilyIds);
  EXPECT_EQ(r->config.familyKeyDirectory, "/var/lib/tor/fam");
  Config all = ok("FamilyId *\n");
  EXPECT_TRUE(all.allFamilyIds);
  EXPECT_TRUE(all.familyIds.empty());
  EXPECT_NE(refusal("FamilyKeyDirectory\n").find("FamilyKeyDirectory"), std::string::npos);
}

TEST(RelayOptions, HeartbeatPublishKeepaliveConnLimit) {
  EXPECT_EQ(ok("HeartbeatPeriod 1 hour\n").heartbeatPeriodSeconds, 3600u);
  EXPECT_EQ(ok("HeartbeatPeriod 0\n").heartbeatPeriodSeconds, 0u);
  auto shortBeat = parseConfig("HeartbeatPeriod 5 minutes\n");
  ASSERT_TRUE(shortBeat);
  EXPECT_EQ(shortBeat->config.heartbeatPeriodSeconds, 1800u) << "raised to 30 minutes, as C tor";
  refusal("HeartbeatPeriod often\n");
  EXPECT_FALSE(ok("PublishServerDescriptor 0\n").publishServerDescriptor);
  EXPECT_TRUE(ok("PublishServerDescriptor 1\n").publishServerDescriptor);
  EXPECT_TRUE(ok("PublishServerDescriptor v3\n").publishServerDescriptor);
  refusal("PublishServerDescriptor bridge\n");
  refusal("PublishServerDescriptor v9\n");
  EXPECT_EQ(ok("KeepalivePeriod 5 minutes\n").keepalivePeriodSeconds, 300u);
  EXPECT_EQ(ok("KeepalivePeriod 60\n").keepalivePeriodSeconds, 60u);
  EXPECT_NE(refusal("KeepalivePeriod 99999999999\n").find("too long"), std::string::npos);
  EXPECT_NE(refusal("KeepalivePeriod 0\n").find("must be positive"), std::string::npos);
  EXPECT_NE(refusal("KeepalivePeriod often\n").find("cannot read"), std::string::npos);
  EXPECT_EQ(ok("ConnLimit 4096\n").connLimit, 4096u);
  refusal("ConnLimit 0\n");
  refusal("ConnLimit lots\n");
}

// NumCPUs sets circuitd's shards: 0 (the default) is the cores less one (channeld and streamd), at
// least one, at most 64.
TEST(RelayOptions, NumCpusSetsTheCircuitdShards) {
  Config dflt = ok("Nickname x\n");
  EXPECT_EQ(dflt.numCpus, 0u);
  EXPECT_EQ(circuitdShards(dflt, 1), 1u);
  EXPECT_EQ(circuitdShards(dflt, 2), 1u);
  EXPECT_EQ(circuitdShards(dflt, 8), 7u);
  EXPECT_EQ(circuitdShards(dflt, 256), kMaxCircuitdShards);
  Config four = ok("NumCPUs 4\n");
  EXPECT_EQ(circuitdShards(four, 2), 4u) << "as the operator wrote, whatever the cores";
  EXPECT_EQ(circuitdShards(ok("NumCPUs 64\n"), 2), 64u);
  EXPECT_NE(refusal("NumCPUs 65\n").find("between 0 and 64"), std::string::npos);
  refusal("NumCPUs -1\n");
  refusal("NumCPUs many\n");
  EXPECT_EQ(circuitdShardName(0), "circuitd");
  EXPECT_EQ(circuitdShardName(3), "circuitd-3");
}

TEST(RelayOptions, ShutdownWaitLengthAndSyslogIdentityTag) {
  EXPECT_EQ(ok("Nickname x\n").shutdownWaitLengthSeconds, 30u) << "C tor's default";
  EXPECT_EQ(ok("ShutdownWaitLength 2\n").shutdownWaitLengthSeconds, 2u);
  EXPECT_EQ(ok("ShutdownWaitLength 1 minute\n").shutdownWaitLengthSeconds, 60u);
  EXPECT_EQ(ok("ShutdownWaitLength 0\n").shutdownWaitLengthSeconds, 0u);
  refusal("ShutdownWaitLength soon\n");
  EXPECT_EQ(ok("SyslogIdentityTag exit1\n").syslogIdentityTag, "exit1");
  EXPECT_EQ(ok("Nickname x\n").syslogIdentityTag, "");
}

TEST(RelayOptions, DirPortFrontPageAndServerDns) {
  auto r = parseConfig(
      "DirPortFrontPage /etc/tor/tor-exit-notice.html\n"
      "ServerDNSAllowNonRFC953Hostnames 0\n"
      "ServerDNSDetectHijacking 0\n"
      "ServerDNSTestAddresses a.example, b.example\n");
  ASSERT_TRUE(r) << describe(r.error());
  EXPECT_EQ(r->config.dirPortFrontPage, "/etc/tor/tor-exit-notice.html");
  EXPECT_FALSE(r->config.serverDnsDetectHijacking);
  EXPECT_EQ(r->config.serverDnsTestAddresses, (std::vector<std::string>{"a.example", "b.example"}));
  EXPECT_EQ(r->warnings.size(), 1u) << "the test addresses have no effect here (the front page "
                                       "is served on the DirPort)";
  EXPECT_TRUE(ok("ServerDNSAllowNonRFC953Hostnames 1\n").serverDnsAllowNonRfc953Hostnames);
  refusal("ServerDNSAllowNonRFC953Hostnames maybe\n");
  refusal("ServerDNSDetectHijacking maybe\n");
  auto hijack = parseConfig("ServerDNSDetectHijacking 1\n");
  ASSERT_TRUE(hijack);
  EXPECT_EQ(hijack->warnings.size(), 1u);
}

}  // namespace
}  // namespace onionsplit::config
