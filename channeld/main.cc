// channeld/main.cc: wiring only (STYLE.md start-up order). channeld serves Control on
// IPCDirectory/channeld.sock, listens on the ORPort, runs the link handshake of every connection,
// and passes circuit cells to circuitd (channel_circuit.capnp) and circuitd's cells back.
//
// Keys: channeld reads only the identity keys (RSA identity, ed25519 signing key and certificate,
// the master public key). Descriptor publication arrives with the rest of the channeld issue.
//
// Under systemd the ORPorts are bound by onionsplit-channeld.socket (FileDescriptorName=orport), so
// channeld needs no privilege for port 443 and a peer's connect() waits in the backlog while
// channeld restarts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <ctime>
#include <unordered_map>

#include "channeld/link/link_certs.h"
#include "channeld/net/channels.h"
#include "channeld/net/link_tls.h"
#include "channeld/net/or_listener.h"
#include "channeld/net/outbound.h"
#include "channeld/net/publisher.h"
#include "common/daemon/wiring.h"
#include "common/ipc/client_link.h"
#include "common/keys/relay_keys.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::channeld {
namespace {

using Traits = ipc::ChannelCircuitTraits;
using ipc::FlowId;
constexpr uint8_t kDestroy = 4;
constexpr uint8_t kDestroyReasonProtocol = 1;
constexpr uint8_t kDestroyReasonInternal = 2;
constexpr uint8_t kDestroyReasonConnectFailed = 6;

class Bootstrap final : public ipc::WithControl<proto::Channeld::Server> {
 public:
  using WithControl::WithControl;
};

FlowId flowOf(ChannelId ch, uint32_t circId) {
  return (FlowId{ch} << 32) | circId;
}

bool isCreate(uint8_t cmd) {
  return cmd == 1 || cmd == 5 || cmd == 10;
}

class CircuitdSession;

// The middle role: circuitd's `extend` requests become channels (OutboundChannels) and CREATE2
// cells on them.
struct Middle {
  ChannelServer& channels;
  OutboundChannels* outbound = nullptr;
  ipc::ClientLink<Traits>* link = nullptr;
  crypto::RsaFingerprint ourRsa{};
  crypto::Ed25519PublicKey ourEd{};
  bool allowPrivate = false;
  uint64_t requested = 0, refused = 0, failed = 0, created = 0;
};

void extend(Middle& m, uint32_t originChannel, proto::ExtendRequest::Reader x);

// channeld's end of the channel_circuit boundary: circuitd's cells go out on their channels.
class CircuitdSession final : public ipc::PeerSession<Traits> {
 public:
  CircuitdSession(std::function<void()> drop, ChannelServer& channels, Middle& middle)
      : PeerSession("circuitd", ipc::defaultWindows(), std::move(drop)),
        channels_(channels),
        middle_(middle) {}
  // The connection to circuitd is gone, and every circuit with it: the clients hear DESTROY.
  ~CircuitdSession() noexcept(false) override {
    size_t n = channels_.destroyAllCircuits(kDestroyReasonInternal);
    if (n) spdlog::info("circuitd's connection ended: {} circuits destroyed", n);
  }

