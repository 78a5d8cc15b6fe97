// channeld/main.cc: wiring only (STYLE.md start-up order). channeld serves Control on
// IPCDirectory/channeld.sock, listens on the ORPort, runs the link handshake of every connection,
// and passes circuit cells to circuitd (channel_circuit.capnp) and circuitd's cells back.
//
// Keys: channeld reads only the identity keys (RSA identity, ed25519 signing key and certificate,
// the master public key); with them it also signs and publishes the relay's descriptor.
//
// The ORPorts are bound before channeld starts, by onionsplit-channeld.socket under systemd
// (FileDescriptorName=orport) or by the launcher while it is still root, so channeld needs no
// privilege for port 443 and a peer's connect() waits in the backlog while channeld restarts.
// Run alone (neither passed any), channeld binds them itself.
#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <tuple>
#include <unordered_map>

#include "channeld/link/channel_dos.h"
#include "channeld/link/link_certs.h"
#include "channeld/net/channels.h"
#include "channeld/net/circuitd_link.h"
#include "channeld/net/consensus_fetcher.h"
#include "channeld/net/hibernation.h"
#include "channeld/net/link_tls.h"
#include "channeld/net/or_listener.h"
#include "channeld/net/outbound.h"
#include "channeld/net/publisher.h"
#include "channeld/net/reachability.h"
#include "channeld/net/relay_status.h"
#include "channeld/net/streamd_bytes.h"
#include "common/base/hex.h"
#include "common/config/relay_options.h"
#include "common/config/reload.h"
#include "common/crypto/ed25519_cert.h"
#include "common/daemon/mem_share.h"
#include "common/daemon/reactor_oom.h"
#include "common/daemon/shards.h"
#include "common/daemon/wiring.h"
#include "common/dirdoc/params.h"
#include "common/ipc/client_link.h"
#include "common/keys/relay_keys.h"
#include "proto/daemons.capnp.h"

namespace onionsplit::channeld {
namespace {

using Traits = ipc::ChannelCircuitTraits;

class Bootstrap final : public ipc::WithControl<proto::Channeld::Server> {
 public:
  using WithControl::WithControl;
};

std::array<uint8_t, 32> sha256(Bytes b) {
  std::array<uint8_t, 32> d{};
  unsigned n = 0;
  EVP_Digest(b.data(), b.size(), d.data(), &n, EVP_sha256(), nullptr);
  return d;
}

// A listening TCP socket passed as "orport" (by systemd or the launcher).
struct PassedOrPort {
  uint16_t port;
  bool ipv6;
  int fd;
};

// Every "orport" socket passed. Read before takeListenFd(), which clears the
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

// Every ORPort line that listens: on the socket the launcher or systemd passed for it, or (run
// alone) bound here. False (logged) if one cannot listen.
bool listenOnOrPorts(daemon::Runtime& rt, const LinkTlsContext& tls, ChannelServer& channels,
                     const config::Config& cfg, std::vector<PassedOrPort> passedOrPorts,
                     const OrListenerLimits& limits,
                     std::vector<std::unique_ptr<OrListener>>& orPorts) {
  bool passedAny = !passedOrPorts.empty();
  std::string error;
  for (const auto& p : cfg.orPorts) {
    if (p.noListen) continue;
    int passed = takeOrPort(passedOrPorts, p);
    if (passedAny && passed < 0) {
      spdlog::error(
          "ORPort {}: no socket was passed on that port (under systemd, make ListenStream= "
          "of onionsplit-channeld.socket match the torrc's ORPort lines)",
          p.port);
      return false;
    }
    auto l = OrListener::create(
        rt.loop().base(), tls, passed, p.address.empty() ? "0.0.0.0" : p.address, p.port, limits,
        [&channels](std::unique_ptr<OrConnection> c) { channels.accept(std::move(c)); }, error);
    if (!l) {
      spdlog::error("ORPort {}:{}: {}", p.address, p.port, error);
      return false;
    }
    spdlog::info("ORPort listening on {}:{}{}", p.address.empty() ? "0.0.0.0" : p.address,
                 l->port(), passed >= 0 ? " (socket passed by the launcher or systemd)" : "");
    orPorts.push_back(std::move(l));
  }
  for (const auto& extra : passedOrPorts) {
    spdlog::warn("an ORPort socket on port {} was passed that no ORPort line names; closed",
                 extra.port);
    close(extra.fd);
  }
  return true;
}

uint64_t monotonicSeconds() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// C tor's per-address DoS defences (channeld/link/channel_dos.h): one ChannelDos for the ORPort
// listeners (connections, at accept) and the channels (CREATE cells), its idle entries swept every
// minute. Connections hold a weak reference: they may outlive it at shutdown.
class DosWiring {
 public:
  DosWiring(event_base* base, const config::Config& cfg)
      : dos_(std::make_shared<ChannelDos>(cfg.dos, randRange, hashKey())),
        sweeper_(event_new(base, -1, EV_PERSIST, &DosWiring::onSweep, this), &event_free) {
    timeval minute{60, 0};
    event_add(sweeper_.get(), &minute);
  }

