// channeld/net/circuitd_link.h: channeld's end of the channel_circuit boundary (the client side:
// channeld connects to circuitd). Channels announced (`opened`) and gone (`closed`), circuit cells
// both ways, and the middle role: circuitd's `extend` requests become channels to the next hop,
// our CREATE2 on them, and the `extended` answer.
//
// Where it sits: main.cc wires ChannelServer's hooks (opened, cell, closed) to CircuitdLink and
// lets ipc::ClientLink make one CircuitdSession per connection to circuitd. The channels and the
// outbound connections are reached through ChannelPort and a Connect function, so tests drive the
// boundary without sockets (tests/channeld/circuitd_link_test.cc).
//
// The contract channeld keeps (circuitd relies on it; circuitd/net/channeld_adapter.cc):
//   - `opened` once per channel, before any cell of it; a channel open before circuitd attached is
//     announced when it attaches;
//   - after a channel's `closed`, nothing more naming that channel: its flows are forgotten and
//     extends its circuits asked for are cancelled;
//   - an extend whose origin circuit ended (DESTROY either way) is never answered (bug 41393): the
//     pending extend lives in the origin flow's state, which goes with the flow;
//   - an `extended` never names the origin's own channel;
//   - only the cells circuitd may get (ipc::channeldMaySend): a peer's other circuit cell (a next
//     hop's CREATED_FAST) ends its circuit with DESTROY PROTOCOL both ways;
//   - a CREATE at the flow cap (65,536 flows, or the pipe refusing the flow) gets DESTROY
//     RESOURCELIMIT on its channel; the channel's other circuits go on (caps refuse, never stall).
// And what it checks of circuitd (a breach ends the connection): the boundary's direction table
// (ChannelCircuitTraits::admitFromCircuitd: the cell commands circuitd may send), an extend naming
// a channel never announced or a circuit that never existed, a second extend for a circuit that
// waits for one. What crossed a close (an extend of a circuit we just destroyed, a cell for a
// channel that just closed) is dropped.
//
// Credit: a cell from circuitd keeps its CreditToken in the channel's output queue
// (OutputScheduler) until it leaves for TLS or is dropped.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "channeld/net/channels.h"
#include "channeld/net/outbound.h"
#include "common/ipc/boundaries.h"
#include "common/ipc/session.h"

namespace onionsplit::channeld {

// What the link needs of the channels: ChannelServer in channeld (ServerChannelPort), a fake in
// tests. Same meanings as ChannelServer's methods.
class ChannelPort {
 public:
  virtual ~ChannelPort() = default;
  virtual bool queueCell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload,
                         flowctl::CreditToken credit) = 0;
  virtual bool sendCell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload) = 0;
  virtual size_t dropQueued(ChannelId id, uint32_t circId) = 0;
  virtual std::optional<uint32_t> originateCircuit(ChannelId id) = 0;
  virtual void resume() = 0;
  virtual void resumeSoon() = 0;
  virtual size_t destroyAllCircuits(uint8_t reason) = 0;
  // One circuit lost with its circuitd shard: its queued cells go and the peer hears DESTROY.
  void destroyCircuit(ChannelId id, uint32_t circId, uint8_t reason) {
    dropQueued(id, circId);
    uint8_t payload[cell::kCellPayloadLen] = {reason};
    sendCell(id, circId, static_cast<uint8_t>(cell::CellCmd::kDestroy), Bytes(payload));
  }
  virtual void forEachOpen(const std::function<void(ChannelId, const ChannelInfo&)>& f) const = 0;
};

class ServerChannelPort final : public ChannelPort {
 public:
  explicit ServerChannelPort(ChannelServer& s) : s_(s) {}
  bool queueCell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload,
                 flowctl::CreditToken credit) override {
    return s_.queueCell(id, circId, command, payload, std::move(credit));
  }
  bool sendCell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload) override {
    return s_.sendCell(id, circId, command, payload);
  }
  size_t dropQueued(ChannelId id, uint32_t circId) override { return s_.dropQueued(id, circId); }
  std::optional<uint32_t> originateCircuit(ChannelId id) override {
    return s_.originateCircuit(id);
  }
  void resume() override { s_.resume(); }
  void resumeSoon() override { s_.resumeSoon(); }
  size_t destroyAllCircuits(uint8_t reason) override { return s_.destroyAllCircuits(reason); }
  void forEachOpen(const std::function<void(ChannelId, const ChannelInfo&)>& f) const override {
    s_.forEachOpen(f);
  }

 private:
  ChannelServer& s_;
};

// The per-flow state of channeld's pipe: the extend the circuit waits on (0: none). It goes with
// the flow (our DESTROY, circuitd's, the channel's end), and so does the extend: an answer that
// finds another ticket, or no flow, is for a circuit that is gone.
struct CircuitFlow {
  uint64_t pendingExtend = 0;
};

struct CircuitdLinkConfig {
  crypto::RsaFingerprint ourRsa{};
  crypto::Ed25519PublicKey ourEd{};
  bool allowPrivate = false;
  // Flows open (or closing) on the connection beyond which a CREATE is refused: the pipe's own
  // table (ipc::defaultWindows().maxFlows). Tests set less.
  size_t maxFlows = 65536;
};

