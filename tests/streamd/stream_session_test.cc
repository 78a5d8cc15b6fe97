// Component test of streamd/net/stream_session.h: the real StreamSession in-process, driven by a
// real BatchPipe peer (playing circuitd) over a Cap'n Proto connection on a socketpair, against
// real TCP servers and a tiny UDP DNS server of the test on 127.0.0.1, with a temporary resolv.conf
// that names that DNS server with its port. Every wait is bounded.
#include "streamd/net/stream_session.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/cell/relay.h"
#include "common/ipc/event_loop.h"
#include "streamd/net/oom_handler.h"
#include "tests/streamd/dns_server.h"

namespace onionsplit::streamd {
namespace {

using cell::RelayCmd;
using Pipe = ipc::BatchPipe<ipc::StreamTraits>;

constexpr uint8_t kDone = 6, kExitPolicy = 4, kNotDirectory = 14, kConnectRefused = 3;

// ---- TCP servers on 127.0.0.1 ----
class TcpServer {
 public:
  enum class Mode { kEcho, kSendThenClose, kBulk };
  TcpServer(event_base* base, Mode mode, size_t bytes = 0)
      : base_(base), mode_(mode), bytes_(bytes) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    lis_ = evconnlistener_new_bind(base, &TcpServer::onAccept, this,
                                   LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 256,
                                   reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(evconnlistener_get_fd(lis_), reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~TcpServer() {
    for (auto* b : conns_)
      if (b) bufferevent_free(b);
    evconnlistener_free(lis_);
  }
  uint16_t port = 0;
  int accepted = 0;
  int eofs = 0;
  size_t received = 0;

 private:
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
    auto* self = static_cast<TcpServer*>(arg);
    ++self->accepted;
    auto* b = bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
    self->conns_.push_back(b);
    bufferevent_setcb(b, &TcpServer::onRead, &TcpServer::onWrite, &TcpServer::onEvent, self);
    bufferevent_enable(b, EV_READ | EV_WRITE);
    if (self->mode_ != Mode::kEcho) {
      std::string data(self->bytes_, 'x');
      for (size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<char>('a' + i % 26);
      bufferevent_write(b, data.data(), data.size());
    }
  }
  static void onRead(bufferevent* b, void* arg) {
    auto* self = static_cast<TcpServer*>(arg);
    evbuffer* in = bufferevent_get_input(b);
    self->received += evbuffer_get_length(in);
    if (self->mode_ == Mode::kEcho)
      bufferevent_write_buffer(b, in);
    else
      evbuffer_drain(in, evbuffer_get_length(in));
  }
  static void onWrite(bufferevent* b, void* arg) {
    auto* self = static_cast<TcpServer*>(arg);
    if (self->mode_ != Mode::kSendThenClose) return;
    for (auto*& c : self->conns_)
      if (c == b) {
        bufferevent_free(b);  // everything was written: close
        c = nullptr;
      }
  }
  static void onEvent(bufferevent* b, short what, void* arg) {
    auto* self = static_cast<TcpServer*>(arg);
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
    ++self->eofs;
    for (auto*& c : self->conns_)
      if (c == b) {
        bufferevent_free(b);
        c = nullptr;
      }
  }
  event_base* base_;
  Mode mode_;
  size_t bytes_;
  evconnlistener* lis_ = nullptr;
  std::vector<bufferevent*> conns_;
};

uint16_t closedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// ---- circuitd's end of the pipe ----
struct Got {
  uint64_t flow = 0;
  uint16_t sid = 0;
  uint8_t cmd = 0;
  std::string body;
  bool closed = false;
};

// Plays circuitd (or confluxd): checks what streamd sends with the boundary's rules, keeps a copy,
// and hands each message on to its client at once (its credit goes back) unless told to hold them.
struct Circuitd final : Pipe::Handler {
  explicit Circuitd(ipc::Side self = ipc::Side::kCircuitd)
      : pipe(ipc::defaultWindows(), *this), side(self) {}
  ipc::Verdict admit(proto::StreamEvent::Reader e) override {
    if (e.isClosed()) {  // every close streamd sends, its own or its answer to ours
      closeReasons.push_back(e.getClosed());
      if (e.getClosed() == 0) ++zeroReasonEnds;
    }
    return ipc::StreamTraits::admit(ipc::Side::kStreamd, side, e);
  }
  ipc::Verdict onControl(proto::StreamEvent::Reader) override {
    return ipc::Verdict::breach("streamd sends no control events");
  }
  ipc::FlowVerdict onFlowEvent(ipc::FlowId, ipc::NoState&, proto::StreamEvent::Reader e,
                               flowctl::CreditToken credit) override {
    Got g;
    g.flow = e.getFlow();
    auto r = e.getRelay();
    g.sid = r.getStreamId();
    g.cmd = r.getCommand();
    auto b = r.getBody();
    g.body.assign(reinterpret_cast<const char*>(b.begin()), b.size());
    got.push_back(g);
    if (g.cmd == static_cast<uint8_t>(RelayCmd::kEnd) && (g.body.empty() || g.body[0] == 0))
      ++zeroReasonEnds;
    if (!autoTake) held.push_back(std::move(credit));  // else: handed on at once
    return ipc::FlowVerdict::accept();
  }
  void onPeerClose(ipc::FlowId f, ipc::NoState&, proto::StreamEvent::Reader e) override {
    Got g;
    g.flow = f;
    g.closed = true;
    got.push_back(g);
    closes[f] = e.getClosed();
  }
  void onClosed(ipc::FlowId f) override { closedFlows.push_back(f); }
  void onViolation(const std::string& why) override { violation = why; }
  // The client took `n` of the held messages.
  void take(size_t n) {
    n = std::min(n, held.size());
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(n));
  }

  void send(uint64_t flow, uint16_t sid, RelayCmd cmd, const std::string& body, bool cc = false,
            bool v1 = false) {
    if (!pipe.isOpen(flow)) {
      ASSERT_TRUE(pipe.openFlow(flow));
    }
    ASSERT_TRUE(pipe.canSend(flow));
    auto e = pipe.add();
    e.setFlow(flow);
    e.setCongestionControl(cc);
    e.setRelayCellV1(v1);
    auto r = e.initRelay();
    r.setStreamId(sid);
    r.setCommand(static_cast<uint8_t>(cmd));
    auto b = r.initBody(static_cast<unsigned>(body.size()));
    if (!body.empty()) std::memcpy(b.begin(), body.data(), body.size());
    pipe.commit(flow, e);
  }
  void close(uint64_t flow, uint8_t reason = 1) { ASSERT_TRUE(pipe.close(flow, reason)); }
  // Messages of (flow, sid) with command cmd.
  std::vector<Got> of(uint64_t flow, uint16_t sid, RelayCmd cmd) const {
    std::vector<Got> out;
    for (auto& g : got)
      if (!g.closed && g.flow == flow && g.sid == sid && g.cmd == static_cast<uint8_t>(cmd))
        out.push_back(g);
    return out;
  }
  size_t count(uint64_t flow, uint16_t sid, RelayCmd cmd) const {
    size_t n = 0;
    for (auto& g : got)
      n += !g.closed && g.flow == flow && g.sid == sid && g.cmd == static_cast<uint8_t>(cmd);
    return n;
  }
  std::string data(uint64_t flow, uint16_t sid) const {
    std::string s;
    for (auto& g : of(flow, sid, RelayCmd::kData))
      s += g.body;
    return s;
  }
  // Both closes of the flow passed (streamd's answer to ours, or streamd's own close).
  bool closedBack(uint64_t flow) const {
    return std::find(closedFlows.begin(), closedFlows.end(), flow) != closedFlows.end();
  }

  Pipe pipe;
  ipc::Side side;
  std::vector<Got> got;
  bool autoTake = true;
  std::vector<flowctl::CreditToken> held;  // messages not yet handed on (credit not returned)
  std::vector<ipc::FlowId> closedFlows;
  std::map<ipc::FlowId, uint8_t> closes;  // streamd's own closes, by reason
  std::vector<uint8_t> closeReasons;      // of every close streamd sent
  size_t zeroReasonEnds = 0;              // bug 41353: must stay 0
  std::string violation;
  std::unique_ptr<ipc::RpcConnection> conn;
};

std::string beginBody(const std::string& addrPort) {
  std::string b = addrPort;
  b.push_back('\0');
  return b;
}

exitpolicy::Policy testPolicy() {
  exitpolicy::PolicyInputs in;
  in.exitRelay = true;
  in.rejectPrivate = false;
  in.items = {"reject *:25", "accept *:*"};
  return *exitpolicy::Policy::build(in);
}

class StreamSessionTest : public ::testing::Test {
 protected:
  StreamSessionTest() : dns(loop.base()) {
    char path[] = "/tmp/streamd_resolv_XXXXXX";
    int fd = mkstemp(path);
    resolvConf = path;
    std::string text = "nameserver 127.0.0.1:" + std::to_string(dns.port) + "\n";
    EXPECT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::close(fd);
    resolver = std::make_unique<Resolver>(loop.base(), resolvConf);
    shared.maxStreams = 1000;
    ctx = std::make_unique<StreamdContext>(loop.base(), *resolver, shared);
    connect(ipc::Side::kCircuitd);
  }
  // A new session toward a new peer playing `side`.
  void connect(ipc::Side side) {
    session.reset();
    serverConn.reset();
    peerOwner = std::make_unique<Circuitd>(side);
    peer = peerOwner.get();
    session =
        std::make_unique<StreamSession>(side == ipc::Side::kCircuitd ? "circuitd" : "confluxd",
                                        side, *ctx, [this] { dropped = true; });
    int sv[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    serverConn = std::make_unique<ipc::RpcConnection>(loop.base(), sv[0], true,
                                                      session->pipe.makeLocalSink());
    peer->conn =
        std::make_unique<ipc::RpcConnection>(loop.base(), sv[1], false, peer->pipe.makeLocalSink());
    session->pipe.setPeer(serverConn->bootstrap<proto::StreamSink>());
    peer->pipe.setPeer(peer->conn->bootstrap<proto::StreamSink>());
  }
  void TearDown() override {
    session.reset();
    std::remove(resolvConf.c_str());
  }

  void turn() {
    kj::evalLater([] {}).wait(loop.waitScope());
    event_base_loop(loop.base(), EVLOOP_NONBLOCK);
  }
  // Runs the loop until `done` or about 5 seconds.
  bool waitFor(const std::function<bool()>& done) {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
      turn();
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return done();
  }
  void settle(int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
      turn();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  uint8_t endReason(uint64_t flow, uint16_t sid) {
    auto ends = peer->of(flow, sid, RelayCmd::kEnd);
    return ends.empty() || ends[0].body.empty() ? 0 : static_cast<uint8_t>(ends[0].body[0]);
  }
  bool hasEnd(uint64_t flow, uint16_t sid) { return !peer->of(flow, sid, RelayCmd::kEnd).empty(); }

  ipc::EventLoop loop;
  DnsServer dns;
  std::string resolvConf;
  exitpolicy::Policy policy = testPolicy();
  StreamShared shared{policy};
  std::unique_ptr<Resolver> resolver;
  std::unique_ptr<StreamdContext> ctx;
  bool dropped = false;
  std::unique_ptr<StreamSession> session;
  std::unique_ptr<ipc::RpcConnection> serverConn;
  std::unique_ptr<Circuitd> peerOwner;  // KJ-owning: held by pointer
  Circuitd* peer = nullptr;
};

TEST_F(StreamSessionTest, ConnectEchoBothWaysAndEndDoneWhenTheServerCloses) {
  TcpServer echo(loop.base(), TcpServer::Mode::kEcho);
  peer->send(1, 5, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(echo.port)));
  ASSERT_TRUE(waitFor([&] { return !peer->of(1, 5, RelayCmd::kConnected).empty(); }));
  auto c = cell::decodeConnected(
      Bytes(reinterpret_cast<const uint8_t*>(peer->of(1, 5, RelayCmd::kConnected)[0].body.data()),
            peer->of(1, 5, RelayCmd::kConnected)[0].body.size()));
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->address.has_value());
  EXPECT_EQ(c->address->bytes[0], 127);
  EXPECT_EQ(c->ttl, 60u);
  std::string sent;
  for (int i = 0; i < 14; ++i) {  // 14 * 498 = 6972 bytes
    std::string chunk(498, '\0');
    for (size_t k = 0; k < chunk.size(); ++k)
      chunk[k] = static_cast<char>((i * 498 + k) * 7 % 251);
    peer->send(1, 5, RelayCmd::kData, chunk);
    sent += chunk;
  }
  ASSERT_TRUE(waitFor([&] { return peer->data(1, 5).size() >= sent.size(); }));
  EXPECT_EQ(peer->data(1, 5), sent);
  for (auto& g : peer->of(1, 5, RelayCmd::kData))
    EXPECT_LE(g.body.size(), 498u);

