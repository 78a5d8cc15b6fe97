// streamd/net/stream_session.cc: see stream_session.h.
#include "streamd/net/stream_session.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/base/clock.h"
#include "common/cell/relay_v1.h"
#include "common/flowctl/msg_queue.h"
#include "streamd/net/oom_handler.h"

namespace onionsplit::streamd {
namespace {

constexpr uint8_t kEndReasonResourceLimit = static_cast<uint8_t>(cell::EndReason::kResourceLimit);

constexpr uint8_t kEndReasonTorProtocol = static_cast<uint8_t>(cell::EndReason::kTorProtocol);

// 127.0.0.0/8 and ::1: C tor never binds connections to them to OutboundBindAddress*.
bool isLoopback(const exitpolicy::IpAddress& a) {
  if (a.family == 4) return a.b[0] == 127;
  static constexpr std::array<uint8_t, 16> kV6Loopback{0, 0, 0, 0, 0, 0, 0, 0,
                                                       0, 0, 0, 0, 0, 0, 0, 1};
  return a.b == kV6Loopback;
}

socklen_t toSockaddr(const exitpolicy::IpAddress& a, uint16_t port, sockaddr_storage& ss);

// A non-blocking TCP socket bound to `local` (port 0: the kernel picks), for libevent to connect;
// -1 with errno on failure.
int boundSocket(uint8_t family, const std::string& local) {
  auto addr = exitpolicy::IpAddress::parse(local);
  if (!addr || addr->family != family) {
    errno = EADDRNOTAVAIL;
    return -1;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_storage ss;
  socklen_t len = toSockaddr(*addr, 0, ss);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

socklen_t toSockaddr(const exitpolicy::IpAddress& a, uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (a.family == 4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, a.b.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(port);
  std::memcpy(&in6->sin6_addr, a.b.data(), 16);
  return sizeof(sockaddr_in6);
}

}  // namespace

// One circuit's (or set's) stream side: the pure core plus its sockets and waiting messages.
class StreamSession::Circuit final : public StreamIo {
 public:
  struct Sock {
    Circuit* circuit = nullptr;
    StreamId id = 0;
    bufferevent* bev = nullptr;
    evbuffer_cb_entry* drainCb = nullptr;
    event* timer = nullptr;  // connect timeout, or a deferred connect failure
    Resolver::Handle dns = 0;
    bool connected = false;
    bool inConnect = false;  // inside bufferevent_socket_connect
    bool deferredFail = false;
    int deferredErr = 0;
    bool eof = false;
    int err = 0;
    bool readPaused = false;  // input holds readAheadBytes: not reading the socket
    evbuffer_cb_entry* inputCb = nullptr;
    uint64_t age = 0;           // creation order, for the OOM handler's ties
    flowctl::MemCharge output;  // what the socket's output buffer holds
    flowctl::MemCharge input;   // ... and its input buffer
    uint64_t held() const { return output.held() + input.held(); }
  };
  Circuit(StreamSession& s, FlowId f, uint64_t n, bool cc, bool v1)
      : session(s),
        flow(f),
        serial(n),
        queue(0, s.ctx_.maxQueuedControl),
        core(s.ctx_.shared, *this, cc,
             v1 ? cell::RelayCellFormat::kV1 : cell::RelayCellFormat::kV0) {}
  ~Circuit() override { core.closeAll(); }

  Sock* find(StreamId id) {
    auto it = socks.find(id);
    return it == socks.end() ? nullptr : it->second.get();
  }
  Sock& sockFor(StreamId id) {
    auto& p = socks[id];
    if (!p) {
      p = std::make_unique<Sock>();
      p->circuit = this;
      p->id = id;
      p->age = session.ctx_.nextAge++;
      p->output = flowctl::MemCharge(session.ctx_.memory);
      p->input = flowctl::MemCharge(session.ctx_.memory);
      p->timer = evtimer_new(session.ctx_.base, &Circuit::onTimer, p.get());
    }
    return *p;
  }
  void armTimeout(Sock& s) {
    if (!s.timer || evtimer_pending(s.timer, nullptr)) return;
    timeval tv{static_cast<time_t>(session.ctx_.connectTimeoutMs / 1000),
               static_cast<suseconds_t>((session.ctx_.connectTimeoutMs % 1000) * 1000)};
    evtimer_add(s.timer, &tv);
  }

  // ---- StreamIo ----
  void sendControl(StreamId id, cell::RelayCmd cmd, Bytes body) override {
    if (failing) return;
    if (queue.empty() && session.pipe.canSend(flow)) {
      session.sendRelay(flow, id, static_cast<uint8_t>(cmd), body.data(), body.size());
      return;
    }
    // Only our own answers wait here (local slots: no peer credit is ever spent on them).
    if (queue.pushLocal(id, static_cast<uint8_t>(cmd), body) != flowctl::MsgQueue::Push::kOk) {
      failing = true;  // full (or a body no relay message holds): the circuit that caused it goes
      session.scheduleSweep();
      return;
    }
    session.blocked_.insert(flow);
  }

  void resolve(StreamId id, std::string_view name, bool wantIpv6) override {
    Sock& s = sockFor(id);
    armTimeout(s);
    s.dns = session.ctx_.resolver.lookup(name, wantIpv6, answerFor(id));
  }

  // The resolver's answer finds its stream again by ids: the session (which cancels every lookup
  // of its circuits before it goes), the flow, the circuit's serial and the stream id.
  Resolver::Callback answerFor(StreamId id) {
    return [sess = &session, f = flow, n = serial, id](const DnsAnswer& a) {
      Circuit* c = sess->circuitOf(f, n);
      if (!c) return;
      if (Sock* k = c->find(id)) k->dns = 0;
      c->core.onResolved(id, a);
      sess->pump(*c);
    };
  }

  void resolveReverse(StreamId id, const exitpolicy::IpAddress& address) override {
    Sock& s = sockFor(id);
    s.dns = session.ctx_.resolver.lookupReverse(address, answerFor(id));
  }

  void connect(StreamId id, const exitpolicy::IpAddress& a, uint16_t port) override {
    Sock& s = sockFor(id);
    armTimeout(s);
    int fd = -1;
    const std::string& local = a.family == 4 ? session.ctx_.bindIpv4 : session.ctx_.bindIpv6;
    if (!local.empty() && !isLoopback(a)) {
      fd = boundSocket(a.family, local);
      if (fd < 0) return deferFailure(s, errno);
    }
    s.bev = bufferevent_socket_new(session.ctx_.base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!s.bev) {
      if (fd >= 0) close(fd);
      return deferFailure(s, ENOMEM);
    }
    bufferevent_setcb(s.bev, &Circuit::onRead, nullptr, &Circuit::onSocketEvent, &s);
    s.drainCb = evbuffer_add_cb(bufferevent_get_output(s.bev), &Circuit::onDrained, &s);
    s.inputCb = evbuffer_add_cb(bufferevent_get_input(s.bev), &Circuit::onInput, &s);
    sockaddr_storage ss;
    socklen_t len = toSockaddr(a, port, ss);
    s.inConnect = true;
    int r =
        bufferevent_socket_connect(s.bev, reinterpret_cast<sockaddr*>(&ss), static_cast<int>(len));
    int err = errno;
    s.inConnect = false;
    if (r < 0 && !s.deferredFail) deferFailure(s, err ? err : ECONNREFUSED);
  }

  void write(StreamId id, Bytes data) override {
    Sock* s = find(id);
    if (!s || !s->bev || data.empty()) return;
    bufferevent_write(s->bev, data.data(), data.size());
  }

  size_t outputBuffered(StreamId id) const override {
    auto it = socks.find(id);
    if (it == socks.end() || !it->second->bev) return 0;
    return evbuffer_get_length(bufferevent_get_output(it->second->bev));
  }

  void release(StreamId id, bool flush) override {
    auto it = socks.find(id);
    if (it == socks.end()) return;
    Sock& s = *it->second;
    if (s.dns) session.ctx_.resolver.cancel(s.dns);
    if (s.timer) event_free(s.timer);
    if (s.bev) {
      if (s.drainCb) evbuffer_remove_cb_entry(bufferevent_get_output(s.bev), s.drainCb);
      if (s.inputCb) evbuffer_remove_cb_entry(bufferevent_get_input(s.bev), s.inputCb);
      if (flush && s.connected && session.ctx_.linger)
        session.ctx_.linger->closeAfterFlush(s.bev, s.age);
      else
        bufferevent_free(s.bev);
    }
    socks.erase(it);
  }

  void readable(StreamId id) override { toMark.push_back(id); }

  // ---- libevent callbacks ----
  void deferFailure(Sock& s, int err) {
    s.deferredFail = true;
    s.deferredErr = err;
    event_active(s.timer, EV_TIMEOUT, 1);
  }

  static void onTimer(evutil_socket_t, short, void* arg) {
    auto* s = static_cast<Sock*>(arg);
    Circuit& c = *s->circuit;
    StreamId id = s->id;
    if (s->deferredFail)
      c.core.onConnectFailed(id, s->deferredErr);
    else
      c.core.onConnectTimeout(id);
    c.session.pump(c);
  }

  // libevent 2.1 reads at most 4096 bytes per wake-up (EVBUFFER_MAX_READ, after a FIONREAD
  // ioctl). At an exit that is one batch to circuitd, one to channeld and one TLS record per 4 KiB:
  // the per-wake-up cost, paid on every hop (docs/BENCHMARKS.md, "Data plane"). So once woken,
  // take what the socket has up to the read-ahead in one readv. End of file is left to libevent's
  // next read, which reports it as it always does; an error is returned (errno), since the socket
  // reports it only once.
  static int readUpTo(bufferevent* bev, size_t limit) {
    evbuffer* in = bufferevent_get_input(bev);
    size_t have = evbuffer_get_length(in);
    if (have >= limit) return 0;
    int err = 0;
    // The bufferevent keeps its input's end frozen (only it adds there); it thaws it the same
    // way around its own reads.
    evbuffer_unfreeze(in, 0);
    evbuffer_iovec v[2];
    int n = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(limit - have), v, 2);
    if (n > 0) {
      iovec iov[2];
      for (int i = 0; i < n; ++i)
        iov[i] = {v[i].iov_base, v[i].iov_len};
      ssize_t got = readv(bufferevent_getfd(bev), iov, n);
      if (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) err = errno;
      int used = 0;
      for (size_t left = got > 0 ? static_cast<size_t>(got) : 0; used < n && left > 0; ++used) {
        v[used].iov_len = std::min(left, v[used].iov_len);
        left -= v[used].iov_len;
      }
      evbuffer_commit_space(in, v, used);
    }
    evbuffer_freeze(in, 0);
    return err;
  }

  static void onRead(bufferevent* bev, void* arg) {
    auto* s = static_cast<Sock*>(arg);
    Circuit& c = *s->circuit;
    if (int err = readUpTo(bev, c.session.ctx_.readAheadBytes)) {
      errno = err;  // what onSocketEvent reads, as after libevent's own failed read
      return onSocketEvent(bev, BEV_EVENT_READING | BEV_EVENT_ERROR, arg);
    }
    // Read ahead at most readAheadBytes (plus one read); the circuit's pump resumes reading once it
    // took half of it. (libevent's own read watermark is not used: at the mark it keeps calling
    // back without reading.)
    if (evbuffer_get_length(bufferevent_get_input(s->bev)) >= c.session.ctx_.readAheadBytes) {
      bufferevent_disable(s->bev, EV_READ);
      s->readPaused = true;
    }
    c.core.markReady(s->id);
    c.session.pump(c);
  }

  static void onSocketEvent(bufferevent* bev, short what, void* arg) {
    auto* s = static_cast<Sock*>(arg);
    Circuit& c = *s->circuit;
    StreamId id = s->id;
    int err = EVUTIL_SOCKET_ERROR();
    if (what & BEV_EVENT_CONNECTED) {
      s->connected = true;
      evtimer_del(s->timer);
      bufferevent_enable(bev, EV_READ | EV_WRITE);
      c.core.onConnected(id);
      c.session.pump(c);
      return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) return;
    if (!s->connected) {
      // libevent reports an immediately refused connect without errno.
      if (err == 0 || err == EAGAIN || err == EINPROGRESS) err = ECONNREFUSED;
      if (s->inConnect) return c.deferFailure(*s, err);
      c.core.onConnectFailed(id, err);
      c.session.pump(c);
      return;
    }
    s->eof = true;
    s->err = (what & BEV_EVENT_ERROR) ? (err ? err : ECONNRESET) : 0;
    bufferevent_disable(bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(bev)) == 0)
      c.core.onSocketClosed(id, s->err);  // everything it sent was packaged
    else
      c.core.markReady(id);  // END follows the rest of its data
    c.session.pump(c);
  }

  // Every change of the output buffer: the charge follows it; a drain may free withheld SENDMEs.
  static void onDrained(evbuffer* buf, const evbuffer_cb_info* info, void* arg) {
    auto* s = static_cast<Sock*>(arg);
    s->output.set(evbuffer_get_length(buf));
    if (info->n_added) s->circuit->session.ctx_.noteGrowth();
    if (info->n_deleted == 0) return;
    Circuit& c = *s->circuit;
    c.core.onOutputDrained(s->id, evbuffer_get_length(buf), info->n_deleted, monotonicUsec());
    c.session.pump(c);
  }

  static void onInput(evbuffer* buf, const evbuffer_cb_info* info, void* arg) {
    auto* s = static_cast<Sock*>(arg);
    s->input.set(evbuffer_get_length(buf));
    if (info->n_added) s->circuit->session.ctx_.noteGrowth();
  }

  StreamSession& session;
  FlowId flow;
  uint64_t serial;  // tells this circuit from an earlier one of the same flow id
  std::unordered_map<StreamId, std::unique_ptr<Sock>> socks;
  flowctl::MsgQueue queue;  // our own control messages waiting for credit (local slots only)
  std::vector<StreamId> toMark;
  bool failing = false;
  CircuitStreams core;
};

StreamSession::StreamSession(std::string peer, ipc::Side peerSide, StreamdContext& ctx,
                             std::function<void()> drop, flowctl::CreditWindows w)
    : PeerSession(std::move(peer), w, std::move(drop)), ctx_(ctx), peerSide_(peerSide) {
  sweepEv_ = event_new(ctx_.base, -1, 0, &StreamSession::onSweep, this);
  ctx_.sessions.push_back(this);
}

StreamSession::~StreamSession() noexcept(false) {
  circuits_.clear();  // closes every socket, cancels every lookup
  if (sweepEv_) event_free(sweepEv_);
  std::erase(ctx_.sessions, this);
}

void StreamdContext::noteGrowth() {
  if (oom && memory.over()) oom->schedule();
}

void StreamdContext::setHibernating(ipc::ConnectionId by, bool on) {
  if (on)
    hibernatingBy = by;
  else if (hibernatingBy == by)
    hibernatingBy.reset();
  else if (hibernatingBy)
    return;  // another connection's state holds; this one's ends with it
  if (shuttingDown || shared.hibernating == on) return;
  shared.hibernating = on;
  spdlog::info(on ? "accounting: the relay hibernates; new streams are refused (END HIBERNATING)"
                  : "accounting: the relay is awake; new streams are accepted again");
}

void StreamdContext::beginShutdown() {
  shuttingDown = true;
  shared.hibernating = true;
  spdlog::info("shutting down: new streams are refused (END HIBERNATING); open ones carry on");
}

void StreamdContext::connectionClosed(ipc::ConnectionId id) {
  if (hibernatingBy == id) setHibernating(id, false);
}

void StreamSession::collectOom(std::vector<flowctl::OomCandidate>& out,
                               std::vector<OomTarget>& targets) {
  for (auto& [flow, c] : circuits_)
    for (auto& [id, s] : c->socks) {
      if (s->held() == 0) continue;
      out.push_back(flowctl::OomCandidate{s->held(), s->held(), targets.size(), s->age});
      targets.push_back(OomTarget{this, flow, c->serial, id, nullptr});
    }
}

uint64_t StreamSession::endForMemory(const OomTarget& t) {
  Circuit* c = circuitOf(t.flow, t.serial);
  if (!c) return 0;
  Circuit::Sock* s = c->find(t.stream);
  if (!s) return 0;
  uint64_t bytes = s->held();
  if (!c->core.endForMemory(t.stream)) return 0;  // END RESOURCELIMIT; the socket is freed
  pump(*c);
  return bytes;
}

size_t StreamSession::sockets() const {
  size_t n = 0;
  for (auto& [f, c] : circuits_)
    n += c->socks.size();
  return n;
}

StreamSession::Circuit* StreamSession::circuitOf(FlowId flow, uint64_t serial) {
  auto it = circuits_.find(flow);
  if (it == circuits_.end() || it->second->serial != serial) return nullptr;
  return it->second.get();
}

ipc::Verdict StreamSession::admit(Event::Reader e) {
  return ipc::StreamTraits::admit(peerSide_, ipc::Side::kStreamd, e);
}

ipc::Verdict StreamSession::onControl(Event::Reader) {
  return ipc::Verdict::breach("a stream event without a flow");  // every stream event has one
}

ipc::FlowVerdict StreamSession::onFlowEvent(FlowId flow, StreamFlow&, Event::Reader e,
                                            flowctl::CreditToken credit) {
  if (!e.isRelay()) return ipc::FlowVerdict::closeFlow(kEndReasonTorProtocol);  // admit: cannot
  auto relay = e.getRelay();
  auto body = relay.getBody();
  auto it = circuits_.find(flow);
  if (it == circuits_.end()) {  // the flow's opener (the pipe opened it for us)
    it = circuits_
             .emplace(flow, std::make_unique<Circuit>(*this, flow, nextSerial_++,
                                                      e.getCongestionControl(), e.getRelayCellV1()))
             .first;
  }
  Circuit& c = *it->second;
  auto in = c.core.onClientMessage(relay.getStreamId(), relay.getCommand(),
                                   Bytes(body.begin(), body.size()), monotonicUsec());
  // DATA is in the socket's output buffer (or the stream's optimistic store) by now: the message
  // left our edge, its credit goes back.
  credit.release();
  if (in == CircuitStreams::Input::kViolation) {  // admit() lets none through; costs the flow only
    blocked_.erase(flow);
    circuits_.erase(flow);
    return ipc::FlowVerdict::closeFlow(kEndReasonTorProtocol);
  }
  if (in == CircuitStreams::Input::kCloseCircuit) {  // the stream creation defence, type 3
    blocked_.erase(flow);
    circuits_.erase(flow);
    return ipc::FlowVerdict::closeFlow(kEndReasonResourceLimit);
  }
  if (c.failing) {  // its answers overflowed their queue
    logOverflow(flow);
    blocked_.erase(flow);
    circuits_.erase(flow);
    return ipc::FlowVerdict::closeFlow(kEndReasonResourceLimit);
  }
  pump(c);
  return ipc::FlowVerdict::accept();
}

void StreamSession::onPeerClose(FlowId flow, StreamFlow&, Event::Reader e) {
  // The circuit closed: its streams go silently (their sockets flush); the pipe answers with the
  // same reason, unless that is 0: then we answer ourselves with MISC (bug 41353: no END, and no
  // close that stands for ENDs, carries reason 0).
  blocked_.erase(flow);
  circuits_.erase(flow);
  if (e.getClosed() == 0) pipe.close(flow, wireEndReason(0));
}

void StreamSession::onClosed(FlowId flow) {
  blocked_.erase(flow);
  circuits_.erase(flow);  // normally gone already
}

void StreamSession::onCredit() {
  if (blocked_.empty()) return;
  std::vector<FlowId>& flows = scratch_;
  flows.assign(blocked_.begin(), blocked_.end());
  for (FlowId f : flows) {
    auto it = circuits_.find(f);
    if (it == circuits_.end()) {
      blocked_.erase(f);
      continue;
    }
    pump(*it->second);
  }
}

void StreamSession::pump(Circuit& c) {
  if (c.failing || pipe.failed()) return;
  FlowId flow = c.flow;
  if (!c.toMark.empty()) {
    std::vector<StreamId> marks;
    marks.swap(c.toMark);
    for (StreamId id : marks) {
      Circuit::Sock* s = c.find(id);
      if (s && s->bev && (s->eof || evbuffer_get_length(bufferevent_get_input(s->bev)) > 0))
        c.core.markReady(id);
    }
  }
  while (!c.queue.empty() && pipe.canSend(flow)) {
    const auto& q = c.queue.front();
    sendRelay(flow, q.streamId, q.command, q.body.data(), q.length);
    c.queue.pop();
  }
  if (!c.queue.empty()) {
    blocked_.insert(flow);
    return;
  }
  while (c.core.hasReady()) {
    if (!pipe.canSend(flow)) {
      blocked_.insert(flow);
      return;
    }
    auto id = c.core.nextReady();
    if (!id) break;
    Circuit::Sock* s = c.find(*id);
    if (!s || !s->bev) continue;
    evbuffer* in = bufferevent_get_input(s->bev);
    size_t avail = evbuffer_get_length(in);
    if (avail > 0) {
      size_t n = std::min(avail, c.core.messageMax());  // one cell of the circuit's format
      auto e = pipe.add();
      e.setFlow(flow);
      auto r = e.initRelay();
      r.setStreamId(*id);
      r.setCommand(static_cast<uint8_t>(cell::RelayCmd::kData));
      auto body = r.initBody(static_cast<unsigned>(n));
      evbuffer_remove(in, body.begin(), n);
      pipe.commit(flow, e);
      c.core.onPackaged(*id, n);
      avail -= n;
    }
    // Reading resumes once half the read-ahead went, not at the first cell taken: each pause and
    // resume is an epoll_ctl, and with reads that fill the read-ahead every read would pause.
    if (s->readPaused && !s->eof && avail <= ctx_.readAheadBytes / 2) {
      s->readPaused = false;
      bufferevent_enable(s->bev, EV_READ);
    }
    if (avail > 0) {
      c.core.markReady(*id);
    } else if (s->eof) {
      c.core.onSocketClosed(*id, s->err);  // END DONE (or the error's reason); releases s
      if (!c.queue.empty()) {
        blocked_.insert(flow);
        return;
      }
    }
  }
  blocked_.erase(flow);
}

bool StreamSession::sendRelay(FlowId flow, StreamId id, uint8_t cmd, const uint8_t* body,
                              size_t len) {
  if (!pipe.canSend(flow)) return false;
  auto e = pipe.add();
  e.setFlow(flow);
  auto r = e.initRelay();
  r.setStreamId(id);
  r.setCommand(cmd);
  auto b = r.initBody(static_cast<unsigned>(len));
  if (len) std::memcpy(b.begin(), body, len);
  pipe.commit(flow, e);
  return true;
}

void StreamSession::dropCircuit(FlowId flow, uint8_t reason) {
  blocked_.erase(flow);
  circuits_.erase(flow);
  pipe.close(flow, wireEndReason(reason));  // no credit needed; false if already closing
}

void StreamSession::logOverflow(FlowId flow) {
  uint64_t suppressed = 0;
  if (logLimit_.allow("overflow", daemon::RateLimiter::Clock::now(), suppressed))
    spdlog::info("streamd: circuit {} queued too many messages toward {}; dropping it{}", flow,
                 peer(),
                 suppressed ? " (" + std::to_string(suppressed) + " more like it not logged)"
                            : std::string());
}

void StreamSession::scheduleSweep() {
  if (sweepEv_) event_active(sweepEv_, EV_TIMEOUT, 1);
}

void StreamSession::onSweep(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<StreamSession*>(arg);
  std::vector<FlowId> failing;
  for (auto& [f, c] : self->circuits_)
    if (c->failing) failing.push_back(f);
  for (FlowId f : failing) {
    self->logOverflow(f);
    self->dropCircuit(f, kEndReasonResourceLimit);
  }
}

}  // namespace onionsplit::streamd
