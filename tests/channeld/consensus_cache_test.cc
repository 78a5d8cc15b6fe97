// Tests for channeld/net/consensus_cache.h and the fetcher's start from the cache: a channeld that
// starts again with a good cached consensus follows it at once; a stale, torn or foreign cache
// costs a fetch and nothing else.
#include "channeld/net/consensus_cache.h"

#include <event2/event.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "channeld/net/consensus_fetcher.h"
#include "tests/common/dirdoc/dirdoc_data.h"

namespace onionsplit::channeld {
namespace {

namespace fs = std::filesystem;
namespace testdata = dirdoc::testdata;

class ConsensusCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/onionsplit-cache-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string torrc = testdata::readData("dirauthority-lines");
    torrc += "ORPort 9001\nNickname test\nTestingTorNetwork 1\n";
    auto cfg = config::parseConfig(torrc);
    ASSERT_TRUE(cfg);
    cfg_ = cfg->config;
    cfg_.dataDirectory = dir_;
    base_ = event_base_new();
  }
  void TearDown() override {
    event_base_free(base_);
    fs::remove_all(dir_);
  }
  // A fetcher on the cache at `now`; counts the consensuses it hands on.
  std::unique_ptr<ConsensusFetcher> fetcher(ConsensusCache& cache, int64_t now) {
    return std::make_unique<ConsensusFetcher>(
        base_, cfg_, [this](const dirdoc::Consensus&) { ++handedOn_; }, &cache,
        [now] { return now; });
  }
  int64_t liveNow() {
    auto c = dirdoc::parseConsensus(testdata::consensusText(), dirdoc::kTestnet);
    EXPECT_TRUE(c);
    return c ? c->validAfterUnix + 1 : 0;
  }

  std::string dir_;
  config::Config cfg_;
  event_base* base_ = nullptr;
  int handedOn_ = 0;
};

TEST_F(ConsensusCacheTest, StoredDocumentsComeBackAfterARestartUnderCtorsFileNames) {
  {
    ConsensusCache cache(dir_);
    ASSERT_TRUE(cache.usable());
    EXPECT_FALSE(cache.load()) << "empty files are no cache";
    ASSERT_TRUE(cache.store("certs v1, a longer text", "consensus v1, a longer text"));
    ASSERT_TRUE(cache.store("certs v2", "consensus v2"));  // shorter: truncated, not overlaid
  }
  EXPECT_TRUE(fs::exists(dir_ + "/cached-consensus"));
  EXPECT_TRUE(fs::exists(dir_ + "/cached-certs"));
  struct stat st {};
  ASSERT_EQ(stat((dir_ + "/cached-consensus").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ConsensusCache again(dir_);
  auto docs = again.load();
  ASSERT_TRUE(docs);
  EXPECT_EQ(docs->certs, "certs v2");
  EXPECT_EQ(docs->consensus, "consensus v2");
}

TEST_F(ConsensusCacheTest, AnUnwritableDirectoryOrAForeignFileTurnsTheCacheOff) {
  ConsensusCache missing(dir_ + "/no-such-directory");
  EXPECT_FALSE(missing.usable());
  EXPECT_FALSE(missing.load());
  EXPECT_FALSE(missing.store("a", "b"));
  fs::create_directory(dir_ + "/cached-consensus");  // not a regular file
  ConsensusCache foreign(dir_);
  EXPECT_FALSE(foreign.usable());
  fs::remove(dir_ + "/cached-consensus");
  fs::create_symlink("/etc/passwd", dir_ + "/cached-consensus");  // never followed
  ConsensusCache link(dir_);
  EXPECT_FALSE(link.usable());
}

TEST_F(ConsensusCacheTest, AGoodCachedConsensusIsInForceAtStart) {
  ConsensusCache cache(dir_);
  ASSERT_TRUE(cache.store(testdata::certsText(), testdata::consensusText()));
  auto f = fetcher(cache, liveNow());
  f->start();
  ASSERT_TRUE(f->current());
  EXPECT_EQ(handedOn_, 1);
  EXPECT_EQ(f->counters().cached, 1u);
  EXPECT_EQ(f->counters().refused, 0u);
  EXPECT_FALSE(f->current()->params.empty());
}

TEST_F(ConsensusCacheTest, AStaleOrTornOrForgedCacheCostsAFetchOnly) {
  ConsensusCache cache(dir_);
  std::string good = testdata::consensusText();
  auto parsed = dirdoc::parseConsensus(good, dirdoc::kTestnet);
  ASSERT_TRUE(parsed);
  ASSERT_TRUE(cache.store(testdata::certsText(), good));
  auto stale = fetcher(cache, parsed->validUntilUnix + 3600);
  stale->start();
  EXPECT_FALSE(stale->current());

  ASSERT_TRUE(cache.store(testdata::certsText(), good.substr(0, good.size() / 2)));  // torn
  auto torn = fetcher(cache, liveNow());
  torn->start();
  EXPECT_FALSE(torn->current());

  std::string forged = testdata::withoutSignature(testdata::withoutSignature(good, 0), 0);
  ASSERT_TRUE(cache.store(testdata::certsText(), forged));  // one signature of three
  auto underSigned = fetcher(cache, liveNow());
  underSigned->start();
  EXPECT_FALSE(underSigned->current());

  ASSERT_TRUE(cache.store("not certificates", good));
  auto badCerts = fetcher(cache, liveNow());
  badCerts->start();
  EXPECT_FALSE(badCerts->current());
  EXPECT_EQ(handedOn_, 0);
  // None of these counts as a refused fetched consensus: the cache is only a head start.
  for (auto* f : {stale.get(), torn.get(), underSigned.get(), badCerts.get()}) {
    EXPECT_EQ(f->counters().refused, 0u);
    EXPECT_EQ(f->counters().cached, 0u);
  }
}

}  // namespace
}  // namespace onionsplit::channeld