  ipc::UnknownFlow onUnknownFlow(proto::ChannelEvent::Reader) override {
    return ipc::UnknownFlow::kDrop;  // its channel or circuit is gone: the cell crossed a close
  }
  bool onEvent(proto::ChannelEvent::Reader e) override {
    if (e.isExtend()) {
      extend(middle_, e.getChannel(), e.getExtend());
      return true;
    }
    if (!e.isCell()) return false;  // circuitd announces no channels
    auto c = e.getCell();
    if (c.getPayload().size() != 509 || c.getCircId() == 0) return false;
    ChannelId ch = e.getChannel();
    FlowId f = flowOf(ch, c.getCircId());
    if (c.getCommand() == kDestroy) {
      // circuitd ended the circuit (or answered the client's DESTROY, which the channel does not
      // pass on). A close costs no credit and is not taken; answer it with ours if we have not
      // sent one, so the flow is forgotten on both sides.
      channels_.dropQueued(ch, c.getCircId());  // a destroyed circuit's cells are not sent
      channels_.sendCell(ch, c.getCircId(), kDestroy,
                         Bytes(c.getPayload().begin(), c.getPayload().size()));
      if (pipe.canClose(f)) {
        auto echo = pipe.add();
        Traits::fillClose(echo, f, c.getPayload()[0]);
        pipe.commit(f, echo);
      } else {
        // circuitd answered our close: the id is free again, and a CREATE that reuses it may be
        // waiting on a stalled channel (a batch without credit calls no onCredit).
        channels_.resumeSoon();
      }
      return true;
    }
    // The cell waits in its channel's scheduler; its credit goes back when it leaves for TLS
    // (hooks.sent), so a slow reader holds at most its circuits' windows here.
    if (!channels_.queueCell(ch, c.getCircId(), c.getCommand(),
                             Bytes(c.getPayload().begin(), c.getPayload().size())))
      pipe.taken(f, 1);  // the channel is gone: the cell is dropped, its credit is not held
    return true;
  }
  void onCredit() override { channels_.resume(); }
  // A queued cell left for TLS.
  void sent(ChannelId ch, uint32_t circId) { pipe.taken(flowOf(ch, circId), 1); }

