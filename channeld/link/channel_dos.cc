// channeld/link/channel_dos.cc: see channel_dos.h.
#include "channeld/link/channel_dos.h"

#include <algorithm>
#include <tuple>

#include "common/exitpolicy/exit_policy.h"

namespace onionsplit::channeld {
namespace {

bool lessAddr(const dos::ClientAddr& a, const dos::ClientAddr& b) {
  return std::tie(a.v6, a.bytes) < std::tie(b.v6, b.bytes);
}

dos::ClientAddr fromIp(const exitpolicy::IpAddress& ip) {
  dos::ClientAddr a;
  if (ip.family == 6) return dos::ClientAddr::v6From(ip.b);
  std::copy(ip.b.begin(), ip.b.begin() + 4, a.bytes.begin());
  return a;
}

}  // namespace

ChannelDos::ChannelDos(const dos::DosTorrc& torrc, dos::RandRange rand,
                       std::array<uint64_t, 2> hashKey, size_t maxEntries)
    : torrc_(torrc), tracker_(dos::resolve(torrc, {}), std::move(rand), hashKey, maxEntries) {}

void ChannelDos::resolve() {
  tracker_.setParams(dos::resolve(torrc_, consensus_));
}

void ChannelDos::setTorrc(const dos::DosTorrc& torrc) {
  torrc_ = torrc;
  resolve();
}

void ChannelDos::setConsensus(const dirdoc::Consensus& c) {
  consensus_.clear();
  for (const auto& p : c.params)
    consensus_.emplace(p.name, p.value);
  relays_.clear();
  relays_.reserve(c.routers.size());
  for (const auto& r : c.routers) {
    relays_.push_back(fromIp(r.ipv4));
    if (r.ipv6) relays_.push_back(fromIp(*r.ipv6));
  }
  std::sort(relays_.begin(), relays_.end(), lessAddr);
  relays_.erase(std::unique(relays_.begin(), relays_.end()), relays_.end());
  relays_.shrink_to_fit();
  resolve();
}

std::optional<dos::ClientAddr> ChannelDos::parseAddr(std::string_view ip) {
  auto parsed = exitpolicy::IpAddress::parse(ip);
  if (!parsed) return std::nullopt;
  return fromIp(*parsed);
}

bool ChannelDos::isKnownRelay(const dos::ClientAddr& a) const {
  return std::binary_search(relays_.begin(), relays_.end(), a, lessAddr);
}

std::optional<dos::ConnTicket> ChannelDos::admit(const dos::ClientAddr& addr, uint64_t nowSec) {
  if (isKnownRelay(addr)) return dos::ConnTicket{};
  if (tracker_.onConnectAttempt(addr, nowSec) == dos::ConnDefense::kClose) return std::nullopt;
  return tracker_.onConnectionOpened(addr, nowSec);
}

void ChannelDos::noteCreate(const dos::ClientAddr& addr, bool peerIsRelay, uint64_t nowSec) {
  if (isKnownRelay(addr)) return;
  tracker_.noteCreateCell(addr, peerIsRelay, nowSec);
}

bool ChannelDos::refuseCreate(const dos::ClientAddr& addr, bool peerIsRelay, uint64_t nowSec) {
  if (isKnownRelay(addr)) return false;
  return tracker_.createDefense(addr, peerIsRelay, nowSec) == dos::CircDefense::kRefuseCell;
}

}  // namespace onionsplit::channeld
