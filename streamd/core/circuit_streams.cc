// streamd/core/circuit_streams.cc: see circuit_streams.h.
#include "streamd/core/circuit_streams.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <string>
#include <utility>

#include "common/cell/relay.h"

namespace onionsplit::streamd {
namespace {

using cell::EndReason;
using cell::RelayCmd;
using Kind = StreamAction::Kind;

bool iendsWith(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  auto tail = s.substr(s.size() - suffix.size());
  return std::equal(tail.begin(), tail.end(), suffix.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == b;
  });
}

int hexNibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

cell::IpAddr toCellAddr(const exitpolicy::IpAddress& a) {
  cell::IpAddr c;
  c.family = a.family;
  c.bytes = a.b;
  return c;
}

constexpr size_t kScratch = cell::kRelayBodyMax;
// CONNECTED and END carry at most an IPv6 address and a TTL (1 + 4 + 16 + 4 bytes with END's
// reason): one cell of either format always holds them, as every stream message carries a stream
// id (cell::carriesStreamIdV1).
constexpr size_t kControlScratch = 32;
static_assert(kControlScratch <= cell::kRelayV1BodyMaxWithStream);

}  // namespace

bool isReverseName(std::string_view name) {
  return iendsWith(name, ".in-addr.arpa") || iendsWith(name, ".ip6.arpa");
}

std::optional<exitpolicy::IpAddress> parseReverseName(std::string_view name) {
  exitpolicy::IpAddress a;
  if (iendsWith(name, ".in-addr.arpa")) {
    std::string_view labels = name.substr(0, name.size() - 13);
    std::array<int, 4> parts{};
    int n = 0;
    while (!labels.empty()) {
      if (n == 4) return std::nullopt;
      size_t dot = labels.find('.');
      std::string_view l = labels.substr(0, dot);
      if (l.empty() || l.size() > 3) return std::nullopt;
      int v = 0;
      for (char c : l) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
      }
      if (v > 255 || (l.size() > 1 && l[0] == '0')) return std::nullopt;
      parts[static_cast<size_t>(n++)] = v;
      if (dot == std::string_view::npos) break;
      labels.remove_prefix(dot + 1);
      if (labels.empty()) return std::nullopt;
    }
    if (n != 4) return std::nullopt;
    a.family = 4;
    for (size_t i = 0; i < 4; ++i)
      a.b[i] = static_cast<uint8_t>(parts[3 - i]);
    return a;
  }
  if (iendsWith(name, ".ip6.arpa")) {
    std::string_view labels = name.substr(0, name.size() - 9);
    if (labels.size() != 63) return std::nullopt;  // 32 nibbles and 31 dots
    a.family = 6;
    for (size_t i = 0; i < 32; ++i) {
      int v = hexNibble(labels[i * 2]);
      if (v < 0 || (i < 31 && labels[i * 2 + 1] != '.')) return std::nullopt;
      size_t nib = 31 - i;  // the first label is the lowest nibble
      if (nib % 2 == 0)
        a.b[nib / 2] = static_cast<uint8_t>(a.b[nib / 2] | (v << 4));
      else
        a.b[nib / 2] = static_cast<uint8_t>(a.b[nib / 2] | v);
    }
    return a;
  }
  return std::nullopt;
}

CircuitStreams::CircuitStreams(StreamShared& shared, StreamIo& io, bool congestionControl,
                               cell::RelayCellFormat format)
    : shared_(shared),
      io_(io),
      cc_(congestionControl),
      messageMax_(cell::relayDataMax(format, static_cast<uint8_t>(RelayCmd::kData))) {}

CircuitStreams::~CircuitStreams() {
  shared_.counters.open -= std::min<uint64_t>(shared_.counters.open, streams_.size());
  shared_.counters.lookups -= std::min<uint64_t>(shared_.counters.lookups, lookups_);
}

