// Tests for streamd/core/circuit_streams.h: the stream side of one circuit against a recording
// StreamIo: contract checks, BEGIN/RESOLVE answers, limits, stream windows, XON/XOFF, fairness.
#include "streamd/core/circuit_streams.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/cell/relay.h"
#include "common/cell/relay_v1.h"
#include "streamd/core/net_params.h"

namespace onionsplit::streamd {
namespace {

using cell::RelayCmd;

exitpolicy::Policy testPolicy() {
  exitpolicy::PolicyInputs in;
  in.exitRelay = true;
  in.rejectPrivate = false;
  in.ipv6Exit = true;
  in.items = {"reject *:25", "accept *:*"};
  return *exitpolicy::Policy::build(in);
}

struct Sent {
  StreamId id;
  RelayCmd cmd;
  std::vector<uint8_t> body;
};

struct FakeIo final : StreamIo {
  void sendControl(StreamId id, RelayCmd cmd, Bytes body) override {
    sent.push_back({id, cmd, std::vector<uint8_t>(body.begin(), body.end())});
  }
  void resolve(StreamId id, std::string_view name, bool) override {
    resolves[id] = std::string(name);
  }
  void resolveReverse(StreamId id, const exitpolicy::IpAddress& a) override {
    reverses[id] = a.toString();
  }
  void connect(StreamId id, const exitpolicy::IpAddress& a, uint16_t port) override {
    connects[id] = a.toString() + ":" + std::to_string(port);
  }
  void write(StreamId id, Bytes data) override {
    written[id].append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  size_t outputBuffered(StreamId id) const override {
    auto it = buffered.find(id);
    return it == buffered.end() ? 0 : it->second;
  }
  void release(StreamId id, bool flush) override {
    released.push_back(id);
    if (flush) flushed.push_back(id);
  }
  void readable(StreamId id) override { readables.push_back(id); }

  std::vector<Sent> sent;
  std::map<StreamId, std::string> resolves, reverses, connects, written;
  std::map<StreamId, size_t> buffered;
  std::vector<StreamId> released, flushed, readables;
};

std::vector<uint8_t> beginBody(const std::string& addrPort, uint32_t flags = 0) {
  std::vector<uint8_t> b(addrPort.begin(), addrPort.end());
  b.push_back(0);
  for (int s = 24; s >= 0; s -= 8)
    b.push_back(static_cast<uint8_t>(flags >> s));
  return b;
}
uint8_t rcmdOf(RelayCmd c) {
  return static_cast<uint8_t>(c);
}
std::vector<uint8_t> cstr(const std::string& s) {
  std::vector<uint8_t> b(s.begin(), s.end());
  b.push_back(0);
  return b;
}

struct Fixture {
  explicit Fixture(bool cc = false, cell::RelayCellFormat format = cell::RelayCellFormat::kV0)
      : shared(policy), core(shared, io, cc, format) {}
  CircuitStreams::Input msg(StreamId id, RelayCmd cmd, const std::vector<uint8_t>& body = {}) {
    return core.onClientMessage(id, static_cast<uint8_t>(cmd), Bytes(body), 0);
  }
  uint8_t lastEnd() const {
    for (auto it = io.sent.rbegin(); it != io.sent.rend(); ++it)
      if (it->cmd == RelayCmd::kEnd) return it->body.empty() ? 0 : it->body[0];
    return 0;
  }
  size_t count(RelayCmd c) const {
    size_t n = 0;
    for (auto& s : io.sent)
      n += s.cmd == c;
    return n;
  }
  // BEGIN to an address and CONNECTED.
  void open(StreamId id) {
    ASSERT_EQ(msg(id, RelayCmd::kBegin, beginBody("127.0.0.1:80")), CircuitStreams::Input::kOk);
    ASSERT_EQ(io.connects[id], "127.0.0.1:80");
    core.onConnected(id);
  }
  exitpolicy::Policy policy = testPolicy();
  StreamShared shared;
  FakeIo io;
  CircuitStreams core;
};

TEST(CircuitStreams, ContractViolations) {
  Fixture f;
  EXPECT_EQ(f.msg(0, RelayCmd::kBegin, beginBody("1.2.3.4:80")), CircuitStreams::Input::kViolation);
  EXPECT_EQ(f.msg(1, RelayCmd::kConnected), CircuitStreams::Input::kViolation);
  EXPECT_EQ(f.msg(1, RelayCmd::kExtend2), CircuitStreams::Input::kViolation);
  EXPECT_EQ(f.msg(1, RelayCmd::kResolved), CircuitStreams::Input::kViolation);
  std::vector<uint8_t> big(499, 'a');
  EXPECT_EQ(f.msg(1, RelayCmd::kData, big), CircuitStreams::Input::kViolation);
  EXPECT_TRUE(f.io.sent.empty());
}

TEST(CircuitStreams, BeginConnectedOptimisticDataAndEnd) {
  Fixture f;
  f.msg(7, RelayCmd::kBegin, beginBody("10.0.0.1:443"));
  EXPECT_EQ(f.io.connects[7], "10.0.0.1:443");
  f.msg(7, RelayCmd::kData, {'h', 'i'});  // optimistic
  EXPECT_TRUE(f.io.written[7].empty());
  f.core.onConnected(7);
  ASSERT_EQ(f.io.sent.size(), 1u);
  EXPECT_EQ(f.io.sent[0].cmd, RelayCmd::kConnected);
  auto c = cell::decodeConnected(Bytes(f.io.sent[0].body));
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->address.has_value());
  EXPECT_EQ(c->ttl, kResolvedClippedTtl);
  EXPECT_EQ(f.io.written[7], "hi");
  f.msg(7, RelayCmd::kData, {'!'});
  EXPECT_EQ(f.io.written[7], "hi!");
  f.msg(7, RelayCmd::kEnd, {6});
  EXPECT_FALSE(f.core.has(7));
  EXPECT_EQ(f.io.released, std::vector<StreamId>{7});
  EXPECT_EQ(f.io.flushed, std::vector<StreamId>{7}) << "what the client sent still goes out";
  EXPECT_EQ(f.io.sent.size(), 1u);  // nothing answers a client's END
}

TEST(CircuitStreams, OnlyTheClientsEndAndALostCircuitFlushTheSocket) {
  Fixture f;
  f.msg(1, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  f.core.onConnectFailed(1, ECONNREFUSED);  // our END: nothing of the client's to deliver
  f.open(2);
  f.open(3);
  f.core.closeAll();  // the circuit is gone: C tor still flushes its streams' sockets
  EXPECT_EQ(f.io.released.size(), 3u);
  std::vector<StreamId> flushed = f.io.flushed;
  std::sort(flushed.begin(), flushed.end());
  EXPECT_EQ(flushed, (std::vector<StreamId>{2, 3}));
}

TEST(CircuitStreams, RefusalsAndTheirReasons) {
  Fixture f;
  f.msg(1, RelayCmd::kBeginDir);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kNotDirectory));
  f.msg(2, RelayCmd::kBegin, beginBody("1.2.3.4:25"));
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kExitPolicy));
  auto e = cell::decodeEnd(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->address.has_value());
  f.msg(3, RelayCmd::kBegin, beginBody("foo.onion:80"));
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kResolveFailed));
  f.msg(4, RelayCmd::kBegin, cstr("garbage"));
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kTorProtocol));
  f.msg(5, RelayCmd::kBegin, beginBody("example.com:80"));
  EXPECT_EQ(f.io.resolves[5], "example.com");
  DnsAnswer nx;
  nx.error = DnsError::kNonTransient;
  f.core.onResolved(5, nx);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kResolveFailed));
  f.msg(6, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  f.core.onConnectFailed(6, ECONNREFUSED);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kConnectRefused));
  f.msg(8, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  f.core.onConnectTimeout(8);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kTimeout));
  EXPECT_EQ(f.core.size(), 0u);
  EXPECT_EQ(f.shared.counters.open, 0u);
  EXPECT_EQ(f.shared.counters.endsSent[4], 1u);
}

