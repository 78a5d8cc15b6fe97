// tests/common/config/layers_test.cc: C tor's configuration layers (layerTorrc): the defaults
// torrc under the torrc under the command line, as `tor --defaults-torrc D -f F --Key value`.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/config/torrc.h"

namespace onionsplit::config {
namespace {

std::vector<TorrcEntry> lines(std::initializer_list<std::pair<const char*, const char*>> kv) {
  std::vector<TorrcEntry> out;
  for (auto [k, v] : kv)
    out.push_back(TorrcEntry{k, v, 1, ""});
  return out;
}

std::string render(const std::vector<TorrcEntry>& es) {
  std::string s;
  for (const auto& e : es)
    s += e.key + " " + e.value + "\n";
  return s;
}

// Debian's tor@default: /usr/share/tor/tor-service-defaults-torrc, then /etc/tor/torrc, then
// --RunAsDaemon 0.
TEST(Layers, DebiansServiceArrangement) {
  auto defaults = lines({{"DataDirectory", "/var/lib/tor"},
                         {"RunAsDaemon", "1"},
                         {"User", "debian-tor"},
                         {"SocksPort", "unix:/run/tor/socks WorldWritable"},
                         {"SocksPort", "9050"},
                         {"Log", "notice syslog"}});
  auto torrc = lines({{"ORPort", "443"}, {"socksport", "0"}, {"ExitRelay", "1"}});
  auto cmd = lines({{"RunAsDaemon", "0"}});
  EXPECT_EQ(render(layerTorrc(defaults, torrc, cmd)),
            "DataDirectory /var/lib/tor\n"
            "User debian-tor\n"
            "Log notice syslog\n"
            "ORPort 443\n"
            "socksport 0\n"
            "ExitRelay 1\n"
            "RunAsDaemon 0\n");
}

TEST(Layers, CommandLineReplacesAddsAndClears) {
  auto torrc = lines({{"ExitPolicy", "accept *:80"},
                      {"ExitPolicy", "reject *:*"},
                      {"Log", "notice stderr"},
                      {"ContactInfo", "a@example"}});
  auto cmd = lines({{"ExitPolicy", "accept *:443"},
                    {"exitpolicy", "reject *:*"},
                    {"+Log", "info file /tmp/x.log"},
                    {"/ContactInfo", ""}});
  EXPECT_EQ(render(layerTorrc({}, torrc, cmd)),
            "Log notice stderr\n"
            "ExitPolicy accept *:443\n"
            "exitpolicy reject *:*\n"
            "Log info file /tmp/x.log\n");
}

TEST(Layers, NoLayersIsTheTorrc) {
  auto torrc = lines({{"Nickname", "x"}, {"ORPort", "9001"}});
  EXPECT_EQ(render(layerTorrc({}, torrc, {})), render(torrc));
}

}  // namespace
}  // namespace onionsplit::config