  TcpServer talker(loop.base(), TcpServer::Mode::kSendThenClose, 5000);
  peer->send(1, 6, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(talker.port)));
  ASSERT_TRUE(waitFor([&] { return hasEnd(1, 6); }));
  EXPECT_EQ(endReason(1, 6), kDone);
  std::string expect(5000, 'x');
  for (size_t i = 0; i < expect.size(); ++i)
    expect[i] = static_cast<char>('a' + i % 26);
  EXPECT_EQ(peer->data(1, 6), expect);
  // END comes after all the data.
  EXPECT_EQ(peer->got.back().cmd, static_cast<uint8_t>(RelayCmd::kEnd));
  EXPECT_FALSE(dropped);
  EXPECT_GE(shared.counters.opened, 2u);
}

// A circuit with the v1 relay cell format (CGO) gets DATA of at most one v1 cell (488 bytes); the
// same server's bytes on a v0 circuit come in 498-byte messages.
TEST_F(StreamSessionTest, DataFitsOneCellOfTheCircuitsFormat) {
  TcpServer v0Server(loop.base(), TcpServer::Mode::kSendThenClose, 5000);
  TcpServer v1Server(loop.base(), TcpServer::Mode::kSendThenClose, 5000);
  peer->send(1, 5, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(v0Server.port)), true,
             false);
  peer->send(2, 5, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(v1Server.port)), true,
             true);
  ASSERT_TRUE(waitFor([&] { return hasEnd(1, 5) && hasEnd(2, 5); }));
  EXPECT_EQ(peer->data(1, 5).size(), 5000u);
  EXPECT_EQ(peer->data(2, 5).size(), 5000u);
  size_t v0Max = 0, v1Max = 0;
  for (auto& g : peer->of(1, 5, RelayCmd::kData))
    v0Max = std::max(v0Max, g.body.size());
  for (auto& g : peer->of(2, 5, RelayCmd::kData))
    v1Max = std::max(v1Max, g.body.size());
  EXPECT_EQ(v0Max, 498u);
  EXPECT_EQ(v1Max, 488u);
}