// AccountingMax: while the relay hibernates, new BEGINs end with END HIBERNATING before any lookup,
// connect or exit policy check (C tor's connection_exit_begin_conn); open streams, RESOLVE and the
// BEGIN_DIR refusal are as before; awake again, BEGINs are served.
TEST(CircuitStreams, HibernationRefusesNewBeginsUntilAwake) {
  Fixture f;
  f.open(1);
  f.shared.hibernating = true;
  const auto hibernating = static_cast<uint8_t>(cell::EndReason::kHibernating);
  f.msg(2, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  EXPECT_EQ(f.lastEnd(), hibernating);
  f.msg(3, RelayCmd::kBegin, beginBody("example.com:80"));
  EXPECT_EQ(f.lastEnd(), hibernating);
  f.msg(4, RelayCmd::kBegin, beginBody("1.2.3.4:25"));  // the policy rejects it; hibernation first
  EXPECT_EQ(f.lastEnd(), hibernating);
  f.msg(5, RelayCmd::kBegin, beginBody("127.0.0.1:0"));
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kTorProtocol));
  f.msg(6, RelayCmd::kBeginDir);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kNotDirectory));
  EXPECT_EQ(f.io.connects.size(), 1u);
  EXPECT_TRUE(f.io.resolves.empty());
  EXPECT_EQ(f.shared.counters.refusedHibernating, 3u);
  EXPECT_EQ(f.shared.counters.endsSent[hibernating], 3u);
  f.msg(7, RelayCmd::kResolve, cstr("example.org"));  // C tor resolves while hibernating
  EXPECT_EQ(f.io.resolves[7], "example.org");
  f.msg(1, RelayCmd::kData, {'x'});  // a stream opened before carries on
  EXPECT_EQ(f.io.written[1], "x");
  EXPECT_TRUE(f.core.has(1));

  f.shared.hibernating = false;
  f.msg(8, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  EXPECT_EQ(f.io.connects[8], "127.0.0.1:80");
  EXPECT_EQ(f.shared.counters.refusedHibernating, 3u);
}

TEST(CircuitStreams, StreamIdReuseEndsBothAndUnknownIdsAreDropped) {
  Fixture f;
  f.open(3);
  f.msg(3, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kTorProtocol));
  EXPECT_FALSE(f.core.has(3));
  size_t before = f.io.sent.size();
  EXPECT_EQ(f.msg(9, RelayCmd::kData, {1}), CircuitStreams::Input::kOk);
  EXPECT_EQ(f.msg(9, RelayCmd::kEnd, {6}), CircuitStreams::Input::kOk);
  EXPECT_EQ(f.msg(9, RelayCmd::kSendme), CircuitStreams::Input::kOk);
  EXPECT_EQ(f.io.sent.size(), before);
  EXPECT_EQ(f.shared.counters.unknownStream, 3u);
}

