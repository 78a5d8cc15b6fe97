// channeld/net/outbound.cc: see outbound.h.
#include "channeld/net/outbound.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace onionsplit::channeld {
namespace {

// Handshake input we hold before the channel opens: the responder's CERTS is at most one
// variable-length cell (65535 + 7 bytes); AUTH_CHALLENGE and NETINFO are small.
constexpr size_t kMaxHandshakeInput = 80 * 1024;

std::optional<sockaddr_storage> sockaddrOf(const std::string& ip, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  auto* in4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, ip.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    len = sizeof *in4;
    return ss;
  }
  if (inet_pton(AF_INET6, ip.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    len = sizeof *in6;
    return ss;
  }
  return std::nullopt;
}

cell::NetAddress netAddressOf(const std::string& ip) {
  cell::NetAddress a;
  if (inet_pton(AF_INET, ip.c_str(), a.bytes.data()) == 1) {
    a.type = 4;
  } else if (inet_pton(AF_INET6, ip.c_str(), a.bytes.data()) == 1) {
    a.type = 6;
  }
  return a;
}

bool isPrivateV4(uint32_t a) {
  return (a & 0xff000000u) == 0x0a000000u ||  // 10/8
         (a & 0xff000000u) == 0x00000000u ||  // 0/8
         (a & 0xff000000u) == 0x7f000000u ||  // 127/8
         (a & 0xffc00000u) == 0x64400000u ||  // 100.64/10
         (a & 0xffff0000u) == 0xa9fe0000u ||  // 169.254/16
         (a & 0xfff00000u) == 0xac100000u ||  // 172.16/12
         (a & 0xffff0000u) == 0xc0a80000u;    // 192.168/16
}

bool sameIdentity(const OutboundTarget& t, const PeerIdentity& p) {
  if (t.rsaId && *t.rsaId != p.rsaId) return false;
  if (t.edId && *t.edId != p.edId) return false;
  return t.rsaId || t.edId;
}

std::string sslErrors() {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    unsigned long e = ERR_get_error();
    if (e == 0) break;
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!s.empty()) s += "; ";
    s += buf;
  }
  ERR_clear_error();
  return s;
}

}  // namespace

bool isPrivateAddress(const std::string& ip) {
  in_addr v4{};
  if (inet_pton(AF_INET, ip.c_str(), &v4) == 1) return isPrivateV4(ntohl(v4.s_addr));
  in6_addr v6{};
  if (inet_pton(AF_INET6, ip.c_str(), &v6) != 1) return true;
  const uint8_t* b = v6.s6_addr;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(b, kMapped, 12) == 0) {
    uint32_t a = (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
    return isPrivateV4(a);
  }
  if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true;  // fec0::/10
  static constexpr uint8_t kZero[15] = {};
  return std::memcmp(b, kZero, 15) == 0 && (b[15] & 0xfe) == 0;  // ::/127
}

// ---- OutboundDialer ----

struct OutboundDialer::Attempt {
  OutboundDialer* dialer = nullptr;
  uint64_t key = 0;
  OutboundTarget target;
  Done done;
  bufferevent* bev = nullptr;  // owned until handed over in an OpenedChannel
  event* deadline = nullptr;
  InitiatorIdentity identity;  // the credentials this handshake uses, kept alive by the shared_ptr
  std::unique_ptr<LinkInitiator> initiator;
  std::vector<uint8_t> in;
  std::optional<Expected<OpenedChannel, std::string>> result;  // set when finished
  ~Attempt() {
    if (deadline) event_free(deadline);
    if (bev) bufferevent_free(bev);
  }
};

OutboundDialer::OutboundDialer(event_base* base, const LinkTlsContext& tls,
                               InitiatorIdentity identity, std::chrono::milliseconds timeout,
                               std::function<void(MutBytes)> random, std::function<int64_t()> now)
    : base_(base),
      tls_(tls),
      identity_(std::move(identity)),
      timeout_(timeout),
      random_(std::move(random)),
      now_(std::move(now)),
      finisher_(event_new(base, -1, 0, &OutboundDialer::onFinish, this)) {}

OutboundDialer::~OutboundDialer() {
  attempts_.clear();
  event_free(finisher_);
}

