// client/conflux_fetch.cc: see conflux_fetch.h.
#include "client/conflux_fetch.h"

#include <algorithm>
#include <string_view>

#include "common/cell/relay.h"

namespace onionsplit::client {

namespace {

using cell::RelayCmd;

constexpr uint8_t rcmd(RelayCmd c) {
  return static_cast<uint8_t>(c);
}

// What a C tor client with ConfluxClientUX throughput asks for.
constexpr uint8_t kClientUx = static_cast<uint8_t>(conflux::Ux::kHighThroughput);

}  // namespace

ConfluxFetch::ConfluxFetch(const conflux::Nonce& nonce, std::vector<conflux::LegId> legs,
                           FetchTarget target, bool clientSwitch)
    : init_(nonce, kClientUx,
            conflux::ConfluxParams{
                .maxLegsPerSet = 8, .maxOooqBytes = kMaxReorderBytes, .maxSets = 1}),
      legs_(std::move(legs)),
      target_(std::move(target)),
      clientSwitch_(clientSwitch && legs_.size() > 1),
      sha_(EVP_MD_CTX_new()) {
  for (auto l : legs_)
    stats_[l] = LegStats{};
  if (sha_ && EVP_DigestInit_ex(sha_.get(), EVP_sha256(), nullptr) != 1) sha_.reset();
}

std::optional<std::string> ConfluxFetch::fail(std::string why) {
  phase_ = Phase::kFailed;
  return why;
}

void ConfluxFetch::start(uint64_t nowUsec, std::vector<Send>& out) {
  for (auto leg : legs_) {
    cell::ConfluxLinkMsg link = init_.linkFor(leg, nowUsec);
    std::vector<uint8_t> body(cell::kRelayBodyMax);
    Writer w{MutBytes(body)};
    cell::encodeConfluxLink(link, w);
    body.resize(w.size());
    out.push_back(Send{leg, rcmd(RelayCmd::kConfluxLink), 0, std::move(body)});
  }
}

std::optional<std::string> ConfluxFetch::onMessage(conflux::LegId leg, uint8_t cmd,
                                                   uint16_t streamId, Bytes body, uint64_t nowUsec,
                                                   std::vector<Send>& out) {
  if (phase_ == Phase::kFailed) return std::string("the fetch already failed");
  auto st = stats_.find(leg);
  if (st == stats_.end()) return fail("a message on a circuit that is not one of our legs");
  if (cmd == rcmd(RelayCmd::kDrop)) return std::nullopt;  // long-range padding: nothing to do
  if (cmd == rcmd(RelayCmd::kConfluxLinked)) return onLinked(leg, body, nowUsec, out);
  if (!init_.controller().hasLeg(leg))
    return fail("relay command " + std::to_string(cmd) + " on a leg that is not linked");
  if (cmd == rcmd(RelayCmd::kConfluxSwitch)) {
    auto sw = cell::decodeConfluxSwitch(body);
    if (!sw) return fail(std::string("malformed SWITCH: ") + sw.error().field);
    if (init_.controller().onSwitch(leg, sw->relativeSeq).kind != conflux::Verdict::kOk)
      return fail("the exit's SWITCH was refused by the sequencing rules");
    ++st->second.switchesSeen;
    return std::nullopt;
  }
  if (!cell::isConfluxMultiplexed(cmd))
    return fail("relay command " + std::to_string(cmd) + " that an exit may not send here");
  if (cmd == rcmd(RelayCmd::kData)) ++st->second.dataCells;
  deliveries_.clear();
  auto v = init_.controller().onMultiplexed(leg, cmd, streamId, body, deliveries_);
  maxOoo_ = std::max(maxOoo_, init_.controller().oooQueueLength());
  if (v.kind != conflux::Verdict::kOk)
    return fail("the exit's cell broke the sequencing rules (reason " +
                std::to_string(static_cast<int>(v.reason)) + ")");
  for (const auto& d : deliveries_) {
    if (auto e = deliver(d, out)) return e;
  }
  return std::nullopt;
}

std::optional<std::string> ConfluxFetch::onLinked(conflux::LegId leg, Bytes body, uint64_t nowUsec,
                                                  std::vector<Send>& out) {
  auto r = init_.onLinkedBody(leg, body, nowUsec);
  if (r.verdict.kind != conflux::Verdict::kOk)
    return fail("the exit's LINKED failed the checks (wrong nonce, UX, unexpected or data loss)");
  stats_[leg].rttUsec = r.rttUsec;
  if (noAckLeg_ != leg) out.push_back(Send{leg, rcmd(RelayCmd::kConfluxLinkedAck), 0, {}});
  if (!init_.ready() || phase_ != Phase::kLinking) return std::nullopt;
  // The set is linked: open the stream through the scheduler.
  std::string target = target_.address + ":" + std::to_string(target_.port);
  std::vector<uint8_t> begin(target.begin(), target.end());
  begin.push_back(0);
  begin.insert(begin.end(), {0, 0, 0, 0});  // flags
  conflux::LegId sent = 0;
  if (auto e = sendMultiplexed(rcmd(RelayCmd::kBegin), std::move(begin), out, &sent)) return e;
  beginLeg_ = sent;
  phase_ = Phase::kBeginSent;
  if (clientSwitch_) {
    const auto* l = init_.controller().leg(sent);
    conflux::CcFacts f = l ? l->cc : conflux::CcFacts{};
    f.ewmaRttUsec = kSwitchAwayRttUsec;
    init_.controller().onLegState(sent, f);
  }
  return std::nullopt;
}

std::optional<std::string> ConfluxFetch::sendMultiplexed(uint8_t cmd, std::vector<uint8_t> body,
                                                         std::vector<Send>& out,
                                                         conflux::LegId* leg, uint16_t streamId) {
  conflux::SendPlan plan = init_.controller().send(cmd);
  if (plan.kind != conflux::SendPlan::kSend)
    return fail("the scheduler found no leg for relay command " + std::to_string(cmd));
  if (plan.switchSeq) {
    std::vector<uint8_t> sw(4);
    Writer w{MutBytes(sw)};
    cell::encodeConfluxSwitch(cell::ConfluxSwitchMsg{*plan.switchSeq}, w);
    out.push_back(Send{plan.leg, rcmd(RelayCmd::kConfluxSwitch), 0, std::move(sw)});
    ++stats_[plan.leg].switchesSent;
  }
  out.push_back(Send{plan.leg, cmd, streamId, std::move(body)});
  *leg = plan.leg;
  return std::nullopt;
}

std::optional<std::string> ConfluxFetch::openExtraStreams(uint16_t n, std::vector<Send>& out) {
  if (!linked()) return fail("extra streams before the set is linked");
  if (extraStreams_ != 0 || n == 0 || n > 4096) return fail("extra streams: once, 1 to 4096");
  std::string target = target_.address + ":" + std::to_string(target_.port);
  for (uint16_t i = 0; i < n; ++i) {
    std::vector<uint8_t> begin(target.begin(), target.end());
    begin.push_back(0);
    conflux::LegId sent = 0;
    if (auto e = sendMultiplexed(rcmd(RelayCmd::kBegin), std::move(begin), out, &sent,
                                 static_cast<uint16_t>(kFetchStreamId + 1 + i)))
      return e;
  }
  extraStreams_ = n;
  return std::nullopt;
}

std::optional<std::string> ConfluxFetch::resolve(const std::string& name, std::vector<Send>& out) {
  if (!linked() || resolveSent_) return fail("a RESOLVE before the set linked, or twice");
  if (name.empty() || name.size() > 255) return fail("a name to resolve of 1 to 255 bytes");
  std::vector<uint8_t> body(name.begin(), name.end());
  body.push_back(0);
  resolveSent_ = true;
  conflux::LegId sent = 0;
  return sendMultiplexed(rcmd(RelayCmd::kResolve), std::move(body), out, &sent, kResolveStreamId);
}

std::optional<std::string> ConfluxFetch::onResolved(const conflux::Delivery& d) {
  if (!resolveSent_ || resolved_ || d.cmd != rcmd(RelayCmd::kResolved))
    return fail("relay command " + std::to_string(d.cmd) + " on the RESOLVE's stream");
  auto m = cell::decodeResolved(d.body);
  if (!m) return fail("malformed RESOLVED");
  std::vector<std::string> answers;
  for (uint8_t i = 0; i < m->count; ++i) {
    const cell::ResolvedAnswer& a = m->answers[i];
    const uint8_t* v = a.value.data();
    if (a.type == cell::ResolvedAnswer::kIpv4 && a.value.size() == 4)
      answers.push_back("ipv4 " + std::to_string(v[0]) + "." + std::to_string(v[1]) + "." +
                        std::to_string(v[2]) + "." + std::to_string(v[3]));
    else if (a.type == cell::ResolvedAnswer::kHostname)
      answers.push_back("hostname " + std::string(a.value.begin(), a.value.end()));
    else
      answers.push_back("type " + std::to_string(a.type));
  }
  resolved_ = std::move(answers);
  return std::nullopt;
}

std::optional<std::string> ConfluxFetch::deliver(const conflux::Delivery& d,
                                                 std::vector<Send>& out) {
  if (d.streamId == kResolveStreamId) return onResolved(d);
  if (phase_ == Phase::kDone) return fail("a message on the stream after its END");
  if (d.streamId > kFetchStreamId && d.streamId <= kFetchStreamId + extraStreams_) {
    if (d.cmd == rcmd(RelayCmd::kConnected)) ++extraConnected_;
    if (d.cmd == rcmd(RelayCmd::kEnd)) ++extraEnds_[d.body.empty() ? 0 : d.body[0]];
    return std::nullopt;
  }
  if (d.streamId != kFetchStreamId)
    return fail("a message for stream " + std::to_string(d.streamId) + ", which we never opened");
  switch (static_cast<RelayCmd>(d.cmd)) {
    case RelayCmd::kConnected: {
      if (phase_ != Phase::kBeginSent) return fail("CONNECTED twice or out of order");
      if (!cell::decodeConnected(d.body)) return fail("malformed CONNECTED");
      std::string get =
          "GET " + target_.path + " HTTP/1.0\r\nHost: " + target_.address + "\r\n\r\n";
      if (get.size() > cell::kRelayBodyMax) return fail("the GET does not fit one cell");
      conflux::LegId sent = 0;
      if (auto e = sendMultiplexed(rcmd(RelayCmd::kData),
                                   std::vector<uint8_t>(get.begin(), get.end()), out, &sent))
        return e;
      getLeg_ = sent;
      phase_ = Phase::kGetSent;
      return std::nullopt;
    }
    case RelayCmd::kData:
      return onData(d.body);
    case RelayCmd::kEnd:
      return onEnd(d.body);
    case RelayCmd::kXon:
    case RelayCmd::kXoff:
      return std::nullopt;  // about our sending; we send one cell of data
    default:
      return fail("relay command " + std::to_string(d.cmd) + " on our stream");
  }
}

std::optional<std::string> ConfluxFetch::onData(Bytes data) {
  if (phase_ == Phase::kGetSent) {
    size_t room = kMaxHttpHeaderBytes - header_.size();
    size_t take = std::min(room, data.size());
    size_t old = header_.size();
    header_.append(reinterpret_cast<const char*>(data.data()), take);
    size_t end = header_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (header_.size() >= kMaxHttpHeaderBytes) return fail("an HTTP header over 16 KiB");
      return std::nullopt;
    }
    std::string_view status(header_.data(), header_.find("\r\n"));
    if (status.substr(0, 5) != "HTTP/" || status.find(" 200 ") == std::string_view::npos)
      return fail("HTTP status: " + std::string(status));
    phase_ = Phase::kBody;
    data = data.subspan(end + 4 - old);
  }
  if (phase_ != Phase::kBody) return fail("DATA before CONNECTED");
  if (data.size() > target_.expectBytes - bodyBytes_)
    return fail("more than the " + std::to_string(target_.expectBytes) + " bytes expected");
  if (!sha_ || EVP_DigestUpdate(sha_.get(), data.data(), data.size()) != 1)
    return fail("SHA-256 failed");
  bodyBytes_ += data.size();
  return std::nullopt;
}

std::optional<std::string> ConfluxFetch::onEnd(Bytes body) {
  auto end = cell::decodeEnd(body);
  if (!end) return fail("malformed END");
  if (phase_ != Phase::kBody)
    return fail("END (reason " + std::to_string(end->reason) + ") before the body");
  if (bodyBytes_ != target_.expectBytes)
    return fail("END after " + std::to_string(bodyBytes_) + " of " +
                std::to_string(target_.expectBytes) + " bytes");
  std::array<uint8_t, 32> got{};
  unsigned n = 0;
  if (!sha_ || EVP_DigestFinal_ex(sha_.get(), got.data(), &n) != 1 || n != 32)
    return fail("SHA-256 failed");
  if (got != target_.expectSha256) return fail("SHA-256 of the body differs from the expected");
  phase_ = Phase::kDone;
  return std::nullopt;
}

}  // namespace onionsplit::client