  ChannelDos& dos() { return *dos_; }

  OrListenerLimits listenerLimits() const {
    OrListenerLimits limits;
    std::weak_ptr<ChannelDos> weak = dos_;
    limits.admit = [weak](const PeerAddress& p) -> std::optional<std::function<void()>> {
      auto d = weak.lock();
      auto addr = ChannelDos::parseAddr(p.ip);
      if (!d || !addr) return std::function<void()>{};
      auto ticket = d->admit(*addr, monotonicSeconds());
      if (!ticket) return std::nullopt;
      if (!ticket->counted()) return std::function<void()>{};
      return [weak, t = *ticket] {
        if (auto live = weak.lock()) live->closed(t);
      };
    };
    return limits;
  }

  void hook(ChannelServer::Hooks& hooks) {
    hooks.createSeen = [this](const ChannelInfo& info) {
      if (auto addr = ChannelDos::parseAddr(info.address.ip))
        dos_->noteCreate(*addr, info.peer.has_value(), monotonicSeconds());
    };
    hooks.refuseCreate = [this](const ChannelInfo& info) {
      auto addr = ChannelDos::parseAddr(info.address.ip);
      return addr && dos_->refuseCreate(*addr, info.peer.has_value(), monotonicSeconds());
    };
  }

  // tor_relay_dos_total's types that channeld counts (streamd counts stream_rejected).
  void counters(std::vector<std::pair<std::string, uint64_t>>& out) const {
    dos_->counters().forEach([&out](std::string_view type, uint64_t v) {
      if (type != "stream_rejected") out.emplace_back("dos_" + std::string(type) + "_total", v);
    });
    out.emplace_back("dos_tracked_addresses", dos_->tracker().size());
    // The values in force (the torrc's over the consensus's over dos-spec's defaults).
    const dos::DosParams& p = dos_->params();
    out.emplace_back("dos_circuit_creation_enabled", p.circEnabled);
    out.emplace_back("dos_circuit_creation_rate", p.circRatePerSec);
    out.emplace_back("dos_circuit_creation_burst", p.circBurst);
    out.emplace_back("dos_connection_enabled", p.connEnabled);
  }

 private:
  static uint32_t randRange(uint32_t lo, uint32_t hi) {
    uint32_t v = 0;
    RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v);
    return lo + v % (hi - lo);
  }
  static std::array<uint64_t, 2> hashKey() {
    std::array<uint64_t, 2> k{};
    RAND_bytes(reinterpret_cast<unsigned char*>(k.data()), sizeof k);
    return k;
  }
  static void onSweep(evutil_socket_t, short, void* self) {
    static_cast<DosWiring*>(self)->dos_->sweep(monotonicSeconds());
  }

