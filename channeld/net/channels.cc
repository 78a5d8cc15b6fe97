// channeld/net/channels.cc: see channels.h.
#include "channeld/net/channels.h"

#include "channeld/link/output_scheduler.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "channeld/net/link_tls.h"

namespace onionsplit::channeld {

using cell::CellCmd;

namespace {

// The shared token buckets for `rate` bytes per second and `burst`, refilled every 100 ms
// (libevent's per-tick values are ssize_t).
ev_token_bucket_cfg* makeBuckets(uint64_t rate, uint64_t burst) {
  constexpr uint64_t kMax = static_cast<uint64_t>(EV_RATE_LIMIT_MAX);
  auto perTick = static_cast<size_t>(std::clamp<uint64_t>(rate / 10, 1, kMax));
  auto max = static_cast<size_t>(std::clamp<uint64_t>(burst, perTick, kMax));
  timeval tick{0, 100000};
  return ev_token_bucket_cfg_new(perTick, max, perTick, max, &tick);
}
constexpr uint8_t kDestroyResourceLimit = 5;
// A DESTROY's payload with reason RESOURCELIMIT.
constexpr uint8_t kResourceLimitDestroy[509] = {kDestroyResourceLimit};
// With reason HIBERNATING: the relay is shutting down (SIGINT).
constexpr uint8_t kHibernatingDestroy[509] = {4};
}  // namespace

struct ChannelServer::Channel {
  ChannelServer* server = nullptr;
  ChannelId id = 0;
  std::unique_ptr<OrConnection> conn;
  std::unique_ptr<LinkResponder> responder;
  std::vector<uint8_t> in;  // unread input
  bool open = false;
  bool stalled = false;  // circuitd could not take a cell: not reading
  bool unread = false;   // our output reached kOutputCap: not reading until TLS takes it
  bool closing = false;
  bool outbound = false;  // we initiated the link (adoptOpen)
  int64_t lastWrite = 0;  // now_() of the last cell written (or of the open)
  event* deadline = nullptr;
  ChannelInfo info;
  std::optional<ChannelCircuits> circuits;  // from the moment the channel opens
  OutputScheduler out;                      // circuitd's cells waiting for TLS room
  flowctl::MemCharge charge;                // what it holds, against channeld's budget
  ~Channel() {
    if (deadline) event_free(deadline);
    // libevent takes a freed bufferevent out of its rate-limit group only on a later loop turn;
    // at shutdown there is none before the group goes (an abort in
    // bufferevent_rate_limit_group_free), so it leaves the group now.
    if (conn && conn->bev()) bufferevent_remove_from_rate_limit_group(conn->bev());
  }
};

namespace {

cell::NetAddress netAddress(const std::string& ip) {
  cell::NetAddress a;
  if (inet_pton(AF_INET, ip.c_str(), a.bytes.data()) == 1) {
    a.type = 4;
  } else if (inet_pton(AF_INET6, ip.c_str(), a.bytes.data()) == 1) {
    a.type = 6;
  }
  return a;
}

bool isHandshakeCell(uint8_t cmd) {
  switch (static_cast<CellCmd>(cmd)) {
    case CellCmd::kVersions:
    case CellCmd::kNetinfo:
    case CellCmd::kCerts:
    case CellCmd::kAuthChallenge:
    case CellCmd::kAuthenticate:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool isCircuitCell(uint8_t cmd) {
  switch (static_cast<CellCmd>(cmd)) {
    case CellCmd::kCreate:
    case CellCmd::kCreateFast:
    case CellCmd::kCreate2:
    case CellCmd::kRelay:
    case CellCmd::kRelayEarly:
    case CellCmd::kDestroy:
    case CellCmd::kCreated2:  // answers to our CREATE2 (ChannelCircuits drops any other)
    case CellCmd::kCreatedFast:
      return true;
    default:
      return false;
  }
}

ChannelServer::ChannelServer(event_base* base, ChannelServerConfig config, Hooks hooks,
                             std::function<void(MutBytes)> random, std::function<int64_t()> now)
    : base_(base),
      config_(std::move(config)),
      hooks_(std::move(hooks)),
      random_(std::move(random)),
      now_(std::move(now)),
      reaper_(event_new(base, -1, 0, &ChannelServer::onReap, this)),
      resumer_(event_new(base, -1, 0, &ChannelServer::onResume, this)),
      sweeper_(event_new(base, -1, EV_PERSIST, &ChannelServer::onSweep, this)),
      keepaliver_(event_new(base, -1, EV_PERSIST, &ChannelServer::onKeepalive, this)) {
  timeval tv{30, 0};
  event_add(sweeper_, &tv);
  // Checked five times a period (at least every second): a keepalive leaves at most a fifth late.
  timeval beat{std::max<time_t>(1, static_cast<time_t>(config_.keepalivePeriod.count() / 5)), 0};
  event_add(keepaliver_, &beat);
  bucketCfg_ = makeBuckets(config_.bandwidthRate, config_.bandwidthBurst);
  buckets_ = bucketCfg_ ? bufferevent_rate_limit_group_new(base, bucketCfg_) : nullptr;
}

void ChannelServer::setBandwidth(uint64_t rate, uint64_t burst) {
  config_.bandwidthRate = rate;
  config_.bandwidthBurst = burst;
  ev_token_bucket_cfg* fresh = makeBuckets(rate, burst);
  if (!fresh || !buckets_) {
    if (fresh) ev_token_bucket_cfg_free(fresh);
    return;
  }
  bufferevent_rate_limit_group_set_cfg(buckets_, fresh);  // copies it
  ev_token_bucket_cfg_free(bucketCfg_);
  bucketCfg_ = fresh;
}

ChannelServer::~ChannelServer() {
  channels_.clear();
  event_free(reaper_);
  event_free(resumer_);
  if (buckets_) bufferevent_rate_limit_group_free(buckets_);
  if (bucketCfg_) ev_token_bucket_cfg_free(bucketCfg_);
  event_free(sweeper_);
  event_free(keepaliver_);
}

void ChannelServer::onKeepalive(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ChannelServer*>(arg);
  int64_t now = self->now_();
  static const std::array<uint8_t, cell::kCellPayloadLen> kZeros{};
  for (auto& [id, ch] : self->channels_) {
    if (!ch->open || ch->closing || !ch->conn || !ch->conn->bev()) continue;
    if (evbuffer_get_length(bufferevent_get_output(ch->conn->bev())) != 0) continue;
    if (now - ch->lastWrite < self->config_.keepalivePeriod.count()) continue;
    self->writeCell(*ch, 0, static_cast<uint8_t>(CellCmd::kPadding), Bytes(kZeros));
  }
}

void ChannelServer::onSweep(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ChannelServer*>(arg);
  int64_t now = self->now_();
  for (auto& [id, ch] : self->channels_)
    if (ch->open && !ch->closing && ch->circuits->idle(now)) self->closeLater(id, "idle");
}

size_t ChannelServer::openChannels() const {
  return static_cast<size_t>(std::count_if(channels_.begin(), channels_.end(),
                                           [](const auto& kv) { return kv.second->open; }));
}

namespace {
size_t familyIndex(const std::string& ip) {
  return ip.find(':') == std::string::npos ? 0 : 1;
}
}  // namespace

ChannelServer::ConnectionTally ChannelServer::connectionTally() const {
  ConnectionTally t;
  t.created = created_;
  for (const auto& [id, ch] : channels_)
    ++t.open[ch->outbound ? 1 : 0][familyIndex(ch->info.address.ip)];
  return t;
}

void ChannelServer::forEachOpen(const std::function<void(ChannelId, const ChannelInfo&)>& f) const {
  for (const auto& [id, ch] : channels_)
    if (ch->open && !ch->closing) f(id, ch->info);
}

void ChannelServer::forEachChannel(
    const std::function<void(const ChannelInfo&, bool open)>& f) const {
  for (const auto& [id, ch] : channels_)
    if (!ch->closing) f(ch->info, ch->open);
}

size_t ChannelServer::stalledChannels() const {
  return static_cast<size_t>(std::count_if(channels_.begin(), channels_.end(),
                                           [](const auto& kv) { return kv.second->stalled; }));
}

void ChannelServer::setHibernation(bool refuseCircuits, bool closeChannels) {
  hibernating_ = refuseCircuits || closeChannels;
  dormant_ = closeChannels;
  if (!dormant_) return;
  for (const auto& [id, ch] : channels_)
    if (!ch->closing) closeLater(id, "hibernating (AccountingMax reached)");
}

void ChannelServer::accept(std::unique_ptr<OrConnection> conn) {
  if (dormant_) return;  // hard hibernation: the connection closes as it goes
  auto ch = std::make_unique<Channel>();
  ch->server = this;
  ch->id = next_++;
  ch->charge = flowctl::MemCharge(memory_);
  ch->info.address = conn->peer();
  bufferevent* bev = conn->bev();
  if (buckets_) bufferevent_add_to_rate_limit_group(bev, buckets_);
  ssl_st* ssl = bufferevent_openssl_get_ssl(bev);
  ResponderSetup s;
  s.certs = config_.certs;
  random_(MutBytes(s.challenge));
  s.ourRsaIdSha256 = config_.ourRsaIdSha256;
  s.ourEdId = config_.ourEdId;
  s.ourTlsCertSha256 = config_.ourTlsCertSha256;
  s.tlsSecrets = [ssl](const std::array<uint8_t, 32>& cid) {
    return authTlsSecrets(ssl, Bytes(cid));
  };
  s.peerAddress = netAddress(ch->info.address.ip);
  s.ourAddresses = config_.ourAddresses;
  s.nowUnix = now_();
  ch->responder = std::make_unique<LinkResponder>(std::move(s));
  ch->conn = std::move(conn);
  ch->deadline = evtimer_new(base_, &ChannelServer::onDeadline, ch.get());
  timeval tv{static_cast<time_t>(config_.handshakeTimeout.count()), 0};
  evtimer_add(ch->deadline, &tv);
  bufferevent_setcb(bev, &ChannelServer::onRead, &ChannelServer::onWrite, &ChannelServer::onEvent,
                    ch.get());
  bufferevent_setwatermark(bev, EV_WRITE, kOutputLowWater, 0);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  ++created_[0][familyIndex(ch->info.address.ip)];
  channels_.emplace(ch->id, std::move(ch));
}

ChannelId ChannelServer::adoptOpen(std::unique_ptr<OrConnection> conn, ChannelInfo info,
                                   std::vector<uint8_t> leftover) {
  auto ch = std::make_unique<Channel>();
  ch->server = this;
  ch->id = next_++;
  ch->charge = flowctl::MemCharge(memory_);
  ch->info = std::move(info);
  ch->in = std::move(leftover);
  ch->open = true;
  ch->outbound = true;
  ch->lastWrite = now_();
  ch->circuits.emplace(config_.maxCircuitsPerChannel, config_.idleTimeout.count(), now_());
  bufferevent* bev = conn->bev();
  if (buckets_) bufferevent_add_to_rate_limit_group(bev, buckets_);
  ch->conn = std::move(conn);
  bufferevent_setcb(bev, &ChannelServer::onRead, &ChannelServer::onWrite, &ChannelServer::onEvent,
                    ch.get());
  bufferevent_setwatermark(bev, EV_WRITE, kOutputLowWater, 0);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  Channel& c = *ch;
  ++created_[1][familyIndex(c.info.address.ip)];
  channels_.emplace(c.id, std::move(ch));
  ++handshakes_;
  if (auto tail = logTail(c.info.address.ip))
    spdlog::info("channel {} open to {} (link {}, outbound){}", c.id, c.info.address.ip,
                 c.info.linkVersion, *tail);
  if (hooks_.opened) hooks_.opened(c.id, c.info);
  // Input that arrived while the channel changed hands.
  if (!c.closing && evbuffer_get_length(bufferevent_get_input(bev)) > 0)
    onRead(bev, &c);
  else if (!c.closing)
    process(c);
  return c.id;
}

void ChannelServer::onRead(bufferevent* bev, void* arg) {
  auto* ch = static_cast<Channel*>(arg);
  if (ch->closing) return;
  evbuffer* input = bufferevent_get_input(bev);
  size_t room = ch->server->config_.maxInputBytes -
                std::min(ch->in.size(), ch->server->config_.maxInputBytes);
  size_t n = std::min(evbuffer_get_length(input), room);
  size_t old = ch->in.size();
  ch->in.resize(old + n);
  evbuffer_remove(input, ch->in.data() + old, n);
  ChannelServer& server = *ch->server;
  if (server.buckets_ && bufferevent_rate_limit_group_get_read_limit(server.buckets_) <= 0)
    ++server.readLimitReached_;
  server.process(*ch);
}

void ChannelServer::onWrite(bufferevent* bev, void* arg) {
  auto* ch = static_cast<Channel*>(arg);
  if (ch->closing) return;
  if (ch->open) ch->server->drain(*ch);
  if (ch->unread && evbuffer_get_length(bufferevent_get_output(bev)) < kOutputCap) {
    ch->unread = false;
    if (!ch->stalled) bufferevent_enable(bev, EV_READ);
    onRead(bev, ch);  // what arrived before reading stopped, then the rest of `in`
  }
}

bool ChannelServer::queueCell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload,
                              flowctl::CreditToken credit) {
  auto it = channels_.find(id);
  if (it == channels_.end() || !it->second->open || it->second->closing) return false;
  Channel& ch = *it->second;
  if (!ch.out.push(circId, command, payload, std::move(credit)))
    return false;  // beyond circuitd's credit
  drain(ch);
  return true;
}

void ChannelServer::drain(Channel& ch) {
  bufferevent* bev = ch.conn->bev();
  while (evbuffer_get_length(bufferevent_get_output(bev)) < kOutputFill) {
    const OutputScheduler::Cell* c = ch.out.peek();
    if (!c) break;
    uint32_t circId = c->circId;
    if (ch.circuits->toPeer(c->command, circId, now_()))
      writeCell(ch, circId, c->command, Bytes(c->payload));
    ch.out.pop();
    if (hooks_.sent) hooks_.sent(ch.id, circId);
  }
  if (buckets_ && evbuffer_get_length(bufferevent_get_output(bev)) > 0 &&
      bufferevent_rate_limit_group_get_write_limit(buckets_) <= 0)
    ++writeLimitReached_;
  recount(ch);
}

void ChannelServer::recount(Channel& ch) {
  if (ch.closing || !ch.conn || !ch.conn->bev()) return ch.charge.set(0);  // going: freed soon
  bufferevent* bev = ch.conn->bev();
  ch.charge.set(ch.in.capacity() + evbuffer_get_length(bufferevent_get_input(bev)) +
                evbuffer_get_length(bufferevent_get_output(bev)) +
                ch.out.size() * sizeof(OutputScheduler::Cell));
  if (memory_.over() && overBudget_) overBudget_();
}

uint64_t ChannelServer::handleOom() {
  if (!memory_.over()) return 0;  // drained since it was scheduled
  uint64_t before = memory_.bytes();
  // A channel's input buffer keeps the capacity it once needed (up to maxInputBytes while
  // circuitd was slow); an empty one gives it back without costing anyone anything.
  for (auto& [id, ch] : channels_) {
    if (ch->closing || !ch->in.empty() || ch->in.capacity() == 0) continue;
    std::vector<uint8_t>().swap(ch->in);
    recount(*ch);
  }
  oomCandidates_.clear();
  for (const auto& [id, ch] : channels_)
    if (!ch->closing && ch->charge.held() > 0)
      oomCandidates_.push_back({ch->charge.held(), ch->charge.held(), static_cast<size_t>(id), id});
  size_t n = flowctl::chooseOomVictims(oomCandidates_, memory_.bytes(), memory_.lowWater());
  for (size_t i = 0; i < n; ++i) {
    ++oomChannelsClosed_;
    closeLater(oomCandidates_[i].ref, "over channeld's memory budget (MaxMemInQueues)");
  }
  uint64_t freed = before - std::min(before, memory_.bytes());
  oomBytesFreed_ += freed;
  return freed;
}

std::optional<uint32_t> ChannelServer::originateCircuit(ChannelId id) {
  auto it = channels_.find(id);
  if (it == channels_.end() || !it->second->open || it->second->closing) return std::nullopt;
  Channel& ch = *it->second;
  return ch.circuits->originate(
      ch.outbound,
      [this] {
        std::array<uint8_t, 4> r{};
        random_(MutBytes(r));
        return (uint32_t{r[0]} << 24) | (uint32_t{r[1]} << 16) | (uint32_t{r[2]} << 8) | r[3];
      },
      now_());
}

size_t ChannelServer::dropQueued(ChannelId id, uint32_t circId) {
  auto it = channels_.find(id);
  return it == channels_.end() ? 0 : it->second->out.drop(circId);
}

size_t ChannelServer::outputBytes(ChannelId id) const {
  auto it = channels_.find(id);
  if (it == channels_.end()) return 0;
  return evbuffer_get_length(bufferevent_get_output(it->second->conn->bev()));
}

void ChannelServer::onEvent(bufferevent*, short what, void* arg) {
  auto* ch = static_cast<Channel*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    ch->server->closeLater(ch->id, what & BEV_EVENT_EOF ? "peer closed" : "TLS or socket error");
}

void ChannelServer::onDeadline(evutil_socket_t, short, void* arg) {
  auto* ch = static_cast<Channel*>(arg);
  if (!ch->open) ch->server->closeLater(ch->id, "link handshake took too long");
}

void ChannelServer::process(Channel& ch) {
  size_t off = 0;
  std::vector<uint8_t> out;
  evbuffer* output = bufferevent_get_output(ch.conn->bev());
  while (!ch.closing && !ch.stalled) {
    if (evbuffer_get_length(output) >= kOutputCap) {
      ch.unread = true;
      ++outputCapReached_;
      break;
    }
    Bytes rest(ch.in.data() + off, ch.in.size() - off);
    uint16_t version = ch.open ? ch.info.linkVersion : ch.responder->linkVersion();
    auto next = cell::nextCell(rest, version);
    if (!next) {
      closeLater(ch.id, "malformed cell framing");
      break;
    }
    if (!*next) break;
    const cell::CellView& c = **next;
    Bytes raw = rest.subspan(0, c.wireLen);
    if (!ch.open) {
      auto step = ch.responder->onCell(c, raw, out);
      if (!out.empty()) {
        bufferevent_write(ch.conn->bev(), out.data(), out.size());
        out.clear();
      }
      if (step.verdict == LinkResponder::Verdict::kClose) {
        ++failures_;
        closeLater(ch.id, "link handshake: " + step.why);
        break;
      }
      off += c.wireLen;
      if (step.verdict == LinkResponder::Verdict::kOpen) {
        ch.open = true;
        ch.lastWrite = now_();
        ++handshakes_;
        ch.info.linkVersion = ch.responder->linkVersion();
        ch.info.peer = ch.responder->peer();
        ch.circuits.emplace(config_.maxCircuitsPerChannel, config_.idleTimeout.count(), now_());
        event_del(ch.deadline);
        if (auto tail = logTail(ch.info.address.ip))
          spdlog::info("channel {} open with {} (link {}, {}){}", ch.id, ch.info.address.ip,
                       ch.info.linkVersion, ch.info.peer ? "relay" : "client", *tail);
        if (hooks_.opened) hooks_.opened(ch.id, ch.info);
      }
      continue;
    }
    if (!handleOpenCell(ch, c)) break;  // stalled (the cell stays) or closing
    off += c.wireLen;
  }
  ch.in.erase(ch.in.begin(), ch.in.begin() + static_cast<long>(off));
  if (ch.stalled || ch.unread || ch.in.size() >= config_.maxInputBytes)
    bufferevent_disable(ch.conn->bev(), EV_READ);
  recount(ch);
}

bool ChannelServer::handleOpenCell(Channel& ch, const cell::CellView& c) {
  if (isHandshakeCell(c.command)) {
    closeLater(ch.id, "handshake cell " + std::to_string(c.command) + " on an open channel");
    return false;
  }
  if (!isCircuitCell(c.command)) return true;  // padding, PADDING_NEGOTIATE, unknown: consumed
  if (c.circId == 0) {
    closeLater(ch.id, "circuit cell with circuit id 0");
    return false;
  }
  auto circId = static_cast<uint32_t>(c.circId);
  bool create = c.command == static_cast<uint8_t>(CellCmd::kCreate) ||
                c.command == static_cast<uint8_t>(CellCmd::kCreateFast) ||
                c.command == static_cast<uint8_t>(CellCmd::kCreate2);
  if (create && hooks_.createSeen) hooks_.createSeen(ch.info);
  switch (ch.circuits->fromPeer(c.command, circId, now_())) {
    case ChannelCircuits::Decision::kDrop:
      return true;
    case ChannelCircuits::Decision::kRefuseCreate:
      writeCell(ch, circId, static_cast<uint8_t>(CellCmd::kDestroy), Bytes(kResourceLimitDestroy));
      return true;
    case ChannelCircuits::Decision::kForward:
      break;
  }
  const bool stopping = refusingCircuits_ || hibernating_;
  if (create && (stopping || (hooks_.refuseCreate && hooks_.refuseCreate(ch.info)))) {
    // C tor (command_process_create_cell): DESTROY, the circuit never exists; HIBERNATING while
    // the relay shuts down or hibernates, RESOURCELIMIT from the DoS defence.
    (void)ch.circuits->toPeer(static_cast<uint8_t>(CellCmd::kDestroy), circId, now_());
    writeCell(ch, circId, static_cast<uint8_t>(CellCmd::kDestroy),
              Bytes(stopping ? kHibernatingDestroy : kResourceLimitDestroy));
    ++(refusingCircuits_ ? shutdownRefusedCreates_
       : hibernating_    ? hibernatingRefusedCreates_
                         : dosRefusedCreates_);
    return true;
  }
  if (hooks_.cell && !hooks_.cell(ch.id, circId, c.command, c.payload)) {
    // Not taken: the cell stays and is offered again on resume(). A CREATE's circuit is forgotten
    // (it is counted again then, by the DoS defence too); any other cell's circuit stays open:
    // forgetting it would drop every later cell of a live circuit toward the peer.
    if (create) (void)ch.circuits->toPeer(static_cast<uint8_t>(CellCmd::kDestroy), circId, now_());
    ch.stalled = true;
    return false;
  }
  return true;
}

void ChannelServer::resumeSoon() {
  event_active(resumer_, 0, 0);
}

void ChannelServer::onResume(evutil_socket_t, short, void* arg) {
  static_cast<ChannelServer*>(arg)->resume();
}

void ChannelServer::resume() {
  for (auto& [id, ch] : channels_) {
    if (!ch->stalled || ch->closing) continue;
    ch->stalled = false;
    if (!ch->unread) bufferevent_enable(ch->conn->bev(), EV_READ);
    process(*ch);
  }
}

bool ChannelServer::sendCell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload) {
  auto it = channels_.find(id);
  if (it == channels_.end() || !it->second->open || it->second->closing) return false;
  Channel& ch = *it->second;
  if (!ch.circuits->toPeer(command, circId, now_())) return true;  // the peer destroyed it
  return writeCell(ch, circId, command, payload);
}

bool ChannelServer::writeCell(Channel& ch, uint32_t circId, uint8_t command, Bytes payload) {
  uint8_t buf[cell::kMaxVarCellPayloadLen + 8];
  Writer w{MutBytes(buf)};
  uint16_t v = ch.info.linkVersion;
  bool ok = cell::isVariableLength(command)
                ? cell::encodeVarCell(w, v, circId, static_cast<CellCmd>(command), payload)
                : cell::encodeFixedCell(w, v, circId, static_cast<CellCmd>(command), payload);
  if (!ok) return false;
  ch.lastWrite = now_();
  evbuffer* out = bufferevent_get_output(ch.conn->bev());
  // The TLS bufferevent makes one SSL_write, so one TLS record and one write(2), of each chunk of
  // its output buffer; left to itself libevent makes those chunks 1 to 4 KiB. A burst that starts
  // on an empty buffer gets a chunk of a full record, and libevent keeps that size for the
  // chunks after it, so a burst of cells leaves in records of kTlsRecordBytes.
  if (evbuffer_get_length(out) == 0) evbuffer_expand(out, kTlsRecordBytes);
  evbuffer_add(out, w.written().data(), w.written().size());
  return true;
}

size_t ChannelServer::destroyAllCircuits(uint8_t reason) {
  uint8_t payload[cell::kCellPayloadLen] = {reason};
  size_t n = 0;
  for (auto& [id, ch] : channels_) {
    if (!ch->open || ch->closing) continue;
    ch->out.clear();
    for (uint32_t circId : ch->circuits->takeAll(now_())) {
      writeCell(*ch, circId, static_cast<uint8_t>(CellCmd::kDestroy), Bytes(payload));
      ++n;
    }
  }
  return n;
}

void ChannelServer::close(ChannelId id, const std::string& why) {
  closeLater(id, why);
}

void ChannelServer::closeLater(ChannelId id, const std::string& why) {
  auto it = channels_.find(id);
  if (it == channels_.end() || it->second->closing) return;
  Channel& ch = *it->second;
  ch.closing = true;
  ch.charge.set(0);  // freed on the reaper's turn; counting it until then would close others
  if (auto tail = logTail(ch.info.address.ip))
    spdlog::info("channel {} with {} closed: {}{}", id, ch.info.address.ip, why, *tail);
  bufferevent_disable(ch.conn->bev(), EV_READ | EV_WRITE);
  if (ch.open && hooks_.closed) hooks_.closed(id);
  // Destroyed on a later loop turn: we may be inside one of its bufferevent callbacks.
  event_active(reaper_, 0, 0);
}

void ChannelServer::onReap(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ChannelServer*>(arg);
  std::erase_if(self->channels_, [](const auto& kv) { return kv.second->closing; });
}

std::optional<std::string> ChannelServer::logTail(const std::string& address) {
  uint64_t suppressed = 0;
  if (!logLimit_.allow(address, daemon::RateLimiter::Clock::now(), suppressed)) return std::nullopt;
  return suppressed ? " (" + std::to_string(suppressed) + " lines about this address left out)"
                    : std::string();
}

}  // namespace onionsplit::channeld