TEST_F(StreamSessionTest, HostnamesAndResolveForwardAndReverse) {
  TcpServer echo(loop.base(), TcpServer::Mode::kEcho);
  peer->send(2, 1, RelayCmd::kBegin, beginBody("echo.test:" + std::to_string(echo.port)));
  ASSERT_TRUE(waitFor([&] { return !peer->of(2, 1, RelayCmd::kConnected).empty(); }))
      << "end reason " << int(endReason(2, 1));
  EXPECT_EQ(echo.accepted, 1);

  peer->send(2, 2, RelayCmd::kResolve, std::string("echo.test") + '\0');
  ASSERT_TRUE(waitFor([&] { return !peer->of(2, 2, RelayCmd::kResolved).empty(); }));
  auto body = peer->of(2, 2, RelayCmd::kResolved)[0].body;
  auto r = cell::decodeResolved(Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  ASSERT_TRUE(r);
  ASSERT_GE(r->count, 1u);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kIpv4);
  ASSERT_EQ(r->answers[0].value.size(), 4u);
  EXPECT_EQ(r->answers[0].value[0], 127);
  EXPECT_EQ(r->answers[0].ttl, 60u);

  peer->send(2, 3, RelayCmd::kResolve, std::string("1.0.0.127.in-addr.arpa") + '\0');
  ASSERT_TRUE(waitFor([&] { return !peer->of(2, 3, RelayCmd::kResolved).empty(); }));
  body = peer->of(2, 3, RelayCmd::kResolved)[0].body;
  r = cell::decodeResolved(Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  ASSERT_TRUE(r);
  ASSERT_GE(r->count, 1u);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kHostname);
  EXPECT_EQ(std::string(r->answers[0].value.begin(), r->answers[0].value.end()), "echo.test");

  peer->send(2, 4, RelayCmd::kResolve, std::string("missing.test") + '\0');
  ASSERT_TRUE(waitFor([&] { return !peer->of(2, 4, RelayCmd::kResolved).empty(); }));
  body = peer->of(2, 4, RelayCmd::kResolved)[0].body;
  r = cell::decodeResolved(Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kError);

  // A second lookup of the name is a cache hit.
  int before = dns.queries;
  peer->send(2, 5, RelayCmd::kResolve, std::string("echo.test") + '\0');
  ASSERT_TRUE(waitFor([&] { return !peer->of(2, 5, RelayCmd::kResolved).empty(); }));
  EXPECT_EQ(dns.queries, before);
  EXPECT_GE(resolver->stats().cacheHits, 1u);
  EXPECT_FALSE(dropped);
}

