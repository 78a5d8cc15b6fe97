// channeld/net/reachability.cc: see reachability.h.
#include "channeld/net/reachability.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <cstring>

#include "common/cell/cells.h"

namespace onionsplit::channeld {

namespace {

constexpr uint32_t kCircId = 0x80000001u;  // we opened the link: the high bit (tor-spec 5.1.1)
constexpr size_t kMaxInput = 64 * 1024;    // unparsed bytes: a few cells are all we expect

void randomBytes(MutBytes b) {
  RAND_bytes(b.data(), static_cast<int>(b.size()));
}

timeval tv(std::chrono::seconds s) {
  return timeval{static_cast<time_t>(s.count()), 0};
}

}  // namespace

struct ReachabilityTest::Attempt {
  std::string via;  // the relay's address, for the log
  std::unique_ptr<OutboundDialer> dialer;
  std::optional<OpenedChannel> channel;
  client::OriginCircuit circ{randomBytes};
  std::vector<uint8_t> in;
};

ReachabilityTest::ReachabilityTest(event_base* base, const LinkTlsContext& tls,
                                   client::RelayInfo self,
                                   std::function<std::optional<OutboundTarget>()> pick,
                                   std::function<void()> reachable, ReachabilityConfig config)
    : base_(base),
      tls_(tls),
      self_(self),
      pick_(std::move(pick)),
      reachable_cb_(std::move(reachable)),
      config_(config) {
  timer_ = evtimer_new(base_, &ReachabilityTest::onTimer, this);
  cleanup_ = event_new(base_, -1, 0, &ReachabilityTest::onCleanup, this);
}

ReachabilityTest::~ReachabilityTest() {
  current_.reset();
  finished_.reset();
  event_free(timer_);
  event_free(cleanup_);
}

std::string ReachabilityTest::selfText() const {
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, self_.ipv4.data(), ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(self_.orPort);
}

void ReachabilityTest::start() {
  started_ = std::chrono::steady_clock::now();
  spdlog::info(
      "Now checking whether IPv4 ORPort {} is reachable... (this may take up to 20 minutes -- "
      "look for log messages indicating success)",
      selfText());
  attempt();
}

void ReachabilityTest::assume(const std::string& why) {
  if (reachable_) return;
  spdlog::info("not testing ORPort {} for reachability: {}; publishing", selfText(), why);
  current_.reset();
  evtimer_del(timer_);
  reachable_ = true;
  if (reachable_cb_) reachable_cb_();
}

void ReachabilityTest::onTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ReachabilityTest*>(arg);
  if (self->current_)
    self->fail("no EXTENDED2 within " + std::to_string(self->config_.attemptTimeout.count()) +
               " s");
  else
    self->attempt();
}

void ReachabilityTest::onCleanup(evutil_socket_t, short, void* arg) {
  static_cast<ReachabilityTest*>(arg)->finished_.reset();
}

void ReachabilityTest::attempt() {
  if (reachable_ || current_) return;
  auto target = pick_ ? pick_() : std::nullopt;
  if (!target) {
    spdlog::debug("reachability: no relay to test through yet (no consensus)");
    timeval wait = tv(std::chrono::seconds(10));
    evtimer_add(timer_, &wait);
    return;
  }
  ++attempts_;
  current_ = std::make_unique<Attempt>();
  current_->via = target->ip + ":" + std::to_string(target->port);
  // A client's connection: no AUTHENTICATE, so the relay treats the circuit as a client's.
  current_->dialer = std::make_unique<OutboundDialer>(
      base_, tls_, InitiatorIdentity{}, config_.attemptTimeout, randomBytes,
      [] { return static_cast<int64_t>(std::time(nullptr)); });
  timeval deadline = tv(config_.attemptTimeout);
  evtimer_add(timer_, &deadline);
  current_->dialer->dial(*target,
                         [this](Expected<OpenedChannel, std::string> r) { opened(std::move(r)); });
}

void ReachabilityTest::opened(Expected<OpenedChannel, std::string> result) {
  if (!current_) return;
  if (!result) return fail("cannot connect: " + result.error());
  Attempt& a = *current_;
  a.channel.emplace(std::move(*result));
  a.in = a.channel->leftover;
  bufferevent* bev = a.channel->conn->bev();
  bufferevent_setcb(bev, &ReachabilityTest::onRead, nullptr, &ReachabilityTest::onEvent, this);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  auto create = a.circ.createFast();
  writeCell(static_cast<uint8_t>(cell::CellCmd::kCreateFast), Bytes(create));
  readCells();
}

void ReachabilityTest::onRead(bufferevent* bev, void* arg) {
  auto* self = static_cast<ReachabilityTest*>(arg);
  evbuffer* input = bufferevent_get_input(bev);
  while (self->current_ && evbuffer_get_length(input) > 0) {
    Attempt& a = *self->current_;
    size_t n = std::min(evbuffer_get_length(input), kMaxInput - std::min(a.in.size(), kMaxInput));
    if (n == 0) return self->fail("too much input");
    size_t old = a.in.size();
    a.in.resize(old + n);
    evbuffer_remove(input, a.in.data() + old, n);
    self->readCells();
  }
}