 private:
  ChannelServer& channels_;
  Middle& middle_;
};

void sendExtended(CircuitdSession& s, uint32_t originChannel, uint32_t originCircId, ChannelId next,
                  uint32_t nextCircId, uint8_t reason) {
  auto e = s.pipe.add();  // flow-less
  e.setChannel(originChannel);
  auto r = e.initExtended();
  r.setOriginCircId(originCircId);
  r.setNextChannel(next);
  r.setNextCircId(nextCircId);
  r.setReason(reason);
}

// An EXTEND2 circuitd checked: a channel to the next hop (reused or opened), a circuit id on it,
// our CREATE2, and the answer; refusals and failures answer with the DESTROY reason for the
// client's circuit (as C tor: a private address is a protocol violation, an unreachable relay or
// ourselves CONNECTFAILED).
void extend(Middle& m, uint32_t originChannel, proto::ExtendRequest::Reader x) {
  ++m.requested;
  auto* s = static_cast<CircuitdSession*>(m.link ? m.link->session() : nullptr);
  uint32_t originCirc = x.getOriginCircId();
  if (!s || !m.outbound) return;
  OutboundTarget t;
  char ip[INET6_ADDRSTRLEN] = {};
  if (x.getIpv4().size() == 4 && x.getIpv4Port() != 0) {
    inet_ntop(AF_INET, x.getIpv4().begin(), ip, sizeof ip);
    t.port = x.getIpv4Port();
  } else if (x.getIpv6().size() == 16 && x.getIpv6Port() != 0) {
    inet_ntop(AF_INET6, x.getIpv6().begin(), ip, sizeof ip);
    t.port = x.getIpv6Port();
  }
  t.ip = ip;
  if (x.getRsaId().size() == 20) std::copy_n(x.getRsaId().begin(), 20, t.rsaId.emplace().begin());
  if (x.getEd25519Id().size() == 32)
    std::copy_n(x.getEd25519Id().begin(), 32, t.edId.emplace().begin());
  uint8_t refusal = 0;
  if (t.ip.empty() || !t.rsaId || x.getHdata().size() > cell::kRelayBodyMax) {
    refusal = kDestroyReasonProtocol;
  } else if (t.rsaId == m.ourRsa || t.edId == m.ourEd) {
    refusal = kDestroyReasonConnectFailed;  // C tor does not connect to itself
  } else if (!m.allowPrivate && isPrivateAddress(t.ip)) {
    refusal = kDestroyReasonProtocol;  // ExtendAllowPrivateAddresses is off
  }
  if (refusal != 0) {
    ++m.refused;
    sendExtended(*s, originChannel, originCirc, 0, 0, refusal);
    return;
  }
  std::array<uint8_t, cell::kCellPayloadLen> create{};
  Writer w{MutBytes(create)};
  cell::encodeCreate2(cell::Create2{x.getHtype(), Bytes(x.getHdata().begin(), x.getHdata().size())},
                      w);
  unsigned gen = m.link->connects();
  std::string where = t.ip + ":" + std::to_string(t.port);
  m.outbound->request(
      t, [&m, s, gen, originChannel, originCirc, create, where](const OutboundChannels::Result& r) {
        // circuitd's connection changed meanwhile: the circuit that asked is gone.
        if (m.link->session() != s || m.link->connects() != gen) return;
        std::optional<uint32_t> circId;
        if (r.channel) circId = m.channels.originateCircuit(*r.channel);
        FlowId f = r.channel && circId ? flowOf(*r.channel, *circId) : 0;
        if (circId && !s->pipe.openFlow(f)) {
          uint8_t none[cell::kCellPayloadLen] = {};
          m.channels.sendCell(*r.channel, *circId, kDestroy, Bytes(none));  // unregisters it
          circId.reset();
        }
        if (!circId) {
          ++m.failed;
          spdlog::info("extend to {}: {}", where, r.channel ? "no circuit id free" : r.why);
          sendExtended(*s, originChannel, originCirc, 0, 0,
                       r.channel ? daemon::kReasonResourceLimit : kDestroyReasonConnectFailed);
          return;
        }
        m.channels.sendCell(*r.channel, *circId, static_cast<uint8_t>(cell::CellCmd::kCreate2),
                            Bytes(create));
        ++m.created;
        sendExtended(*s, originChannel, originCirc, *r.channel, *circId, 0);
      });
}

std::array<uint8_t, 32> sha256(Bytes b) {
  std::array<uint8_t, 32> d{};
  unsigned n = 0;
  EVP_Digest(b.data(), b.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

// A listening TCP socket systemd passed as "orport".
struct PassedOrPort {
  uint16_t port;
  bool ipv6;
  int fd;
};

// Every "orport" socket systemd passed. Read before takeListenFd(), which clears the
// socket-activation environment.
std::vector<PassedOrPort> systemdOrPorts() {
  std::vector<PassedOrPort> out;
  char** names = nullptr;
  int n = sd_listen_fds_with_names(0, &names);
  for (int i = 0; i < n; ++i) {
    int fd = SD_LISTEN_FDS_START + i;
    if (names && names[i] && std::string_view(names[i]) == "orport" &&
        sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0) {
      sockaddr_storage ss{};
      socklen_t len = sizeof ss;
      getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
      uint16_t port = ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
      out.push_back({ntohs(port), ss.ss_family == AF_INET6, fd});
    }
    if (names) free(names[i]);
  }
  free(names);
  return out;
}

// The passed socket for an ORPort line, taken out of `passed`: the same port (any for port 0), of
// the line's address family if there is one (`ORPort 9001` and `ORPort [::]:9001` side by side);
// -1 if none.
int takeOrPort(std::vector<PassedOrPort>& passed, const config::OrPort& p) {
  bool ipv6 = p.address.find(':') != std::string::npos;
  for (bool sameFamily : {true, false}) {
    for (auto it = passed.begin(); it != passed.end(); ++it) {
      if ((p.port != 0 && it->port != p.port) || (sameFamily && it->ipv6 != ipv6)) continue;
      int fd = it->fd;
      passed.erase(it);
      return fd;
    }
  }
  return -1;
}

int run(daemon::Runtime& rt) {
  const auto& cfg = rt.config();
  auto passedOrPorts = systemdOrPorts();
  bool underSystemd = !passedOrPorts.empty();
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  auto keys = keys::loadIdentityKeys(cfg.dataDirectory);
  if (!keys) {
    spdlog::error("{}", keys.error());
    return 1;
  }
  std::vector<uint8_t> entropy(64);
  RAND_bytes(entropy.data(), static_cast<int>(entropy.size()));
  std::string error;
  auto creds = LinkCredentials::create(keys->rsaIdentity, keys->signing, Bytes(keys->signingCert),
                                       keys->masterPublic, std::time(nullptr), entropy, error);
  if (!creds) {
    spdlog::error("link certificates: {}", error);
    return 1;
  }
  auto tls = LinkTlsContext::create(TlsRole::kResponder, creds->linkKey, creds->linkCert, error);
  if (!tls) {
    spdlog::error("TLS: {}", error);
    return 1;
  }

  // Who we are on the connections we open to next hops (EXTEND2): the type 6 authentication
  // certificate lives two days, so a fresh one is made every day.
  auto makeInitiator = [&](std::string& err) -> std::shared_ptr<const InitiatorCredentials> {
    std::vector<uint8_t> seed(64);
    RAND_bytes(seed.data(), static_cast<int>(seed.size()));
    auto ic = InitiatorCredentials::create(*creds, keys->rsaIdentity, keys->signing,
                                           std::time(nullptr), seed, err);
    if (!ic) return nullptr;
    return std::make_shared<const InitiatorCredentials>(std::move(*ic));
  };
  auto initiatorCreds = makeInitiator(error);
  auto clientTls = initiatorCreds ? LinkTlsContext::create(TlsRole::kInitiator, creds->linkKey,
                                                           creds->linkCert, error)
                                  : std::nullopt;
  if (!initiatorCreds || !clientTls) {
    spdlog::error("outbound link credentials: {}", error);
    return 1;
  }

  ChannelServerConfig sc;
  sc.bandwidthRate = cfg.bandwidthRateBytes;
  sc.bandwidthBurst = cfg.bandwidthBurstBytes;
  sc.certs = creds->responderCerts();
  sc.ourRsaIdSha256 = sha256(Bytes(keys->rsaIdentity.publicKey().derPkcs1()));
  sc.ourEdId = keys->masterPublic;
  sc.ourTlsCertSha256 = creds->linkCert.sha256();
  if (!cfg.address.empty()) {
    cell::NetAddress a;
    if (inet_pton(AF_INET, cfg.address.c_str(), a.bytes.data()) == 1) {
      a.type = 4;
      sc.ourAddresses.push_back(a);
    }
  }

  auto initiatorIdentity = [&] {
    return InitiatorIdentity{initiatorCreds, initiatorCreds->initiatorCerts(*creds),
                             sc.ourRsaIdSha256, keys->masterPublic, sc.ourAddresses};
  };
  InitiatorIdentity firstIdentity = initiatorIdentity();

  ipc::ClientLink<Traits>* circuitdLink = nullptr;
  ChannelServer* server = nullptr;
  OutboundChannels* outboundPtr = nullptr;
  ChannelServer::Hooks hooks;
  hooks.opened = [&](ChannelId id, const ChannelInfo& info) {
    if (outboundPtr) outboundPtr->channelOpened(id, info);
    auto* s = circuitdLink ? circuitdLink->session() : nullptr;
    if (!s) return;
    auto e = s->pipe.add();
    e.setChannel(id);
    auto o = e.initOpened();
    o.setLinkProtocol(info.linkVersion);
    if (info.peer) {
      o.setPeerRsaId(capnp::Data::Reader(info.peer->rsaId.data(), info.peer->rsaId.size()));
      o.setPeerEd25519Id(capnp::Data::Reader(info.peer->edId.data(), info.peer->edId.size()));
    }
  };
  struct CellCounters {
    uint64_t toCircuitd = 0, noCircuit = 0, waited = 0, refusedNoCircuitd = 0;
  } cellCounters;
  hooks.cell = [&](ChannelId id, uint32_t circId, uint8_t cmd, Bytes payload) {
    auto* s = circuitdLink ? circuitdLink->session() : nullptr;
    FlowId f = flowOf(id, circId);
    if (!s) {  // circuitd is not there: refuse new circuits, drop the rest
      ++cellCounters.refusedNoCircuitd;
      if (isCreate(cmd)) {
        uint8_t reason[509] = {daemon::kReasonResourceLimit};
        server->sendCell(id, circId, kDestroy, Bytes(reason));
      }
      return true;
    }
    if (!s->pipe.isOpen(f)) {
      if (!isCreate(cmd)) {  // a cell for a circuit that does not exist
        ++cellCounters.noCircuit;
        return true;
      }
      if (!s->pipe.openFlow(f)) return false;
    }
    bool destroy = cmd == kDestroy;
    if (destroy ? !s->pipe.canClose(f) : !s->pipe.canSend(f)) {
      cellCounters.waited += !destroy;
      return destroy;  // a second DESTROY is dropped; other cells wait for credit
    }
    auto e = s->pipe.add();
    e.setChannel(id);
    auto c = e.initCell();
    c.setCircId(circId);
    c.setCommand(cmd);
    c.setPayload(capnp::Data::Reader(payload.data(), payload.size()));
    s->pipe.commit(f, e);
    ++cellCounters.toCircuitd;
    return true;
  };
  hooks.sent = [&](ChannelId id, uint32_t circId) {
    auto* s = circuitdLink ? circuitdLink->session() : nullptr;
    if (s) static_cast<CircuitdSession*>(s)->sent(id, circId);
  };
  hooks.closed = [&](ChannelId id) {
    if (outboundPtr) outboundPtr->channelClosed(id);
    auto* s = circuitdLink ? circuitdLink->session() : nullptr;
    if (!s) return;
    auto e = s->pipe.add();
    e.setChannel(id);
    e.setClosed();
    s->pipe.forgetFlows([id](FlowId f) { return (f >> 32) == id; });
  };
  ChannelServer channels(
      rt.loop().base(), std::move(sc), std::move(hooks),
      [](MutBytes out) { RAND_bytes(out.data(), static_cast<int>(out.size())); },
      [] { return static_cast<int64_t>(std::time(nullptr)); });
  server = &channels;

  // Outbound channels for EXTEND2 (declared after `channels`, so they go first).
  OutboundDialer dialer(
      rt.loop().base(), *clientTls, std::move(firstIdentity), std::chrono::seconds(30),
      [](MutBytes out) { RAND_bytes(out.data(), static_cast<int>(out.size())); },
      [] { return static_cast<int64_t>(std::time(nullptr)); });
  OutboundLimits outboundLimits;
  outboundLimits.allowPrivateAddresses = cfg.extendAllowPrivateAddresses || cfg.testingTorNetwork;
  OutboundChannels outbound(
      outboundLimits,
      [&dialer](const OutboundTarget& t, OutboundDialer::Done d) { dialer.dial(t, std::move(d)); },
      [&channels](OpenedChannel&& c) {
        return std::optional<ChannelId>(
            channels.adoptOpen(std::move(c.conn), c.info, std::move(c.leftover)));
      });
  outboundPtr = &outbound;
  Middle middle{channels};
  middle.outbound = &outbound;
  middle.ourRsa = keys->rsaIdentity.publicKey().fingerprint();
  middle.ourEd = keys->masterPublic;
  middle.allowPrivate = outboundLimits.allowPrivateAddresses;
  std::function<void()> renewInitiator = [&] {
    std::string err;
    auto fresh = makeInitiator(err);
    if (!fresh) {
      spdlog::warn("outbound link credentials: {}; keeping the current ones", err);
      return;
    }
    initiatorCreds = fresh;
    dialer.setIdentity(initiatorIdentity());
  };
  std::unique_ptr<event, void (*)(event*)> renewTimer(
      event_new(
          rt.loop().base(), -1, EV_PERSIST,
          [](evutil_socket_t, short, void* f) { (*static_cast<std::function<void()>*>(f))(); },
          &renewInitiator),
      &event_free);
  timeval day{86400, 0};
  event_add(renewTimer.get(), &day);

  std::vector<std::unique_ptr<OrListener>> orPorts;
  for (const auto& p : cfg.orPorts) {
    if (p.noListen) continue;
    OrListenerLimits limits;
    limits.exemptLoopback = cfg.testingTorNetwork;
    int passed = takeOrPort(passedOrPorts, p);
    if (underSystemd && passed < 0) {
      spdlog::error(
          "ORPort {}: systemd passed no socket on that port; make ListenStream= of "
          "onionsplit-channeld.socket match the torrc's ORPort lines",
          p.port);
      return 1;
    }
    auto l = OrListener::create(
        rt.loop().base(), *tls, passed, p.address.empty() ? "0.0.0.0" : p.address, p.port, limits,
        [&channels](std::unique_ptr<OrConnection> c) { channels.accept(std::move(c)); }, error);
    if (!l) {
      spdlog::error("ORPort {}:{}: {}", p.address, p.port, error);
      return 1;
    }
    spdlog::info("ORPort listening on {}:{}{}", p.address.empty() ? "0.0.0.0" : p.address,
                 l->port(), passed >= 0 ? " (socket from systemd)" : "");
    orPorts.push_back(std::move(l));
  }
  for (const auto& extra : passedOrPorts) {
    spdlog::warn("systemd passed an ORPort socket on port {} that no ORPort line names; closed",
                 extra.port);
    close(extra.fd);
  }

  // The descriptor, once there is an ORPort to advertise and authorities to tell.
  std::unique_ptr<DescriptorPublisher> publisher;
  if (!orPorts.empty() && !cfg.dirAuthorities.empty()) {
    auto onion = keys::loadDescriptorOnionKeys(cfg.dataDirectory);
    if (!onion) {
      spdlog::error("descriptor: {}", onion.error());
      return 1;
    }
    publisher = std::make_unique<DescriptorPublisher>(
        rt.loop().base(), cfg, *keys, std::move(*onion), orPorts[0]->port(), std::time(nullptr));
    publisher->start();
    rt.onReload([&publisher, &cfg] {
      auto fresh = keys::loadDescriptorOnionKeys(cfg.dataDirectory);
      if (!fresh) {
        spdlog::warn("descriptor: {}; keeping the onion keys it has", fresh.error());
        return;
      }
      spdlog::info("descriptor: onion keys reloaded; publishing");
      publisher->setOnionKeys(std::move(*fresh));
    });
  }

  auto listener = daemon::serve(
      rt, fd,
      [&](ipc::ConnectionId, std::function<void()>) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control());
      },
      nullptr);
  ipc::ClientLink<Traits> circuitd(
      rt.loop(), rt.socketPath("circuitd"), "circuitd",
      [&channels, &middle](auto drop) {
        return std::make_unique<CircuitdSession>(drop, channels, middle);
      },
      [](ipc::RpcConnection& c, proto::CellSink::Client ours) {
        auto req = c.bootstrap<proto::CircuitEntry>().attachRequest();
        req.setToChanneld(kj::mv(ours));
        return req.send().then([](auto&& r) { return r.getToCircuitd(); });
      });
  circuitdLink = &circuitd;
  middle.link = &circuitd;
  rt.control().waitingFor = [&] {
    return circuitd.attached() ? std::vector<std::string>{} : std::vector<std::string>{"circuitd"};
  };
  rt.control().counters = [&](std::vector<std::pair<std::string, uint64_t>>& out) {
    out.emplace_back("ipc_connections_accepted_total", listener->accepted());
    out.emplace_back("ipc_circuitd_connects_total", circuitd.connects());
    out.emplace_back("channels", channels.channels());
    out.emplace_back("channels_open", channels.openChannels());
    out.emplace_back("link_handshakes_completed_total", channels.handshakesCompleted());
    out.emplace_back("link_handshakes_failed_total", channels.handshakesFailed());
    out.emplace_back("descriptor_accepted_by", publisher ? publisher->acceptedBy() : 0);
    out.emplace_back("cells_to_circuitd_total", cellCounters.toCircuitd);
    out.emplace_back("cells_for_unknown_circuits_total", cellCounters.noCircuit);
    out.emplace_back("cells_waited_for_credit_total", cellCounters.waited);
    out.emplace_back("cells_without_circuitd_total", cellCounters.refusedNoCircuitd);
    out.emplace_back("channels_stalled", channels.stalledChannels());
    out.emplace_back("extends_requested_total", middle.requested);
    out.emplace_back("extends_refused_total", middle.refused);
    out.emplace_back("extends_failed_total", middle.failed);
    out.emplace_back("extends_created_total", middle.created);
    out.emplace_back("outbound_connections_in_progress", outbound.inProgress());
  };
  circuitd.start();
  int rc = rt.run();
  circuitdLink = nullptr;
  middle.link = nullptr;
  outboundPtr = nullptr;
  return rc;
}

}  // namespace
}  // namespace onionsplit::channeld

int main(int argc, char** argv) {
  return onionsplit::daemon::daemonMain(argc, argv, "channeld", onionsplit::channeld::run);
}