std::optional<std::string> OutboundDialer::bindLocal(int fd, const sockaddr_storage& to) const {
  bool v4 = to.ss_family == AF_INET;
  const std::string& local = v4 ? localIpv4_ : localIpv6_;
  if (local.empty()) return std::nullopt;
  if (v4 && (ntohl(reinterpret_cast<const sockaddr_in*>(&to)->sin_addr.s_addr) >> 24) == 127)
    return std::nullopt;
  if (!v4 && IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<const sockaddr_in6*>(&to)->sin6_addr))
    return std::nullopt;
  socklen_t len = 0;
  auto from = sockaddrOf(local, 0, len);
  if (!from || bind(fd, reinterpret_cast<const sockaddr*>(&*from), len) != 0)
    return "cannot bind to " + local + ": " + std::strerror(from ? errno : EINVAL);
  return std::nullopt;
}

void OutboundDialer::dial(const OutboundTarget& target, Done done) {
  auto a = std::make_unique<Attempt>();
  a->dialer = this;
  a->key = next_++;
  a->target = target;
  a->done = std::move(done);
  a->identity = identity_;
  Attempt& at = *a;
  attempts_.emplace(at.key, std::move(a));
  at.deadline = evtimer_new(base_, &OutboundDialer::onDeadline, &at);
  auto ms = timeout_.count();
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
  if (at.deadline) evtimer_add(at.deadline, &tv);

  socklen_t len = 0;
  auto sa = sockaddrOf(target.ip, target.port, len);
  if (!sa || target.port == 0) return finish(at, fail("not an IP address and port: " + target.ip));
  // TCP first, on a socket of our own, then TLS over it (as C tor). Until the TLS bufferevent takes
  // the socket it is ours, whether the connect finished at once or is in progress: every failure
  // before that closes it here, exactly once, and the SSL goes with libevent's own error path
  // (BEV_OPT_CLOSE_ON_FREE frees it on a failed creation too), never twice (TROVE-2026-056).
  auto* addr = reinterpret_cast<const sockaddr*>(&*sa);
  int fd = ::socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return finish(at, fail("cannot make a socket: " + std::string(std::strerror(errno))));
  if (auto why = bindLocal(fd, *sa)) {
    ::close(fd);
    return finish(at, fail(*why));
  }
  // As on the ORPort: cells are small and latency-bound.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = seams_.connect ? seams_.connect(fd, addr, len) : ::connect(fd, addr, len);
  if (rc != 0 && errno != EINPROGRESS) {
    std::string why = std::strerror(errno);
    ::close(fd);
    return finish(at, fail("cannot connect: " + why));
  }
  SSL* ssl = seams_.newSsl ? seams_.newSsl() : tls_.newSsl();
  if (!ssl) {
    ::close(fd);
    return finish(at, fail(std::string("cannot start TLS")));
  }
  at.bev = bufferevent_openssl_socket_new(base_, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                          BEV_OPT_CLOSE_ON_FREE);
  if (!at.bev) {  // libevent freed the SSL; the socket never reached it
    ::close(fd);
    return finish(at, fail(std::string("cannot start TLS")));
  }
  bufferevent_setcb(at.bev, &OutboundDialer::onRead, nullptr, &OutboundDialer::onEvent, &at);
  // From here the bufferevent owns the socket (its SSL's BIO closes it when the bufferevent is
  // freed), and the TLS handshake starts when the socket is writable: at once if TCP connected.
  if (bufferevent_setfd(at.bev, fd) != 0) {
    if (bufferevent_getfd(at.bev) != fd) ::close(fd);
    return finish(at, fail(std::string("cannot start TLS on the connection")));
  }
  tls_.countWireBytes(bufferevent_openssl_get_ssl(at.bev));  // the socket BIO exists from here
}

void OutboundDialer::onDeadline(evutil_socket_t, short, void* arg) {
  auto* a = static_cast<Attempt*>(arg);
  a->dialer->finish(*a, fail(std::string("connection and link handshake took too long")));
}