void ReachabilityTest::onEvent(bufferevent*, short what, void* arg) {
  auto* self = static_cast<ReachabilityTest*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) self->fail("the relay closed the connection");
}

void ReachabilityTest::readCells() {
  size_t off = 0;
  while (current_) {
    Attempt& a = *current_;
    auto c = cell::nextCell(Bytes(a.in).subspan(off), a.channel->info.linkVersion);
    if (!c) return fail(std::string("malformed cell: ") + c.error().field);
    if (!*c) break;
    off += (*c)->wireLen;
    if (!onCell((*c)->command, static_cast<uint32_t>((*c)->circId), (*c)->payload)) return;
  }
  if (current_)
    current_->in.erase(current_->in.begin(), current_->in.begin() + static_cast<long>(off));
}

bool ReachabilityTest::onCell(uint8_t command, uint32_t circId, Bytes payload) {
  Attempt& a = *current_;
  auto cmd = static_cast<cell::CellCmd>(command);
  if (cmd == cell::CellCmd::kPadding || cmd == cell::CellCmd::kVpadding ||
      cmd == cell::CellCmd::kPaddingNegotiate || cmd == cell::CellCmd::kVersions ||
      cmd == cell::CellCmd::kCerts || cmd == cell::CellCmd::kAuthChallenge ||
      cmd == cell::CellCmd::kNetinfo)
    return true;
  if (circId != kCircId) {
    fail("a cell for circuit " + std::to_string(circId) + ", which we never made");
    return false;
  }
  switch (cmd) {
    case cell::CellCmd::kCreatedFast: {
      if (auto e = a.circ.onCreatedFast(payload)) {
        fail(*e);
        return false;
      }
      std::array<uint8_t, cell::kCellPayloadLen> p{};
      if (!a.circ.extend(self_, crypto::RelayPayload(p))) {
        fail("cannot make the EXTEND2");
        return false;
      }
      writeCell(static_cast<uint8_t>(cell::CellCmd::kRelayEarly), Bytes(p));
      return true;
    }
    case cell::CellCmd::kRelay: {
      if (payload.size() != cell::kCellPayloadLen) {
        fail("short RELAY cell");
        return false;
      }
      std::array<uint8_t, cell::kCellPayloadLen> p{};
      std::memcpy(p.data(), payload.data(), p.size());
      client::Inbound in = a.circ.onRelay(crypto::RelayPayload(p));
      if (in.kind == client::Inbound::kExtended) {
        succeed();
      } else {
        fail(in.kind == client::Inbound::kError ? in.error : "a relay message before EXTENDED2");
      }
      return false;
    }
    case cell::CellCmd::kDestroy: {
      auto reason = cell::decodeDestroy(payload);
      fail("the relay destroyed the circuit (reason " +
           std::to_string(reason ? static_cast<int>(*reason) : -1) + ")");
      return false;
    }
    default:
      fail("unexpected cell command " + std::to_string(command));
      return false;
  }
}

void ReachabilityTest::writeCell(uint8_t command, Bytes payload) {
  Attempt& a = *current_;
  uint8_t buf[cell::kMaxCellLen];
  Writer w{MutBytes(buf)};
  cell::encodeFixedCell(w, a.channel->info.linkVersion, kCircId,
                        static_cast<cell::CellCmd>(command), payload);
  bufferevent_write(a.channel->conn->bev(), w.written().data(), w.written().size());
}

void ReachabilityTest::succeed() {
  std::string via = current_->via;
  std::array<uint8_t, cell::kCellPayloadLen> destroy{};  // reason 0: none
  writeCell(static_cast<uint8_t>(cell::CellCmd::kDestroy), Bytes(destroy));
  endAttempt();
  evtimer_del(timer_);
  reachable_ = true;
  spdlog::info(
      "Self-testing indicates your ORPort {} is reachable from the outside (through {}). "
      "Excellent. Publishing server descriptor.",
      selfText(), via);
  if (reachable_cb_) reachable_cb_();
}

void ReachabilityTest::fail(const std::string& why) {
  if (!current_) return;
  ++failures_;
  std::string via = current_->via;
  endAttempt();
  timeval wait = tv(config_.retryInterval);
  evtimer_del(timer_);
  evtimer_add(timer_, &wait);
  spdlog::warn(
      "ORPort {} not confirmed reachable through {}: {}; the descriptor is not published until "
      "it is (AssumeReachable 1 skips this test); trying again in {} s",
      selfText(), via, why, config_.retryInterval.count());
  if (!warned_ && std::chrono::steady_clock::now() - started_ >= config_.warnAfter) {
    warned_ = true;
    spdlog::warn(
        "Your server has not managed to confirm reachability for its ORPort(s) at {}. Relays do "
        "not publish descriptors until their ORPort and DirPort are reachable. Please check your "
        "firewalls, ports, address, /etc/hosts file, etc.",
        selfText());
  }
}

void ReachabilityTest::endAttempt() {
  if (!current_) return;
  if (current_->channel) bufferevent_disable(current_->channel->conn->bev(), EV_READ);
  finished_ = std::move(current_);  // freed on the next turn: we may be in its callback
  event_active(cleanup_, 0, 0);
}

}  // namespace onionsplit::channeld
