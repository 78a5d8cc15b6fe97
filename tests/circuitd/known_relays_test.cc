// Tests for circuitd/core/known_relays.h: the relay list from the wire and the BEGIN rule.
#include "circuitd/core/known_relays.h"

#include <gtest/gtest.h>

#include <vector>

namespace onionsplit::circuitd {
namespace {

RelayId id(uint8_t b) {
  RelayId r;
  r.fill(b);
  return r;
}

TEST(KnownRelays, TheWireIsCheckedAndNeedNotBeSorted) {
  std::vector<uint8_t> wire;
  for (uint8_t b : {0x30, 0x10, 0x20})
    wire.insert(wire.end(), 20, b);
  auto k = KnownRelays::fromWire(Bytes(wire.data(), wire.size()));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->size(), 3u);
  for (uint8_t b : {0x10, 0x20, 0x30})
    EXPECT_TRUE(k->contains(id(b)));
  EXPECT_FALSE(k->contains(id(0x15)));
  wire.pop_back();
  EXPECT_FALSE(KnownRelays::fromWire(Bytes(wire.data(), wire.size())));
  std::vector<uint8_t> huge((kMaxKnownRelays + 1) * 20);
  EXPECT_FALSE(KnownRelays::fromWire(Bytes(huge.data(), huge.size())));
  auto empty = KnownRelays::fromWire(Bytes());
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size(), 0u);
}

TEST(KnownRelays, BeginGateFollowsCtor) {
  std::vector<uint8_t> wire(20, 0x42);
  auto k = KnownRelays::fromWire(Bytes(wire.data(), wire.size()));
  ASSERT_TRUE(k);
  std::optional<KnownRelays> known = *k, none;
  EXPECT_EQ(beginGate(std::nullopt, known, true), BeginGate::kRefuseClient);
  EXPECT_EQ(beginGate(std::nullopt, none, false), BeginGate::kRefuseClient);
  EXPECT_EQ(beginGate(id(0x42), known, true), BeginGate::kAllow);
  EXPECT_EQ(beginGate(id(0x43), known, true), BeginGate::kRefuseUnknownRelay);
  EXPECT_EQ(beginGate(id(0x43), known, false), BeginGate::kAllow);  // refuseunknownexits=0
  EXPECT_EQ(beginGate(id(0x43), none, true), BeginGate::kAllow);    // no consensus yet
}

}  // namespace
}  // namespace onionsplit::circuitd
