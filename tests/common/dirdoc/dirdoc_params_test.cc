// Tests for common/dirdoc/params: C tor's defaults with no consensus, the real consensus' values
// (tests/data/dirdoc/, set by the authorities' ConsensusParams), and C tor's clamping.
#include "common/dirdoc/params.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/common/dirdoc/dirdoc_data.h"

namespace onionsplit::dirdoc {
namespace {

NetParams fromLine(std::vector<NetParam> params) {
  return resolveNetParams(params);
}

TEST(NetParams, TableIsWellFormed) {
  std::set<std::string_view> names;
  for (const ParamSpec& p : kNetParams) {
    EXPECT_TRUE(names.insert(p.name).second) << "repeated row " << p.name;
    EXPECT_LE(p.minValue, p.defaultValue) << p.name;
    EXPECT_LE(p.defaultValue, p.maxValue) << p.name;
    EXPECT_FALSE(p.readBy.empty()) << p.name;
    EXPECT_EQ(&paramSpec(p.id), &p);
  }
}

TEST(NetParams, MarkdownHasARowPerParameter) {
  std::string md = netParamsMarkdown();
  size_t rows = static_cast<size_t>(std::count(md.begin(), md.end(), '\n'));
  EXPECT_EQ(rows, kNumNetParams + 2);  // header and separator
  EXPECT_NE(md.find("| `cc_sendme_inc` | 31 | 1 | 254 |"), std::string::npos);
  EXPECT_NE(md.find("| `cc_cwnd_max` | INT32_MAX | 500 | INT32_MAX |"), std::string::npos);
}

TEST(NetParams, DefaultsWithoutAConsensus) {
  NetParams d;
  for (const ParamSpec& p : kNetParams) {
    EXPECT_EQ(d.get(p.id), p.defaultValue) << p.name;
    EXPECT_FALSE(d.fromConsensus(p.id));
  }
  // A few of C tor's defaults the daemons rely on.
  EXPECT_EQ(d.get(ParamId::kCcSendmeInc), 31);
  EXPECT_EQ(d.get(ParamId::kCcAlg), 2);
  EXPECT_EQ(d.get(ParamId::kCircwindow), 1000);
  EXPECT_EQ(d.get(ParamId::kCfxMaxLegsSet), 8);
  EXPECT_EQ(d.get(ParamId::kDosCcRate), 3);
  EXPECT_EQ(d.get(ParamId::kDosCcBurst), 90);
  EXPECT_EQ(d.get(ParamId::kRefuseUnknownExits), 1);
  NetParams empty = fromLine({});
  EXPECT_EQ(empty.get(ParamId::kCircMaxCellQueueSizeOut),
            empty.get(ParamId::kCircMaxCellQueueSize));
}

TEST(NetParams, RealConsensusValues) {
  auto c = parseConsensus(testdata::consensusText(), kTestnet);
  ASSERT_TRUE(c) << c.error().toString();
  NetParams p = resolveNetParams(c->params);
  // regenerate.py's ConsensusParams, as the authorities voted them.
  EXPECT_EQ(p.get(ParamId::kCcSendmeInc), 33);
  EXPECT_EQ(p.get(ParamId::kCircwindow), 900);
  EXPECT_EQ(p.get(ParamId::kCfxMaxLegsSet), 6);
  EXPECT_EQ(p.get(ParamId::kDosCcRate), 5);
  EXPECT_EQ(p.get(ParamId::kRefuseUnknownExits), 0);
  EXPECT_EQ(p.get(ParamId::kCfxEnabled), 1);
  EXPECT_TRUE(p.fromConsensus(ParamId::kCcSendmeInc));
  EXPECT_FALSE(p.clamped(ParamId::kCcSendmeInc));
  // cc_cwnd_init=10 is below C tor's minimum (31), cc_cwnd_full_minpct=150 above its maximum.
  EXPECT_EQ(p.get(ParamId::kCcCwndInit), 31);
  EXPECT_TRUE(p.clamped(ParamId::kCcCwndInit));
  EXPECT_EQ(p.get(ParamId::kCcCwndFullMinpct), 100);
  EXPECT_TRUE(p.clamped(ParamId::kCcCwndFullMinpct));
  // Not in the params line: C tor's default.
  EXPECT_EQ(p.get(ParamId::kCcCwndMin), 124);
  EXPECT_FALSE(p.fromConsensus(ParamId::kCcCwndMin));
}

TEST(NetParams, ClampingAsCtor) {
  NetParams p = fromLine({{"DoSCircuitCreationDefenseType", 7},
                          {"cc_sendme_inc", 0},
                          {"cfx_max_legs_set", 1},
                          {"circwindow", -5},
                          {"circwindow_typo", 1}});
  EXPECT_EQ(p.get(ParamId::kDosCcDefenseType), 2);
  EXPECT_EQ(p.get(ParamId::kCcSendmeInc), 1);
  EXPECT_EQ(p.get(ParamId::kCfxMaxLegsSet), 3);
  EXPECT_EQ(p.get(ParamId::kCircwindow), 100);
  EXPECT_EQ(fromLine({{"cc_sendme_inc", 255}}).get(ParamId::kCcSendmeInc), 254);
  EXPECT_EQ(fromLine({{"KISTSchedRunInterval", 0}}).get(ParamId::kKistSchedRunInterval), 0);
  EXPECT_EQ(fromLine({{"cc_cwnd_max", INT32_MIN}}).get(ParamId::kCcCwndMax), 500);
}

TEST(NetParams, WhereCtorDoesMoreThanClamp) {
  // Removed congestion control algorithms mean the default (Vegas); 0 stays 0.
  EXPECT_EQ(fromLine({{"cc_alg", 1}}).get(ParamId::kCcAlg), 2);
  EXPECT_EQ(fromLine({{"cc_alg", 3}}).get(ParamId::kCcAlg), 2);
  EXPECT_EQ(fromLine({{"cc_alg", 0}}).get(ParamId::kCcAlg), 0);
  EXPECT_EQ(fromLine({{"cc_alg", 9}}).get(ParamId::kCcAlg), 2);
  // The outbound queue limit follows the inbound one unless set.
  NetParams q = fromLine({{"circ_max_cell_queue_size", 4000}});
  EXPECT_EQ(q.get(ParamId::kCircMaxCellQueueSizeOut), 4000);
  q = fromLine({{"circ_max_cell_queue_size", 4000}, {"circ_max_cell_queue_size_out", 60}});
  EXPECT_EQ(q.get(ParamId::kCircMaxCellQueueSizeOut), 60);
  // Bounds that are other parameters.
  NetParams nf = fromLine({{"nf_ito_high", 100}, {"nf_ito_low", 2000}});
  EXPECT_EQ(nf.get(ParamId::kNfItoHigh), 2000);
  EXPECT_TRUE(nf.clamped(ParamId::kNfItoHigh));
  NetParams nfDefault = fromLine({{"nf_ito_low", 20000}});
  EXPECT_EQ(nfDefault.get(ParamId::kNfItoHigh), 20000);
  NetParams keys = fromLine({{"onion-key-rotation-days", 3}});
  EXPECT_EQ(keys.get(ParamId::kOnionKeyGracePeriodDays), 3);
  keys = fromLine({{"onion-key-rotation-days", 30}, {"onion-key-grace-period-days", 45}});
  EXPECT_EQ(keys.get(ParamId::kOnionKeyGracePeriodDays), 30);
}

}  // namespace
}  // namespace onionsplit::dirdoc
