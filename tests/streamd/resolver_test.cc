// Component test of streamd/net/resolver.h against real UDP nameservers on 127.0.0.1 (the test's
// DnsServer): with two nameservers of which one never answers, every lookup is answered (a
// timed-out attempt is retried at the other), only the silent one's timeouts grow, and the
// latency histogram counts every query once. Every wait is bounded.
#include "streamd/net/resolver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/streamd/dns_server.h"

namespace onionsplit::streamd {
namespace {

class ResolverTest : public ::testing::Test {
 protected:
  ResolverTest() : base(event_base_new()), good(base), silent(base) { silent.silent = true; }
  ~ResolverTest() override {
    resolver.reset();
    std::remove(resolvConf.c_str());
    event_base_free(base);
  }
  // A resolv.conf naming `servers`, in this order.
  void start(const std::vector<const DnsServer*>& servers) {
    char path[] = "/tmp/streamd_resolver_XXXXXX";
    int fd = mkstemp(path);
    resolvConf = path;
    std::string text;
    for (const auto* s : servers)
      text += "nameserver 127.0.0.1:" + std::to_string(s->port) + "\n";
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    resolver = std::make_unique<Resolver>(base, resolvConf);
  }
  // Looks up `names` (A only) at once and runs the loop until every answer is in, or 15 s.
  std::vector<DnsAnswer> lookupAll(const std::vector<std::string>& names) {
    std::vector<DnsAnswer> answers(names.size());
    size_t done = 0;
    for (size_t i = 0; i < names.size(); ++i)
      resolver->lookup(names[i], false, [&, i](const DnsAnswer& a) {
        answers[i] = a;
        ++done;
      });
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (done < names.size() && std::chrono::steady_clock::now() < until) {
      event_base_loop(base, EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(done, names.size());
    return answers;
  }
  // The histogram is consistent: cumulative buckets that never exceed its count.
  void expectHistogramCounts(uint64_t queries) {
    const LatencyHistogram& h = resolver->latency();
    EXPECT_EQ(h.count(), queries);
    EXPECT_EQ(h.count(), resolver->stats().queries);
    uint64_t previous = 0;
    for (size_t i = 0; i < LatencyHistogram::kBoundsUs.size(); ++i) {
      EXPECT_GE(h.atMost(i), previous);
      previous = h.atMost(i);
    }
    EXPECT_LE(previous, h.count());
  }

  event_base* base;
  DnsServer good, silent;
  std::string resolvConf;
  std::unique_ptr<Resolver> resolver;
};

TEST_F(ResolverTest, ASilentNameserversTimeoutsGrowAndTheOthersDoNot) {
  start({&silent, &good});
  ASSERT_EQ(resolver->nameservers(), 2u);
  EXPECT_EQ(resolver->nameserverAddress(0), "127.0.0.1:" + std::to_string(silent.port));
  EXPECT_EQ(resolver->nameserverAddress(1), "127.0.0.1:" + std::to_string(good.port));
  std::vector<std::string> names = {"echo.test", "a.test", "b.test", "c.test", "d.test", "e.test"};
  auto answers = lookupAll(names);
  // Every lookup has the good nameserver's answer: those first sent to the silent one were
  // retried there after their timeout.
  ASSERT_EQ(answers[0].error, DnsError::kNone);
  EXPECT_EQ(answers[0].ipv4.size(), 1u);
  for (size_t i = 1; i < answers.size(); ++i)
    EXPECT_EQ(answers[i].error, DnsError::kNonTransient) << names[i];  // NXDOMAIN
  const auto& quiet = resolver->rotation().counts(0);
  const auto& answering = resolver->rotation().counts(1);
  EXPECT_GT(silent.queries, 0);
  EXPECT_GT(quiet.timeouts, 0u);
  EXPECT_EQ(quiet.timeouts, quiet.attempts);  // each attempt there timed out
  EXPECT_EQ(answering.timeouts, 0u);
  // Each query: one attempt at the good one, plus one at the silent one if it started there.
  EXPECT_EQ(answering.attempts, names.size());
  EXPECT_EQ(quiet.attempts + answering.attempts, names.size() + quiet.timeouts);
  EXPECT_EQ(resolver->stats().queries, names.size());
  expectHistogramCounts(names.size());
  // One answer per query, however many attempts it took (tor_relay_exit_dns_error_total).
  uint64_t answersCounted = 0;
  for (const auto& [result, n] : resolver->stats().answersByResult)
    answersCounted += n;
  EXPECT_EQ(answersCounted, names.size());
}

TEST_F(ResolverTest, WithOnlyASilentNameserverBothAttemptsGoToItAndTheLookupFailsTransiently) {
  start({&silent});
  auto answers = lookupAll({"a.test", "b.test"});
  for (const auto& a : answers)
    EXPECT_EQ(a.error, DnsError::kTransient);
  EXPECT_EQ(resolver->rotation().counts(0).attempts, 4u);  // C tor's 2 attempts per query
  EXPECT_EQ(resolver->rotation().counts(0).timeouts, 4u);
  EXPECT_EQ(resolver->stats().answersByResult[8].first, "tor_timeout");
  EXPECT_EQ(resolver->stats().answersByResult[8].second, 2u);
  expectHistogramCounts(2);
}

// The consensus' exit_dns_num_attempts (streamd/core/net_params.h) applies to the queries sent
// after it: three sends of each query, then one.
TEST_F(ResolverTest, TheConsensusSetsTheAttemptsOfLaterQueries) {
  start({&silent});
  resolver->setAttempts(1, 3);
  EXPECT_EQ(resolver->attempts(), 3u);
  auto answers = lookupAll({"a.test"});
  EXPECT_EQ(answers[0].error, DnsError::kTransient);
  EXPECT_EQ(resolver->rotation().counts(0).attempts, 3u);
  resolver->setAttempts(1, 1);
  answers = lookupAll({"b.test"});
  EXPECT_EQ(answers[0].error, DnsError::kTransient);
  EXPECT_EQ(resolver->rotation().counts(0).attempts, 4u);
  EXPECT_EQ(resolver->rotation().counts(0).timeouts, 4u);
  resolver->setAttempts(0, 0);  // out of range: at least 1 s and one send
  EXPECT_EQ(resolver->attemptTimeoutSeconds(), 1u);
  EXPECT_EQ(resolver->attempts(), 1u);
}

TEST_F(ResolverTest, WithAnsweringNameserversNothingTimesOutAndTheyTakeTurns) {
  DnsServer other(base);
  start({&good, &other});
  auto answers = lookupAll({"a.test", "b.test", "c.test", "d.test"});
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(resolver->rotation().counts(i).attempts, 2u);
    EXPECT_EQ(resolver->rotation().counts(i).timeouts, 0u);
  }
  EXPECT_EQ(good.queries, 2);
  EXPECT_EQ(other.queries, 2);
  expectHistogramCounts(4);
}

}  // namespace
}  // namespace onionsplit::streamd