  std::shared_ptr<ChannelDos> dos_;
  std::unique_ptr<event, void (*)(event*)> sweeper_;
};

// SIGHUP: the bandwidth buckets and the descriptor follow the configuration read again (the
// publisher reads it when it builds), and the onion keys are read again (rotation). A changed
// FamilyId (or Accounting* option) makes channeld end, to be started again: the family keys (the
// accounting record) are read before the sandbox, which keeps them out of reach now.
void applyReload(daemon::Runtime& rt, ChannelServer& channels, DescriptorPublisher* publisher,
                 const config::Config& previous) {
  const config::Config& cfg = rt.config();
  if (std::tie(previous.familyIds, previous.allFamilyIds) !=
      std::tie(cfg.familyIds, cfg.allFamilyIds)) {
    spdlog::info("reload: FamilyId changed; channeld restarts to read the family keys");
    rt.loop().stop();
    return;
  }
  if (accountingChanged(previous, cfg)) {
    spdlog::info("reload: the Accounting options changed; channeld restarts to apply them");
    rt.loop().stop();
    return;
  }
  uint64_t rate = config::relayedBandwidthRate(cfg), burst = config::relayedBandwidthBurst(cfg);
  if (std::tie(rate, burst) != std::make_tuple(config::relayedBandwidthRate(previous),
                                               config::relayedBandwidthBurst(previous))) {
    channels.setBandwidth(rate, burst);
    spdlog::info("reload: relayed bandwidth {} bytes/s, burst {} bytes", rate, burst);
  }
  if (!publisher) return;
  auto fresh = keys::loadDescriptorOnionKeys(cfg.dataDirectory);
  if (fresh) {
    spdlog::info("descriptor: onion keys reloaded; publishing");
    publisher->setOnionKeys(std::move(*fresh));  // publishes now
    return;
  }
  spdlog::warn("descriptor: {}; keeping the onion keys it has", fresh.error());
  if (config::descriptorChanged(previous, cfg)) {
    spdlog::info("descriptor: the configuration changed it; publishing");
    publisher->publishNow();
  }
}

// Control.channels and Control.descriptor: what the ControlPort's orconn-status and desc/id show.
void serveControlViews(ipc::ControlInfo& info, const ChannelServer& channels,
                       const OutboundChannels& outbound,
                       const std::unique_ptr<DescriptorPublisher>& publisher) {
  info.channels = [&channels, &outbound] {
    std::vector<ipc::ControlInfo::Channel> out;
    auto hex = [](const crypto::RsaFingerprint& fp) { return toHex(Bytes(fp), true); };
    channels.forEachChannel([&](const ChannelInfo& ci, bool open) {
      out.push_back({ci.peer ? hex(ci.peer->rsaId) : std::string(), open, false});
    });
    outbound.forEachPending([&](const OutboundTarget& t) {
      out.push_back({t.rsaId ? hex(*t.rsaId) : std::string(), false, true});
    });
    return out;
  };
  info.descriptor = [&publisher] { return publisher ? publisher->lastPublished() : std::string(); };
}

// Channels by direction and family, for C tor's tor_relay_connections{type="OR"} and
// tor_relay_connections_total (the launcher's table, launcher/metrics_format.cc).
void addConnectionCounters(const ChannelServer::ConnectionTally& tally,
                           std::vector<std::pair<std::string, uint64_t>>& out) {
  for (size_t dir = 0; dir < 2; ++dir) {
    for (size_t fam = 0; fam < 2; ++fam) {
      std::string key = std::string(dir ? "initiated" : "received") + (fam ? "_ipv6" : "_ipv4");
      out.emplace_back("or_connections_" + key, tally.open[dir][fam]);
      out.emplace_back("or_connections_" + key + "_created_total", tally.created[dir][fam]);
    }
  }
}

// The relay's identity on its links: the identity keys, the link certificates made from them, and
// the TLS contexts for the connections it accepts and the ones it opens (EXTEND2); and the family
// keys (FamilyId) its descriptor's family-cert lines are signed with, read before the sandbox.
struct LinkIdentity {
  keys::IdentityKeys keys;
  LinkCredentials creds;
  LinkTlsContext tls;        // responder (ORPort)
  LinkTlsContext clientTls;  // initiator (next hops)
  std::vector<keys::FamilyKey> family;
};

std::optional<LinkIdentity> loadLinkIdentity(const config::Config& cfg) {
  auto keys = keys::loadIdentityKeys(cfg.dataDirectory);
  if (!keys) {
    spdlog::error("{}", keys.error());
    return std::nullopt;
  }
  auto family = keys::loadFamilyKeys(cfg);
  if (!family) {
    spdlog::error("family keys: {}", family.error());
    return std::nullopt;
  }
  for (const auto& w : family->warnings)
    spdlog::warn("family keys: {}", w);
  std::vector<uint8_t> entropy(64);
  RAND_bytes(entropy.data(), static_cast<int>(entropy.size()));
  std::string error;
  auto creds = LinkCredentials::create(keys->rsaIdentity, keys->signing, Bytes(keys->signingCert),
                                       keys->masterPublic, std::time(nullptr), entropy, error);
  if (!creds) {
    spdlog::error("link certificates: {}", error);
    return std::nullopt;
  }
  auto tls = LinkTlsContext::create(TlsRole::kResponder, creds->linkKey, creds->linkCert, error);
  if (!tls) {
    spdlog::error("TLS: {}", error);
    return std::nullopt;
  }
  auto clientTls =
      LinkTlsContext::create(TlsRole::kInitiator, creds->linkKey, creds->linkCert, error);
  if (!clientTls) {
    spdlog::error("outbound link credentials: {}", error);
    return std::nullopt;
  }
  return LinkIdentity{std::move(*keys), std::move(*creds), std::move(*tls), std::move(*clientTls),
                      std::move(family->keys)};
}

// C tor's tor_relay_signing_cert_expiry_timestamp: the end of the signing certificate's validity
// (Unix seconds), reported only with OfflineMasterKey, as C tor does (otherwise the relay renews
// the certificate itself).
std::optional<uint64_t> signingCertExpiry(const config::Config& cfg,
                                          const keys::IdentityKeys& keys) {
  if (!cfg.offlineMasterKey) return std::nullopt;
  auto cert = crypto::decodeEd25519Cert(Bytes(keys.signingCert));
  if (!cert) return std::nullopt;
  return uint64_t{cert->expirationHours} * 3600;
}

// What C tor 0.4.9's MetricsPort reports of the links (the launcher's table,
// launcher/metrics_format.cc): their bytes on the wire (both TLS contexts: the ORPort's and the
// next hops'; also GETINFO traffic/*), the times the relay-wide token buckets ran dry, the sockets
// held (channels and dials in progress) against the open file limit, and the signing
// certificate's expiry.
void addLinkMetrics(const config::Config& cfg, const LinkIdentity& id,
                    const ChannelServer& channels, size_t dialing,
                    std::vector<std::pair<std::string, uint64_t>>& out) {
  const LinkTraffic& a = id.tls.traffic();
  const LinkTraffic& b = id.clientTls.traffic();
  out.emplace_back("link_bytes_read_total", a.read + b.read);
  out.emplace_back("link_bytes_written_total", a.written + b.written);
  out.emplace_back("bandwidth_read_limit_reached_total", channels.readLimitReached());
  out.emplace_back("bandwidth_write_limit_reached_total", channels.writeLimitReached());
  out.emplace_back("sockets_in_use", channels.channels() + dialing);
  out.emplace_back("sockets_limit", daemon::openFileLimit());
  if (auto expiry = signingCertExpiry(cfg, id.keys))
    out.emplace_back("signing_cert_expiry_timestamp", *expiry);
}

// Who we are on the connections we open to next hops (EXTEND2): the type 6 authentication
// certificate lives two days, so a fresh one is made every day.
std::shared_ptr<const InitiatorCredentials> makeInitiator(const LinkIdentity& id,
                                                          std::string& err) {
  std::vector<uint8_t> seed(64);
  RAND_bytes(seed.data(), static_cast<int>(seed.size()));
  auto ic = InitiatorCredentials::create(id.creds, id.keys.rsaIdentity, id.keys.signing,
                                         std::time(nullptr), seed, err);
  if (!ic) return nullptr;
  return std::make_shared<const InitiatorCredentials>(std::move(*ic));
}

std::shared_ptr<const InitiatorCredentials> makeInitiatorOrSay(const LinkIdentity& id) {
  std::string err;
  auto creds = makeInitiator(id, err);
  if (!creds) spdlog::error("outbound link credentials: {}", err);
  return creds;
}

ChannelServerConfig serverConfig(const config::Config& cfg, const LinkIdentity& id) {
  ChannelServerConfig sc;
  sc.keepalivePeriod = std::chrono::seconds(cfg.keepalivePeriodSeconds);
  sc.bandwidthRate = config::relayedBandwidthRate(cfg);
  sc.bandwidthBurst = config::relayedBandwidthBurst(cfg);
  sc.certs = id.creds.responderCerts();
  sc.ourRsaIdSha256 = sha256(Bytes(id.keys.rsaIdentity.publicKey().derPkcs1()));
  sc.ourEdId = id.keys.masterPublic;
  sc.ourTlsCertSha256 = id.creds.linkCert.sha256();
  if (!cfg.address.empty()) {
    cell::NetAddress a;
    if (inet_pton(AF_INET, cfg.address.c_str(), a.bytes.data()) == 1) {
      a.type = 4;
      sc.ourAddresses.push_back(a);
    }
  }
  return sc;
}

// The descriptor, with an ORPort and authorities, unless PublishServerDescriptor 0 (C tor's).
// False: the onion keys could not be read.
// The ORPort the descriptor advertises: the first ORPort line without NoAdvertise (a NoListen line
// names a port forwarded to one that listens), else the first one listening.
uint16_t advertisedOrPort(const config::Config& cfg, uint16_t firstListening) {
  for (const auto& p : cfg.orPorts)
    if (!p.noAdvertise && !p.ipv6Only) return p.noListen ? p.port : firstListening;
  return firstListening;
}

// The descriptor's publisher; it starts publishing at once with AssumeReachable 1, else once the
// ORPort reachability self-test succeeds (makeSelfTest).
bool startPublisher(daemon::Runtime& rt, const LinkIdentity& id, uint16_t orPort,
                    std::unique_ptr<DescriptorPublisher>& publisher) {
  const auto& cfg = rt.config();
  if (cfg.dirAuthorities.empty() || !cfg.publishServerDescriptor) return true;
  auto onion = keys::loadDescriptorOnionKeys(cfg.dataDirectory);
  if (!onion) {
    spdlog::error("descriptor: {}", onion.error());
    return false;
  }
  publisher = std::make_unique<DescriptorPublisher>(rt.loop().base(), cfg, id.keys,
                                                    std::move(*onion), orPort, std::time(nullptr));
  publisher->setFamilyKeys(id.family);
  if (cfg.assumeReachable) publisher->start();
  return true;
}

// A relay of the consensus to test our reachability through: Running and Valid, with an IPv4
// ORPort, not ourselves, picked at random.
std::optional<OutboundTarget> pickTestRelay(const ConsensusFetcher& consensus,
                                            const dirdoc::Sha1Digest& ours) {
  if (!consensus.current()) return std::nullopt;
  std::vector<const dirdoc::RouterEntry*> usable;
  for (const auto& r : consensus.current()->routers)
    if (r.has(dirdoc::RelayFlag::kRunning) && r.has(dirdoc::RelayFlag::kValid) && r.orPort != 0 &&
        r.ipv4.family == 4 && r.identity != ours)
      usable.push_back(&r);
  if (usable.empty()) return std::nullopt;
  uint32_t i = 0;
  RAND_bytes(reinterpret_cast<uint8_t*>(&i), sizeof i);
  const dirdoc::RouterEntry& r = *usable[i % usable.size()];
  OutboundTarget t;
  t.ip = r.ipv4.toString();
  t.port = r.orPort;
  t.rsaId = r.identity;
  return t;
}

// The consensus's assume-reachable=1 ends the self-test as C tor's router.c reads it.
void selfTestConsensus(ReachabilityTest* test, const dirdoc::Consensus& c) {
  if (test && !test->reachable() &&
      dirdoc::resolveNetParams(c.params).get(dirdoc::ParamId::kAssumeReachable) == 1)
    test->assume("the consensus sets assume-reachable=1");
}

void addSelfTestCounters(const ReachabilityTest* test,
                         std::vector<std::pair<std::string, uint64_t>>& out) {
  out.emplace_back("orport_reachable", !test || test->reachable());
  out.emplace_back("orport_self_tests_total", test ? test->attempts() : 0);
  out.emplace_back("orport_self_tests_failed_total", test ? test->failures() : 0);
}

// The ORPort reachability self-test before publishing (reachability.h), unless AssumeReachable 1.
std::unique_ptr<ReachabilityTest> makeSelfTest(const config::Config& cfg, event_base* base,
                                               const LinkIdentity& id,
                                               const ConsensusFetcher& consensus,
                                               DescriptorPublisher* publisher, uint16_t orPort) {
  if (!publisher || cfg.assumeReachable) return nullptr;
  client::RelayInfo self;
  auto onion = keys::loadDescriptorOnionKeys(cfg.dataDirectory);
  if (inet_pton(AF_INET, cfg.address.c_str(), self.ipv4.data()) != 1 || !onion) {
    spdlog::warn("ORPort self-test: {}; publishing without it",
                 onion ? "Address is not an IPv4 address" : onion.error());
    publisher->start();
    return nullptr;
  }
  self.orPort = orPort;
  self.rsaId = id.keys.rsaIdentity.publicKey().fingerprint();
  std::memcpy(self.edId.data(), id.keys.masterPublic.data(), self.edId.size());
  std::memcpy(self.ntorKey.data(), onion->ntorPublic.data(), self.ntorKey.size());
  auto test = std::make_unique<ReachabilityTest>(
      base, id.clientTls, self,
      [&consensus, ours = self.rsaId] { return pickTestRelay(consensus, ours); },
      [publisher] { publisher->start(); });
  test->start();
  return test;
}

using CounterList = std::vector<std::pair<std::string, uint64_t>>;

// AccountingMax (channeld/net/hibernation.h): the links' bytes on the wire and streamd's exit
// bytes feed it; its state reaches the channels (soft: CREATEs refused, hard: channels closed) and
// the descriptor.
struct AccountingWiring {
  std::unique_ptr<StreamdBytes> exits;  // goes after `hibernation`, which reads it
  std::unique_ptr<Hibernation> hibernation;