TEST_F(StreamSessionTest, LookupsOfANameInFlightShareOneQuery) {
  int before = dns.queries;
  for (uint16_t id = 1; id <= 8; ++id)
    peer->send(4, id, RelayCmd::kResolve, std::string("burst.test") + '\0');
  ASSERT_TRUE(waitFor([&] {
    for (uint16_t id = 1; id <= 8; ++id)
      if (peer->of(4, id, RelayCmd::kResolved).empty()) return false;
    return true;
  }));
  EXPECT_EQ(dns.queries - before, 1) << "one A query for eight lookups";
  EXPECT_EQ(resolver->stats().coalesced, 7u);
  for (uint16_t id = 1; id <= 8; ++id) {
    auto body = peer->of(4, id, RelayCmd::kResolved)[0].body;
    auto r =
        cell::decodeResolved(Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kIpv4) << id;
  }
  EXPECT_FALSE(dropped);
}

TEST_F(StreamSessionTest, PolicyDirAndRefusedConnects) {
  peer->send(3, 1, RelayCmd::kBegin, beginBody("127.0.0.1:25"));
  peer->send(3, 2, RelayCmd::kBeginDir, "");
  peer->send(3, 3, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(closedPort())));
  ASSERT_TRUE(waitFor([&] { return hasEnd(3, 1) && hasEnd(3, 2) && hasEnd(3, 3); }));
  EXPECT_EQ(endReason(3, 1), kExitPolicy);
  EXPECT_EQ(endReason(3, 2), kNotDirectory);
  EXPECT_EQ(endReason(3, 3), kConnectRefused);
  EXPECT_EQ(session->sockets(), 0u);
  EXPECT_FALSE(dropped);
}

// SIGINT (ShutdownWaitLength): new streams get END HIBERNATING until the end, as C tor's exit
// refuses them while it waits to exit; accounting waking up (channeld's setHibernating(false))
// does not undo it.
TEST_F(StreamSessionTest, DuringTheShutdownWaitNewStreamsAreRefused) {
  ctx->beginShutdown();
  ctx->setHibernating(ipc::ConnectionId{7}, true);
  ctx->setHibernating(ipc::ConnectionId{7}, false);
  peer->send(13, 1, RelayCmd::kBegin, beginBody("127.0.0.1:25"));  // hibernation before policy
  ASSERT_TRUE(waitFor([&] { return hasEnd(13, 1); }));
  EXPECT_EQ(endReason(13, 1), static_cast<uint8_t>(cell::EndReason::kHibernating));
  EXPECT_EQ(session->sockets(), 0u);
  EXPECT_FALSE(dropped);
}

TEST_F(StreamSessionTest, ClosedFromCircuitdClosesTheSocketsAndIsAnswered) {
  TcpServer echo(loop.base(), TcpServer::Mode::kEcho);
  peer->send(4, 1, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(echo.port)));
  peer->send(4, 2, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(echo.port)));
  ASSERT_TRUE(waitFor([&] {
    return !peer->of(4, 1, RelayCmd::kConnected).empty() &&
           !peer->of(4, 2, RelayCmd::kConnected).empty() && echo.accepted == 2;
  }));
  EXPECT_EQ(session->sockets(), 2u);
  peer->close(4);
  ASSERT_TRUE(waitFor([&] { return peer->closedBack(4) && echo.eofs == 2; }));
  EXPECT_EQ(session->sockets(), 0u);
  EXPECT_EQ(session->circuits(), 0u);
  EXPECT_FALSE(hasEnd(4, 1));  // silently
  EXPECT_EQ(shared.counters.open, 0u);
  EXPECT_FALSE(dropped);
}

// A server that accepts only when told and reads with a small receive buffer, so streamd's output
// backs up; it then reads everything until the connection ends.
class SlowServer {
 public:
  SlowServer() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 4), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~SlowServer() {
    if (conn_ >= 0) ::close(conn_);
    ::close(fd_);
  }
  void accept() { conn_ = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); }
  // Reads what is there; true once the peer has closed.
  bool drain() {
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(conn_, buf, sizeof buf);
      if (n > 0) {
        received.append(buf, static_cast<size_t>(n));
        continue;
      }
      return n == 0;
    }
  }
  uint16_t port = 0;
  std::string received;

 private:
  int fd_ = -1;
  int conn_ = -1;
};

