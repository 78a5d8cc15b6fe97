// channeld/net/outbound.h: channels we open to other relays, for EXTEND2 (tor-spec section 5.1.2):
// a TCP connection and TLS as the client (libevent bufferevent_openssl, like the ORPort side), the
// initiator's link handshake (channeld/link/initiator.h) under one deadline, and the registry that
// decides whether a request needs a new connection at all.
//
// Where it sits: circuitd asks channeld for a channel to the next hop named by EXTEND2's link
// specifiers; channeld calls OutboundChannels::request(). An open channel whose proven identity
// matches is reused (tor-spec section 5.3.1's canonical connection, inbound ones included); a
// request for a relay we are already connecting to waits for that connection; otherwise, unless the
// address is refused or too many connections are in progress, OutboundDialer connects. A new
// channel is handed over as an OpenedChannel (the same OrConnection an inbound channel has) to
// `adopt`, which gives it to ChannelServer and names its ChannelId.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channeld/link/initiator.h"
#include "channeld/link/link_certs.h"
#include "channeld/net/channels.h"
#include "channeld/net/link_tls.h"
#include "channeld/net/or_listener.h"
#include "common/base/result.h"

namespace onionsplit::channeld {

// The next hop, as EXTEND2's link specifiers give it: an address and at least one identity.
struct OutboundTarget {
  std::string ip;  // IPv4 or IPv6 literal
  uint16_t port = 0;
  std::optional<crypto::RsaFingerprint> rsaId;
  std::optional<crypto::Ed25519PublicKey> edId;
};

// A channel whose handshake finished: the TLS connection, what the handshake established (the
// peer's identity is always set), and the bytes the responder sent after its NETINFO, which are
// already cells of the open channel. The connection's bufferevent has no callbacks set and may
// also hold unread input: whoever takes it processes `leftover`, then that input.
struct OpenedChannel {
  std::unique_ptr<OrConnection> conn;
  ChannelInfo info;
  std::vector<uint8_t> leftover;
};

// Who we are on connections we open. Shared so that credentials can be replaced (rotated) while
// handshakes made with the previous ones are still running.
struct InitiatorIdentity {
  std::shared_ptr<const InitiatorCredentials> creds;            // the type 6 key signs
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> certs;  // types 3, 2, 4, 6, 7
  std::array<uint8_t, 32> ourRsaIdSha256{};
  crypto::Ed25519PublicKey ourEdId{};
  std::vector<cell::NetAddress> ourAddresses;  // NETINFO "my addresses"
};

// Opens one connection per dial(): TCP, TLS, the initiator's handshake, all within `timeout`.
class OutboundDialer {
 public:
  using Done = std::function<void(Expected<OpenedChannel, std::string>)>;

  // `tls` is an initiator context presenting our link certificate; it must outlive the dialer.
  OutboundDialer(event_base* base, const LinkTlsContext& tls, InitiatorIdentity identity,
                 std::chrono::milliseconds timeout, std::function<void(MutBytes)> random,
                 std::function<int64_t()> now);
  ~OutboundDialer();  // abandons connections in progress without calling their `done`
  OutboundDialer(const OutboundDialer&) = delete;
  OutboundDialer& operator=(const OutboundDialer&) = delete;

  // Starts a connection to `target` (an IP literal; nothing is resolved). `done` runs exactly
  // once, on a later loop turn, with the channel or the reason it failed.
  void dial(const OutboundTarget& target, Done done);
  void setIdentity(InitiatorIdentity identity) { identity_ = std::move(identity); }
  // OutboundBindAddressOR (config::orBindAddress): connections of that family leave from this
  // address ("" = the kernel's choice), except to loopback destinations, as in C tor.
  void setLocalAddresses(std::string ipv4, std::string ipv6) {
    localIpv4_ = std::move(ipv4);
    localIpv6_ = std::move(ipv6);
  }
  // Seams for tests: how the TCP connect is made (::connect; 0 means it finished at once) and how
  // a connection's TLS state is made (LinkTlsContext::newSsl; nullptr: TLS cannot start).
  struct Seams {
    std::function<int(int fd, const sockaddr* addr, socklen_t len)> connect;
    std::function<ssl_st*()> newSsl;
  };
  void setSeams(Seams seams) { seams_ = std::move(seams); }
  size_t inProgress() const { return attempts_.size(); }