void OutboundDialer::onEvent(bufferevent* bev, short what, void* arg) {
  auto* a = static_cast<Attempt*>(arg);
  if (a->result) return;
  if (what & BEV_EVENT_CONNECTED) {
    if (!a->initiator) a->dialer->startHandshake(*a);
    return;
  }
  if (what & BEV_EVENT_EOF) return a->dialer->finish(*a, fail(std::string("the peer closed")));
  if (what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
    int err = EVUTIL_SOCKET_ERROR();
    std::string why = sslErrors();
    if (why.empty()) why = err ? std::strerror(err) : "TLS or socket error";
    (void)bev;
    return a->dialer->finish(*a, fail("connection failed: " + why));
  }
}

void OutboundDialer::startHandshake(Attempt& a) {
  ssl_st* ssl = bufferevent_openssl_get_ssl(a.bev);
  const InitiatorIdentity& id = a.identity;
  InitiatorSetup s;
  s.certs = id.certs;
  s.authKey = id.creds ? &id.creds->authKey : nullptr;
  s.ourRsaIdSha256 = id.ourRsaIdSha256;
  s.ourEdId = id.ourEdId;
  s.expectedRsaId = a.target.rsaId;
  s.expectedEdId = a.target.edId;
  s.peerTlsCertDer = peerCertDer(ssl);
  s.tlsSecrets = authTlsSecrets(ssl, Bytes(id.ourRsaIdSha256));
  random_(MutBytes(s.authRandom));
  s.peerAddress = netAddressOf(a.target.ip);
  s.ourAddresses = id.ourAddresses;
  s.nowUnix = now_();
  if (s.peerTlsCertDer.empty())
    return finish(a, fail(std::string("the peer showed no TLS certificate")));
  a.initiator = std::make_unique<LinkInitiator>(std::move(s));
  std::vector<uint8_t> out;
  a.initiator->start(out);
  bufferevent_write(a.bev, out.data(), out.size());
  bufferevent_enable(a.bev, EV_READ | EV_WRITE);
}

void OutboundDialer::onRead(bufferevent* bev, void* arg) {
  auto* a = static_cast<Attempt*>(arg);
  if (a->result || !a->initiator) return;
  evbuffer* input = bufferevent_get_input(bev);
  size_t room = kMaxHandshakeInput - std::min(a->in.size(), kMaxHandshakeInput);
  size_t n = std::min(evbuffer_get_length(input), room);
  if (n == 0 && evbuffer_get_length(input) > 0)
    return a->dialer->finish(*a, fail(std::string("too much handshake data")));
  size_t old = a->in.size();
  a->in.resize(old + n);
  evbuffer_remove(input, a->in.data() + old, n);
  a->dialer->process(*a);
}

void OutboundDialer::process(Attempt& a) {
  size_t off = 0;
  std::vector<uint8_t> out;
  for (;;) {
    Bytes rest(a.in.data() + off, a.in.size() - off);
    auto next = cell::nextCell(rest, a.initiator->linkVersion());
    if (!next) return finish(a, fail(std::string("link handshake: malformed cell framing")));
    if (!*next) break;
    const cell::CellView& c = **next;
    auto step = a.initiator->onCell(c, rest.subspan(0, c.wireLen), out);
    off += c.wireLen;
    if (!out.empty()) {
      bufferevent_write(a.bev, out.data(), out.size());
      out.clear();
    }
    if (step.verdict == LinkInitiator::Verdict::kClose)
      return finish(a, fail("link handshake: " + step.why));
    if (step.verdict == LinkInitiator::Verdict::kOpen) {
      OpenedChannel ch;
      ch.info.linkVersion = a.initiator->linkVersion();
      ch.info.peer = a.initiator->peer();
      ch.info.address = PeerAddress{a.target.ip, a.target.port};
      ch.leftover.assign(a.in.begin() + static_cast<long>(off), a.in.end());
      bufferevent_setcb(a.bev, nullptr, nullptr, nullptr, nullptr);
      bufferevent* bev = a.bev;
      a.bev = nullptr;
      ch.conn = std::unique_ptr<OrConnection>(new OrConnection(bev, ch.info.address, nullptr));
      return finish(a, std::move(ch));
    }
  }
  a.in.erase(a.in.begin(), a.in.begin() + static_cast<long>(off));
}