TEST(CircuitStreams, AtMost256StreamsPerCircuitAndAGlobalCap) {
  Fixture f;
  for (StreamId id = 1; id <= kMaxStreamsPerCircuit; ++id)
    f.msg(id, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  EXPECT_EQ(f.core.size(), kMaxStreamsPerCircuit);
  f.msg(1000, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kResourceLimit));
  Fixture g;
  g.shared.maxStreams = 2;
  g.msg(1, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  g.msg(2, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  g.msg(3, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  EXPECT_EQ(g.lastEnd(), static_cast<uint8_t>(cell::EndReason::kResourceLimit));
  g.core.closeAll();
  EXPECT_EQ(g.shared.counters.open, 0u);
}

TEST(CircuitStreams, PackageWindowStopsAt500AndSendmeReopensIt) {
  Fixture f;
  f.open(1);
  int packaged = 0;
  for (int i = 0; i < 600; ++i) {
    f.core.markReady(1);
    auto id = f.core.nextReady();
    if (!id) break;
    f.core.onPackaged(*id, 498);
    ++packaged;
  }
  EXPECT_EQ(packaged, 500);
  EXPECT_FALSE(f.core.mayPackage(1));
  f.io.readables.clear();
  f.msg(1, RelayCmd::kSendme);
  EXPECT_EQ(f.io.readables, std::vector<StreamId>{1});
  EXPECT_EQ(f.core.packageWindow(1), 50u);
  for (int i = 0; i < 9; ++i)
    f.msg(1, RelayCmd::kSendme);
  EXPECT_EQ(f.core.packageWindow(1), 500u);
  f.msg(1, RelayCmd::kSendme);  // beyond the window's start
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kTorProtocol));
  EXPECT_FALSE(f.core.has(1));
}

TEST(CircuitStreams, DeliverWindowSendmesAndBackPressure) {
  Fixture f;
  f.open(1);
  for (int i = 0; i < 49; ++i)
    f.msg(1, RelayCmd::kData, {1});
  EXPECT_EQ(f.count(RelayCmd::kSendme), 0u);
  f.msg(1, RelayCmd::kData, {1});
  EXPECT_EQ(f.count(RelayCmd::kSendme), 1u);
  EXPECT_EQ(f.core.deliverWindow(1), 500u);
  // A full socket buffer withholds the SENDME; draining sends it.
  f.io.buffered[1] = kSendmeBufferLimit;
  for (int i = 0; i < 100; ++i)
    f.msg(1, RelayCmd::kData, {1});
  EXPECT_EQ(f.count(RelayCmd::kSendme), 1u);
  EXPECT_EQ(f.core.deliverWindow(1), 400u);
  f.io.buffered[1] = 0;
  f.core.onOutputDrained(1, 0, kSendmeBufferLimit, 0);
  EXPECT_EQ(f.count(RelayCmd::kSendme), 3u);
  EXPECT_EQ(f.core.deliverWindow(1), 500u);
  // The client ignores a withheld SENDME: beyond the window is a protocol error.
  f.io.buffered[1] = kSendmeBufferLimit;
  for (int i = 0; i < 500; ++i)
    f.msg(1, RelayCmd::kData, {1});
  EXPECT_TRUE(f.core.has(1));
  f.msg(1, RelayCmd::kData, {1});
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kTorProtocol));
  EXPECT_FALSE(f.core.has(1));
}

TEST(CircuitStreams, CongestionControlUsesXonXoffAndRefusesStreamSendmes) {
  Fixture f(true);
  f.open(1);
  f.core.markReady(1);
  EXPECT_TRUE(f.core.nextReady().has_value());
  for (int i = 0; i < 600; ++i)
    f.core.onPackaged(1, 498);
  EXPECT_TRUE(f.core.mayPackage(1));  // no package window
  f.msg(1, RelayCmd::kXoff, {0});
  EXPECT_FALSE(f.core.mayPackage(1));
  f.core.markReady(1);
  EXPECT_FALSE(f.core.nextReady().has_value());
  f.msg(1, RelayCmd::kXon, {0, 0, 0, 0, 0});
  EXPECT_TRUE(f.core.mayPackage(1));
  // Our side: a full socket buffer gives XOFF (after the grace period), draining gives XON.
  f.io.buffered[1] = 1 << 20;
  f.core.onOutputDrained(1, 1 << 20, 0, 1);
  f.core.onOutputDrained(1, 1 << 20, 0, 1000000);
  EXPECT_EQ(f.count(RelayCmd::kXoff), 1u);
  f.io.buffered[1] = 0;
  f.core.onOutputDrained(1, 0, 1 << 20, 2000000);
  EXPECT_EQ(f.count(RelayCmd::kXon), 1u);
  for (int i = 0; i < 600; ++i)
    f.msg(1, RelayCmd::kData, {1});  // no deliver window either
  EXPECT_EQ(f.count(RelayCmd::kSendme), 0u);
  EXPECT_TRUE(f.core.has(1));
  f.msg(1, RelayCmd::kSendme);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kTorProtocol));
}