// Stream 1 of circuit `flow` to a SlowServer: connected, 480 DATA (about 239 KB, within a
// stream's window of 500 cells) the server does not read yet, then the client's END. Returns the
// bytes sent.
std::string sendThenEnd(Circuitd* peer, uint64_t flow, SlowServer& server,
                        const std::function<bool(const std::function<bool()>&)>& waitFor) {
  peer->send(flow, 1, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(server.port)));
  if (!waitFor([&] { return !peer->of(flow, 1, RelayCmd::kConnected).empty(); })) return "";
  server.accept();
  std::string sent;
  for (int i = 0; i < 480; ++i) {
    if (!waitFor([&] { return peer->pipe.canSend(flow); })) return "";
    std::string chunk(498, '\0');
    for (size_t k = 0; k < chunk.size(); ++k)
      chunk[k] = static_cast<char>((i * 498 + k) * 13 % 251);
    peer->send(flow, 1, RelayCmd::kData, chunk);
    sent += chunk;
  }
  peer->send(flow, 1, RelayCmd::kEnd, std::string(1, '\6'));
  return sent;
}

TEST_F(StreamSessionTest, WhatTheClientSentBeforeItsEndReachesASlowServer) {
  SocketLinger linger(loop.base(), 16, 10000);
  ctx->linger = &linger;
  SlowServer server;
  std::string sent = sendThenEnd(peer, 6, server, [this](auto f) { return waitFor(f); });
  ASSERT_FALSE(sent.empty());
  settle(100);
  ASSERT_EQ(linger.counters().adopted, 1u) << "the server read nothing yet: output must be left";
  EXPECT_EQ(session->sockets(), 0u) << "the stream itself is gone";
  ASSERT_TRUE(waitFor([&] { return server.drain(); }));
  EXPECT_EQ(server.received.size(), sent.size());
  EXPECT_TRUE(server.received == sent);
  EXPECT_EQ(linger.counters().flushed, 1u);
  EXPECT_EQ(linger.lingering(), 0u);
  EXPECT_FALSE(dropped);
}

TEST_F(StreamSessionTest, TooManyLingeringSocketsAreClosedAtOnce) {
  SocketLinger linger(loop.base(), 0, 10000);
  ctx->linger = &linger;
  SlowServer server;
  ASSERT_FALSE(sendThenEnd(peer, 7, server, [this](auto f) { return waitFor(f); }).empty());
  settle(100);
  EXPECT_EQ(linger.counters().refused, 1u);
  EXPECT_EQ(linger.lingering(), 0u);
  EXPECT_FALSE(dropped);
}

TEST_F(StreamSessionTest, ClassicWindowStopsReadingAt500DataUntilSendme) {
  TcpServer bulk(loop.base(), TcpServer::Mode::kBulk, 600 * 498);
  peer->send(5, 1, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(bulk.port)));
  ASSERT_TRUE(waitFor([&] { return peer->count(5, 1, RelayCmd::kData) >= 500; }))
      << peer->got.size() << " messages, " << peer->count(5, 1, RelayCmd::kData) << " DATA";
  settle(200);
  EXPECT_EQ(peer->count(5, 1, RelayCmd::kData), 500u);
  peer->send(5, 1, RelayCmd::kSendme, "");
  ASSERT_TRUE(waitFor([&] { return peer->count(5, 1, RelayCmd::kData) >= 550; }));
  settle(200);
  EXPECT_EQ(peer->count(5, 1, RelayCmd::kData), 550u);
  EXPECT_FALSE(hasEnd(5, 1));
  EXPECT_FALSE(dropped);
}

TEST_F(StreamSessionTest, WithoutCreditControlMessagesWaitInOrderAndReadsStop) {
  TcpServer echo(loop.base(), TcpServer::Mode::kEcho);
  peer->autoTake = false;  // circuitd's client is not taking anything: no credit comes back
  std::string begin = beginBody("127.0.0.1:" + std::to_string(echo.port));
  for (uint16_t sid = 1; sid <= 80; ++sid) {
    if (peer->pipe.isOpen(7) && !peer->pipe.canSend(7)) {
      ASSERT_TRUE(waitFor([&] { return peer->pipe.canSend(7); }));  // streamd returns credit
    }
    peer->send(7, sid, RelayCmd::kBegin, begin);
  }
  ASSERT_TRUE(waitFor([&] { return echo.accepted == 80; }))
      << echo.accepted << " accepted, " << peer->got.size() << " messages, " << session->sockets()
      << " sockets, " << shared.counters.open << " open";
  settle(100);
  EXPECT_EQ(peer->got.size(), 64u);  // one flow window of CONNECTEDs, the rest wait
  // Data from the destination waits too (its socket is not read while the circuit cannot send).
  peer->take(16);  // the client took 16 (credit goes back in a batch)
  peer->send(7, 1, RelayCmd::kData, "ping");
  ASSERT_TRUE(waitFor([&] { return peer->got.size() >= 80; }));
  settle(100);
  EXPECT_EQ(peer->got.size(), 80u);
  EXPECT_EQ(peer->count(7, 0, RelayCmd::kConnected), 0u);
  size_t connected = 0;
  for (auto& g : peer->got)
    connected += g.cmd == static_cast<uint8_t>(RelayCmd::kConnected);
  EXPECT_EQ(connected, 80u);  // all CONNECTEDs first, in order; the echo is not yet read
  for (size_t i = 0; i < 80; ++i)
    EXPECT_EQ(peer->got[i].sid, i + 1);
  peer->take(peer->held.size());
  ASSERT_TRUE(waitFor([&] { return peer->data(7, 1) == "ping"; }));
  EXPECT_FALSE(dropped);
}

TEST_F(StreamSessionTest, ACircuitClosesEvenWhenItsWindowIsExhausted) {
  peer->autoTake = false;
  for (uint16_t sid = 1; sid <= 70; ++sid) {
    if (peer->pipe.isOpen(9) && !peer->pipe.canSend(9)) {
      ASSERT_TRUE(waitFor([&] { return peer->pipe.canSend(9); }));
    }
    peer->send(9, sid, RelayCmd::kBeginDir, "");
  }
  settle(100);
  EXPECT_EQ(peer->got.size(), 64u);  // six ENDs wait for credit that never comes
  peer->close(9);
  ASSERT_TRUE(waitFor([&] { return peer->closedBack(9); }));
  EXPECT_EQ(session->circuits(), 0u);
  EXPECT_FALSE(dropped);
  EXPECT_TRUE(peer->violation.empty());
}

