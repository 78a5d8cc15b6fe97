// channeld/net/channels.h: the channels of the ORPort. Each accepted TLS connection runs the
// responder's link handshake (channeld/link/responder.h) under a deadline; once open, its circuit
// cells go to circuitd and circuitd's cells come back to it.
//
// Where it sits: OrListener hands TLS connections here; channeld's main wires the hooks (opened,
// cell, closed) to CircuitdLink (circuitd_link.h), which feeds queueCell and sendCell with what
// circuitd sends.
//
// Per cell after the handshake (tor-spec section 3-4): CREATE, CREATE_FAST, CREATE2, RELAY,
// RELAY_EARLY and DESTROY go to circuitd; PADDING, VPADDING and PADDING_NEGOTIATE are consumed
// here; a handshake cell on an open channel closes it (a protocol violation); anything else is
// dropped.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channeld/link/channel_circuits.h"
#include "channeld/link/link_certs.h"
#include "channeld/link/responder.h"
#include "channeld/net/or_listener.h"
#include "common/cell/cells.h"
#include "common/daemon/log.h"
#include "common/flowctl/credit_token.h"
#include "common/flowctl/mem_budget.h"
#include "common/flowctl/oom_choice.h"

namespace onionsplit::channeld {

using ChannelId = uint32_t;

// The cells of an open channel that belong to a circuit (ChannelCircuits and then circuitd see
// them): CREATE, CREATE_FAST, CREATE2, RELAY, RELAY_EARLY, DESTROY, and the answers CREATED2 and
// CREATED_FAST to the CREATE2s of our extends. Everything else is the link's own or unknown.
bool isCircuitCell(uint8_t cmd);

struct ChannelInfo {
  uint16_t linkVersion = 0;
  std::optional<PeerIdentity> peer;  // nullopt: a client (did not authenticate)
  PeerAddress address;
};

struct ChannelServerConfig {
  // CERTS entries and the identity digests the handshake needs (from LinkCredentials and the keys).
  std::vector<std::pair<uint8_t, std::vector<uint8_t>>> certs;
  std::array<uint8_t, 32> ourRsaIdSha256{};
  crypto::Ed25519PublicKey ourEdId{};
  std::array<uint8_t, 32> ourTlsCertSha256{};
  std::vector<cell::NetAddress> ourAddresses;
  std::chrono::seconds handshakeTimeout{30};  // C tor closes unfinished handshakes too
  // A channel with no circuit for this long closes (C tor closes idle client channels after
  // three to four and a half minutes).
  std::chrono::seconds idleTimeout{180};
  size_t maxCircuitsPerChannel = 1024;  // CREATEs beyond it get DESTROY (RESOURCELIMIT)
  size_t maxInputBytes = 1 << 20;       // unread input per channel before we stop reading
  // BandwidthRate / BandwidthBurst (bytes/s, bytes): one token bucket for everything all channels
  // read and one for everything they write, refilled every 100 ms, as C tor's global buckets.
  uint64_t bandwidthRate = 1ULL << 30;
  uint64_t bandwidthBurst = 1ULL << 30;
  // KeepalivePeriod: an open channel with nothing written for this long and nothing waiting to be
  // written gets a PADDING cell, so firewalls keep the connection (C tor's housekeeping).
  std::chrono::seconds keepalivePeriod{300};
};

class ChannelServer {
 public:
  struct Hooks {
    std::function<void(ChannelId, const ChannelInfo&)> opened;
    // A circuit cell from the channel. Return false when circuitd cannot take it now: the channel
    // stops reading until resume() is called.
    std::function<bool(ChannelId, uint32_t circId, uint8_t command, Bytes payload)> cell;
    std::function<void(ChannelId)> closed;
    // A cell queued with queueCell() left for TLS (its IPC credit went back with it).
    std::function<void(ChannelId, uint32_t circId)> sent;
    // The circuit creation DoS defence (channeld/link/channel_dos.h): `createSeen` for every
    // CREATE, CREATE_FAST and CREATE2 of an open channel (C tor counts each), `refuseCreate` for
    // one that would go to circuitd: true answers it here with DESTROY RESOURCELIMIT.
    std::function<void(const ChannelInfo&)> createSeen;
    std::function<bool(const ChannelInfo&)> refuseCreate;
  };

