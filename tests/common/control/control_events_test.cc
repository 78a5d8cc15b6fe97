// Tests for common/control/events.h and relay_info.h: log events from the launcher's and the
// daemons' lines, CONF_CHANGED, SETCONF's entries, and GETINFO's answers from the relay's files.
#include "common/control/events.h"

#include <gtest/gtest.h>

#include "common/config/config.h"
#include "common/control/relay_info.h"

namespace onionsplit::control {
namespace {

std::vector<config::TorrcEntry> entries(std::vector<std::pair<std::string, std::string>> kv) {
  std::vector<config::TorrcEntry> out;
  for (auto& [k, v] : kv)
    out.push_back({k, v, 1, "torrc"});
  return out;
}

TEST(ControlEvents, LogEventAsCtor) {
  EXPECT_EQ(logEvent({"NOTICE", "launcher: started circuitd (pid 7)"}),
            "650 NOTICE launcher: started circuitd (pid 7)\r\n");
  EXPECT_EQ(logEvent({"WARN", "two\r\nlines\n  "}), "650 WARN two  lines\r\n");
}

TEST(ControlEvents, RelayedDaemonLines) {
  auto plain = relayedLogLine("circuitd: Dec 07 12:02:12.123 [warn] circuitd: a peer went away");
  EXPECT_EQ(plain.severity, "WARN");
  EXPECT_EQ(plain.message, "circuitd: a peer went away");
  auto journal = relayedLogLine("streamd: <7>[debug] streamd: x [y] z");
  EXPECT_EQ(journal.severity, "DEBUG");
  EXPECT_EQ(journal.message, "streamd: x [y] z");
  auto info = relayedLogLine("channeld: Dec 07 12:02:12.123 [info] channeld: hi");
  EXPECT_EQ(info.severity, "INFO");
  auto raw = relayedLogLine("streamd: ==123==ERROR: AddressSanitizer [bogus] x");
  EXPECT_EQ(raw.severity, "NOTICE");
  EXPECT_EQ(raw.message, "streamd: ==123==ERROR: AddressSanitizer [bogus] x");
  EXPECT_EQ(relayedLogLine("").severity, "NOTICE");
}

TEST(ControlEvents, ConfChangedListsWhatChanged) {
  auto before = entries({{"Nickname", "a"}, {"ExitPolicy", "accept *:80"}, {"ContactInfo", "x"}});
  auto after = entries({{"nickname", "a"},
                        {"ExitPolicy", "accept *:80"},
                        {"ExitPolicy", "reject *:*"},
                        {"BandwidthRate", "1 MB"}});
  auto changes = confChanges(before, after);
  EXPECT_EQ(changes, (std::vector<ConfChange>{{"ExitPolicy", "accept *:80"},
                                              {"ExitPolicy", "reject *:*"},
                                              {"BandwidthRate", "1 MB"},
                                              {"ContactInfo", std::nullopt}}));
  EXPECT_EQ(confChangedEvent(changes),
            "650-CONF_CHANGED\r\n650-ExitPolicy=accept *:80\r\n650-ExitPolicy=reject *:*\r\n"
            "650-BandwidthRate=1 MB\r\n650-ContactInfo\r\n650 OK\r\n");
  EXPECT_TRUE(confChanges(before, before).empty());
  EXPECT_EQ(confChangedEvent({}), "");
}

TEST(ControlEvents, WithChangesReplacesAnOptionsValues) {
  auto in =
      entries({{"exitpolicy", "accept *:80"}, {"Nickname", "a"}, {"ExitPolicy", "reject *:*"}});
  auto out = withChanges(
      in,
      {{"ExitPolicy", "accept *:443"}, {"ExitPolicy", "reject *:*"}, {"Nickname", std::nullopt}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].key, "ExitPolicy");
  EXPECT_EQ(out[0].value, "accept *:443");
  EXPECT_EQ(out[1].value, "reject *:*");
  EXPECT_EQ(configText(out), "ExitPolicy accept *:443\nExitPolicy reject *:*\n");
  out.push_back(config::TorrcEntry{"__OwningControllerFD", "5", 0, ""});
  EXPECT_EQ(configText(out), "ExitPolicy accept *:443\nExitPolicy reject *:*\n")
      << "hidden control options are never dumped";
}

// Two entries of an ns consensus (their identities are the base64 of 20 bytes 0x00.. and 0x11..).
constexpr const char* kConsensus =
    "network-status-version 3\n"
    "r first AAAAAAAAAAAAAAAAAAAAAAAAAAA ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGk 2026-12-07 11:00:00 "
    "10.0.0.1 9001 0\n"
    "a [2001:db8::1]:9001\n"
    "s Exit Fast Running Valid\n"
    "v Tor 0.4.9.11\n"
    "pr Link=1-5\n"
    "w Bandwidth=20 Unmeasured=1\n"
    "p accept 80,443\n"
    "r Second ERERERERERERERERERERERERERE ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGk 2026-12-07 11:00:00 "
    "10.0.0.2 9002 0\n"
    "s Running Valid\n"
    "w Bandwidth=5\n"
    "p reject 1-65535\n"
    "directory-footer\n"
    "r fake ERERERERERERERERERERERERERE x 2026-12-07 11:00:00 10.9.9.9 1 0\n";

// STATUS_SERVER as C tor's relay sends it, from channeld's counters read once a second.
TEST(ControlEvents, ServerStatusFromChanneldsCounters) {
  ServerStatusEvents s;
  const std::vector<std::string> auths = {"127.0.0.1:7000", "127.0.0.1:7001"};
  uint64_t round = 1;
  auto update = [&](bool reachable, uint64_t tests, uint64_t mask) {
    return s.update(RelayStanding{reachable, tests, mask, round, 5000}, "127.0.0.1", auths);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(update(false, 0, 0), V{});  // no attempt yet
  EXPECT_EQ(update(false, 1, 0),
            V{"650 STATUS_SERVER NOTICE CHECKING_REACHABILITY ORADDRESS=127.0.0.1:5000\r\n"});
  EXPECT_EQ(update(false, 2, 0), V{});  // later attempts: nothing new, as C tor
  EXPECT_EQ(update(true, 2, 0),
            V{"650 STATUS_SERVER NOTICE REACHABILITY_SUCCEEDED ORADDRESS=127.0.0.1:5000\r\n"});
  EXPECT_EQ(update(true, 2, 2),
            (V{"650 STATUS_SERVER NOTICE ACCEPTED_SERVER_DESCRIPTOR DIRAUTH=127.0.0.1:7001\r\n",
               "650 STATUS_SERVER NOTICE GOOD_SERVER_DESCRIPTOR\r\n"}));
  EXPECT_EQ(update(true, 2, 3).front(),
            "650 STATUS_SERVER NOTICE ACCEPTED_SERVER_DESCRIPTOR DIRAUTH=127.0.0.1:7000\r\n");
  EXPECT_EQ(update(true, 2, 3), V{});
  EXPECT_EQ(update(true, 2, 0), V{});  // a new upload round starts
  EXPECT_EQ(update(true, 2, 1).size(), 2u);
  ++round;  // another round, begun and done between two readings: both are new again
  EXPECT_EQ(update(true, 2, 3).size(), 4u);
  // channeld restarted: its counters start again, and so do the events.
  EXPECT_EQ(update(false, 1, 0).size(), 1u);
  EXPECT_EQ(update(true, 1, 0).size(), 1u);
  // AssumeReachable 1: reachable from the start, no self-test, no reachability event.
  ServerStatusEvents assumed;
  EXPECT_TRUE(assumed.update(RelayStanding{true, 0, 0, 0, 5000}, "127.0.0.1", auths).empty());
  // A mask bit past the DirAuthority lines names nothing.
  EXPECT_TRUE(assumed.update(RelayStanding{true, 0, 4, 0, 5000}, "127.0.0.1", auths).empty());
}

TEST(ControlRelayInfo, ConsensusEntryInCtorsLayout) {
  EXPECT_EQ(entryById(kConsensus, "0000000000000000000000000000000000000000"),
            "r first AAAAAAAAAAAAAAAAAAAAAAAAAAA ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGk 2038-01-01 00:00:00 "
            "10.0.0.1 9001 0\na [2001:db8::1]:9001\ns Exit Fast Running Valid\nw Bandwidth=20\n"
            "p accept 80,443\n");
  EXPECT_EQ(entryById(kConsensus, "$1111111111111111111111111111111111111111"),
            "r Second ERERERERERERERERERERERERERE ZGlnZXN0ZGlnZXN0ZGlnZXN0ZGk 2038-01-01 "
            "00:00:00 10.0.0.2 9002 0\ns Running Valid\nw Bandwidth=5\np reject 1-65535\n");
  EXPECT_EQ(entryByName(kConsensus, "second"), entryById(kConsensus,
                                                         "11111111111111111111"
                                                         "11111111111111111111"));
  EXPECT_EQ(entryById(kConsensus, "2222222222222222222222222222222222222222"), std::nullopt);
  EXPECT_EQ(entryById(kConsensus, "zz"), std::nullopt);
  EXPECT_EQ(entryByName(kConsensus, "fake"), std::nullopt);  // after the footer
  EXPECT_EQ(addressInConsensus(kConsensus, "1111111111111111111111111111111111111111"), "10.0.0.2");
  EXPECT_EQ(addressInConsensus("garbage\nr short\n", "1111111111111111111111111111111111111111"),
            std::nullopt);
}

// ns/all and NEWCONSENSUS: every entry before the footer, in C tor's layout; NEWCONSENSUS is the
// same text as an event's data (CRLF, dot-encoded) ended by "650 OK".
TEST(ControlRelayInfo, AllEntriesAndNewConsensus) {
  std::string all = allEntries(kConsensus);
  EXPECT_EQ(all, *entryById(kConsensus, "0000000000000000000000000000000000000000") +
                     *entryById(kConsensus, "1111111111111111111111111111111111111111"));
  EXPECT_EQ(all.find("fake"), std::string::npos);
  EXPECT_EQ(allEntries("garbage\nr short\n"), "");
  std::string event = newConsensusEvent(kConsensus);
  EXPECT_TRUE(event.starts_with("650+NEWCONSENSUS\r\nr first AAAA"));
  EXPECT_NE(event.find("\r\np reject 1-65535\r\n.\r\n650 OK\r\n"), std::string::npos);
  EXPECT_EQ(event.find("\n\n"), std::string::npos);
  EXPECT_EQ(newConsensusEvent("network-status-version 3\n"), "");
}

// orconn-status: C tor's "$FP~nick STATE" for a relay in the consensus, "$FP" for one that is not;
// a client's connection carries no address here.
TEST(ControlRelayInfo, OrconnStatusNamesAndStates) {
  std::string first(40, '0'), second(40, '1'), unknown(40, '2');
  std::vector<OrConnView> conns = {{first, true, false},
                                   {second, false, true},
                                   {unknown, true, false},
                                   {"", true, false},
                                   {"", false, false}};
  EXPECT_EQ(orconnStatus(conns, kConsensus),
            "$" + first + "~first CONNECTED\n$" + second + "~Second LAUNCHED\n$" + unknown +
                " CONNECTED\n[scrubbed] CONNECTED\n[scrubbed] NEW");
  EXPECT_EQ(orconnStatus({}, kConsensus), "");
  EXPECT_EQ(orconnStatus({{"not hex", true, false}}, ""), "[scrubbed] CONNECTED");
}

// STATUS_GENERAL DANGEROUS_VERSION: C tor's reasons for each verdict, none when recommended.
TEST(ControlEvents, DangerousVersion) {
  EXPECT_EQ(dangerousVersionEvent("0.4.9.11", "new", "0.4.8.1"),
            "650 STATUS_GENERAL WARN DANGEROUS_VERSION CURRENT=0.4.9.11 REASON=NEW "
            "RECOMMENDED=\"0.4.8.1\"\r\n");
  EXPECT_NE(dangerousVersionEvent("0.4.9.11", "new in series", "x")->find("REASON=NEW "),
            std::string::npos);
  EXPECT_NE(dangerousVersionEvent("0.4.9.11", "obsolete", "x")->find("REASON=OBSOLETE "),
            std::string::npos);
  EXPECT_NE(dangerousVersionEvent("0.4.9.11", "unrecommended", "x")->find("REASON=UNRECOMMENDED"),
            std::string::npos);
  EXPECT_EQ(dangerousVersionEvent("0.4.9.11", "recommended", "0.4.9.11"), std::nullopt);
  EXPECT_EQ(dangerousVersionEvent("0.4.9.11", "none recommended", ""), std::nullopt);
}

// Every option config/names lists is one onionsplit reads: a torrc line with it is never refused
// as unknown or as a C tor option onionsplit lacks (a value may still be refused).
TEST(ControlRelayInfo, ConfigNamesAreOptionsOnionsplitReads) {
  const std::string& names = configNames();
  size_t pos = 0, count = 0;
  while (pos < names.size()) {
    size_t end = names.find('\n', pos);
    ASSERT_NE(end, std::string::npos);
    std::string line = names.substr(pos, end - pos);
    pos = end + 1;
    std::string name = line.substr(0, line.find(' '));
    ++count;
    auto built = config::parseConfig(name + " 1\n");
    if (built) continue;
    for (const auto& e : built.error()) {
      EXPECT_EQ(e.message.find("unknown option"), std::string::npos) << line << ": " << e.message;
      EXPECT_EQ(e.message.find("does not implement"), std::string::npos)
          << line << ": " << e.message;
    }
  }
  EXPECT_GT(count, 60u);
  EXPECT_NE(names.find("\nExitPolicy LineList\n"), std::string::npos);
}

// config/defaults: every line names an option of config/names, and the whole list read as a torrc
// gives the configuration an empty torrc gives (the defaults are onionsplit's own).
TEST(ControlRelayInfo, ConfigDefaultsAreOnionsplitsDefaults) {
  const std::string& defaults = configDefaults();
  std::string torrc;
  size_t pos = 0, count = 0;
  while (pos < defaults.size()) {
    size_t end = defaults.find('\n', pos);
    ASSERT_NE(end, std::string::npos);
    std::string line = defaults.substr(pos, end - pos);
    pos = end + 1;
    ++count;
    size_t space = line.find(' ');
    std::string name = line.substr(0, space), quoted = line.substr(space + 1);
    ASSERT_TRUE(quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"') << line;
    std::string plain = name + " " + quoted.substr(1, quoted.size() - 2) + "\n";
    EXPECT_NE(configNames().find("\n" + name + " "), std::string::npos) << line;
    EXPECT_TRUE(config::parseConfig(plain)) << line;
    torrc += plain;
  }
  EXPECT_GT(count, 40u);
  EXPECT_NE(defaults.find("\nShutdownWaitLength \"30 seconds\"\n"), std::string::npos);
  auto all = config::parseConfig(torrc);
  auto none = config::parseConfig("");
  ASSERT_TRUE(all && none);
  const config::Config &a = all->config, &n = none->config;
  EXPECT_EQ(a.bandwidthRateBytes, n.bandwidthRateBytes);
  EXPECT_EQ(a.bandwidthBurstBytes, n.bandwidthBurstBytes);
  EXPECT_EQ(a.connLimit, n.connLimit);
  EXPECT_EQ(a.dataDirectory, n.dataDirectory);
  EXPECT_EQ(a.nickname, n.nickname);
  EXPECT_EQ(a.exitRelay, n.exitRelay);
  EXPECT_EQ(a.exitPolicyRejectPrivate, n.exitPolicyRejectPrivate);
  EXPECT_EQ(a.heartbeatPeriodSeconds, n.heartbeatPeriodSeconds);
  EXPECT_EQ(a.keepalivePeriodSeconds, n.keepalivePeriodSeconds);
  EXPECT_EQ(a.shutdownWaitLengthSeconds, n.shutdownWaitLengthSeconds);
  EXPECT_EQ(a.signingKeyLifetimeSeconds, n.signingKeyLifetimeSeconds);
  EXPECT_EQ(a.sandbox, n.sandbox);
  EXPECT_EQ(a.sandboxSyscalls, n.sandboxSyscalls);
  EXPECT_EQ(a.serverDnsDetectHijacking, n.serverDnsDetectHijacking);
  EXPECT_EQ(a.serverDnsResolvConfFile, n.serverDnsResolvConfFile);
  EXPECT_EQ(a.serverDnsTestAddresses, n.serverDnsTestAddresses);
  EXPECT_EQ(a.publishServerDescriptor, n.publishServerDescriptor);
  EXPECT_EQ(a.maxMemInQueuesBytes, n.maxMemInQueuesBytes);
  EXPECT_EQ(a.relayBandwidthRateBytes, n.relayBandwidthRateBytes);
  EXPECT_EQ(a.control.cookieAuthentication, n.control.cookieAuthentication);
}

}  // namespace
}  // namespace onionsplit::control
