// fuzz/channeld_fuzz.h: the channels that the targets driving channeld's circuitd link
// (channeld/net/circuitd_link.h) stand in for ChannelServer. Each channel keeps the real
// ChannelCircuits (channeld/link/channel_circuits.h), so the cells a peer sends reach the link as
// ChannelServer lets them (isCircuitCell, circuit id 0 closes the channel, a channel whose cell
// was not taken stops reading and offers it again when resumed), and circuitd's cells leave as
// they would (a circuit the peer destroyed takes nothing more). Cells queued for TLS keep their
// credit until the target lets TLS take them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "channeld/link/channel_circuits.h"
#include "channeld/net/channels.h"
#include "channeld/net/circuitd_link.h"

namespace onionsplit::fuzz {

class FakeChannels final : public channeld::ChannelPort {
 public:
  using ChannelId = channeld::ChannelId;
  struct Pending {  // a peer's cell the link did not take: offered again on resume
    uint32_t circId;
    uint8_t command;
    std::vector<uint8_t> payload;
  };
  struct Chan {
    channeld::ChannelInfo info;
    bool outbound = false;
    channeld::ChannelCircuits circuits{1024, 180, 0};
    std::set<uint32_t> ours;  // circuits we originated (next hops of extends)
    std::optional<Pending> stalled;
  };
  struct Queued {
    ChannelId ch;
    uint32_t circId;
    flowctl::CreditToken credit;
  };

  // ---- what the link asks ----
  bool queueCell(ChannelId id, uint32_t circId, uint8_t, Bytes, flowctl::CreditToken t) override {
    if (!open.count(id)) return false;
    if (queued.size() < 256) queued.push_back({id, circId, std::move(t)});  // else: TLS took it
    return true;
  }
  bool sendCell(ChannelId id, uint32_t circId, uint8_t command, Bytes) override {
    auto it = open.find(id);
    if (it == open.end()) return false;
    (void)it->second.circuits.toPeer(command, circId, 0);  // DESTROY forgets the circuit
    return true;
  }
  size_t dropQueued(ChannelId id, uint32_t circId) override {
    size_t before = queued.size();
    std::erase_if(queued, [&](const Queued& q) { return q.ch == id && q.circId == circId; });
    return before - queued.size();
  }
  std::optional<uint32_t> originateCircuit(ChannelId id) override {
    auto it = open.find(id);
    if (it == open.end()) return std::nullopt;
    auto c = it->second.circuits.originate(
        it->second.outbound, [this] { return nextRandom++; }, 0);
    if (c) it->second.ours.insert(*c);
    return c;
  }
  void resume() override { resumeAsked = true; }
  void resumeSoon() override { resumeAsked = true; }
  size_t destroyAllCircuits(uint8_t) override {
    size_t n = 0;
    for (auto& [id, c] : open)
      n += c.circuits.takeAll(0).size();
    return n;
  }
  void forEachOpen(
      const std::function<void(ChannelId, const channeld::ChannelInfo&)>& f) const override {
    for (const auto& [id, c] : open)
      f(id, c.info);
  }

  // ---- the network ----
  // A channel whose handshake finished (ids only grow, as ChannelServer's); the link hears of it
  // if `link` is given.
  ChannelId add(const channeld::ChannelInfo& info, bool outbound,
                channeld::CircuitdLink* link = nullptr) {
    ChannelId id = ++lastId;
    Chan& c = open[id];
    c.info = info;
    c.outbound = outbound;
    if (link) link->opened(id, info);
    return id;
  }
  void close(ChannelId id, channeld::CircuitdLink& link) {
    if (!open.erase(id)) return;
    std::erase_if(queued, [id](const Queued& q) { return q.ch == id; });
    link.closed(id);
  }
  // A cell from the channel's peer, as ChannelServer passes it on.
  void fromPeer(ChannelId id, uint32_t circId, uint8_t command, Bytes payload,
                channeld::CircuitdLink& link) {
    auto it = open.find(id);
    if (it == open.end() || it->second.stalled) return;  // not reading
    if (!channeld::isCircuitCell(command)) return;       // the link's own, or unknown
    if (circId == 0) return close(id, link);             // a protocol violation
    Chan& c = it->second;
    switch (c.circuits.fromPeer(command, circId, 0)) {
      case channeld::ChannelCircuits::Decision::kDrop:
      case channeld::ChannelCircuits::Decision::kRefuseCreate:
        return;
      case channeld::ChannelCircuits::Decision::kForward:
        break;
    }
    if (link.cell(id, circId, command, payload)) return;
    if (ipc::isCreate(command)) (void)c.circuits.toPeer(4 /* DESTROY */, circId, 0);
    c.stalled = Pending{circId, command, std::vector<uint8_t>(payload.begin(), payload.end())};
  }
  // The channels the link resumed read again, starting with the cell they did not take.
  void resumeIfAsked(channeld::CircuitdLink& link) {
    if (!resumeAsked) return;
    resumeAsked = false;
    std::vector<ChannelId> ids;
    for (auto& [id, c] : open)
      if (c.stalled) ids.push_back(id);
    for (ChannelId id : ids) {
      auto it = open.find(id);
      if (it == open.end() || !it->second.stalled) continue;
      Pending p = std::move(*it->second.stalled);
      it->second.stalled.reset();
      fromPeer(id, p.circId, p.command, Bytes(p.payload), link);
    }
  }
  // TLS took the first `n` queued cells: their credit goes back.
  void transmit(size_t n) {
    n = std::min(n, queued.size());
    queued.erase(queued.begin(), queued.begin() + static_cast<std::ptrdiff_t>(n));
  }

  std::map<ChannelId, Chan> open;
  std::deque<Queued> queued;
  ChannelId lastId = 0;
  uint32_t nextRandom = 1;
  bool resumeAsked = false;
};

}  // namespace onionsplit::fuzz