  void counters(const ChannelServer& channels, CounterList& out) const {
    out.emplace_back("creates_refused_hibernating_total", channels.createsRefusedHibernating());
    hibernation->counters(out);
    if (exits) out.emplace_back("accounting_streamd_answers_total", exits->answers());
    if (exits) out.emplace_back("streamd_hibernation_told_total", exits->hibernationTold());
  }
};

AccountingWiring startHibernation(daemon::Runtime& rt, const LinkIdentity& id,
                                  ChannelServer& channels, DescriptorPublisher* publisher) {
  AccountingWiring w;
  Hibernation::Hooks hooks;
  hooks.traffic.emplace_back([&id] {
    LinkTraffic a = id.tls.traffic(), b = id.clientTls.traffic();
    return LinkTraffic{a.read + b.read, a.written + b.written};
  });
  if (rt.config().accountingMaxBytes) {
    w.exits = std::make_unique<StreamdBytes>(rt.loop().base(), rt.socketPath("streamd"));
    hooks.traffic.emplace_back([e = w.exits.get()] {
      e->poll();  // the answer counts at the next second
      return e->totals();
    });
  }
  hooks.change = [&channels, publisher, exits = w.exits.get()](accounting::State s) {
    channels.setHibernation(s != accounting::State::kAwake, s == accounting::State::kHard);
    if (publisher) publisher->setHibernating(s != accounting::State::kAwake);
    if (exits) exits->setHibernating(s != accounting::State::kAwake);  // new BEGINs refused
  };
  w.hibernation = std::make_unique<Hibernation>(rt.loop().base(), rt.config(),
                                                id.keys.rsaIdentity.publicKey().fingerprint(),
                                                std::move(hooks));
  w.hibernation->start();
  return w;
}

void addLinkCounters(const CircuitdLinkCounters& n, CounterList& out) {
  out.emplace_back("cells_to_circuitd_total", n.toCircuitd);
  out.emplace_back("cells_for_unknown_circuits_total", n.noCircuit);
  out.emplace_back("cells_waited_for_credit_total", n.waited);
  out.emplace_back("cells_without_circuitd_total", n.refusedNoCircuitd);
  out.emplace_back("creates_refused_at_flow_cap_total", n.refusedAtFlowCap);
  out.emplace_back("extends_requested_total", n.extendsRequested);
  out.emplace_back("extends_refused_total", n.extendsRefused);
  out.emplace_back("extends_failed_total", n.extendsFailed);
  out.emplace_back("extends_created_total", n.extendsCreated);
  out.emplace_back("extends_cancelled_total", n.extendsCancelled);
}

void addConsensusCounters(const ConsensusCounters& n, CounterList& out) {
  out.emplace_back("consensus_fetched_total", n.fetched);
  out.emplace_back("consensus_accepted_total", n.accepted);
  out.emplace_back("consensus_refused_total", n.refused);
  out.emplace_back("consensus_fetch_failures_total", n.failures);
  out.emplace_back("consensus_loaded_from_cache_total", n.cached);
}

// Calls `f` once a day until the returned event goes.
using DailyEvent = std::unique_ptr<event, void (*)(event*)>;
DailyEvent everyDay(event_base* base, std::function<void()>& f) {
  DailyEvent ev(
      event_new(
          base, -1, EV_PERSIST,
          [](evutil_socket_t, short, void* p) { (*static_cast<std::function<void()>*>(p))(); }, &f),
      &event_free);
  timeval day{86400, 0};
  event_add(ev.get(), &day);
  return ev;
}

// The channels' hooks: to the outbound side and to circuitd, once each exists (both pointers are
// set after the channels are made and cleared before they go).
ChannelServer::Hooks channelHooks(CircuitdLink*& link, OutboundChannels*& outbound) {
  ChannelServer::Hooks hooks;
  hooks.opened = [&link, &outbound](ChannelId id, const ChannelInfo& info) {
    if (outbound) outbound->channelOpened(id, info);
    if (link) link->opened(id, info);
  };
  hooks.cell = [&link](ChannelId id, uint32_t circId, uint8_t cmd, Bytes payload) {
    return link ? link->cell(id, circId, cmd, payload) : true;
  };
  hooks.closed = [&link, &outbound](ChannelId id) {
    if (outbound) outbound->channelClosed(id);
    if (link) link->closed(id);
  };
  return hooks;
}

void randomBytes(MutBytes out) {
  RAND_bytes(out.data(), static_cast<int>(out.size()));
}

int64_t wallClock() {
  return static_cast<int64_t>(std::time(nullptr));
}

// MaxMemInQueues: channeld's share bounds what its channels hold for their peers and circuitd
// (ChannelServer::memory()); over it, the OOM handler closes the channels holding the most.
class ChannelMemory {
 public:
  ChannelMemory(daemon::Runtime& rt, ChannelServer& channels)
      : rt_(rt),
        channels_(channels),
        physical_(daemon::physicalMemory()),  // before the sandbox
        oom_(rt.loop().base(), channels, "channeld", "channels holding the most bytes",
             [&channels] { return channels.oomChannelsClosed(); }) {
    channels_.memory().setBudget(budget());
    spdlog::info("channeld: memory budget {} MB (its share of MaxMemInQueues)",
                 channels_.memory().budget() >> 20);
  }
  void reload() {
    if (uint64_t b = budget(); b != channels_.memory().budget()) {
      channels_.memory().setBudget(b);  // applies at once: over it, the OOM handler runs
      spdlog::info("reload: channeld's memory budget is now {} MB (MaxMemInQueues)", b >> 20);
      if (channels_.memory().over()) oom_.schedule();
    }
  }
  void counters(std::vector<std::pair<std::string, uint64_t>>& out) const {
    out.emplace_back("oom_bytes_total", channels_.oomBytesFreed());
    out.emplace_back("oom_channels_closed_total", channels_.oomChannelsClosed());
    out.emplace_back("memory_held_bytes", channels_.memory().bytes());
    out.emplace_back("memory_budget_bytes", channels_.memory().budget());
  }

