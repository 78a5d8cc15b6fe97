// Tests for common/config/dos_options.h: C tor's DoS* options read with C tor's types (AUTOBOOL,
// POSINT, INT, INTERVAL), stored for common/dos to resolve, and refused with their line.
#include "common/config/dos_options.h"

#include <gtest/gtest.h>

#include "common/config/config.h"

namespace onionsplit::config {
namespace {

Config ok(const std::string& text) {
  auto r = parseConfig(text);
  EXPECT_TRUE(r) << (r ? "" : describe(r.error()));
  return r ? r->config : Config{};
}

TEST(DosOptions, AbsentMeansConsensusOrDefault) {
  Config c = ok("Nickname a\n");
  EXPECT_EQ(c.dos, dos::DosTorrc{});
  // Resolved with no consensus: C tor's built-in defaults (every defence off).
  dos::DosParams p = dos::resolve(c.dos, {});
  EXPECT_FALSE(p.circEnabled);
  EXPECT_FALSE(p.connEnabled);
  EXPECT_FALSE(p.streamEnabled);
  EXPECT_EQ(p.circBurst, 90u);
}

TEST(DosOptions, EveryOptionIsRead) {
  Config c =
      ok("DoSCircuitCreationEnabled 1\n"
         "DoSCircuitCreationMinConnections 2\n"
         "DoSCircuitCreationRate 5\n"
         "DoSCircuitCreationBurst 20\n"
         "DoSCircuitCreationDefenseType 1\n"
         "DoSCircuitCreationDefenseTimePeriod 10 minutes\n"
         "DoSConnectionEnabled 1\n"
         "DoSConnectionMaxConcurrentCount 50\n"
         "DoSConnectionDefenseType 2\n"
         "DoSConnectionConnectRate 7\n"
         "DoSConnectionConnectBurst 14\n"
         "DoSConnectionConnectDefenseTimePeriod 2 hours\n"
         "DoSRefuseSingleHopClientRendezvous 0\n"
         "DoSStreamCreationEnabled 1\n"
         "DoSStreamCreationRate 10\n"
         "DoSStreamCreationBurst 30\n"
         "DoSStreamCreationDefenseType 3\n");
  const dos::DosTorrc& d = c.dos;
  EXPECT_EQ(d.circuitCreationEnabled, true);
  EXPECT_EQ(d.circuitCreationMinConnections, 2u);
  EXPECT_EQ(d.circuitCreationRate, 5u);
  EXPECT_EQ(d.circuitCreationBurst, 20u);
  EXPECT_EQ(d.circuitCreationDefenseType, 1);
  EXPECT_EQ(d.circuitCreationDefenseTimePeriodSec, 600u);
  EXPECT_EQ(d.connectionEnabled, true);
  EXPECT_EQ(d.connectionMaxConcurrentCount, 50u);
  EXPECT_EQ(d.connectionDefenseType, 2);
  EXPECT_EQ(d.connectionConnectRate, 7u);
  EXPECT_EQ(d.connectionConnectBurst, 14u);
  EXPECT_EQ(d.connectionConnectDefenseTimePeriodSec, 7200u);
  EXPECT_EQ(d.refuseSingleHopClientRendezvous, false);
  EXPECT_EQ(d.streamCreationEnabled, true);
  EXPECT_EQ(d.streamCreationRate, 10u);
  EXPECT_EQ(d.streamCreationBurst, 30u);
  EXPECT_EQ(d.streamCreationDefenseType, 3);

  dos::DosParams p = dos::resolve(d, {});
  EXPECT_TRUE(p.circEnabled);
  EXPECT_EQ(p.circDefense, dos::CircDefense::kNone);
  EXPECT_EQ(p.circDefenseTimePeriodSec, 600u);
  EXPECT_EQ(p.connConnectDefenseTimePeriodSec, 7200u);
  EXPECT_EQ(p.streamDefense, dos::StreamDefense::kCloseCircuit);
}

TEST(DosOptions, AutoAndZeroLeaveItToTheConsensus) {
  Config c =
      ok("DoSCircuitCreationEnabled 1\nDoSCircuitCreationEnabled auto\n"
         "DoSCircuitCreationRate 0\nDoSConnectionDefenseType 0\n");
  EXPECT_FALSE(c.dos.circuitCreationEnabled.has_value()) << "a later auto undoes the 1";
  dos::ConsensusParams cons{{"DoSCircuitCreationEnabled", 1},
                            {"DoSCircuitCreationRate", 9},
                            {"DoSConnectionDefenseType", 1}};
  dos::DosParams p = dos::resolve(c.dos, cons);
  EXPECT_TRUE(p.circEnabled);
  EXPECT_EQ(p.circRatePerSec, 9u);
  EXPECT_EQ(p.connDefense, dos::ConnDefense::kNone);
  // A set torrc value wins over the consensus.
  Config t = ok("DoSCircuitCreationEnabled 0\nDoSCircuitCreationRate 4\n");
  dos::DosParams q = dos::resolve(t.dos, cons);
  EXPECT_FALSE(q.circEnabled);
  EXPECT_EQ(q.circRatePerSec, 4u);
}

TEST(DosOptions, CaseInsensitiveNamesAndSignedDefenseTypes) {
  Config c = ok("doscircuitcreationburst 12\nDoSStreamCreationDefenseType -1\n");
  EXPECT_EQ(c.dos.circuitCreationBurst, 12u);
  EXPECT_EQ(c.dos.streamCreationDefenseType, -1);
  EXPECT_EQ(dos::resolve(c.dos, {}).streamDefense, dos::StreamDefense::kNone)
      << "a type no defence has acts as none";
  EXPECT_EQ(ok("DoSConnectionMaxConcurrentCount 2147483647\n").dos.connectionMaxConcurrentCount,
            2147483647u);
}

TEST(DosOptions, BadValuesAreRefusedWithTheirLine) {
  const char* bad[] = {
      "DoSCircuitCreationEnabled yes\n",
      "DoSConnectionEnabled 2\n",
      "DoSStreamCreationEnabled\n",
      "DoSCircuitCreationRate -1\n",
      "DoSCircuitCreationBurst 2147483648\n",
      "DoSConnectionConnectRate many\n",
      "DoSStreamCreationDefenseType 1.5\n",
      "DoSCircuitCreationDefenseType 2147483648\n",
      "DoSCircuitCreationDefenseTimePeriod soon\n",
      "DoSConnectionConnectDefenseTimePeriod 1000000 weeks\n",
      "DoSSomethingElse 1\n",
  };
  for (const char* line : bad) {
    auto r = parseConfig(std::string("Nickname a\n") + line);
    ASSERT_FALSE(r) << line;
    ASSERT_EQ(r.error().size(), 1u) << line;
    EXPECT_EQ(r.error()[0].line, 2) << line;
    std::string name(line, std::string(line).find_first_of(" \n"));
    EXPECT_NE(describe(r.error()).find(name), std::string::npos) << describe(r.error());
  }
}

}  // namespace
}  // namespace onionsplit::config
