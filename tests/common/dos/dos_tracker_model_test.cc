// Randomised model test for common/dos/dos_tracker: under arbitrary interleavings of connects,
// closes (including tickets of evicted entries), CREATEs, queue-limit hits, sweeps and clock
// moves, the table stays within its cap and every tracked address's connection count equals the
// connections opened on its current entry and not yet closed.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

#include "common/dos/dos_tracker.h"

namespace onionsplit::dos {
namespace {

TEST(DosTrackerModel, CountsMatchAModelAndTheCapHolds) {
  DosParams p;
  p.circEnabled = true;
  p.connEnabled = true;
  p.circMinConnections = 2;
  p.circBurst = 4;
  p.circRatePerSec = 1;
  p.connConnectRatePerSec = 1;
  p.connConnectBurst = 5;
  p.connConnectDefenseTimePeriodSec = 10;
  p.circDefenseTimePeriodSec = 20;
  constexpr size_t kCap = 16;
  constexpr uint32_t kAddrs = 48;
  std::mt19937_64 rng(20261206);
  DosTracker t(
      p, [&](uint32_t lo, uint32_t hi) { return lo + static_cast<uint32_t>(rng() % (hi - lo)); },
      {rng(), rng()}, kCap);
  std::vector<ConnTicket> live;
  std::map<uint32_t, uint64_t> currentGen;  // address index -> generation of its entry
  uint64_t now = 1;
  uint64_t recreated = 0;  // entries evicted or swept, then created again
  for (int step = 0; step < 200000; ++step) {
    // Half the operations go to four hot addresses (which get marked), half spread over all.
    const uint32_t ai = static_cast<uint32_t>(rng() % 2 ? rng() % 4 : rng() % kAddrs);
    const ClientAddr a = ClientAddr::v4(0x0a000000u + ai);
    switch (rng() % 8) {
      case 0:
      case 1:
        if (t.onConnectAttempt(a, now) == ConnDefense::kNone) {
          live.push_back(t.onConnectionOpened(a, now));
          auto [it, fresh] = currentGen.try_emplace(ai, live.back().generation);
          if (!fresh && it->second != live.back().generation) ++recreated;
          it->second = live.back().generation;
        }
        break;
      case 2:
      case 3:
        if (!live.empty()) {
          const size_t k = rng() % live.size();
          t.onConnectionClosed(live[k]);
          live[k] = live.back();
          live.pop_back();
        }
        break;
      case 4:
        t.noteCreateCell(a, rng() % 4 == 0, now);
        (void)t.createDefense(a, false, now);
        break;
      case 5:
        t.noteCircMaxQueue(a, false, now);
        break;
      case 6:
        now += rng() % 3;
        break;
      default:
        if (rng() % 64 == 0) t.sweep(now);
        break;
    }
    ASSERT_LE(t.size(), kCap);
    if (step % 97 != 0) continue;
    for (uint32_t i = 0; i < kAddrs; ++i) {
      const ClientAddr x = ClientAddr::v4(0x0a000000u + i);
      if (!t.tracks(x)) continue;
      uint32_t open = 0;
      for (const ConnTicket& tk : live) {
        if (tk.addr == x && tk.generation == currentGen[i]) ++open;
      }
      ASSERT_EQ(t.concurrentCount(x), open) << "address " << i << " step " << step;
    }
  }
  EXPECT_GT(recreated, 1000u);  // the cap and the sweeps were exercised, not just the counts
  EXPECT_GT(t.counters().markedAddress, 0u);
  EXPECT_GT(t.counters().connRejected, 0u);
}

}  // namespace
}  // namespace onionsplit::dos