CircuitStreams::Stream* CircuitStreams::find(StreamId id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}
const CircuitStreams::Stream* CircuitStreams::find(StreamId id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

uint32_t CircuitStreams::packageWindow(StreamId id) const {
  const Stream* s = find(id);
  return s ? s->package : 0;
}
uint32_t CircuitStreams::deliverWindow(StreamId id) const {
  const Stream* s = find(id);
  return s ? s->deliver : 0;
}

CircuitStreams::Input CircuitStreams::onClientMessage(StreamId id, uint8_t command, Bytes body,
                                                      uint64_t nowUsec) {
  if (id == 0 || body.size() > cell::kRelayBodyMax) return Input::kViolation;
  switch (static_cast<RelayCmd>(command)) {
    case RelayCmd::kBegin:
      if (auto refused = streamDefence(id, RelayCmd::kBegin, nowUsec)) return *refused;
      onBegin(id, body, false);
      return Input::kOk;
    case RelayCmd::kBeginDir:
      onBegin(id, body, true);
      return Input::kOk;
    case RelayCmd::kResolve:
      if (auto refused = streamDefence(id, RelayCmd::kResolve, nowUsec)) return *refused;
      onResolve(id, body);
      return Input::kOk;
    case RelayCmd::kData:
    case RelayCmd::kEnd:
    case RelayCmd::kSendme:
    case RelayCmd::kXon:
    case RelayCmd::kXoff:
      break;
    default:
      return Input::kViolation;
  }
  Stream* s = find(id);
  if (!s) {  // C tor drops these: the stream may have ended while they crossed our END
    ++shared_.counters.unknownStream;
    return Input::kOk;
  }
  switch (static_cast<RelayCmd>(command)) {
    case RelayCmd::kData:
      onData(id, *s, body, nowUsec);
      break;
    case RelayCmd::kEnd:
      apply(id, s->exit.onClientEnd());
      break;
    case RelayCmd::kSendme:
      onSendme(id, *s);
      break;
    default:
      onXoffXon(id, *s, command, body);
      break;
  }
  return Input::kOk;
}

CircuitStreams::Stream* CircuitStreams::create(StreamId id) {
  auto s = std::make_unique<Stream>(shared_.policy, shared_.limits, shared_.xonXoff);
  Stream* raw = s.get();
  streams_.emplace(id, std::move(s));
  ++shared_.counters.open;
  return raw;
}

std::optional<CircuitStreams::Input> CircuitStreams::streamDefence(StreamId id, RelayCmd cmd,
                                                                   uint64_t nowUsec) {
  const uint64_t nowSec = nowUsec / 1'000'000;
  if (!streamDos_) streamDos_.emplace(shared_.dos, nowSec);
  auto kind = cmd == RelayCmd::kResolve ? dos::StreamRequest::kResolve : dos::StreamRequest::kBegin;
  switch (streamDos_->onRequest(kind, shared_.dos, nowSec, shared_.dosCounters)) {
    case dos::StreamAction::kAllow:
      return std::nullopt;
    case dos::StreamAction::kEndStreamMisc:
      // C tor answers MISC, not RESOURCELIMIT, so that clients do not count the exit as broken.
      sendEnd(id, EndReason::kMisc);
      return Input::kOk;
    case dos::StreamAction::kResolvedErrorTransient: {
      DnsAnswer answer;
      answer.error = DnsError::kTransient;
      sendResolved(id, answer);
      return Input::kOk;
    }
    case dos::StreamAction::kCloseCircuitResourceLimit:
      return Input::kCloseCircuit;
  }
  return std::nullopt;
}

void CircuitStreams::onBegin(StreamId id, Bytes body, bool dir) {
  if (find(id)) {
    // A stream id in use: C tor closes the circuit; we end both lives of the id instead, so the
    // client's other streams survive. The client treats the id as closed after this END.
    endAndForget(id, EndReason::kTorProtocol);
    return;
  }
  if (dir) return sendEnd(id, EndReason::kNotDirectory);
  if (streams_.size() >= kMaxStreamsPerCircuit || shared_.counters.open >= shared_.maxStreams)
    return sendEnd(id, EndReason::kResourceLimit);
  auto begin = cell::decodeBegin(body);
  if (!begin) return sendEnd(id, EndReason::kTorProtocol);
  if (shared_.hibernating && begin->port != 0) {  // C tor parses the BEGIN (port included) first
    ++shared_.counters.refusedHibernating;
    return sendEnd(id, EndReason::kHibernating);
  }
  StreamTarget t;
  t.host = std::string(begin->address);
  t.port = begin->port;
  t.flags.ipv6Ok = (begin->flags & 1u) != 0;
  t.flags.ipv4NotOk = (begin->flags & 2u) != 0;
  t.flags.ipv6Preferred = (begin->flags & 4u) != 0;
  Stream* s = create(id);
  StreamAction a = s->exit.onBegin(t);
  if (a.kind == Kind::kResolve || a.kind == Kind::kConnect) ++shared_.counters.opened;
  if (a.kind == Kind::kResolve)
    return lookUp(id, *s, a.host, t.flags.ipv6Ok && shared_.policy.mayAcceptPort(6, t.port));
  apply(id, a);
}

void CircuitStreams::onResolve(StreamId id, Bytes body) {
  if (find(id)) return endAndForget(id, EndReason::kTorProtocol);
  // A relay that is not an exit resolves nothing for clients.
  if (!shared_.policy.isExit()) return sendEnd(id, EndReason::kExitPolicy);
  if (streams_.size() >= kMaxStreamsPerCircuit || shared_.counters.open >= shared_.maxStreams)
    return sendEnd(id, EndReason::kResourceLimit);
  ++shared_.counters.resolveRequests;
  DnsAnswer answer;
  auto msg = cell::decodeResolve(body);
  if (!msg) {
    answer.error = DnsError::kNonTransient;
    return sendResolved(id, answer);
  }
  std::string_view name = msg->name;
  if (isReverseName(name)) {
    auto addr = parseReverseName(name);
    if (!addr) {
      answer.error = DnsError::kNonTransient;
      return sendResolved(id, answer);
    }
    Stream* s = create(id);
    s->resolveOnly = true;
    return lookUp(id, *s, name, false, &*addr);
  }
  if (auto ip = exitpolicy::IpAddress::parse(name)) {  // an address resolves to itself
    if (ip->family == 4) {
      std::array<uint8_t, 4> v4{};
      std::copy(ip->b.begin(), ip->b.begin() + 4, v4.begin());
      answer.ipv4.push_back(v4);
    } else {
      answer.ipv6.push_back(ip->b);
    }
    return sendResolved(id, answer);
  }
  if (!isResolvableHostname(name, shared_.limits.allowNonRfc953Hostnames)) {
    answer.error = DnsError::kNonTransient;
    return sendResolved(id, answer);
  }
  Stream* s = create(id);
  s->resolveOnly = true;
  lookUp(id, *s, name, shared_.ipv6Exit);
}

void CircuitStreams::lookUp(StreamId id, Stream& s, std::string_view name, bool wantIpv6,
                            const exitpolicy::IpAddress* reverse) {
  if (lookups_ >= kMaxLookupsPerCircuit || shared_.counters.lookups >= shared_.maxLookups) {
    // Answered as a failed lookup, as C tor answers one: a RESOLVED with a transient error, or
    // END RESOLVEFAILED. RESOURCELIMIT would make a C tor client count the exit as refusing
    // everything, so a client's own lookup flood would cost it the exit for its honest streams.
    ++shared_.counters.lookupsRefused;
    if (s.resolveOnly) {
      DnsAnswer answer;
      answer.error = DnsError::kTransient;
      sendResolved(id, answer);
      return forget(id);
    }
    return endAndForget(id, EndReason::kResolveFailed);
  }
  s.resolving = true;
  ++lookups_;
  ++shared_.counters.lookups;
  if (reverse)
    io_.resolveReverse(id, *reverse);
  else
    io_.resolve(id, name, wantIpv6);
}

void CircuitStreams::lookupDone(Stream& s) {
  if (!std::exchange(s.resolving, false)) return;
  --lookups_;
  if (shared_.counters.lookups) --shared_.counters.lookups;
}

void CircuitStreams::onData(StreamId id, Stream& s, Bytes body, uint64_t nowUsec) {
  if (s.resolveOnly) return endAndForget(id, EndReason::kTorProtocol);
  if (!cc_) {
    if (s.deliver == 0) return endAndForget(id, EndReason::kTorProtocol);
    --s.deliver;
  }
  shared_.counters.bytesFromClient += body.size();
  StreamAction a = s.exit.onClientData(body.size());
  if (a.kind == Kind::kNone) {  // optimistic data, kept until CONNECTED
    s.optimistic.insert(s.optimistic.end(), body.begin(), body.end());
    return;
  }
  if (a.kind != Kind::kWrite) return apply(id, a);
  if (io_.outputBuffered(id) + body.size() > kMaxSocketOutputBytes)
    return endAndForget(id, EndReason::kResourceLimit);
  io_.write(id, body);
  afterWrite(id, s, 0, nowUsec);
}

void CircuitStreams::afterWrite(StreamId id, Stream& s, size_t drained, uint64_t nowUsec) {
  if (s.exit.state() != ExitStream::State::kOpen) return;
  size_t buffered = io_.outputBuffered(id);
  if (cc_) {
    flowctl::FlowDecision d = s.writer.onBuffer(buffered, drained, nowUsec);
    std::array<uint8_t, 8> buf{};
    Writer w{MutBytes(buf)};
    if (d.emit == flowctl::FlowEmit::kXoff) {
      cell::encodeXoff(w);
      io_.sendControl(id, RelayCmd::kXoff, w.written());
    } else if (d.emit == flowctl::FlowEmit::kXon) {
      cell::encodeXon(cell::XonMsg{d.kbpsEwma}, w);
      io_.sendControl(id, RelayCmd::kXon, w.written());
    }
    return;
  }
  while (s.deliver <= flowctl::kStreamWindowStart - flowctl::kStreamWindowIncrement &&
         buffered < kSendmeBufferLimit) {
    s.deliver += flowctl::kStreamWindowIncrement;
    io_.sendControl(id, RelayCmd::kSendme, Bytes());
  }
}

void CircuitStreams::onOutputDrained(StreamId id, size_t buffered, size_t drained,
                                     uint64_t nowUsec) {
  (void)buffered;
  Stream* s = find(id);
  if (s) afterWrite(id, *s, drained, nowUsec);
}

void CircuitStreams::onSendme(StreamId id, Stream& s) {
  if (cc_ || s.resolveOnly) return endAndForget(id, EndReason::kTorProtocol);
  if (s.package + flowctl::kStreamWindowIncrement > flowctl::kStreamWindowStart)
    return endAndForget(id, EndReason::kTorProtocol);
  bool wasClosed = s.package == 0;
  s.package += flowctl::kStreamWindowIncrement;
  if (wasClosed) io_.readable(id);
}

void CircuitStreams::onXoffXon(StreamId id, Stream& s, uint8_t command, Bytes body) {
  // XON/XOFF on a circuit without congestion control, or malformed: C tor drops them as a protocol
  // warning; so do we (the stream goes on with its windows).
  if (!cc_ || s.resolveOnly) return;
  if (static_cast<RelayCmd>(command) == RelayCmd::kXoff) {
    if (!cell::decodeXoff(body)) return;
    s.reader.onXoff();
    return;
  }
  auto xon = cell::decodeXon(body);
  if (!xon) return;
  bool was = s.reader.paused();
  s.reader.onXon(xon->kbpsEwma);
  if (was && !s.reader.paused()) io_.readable(id);
}

void CircuitStreams::onResolved(StreamId id, const DnsAnswer& answer) {
  Stream* s = find(id);
  if (!s) return;
  lookupDone(*s);
  if (s->resolveOnly) {
    sendResolved(id, answer);
    forget(id);
    return;
  }
  apply(id, s->exit.onResolved(answer));
}

void CircuitStreams::onConnected(StreamId id) {
  if (Stream* s = find(id)) apply(id, s->exit.onConnected());
}
void CircuitStreams::onConnectFailed(StreamId id, int err) {
  Stream* s = find(id);
  if (!s) return;
  if (err == EADDRNOTAVAIL || err == EADDRINUSE) ++shared_.counters.tcpExhaustion;
  apply(id, s->exit.onConnectFailed(err));
}
void CircuitStreams::onConnectTimeout(StreamId id) {
  if (Stream* s = find(id)) apply(id, s->exit.onConnectTimeout());
}
void CircuitStreams::onSocketClosed(StreamId id, int err) {
  if (Stream* s = find(id)) apply(id, s->exit.onSocketClosed(err));
}

void CircuitStreams::apply(StreamId id, const StreamAction& a) {
  Stream* s = find(id);
  if (!s) return;
  switch (a.kind) {
    case Kind::kNone:
      return;
    case Kind::kResolve:
      return lookUp(id, *s, a.host, false);
    case Kind::kConnect:
      s->addr = a.addr;
      io_.connect(id, a.addr, a.port);
      return;
    case Kind::kSendConnected: {
      std::array<uint8_t, kControlScratch> buf{};
      Writer w{MutBytes(buf)};
      cell::ConnectedMsg m;
      m.address = toCellAddr(s->addr);
      m.ttl = kResolvedClippedTtl;
      cell::encodeConnected(m, w);
      io_.sendControl(id, RelayCmd::kConnected, w.written());
      if (!s->optimistic.empty()) {
        io_.write(id, Bytes(s->optimistic));
        std::vector<uint8_t>().swap(s->optimistic);
      }
      afterWrite(id, *s, 0, 0);
      io_.readable(id);
      return;
    }
    case Kind::kSendEnd:
      sendEnd(id, a.reason, a.hasPolicyAddress ? &a.addr : nullptr);
      forget(id);
      return;
    case Kind::kClose:
      forget(id, true);  // what the client sent before its END still reaches the server
      return;
    case Kind::kWrite:
      return;  // onData writes
  }
}

void CircuitStreams::sendEnd(StreamId id, EndReason r, const exitpolicy::IpAddress* policyAddr) {
  std::array<uint8_t, kControlScratch> buf{};
  Writer w{MutBytes(buf)};
  cell::EndMsg m;
  m.reason = wireEndReason(static_cast<uint8_t>(r));
  if (policyAddr) {
    m.address = toCellAddr(*policyAddr);
    m.ttl = kResolvedClippedTtl;
  }
  cell::encodeEnd(m, w);
  shared_.counters.endsSent[m.reason & 15]++;
  io_.sendControl(id, RelayCmd::kEnd, w.written());
}

void CircuitStreams::sendResolved(StreamId id, const DnsAnswer& answer) {
  // An answer that would not fit the circuit's cell is left out (the client reads what fits; C
  // tor's exit sends one address of each family, so it never has more than fits).
  cell::ResolvedMsg m;
  size_t length = 0;
  auto add = [&](uint8_t type, Bytes value) {
    size_t n = 2 + value.size() + 4;  // type, length, value, TTL
    if (m.count == cell::kMaxResolvedAnswers || length + n > messageMax_) return;
    m.answers[m.count++] = cell::ResolvedAnswer{type, value, kResolvedClippedTtl};
    length += n;
  };
  if (answer.error == DnsError::kTransient) {
    add(cell::ResolvedAnswer::kTransientError, Bytes());
  } else if (answer.error == DnsError::kNonTransient) {
    add(cell::ResolvedAnswer::kError, Bytes());
  } else {
    for (const auto& a : answer.ipv4)
      add(cell::ResolvedAnswer::kIpv4, Bytes(a));
    for (const auto& a : answer.ipv6)
      add(cell::ResolvedAnswer::kIpv6, Bytes(a));
    if (isValidHostname(answer.ptrName))  // an invalid name is dropped (TROVE-2026-035)
      add(cell::ResolvedAnswer::kHostname,
          Bytes(reinterpret_cast<const uint8_t*>(answer.ptrName.data()), answer.ptrName.size()));
    if (m.count == 0) add(cell::ResolvedAnswer::kError, Bytes());
  }
  std::array<uint8_t, kScratch> buf{};
  Writer w{MutBytes(buf)};
  if (!cell::encodeResolved(m, w)) {
    Writer e{MutBytes(buf)};
    cell::ResolvedMsg err;
    err.answers[0] =
        cell::ResolvedAnswer{cell::ResolvedAnswer::kTransientError, Bytes(), kResolvedClippedTtl};
    err.count = 1;
    cell::encodeResolved(err, e);
    io_.sendControl(id, RelayCmd::kResolved, e.written());
    return;
  }
  io_.sendControl(id, RelayCmd::kResolved, w.written());
}

bool CircuitStreams::endForMemory(StreamId id) {
  if (!has(id)) return false;
  endAndForget(id, EndReason::kResourceLimit);
  return true;
}

void CircuitStreams::endAndForget(StreamId id, EndReason r) {
  sendEnd(id, r);
  forget(id);
}

void CircuitStreams::forget(StreamId id, bool flush) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  if (it->second->ready) {  // take it out of the ring, keeping the others' order
    size_t cap = ring_.size();
    size_t out = 0;
    for (size_t i = 0; i < readyCount_; ++i) {
      StreamId v = ring_[(readyHead_ + i) % cap];
      if (v != id) ring_[(readyHead_ + out++) % cap] = v;
    }
    readyCount_ = out;
  }
  lookupDone(*it->second);  // the shell's release() cancels the lookup
  streams_.erase(it);
  if (shared_.counters.open) --shared_.counters.open;
  io_.release(id, flush);
}

