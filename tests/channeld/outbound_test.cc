// Tests for channeld/net/outbound.h. The registry (OutboundChannels) with a fake dialer: private
// addresses refused unless allowed, an open channel to the same relay reused (inbound ones too),
// requests for a relay being connected to sharing that connection, the in-progress limit. Then the
// real dialer over TCP + TLS on 127.0.0.1 against channeld's own ORPort side (OrListener +
// ChannelServer): the handshake completes and each side knows the other's identity; a wrong
// identity, a closed port and a peer that never answers fail with a reason.
#include "channeld/net/outbound.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "channeld/net/hibernation.h"
#include "common/crypto/ed25519_cert.h"
#include "common/daemon/reactor_oom.h"

namespace onionsplit::channeld {
namespace {

constexpr int64_t kNow = 1800000000;

// ---- the registry ----

crypto::RsaFingerprint fp(uint8_t b) {
  crypto::RsaFingerprint f{};
  f.fill(b);
  return f;
}

OutboundTarget target(const std::string& ip, uint8_t id) {
  OutboundTarget t;
  t.ip = ip;
  t.port = 9001;
  t.rsaId = fp(id);
  return t;
}

// A fake dialer: records dials; the test finishes them.
struct FakeNet {
  std::vector<std::pair<OutboundTarget, OutboundDialer::Done>> dials;
  ChannelId nextId = 100;
  std::vector<ChannelId> adopted;
  OutboundChannels make(OutboundLimits limits) {
    return OutboundChannels(
        limits,
        [this](const OutboundTarget& t, OutboundDialer::Done d) { dials.emplace_back(t, d); },
        [this](OpenedChannel&&) -> std::optional<ChannelId> {
          adopted.push_back(nextId);
          return nextId++;
        });
  }
  // Completes dial `i` as the relay `id` would.
  void succeed(size_t i, uint8_t id) {
    OpenedChannel ch;
    ch.info.linkVersion = 5;
    ch.info.peer = PeerIdentity{};
    ch.info.peer->rsaId = fp(id);
    ch.info.address = PeerAddress{dials[i].first.ip, dials[i].first.port};
    dials[i].second(std::move(ch));
  }
  void failDial(size_t i, const std::string& why) { dials[i].second(fail(why)); }
};

struct Got {
  int calls = 0;
  OutboundChannels::Result r;
  OutboundChannels::Done cb() {
    return [this](const OutboundChannels::Result& x) {
      ++calls;
      r = x;
    };
  }
};

TEST(OutboundChannels, PrivateAddressesOnlyWhenAllowed) {
  for (const char* ip : {"127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.5.5", "169.254.1.1",
                         "100.64.0.1", "0.1.2.3", "::1", "::", "fe80::1", "fc00::1", "fec0::1",
                         "::ffff:10.0.0.1", "not-an-address"})
    EXPECT_TRUE(isPrivateAddress(ip)) << ip;
  for (const char* ip : {"8.8.8.8", "172.32.0.1", "100.128.0.1", "2001:db8::1", "::ffff:8.8.8.8"})
    EXPECT_FALSE(isPrivateAddress(ip)) << ip;

  FakeNet net;
  auto reg = net.make(OutboundLimits{});
  Got g;
  reg.request(target("127.0.0.1", 1), g.cb());
  EXPECT_EQ(g.calls, 1);
  EXPECT_FALSE(g.r.channel);
  EXPECT_NE(g.r.why.find("private"), std::string::npos) << g.r.why;
  EXPECT_TRUE(net.dials.empty());
  reg.request(target("8.8.8.8", 1), g.cb());
  EXPECT_EQ(net.dials.size(), 1u);

  OutboundLimits allow;
  allow.allowPrivateAddresses = true;
  auto reg2 = net.make(allow);
  Got g2;
  reg2.request(target("127.0.0.1", 1), g2.cb());
  EXPECT_EQ(g2.calls, 0);
  EXPECT_EQ(net.dials.size(), 2u);
}

TEST(OutboundChannels, RefusesWhatCannotBeDialed) {
  FakeNet net;
  OutboundLimits allow;
  allow.allowPrivateAddresses = true;
  auto reg = net.make(allow);
  Got a, b, c, d;
  auto noId = target("8.8.8.8", 1);
  noId.rsaId.reset();
  reg.request(noId, a.cb());
  auto zeroPort = target("8.8.8.8", 1);
  zeroPort.port = 0;
  reg.request(zeroPort, b.cb());
  reg.request(target("relay.example", 1), c.cb());
  reg.request(target("0.0.0.0", 1), d.cb());
  for (Got* g : {&a, &b, &c, &d}) {
    EXPECT_EQ(g->calls, 1);
    EXPECT_FALSE(g->r.channel);
  }
  EXPECT_TRUE(net.dials.empty());
}

TEST(OutboundChannels, ReusesAnOpenChannelToTheSameRelay) {
  FakeNet net;
  auto reg = net.make(OutboundLimits{});
  Got first;
  reg.request(target("8.8.8.8", 1), first.cb());
  ASSERT_EQ(net.dials.size(), 1u);
  net.succeed(0, 1);
  ASSERT_EQ(first.calls, 1);
  ASSERT_TRUE(first.r.channel);
  EXPECT_EQ(*first.r.channel, 100u);

  Got again;
  reg.request(target("8.8.8.8", 1), again.cb());
  EXPECT_EQ(again.calls, 1) << "answered at once";
  EXPECT_EQ(again.r.channel, first.r.channel);
  EXPECT_EQ(net.dials.size(), 1u);

  Got otherAddress;  // the same identity elsewhere is not this channel
  reg.request(target("8.8.4.4", 1), otherAddress.cb());
  EXPECT_EQ(net.dials.size(), 2u);

  reg.channelClosed(100);
  Got afterClose;
  reg.request(target("8.8.8.8", 1), afterClose.cb());
  EXPECT_EQ(net.dials.size(), 3u);

  // An authenticated inbound channel from the relay counts too (C tor's channel_get_for_extend).
  ChannelInfo inbound;
  inbound.peer = PeerIdentity{};
  inbound.peer->rsaId = fp(2);
  inbound.address = PeerAddress{"9.9.9.9", 40000};
  reg.channelOpened(7, inbound);
  Got viaInbound;
  reg.request(target("9.9.9.9", 2), viaInbound.cb());
  EXPECT_EQ(viaInbound.r.channel, std::optional<ChannelId>(7));
  // ... but a client (no identity) never does.
  ChannelInfo client;
  client.address = PeerAddress{"9.9.9.10", 40000};
  reg.channelOpened(8, client);
  EXPECT_EQ(reg.knownChannels(), 1u);
}

TEST(OutboundChannels, RequestsForARelayBeingConnectedShareTheConnection) {
  FakeNet net;
  auto reg = net.make(OutboundLimits{});
  Got a, b, wrongEd;
  reg.request(target("8.8.8.8", 1), a.cb());
  reg.request(target("8.8.8.8", 1), b.cb());
  auto withEd = target("8.8.8.8", 1);
  withEd.edId = crypto::Ed25519PublicKey{};
  withEd.edId->fill(9);
  reg.request(withEd, wrongEd.cb());
  EXPECT_EQ(net.dials.size(), 1u);
  EXPECT_EQ(reg.inProgress(), 1u);
  net.succeed(0, 1);
  EXPECT_EQ(a.r.channel, std::optional<ChannelId>(100));
  EXPECT_EQ(b.r.channel, std::optional<ChannelId>(100));
  EXPECT_EQ(wrongEd.calls, 1);
  EXPECT_FALSE(wrongEd.r.channel) << "the channel proved another ed25519 identity";
  EXPECT_EQ(reg.inProgress(), 0u);
}

TEST(OutboundChannels, LimitsConnectionsInProgress) {
  FakeNet net;
  OutboundLimits limits;
  limits.maxInProgress = 2;
  auto reg = net.make(limits);
  Got a, b, c, d;
  reg.request(target("8.8.8.1", 1), a.cb());
  reg.request(target("8.8.8.2", 2), b.cb());
  reg.request(target("8.8.8.3", 3), c.cb());
  EXPECT_EQ(net.dials.size(), 2u);
  EXPECT_EQ(c.calls, 1);
  EXPECT_NE(c.r.why.find("too many"), std::string::npos) << c.r.why;
  net.failDial(0, "connection failed: refused");
  EXPECT_EQ(a.calls, 1);
  EXPECT_FALSE(a.r.channel);
  EXPECT_EQ(a.r.why, "connection failed: refused");
  reg.request(target("8.8.8.3", 3), d.cb());
  EXPECT_EQ(net.dials.size(), 3u);
}

TEST(OutboundChannels, ADialFinishingAfterTheRegistryIsGoneIsIgnored) {
  FakeNet net;
  Got a;
  {
    auto reg = net.make(OutboundLimits{});
    reg.request(target("8.8.8.8", 1), a.cb());
  }
  net.succeed(0, 1);
  EXPECT_EQ(a.calls, 0);
  EXPECT_TRUE(net.adopted.empty());
}

// ---- the dialer over real TLS, against channeld's ORPort side ----

crypto::Ed25519Keypair keypair(uint8_t seedByte) {
  crypto::Ed25519Seed s{};
  s.fill(seedByte);
  return *crypto::Ed25519Keypair::fromSeed(s);
}

std::array<uint8_t, 32> sha256(Bytes b) {
  std::array<uint8_t, 32> d{};
  unsigned n = 0;
  EVP_Digest(b.data(), b.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

struct Relay {
  crypto::RsaPrivateKey rsa = *crypto::RsaPrivateKey::generate(1024);
  crypto::Ed25519Keypair master, signing;
  std::optional<LinkCredentials> creds;
  std::shared_ptr<InitiatorCredentials> init;
  std::array<uint8_t, 32> rsaIdSha256{};
  explicit Relay(uint8_t seed)
      : master(keypair(seed)), signing(keypair(static_cast<uint8_t>(seed + 1))) {
    crypto::Ed25519CertFields f;
    f.certifiedKey = signing.publicKey();
    f.expirationHours = crypto::certExpirationHours(kNow + 86400 * 30);
    std::array<uint8_t, crypto::kEd25519CertMaxEncodedLen> buf{};
    auto c = crypto::encodeEd25519Cert(f, master, buf);
    std::vector<uint8_t> entropy(64, seed);
    std::string err;
    creds = LinkCredentials::create(rsa, signing, *c, master.publicKey(), kNow, entropy, err);
    init = std::make_shared<InitiatorCredentials>(
        *InitiatorCredentials::create(*creds, rsa, signing, kNow, entropy, err));
    rsaIdSha256 = sha256(Bytes(rsa.publicKey().derPkcs1()));
  }
  InitiatorIdentity identity() const {
    return InitiatorIdentity{init,
                             init->initiatorCerts(*creds),
                             rsaIdSha256,
                             master.publicKey(),
                             {cell::NetAddress{4, {127, 0, 0, 1}}}};
  }
};

void spin(event_base* base, int ms) {
  timeval tv{0, ms * 1000};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

// A TCP socket bound to a free port on 127.0.0.1 (listening when `listening`); its port in *port.
int loopbackSocket(bool listening, uint16_t* port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  if (bind(s, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0 || (listening && listen(s, 4))) {
    close(s);
    return -1;
  }
  socklen_t len = sizeof sin;
  getsockname(s, reinterpret_cast<sockaddr*>(&sin), &len);
  *port = ntohs(sin.sin_port);
  return s;
}

struct Loopback {
  event_base* base = event_base_new();
  Relay us{1}, them{11};
  std::optional<LinkTlsContext> serverTls, clientTls;
  std::unique_ptr<ChannelServer> server;
  std::unique_ptr<OrListener> listener;
  std::vector<ChannelInfo> serverOpened;
  std::vector<ChannelId> serverIds;
  std::unique_ptr<OutboundDialer> dialer;
  int64_t serverClock = kNow;  // the ORPort side's now_(); tests may move it on

  explicit Loopback(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000),
                    std::chrono::seconds keepalive = std::chrono::seconds(300),
                    const std::function<void(ChannelServer::Hooks&)>& moreHooks = {},
                    uint64_t bandwidth = 0) {
    signal(SIGPIPE, SIG_IGN);
    std::string err;
    serverTls =
        LinkTlsContext::create(TlsRole::kResponder, them.creds->linkKey, them.creds->linkCert, err);
    clientTls =
        LinkTlsContext::create(TlsRole::kInitiator, us.creds->linkKey, us.creds->linkCert, err);
    ChannelServerConfig cfg;
    cfg.certs = them.creds->responderCerts();
    cfg.ourRsaIdSha256 = them.rsaIdSha256;
    cfg.ourEdId = them.master.publicKey();
    cfg.ourTlsCertSha256 = them.creds->linkCert.sha256();
    cfg.keepalivePeriod = keepalive;
    if (bandwidth) cfg.bandwidthRate = cfg.bandwidthBurst = bandwidth;
    ChannelServer::Hooks hooks;
    hooks.opened = [this](ChannelId id, const ChannelInfo& info) {
      serverIds.push_back(id);
      serverOpened.push_back(info);
    };
    if (moreHooks) moreHooks(hooks);
    auto random = [](MutBytes b) { std::fill(b.begin(), b.end(), uint8_t{0x11}); };
    auto now = [] { return kNow; };
    server =
        std::make_unique<ChannelServer>(base, cfg, hooks, random, [this] { return serverClock; });
    listener = OrListener::create(
        base, *serverTls, -1, "127.0.0.1", 0, OrListenerLimits{},
        [this](std::unique_ptr<OrConnection> c) { server->accept(std::move(c)); }, err);
    dialer =
        std::make_unique<OutboundDialer>(base, *clientTls, us.identity(), timeout, random, now);
  }
  ~Loopback() {
    dialer.reset();
    listener.reset();
    // Let the ORPort side see every connection end and free it (libevent finishes freeing a
    // bufferevent on a later loop turn) before the server goes.
    for (int i = 0; i < 20 && server && server->channels() > 0; ++i)
      spin(base, 50);
    spin(base, 50);
    server.reset();
    event_base_free(base);
  }
  // Dials and waits (bounded) for the result.
  std::optional<Expected<OpenedChannel, std::string>> dial(OutboundTarget t) {
    std::optional<Expected<OpenedChannel, std::string>> got;
    dialer->dial(t, [&](Expected<OpenedChannel, std::string> r) { got.emplace(std::move(r)); });
    for (int i = 0; i < 100 && !got; ++i)
      spin(base, 50);
    return got;
  }
  // Dials them, waits (bounded) until the ORPort side has opened the channel, and hands the
  // client side's bufferevent to the test: no callbacks, reading and writing.
  std::optional<OpenedChannel> openRaw() {
    size_t want = serverOpened.size() + 1;
    auto got = dial(toThem());
    if (!got || !*got) return std::nullopt;
    OpenedChannel ch = std::move(**got);
    bufferevent_setcb(ch.conn->bev(), nullptr, nullptr, nullptr, nullptr);
    bufferevent_enable(ch.conn->bev(), EV_READ | EV_WRITE);
    for (int i = 0; i < 60 && serverOpened.size() < want; ++i)
      spin(base, 50);
    return ch;
  }
  OutboundTarget toThem() const {
    OutboundTarget t;
    t.ip = "127.0.0.1";
    t.port = listener->port();
    t.rsaId = them.rsa.publicKey().fingerprint();
    t.edId = them.master.publicKey();
    return t;
  }
};

TEST(OutboundDialer, OpensAnAuthenticatedChannelToOurOwnOrPort) {
  Loopback l;
  ASSERT_TRUE(l.listener);
  auto got = l.dial(l.toThem());
  ASSERT_TRUE(got);
  ASSERT_TRUE(*got) << got->error();
  OpenedChannel& ch = **got;
  EXPECT_EQ(ch.info.linkVersion, 5);
  ASSERT_TRUE(ch.info.peer);
  EXPECT_EQ(ch.info.peer->rsaId, l.them.rsa.publicKey().fingerprint());
  EXPECT_EQ(ch.info.peer->edId, l.them.master.publicKey());
  EXPECT_EQ(ch.info.address.port, l.listener->port());
  ASSERT_TRUE(ch.conn);
  for (int i = 0; i < 20 && l.serverOpened.empty(); ++i)
    spin(l.base, 50);
  ASSERT_EQ(l.serverOpened.size(), 1u);
  ASSERT_TRUE(l.serverOpened[0].peer) << "the responder saw an authenticated relay";
  EXPECT_EQ(l.serverOpened[0].peer->rsaId, l.us.rsa.publicKey().fingerprint());
  EXPECT_EQ(l.serverOpened[0].peer->edId, l.us.master.publicKey());
  EXPECT_EQ(l.dialer->inProgress(), 0u);
}

TEST(OutboundDialer, ChannelServerAdoptsTheOpenedChannel) {
  Loopback l;
  ASSERT_TRUE(l.listener);
  auto got = l.dial(l.toThem());
  ASSERT_TRUE(got && *got);
  // Our own ChannelServer takes it over; a cell the peer sent right after its NETINFO (here put
  // into `leftover` by hand) is delivered as on any open channel.
  ChannelServerConfig cfg;
  std::vector<std::pair<ChannelId, ChannelInfo>> opened;
  std::vector<std::pair<uint32_t, uint8_t>> cells;
  int closed = 0;
  ChannelServer::Hooks hooks;
  hooks.opened = [&](ChannelId id, const ChannelInfo& i) { opened.emplace_back(id, i); };
  hooks.cell = [&](ChannelId, uint32_t circId, uint8_t cmd, Bytes) {
    cells.emplace_back(circId, cmd);
    return true;
  };
  hooks.closed = [&](ChannelId) { ++closed; };
  auto ours = std::make_unique<ChannelServer>(
      l.base, cfg, hooks, [](MutBytes) {}, [] { return kNow; });
  OpenedChannel ch = std::move(**got);
  uint8_t payload[cell::kCellPayloadLen] = {};
  uint8_t buf[cell::kMaxCellLen];
  Writer w{MutBytes(buf)};
  cell::encodeFixedCell(w, ch.info.linkVersion, 7, cell::CellCmd::kCreateFast, Bytes(payload));
  ch.leftover.assign(w.written().begin(), w.written().end());
  ChannelId id = ours->adoptOpen(std::move(ch.conn), ch.info, std::move(ch.leftover));
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].first, id);
  ASSERT_TRUE(opened[0].second.peer);
  EXPECT_EQ(opened[0].second.peer->rsaId, l.them.rsa.publicKey().fingerprint());
  EXPECT_EQ(ours->openChannels(), 1u);
  ASSERT_EQ(cells.size(), 1u);
  EXPECT_EQ(cells[0], (std::pair<uint32_t, uint8_t>{7, 5}));
  // The peer closing it closes it here like any channel.
  for (int i = 0; i < 20 && l.serverIds.empty(); ++i)
    spin(l.base, 50);
  ASSERT_EQ(l.serverIds.size(), 1u);
  l.server->close(l.serverIds[0], "test");
  for (int i = 0; i < 20 && closed == 0; ++i)
    spin(l.base, 50);
  EXPECT_EQ(closed, 1);
  for (int i = 0; i < 20 && ours->channels() > 0; ++i)
    spin(l.base, 50);
  spin(l.base, 50);
  ours.reset();
}

// channeld's SIGTERM with a connection open: the server goes while a channel is open (its
// bufferevent in the bandwidth group). It used to abort in libevent's
// bufferevent_rate_limit_group_free ("0 == g->n_members"): a freed bufferevent leaves the group
// only on a later loop turn.
TEST(OutboundDialer, TheServerGoesCleanlyWithAChannelOpen) {
  Loopback l;
  ASSERT_TRUE(l.listener);
  auto got = l.dial(l.toThem());
  ASSERT_TRUE(got && *got);
  for (int i = 0; i < 20 && l.serverOpened.empty(); ++i)
    spin(l.base, 50);
  ASSERT_EQ(l.server->openChannels(), 1u);
  l.server.reset();  // no loop turn in between, as at shutdown
  SUCCEED() << "no abort";
}

TEST(OutboundDialer, FailsWithAReason) {
  Loopback l(std::chrono::milliseconds(400));
  ASSERT_TRUE(l.listener);
  {
    auto t = l.toThem();
    t.rsaId = Relay(21).rsa.publicKey().fingerprint();
    auto got = l.dial(t);
    ASSERT_TRUE(got);
    ASSERT_FALSE(*got);
    EXPECT_NE(got->error().find("RSA identity"), std::string::npos) << got->error();
  }
  {
    // A port nobody listens on.
    auto t = l.toThem();
    int s = loopbackSocket(false, &t.port);
    ASSERT_GE(s, 0);
    close(s);
    auto got = l.dial(t);
    ASSERT_TRUE(got);
    ASSERT_FALSE(*got);
    EXPECT_NE(got->error().find("connection failed"), std::string::npos) << got->error();
  }
  {
    // A peer that accepts TCP and never speaks TLS.
    auto t = l.toThem();
    int s = loopbackSocket(true, &t.port);
    ASSERT_GE(s, 0);
    auto got = l.dial(t);
    close(s);
    ASSERT_TRUE(got);
    ASSERT_FALSE(*got);
    EXPECT_NE(got->error().find("too long"), std::string::npos) << got->error();
  }
  EXPECT_EQ(l.dialer->inProgress(), 0u);
}

// The number of file descriptors the process holds.
size_t openFds() {
  size_t n = 0;
  for (int fd = 0; fd < 4096; ++fd)
    n += fcntl(fd, F_GETFD) != -1;
  return n;
}

// A connect that has finished when it returns (0), as it can on loopback or some kernels.
int connectAtOnce(int fd, const sockaddr* addr, socklen_t len) {
  if (::connect(fd, addr, len) == 0) return 0;
  if (errno != EINPROGRESS) return -1;
  pollfd p{fd, POLLOUT, 0};
  if (poll(&p, 1, 2000) != 1) return -1;
  int err = 0;
  socklen_t elen = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  errno = err;
  return err == 0 ? 0 : -1;
}

// TROVE-2026-056: the TCP connect succeeds at once but TLS cannot start. The attempt ends with a
// reason, once, and frees its socket and TLS state exactly once (no leak, no double free: run
// under ASan in the sanitizer build).
TEST(OutboundDialer, ConnectAtOnceThenTlsStartFailureFreesCleanly) {  // TROVE-2026-056
  Loopback l(std::chrono::milliseconds(2000));
  ASSERT_TRUE(l.listener);
  size_t before = openFds();
  l.dialer->setSeams({&connectAtOnce, [] { return static_cast<ssl_st*>(nullptr); }});
  int calls = 0;
  std::optional<Expected<OpenedChannel, std::string>> got;
  l.dialer->dial(l.toThem(), [&](Expected<OpenedChannel, std::string> r) {
    ++calls;
    got.emplace(std::move(r));
  });
  for (int i = 0; i < 20 && !got; ++i)
    spin(l.base, 20);
  ASSERT_TRUE(got);
  ASSERT_FALSE(*got);
  EXPECT_NE(got->error().find("cannot start TLS"), std::string::npos) << got->error();
  spin(l.base, 50);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(l.dialer->inProgress(), 0u);
  EXPECT_EQ(openFds(), before) << "the socket of the failed attempt is closed";
}

// The same connect at once, with TLS starting and the peer closing at once: the attempt's
// bufferevent owns the socket and frees it with its SSL.
TEST(OutboundDialer, ConnectAtOnceThenAPeerThatClosesFreesCleanly) {  // TROVE-2026-056
  Loopback l(std::chrono::milliseconds(2000));
  auto t = l.toThem();
  int s = loopbackSocket(true, &t.port);
  ASSERT_GE(s, 0);
  size_t before = openFds();
  l.dialer->setSeams({&connectAtOnce, {}});
  std::optional<Expected<OpenedChannel, std::string>> got;
  l.dialer->dial(t, [&](Expected<OpenedChannel, std::string> r) { got.emplace(std::move(r)); });
  int peer = accept(s, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  close(peer);
  for (int i = 0; i < 50 && !got; ++i)
    spin(l.base, 20);
  ASSERT_TRUE(got);
  ASSERT_FALSE(*got);
  spin(l.base, 50);
  EXPECT_EQ(l.dialer->inProgress(), 0u);
  EXPECT_EQ(openFds(), before);
  close(s);
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

// The source address of the first connection waiting on listening socket `s` ("" if none).
std::string firstPeerOf(int s) {
  int c = accept(s, nullptr, nullptr);
  if (c < 0) return "";
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  getpeername(c, reinterpret_cast<sockaddr*>(&peer), &len);
  close(c);
  char buf[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &peer.sin_addr, buf, sizeof buf);
}

// OutboundBindAddressOR: connections to relays leave from the configured address; those to a
// loopback destination are not bound (C tor).
TEST(OutboundDialer, LeavesFromTheOutboundBindAddress) {
  std::string local = nonLoopbackIpv4();
  if (local.empty()) GTEST_SKIP() << "no IPv4 address outside 127.0.0.0/8";
  Loopback l(std::chrono::milliseconds(300));
  l.dialer->setLocalAddresses("127.0.0.2", "");
  int far = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, local.c_str(), &sin.sin_addr);
  ASSERT_EQ(bind(far, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  ASSERT_EQ(listen(far, 4), 0);
  socklen_t len = sizeof sin;
  getsockname(far, reinterpret_cast<sockaddr*>(&sin), &len);
  auto t = l.toThem();
  t.ip = local;
  t.port = ntohs(sin.sin_port);
  ASSERT_TRUE(l.dial(t));  // fails (no TLS there); the TCP connection is what counts
  EXPECT_EQ(firstPeerOf(far), "127.0.0.2");
  close(far);
  int near = loopbackSocket(true, &t.port);
  t.ip = "127.0.0.1";
  ASSERT_TRUE(l.dial(t));
  EXPECT_EQ(firstPeerOf(near), "127.0.0.1");
  close(near);
  l.dialer->setLocalAddresses("not-an-address", "");
  t.ip = local;
  auto bad = l.dial(t);
  ASSERT_TRUE(bad);
  ASSERT_FALSE(*bad);
  EXPECT_NE(bad->error().find("cannot bind to not-an-address"), std::string::npos) << bad->error();
}

// tor_relay_traffic_bytes: each TLS context counts what its connections' sockets moved, TLS records
// and handshakes included. Once both sides are quiet, what one side wrote is what the other read.
TEST(LinkTls, BothSidesCountTheBytesOnTheWire) {
  Loopback l;
  ASSERT_TRUE(l.listener);
  auto got = l.dial(l.toThem());
  ASSERT_TRUE(got && *got);
  bufferevent* bev = (*got)->conn->bev();
  bufferevent_setcb(bev, nullptr, nullptr, nullptr, nullptr);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  std::vector<uint8_t> padding(cell::kMaxCellLen, 0);
  padding[4] = static_cast<uint8_t>(cell::CellCmd::kPadding);
  for (int i = 0; i < 100; ++i)
    bufferevent_write(bev, padding.data(), padding.size());
  const LinkTraffic& client = l.clientTls->traffic();
  const LinkTraffic& server = l.serverTls->traffic();
  const uint64_t sent = 100 * cell::kMaxCellLen;
  for (int i = 0; i < 60 && (client.written < sent || server.read != client.written ||
                             client.read != server.written);
       ++i)
    spin(l.base, 50);
  EXPECT_GT(server.read, sent) << "the cells and the TLS around them";
  EXPECT_EQ(server.read, client.written);
  EXPECT_EQ(client.read, server.written);
  EXPECT_GT(server.written, 0u) << "the server's half of the TLS and link handshakes";
}

// tor_relay_load_global_rate_limit_reached_total: with BandwidthRate 100 kB/s (channeld's buckets
// take 10 kB each 100 ms tick, and libevent starts them with one tick's worth), a peer that sends
// 50 kB empties the read bucket and 50 kB of cells queued for it empty the write bucket; both are
// counted.
TEST(ChannelServer, CountsTheTimesTheBandwidthBucketsRanDry) {
  Loopback l(
      std::chrono::milliseconds(5000), std::chrono::seconds(300),
      [](ChannelServer::Hooks& h) {
        h.cell = [](ChannelId, uint32_t, uint8_t, Bytes) { return true; };
      },
      100000);
  ASSERT_TRUE(l.listener);
  auto got = l.dial(l.toThem());
  ASSERT_TRUE(got && *got);
  OpenedChannel& ch = **got;
  bufferevent* bev = ch.conn->bev();
  bufferevent_setcb(bev, nullptr, nullptr, nullptr, nullptr);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  for (int i = 0; i < 60 && l.serverIds.empty(); ++i)
    spin(l.base, 50);
  ASSERT_EQ(l.serverIds.size(), 1u) << l.server->channels() << " " << l.server->openChannels();
  EXPECT_EQ(l.server->readLimitReached(), 0u);
  EXPECT_EQ(l.server->writeLimitReached(), 0u);
  uint8_t payload[cell::kCellPayloadLen] = {};
  uint8_t buf[cell::kMaxCellLen];
  Writer w{MutBytes(buf)};
  cell::encodeFixedCell(w, ch.info.linkVersion, 1, cell::CellCmd::kCreateFast, Bytes(payload));
  bufferevent_write(bev, w.written().data(), w.written().size());  // opens circuit 1 there
  std::vector<uint8_t> padding(cell::kMaxCellLen, 0);
  padding[4] = static_cast<uint8_t>(cell::CellCmd::kPadding);
  for (int i = 0; i < 100; ++i)
    bufferevent_write(bev, padding.data(), padding.size());
  for (int i = 0; i < 60 && l.server->readLimitReached() == 0; ++i)
    spin(l.base, 50);
  EXPECT_GT(l.server->readLimitReached(), 0u);
  for (int i = 0; i < 60 && l.server->writeLimitReached() == 0; ++i) {
    for (int k = 0; k < 20; ++k)
      l.server->queueCell(l.serverIds[0], 1, static_cast<uint8_t>(cell::CellCmd::kRelay),
                          Bytes(payload), flowctl::CreditToken());
    spin(l.base, 50);
  }
  EXPECT_GT(l.server->writeLimitReached(), 0u);
}

// KeepalivePeriod: the ORPort side writes a PADDING cell (circuit 0, command 0) on an open channel
// that has had nothing written for the period, and not before.
TEST(ChannelServer, KeepalivePaddingAfterThePeriod) {
  Loopback l(std::chrono::milliseconds(5000), std::chrono::seconds(2));
  ASSERT_TRUE(l.listener);
  auto got = l.dial(l.toThem());
  ASSERT_TRUE(got && *got);
  bufferevent* bev = (*got)->conn->bev();
  bufferevent_setcb(bev, nullptr, nullptr, nullptr, nullptr);
  bufferevent_enable(bev, EV_READ);
  evbuffer* in = bufferevent_get_input(bev);
  spin(l.base, 1500);
  EXPECT_EQ(evbuffer_get_length(in), 0u) << "nothing before the period";
  l.serverClock += 3;
  for (int i = 0; i < 30 && evbuffer_get_length(in) < cell::kMaxCellLen; ++i)
    spin(l.base, 100);
  ASSERT_EQ(evbuffer_get_length(in), cell::kMaxCellLen) << "one PADDING cell";
  std::array<uint8_t, cell::kMaxCellLen> c{};
  evbuffer_remove(in, c.data(), c.size());
  EXPECT_EQ(c[0] | c[1] | c[2] | c[3], 0) << "circuit 0";
  EXPECT_EQ(c[4], static_cast<uint8_t>(cell::CellCmd::kPadding));
  spin(l.base, 1500);
  EXPECT_EQ(evbuffer_get_length(in), 0u) << "the cell it wrote restarts the period";
}

// The circuit creation defence's enforcement point: a CREATE the defence refuses is answered by
// channeld itself with DESTROY RESOURCELIMIT and never reaches circuitd (the `cell` hook), while
// the same channel's other CREATEs go on. (Which addresses are refused: channel_dos_test.)
TEST(ChannelServer, CreateRefusedByTheDosDefenceIsDestroyedHere) {
  std::vector<uint32_t> seen, toCircuitd;
  Loopback l(std::chrono::milliseconds(5000), std::chrono::seconds(300),
             [&](ChannelServer::Hooks& h) {
               h.createSeen = [&](const ChannelInfo&) { seen.push_back(0); };
               // Refuses odd circuit ids: stands in for a marked address.
               h.refuseCreate = [&](const ChannelInfo&) { return seen.size() % 2 == 1; };
               h.cell = [&](ChannelId, uint32_t circId, uint8_t, Bytes) {
                 toCircuitd.push_back(circId);
                 return true;
               };
             });
  ASSERT_TRUE(l.listener);
  auto got = l.openRaw();
  ASSERT_TRUE(got);
  OpenedChannel& ch = *got;
  bufferevent* bev = ch.conn->bev();
  uint8_t payload[cell::kCellPayloadLen] = {};
  for (uint32_t circ : {1u, 2u}) {
    uint8_t buf[cell::kMaxCellLen];
    Writer w{MutBytes(buf)};
    cell::encodeFixedCell(w, ch.info.linkVersion, circ, cell::CellCmd::kCreateFast, Bytes(payload));
    bufferevent_write(bev, w.written().data(), w.written().size());
  }
  evbuffer* in = bufferevent_get_input(bev);
  for (int i = 0; i < 30 && (toCircuitd.size() < 1 || evbuffer_get_length(in) < cell::kMaxCellLen);
       ++i)
    spin(l.base, 50);
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_EQ(toCircuitd, std::vector<uint32_t>{2}) << "the refused CREATE never reaches circuitd";
  EXPECT_EQ(l.server->createsRefusedByDos(), 1u);
  ASSERT_EQ(evbuffer_get_length(in), cell::kMaxCellLen) << "one DESTROY";
  std::array<uint8_t, cell::kMaxCellLen> c{};
  evbuffer_remove(in, c.data(), c.size());
  EXPECT_EQ((c[0] << 24) | (c[1] << 16) | (c[2] << 8) | c[3], 1) << "circuit 1";
  EXPECT_EQ(c[4], static_cast<uint8_t>(cell::CellCmd::kDestroy));
  EXPECT_EQ(c[5], 5) << "RESOURCELIMIT";
}

// SIGINT with ShutdownWaitLength: once channeld refuses new circuits, a CREATE is answered with
// DESTROY HIBERNATING (as C tor while it shuts down) and never reaches circuitd; the circuit made
// before goes on.
TEST(ChannelServer, CreateWhileShuttingDownIsDestroyedHibernating) {
  std::vector<uint32_t> toCircuitd;
  Loopback l(std::chrono::milliseconds(5000), std::chrono::seconds(300),
             [&](ChannelServer::Hooks& h) {
               h.cell = [&](ChannelId, uint32_t circId, uint8_t, Bytes) {
                 toCircuitd.push_back(circId);
                 return true;
               };
             });
  ASSERT_TRUE(l.listener);
  auto got = l.openRaw();
  ASSERT_TRUE(got);
  OpenedChannel& ch = *got;
  bufferevent* bev = ch.conn->bev();
  uint8_t payload[cell::kCellPayloadLen] = {};
  auto create = [&](uint32_t circ) {
    uint8_t buf[cell::kMaxCellLen];
    Writer w{MutBytes(buf)};
    cell::encodeFixedCell(w, ch.info.linkVersion, circ, cell::CellCmd::kCreateFast, Bytes(payload));
    bufferevent_write(bev, w.written().data(), w.written().size());
  };
  create(1);
  for (int i = 0; i < 30 && toCircuitd.empty(); ++i)
    spin(l.base, 50);
  ASSERT_EQ(toCircuitd, std::vector<uint32_t>{1});
  l.server->refuseNewCircuits();
  create(2);
  evbuffer* in = bufferevent_get_input(bev);
  for (int i = 0; i < 30 && evbuffer_get_length(in) < cell::kMaxCellLen; ++i)
    spin(l.base, 50);
  EXPECT_EQ(toCircuitd, std::vector<uint32_t>{1}) << "the refused CREATE never reaches circuitd";
  EXPECT_EQ(l.server->createsRefusedWhileStopping(), 1u);
  ASSERT_EQ(evbuffer_get_length(in), cell::kMaxCellLen) << "one DESTROY";
  std::array<uint8_t, cell::kMaxCellLen> c{};
  evbuffer_remove(in, c.data(), c.size());
  EXPECT_EQ((c[0] << 24) | (c[1] << 16) | (c[2] << 8) | c[3], 2) << "circuit 2";
  EXPECT_EQ(c[4], static_cast<uint8_t>(cell::CellCmd::kDestroy));
  EXPECT_EQ(c[5], 4) << "HIBERNATING";
}

// A peer that sends CREATEs (each refused with a DESTROY here) and never reads: channeld stops
// reading it once kOutputCap of answers wait for TLS, so its output stays bounded whatever it
// sends; once it reads, every CREATE is answered.
TEST(ChannelServer, APeerThatDoesNotReadIsNotReadEither) {
  size_t seen = 0;
  Loopback l(std::chrono::milliseconds(5000), std::chrono::seconds(300),
             [&](ChannelServer::Hooks& h) {
               h.createSeen = [&](const ChannelInfo&) { ++seen; };
               h.refuseCreate = [](const ChannelInfo&) { return true; };
             });
  ASSERT_TRUE(l.listener);
  auto got = l.openRaw();
  ASSERT_TRUE(got);
  OpenedChannel& ch = *got;
  bufferevent* bev = ch.conn->bev();
  bufferevent_disable(bev, EV_READ);  // never reads its DESTROYs
  ASSERT_EQ(l.serverIds.size(), 1u);
  // Far more answers than the kernel's socket buffers on loopback hold.
  constexpr uint32_t kCreates = 65536;
  uint8_t payload[cell::kCellPayloadLen] = {};
  for (uint32_t circ = 1; circ <= kCreates; ++circ) {
    uint8_t buf[cell::kMaxCellLen];
    Writer w{MutBytes(buf)};
    cell::encodeFixedCell(w, ch.info.linkVersion, circ, cell::CellCmd::kCreateFast, Bytes(payload));
    bufferevent_write(bev, w.written().data(), w.written().size());
  }
  size_t last = 0;
  for (int i = 0, quiet = 0; i < 400 && quiet < 10; ++i) {
    spin(l.base, 50);
    quiet = seen == last ? quiet + 1 : 0;
    last = seen;
  }
  EXPECT_LT(seen, kCreates) << "reading stopped";
  EXPECT_GE(l.server->outputCapReached(), 1u);
  EXPECT_LT(l.server->outputBytes(l.serverIds[0]), ChannelServer::kOutputCap + cell::kMaxCellLen);

  uint64_t received = 0;
  bufferevent_setcb(
      bev,
      [](bufferevent* b, void* arg) {
        evbuffer* in = bufferevent_get_input(b);
        *static_cast<uint64_t*>(arg) += evbuffer_get_length(in);
        evbuffer_drain(in, evbuffer_get_length(in));
      },
      nullptr, nullptr, &received);
  bufferevent_enable(bev, EV_READ);
  for (int i = 0; i < 400 && received < uint64_t{kCreates} * cell::kMaxCellLen; ++i)
    spin(l.base, 50);
  EXPECT_EQ(seen, kCreates);
  EXPECT_EQ(received, uint64_t{kCreates} * cell::kMaxCellLen) << "every CREATE got its DESTROY";
}

// MaxMemInQueues, channeld's share: a peer that floods CREATEs (each refused with a DESTROY) and
// never reads holds its answers in channeld; over the budget, the OOM handler (from the loop)
// closes that channel, the one holding the most, and the bystander's channel goes on.
TEST(ChannelServer, OverItsBudgetTheChannelHoldingTheMostIsClosed) {
  Loopback l(
      std::chrono::milliseconds(5000), std::chrono::seconds(300),
      [&](ChannelServer::Hooks& h) { h.refuseCreate = [](const ChannelInfo&) { return true; }; });
  ASSERT_TRUE(l.listener);
  l.server->memory().setBudget(200 * 1024);
  daemon::ReactorOom<ChannelServer> oom(l.base, *l.server, "channeld", "channels",
                                        [&l] { return l.server->oomChannelsClosed(); });
  auto bystander = l.openRaw();
  auto abuser = l.openRaw();
  ASSERT_TRUE(bystander && abuser);
  ASSERT_EQ(l.serverIds.size(), 2u);
  auto creates = [](OpenedChannel& ch, uint32_t first, uint32_t n) {
    uint8_t payload[cell::kCellPayloadLen] = {};
    for (uint32_t circ = first; circ < first + n; ++circ) {
      uint8_t buf[cell::kMaxCellLen];
      Writer w{MutBytes(buf)};
      cell::encodeFixedCell(w, ch.info.linkVersion, circ, cell::CellCmd::kCreateFast,
                            Bytes(payload));
      bufferevent_write(ch.conn->bev(), w.written().data(), w.written().size());
    }
  };
  struct Peer {
    uint64_t received = 0;
    bool closed = false;
  } quiet, loud;
  auto watch = [](OpenedChannel& ch, Peer& p) {
    bufferevent_setcb(
        ch.conn->bev(),
        [](bufferevent* b, void* arg) {
          evbuffer* in = bufferevent_get_input(b);
          static_cast<Peer*>(arg)->received += evbuffer_get_length(in);
          evbuffer_drain(in, evbuffer_get_length(in));
        },
        nullptr,
        [](bufferevent*, short what, void* arg) {
          if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) static_cast<Peer*>(arg)->closed = true;
        },
        &p);
  };
  watch(*bystander, quiet);
  watch(*abuser, loud);
  bufferevent_enable(bystander->conn->bev(), EV_READ | EV_WRITE);
  bufferevent_enable(abuser->conn->bev(), EV_WRITE);
  bufferevent_disable(abuser->conn->bev(), EV_READ);  // never reads its DESTROYs
  creates(*abuser, 1, 65536);
  for (int i = 0; i < 400 && l.server->oomChannelsClosed() == 0; ++i)
    spin(l.base, 50);
  EXPECT_EQ(l.server->oomChannelsClosed(), 1u);
  EXPECT_GT(l.server->oomBytesFreed(), 200u * 1024 / 10);
  bufferevent_enable(abuser->conn->bev(), EV_READ);
  creates(*bystander, 1, 4);
  for (int i = 0; i < 100 && !(loud.closed && quiet.received >= 4 * cell::kMaxCellLen); ++i)
    spin(l.base, 50);
  EXPECT_TRUE(loud.closed) << "the abuser's channel was closed";
  EXPECT_FALSE(quiet.closed);
  EXPECT_EQ(quiet.received, 4u * cell::kMaxCellLen) << "the bystander is still answered";
  EXPECT_LE(l.server->memory().bytes(), l.server->memory().lowWater());
  EXPECT_EQ(l.server->channels(), 1u);
}

// AccountingMax (channeld/net/hibernation.h) on a real channel: the bytes its TLS reads count;
// near the budget (C tor's soft limit, 95%) a CREATE is answered with DESTROY HIBERNATING while the
// channel stays; at the budget the channel closes and new connections close at once; the record in
// DataDirectory/accounting-state brings a restarted channeld back asleep; at the next interval the
// relay wakes and takes circuits again. The clock is given to tick().
TEST(ChannelServer, AccountingHibernatesSoftThenHardAndWakesAtTheNextInterval) {
  std::vector<uint32_t> toCircuitd;
  Loopback l(std::chrono::milliseconds(5000), std::chrono::seconds(300),
             [&](ChannelServer::Hooks& h) {
               h.cell = [&](ChannelId, uint32_t circId, uint8_t, Bytes) {
                 toCircuitd.push_back(circId);
                 return true;
               };
             });
  ASSERT_TRUE(l.listener);
  char dir[] = "/tmp/onionsplit-acct-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  config::Config cfg;
  cfg.dataDirectory = dir;
  cfg.accountingMaxBytes = 64 * 1024;
  std::vector<accounting::State> changes;
  auto hooks = [&] {
    Hibernation::Hooks h;
    h.traffic = {[&l] { return l.serverTls->traffic(); }};
    h.change = [&](accounting::State s) {
      changes.push_back(s);
      l.server->setHibernation(s != accounting::State::kAwake, s == accounting::State::kHard);
    };
    return h;
  };
  auto hib = std::make_unique<Hibernation>(l.base, cfg, std::array<uint8_t, 20>{7}, hooks());
  hib->start();
  auto got = l.openRaw();
  ASSERT_TRUE(got);
  bufferevent* bev = got->conn->bev();
  uint8_t payload[cell::kCellPayloadLen] = {};
  auto send = [&](uint32_t circ, cell::CellCmd cmd) {
    uint8_t buf[cell::kMaxCellLen];
    Writer w{MutBytes(buf)};
    cell::encodeFixedCell(w, got->info.linkVersion, circ, cmd, Bytes(payload));
    bufferevent_write(bev, w.written().data(), w.written().size());
  };
  send(1, cell::CellCmd::kCreateFast);
  for (int i = 0; i < 30 && toCircuitd.empty(); ++i)
    spin(l.base, 50);
  ASSERT_EQ(toCircuitd, std::vector<uint32_t>{1});
  // PADDING, four cells (2 KiB, under the last 5%) a second, until the soft limit.
  int64_t now = std::time(nullptr);
  for (int i = 0; i < 100 && hib->core().state() == accounting::State::kAwake; ++i) {
    uint64_t before = l.serverTls->traffic().read;
    for (int k = 0; k < 4; ++k)
      send(0, cell::CellCmd::kPadding);
    for (int j = 0; j < 40 && l.serverTls->traffic().read < before + 4 * cell::kMaxCellLen; ++j)
      spin(l.base, 25);
    hib->tick(++now);
  }
  ASSERT_EQ(hib->core().state(), accounting::State::kSoft);
  EXPECT_EQ(changes, std::vector<accounting::State>{accounting::State::kSoft});
  send(2, cell::CellCmd::kCreateFast);
  evbuffer* in = bufferevent_get_input(bev);
  for (int i = 0; i < 30 && evbuffer_get_length(in) < cell::kMaxCellLen; ++i)
    spin(l.base, 50);
  ASSERT_EQ(evbuffer_get_length(in), cell::kMaxCellLen) << "one DESTROY";
  std::array<uint8_t, cell::kMaxCellLen> c{};
  evbuffer_remove(in, c.data(), c.size());
  EXPECT_EQ(c[4], static_cast<uint8_t>(cell::CellCmd::kDestroy));
  EXPECT_EQ(c[5], 4) << "HIBERNATING";
  EXPECT_EQ(toCircuitd, std::vector<uint32_t>{1}) << "the refused CREATE never reaches circuitd";
  EXPECT_EQ(l.server->createsRefusedHibernating(), 1u);
  // On to the budget: the channel closes, and a new connection is not taken.
  for (int i = 0; i < 100 && hib->core().state() == accounting::State::kSoft; ++i) {
    for (int k = 0; k < 4; ++k)
      send(0, cell::CellCmd::kPadding);
    spin(l.base, 100);
    hib->tick(++now);
  }
  ASSERT_EQ(hib->core().state(), accounting::State::kHard);
  for (int i = 0; i < 40 && l.server->channels() > 0; ++i)
    spin(l.base, 50);
  EXPECT_EQ(l.server->channels(), 0u);
  got.reset();
  EXPECT_FALSE(l.openRaw()) << "a connection while asleep is closed";
  // A restarted channeld reads the record and is asleep at once.
  {
    std::vector<accounting::State> before = changes;
    Hibernation again(l.base, cfg, std::array<uint8_t, 20>{7}, hooks());
    again.start();
    EXPECT_EQ(again.core().state(), accounting::State::kHard);
    EXPECT_GE(again.core().usedBytes(), cfg.accountingMaxBytes);
    changes = before;
  }
  // The next interval: awake, circuits taken again.
  hib->tick(hib->core().intervalEnd());
  EXPECT_EQ(hib->core().state(), accounting::State::kAwake);
  EXPECT_EQ(changes.back(), accounting::State::kAwake);
  auto fresh = l.openRaw();
  ASSERT_TRUE(fresh);
  got = std::move(fresh);
  bev = got->conn->bev();
  send(3, cell::CellCmd::kCreateFast);
  for (int i = 0; i < 30 && toCircuitd.size() < 2; ++i)
    spin(l.base, 50);
  EXPECT_EQ(toCircuitd, (std::vector<uint32_t>{1, 3}));
  hib.reset();
  std::filesystem::remove_all(dir);
}

// A state file that holds no whole record is a log line and a fresh interval, never a crash.
TEST(ChannelServer, ACorruptAccountingStateStartsAFreshInterval) {
  char dir[] = "/tmp/onionsplit-acct-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  { std::ofstream(std::string(dir) + "/accounting-state") << std::string(700, 'z'); }
  event_base* base = event_base_new();
  config::Config cfg;
  cfg.dataDirectory = dir;
  cfg.accountingMaxBytes = 1024;
  {
    Hibernation h(base, cfg, std::array<uint8_t, 20>{}, Hibernation::Hooks{});
    h.start();
    EXPECT_EQ(h.core().state(), accounting::State::kAwake);
    EXPECT_EQ(h.core().usedBytes(), 0u);
  }
  // What it wrote in place of the garbage reads back.
  std::ifstream f(std::string(dir) + "/accounting-state");
  std::string text((std::istreambuf_iterator<char>(f)), {});
  EXPECT_TRUE(accounting::decodeFile(text));
  event_base_free(base);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace onionsplit::channeld