TEST(CircuitStreams, ReadyStreamsAreServedRoundRobin) {
  Fixture f;
  for (StreamId id = 1; id <= 3; ++id)
    f.open(id);
  f.core.markReady(2);
  f.core.markReady(1);
  f.core.markReady(3);
  f.core.markReady(2);  // already waiting: keeps its place
  std::vector<StreamId> order;
  for (int i = 0; i < 9; ++i) {
    auto id = f.core.nextReady();
    ASSERT_TRUE(id.has_value());
    order.push_back(*id);
    f.core.onPackaged(*id, 498);
    f.core.markReady(*id);  // still has input: back to the tail
  }
  EXPECT_EQ(order, (std::vector<StreamId>{2, 1, 3, 2, 1, 3, 2, 1, 3}));
  f.msg(1, RelayCmd::kEnd, {6});
  std::vector<StreamId> rest;
  while (auto id = f.core.nextReady())
    rest.push_back(*id);
  EXPECT_EQ(rest, (std::vector<StreamId>{2, 3}));
}

TEST(CircuitStreams, ResolveForwardReverseAndLiterals) {
  Fixture f;
  f.msg(1, RelayCmd::kResolve, cstr("example.com"));
  EXPECT_EQ(f.io.resolves[1], "example.com");
  DnsAnswer a;
  a.ipv4.push_back({93, 184, 216, 34});
  f.core.onResolved(1, a);
  ASSERT_EQ(f.io.sent.back().cmd, RelayCmd::kResolved);
  auto r = cell::decodeResolved(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->count, 1u);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kIpv4);
  EXPECT_EQ(r->answers[0].ttl, kResolvedClippedTtl);
  EXPECT_FALSE(f.core.has(1));

  f.msg(2, RelayCmd::kResolve, cstr("4.3.2.1.in-addr.arpa"));
  EXPECT_EQ(f.io.reverses[2], "1.2.3.4");
  DnsAnswer p;
  p.ptrName = "host.example";
  f.core.onResolved(2, p);
  r = cell::decodeResolved(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kHostname);

  f.msg(3, RelayCmd::kResolve, cstr("192.0.2.7"));
  r = cell::decodeResolved(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kIpv4);
  f.msg(4, RelayCmd::kResolve, cstr("x.onion"));
  r = cell::decodeResolved(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kError);
  f.msg(5, RelayCmd::kResolve, cstr("nowhere.example"));
  DnsAnswer t;
  t.error = DnsError::kTransient;
  f.core.onResolved(5, t);
  r = cell::decodeResolved(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kTransientError);
  EXPECT_EQ(f.shared.counters.open, 0u);
}

// Issue 18, DNS limits: a circuit has at most kMaxLookupsPerCircuit lookups in flight and the
// daemon maxLookups; past either, a BEGIN to a hostname or a RESOLVE is never looked up and is
// answered as a failed lookup (END RESOLVEFAILED; a RESOLVED with a transient error), as C tor
// answers one: RESOURCELIMIT would make a C tor client stop using the exit. Answers, ENDs and a
// lost circuit give the slots back.
TEST(CircuitStreams, LookupsInFlightAreBoundedPerCircuitAndInTotal) {
  Fixture f;
  for (StreamId id = 1; id <= kMaxLookupsPerCircuit; ++id)
    f.msg(id, id % 2 ? RelayCmd::kResolve : RelayCmd::kBegin,
          id % 2 ? cstr("h" + std::to_string(id) + ".example")
                 : beginBody("h" + std::to_string(id) + ".example:80"));
  EXPECT_EQ(f.io.resolves.size(), kMaxLookupsPerCircuit);
  EXPECT_EQ(f.shared.counters.lookups, kMaxLookupsPerCircuit);
  EXPECT_EQ(f.count(RelayCmd::kEnd), 0u);

  f.msg(500, RelayCmd::kResolve, cstr("one.more.example"));
  f.msg(501, RelayCmd::kResolve, cstr("9.9.9.9.in-addr.arpa"));
  EXPECT_EQ(f.count(RelayCmd::kResolved), 2u);
  for (const auto& m : f.io.sent) {
    ASSERT_EQ(m.cmd, RelayCmd::kResolved);
    ASSERT_FALSE(m.body.empty());
    EXPECT_EQ(m.body[0], 0xF0) << "a transient error";
  }
  f.msg(502, RelayCmd::kBegin, beginBody("two.more.example:443"));
  EXPECT_EQ(f.count(RelayCmd::kEnd), 1u);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kResolveFailed));
  EXPECT_FALSE(f.core.has(500) || f.core.has(501) || f.core.has(502));
  EXPECT_EQ(f.io.resolves.count(500) + f.io.reverses.count(501) + f.io.resolves.count(502), 0u);
  EXPECT_EQ(f.shared.counters.lookupsRefused, 3u);
  // A literal address needs no lookup and is served at the limit.
  f.msg(503, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  EXPECT_EQ(f.io.connects[503], "127.0.0.1:80");

  DnsAnswer a;
  a.ipv4.push_back({127, 0, 0, 1});
  f.core.onResolved(1, a);                            // a RESOLVE answered
  f.msg(2, RelayCmd::kEnd, std::vector<uint8_t>{6});  // a BEGIN ended by its client
  EXPECT_EQ(f.shared.counters.lookups, kMaxLookupsPerCircuit - 2);
  f.msg(600, RelayCmd::kResolve, cstr("now.it.fits.example"));
  f.msg(601, RelayCmd::kResolve, cstr("5.6.7.8.in-addr.arpa"));
  EXPECT_EQ(f.io.resolves[600], "now.it.fits.example");
  EXPECT_EQ(f.io.reverses[601], "8.7.6.5");
  EXPECT_EQ(f.shared.counters.lookups, kMaxLookupsPerCircuit);

  // The daemon-wide bound holds across circuits; a circuit that goes gives back all of its slots.
  FakeIo io2;
  f.shared.maxLookups = kMaxLookupsPerCircuit + 1;
  {
    CircuitStreams other(f.shared, io2, false);
    other.onClientMessage(1, static_cast<uint8_t>(RelayCmd::kResolve), Bytes(cstr("a.example")), 0);
    other.onClientMessage(2, static_cast<uint8_t>(RelayCmd::kResolve), Bytes(cstr("b.example")), 0);
    EXPECT_EQ(io2.resolves.size(), 1u);
    ASSERT_FALSE(io2.sent.empty());
    EXPECT_EQ(io2.sent.back().cmd, RelayCmd::kResolved);
    EXPECT_EQ(io2.sent.back().body[0], 0xF0);
    EXPECT_EQ(f.shared.counters.lookups, kMaxLookupsPerCircuit + 1);
    other.closeAll();
  }
  EXPECT_EQ(f.shared.counters.lookups, kMaxLookupsPerCircuit);
  f.core.closeAll();
  EXPECT_EQ(f.shared.counters.lookups, 0u);
}

