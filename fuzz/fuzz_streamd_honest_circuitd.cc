// fuzz/fuzz_streamd_honest_circuitd.cc: the oracle of issue 15, "honest peers are never dropped",
// for streamd. The real StreamSession (streamd/net/stream_session.h) runs on the shared event loop
// with a real Resolver and real sockets, paired with a model of circuitd that keeps the contract of
// proto/circuit_stream.capnp: it sends only the relay commands circuitd may send streamd
// (relay_commands.h), on streams (id != 0), bodies that fit one cell of the circuit's format (498
// bytes; 488 on the half of its congestion-controlled circuits that run CGO), within streamd's
// credit, opens a flow only with BEGIN, RESOLVE or BEGIN_DIR and never speaks on a flow after its
// close, and returns streamd's credit as circuitd does (when the client's side took the message).
// What the clients say is arbitrary: the input decides the relay commands (BEGINs to a TCP server
// of the target's on 127.0.0.1, to closed ports, to names a local DNS responder answers, never
// answers or refuses, to garbage addresses; DATA, END, SENDME, XON/XOFF, RESOLVE, BEGIN_DIR,
// garbage bodies), the stream ids, when circuits close, when the server accepts, writes and closes,
// and how many bounded non-blocking loop turns pass between all of it (and whether connects time
// out after 1 ms, so that timeouts cross the rest).
//
// The run fails (abort) if streamd drops the honest circuitd (its drop callback), or if the model
// finds streamd in breach: a command streamd may not send, END or `closed` with reason 0, a
// message on a flow or stream the model never opened, longer than one cell of its circuit's format,
// or past the model's credit.
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/cell/relay.h"
#include "common/cell/relay_v1.h"
#include "fuzz/honest_peer_fuzz.h"
#include "fuzz/ipc_sink_fuzz.h"
#include "streamd/net/stream_session.h"

using namespace onionsplit;

namespace {

using cell::RelayCmd;
using fuzz::fail;
using fuzz::Input;
using ipc::FlowId;

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  return a;
}