 private:
  struct Attempt;
  static void onEvent(bufferevent* bev, short what, void* arg);
  static void onRead(bufferevent* bev, void* arg);
  static void onDeadline(evutil_socket_t, short, void* arg);
  static void onFinish(evutil_socket_t, short, void* arg);
  void startHandshake(Attempt& a);
  std::optional<std::string> bindLocal(int fd, const sockaddr_storage& to) const;
  void process(Attempt& a);
  void finish(Attempt& a, Expected<OpenedChannel, std::string> result);

  event_base* base_;
  const LinkTlsContext& tls_;
  InitiatorIdentity identity_;
  std::chrono::milliseconds timeout_;
  std::function<void(MutBytes)> random_;
  std::function<int64_t()> now_;
  Seams seams_;
  std::string localIpv4_, localIpv6_;
  event* finisher_;  // runs finished attempts' `done` on the next loop turn
  uint64_t next_ = 1;
  std::map<uint64_t, std::unique_ptr<Attempt>> attempts_;
};

struct OutboundLimits {
  // Connections being opened at once (C tor has no such option; its outbound connections are
  // bounded by its circuit limits and file descriptors). Beyond it a request is refused, so a
  // burst of EXTEND2 cells cannot make channeld open sockets without bound.
  size_t maxInProgress = 64;
  // Requests waiting for one connection in progress.
  size_t maxWaitersPerConnection = 256;
  // ExtendAllowPrivateAddresses || TestingTorNetwork: allow private and local addresses.
  bool allowPrivateAddresses = false;
};

// True for the addresses C tor refuses to extend to without ExtendAllowPrivateAddresses
// (tor_addr_is_internal: 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.168/16; IPv6
// ::/127, fc00::/7, fe80::/10, fec0::/10, and v4-mapped forms of the IPv4 ones). Anything that is
// not an IP literal counts as private.
bool isPrivateAddress(const std::string& ip);

class OutboundChannels {
 public:
  struct Result {
    std::optional<ChannelId> channel;  // set on success
    std::string why;                   // why not, for the log
  };
  using Done = std::function<void(const Result&)>;
  using Dial = std::function<void(const OutboundTarget&, OutboundDialer::Done)>;
  // Takes a new channel (ChannelServer's adoption of an outbound connection) and returns its id,
  // or nullopt if it could not.
  using Adopt = std::function<std::optional<ChannelId>(OpenedChannel&&)>;

  // `dial` is OutboundDialer::dial in channeld (a fake in tests). A dial that finishes after this
  // object is gone is ignored (its channel is closed).
  OutboundChannels(OutboundLimits limits, Dial dial, Adopt adopt);

  // A channel to `target`. `done` runs exactly once: before request() returns if an open channel
  // can be reused or the request is refused, otherwise when the connection succeeds or fails.
  void request(const OutboundTarget& target, Done done);
  // What ChannelServer reports: an open channel and who it proved to be (ignored if nobody), and
  // a channel that closed.
  void channelOpened(ChannelId id, const ChannelInfo& info);
  void channelClosed(ChannelId id);

  size_t inProgress() const { return pending_.size(); }
  // Visits the target of every connection being dialled.
  void forEachPending(const std::function<void(const OutboundTarget&)>& f) const {
    for (const auto& [key, p] : pending_)
      f(p.target);
  }
  size_t knownChannels() const { return open_.size(); }
  void setAllowPrivateAddresses(bool allow) { limits_.allowPrivateAddresses = allow; }

 private:
  struct Pending {
    OutboundTarget target;
    std::vector<std::pair<OutboundTarget, Done>> waiters;
  };
  struct Known {
    PeerIdentity peer;
    std::string ip;
  };
  std::optional<ChannelId> findOpen(const OutboundTarget& t) const;
  void onDialed(uint64_t key, Expected<OpenedChannel, std::string> result);

  OutboundLimits limits_;
  Dial dial_;
  Adopt adopt_;
  std::map<ChannelId, Known> open_;
  uint64_t nextKey_ = 1;
  std::map<uint64_t, Pending> pending_;
  std::shared_ptr<OutboundChannels*> self_ = std::make_shared<OutboundChannels*>(this);
};

}  // namespace onionsplit::channeld