TEST_F(StreamSessionTest, AStreamThatCannotConnectInTimeEndsWithTimeout) {
  ctx->connectTimeoutMs = 200;
  peer->send(8, 1, RelayCmd::kBegin, beginBody("slow.test:80"));
  ASSERT_TRUE(waitFor([&] { return hasEnd(8, 1); }));
  EXPECT_EQ(endReason(8, 1), static_cast<uint8_t>(cell::EndReason::kTimeout));
  EXPECT_EQ(session->sockets(), 0u);
  settle(100);
  EXPECT_FALSE(dropped);
}

TEST_F(StreamSessionTest, ABadCommandIsAContractViolation) {
  TcpServer echo(loop.base(), TcpServer::Mode::kEcho);
  peer->send(6, 1, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(echo.port)));
  ASSERT_TRUE(waitFor([&] { return !peer->of(6, 1, RelayCmd::kConnected).empty(); }));
  peer->send(6, 1, RelayCmd::kConnected, "");  // only streamd sends CONNECTED
  ASSERT_TRUE(waitFor([&] { return dropped; }));
  EXPECT_TRUE(session->pipe.failed());
  // The owner drops the connection: everything bound to it goes, and the loop carries on.
  session.reset();
  settle(50);
  EXPECT_TRUE(waitFor([&] { return echo.eofs == 1; }));
}

// Issue 15: whatever a client makes circuitd pass on costs at most that stream (an END with a
// reason) or its circuit, never the connection.
TEST_F(StreamSessionTest, ClientFaultsEndAStreamNeverTheConnection) {
  TcpServer echo(loop.base(), TcpServer::Mode::kEcho);
  std::string ok = beginBody("127.0.0.1:" + std::to_string(echo.port));
  peer->send(10, 1, RelayCmd::kBegin, "no-nul-no-port");                  // malformed BEGIN
  peer->send(10, 2, RelayCmd::kData, "to a stream that does not exist");  // unknown stream
  peer->send(10, 3, RelayCmd::kEnd, std::string(1, '\6'));                // unknown stream
  peer->send(10, 4, RelayCmd::kBegin, ok);
  peer->send(10, 4, RelayCmd::kBegin, ok);          // id in use
  peer->send(10, 5, RelayCmd::kResolve, "no-nul");  // malformed RESOLVE
  peer->send(10, 6, RelayCmd::kSendme, "");         // unknown stream
  peer->send(10, 7, RelayCmd::kXoff, "junk");       // unknown stream
  ASSERT_TRUE(waitFor([&] {
    return hasEnd(10, 1) && hasEnd(10, 4) && !peer->of(10, 5, RelayCmd::kResolved).empty();
  }));
  EXPECT_EQ(endReason(10, 1), static_cast<uint8_t>(cell::EndReason::kTorProtocol));
  EXPECT_EQ(endReason(10, 4), static_cast<uint8_t>(cell::EndReason::kTorProtocol));
  EXPECT_FALSE(hasEnd(10, 2));
  EXPECT_GE(shared.counters.unknownStream, 4u);
  // More lookups at once than a circuit may have (the stream cap itself is circuit_streams_test's):
  // the one past the cap is answered as a failed lookup, a RESOLVED error, as C tor answers one
  // (an END RESOURCELIMIT would make a C tor client drop the exit), and costs nothing more.
  for (uint16_t sid = 100; sid < 100 + kMaxLookupsPerCircuit + 1; ++sid) {
    if (peer->pipe.isOpen(11)) {
      ASSERT_TRUE(waitFor([&] { return peer->pipe.canSend(11); }));
    }
    peer->send(11, sid, RelayCmd::kResolve, std::string("slow.test") + '\0');
  }
  uint16_t last = static_cast<uint16_t>(100 + kMaxLookupsPerCircuit);
  ASSERT_TRUE(waitFor([&] { return !peer->of(11, last, RelayCmd::kResolved).empty(); }));
  std::string answer = peer->of(11, last, RelayCmd::kResolved).front().body;
  ASSERT_FALSE(answer.empty());
  EXPECT_TRUE(answer[0] == '\xF0' || answer[0] == '\xF1') << "an error answer";
  EXPECT_FALSE(hasEnd(11, last));
  settle(50);
  EXPECT_FALSE(dropped);
  EXPECT_TRUE(peer->violation.empty());
  EXPECT_FALSE(session->pipe.failed());
  EXPECT_EQ(peer->zeroReasonEnds, 0u);
}

