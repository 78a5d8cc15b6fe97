// Tests for common/conflux/params.h: the cfx_* consensus parameters an exit reads, clamped as C
// tor clamps them, and the contract's bounds on what circuitd forwards.
#include "common/conflux/params.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace onionsplit::conflux {
namespace {

using Wire = std::vector<std::pair<std::string_view, int32_t>>;

ConfluxParams local() {
  ConfluxParams p;
  p.maxOooqBytes = 2 * 1024 * 1024;  // confluxd's own cap
  p.maxSets = 77;
  return p;
}

TEST(ConfluxParams, WithoutTheParametersCtorsDefaultsAndOurCapsStay) {
  auto p = confluxParamsFromWire(Wire{}, local());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->enabled);
  EXPECT_EQ(p->maxLegsPerSet, 8u);
  EXPECT_EQ(p->maxOooqBytes, 2u * 1024 * 1024);  // C tor's INT32_MAX is over our cap
  EXPECT_EQ(p->maxSets, 77u);
  EXPECT_EQ(p->linkedAckTimeoutUsec, ConfluxParams{}.linkedAckTimeoutUsec);
}

TEST(ConfluxParams, TheExitsValuesAreTakenAndClampedToCtorsRanges) {
  auto p = confluxParamsFromWire(
      Wire{{"cfx_enabled", 0}, {"cfx_max_legs_set", 5}, {"cfx_max_oooq_bytes", 10000}}, local());
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->enabled);
  EXPECT_EQ(p->maxLegsPerSet, 5u);
  EXPECT_EQ(p->maxOooqBytes, 10000u);
  // conflux_params.c: cfx_max_legs_set 3..255, cfx_enabled 0..1, cfx_max_oooq_bytes 0..INT32_MAX.
  p = confluxParamsFromWire(
      Wire{{"cfx_enabled", 7}, {"cfx_max_legs_set", 1}, {"cfx_max_oooq_bytes", -1}}, local());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->enabled);
  EXPECT_EQ(p->maxLegsPerSet, 3u);
  EXPECT_EQ(p->maxOooqBytes, 0u);
  p = confluxParamsFromWire(Wire{{"cfx_max_legs_set", 100000}}, local());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->maxLegsPerSet, 255u);
}

TEST(ConfluxParams, ClientSideAndUnknownNamesChangeNothing) {
  auto p = confluxParamsFromWire(
      Wire{{"cfx_num_legs_set", 6}, {"cfx_max_linked_set", 1}, {"cfx_send_pct", 9}, {"zz", 1}},
      local());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->maxLegsPerSet, 8u);
  EXPECT_TRUE(p->enabled);
}

TEST(ConfluxParams, ACallPastTheContractIsRefused) {
  EXPECT_FALSE(confluxParamsFromWire(Wire{{"cfx-max-legs-set", 3}}, local()));
  EXPECT_FALSE(confluxParamsFromWire(Wire{{"", 3}}, local()));
  Wire many(257, {"cfx_max_legs_set", 3});
  EXPECT_FALSE(confluxParamsFromWire(many, local()));
  many.pop_back();
  EXPECT_TRUE(confluxParamsFromWire(many, local()));
}

}  // namespace
}  // namespace onionsplit::conflux