void CircuitStreams::closeAll() {
  std::vector<StreamId> ids;
  ids.reserve(streams_.size());
  for (auto& [id, s] : streams_)
    ids.push_back(id);
  readyCount_ = 0;
  for (StreamId id : ids) {
    lookupDone(*streams_[id]);
    streams_.erase(id);
    if (shared_.counters.open) --shared_.counters.open;
    io_.release(id, true);  // the circuit is gone; its streams' sockets still flush (C tor)
  }
}

bool CircuitStreams::mayPackage(StreamId id) const {
  const Stream* s = find(id);
  if (!s || s->exit.state() != ExitStream::State::kOpen) return false;
  return cc_ ? !s->reader.paused() : s->package > 0;
}

void CircuitStreams::markReady(StreamId id) {
  Stream* s = find(id);
  if (!s || s->ready || !mayPackage(id)) return;
  if (ring_.empty()) ring_.resize(kMaxStreamsPerCircuit);
  if (readyCount_ == ring_.size()) return;  // cannot happen: each stream is in the ring once
  ring_[(readyHead_ + readyCount_) % ring_.size()] = id;
  ++readyCount_;
  s->ready = true;
}

std::optional<StreamId> CircuitStreams::nextReady() {
  while (readyCount_ != 0) {
    StreamId id = ring_[readyHead_];
    readyHead_ = (readyHead_ + 1) % ring_.size();
    --readyCount_;
    Stream* s = find(id);
    if (!s) continue;
    s->ready = false;
    if (mayPackage(id)) return id;
  }
  return std::nullopt;
}

void CircuitStreams::onPackaged(StreamId id, size_t bytes) {
  Stream* s = find(id);
  if (!s) return;
  shared_.counters.bytesToClient += bytes;
  if (cc_)
    s->reader.onBytesSent(bytes);
  else if (s->package)
    --s->package;
}

}  // namespace onionsplit::streamd