// TROVE-2026-035: a hostname with a control character, an empty or over-long label is refused
// before any lookup (BEGIN: END RESOLVEFAILED; RESOLVE: RESOLVED error), and a name in a
// resolver's answer that is not a valid hostname is dropped.
TEST_F(StreamSessionTest, Trove2026_035_BadNamesAreRefusedAndBadAnswersDropped) {
  int before = dns.queries;
  peer->send(12, 1, RelayCmd::kBegin, beginBody(std::string("evil\x01.test:80")));
  peer->send(12, 2, RelayCmd::kBegin, beginBody(std::string(64, 'a') + ".test:80"));
  peer->send(12, 3, RelayCmd::kBegin, beginBody("a..test:80"));
  peer->send(12, 4, RelayCmd::kResolve, std::string("evil\r\n.test") + '\0');
  peer->send(12, 5, RelayCmd::kResolve, std::string(300, 'a') + '\0');
  ASSERT_TRUE(waitFor([&] {
    return hasEnd(12, 1) && hasEnd(12, 2) && hasEnd(12, 3) &&
           !peer->of(12, 4, RelayCmd::kResolved).empty() &&
           !peer->of(12, 5, RelayCmd::kResolved).empty();
  }));
  for (uint16_t sid = 1; sid <= 3; ++sid)
    EXPECT_EQ(endReason(12, sid), static_cast<uint8_t>(cell::EndReason::kResolveFailed)) << sid;
  for (uint16_t sid = 4; sid <= 5; ++sid) {
    auto body = peer->of(12, sid, RelayCmd::kResolved)[0].body;
    auto r =
        cell::decodeResolved(Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kError) << sid;
  }
  EXPECT_EQ(dns.queries, before) << "no bad name reaches the nameserver";

  // The nameserver answers the PTR of 127.0.0.2 with a name holding a control character.
  peer->send(12, 6, RelayCmd::kResolve, std::string("2.0.0.127.in-addr.arpa") + '\0');
  ASSERT_TRUE(waitFor([&] { return !peer->of(12, 6, RelayCmd::kResolved).empty(); }));
  auto body = peer->of(12, 6, RelayCmd::kResolved)[0].body;
  auto r = cell::decodeResolved(Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->count, 1u);
  EXPECT_EQ(r->answers[0].type, cell::ResolvedAnswer::kError);
  EXPECT_EQ(resolver->stats().invalidNames, 1u);
  EXPECT_FALSE(dropped);
  EXPECT_TRUE(peer->violation.empty());
}

// Bug 41353: no END, and no close of a flow (which stands for an END on each of its streams),
// carries reason 0: streamd's own close (its answers overflowed: RESOURCELIMIT), and its answer to
// a close of circuitd's that carried 0 (MISC).
TEST_F(StreamSessionTest, Bug41353_NoEndOrCloseCarriesReasonZero) {
  ctx->maxQueuedControl = 2;
  peer->autoTake = false;
  for (uint16_t sid = 1; sid <= 70; ++sid) {
    if (peer->pipe.isOpen(13) && !peer->pipe.canSend(13)) {
      ASSERT_TRUE(waitFor([&] { return peer->pipe.canSend(13) || !peer->pipe.isOpen(13); }));
    }
    if (!peer->pipe.isOpen(13) && !peer->closes.empty()) break;
    peer->send(13, sid, RelayCmd::kBeginDir, "");
  }
  ASSERT_TRUE(waitFor([&] { return peer->closes.count(13) == 1; }));
  EXPECT_EQ(peer->closes[13], static_cast<uint8_t>(cell::EndReason::kResourceLimit));
  ASSERT_TRUE(waitFor([&] { return session->circuits() == 0; }));

  peer->autoTake = true;
  peer->send(14, 1, RelayCmd::kBeginDir, "");
  ASSERT_TRUE(waitFor([&] { return hasEnd(14, 1); }));
  peer->close(14, 0);
  ASSERT_TRUE(waitFor([&] { return peer->closedBack(14); }));
  ASSERT_FALSE(peer->closeReasons.empty());
  EXPECT_EQ(peer->closeReasons.back(), static_cast<uint8_t>(cell::EndReason::kMisc));
  EXPECT_EQ(peer->zeroReasonEnds, 0u);
  for (auto& g : peer->got)
    if (!g.closed && g.cmd == static_cast<uint8_t>(RelayCmd::kEnd)) {
      ASSERT_FALSE(g.body.empty());
      EXPECT_NE(g.body[0], 0);
    }
  EXPECT_FALSE(dropped);
  EXPECT_TRUE(peer->violation.empty());
}

// streamd serves confluxd too, whose sets run congestion control: a stream SENDME from confluxd
// is a breach of its contract (relay_commands.h), while the same from circuitd is not.
TEST_F(StreamSessionTest, WhatThePeerMaySendDependsOnItsSide) {
  connect(ipc::Side::kConfluxd);
  TcpServer echo(loop.base(), TcpServer::Mode::kEcho);
  peer->send(15, 1, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(echo.port)), true);
  ASSERT_TRUE(waitFor([&] { return !peer->of(15, 1, RelayCmd::kConnected).empty(); }));
  EXPECT_FALSE(dropped);
  peer->send(15, 1, RelayCmd::kSendme, "");
  ASSERT_TRUE(waitFor([&] { return dropped; }));
  EXPECT_TRUE(session->pipe.failed());
}

// This host's first IPv4 address outside 127.0.0.0/8 ("" if it has none).
std::string nonLoopbackIpv4() {
  ifaddrs* all = nullptr;
  if (getifaddrs(&all) != 0) return "";
  std::string out;
  for (ifaddrs* i = all; i && out.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
    auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if ((ntohl(in->sin_addr.s_addr) >> 24) == 127) continue;
    char buf[INET_ADDRSTRLEN];
    out = inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
  }
  freeifaddrs(all);
  return out;
}

// A listener on `addr` that reports the source address of the connection it accepts.
struct PeerAddressServer {
  explicit PeerAddressServer(const std::string& addr) {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, addr.c_str(), &a.sin_addr);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd, 4), 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~PeerAddressServer() { ::close(fd); }
  std::string acceptedFrom() {
    int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return "";
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    getpeername(c, reinterpret_cast<sockaddr*>(&peer), &len);
    ::close(c);
    char buf[INET_ADDRSTRLEN];
    return inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof buf);
  }
  int fd = -1;
  uint16_t port = 0;
};