// A valid hostname of `n` bytes (labels of at most 63).
std::string longHostname(size_t n) {
  std::string h;
  while (h.size() < n)
    h += (h.size() % 64 == 63) ? '.' : 'a';
  if (h.back() == '.') h.back() = 'b';
  return h;
}

// One v1 cell with a stream id holds 488 bytes of message, a v0 cell 498: a RESOLVED between the
// two keeps every answer on a tor1 circuit and leaves out the one that does not fit on a CGO one.
TEST(CircuitStreams, ResolvedLeavesOutAnswersThatDoNotFitTheCircuitsCell) {
  DnsAnswer a;
  a.ipv6.assign(11, std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8});
  a.ptrName = longHostname(245);  // 11 * 22 + (2 + 245 + 4) = 493 bytes
  ASSERT_TRUE(isValidHostname(a.ptrName));
  Fixture v0;
  Fixture v1(true, cell::RelayCellFormat::kV1);
  EXPECT_EQ(v0.core.messageMax(), 498u);
  EXPECT_EQ(v1.core.messageMax(), 488u);
  for (Fixture* f : {&v0, &v1}) {
    f->msg(1, RelayCmd::kResolve, cstr("many.example"));
    f->core.onResolved(1, a);
    ASSERT_EQ(f->io.sent.back().cmd, RelayCmd::kResolved);
  }
  auto r0 = cell::decodeResolved(Bytes(v0.io.sent.back().body));
  ASSERT_TRUE(r0);
  EXPECT_EQ(r0->count, 12u);
  EXPECT_EQ(v0.io.sent.back().body.size(), 493u);
  auto r1 = cell::decodeResolved(Bytes(v1.io.sent.back().body));
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->count, 11u);  // the hostname did not fit; every address did
  EXPECT_EQ(v1.io.sent.back().body.size(), 11u * 22);
  for (uint8_t i = 0; i < r1->count; ++i)
    EXPECT_EQ(r1->answers[i].type, cell::ResolvedAnswer::kIpv6);
}

// On a CGO circuit every message streamd makes fits one v1 cell: the most addresses the resolver
// keeps (8 A and 8 AAAA), CONNECTED to an IPv6 address, END with an IPv6 policy address.
TEST(CircuitStreams, EveryMessageOfACgoCircuitFitsOneV1Cell) {
  Fixture f(true, cell::RelayCellFormat::kV1);
  DnsAnswer many;
  many.ipv4.assign(8, std::array<uint8_t, 4>{192, 0, 2, 1});
  many.ipv6.assign(8, std::array<uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8});
  f.msg(1, RelayCmd::kResolve, cstr("many.example"));
  f.core.onResolved(1, many);
  auto r = cell::decodeResolved(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->count, 16u);  // 256 bytes: nothing left out
  f.msg(2, RelayCmd::kBegin, beginBody("[2001:db8::7]:80", 1));
  ASSERT_EQ(f.io.connects[2], "2001:db8::7:80");
  f.core.onConnected(2);
  ASSERT_EQ(f.io.sent.back().cmd, RelayCmd::kConnected);
  f.msg(3, RelayCmd::kBegin, beginBody("[2001:db8::7]:25", 1));
  ASSERT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kExitPolicy));
  auto e = cell::decodeEnd(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->address.has_value());
  std::array<uint8_t, cell::kCellPayloadLen> payload{};
  for (const Sent& m : f.io.sent) {
    EXPECT_LE(m.body.size(), cell::relayDataMax(cell::RelayCellFormat::kV1, rcmdOf(m.cmd)));
    EXPECT_EQ(cell::encodeRelayCellV1(MutBytes(payload),
                                      cell::RelayMsgView{rcmdOf(m.cmd), m.id, Bytes(m.body)}, {}),
              cell::RelayEncodeErr::kNone);
  }
}