void OutboundDialer::finish(Attempt& a, Expected<OpenedChannel, std::string> result) {
  if (a.result) return;
  a.result.emplace(std::move(result));
  if (a.bev) bufferevent_disable(a.bev, EV_READ | EV_WRITE);
  if (a.deadline) event_del(a.deadline);
  event_active(finisher_, 0, 0);
}

void OutboundDialer::onFinish(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<OutboundDialer*>(arg);
  // Take the finished attempts out first: a `done` may dial again.
  std::vector<std::unique_ptr<Attempt>> finished;
  for (auto it = self->attempts_.begin(); it != self->attempts_.end();) {
    if (it->second->result) {
      finished.push_back(std::move(it->second));
      it = self->attempts_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& a : finished)
    if (a->done) a->done(std::move(*a->result));
}

// ---- OutboundChannels ----

OutboundChannels::OutboundChannels(OutboundLimits limits, Dial dial, Adopt adopt)
    : limits_(limits), dial_(std::move(dial)), adopt_(std::move(adopt)) {}

std::optional<ChannelId> OutboundChannels::findOpen(const OutboundTarget& t) const {
  // C tor's channel_get_for_extend: the identity proven in the handshake, and the address EXTEND2
  // names (so an inbound channel from the same relay counts too).
  for (const auto& [id, k] : open_)
    if (sameIdentity(t, k.peer) && k.ip == t.ip) return id;
  return std::nullopt;
}

void OutboundChannels::request(const OutboundTarget& target, Done done) {
  auto refuse = [&](std::string why) { done(Result{std::nullopt, std::move(why)}); };
  if (!target.rsaId && !target.edId) return refuse("no identity for the next hop");
  socklen_t len = 0;
  if (target.port == 0 || !sockaddrOf(target.ip, target.port, len))
    return refuse("not a usable address and port");
  if (target.ip == "0.0.0.0" || target.ip == "::") return refuse("a zero address");
  if (isPrivateAddress(target.ip) && !limits_.allowPrivateAddresses)
    return refuse("a private address (ExtendAllowPrivateAddresses is off)");
  if (auto id = findOpen(target)) return done(Result{id, {}});
  for (auto& [key, p] : pending_) {
    bool sameRelay = p.target.ip == target.ip && p.target.port == target.port &&
                     ((target.rsaId && p.target.rsaId == target.rsaId) ||
                      (target.edId && p.target.edId == target.edId));
    if (!sameRelay) continue;
    if (p.waiters.size() >= limits_.maxWaitersPerConnection)
      return refuse("too many requests wait for this relay");
    p.waiters.emplace_back(target, std::move(done));
    return;
  }
  if (pending_.size() >= limits_.maxInProgress)
    return refuse("too many outbound connections in progress");
  uint64_t key = nextKey_++;
  Pending& p = pending_[key];
  p.target = target;
  p.waiters.emplace_back(target, std::move(done));
  std::weak_ptr<OutboundChannels*> self = self_;
  dial_(target, [self, key](Expected<OpenedChannel, std::string> r) {
    if (auto s = self.lock()) (*s)->onDialed(key, std::move(r));
  });
}

void OutboundChannels::onDialed(uint64_t key, Expected<OpenedChannel, std::string> r) {
  auto it = pending_.find(key);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  std::optional<ChannelId> id;
  std::string why;
  std::optional<PeerIdentity> peer;
  if (!r) {
    why = r.error();
  } else {
    peer = r->info.peer;
    ChannelInfo info = r->info;
    id = adopt_(std::move(*r));
    if (id && peer) {
      open_[*id] = Known{*peer, info.address.ip};
    } else {
      why = "the new channel could not be taken";
      id.reset();
    }
  }
  for (auto& [target, done] : p.waiters) {
    if (id && !sameIdentity(target, *peer))
      done(Result{std::nullopt, "the relay at that address has another identity"});
    else
      done(Result{id, why});
  }
}

void OutboundChannels::channelOpened(ChannelId id, const ChannelInfo& info) {
  if (info.peer) open_[id] = Known{*info.peer, info.address.ip};
}

void OutboundChannels::channelClosed(ChannelId id) {
  open_.erase(id);
}

}  // namespace onionsplit::channeld