 private:
  uint64_t budget() const {
    return daemon::memShare(rt_.config(), physical_, &flowctl::DaemonBudgets::channeld);
  }
  daemon::Runtime& rt_;
  ChannelServer& channels_;
  const uint64_t physical_;
  daemon::ReactorOom<ChannelServer> oom_;
};

// One connection per circuitd shard (NumCPUs); each gets the consensus after its attach.
using CircuitEntries = std::vector<std::optional<proto::CircuitEntry::Client>>;
std::vector<std::unique_ptr<ipc::ClientLink<Traits>>> connectShards(daemon::Runtime& rt,
                                                                    CircuitdLink& circuitdLink,
                                                                    CircuitEntries& circuitEntries,
                                                                    ConsensusFetcher& consensus) {
  std::vector<std::unique_ptr<ipc::ClientLink<Traits>>> shards;
  for (size_t k = 0; k < circuitdLink.shards(); ++k) {
    std::string name = config::circuitdShardName(static_cast<unsigned>(k));
    shards.push_back(std::make_unique<ipc::ClientLink<Traits>>(
        rt.loop(), rt.socketPath(name), name,
        [&circuitdLink, k](auto drop) { return circuitdLink.makeSession(k, std::move(drop)); },
        [&circuitdLink, &circuitEntries, &consensus, k](ipc::RpcConnection& c,
                                                        proto::CellSink::Client ours) {
          auto& entry = circuitEntries[k];
          entry = c.bootstrap<proto::CircuitEntry>();
          if (consensus.current()) sendConsensus(*entry, *consensus.current());
          auto req = entry->attachRequest();
          req.setToChanneld(kj::mv(ours));
          return req.send().then([&circuitdLink, k](auto&& r) {
            circuitdLink.attached(k);  // the shard hears our channels from now on
            return r.getToCircuitd();
          });
        }));
  }
  return shards;
}

// The circuitd shards not attached yet (Control's waitingFor).
std::vector<std::string> unattached(
    const std::vector<std::unique_ptr<ipc::ClientLink<Traits>>>& shards) {
  std::vector<std::string> waiting;
  for (const auto& l : shards)
    if (!l->attached()) waiting.push_back(l->peer());
  return waiting;
}

int run(daemon::Runtime& rt) {
  const auto& cfg = rt.config();
  auto passedOrPorts = systemdOrPorts();
  int fd = rt.takeListenFd();
  if (fd < 0) return 1;
  auto ident = loadLinkIdentity(cfg);
  if (!ident) return 1;
  const auto& keys = ident->keys;

  auto initiatorCreds = makeInitiatorOrSay(*ident);
  if (!initiatorCreds) return 1;
  ChannelServerConfig sc = serverConfig(cfg, *ident);

  auto initiatorIdentity = [&] {
    return InitiatorIdentity{initiatorCreds, initiatorCreds->initiatorCerts(ident->creds),
                             sc.ourRsaIdSha256, keys.masterPublic, sc.ourAddresses};
  };
  InitiatorIdentity firstIdentity = initiatorIdentity();

  // The channels' hooks reach circuitd through `link` (made once the channels exist).
  CircuitdLink* link = nullptr;
  OutboundChannels* outboundPtr = nullptr;
  ChannelServer::Hooks hooks = channelHooks(link, outboundPtr);
  DosWiring dos(rt.loop().base(), cfg);
  dos.hook(hooks);
  ChannelServer channels(rt.loop().base(), std::move(sc), std::move(hooks), randomBytes, wallClock);
  ChannelMemory memory(rt, channels);
  // Outbound channels for EXTEND2 (declared after `channels`, so they go first).
  OutboundDialer dialer(rt.loop().base(), ident->clientTls, std::move(firstIdentity),
                        std::chrono::seconds(30), randomBytes, wallClock);
  dialer.setLocalAddresses(config::orBindAddress(cfg, false), config::orBindAddress(cfg, true));
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
  ServerChannelPort port(channels);
  CircuitdLinkConfig linkConfig;
  linkConfig.ourRsa = keys.rsaIdentity.publicKey().fingerprint();
  linkConfig.ourEd = keys.masterPublic;
  linkConfig.allowPrivate = outboundLimits.allowPrivateAddresses;
  CircuitdLink circuitdLink(
      port,
      [&outbound](const OutboundTarget& t, OutboundChannels::Done d) {
        outbound.request(t, std::move(d));
      },
      linkConfig, daemon::circuitdShards(cfg));
  link = &circuitdLink;
  std::function<void()> renewInitiator = [&] {
    std::string err;
    auto fresh = makeInitiator(*ident, err);
    if (!fresh) {
      spdlog::warn("outbound link credentials: {}; keeping the current ones", err);
      return;
    }
    initiatorCreds = fresh;
    dialer.setIdentity(initiatorIdentity());
  };
  DailyEvent renewTimer = everyDay(rt.loop().base(), renewInitiator);

  std::vector<std::unique_ptr<OrListener>> orPorts;
  if (!listenOnOrPorts(rt, ident->tls, channels, cfg, std::move(passedOrPorts),
                       dos.listenerLimits(), orPorts))
    return 1;
  std::unique_ptr<DescriptorPublisher> publisher;
  const uint16_t orPort = orPorts.empty() ? 0 : advertisedOrPort(cfg, orPorts[0]->port());
  if (!orPorts.empty() && !startPublisher(rt, *ident, orPort, publisher)) return 1;
  rt.onShutdownBegin([&] {
    orPorts.clear();  // closes the ORPort sockets: new connections are refused
    channels.refuseNewCircuits();
  });
  rt.onReload([&](const config::Config& previous) {
    applyReload(rt, channels, publisher.get(), previous);
    dos.dos().setTorrc(cfg.dos);
    memory.reload();
  });

  auto listener = daemon::serve(
      rt, fd,
      [&](ipc::ConnectionId, std::function<void()>) -> capnp::Capability::Client {
        return kj::heap<Bootstrap>(rt.control());
      },
      nullptr);
  // The consensus: its parameters go to circuitd now and after every attach.
  CircuitEntries circuitEntries(circuitdLink.shards());
  std::unique_ptr<ConsensusCache> cache;  // opened here, before the sandbox
  if (!cfg.dirAuthorities.empty()) cache = std::make_unique<ConsensusCache>(cfg.dataDirectory);
  RelayStatus status(keys.rsaIdentity.publicKey().fingerprint(), protoLine(cfg));
  rt.control().fingerprint = toHex(Bytes(keys.rsaIdentity.publicKey().fingerprint()), true);
  serveControlViews(rt.control(), channels, outbound, publisher);
  bool refused = false;  // the consensus requires a protocol we lack
  std::unique_ptr<ReachabilityTest> selfTest;
  ConsensusFetcher consensus(
      rt.loop().base(), cfg,
      [&](const dirdoc::Consensus& c) {
        if (!status.update(c) && !std::exchange(refused, true)) rt.loop().stop();
        dos.dos().setConsensus(c);  // its DoS* parameters and its relays' addresses
        for (auto& entry : circuitEntries)
          if (entry) sendConsensus(*entry, c);
        selfTestConsensus(selfTest.get(), c);
      },
      cache.get());
  if (!cfg.dirAuthorities.empty()) consensus.start();  // from the cache first, if it has one
  if (refused) return daemon::kExitRefuseToRun;
  selfTest = makeSelfTest(cfg, rt.loop().base(), *ident, consensus, publisher.get(), orPort);
  auto accounting = startHibernation(rt, *ident, channels, publisher.get());
  auto shards = connectShards(rt, circuitdLink, circuitEntries, consensus);
  rt.control().waitingFor = [&] { return unattached(shards); };
  rt.control().counters = [&](std::vector<std::pair<std::string, uint64_t>>& out) {
    addConsensusCounters(consensus.counters(), out);
    status.addCounters(out);
    out.emplace_back("ipc_connections_accepted_total", listener->accepted());
    unsigned connects = 0;
    for (const auto& l : shards)
      connects += l->connects();
    out.emplace_back("ipc_circuitd_connects_total", connects);
    out.emplace_back("circuitd_shards", shards.size());
    out.emplace_back("channels", channels.channels());
    out.emplace_back("channels_open", channels.openChannels());
    addConnectionCounters(channels.connectionTally(), out);
    addLinkMetrics(cfg, *ident, channels, dialer.inProgress(), out);
    out.emplace_back("link_handshakes_completed_total", channels.handshakesCompleted());
    out.emplace_back("link_handshakes_failed_total", channels.handshakesFailed());
    out.emplace_back("creates_refused_shutting_down_total", channels.createsRefusedWhileStopping());
    accounting.counters(channels, out);
    dos.counters(out);
    out.emplace_back("descriptor_accepted_by", publisher ? publisher->acceptedBy() : 0);
    out.emplace_back("descriptor_accepted_authorities", publisher ? publisher->acceptedMask() : 0);
    out.emplace_back("descriptor_rounds_total", publisher ? publisher->rounds() : 0);
    out.emplace_back("orport_advertised", orPort);
    addSelfTestCounters(selfTest.get(), out);
    addLinkCounters(circuitdLink.counters(), out);
    out.emplace_back("channels_stalled", channels.stalledChannels());
    out.emplace_back("channel_output_cap_reached_total", channels.outputCapReached());
    memory.counters(out);
    out.emplace_back("outbound_connections_in_progress", outbound.inProgress());
  };
  for (auto& l : shards)
    l->start();
  int rc = rt.run();
  link = nullptr;
  outboundPtr = nullptr;
  return refused ? daemon::kExitRefuseToRun : rc;
}

}  // namespace
}  // namespace onionsplit::channeld

int main(int argc, char** argv) {
  return onionsplit::daemon::daemonMain(argc, argv, "channeld", onionsplit::channeld::run);
}