struct CircuitdLinkCounters {
  uint64_t toCircuitd = 0, noCircuit = 0, waited = 0, refusedNoCircuitd = 0, refusedAtFlowCap = 0;
  uint64_t extendsRequested = 0, extendsRefused = 0, extendsFailed = 0, extendsCreated = 0;
  uint64_t extendsCancelled = 0;  // answered after their circuit or channel was gone: not sent
  uint64_t crossedClose = 0;      // extends of circuits or channels we had just closed
  uint64_t refusedCommand = 0;    // peers' cells circuitd may not get (their circuit ends)
};

class CircuitdSession;

// circuitd's shards (NumCPUs): one connection each, shard k to IPCDirectory/circuitd[-k].sock. Each
// channel is announced to every shard; a new circuit (a client's CREATE) goes to the attached shard
// with the fewest flows, and every later cell of it to the shard that has its flow, as does the
// next hop's side of a circuit that shard extended. A shard's connection that ends costs only its
// own circuits (their clients hear DESTROY); the channels and the other shards' circuits go on.
class CircuitdLink {
 public:
  using Traits = ipc::ChannelCircuitTraits;
  // A channel to the next hop (OutboundChannels::request in channeld).
  using Connect = std::function<void(const OutboundTarget&, OutboundChannels::Done)>;

  CircuitdLink(ChannelPort& channels, Connect connect, CircuitdLinkConfig config,
               size_t shards = 1);
  ~CircuitdLink();
  CircuitdLink(const CircuitdLink&) = delete;
  CircuitdLink& operator=(const CircuitdLink&) = delete;

  // The session of a new connection to circuitd shard `shard` (for ipc::ClientLink).
  std::unique_ptr<CircuitdSession> makeSession(size_t shard, std::function<void()> drop);
  // That shard accepted the attach of its current session: from now on it hears our channels (the
  // ones open already are announced now).
  void attached(size_t shard);

  // ChannelServer's hooks.
  void opened(ChannelId id, const ChannelInfo& info);
  bool cell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload);
  void closed(ChannelId id);

  size_t shards() const { return current_.size(); }
  // Shard `shard`'s attached session, or nullptr.
  CircuitdSession* session(size_t shard = 0);
  const CircuitdLinkCounters& counters() const { return counters_; }
  void setAllowPrivate(bool allow) { config_.allowPrivate = allow; }

 private:
  friend class CircuitdSession;
  CircuitdSession* sessionById(uint64_t id);
  // The attached session whose flow `f` is (open or closing), or nullptr.
  CircuitdSession* owner(uint64_t f);
  // The attached session a new circuit goes to: the fewest flows; nullptr if none is attached.
  CircuitdSession* pick();
  bool othersAttached(const CircuitdSession* s);

  ChannelPort& channels_;
  Connect connect_;
  CircuitdLinkConfig config_;
  CircuitdLinkCounters counters_;
  std::vector<CircuitdSession*> current_;  // by shard
  uint64_t nextSession_ = 1;
  uint64_t nextTicket_ = 1;
  // Cleared when the link goes: an outbound answer after that finds nobody.
  std::shared_ptr<CircuitdLink*> self_ = std::make_shared<CircuitdLink*>(this);
};

// One connection to circuitd.
class CircuitdSession final : public ipc::PeerSession<ipc::ChannelCircuitTraits, CircuitFlow> {
 public:
  using Event = proto::ChannelEvent;

  CircuitdSession(CircuitdLink& link, size_t shard, uint64_t id, std::function<void()> drop);
  // The connection to circuitd is gone, and every circuit with it: the clients hear DESTROY.
  ~CircuitdSession() noexcept(false) override;

  ipc::Verdict admit(Event::Reader e) override;
  ipc::Verdict onControl(Event::Reader e) override;
  ipc::FlowVerdict onFlowEvent(ipc::FlowId f, CircuitFlow& s, Event::Reader e,
                               ipc::CreditToken credit) override;
  void onPeerClose(ipc::FlowId f, CircuitFlow& s, Event::Reader e) override;
  void onClosed(ipc::FlowId f) override;
  bool mayBeStale(Event::Reader e) override;
  void onCredit() override;

  uint64_t id() const { return id_; }
  size_t shard() const { return shard_; }
  bool live() const { return live_; }
  // Circuits on this shard (flows open or closing).
  size_t flows() const { return pipe.openFlows(); }
  // Announced to circuitd and not closed.
  bool announced(ChannelId ch) const { return open_.count(ch) != 0; }

 private:
  friend class CircuitdLink;

  void attached();
  void announce(ChannelId id, const ChannelInfo& info);
  bool fromChannel(ChannelId id, uint32_t circId, uint8_t command, Bytes payload);
  void channelClosed(ChannelId id);
  void extend(uint32_t originChannel, uint64_t ticket, proto::ExtendRequest::Reader x);
  void answerExtend(uint32_t originChannel, uint32_t originCirc, uint64_t ticket,
                    const OutboundChannels::Result& r, Bytes create, const std::string& where);
  void sendExtended(uint32_t originChannel, uint32_t originCirc, ChannelId next,
                    uint32_t nextCircId, uint8_t reason);
  void refuse(ChannelId id, uint32_t circId, cell::DestroyReason reason);

  CircuitdLink& link_;
  size_t shard_;
  uint64_t id_;
  bool live_ = false;
  // Channels announced to circuitd and not closed, with the peer's RSA identity (relays).
  std::unordered_map<ChannelId, std::optional<crypto::RsaFingerprint>> open_;
  ChannelId maxAnnounced_ = 0;  // channel ids only grow: at most this and not open = closed
};

}  // namespace onionsplit::channeld