  // circuitd's cells wait in the channel's OutputScheduler (round robin among circuits) and move
  // to TLS while the TLS output holds less than kOutputFill; the write callback runs at
  // kOutputLowWater and moves more. Their credit goes back to circuitd only as they move, so a
  // slow reader holds at most its circuits' credit windows here.
  static constexpr size_t kOutputFill = 64 * 1024;
  static constexpr size_t kOutputLowWater = 32 * 1024;
  // What channeld writes itself (link handshake answers, DESTROY for refused CREATEs) answers the
  // peer's own cells. A peer that sends and never reads would grow that output without bound, so
  // once this much waits for TLS its input is no longer read until TLS takes the output below
  // kOutputLowWater: the peer's silence stops only its own channel.
  static constexpr size_t kOutputCap = 256 * 1024;
  // The largest TLS record's plaintext (RFC 8446 §5.1): the chunk size of a channel's output.
  static constexpr size_t kTlsRecordBytes = 16 * 1024;

  ChannelServer(event_base* base, ChannelServerConfig config, Hooks hooks,
                std::function<void(MutBytes)> random, std::function<int64_t()> now);
  ~ChannelServer();
  ChannelServer(const ChannelServer&) = delete;
  ChannelServer& operator=(const ChannelServer&) = delete;

  void accept(std::unique_ptr<OrConnection> conn);
  // BandwidthRate/BandwidthBurst changed (reload): the shared buckets refill at the new rate.
  void setBandwidth(uint64_t rate, uint64_t burst);
  // A connection we opened whose handshake finished (channeld/net/outbound.h, OpenedChannel): from
  // now on it is a channel like an accepted one, and `opened` runs for it. `leftover` holds what
  // the peer sent after its NETINFO. Returns its id.
  ChannelId adoptOpen(std::unique_ptr<OrConnection> conn, ChannelInfo info,
                      std::vector<uint8_t> leftover);
  // Queues a cell from circuitd for the channel's scheduler with its IPC credit, which goes back
  // when the cell leaves for TLS (or is dropped); false if the channel is gone or the circuit
  // already has a full window queued (the cell is dropped and its credit goes back at once).
  bool queueCell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload,
                 flowctl::CreditToken credit = {});
  // Visits every open channel (not closing): f(ChannelId, const ChannelInfo&).
  void forEachOpen(const std::function<void(ChannelId, const ChannelInfo&)>& f) const;
  // Visits every channel not closing, open or in its link handshake: f(info, open).
  void forEachChannel(const std::function<void(const ChannelInfo&, bool open)>& f) const;
  // Opens a circuit of ours on the channel (ChannelCircuits::originate: the id's top bit says who
  // initiated the link); nullopt if the channel is gone or full. Then sendCell() its CREATE2.
  std::optional<uint32_t> originateCircuit(ChannelId id);
  // Drops a destroyed circuit's queued cells; returns how many.
  size_t dropQueued(ChannelId id, uint32_t circId);
  // Sends a cell on an open channel at once (DESTROY, refusals); false if the channel is gone.
  bool sendCell(ChannelId id, uint32_t circId, uint8_t command, Bytes payload);
  // The relay is shutting down (SIGINT, ShutdownWaitLength): from now on every CREATE is answered
  // with DESTROY HIBERNATING, as C tor does; open circuits carry on.
  void refuseNewCircuits() { refusingCircuits_ = true; }
  uint64_t createsRefusedWhileStopping() const { return shutdownRefusedCreates_; }
  // Accounting's hibernation (channeld/net/hibernation.h). Soft: every CREATE is answered with
  // DESTROY HIBERNATING, as while shutting down. Hard: also every channel closes, and so does each
  // connection accepted until it ends. Awake again (both false): as before.
  void setHibernation(bool refuseCircuits, bool closeChannels);
  uint64_t createsRefusedHibernating() const { return hibernatingRefusedCreates_; }
  // circuitd can take cells again: every stalled channel reads on.
  void resume();
  // The same on the next loop turn (safe inside a callback of the circuitd pipe).
  void resumeSoon();
  // circuitd lost every circuit (it restarted or its connection broke): each open circuit of
  // every channel gets DESTROY with `reason`, so clients rebuild at once (DESIGN.md section 4).
  // Returns how many were destroyed.
  size_t destroyAllCircuits(uint8_t reason);
  // Bytes queued for TLS on the channel (0 if it is gone).
  size_t outputBytes(ChannelId id) const;
  void close(ChannelId id, const std::string& why);

  size_t channels() const { return channels_.size(); }
  size_t openChannels() const;
  // Channels not read while circuitd's credit is exhausted.
  size_t stalledChannels() const;
  // Times a channel's input stopped being read because its output reached kOutputCap.
  uint64_t outputCapReached() const { return outputCapReached_; }

