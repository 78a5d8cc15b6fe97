// channeld/net/consensus_fetcher.cc: see consensus_fetcher.h.
#include "channeld/net/consensus_fetcher.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>

#include "common/dirdoc/params.h"
#include "common/dirdoc/verify.h"

namespace onionsplit::channeld {
namespace {

// Bounds on what an authority may send: a consensus of today's network is about 3 MiB
// uncompressed; the certificates are at most dirdoc's bound.
constexpr size_t kMaxConsensusBytes = ConsensusCache::kMaxConsensusBytes;
constexpr int64_t kMaxRetrySeconds = 600;

int64_t systemNow() {
  return static_cast<int64_t>(std::time(nullptr));
}

}  // namespace

ConsensusFetcher::ConsensusFetcher(event_base* base, const config::Config& cfg,
                                   OnConsensus onConsensus, ConsensusCache* cache, Clock now)
    : cfg_(cfg),
      onConsensus_(std::move(onConsensus)),
      dir_(base),
      timer_(evtimer_new(base, &ConsensusFetcher::onTimer, this)),
      cache_(cache),
      now_(now ? std::move(now) : Clock(systemNow)) {}

ConsensusFetcher::~ConsensusFetcher() {
  event_free(timer_);
}

void ConsensusFetcher::scheduleNext() {
  uint32_t draw = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&draw), sizeof draw);
  schedule(secondsUntilNextFetch(*current_, now_(), draw));
}

void ConsensusFetcher::start() {
  if (!loadCache()) return schedule(0);
  scheduleNext();
}

bool ConsensusFetcher::loadCache() {
  auto docs = cache_ ? cache_->load() : std::nullopt;
  if (!docs) return false;
  auto certs = dirdoc::parseAuthorityCerts(docs->certs);
  if (!certs) {
    spdlog::info("consensus: the cached key certificates do not parse ({}); fetching",
                 certs.error().toString());
    return false;
  }
  certs_ = std::move(*certs);
  certsText_ = std::move(docs->certs);
  return adopt(docs->consensus, true);
}

int64_t ConsensusFetcher::secondsUntilNextFetch(const dirdoc::Consensus& c, int64_t nowUnix,
                                                uint64_t r) {
  int64_t window = std::max<int64_t>(0, (c.validUntilUnix - c.freshUntilUnix) / 2);
  int64_t at = c.freshUntilUnix + window * static_cast<int64_t>(r % 1000) / 1000;
  return std::max<int64_t>(1, at - nowUnix);
}

void ConsensusFetcher::onTimer(evutil_socket_t, short, void* self) {
  static_cast<ConsensusFetcher*>(self)->fetch();
}

void ConsensusFetcher::schedule(int64_t seconds) {
  timeval tv{static_cast<time_t>(seconds), 0};
  evtimer_add(timer_, &tv);
}

DirEndpoint ConsensusFetcher::endpoint() const {
  const auto& a = cfg_.dirAuthorities[next_ % cfg_.dirAuthorities.size()];
  return DirEndpoint{a.address, a.dirPort, a.nickname};
}

void ConsensusFetcher::fetch() {
  if (cfg_.dirAuthorities.empty()) return;
  dir_.get(endpoint(), "/tor/keys/all", dirdoc::kMaxCertsBytes,
           [this](const HttpResult& res) { gotCerts(res); });
}

void ConsensusFetcher::fail(const std::string& why) {
  ++counters_.failures;
  spdlog::warn("consensus: {} (from {}); trying again in {} s", why, endpoint().nickname, retry_);
  ++next_;
  schedule(retry_);
  retry_ = std::min(retry_ * 2, kMaxRetrySeconds);
}

void ConsensusFetcher::gotCerts(const HttpResult& res) {
  if (res.status != 200)
    return fail("key certificates: " + std::to_string(res.status) + " " + res.reason);
  auto certs = dirdoc::parseAuthorityCerts(res.body);
  if (!certs) return fail("key certificates: " + certs.error().toString());
  certs_ = std::move(*certs);
  certsText_ = res.body;
  dir_.get(endpoint(), "/tor/status-vote/current/consensus", kMaxConsensusBytes,
           [this](const HttpResult& r) { gotConsensus(r); });
}

void ConsensusFetcher::gotConsensus(const HttpResult& res) {
  if (res.status != 200) return fail("consensus: " + std::to_string(res.status) + " " + res.reason);
  ++counters_.fetched;
  if (!adopt(res.body, false)) return;
  retry_ = 60;
  scheduleNext();
}

bool ConsensusFetcher::adopt(const std::string& text, bool fromCache) {
  auto c = dirdoc::parseConsensus(text, {cfg_.testingTorNetwork});
  std::vector<dirdoc::V3Ident> authorities;
  for (const auto& a : cfg_.dirAuthorities)
    if (a.hasV3Identity) authorities.push_back(a.v3Identity);
  auto verdict = c ? dirdoc::verifyConsensus(*c, certs_, authorities, now_())
                   : dirdoc::DirResult<dirdoc::SignatureTally>(onionsplit::fail(c.error()));
  if (!verdict && fromCache) {
    spdlog::info("consensus: the cached one is not usable ({}); fetching",
                 verdict.error().toString());
    return false;
  }
  if (!verdict) {
    ++counters_.refused;
    fail("refused: " + verdict.error().toString() +
         (current_ ? "; the last good consensus stays in force" : ""));
    return false;
  }
  if (current_ && c->validAfterUnix <= current_->validAfterUnix) {
    spdlog::info("consensus: nothing newer than valid-after {} yet", current_->validAfterUnix);
    return true;
  }
  ++(fromCache ? counters_.cached : counters_.accepted);
  spdlog::info(
      "consensus: valid-after {} {} ({} of {} required signatures good, {} relays, {} "
      "parameters)",
      c->validAfterUnix, fromCache ? "in force from the cache" : "accepted", verdict->good,
      verdict->required, c->routers.size(), c->params.size());
  current_ = std::move(*c);
  if (!fromCache && cache_) cache_->store(certsText_, text);
  onConsensus_(*current_);
  return true;
}

void sendNetParams(proto::CircuitEntry::Client& entry, const dirdoc::Consensus& c) {
  std::vector<const dirdoc::NetParam*> allowed;
  for (const auto& p : c.params)
    if (allowed.size() < dirdoc::kMaxWireNetParams && dirdoc::isWireNetParamName(p.name))
      allowed.push_back(&p);
  auto req = entry.setNetParamsRequest();
  auto list = req.initParams(static_cast<unsigned>(allowed.size()));
  for (unsigned i = 0; i < allowed.size(); ++i) {
    list[i].setName(allowed[i]->name);
    list[i].setValue(allowed[i]->value);
  }
  req.send().detach([](kj::Exception&& e) {
    spdlog::info(
        "consensus: circuitd did not take the parameters ({}); it gets them again when "
        "it attaches",
        e.getDescription().cStr());
  });
}

void sendKnownRelays(proto::CircuitEntry::Client& entry, const dirdoc::Consensus& c) {
  size_t n = std::min(c.routers.size(), dirdoc::kMaxWireKnownRelays);
  auto req = entry.setKnownRelaysRequest();
  auto wire = req.initRelays(static_cast<unsigned>(n * 20));
  for (size_t i = 0; i < n; ++i)
    std::copy(c.routers[i].identity.begin(), c.routers[i].identity.end(), wire.begin() + i * 20);
  req.send().detach([](kj::Exception&& e) {
    spdlog::info("consensus: circuitd did not take the relay list ({})", e.getDescription().cStr());
  });
}

}  // namespace onionsplit::channeld