TEST(CircuitStreams, AClientIgnoringXoffLosesTheStreamAndNonExitsResolveNothing) {
  Fixture f(true);
  f.open(1);
  f.io.buffered[1] = kMaxSocketOutputBytes;
  f.msg(1, RelayCmd::kData, {1});
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kResourceLimit));
  EXPECT_FALSE(f.core.has(1));

  exitpolicy::Policy none = exitpolicy::Policy::rejectAll();
  StreamShared shared(none);
  FakeIo io;
  CircuitStreams core(shared, io, false);
  core.onClientMessage(2, static_cast<uint8_t>(RelayCmd::kResolve), Bytes(cstr("example.com")), 0);
  ASSERT_EQ(io.sent.size(), 1u);
  EXPECT_EQ(io.sent[0].cmd, RelayCmd::kEnd);
  EXPECT_EQ(io.sent[0].body[0], static_cast<uint8_t>(cell::EndReason::kExitPolicy));
  EXPECT_TRUE(io.resolves.empty());
}

// TROVE-2026-035: names from the client (BEGIN, RESOLVE) and from the resolver are checked; a bad
// name costs the stream an END RESOLVEFAILED (BEGIN) or a RESOLVED error (RESOLVE), as C tor's
// dns_resolve answers an invalid destination, and is never looked up. A BEGIN that does not parse
// is END TORPROTOCOL (C tor's begin_cell_parse failure).
TEST(CircuitStreams, Trove2026_035_BadHostnamesAreRefusedAndNeverLookedUp) {
  Fixture f;
  const std::string bad[] = {
      std::string("exa\x01mple.com"), "a..b.com",     ".a.com",  "-a.com", "a b.com",
      std::string(64, 'a') + ".com",  // a label over 63
      std::string(4 * 63 + 3, 'a'),   // over 255
      std::string("exa\x7fmple.com"), "ex%ample.com", "a.com..",
  };
  StreamId id = 1;
  for (const auto& name : bad) {
    ASSERT_EQ(f.msg(id, RelayCmd::kBegin, beginBody(name + ":80")), CircuitStreams::Input::kOk);
    EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kResolveFailed)) << id;
    EXPECT_EQ(f.io.resolves.count(id), 0u) << id;
    EXPECT_FALSE(f.core.has(id));
    ++id;
    ASSERT_EQ(f.msg(id, RelayCmd::kResolve, cstr(name)), CircuitStreams::Input::kOk);
    auto r = cell::decodeResolved(Bytes(f.io.sent.back().body));
    ASSERT_TRUE(r) << id;
    EXPECT_EQ(f.io.sent.back().cmd, RelayCmd::kResolved);
    EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kError) << id;
    EXPECT_EQ(f.io.resolves.count(id), 0u) << id;
    EXPECT_FALSE(f.core.has(id));
    ++id;
  }
  // A BEGIN that does not parse (no port).
  ASSERT_EQ(f.msg(id, RelayCmd::kBegin, cstr("example.com")), CircuitStreams::Input::kOk);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kTorProtocol));
  ++id;
  // The longest valid names still resolve.
  std::string label63(63, 'a');
  std::string longest = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(longest.size(), 253u);
  ASSERT_EQ(f.msg(id, RelayCmd::kBegin, beginBody(longest + ":80")), CircuitStreams::Input::kOk);
  EXPECT_EQ(f.io.resolves[id], longest);
}

TEST(CircuitStreams, Trove2026_035_AnInvalidNameInAResolverAnswerIsDropped) {
  Fixture f;
  ASSERT_EQ(f.msg(1, RelayCmd::kResolve, cstr("7.2.0.192.in-addr.arpa")),
            CircuitStreams::Input::kOk);
  ASSERT_EQ(f.io.reverses.count(1), 1u);
  DnsAnswer a;
  a.ptrName = std::string("evil\x01.example\r\nX-Injected: 1");
  f.core.onResolved(1, a);
  auto r = cell::decodeResolved(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->count, 1u);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kError);  // the name is gone, nothing left

  ASSERT_EQ(f.msg(2, RelayCmd::kResolve, cstr("7.2.0.192.in-addr.arpa")),
            CircuitStreams::Input::kOk);
  DnsAnswer ok;
  ok.ptrName = "host.example";
  f.core.onResolved(2, ok);
  r = cell::decodeResolved(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kHostname);
}