  // MaxMemInQueues: channeld's share (common/flowctl/mem_budget.h). Each channel's charge holds
  // what it holds for its peer and circuitd: input not yet taken by circuitd (with the capacity
  // its buffer keeps), the TLS input and output buffers, and circuitd's cells waiting for TLS. It
  // is brought up to date whenever the channel reads or writes, and given back when the channel
  // goes. Over the budget the over-budget callback runs (it schedules handleOom() on the loop:
  // common/daemon/reactor_oom.h).
  flowctl::MemCounter& memory() { return memory_; }
  const flowctl::MemCounter& memory() const { return memory_; }
  void setOverBudget(std::function<void()> f) { overBudget_ = std::move(f); }
  // First gives back input buffers' unused capacity, then closes the channels holding the most
  // (flowctl::chooseOomVictims; the older first among equals) until channeld holds at most 90% of
  // its budget. Returns the bytes freed. Never from inside a channel's callback.
  uint64_t handleOom();
  uint64_t oomBytesFreed() const { return oomBytesFreed_; }
  uint64_t oomChannelsClosed() const { return oomChannelsClosed_; }
  uint64_t handshakesCompleted() const { return handshakes_; }
  uint64_t handshakesFailed() const { return failures_; }
  // CREATEs refused by the circuit creation defence (answered here with DESTROY RESOURCELIMIT).
  uint64_t createsRefusedByDos() const { return dosRefusedCreates_; }
  // Channels by direction and the peer's address family, as C tor's tor_relay_connections
  // (open now) and tor_relay_connections_total{state="created"} (ever) count OR connections:
  // an accepted connection from its accept, one of ours from the moment its link is open
  // (adoptOpen; a dial that fails before is in neither).
  struct ConnectionTally {
    // [received = 0 | initiated = 1][IPv4 = 0 | IPv6 = 1]
    std::array<std::array<uint64_t, 2>, 2> open{}, created{};
  };
  ConnectionTally connectionTally() const;
  // Times the relay-wide token buckets (BandwidthRate/Burst, capped by RelayBandwidthRate/Burst)
  // were found empty, as C tor's tor_relay_load_global_rate_limit_reached_total{side} counts
  // them: a channel's read that left the read bucket empty, a drain that left cells queued
  // behind an empty write bucket.
  uint64_t readLimitReached() const { return readLimitReached_; }
  uint64_t writeLimitReached() const { return writeLimitReached_; }

 private:
  struct Channel;
  static void onRead(bufferevent* bev, void* arg);
  static void onEvent(bufferevent* bev, short what, void* arg);
  static void onWrite(bufferevent* bev, void* arg);
  static void onDeadline(evutil_socket_t, short, void* arg);
  static void onReap(evutil_socket_t, short, void* arg);
  static void onResume(evutil_socket_t, short, void* arg);
  static void onSweep(evutil_socket_t, short, void* arg);
  static void onKeepalive(evutil_socket_t, short, void* arg);
  void process(Channel& ch);
  bool handleOpenCell(Channel& ch, const cell::CellView& c);
  bool writeCell(Channel& ch, uint32_t circId, uint8_t command, Bytes payload);
  void drain(Channel& ch);
  void closeLater(ChannelId id, const std::string& why);
  void recount(Channel& ch);

  event_base* base_;
  ChannelServerConfig config_;
  Hooks hooks_;
  std::function<void(MutBytes)> random_;
  std::function<int64_t()> now_;
  event* reaper_;   // destroys closed channels on the next loop turn
  event* resumer_;  // resumeSoon()
  ev_token_bucket_cfg* bucketCfg_ = nullptr;
  bufferevent_rate_limit_group* buckets_ = nullptr;  // every channel's TLS reads and writes
  event* sweeper_;                                   // closes idle channels
  event* keepaliver_;                                // KeepalivePeriod's PADDING cells
  ChannelId next_ = 1;
  flowctl::MemCounter memory_;  // before channels_: their charges go first
  std::function<void()> overBudget_;
  std::vector<flowctl::OomCandidate> oomCandidates_;  // kept between runs
  uint64_t oomBytesFreed_ = 0, oomChannelsClosed_ = 0;
  std::map<ChannelId, std::unique_ptr<Channel>> channels_;
  // Channel opens and closes are logged at most 10 times a minute per peer address, so a peer that
  // connects in a loop cannot flood the log (the next line allowed says how many were left out).
  daemon::RateLimiter logLimit_{10, std::chrono::minutes(1)};
  // What ends a line about `address` ("" or how many were left out), or nothing: leave it out.
  std::optional<std::string> logTail(const std::string& address);
  uint64_t handshakes_ = 0, failures_ = 0, dosRefusedCreates_ = 0, shutdownRefusedCreates_ = 0;
  uint64_t readLimitReached_ = 0, writeLimitReached_ = 0, outputCapReached_ = 0;
  bool refusingCircuits_ = false;
  bool hibernating_ = false, dormant_ = false;  // setHibernation
  uint64_t hibernatingRefusedCreates_ = 0;
  std::array<std::array<uint64_t, 2>, 2> created_{};  // ConnectionTally::created
};

}  // namespace onionsplit::channeld