// OutboundBindAddressExit: an exit connection leaves from the configured address; one to a
// loopback destination is not bound (C tor).
TEST_F(StreamSessionTest, OutboundBindAddressExitIsTheSourceOfExitConnections) {
  std::string local = nonLoopbackIpv4();
  if (local.empty()) GTEST_SKIP() << "no IPv4 address outside 127.0.0.0/8";
  ctx->bindIpv4 = "127.0.0.2";  // a source the kernel would never pick for `local` by itself
  PeerAddressServer far(local);
  peer->send(1, 5, RelayCmd::kBegin, beginBody(local + ":" + std::to_string(far.port)));
  ASSERT_TRUE(waitFor([&] { return !peer->of(1, 5, RelayCmd::kConnected).empty(); }));
  EXPECT_EQ(far.acceptedFrom(), "127.0.0.2");
  PeerAddressServer near("127.0.0.1");
  peer->send(1, 6, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(near.port)));
  ASSERT_TRUE(waitFor([&] { return !peer->of(1, 6, RelayCmd::kConnected).empty(); }));
  EXPECT_EQ(near.acceptedFrom(), "127.0.0.1");
}

}  // namespace
}  // namespace onionsplit::streamd

namespace onionsplit::streamd {
namespace {

// The stream creation defence, type 3 (DoSStreamCreationDefenseType 3): the circuit over its
// bucket is closed with RESOURCELIMIT; another circuit is still answered.
TEST_F(StreamSessionTest, StreamCreationDefenceClosesTheFloodingCircuitOnly) {
  shared.dos.streamEnabled = true;
  shared.dos.streamBurst = 2;
  shared.dos.streamRatePerSec = 1;
  shared.dos.streamDefense = dos::StreamDefense::kCloseCircuit;
  std::string literal = std::string("127.0.0.1") + '\0';
  for (uint16_t sid = 1; sid <= 2; ++sid)
    peer->send(21, sid, RelayCmd::kResolve, literal);
  ASSERT_TRUE(waitFor([&] { return peer->count(21, 2, RelayCmd::kResolved) == 1; }));
  peer->send(21, 3, RelayCmd::kResolve, literal);
  ASSERT_TRUE(waitFor([&] { return peer->closes.count(21) == 1; }));
  EXPECT_EQ(peer->closes[21], static_cast<uint8_t>(cell::EndReason::kResourceLimit));
  EXPECT_EQ(peer->count(21, 3, RelayCmd::kResolved), 0u);
  EXPECT_EQ(shared.dosCounters.streamRejected, 1u);
  peer->send(22, 1, RelayCmd::kResolve, literal);
  ASSERT_TRUE(waitFor([&] { return peer->count(22, 1, RelayCmd::kResolved) == 1; }));
  EXPECT_FALSE(dropped);
  EXPECT_TRUE(peer->violation.empty());
}

}  // namespace
}  // namespace onionsplit::streamd

namespace onionsplit::streamd {
namespace {

constexpr uint8_t kResourceLimit = 11;

// MaxMemInQueues (issue 18): a client that fills a stream's socket output past streamd's budget
// (its server reads nothing, and the client ignores XOFF on its congestion-controlled circuit)
// loses that stream, with END RESOURCELIMIT, from the OOM handler; a stream of another circuit
// keeps working, and the count of held bytes goes back to zero. The kernel takes up to its send
// buffer's maximum first (tcp_wmem, 4 MiB by default), so the client may send up to 8 MiB.
TEST_F(StreamSessionTest, OverTheMemoryBudgetTheStreamHoldingTheMostEndsWithResourceLimit) {
  OomHandler oom(*ctx);
  ctx->memory.setBudget(32 * 1024);
  TcpServer echo(loop.base(), TcpServer::Mode::kEcho);
  peer->send(2, 1, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(echo.port)));
  ASSERT_TRUE(waitFor([&] { return !peer->of(2, 1, RelayCmd::kConnected).empty(); }));
  SlowServer server;
  peer->send(1, 1, RelayCmd::kBegin, beginBody("127.0.0.1:" + std::to_string(server.port)), true);
  ASSERT_TRUE(waitFor([&] { return !peer->of(1, 1, RelayCmd::kConnected).empty(); }));
  server.accept();
  for (int i = 0; i < 16 * 1024 && !hasEnd(1, 1); ++i) {
    ASSERT_TRUE(waitFor([&] { return peer->pipe.canSend(1); }));
    peer->send(1, 1, RelayCmd::kData, std::string(498, static_cast<char>('a' + i % 26)), true);
    if (i % 16 == 0) turn();
  }
  ASSERT_TRUE(waitFor([&] { return hasEnd(1, 1); }))
      << ctx->memory.bytes() << " held, " << oom.runs() << " runs, " << session->sockets();
  EXPECT_EQ(endReason(1, 1), kResourceLimit);
  EXPECT_EQ(oom.streamsClosed(), 1u);
  EXPECT_GT(oom.bytesFreed(), 32u * 1024 / 10);  // at least what took it over the low-water mark
  EXPECT_LE(ctx->memory.bytes(), ctx->memory.lowWater());
  EXPECT_FALSE(peer->closedBack(1)) << "the stream goes, not its circuit";
  peer->send(2, 1, RelayCmd::kData, "still here");
  ASSERT_TRUE(waitFor([&] { return peer->data(2, 1) == "still here"; }));
  EXPECT_FALSE(hasEnd(2, 1));
  EXPECT_FALSE(dropped);
  session.reset();
  EXPECT_EQ(ctx->memory.bytes(), 0u);
  EXPECT_EQ(ctx->memory.charges(), 0u);
}

}  // namespace
}  // namespace onionsplit::streamd