// Bug 41353: an END never carries reason 0 (no reason at all); 0 goes out as MISC.
TEST(CircuitStreams, Bug41353_AnEndNeverCarriesReasonZero) {
  EXPECT_EQ(wireEndReason(0), static_cast<uint8_t>(cell::EndReason::kMisc));
  for (unsigned r = 1; r < 256; ++r)
    EXPECT_EQ(wireEndReason(static_cast<uint8_t>(r)), r);
  Fixture f;
  f.msg(1, RelayCmd::kBegin, beginBody("127.0.0.1:25"));  // EXITPOLICY
  f.msg(2, RelayCmd::kBeginDir);                          // NOTDIRECTORY
  f.msg(3, RelayCmd::kBegin, cstr("x"));                  // TORPROTOCOL
  f.msg(4, RelayCmd::kBegin, beginBody("127.0.0.1:80"));  // connect fails without an errno
  f.core.onConnectFailed(4, 0);
  f.msg(5, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  f.core.onConnected(5);
  f.core.onSocketClosed(5, 0);  // DONE
  f.msg(6, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  f.core.onConnectFailed(6, 12345);  // an errno nobody maps
  EXPECT_EQ(f.count(RelayCmd::kEnd), 6u);
  for (auto& s : f.io.sent)
    if (s.cmd == RelayCmd::kEnd) {
      ASSERT_FALSE(s.body.empty());
      EXPECT_NE(s.body[0], 0) << s.id;
    }
  EXPECT_EQ(f.shared.counters.endsSent[0], 0u);
}

TEST(ReverseNames, ParseBothFamilies) {
  EXPECT_EQ(parseReverseName("1.0.0.127.in-addr.arpa")->toString(), "127.0.0.1");
  EXPECT_EQ(parseReverseName("1.0.0.127.IN-ADDR.ARPA")->toString(), "127.0.0.1");
  EXPECT_FALSE(parseReverseName("0.0.127.in-addr.arpa"));
  EXPECT_FALSE(parseReverseName("256.0.0.127.in-addr.arpa"));
  EXPECT_FALSE(parseReverseName("1..0.127.in-addr.arpa"));
  EXPECT_FALSE(parseReverseName("example.com"));
  auto v6 =
      parseReverseName("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family, 6);
  EXPECT_EQ(*v6, *exitpolicy::IpAddress::parse("2001:db8::1"));
  EXPECT_FALSE(parseReverseName("1.0.ip6.arpa"));
}

}  // namespace
}  // namespace onionsplit::streamd

namespace onionsplit::streamd {
namespace {

// DoSStreamCreation on with a burst of 3 and 1 per second, per circuit.
void streamDefence(StreamShared& s, dos::StreamDefense type) {
  s.dos.streamEnabled = true;
  s.dos.streamBurst = 3;
  s.dos.streamRatePerSec = 1;
  s.dos.streamDefense = type;
}

CircuitStreams::Input at(CircuitStreams& core, uint64_t sec, StreamId id, RelayCmd cmd,
                         const std::vector<uint8_t>& body) {
  return core.onClientMessage(id, static_cast<uint8_t>(cmd), Bytes(body), sec * 1'000'000);
}

TEST(CircuitStreamsDos, AFloodingCircuitIsRefusedWhileAnotherIsServed) {
  Fixture f;
  streamDefence(f.shared, dos::StreamDefense::kRefuseStream);
  FakeIo otherIo;
  CircuitStreams other(f.shared, otherIo, false);  // another client's circuit, same streamd
  const uint64_t t = 100;
  for (StreamId id = 1; id <= 3; ++id)
    ASSERT_EQ(at(f.core, t, id, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
              CircuitStreams::Input::kOk);
  EXPECT_EQ(f.io.connects.size(), 3u);
  // The bucket is empty: BEGIN gets END MISC (C tor's choice, not RESOURCELIMIT) and no connect.
  EXPECT_EQ(at(f.core, t, 4, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
            CircuitStreams::Input::kOk);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kMisc));
  EXPECT_EQ(f.io.connects.count(4), 0u);
  EXPECT_FALSE(f.core.has(4));
  // RESOLVE gets RESOLVED with one transient error, and no lookup.
  EXPECT_EQ(at(f.core, t, 5, RelayCmd::kResolve, cstr("example.com")), CircuitStreams::Input::kOk);
  ASSERT_EQ(f.io.sent.back().cmd, RelayCmd::kResolved);
  auto resolved = cell::decodeResolved(Bytes(f.io.sent.back().body));
  ASSERT_TRUE(resolved);
  ASSERT_EQ(resolved->count, 1u);
  EXPECT_EQ(resolved->answers[0].type, cell::ResolvedAnswer::kTransientError);
  EXPECT_EQ(f.io.resolves.count(5), 0u);
  EXPECT_EQ(f.shared.dosCounters.streamRejected, 2u);
  // BEGIN_DIR is not counted (C tor hands it to the directory code first).
  at(f.core, t, 6, RelayCmd::kBeginDir, {});
  EXPECT_EQ(f.shared.dosCounters.streamRejected, 2u);
  // The other circuit has its own bucket.
  EXPECT_EQ(at(other, t, 1, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
            CircuitStreams::Input::kOk);
  EXPECT_EQ(otherIo.connects.count(1), 1u);
  // A second later, one more token.
  EXPECT_EQ(at(f.core, t + 1, 7, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
            CircuitStreams::Input::kOk);
  EXPECT_EQ(f.io.connects.count(7), 1u);
  EXPECT_EQ(at(f.core, t + 1, 8, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
            CircuitStreams::Input::kOk);
  EXPECT_EQ(f.io.connects.count(8), 0u);
  EXPECT_EQ(f.shared.dosCounters.streamRejected, 3u);
}

TEST(CircuitStreamsDos, TypeThreeClosesTheCircuitAndTypeOneOnlyCounts) {
  Fixture f;
  streamDefence(f.shared, dos::StreamDefense::kCloseCircuit);
  for (StreamId id = 1; id <= 3; ++id)
    ASSERT_EQ(at(f.core, 9, id, RelayCmd::kResolve, cstr("example.com")),
              CircuitStreams::Input::kOk);
  EXPECT_EQ(at(f.core, 9, 4, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
            CircuitStreams::Input::kCloseCircuit);
  EXPECT_EQ(f.io.connects.count(4), 0u);

  Fixture counting;
  streamDefence(counting.shared, dos::StreamDefense::kNone);
  for (StreamId id = 1; id <= 5; ++id)
    ASSERT_EQ(at(counting.core, 9, id, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
              CircuitStreams::Input::kOk);
  EXPECT_EQ(counting.io.connects.size(), 5u) << "type 1 refuses nothing";
  EXPECT_EQ(counting.shared.dosCounters.streamRejected, 2u) << "but counts";
}

TEST(CircuitStreamsDos, OffByDefault) {
  Fixture f;
  DnsAnswer a;
  a.ipv4.push_back({127, 0, 0, 1});
  for (StreamId id = 1; id <= 200; ++id) {  // answered at once: the lookup limit stays out of it
    at(f.core, 9, id, RelayCmd::kResolve, cstr("example.com"));
    f.core.onResolved(id, a);
  }
  EXPECT_EQ(f.io.resolves.size(), 200u);
  EXPECT_EQ(f.shared.dosCounters.streamRejected, 0u);
}

// The consensus' parameters as circuitd forwards them (circuit_stream.capnp's setNetParams),
// through streamd's parser into what every circuit shares, as streamd/main.cc applies them:
// cc_xoff_exit sets the buffer over which new streams send XOFF; DoSStreamCreation* turn the
// defence on unless the torrc says otherwise.
using Wire = std::vector<std::pair<std::string_view, int32_t>>;

void applyConsensus(StreamShared& shared, const Wire& wire, const dos::DosTorrc& torrc = {}) {
  auto p = streamNetParamsFromWire(wire);
  ASSERT_TRUE(p);
  shared.xonXoff = p->xonXoff;
  shared.dos = dos::resolve(torrc, p->dos);
}

TEST(CircuitStreamsConsensus, CcXoffExitSetsTheBufferLimitOfNewStreams) {
  Fixture f(true);
  f.open(1);  // opened under C tor's default, 500 cells
  applyConsensus(f.shared, {{"cc_xoff_exit", 4}});
  f.open(2);  // opened under 4 cells: 4 x 488 bytes
  for (StreamId id : {1, 2}) {
    f.io.buffered[id] = 5 * 488;
    f.core.onOutputDrained(id, 5 * 488, 0, 1);
    f.core.onOutputDrained(id, 5 * 488, 0, 1000000);
  }
  ASSERT_EQ(f.count(RelayCmd::kXoff), 1u);
  for (const Sent& m : f.io.sent) {
    if (m.cmd == RelayCmd::kXoff) {
      EXPECT_EQ(m.id, 2);
    }
  }
}

TEST(CircuitStreamsConsensus, TheConsensusTurnsTheStreamDefenceOnUnlessTheTorrcSaysOtherwise) {
  const Wire wire{{"DoSStreamCreationEnabled", 1},
                  {"DoSStreamCreationBurst", 2},
                  {"DoSStreamCreationRate", 1},
                  {"DoSStreamCreationDefenseType", 9}};  // clamps to 3: close the circuit
  Fixture f;
  applyConsensus(f.shared, wire);
  EXPECT_EQ(f.shared.dos.streamDefense, dos::StreamDefense::kCloseCircuit);
  for (StreamId id = 1; id <= 2; ++id)
    ASSERT_EQ(at(f.core, 9, id, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
              CircuitStreams::Input::kOk);
  EXPECT_EQ(at(f.core, 9, 3, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
            CircuitStreams::Input::kCloseCircuit);

  Fixture torrcOff;
  dos::DosTorrc torrc;
  torrc.streamCreationEnabled = false;
  applyConsensus(torrcOff.shared, wire, torrc);
  for (StreamId id = 1; id <= 5; ++id)
    ASSERT_EQ(at(torrcOff.core, 9, id, RelayCmd::kBegin, beginBody("127.0.0.1:80")),
              CircuitStreams::Input::kOk);
  EXPECT_EQ(torrcOff.io.connects.size(), 5u);
}

// C tor's tor_relay_load_tcp_exhaustion_total: a connect that found no local port (connect's
// EADDRNOTAVAIL, or EADDRINUSE from binding to OutboundBindAddress) is counted; other failures,
// and a failure reported for a stream that is already gone, are not.
TEST(CircuitStreams, ConnectsThatRanOutOfPortsAreCounted) {
  Fixture f;
  f.msg(1, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  f.core.onConnectFailed(1, EADDRNOTAVAIL);
  EXPECT_EQ(f.lastEnd(), static_cast<uint8_t>(cell::EndReason::kNoRoute));
  f.msg(2, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  f.core.onConnectFailed(2, EADDRINUSE);
  f.msg(3, RelayCmd::kBegin, beginBody("127.0.0.1:80"));
  f.core.onConnectFailed(3, ECONNREFUSED);
  f.core.onConnectFailed(1, EADDRNOTAVAIL);  // stream 1 ended already
  EXPECT_EQ(f.shared.counters.tcpExhaustion, 2u);
  EXPECT_EQ(f.count(RelayCmd::kEnd), 3u);
}

}  // namespace
}  // namespace onionsplit::streamd