// A DNS responder on 127.0.0.1 (one per process, on the shared loop): names ending in ".test" have
// the A record 127.0.0.1, names starting with "slow" are never answered (their lookups stay
// pending until the session cancels them), everything else is NXDOMAIN.
class DnsResponder {
 public:
  explicit DnsResponder(event_base* base) {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in a = loopback(0);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::fprintf(stderr, "fuzz: no UDP socket for the DNS responder\n");
      std::abort();
    }
    ev_ = event_new(base, fd_, EV_READ | EV_PERSIST, &DnsResponder::onRead, nullptr);
    event_add(ev_, nullptr);
    conf = "/tmp/fuzz_streamd_resolv_" + std::to_string(getpid());
    std::ofstream(conf) << "nameserver 127.0.0.1:" << ntohs(a.sin_port) << "\n";
    static std::string path = conf;  // removed when the process ends
    std::atexit([] { std::remove(path.c_str()); });
  }
  std::string conf;

 private:
  static void onRead(evutil_socket_t fd, short, void*) {
    uint8_t q[512];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(fd, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 17) return;
    std::string name;
    size_t p = 12;
    while (p < static_cast<size_t>(n) && q[p] != 0) {
      size_t l = q[p];
      if (!name.empty()) name += '.';
      for (size_t i = 1; i <= l && p + i < static_cast<size_t>(n); ++i)
        name += static_cast<char>(q[p + i]);
      p += l + 1;
    }
    p += 1;
    if (p + 4 > static_cast<size_t>(n) || name.rfind("slow", 0) == 0) return;
    bool typeA = q[p] == 0 && q[p + 1] == 1;
    std::vector<uint8_t> r(q, q + p + 4);
    r[2] = 0x81;  // QR, RD
    r[3] = 0x80;  // RA, NOERROR
    std::memset(&r[6], 0, 6);
    bool known = name.size() > 5 && name.compare(name.size() - 5, 5, ".test") == 0;
    if (known && typeA) {
      r[7] = 1;
      const uint8_t rr[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
      r.insert(r.end(), rr, rr + sizeof rr);
    } else if (!known) {
      r[3] = 0x83;  // NXDOMAIN
    }
    sendto(fd, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
  }
  int fd_ = -1;
  event* ev_ = nullptr;
};

// The exit's destination: a TCP server on 127.0.0.1 that the input makes accept (or not), write and
// close its connections. Connections are reset at teardown (no TIME_WAIT piles up over a run).
class TcpServer {
 public:
  explicit TcpServer(event_base* base) : base_(base) {
    sockaddr_in a = loopback(0);
    lis_ = evconnlistener_new_bind(base, &TcpServer::onAccept, this, LEV_OPT_CLOSE_ON_FREE, 64,
                                   reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (!lis_) {
      std::fprintf(stderr, "fuzz: no TCP listener\n");
      std::abort();
    }
    socklen_t len = sizeof a;
    getsockname(evconnlistener_get_fd(lis_), reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~TcpServer() {
    for (auto* b : conns_)
      if (b) reset(b);
    evconnlistener_free(lis_);
  }
  void setAccepting(bool on) {
    if (on)
      evconnlistener_enable(lis_);
    else
      evconnlistener_disable(lis_);
  }
  void write(uint8_t which, Bytes data) {
    if (bufferevent* b = conn(which)) bufferevent_write(b, data.data(), data.size());
  }
  void close(uint8_t which, bool rst) {
    bufferevent* b = conn(which);
    if (!b) return;
    if (rst)
      reset(b);
    else
      bufferevent_free(b);
    conns_[which % conns_.size()] = nullptr;
  }
  uint16_t port = 0;

 private:
  bufferevent* conn(uint8_t which) {
    if (conns_.empty()) return nullptr;
    return conns_[which % conns_.size()];
  }
  static void reset(bufferevent* b) {
    linger l{1, 0};
    setsockopt(bufferevent_getfd(b), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    bufferevent_free(b);
  }
  static void onAccept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
    auto* self = static_cast<TcpServer*>(arg);
    if (self->conns_.size() >= 32) {
      ::close(fd);
      return;
    }
    auto* b = bufferevent_socket_new(self->base_, fd, BEV_OPT_CLOSE_ON_FREE);
    self->conns_.push_back(b);
    bufferevent_setcb(b, &TcpServer::onRead, nullptr, &TcpServer::onEvent, self);
    bufferevent_enable(b, EV_READ | EV_WRITE);
  }
  static void onRead(bufferevent* b, void*) {
    evbuffer* in = bufferevent_get_input(b);
    evbuffer_drain(in, evbuffer_get_length(in));
  }
  static void onEvent(bufferevent* b, short what, void* arg) {
    auto* self = static_cast<TcpServer*>(arg);
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) return;
    for (auto*& c : self->conns_)
      if (c == b) {
        bufferevent_free(b);
        c = nullptr;
      }
  }
  event_base* base_;
  evconnlistener* lis_ = nullptr;
  std::vector<bufferevent*> conns_;
};

// ---- honest circuitd ----
class CircuitdModel final : public ipc::PeerSession<ipc::StreamTraits> {
 public:
  explicit CircuitdModel(flowctl::CreditWindows w)
      : PeerSession("streamd (seen by circuitd)", w, [] {}) {}
  ipc::Verdict admit(proto::StreamEvent::Reader e) override {
    if (e.isClosed() && e.getClosed() == 0) return ipc::Verdict::breach("`closed` with reason 0");
    if (e.isRelay() && e.getRelay().getCommand() == static_cast<uint8_t>(RelayCmd::kEnd) &&
        (e.getRelay().getBody().size() == 0 || e.getRelay().getBody()[0] == 0))
      return ipc::Verdict::breach("an END without a reason (bug 41353)");
    return ipc::StreamTraits::admit(ipc::Side::kStreamd, ipc::Side::kCircuitd, e);
  }
  ipc::Verdict onControl(proto::StreamEvent::Reader) override {
    return ipc::Verdict::breach("streamd sends no control events");
  }
  ipc::FlowVerdict onFlowEvent(FlowId f, ipc::NoState&, proto::StreamEvent::Reader e,
                               ipc::CreditToken credit) override {
    auto it = streams.find(f);
    uint16_t sid = e.getRelay().getStreamId();
    if (it == streams.end() || !it->second.count(sid))
      onViolation("a message on a stream circuitd never opened");
    if (e.getRelay().getBody().size() > cell::relayDataMax(formatOf(f), e.getRelay().getCommand()))
      onViolation("a message longer than one cell of its circuit's format");
    if (std::getenv("HONEST_PEERS_LOG"))
      std::fprintf(stderr, "streamd: flow %llu stream %u command %u, %zu bytes\n",
                   static_cast<unsigned long long>(f), sid, e.getRelay().getCommand(),
                   e.getRelay().getBody().size());
    held.push_back(std::move(credit));  // until the client's side takes it (`take`)
    return ipc::FlowVerdict::accept();
  }
  void onPeerClose(FlowId f, ipc::NoState&, proto::StreamEvent::Reader) override {
    streams.erase(f);
  }
  void onClosed(FlowId f) override { streams.erase(f); }
  void onViolation(const std::string& why) override { fail("circuitd model", why); }

  // Sends a relay message of the client's on `f` if an honest circuitd could now: a flow starts
  // with an opener, and every message needs credit.
  void send(FlowId f, uint16_t sid, uint8_t cmd, Bytes body, bool cc) {
    if (sid == 0 || !ipc::maySend(ipc::Side::kCircuitd, ipc::Side::kStreamd, cmd, true)) return;
    if (!pipe.isOpen(f)) {
      if (!ipc::opensStreamSide(cmd) || pipe.inUse(f) || !pipe.openFlow(f)) return;
      ccFlows[f] = cc;
    }
    if (!pipe.canSend(f)) return;
    body = body.subspan(0, std::min<size_t>(body.size(), cell::relayDataMax(formatOf(f), cmd)));
    auto e = pipe.add();
    e.setFlow(f);
    e.setCongestionControl(ccFlows[f]);
    e.setRelayCellV1(formatOf(f) == cell::RelayCellFormat::kV1);
    auto r = e.initRelay();
    r.setStreamId(sid);
    r.setCommand(cmd);
    r.setBody(capnp::Data::Reader(body.data(), body.size()));
    pipe.commit(f, e);
    streams[f].insert(sid);
  }
  void closeFlow(FlowId f, uint8_t reason) {
    if (pipe.close(f, reason)) streams.erase(f);
  }
  // The client's side took `n` of streamd's messages: their credit goes back.
  void take(size_t n) {
    n = std::min(n, held.size());
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(n));
  }

  std::map<FlowId, std::set<uint16_t>> streams;  // per open flow, the streams we spoke on
  std::map<FlowId, bool> ccFlows;
  // Half the circuits with congestion control run CGO (v1 cells), which needs it.
  cell::RelayCellFormat formatOf(FlowId f) {
    return ccFlows[f] && (f & 1) ? cell::RelayCellFormat::kV1 : cell::RelayCellFormat::kV0;
  }
  std::vector<ipc::CreditToken> held;
};

// Turns the loop `n` times, never waiting: KJ's queue (batches, grants) and libevent's ready
// events (sockets, DNS, timers due).
void turn(int n) {
  for (int i = 0; i < n; ++i) {
    kj::evalLater([] {}).wait(fuzz::fuzzLoop().waitScope());
    event_base_loop(fuzz::fuzzLoop().base(), EVLOOP_NONBLOCK);
  }
}

// The BEGIN or RESOLVE target the input names.
std::string target(Input& in, uint16_t serverPort) {
  std::string port = std::to_string(serverPort);
  switch (in.byte() % 10) {
    case 0:
    case 1:
    case 2:
      return "127.0.0.1:" + port;
    case 3:
      return "echo.test:" + port;
    case 4:
      return "slow.test:" + port;
    case 5:
      return "nowhere.invalid:" + port;
    case 6:
      return "127.0.0.1:" + std::to_string(in.u16());  // closed ports, port 0, the policy's 25
    case 7:
      return "[::1]:" + port;
    default: {
      Bytes junk = in.take(in.byte() % 64);
      return std::string(junk.begin(), junk.end());
    }
  }
}

struct World {
  World(streamd::StreamdContext& ctx, flowctl::CreditWindows w)
      : server(ctx.base),
        session(std::make_unique<streamd::StreamSession>(
            "circuitd", ipc::Side::kCircuitd, ctx,
            [] { fail("streamd", "dropped the honest circuitd"); }, w)),
        circuitd(std::make_unique<CircuitdModel>(w)) {
    fuzz::pairUp(*session, *circuitd);
  }
  TcpServer server;
  std::unique_ptr<streamd::StreamSession> session;
  std::unique_ptr<CircuitdModel> circuitd;

  // One client message (or the circuit's close) on one of four flows.
  void client(Input& in) {
    uint8_t op = in.byte();
    FlowId f = 1 + op % 4;
    uint16_t sid = static_cast<uint16_t>(1 + in.byte() % 4);
    bool cc = in.byte() & 1;
    std::string body;
    uint8_t cmd = 0;
    switch ((op >> 2) % 12) {
      case 0:
      case 1:
        cmd = static_cast<uint8_t>(RelayCmd::kBegin);
        body = target(in, server.port);
        body.push_back('\0');
        if (in.byte() & 1) {  // BEGIN flags (IPv6 ok, IPv4 not ok, IPv6 preferred)
          uint32_t flags = in.byte() & 7;
          for (int i = 3; i >= 0; --i)
            body.push_back(static_cast<char>(flags >> (8 * i)));
        }
        break;
      case 2:
        cmd = static_cast<uint8_t>(RelayCmd::kResolve);
        body = in.byte() & 1 ? "1.0.0.127.in-addr.arpa" : target(in, server.port);
        body.push_back('\0');
        break;
      case 3:
        cmd = static_cast<uint8_t>(RelayCmd::kBeginDir);
        break;
      case 4:
      case 5: {
        cmd = static_cast<uint8_t>(RelayCmd::kData);
        Bytes d = in.take(in.byte() * 2u);
        body.assign(d.begin(), d.end());
        break;
      }
      case 6:
        cmd = static_cast<uint8_t>(RelayCmd::kEnd);
        body.push_back(static_cast<char>(in.byte() % 16));
        break;
      case 7:
        cmd = static_cast<uint8_t>(RelayCmd::kSendme);
        break;
      case 8:
        cmd = static_cast<uint8_t>(in.byte() & 1 ? RelayCmd::kXon : RelayCmd::kXoff);
        body.push_back(0);
        if (in.byte() & 1) body.append(4, static_cast<char>(in.byte()));
        break;
      case 9: {  // any command and body; the model sends it only if circuitd may
        cmd = in.byte();
        Bytes d = in.take(in.byte() * 2u);
        body.assign(d.begin(), d.end());
        break;
      }
      default:
        circuitd->closeFlow(f, in.byte() % 16);
        return;
    }
    circuitd->send(f, sid, cmd, Bytes(reinterpret_cast<const uint8_t*>(body.data()), body.size()),
                   cc);
  }
  // The destination server.
  void serve(Input& in) {
    uint8_t op = in.byte();
    switch (op % 4) {
      case 0:
        server.setAccepting(op & 4);
        break;
      case 1:
      case 2:
        server.write(in.byte(), in.take(in.u16() % 4096));
        break;
      default:
        server.close(in.byte(), op & 4);
        break;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static bool quiet = [] {  // HONEST_PEERS_LOG=1: streamd's log
    spdlog::set_level(std::getenv("HONEST_PEERS_LOG") ? spdlog::level::debug : spdlog::level::off);
    return true;
  }();
  (void)quiet;
  event_base* base = fuzz::fuzzLoop().base();
  static DnsResponder* dns = new DnsResponder(base);
  static const exitpolicy::Policy policy = [] {
    exitpolicy::PolicyInputs p;
    p.exitRelay = true;
    p.rejectPrivate = false;
    p.items = {"reject *:25", "accept *:*"};
    return *exitpolicy::Policy::build(p);
  }();
  Input in{data, size};
  streamd::StreamShared shared{policy};
  uint8_t limits = in.byte();
  shared.maxStreams = 1 + limits % 16;
  auto resolver = std::make_unique<streamd::Resolver>(base, dns->conf);
  streamd::StreamdContext ctx(base, *resolver, shared);
  // Connect deadlines of 1 ms fire within a run's turns (timeouts crossing answers and closes).
  if (limits & 0x80) ctx.connectTimeoutMs = 1;
  ctx.maxQueuedControl = 1 + in.byte() % 8;
  ctx.readAheadBytes = 498 * (1 + in.byte() % 4);
  flowctl::CreditWindows w = fuzz::fuzzWindows();
  w.flowMessages = 1 + in.byte() % 8;
  auto world = std::make_unique<World>(ctx, w);
  for (int step = 0; step < 400 && !in.done(); ++step) {
    uint8_t op = in.byte();
    switch (op % 8) {
      case 0:
      case 1:
      case 2:
        world->client(in);
        break;
      case 3:
        world->serve(in);
        break;
      case 4:
        world->circuitd->take(1 + in.byte() % 8);
        break;
      default:
        turn(1 + in.byte() % 4);
        break;
    }
  }
  world->circuitd->take(SIZE_MAX);
  turn(8);
  fuzz::tearingDown() = true;
  world->session.reset();  // closes its sockets, cancels its lookups
  fuzz::turnLoop(2);
  world.reset();
  fuzz::turnLoop(2);
  resolver.reset();
  fuzz::tearingDown() = false;
  return 0;
}
