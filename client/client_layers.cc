// client/client_layers.cc: see client_layers.h.
#include "client/client_layers.h"

#include <algorithm>

#include "common/cell/constants.h"

namespace onionsplit::client {
namespace {

uint8_t cellCommand(bool early) {
  return static_cast<uint8_t>(early ? cell::CellCmd::kRelayEarly : cell::CellCmd::kRelay);
}

void setTag(const crypto::CgoTag& t, flowctl::SendmeTag* out) {
  if (!out) return;
  out->fill(0);
  std::copy(t.begin(), t.end(), out->begin());
}

}  // namespace

bool ClientLayers::addTor1(const crypto::Tor1Keys& k) {
  Hop h;
  h.tor1Fwd = crypto::Tor1Direction::create(k.df, k.kf);
  h.tor1Bwd = crypto::Tor1Direction::create(k.db, k.kb);
  if (!h.tor1Fwd || !h.tor1Bwd) return false;
  hops_.push_back(std::move(h));
  return true;
}

bool ClientLayers::addCgo(Bytes keyMaterial) {
  if (keyMaterial.size() < crypto::kCgoKeyMaterialLen) return false;
  Hop h;
  h.cgo = true;
  h.cgoFwd = crypto::CgoDirection::create(keyMaterial.first(crypto::kCgoSeedLen),
                                          crypto::CgoRole::kClient);
  h.cgoBwd = crypto::CgoDirection::create(
      keyMaterial.subspan(crypto::kCgoSeedLen, crypto::kCgoSeedLen), crypto::CgoRole::kClient);
  if (!h.cgoFwd || !h.cgoBwd) return false;
  hops_.push_back(std::move(h));
  return true;
}

bool ClientLayers::originateOutbound(size_t target, bool early, crypto::RelayPayload cell,
                                     flowctl::SendmeTag* tag) {
  if (target >= hops_.size()) return false;
  uint8_t cmd = cellCommand(early);
  Hop& t = hops_[target];
  if (t.cgo) {
    crypto::CgoTag c{};
    if (!t.cgoFwd->clientOriginate(cmd, cell, &c)) return false;
    setTag(c, tag);
  } else {
    flowctl::SendmeTag d{};
    if (!t.tor1Fwd->setDigest(cell, &d) || !t.tor1Fwd->crypt(cell)) return false;
    if (tag) *tag = d;
  }
  for (size_t i = target; i-- > 0;) {
    Hop& h = hops_[i];
    if (h.cgo ? !h.cgoFwd->clientForward(cmd, cell) : !h.tor1Fwd->crypt(cell)) return false;
  }
  return true;
}

std::optional<size_t> ClientLayers::receiveInbound(crypto::RelayPayload cell,
                                                   flowctl::SendmeTag* tag) {
  uint8_t cmd = cellCommand(false);
  for (size_t i = 0; i < hops_.size(); ++i) {
    Hop& h = hops_[i];
    if (h.cgo) {
      crypto::CgoTag c{};
      switch (h.cgoBwd->clientBackward(cmd, cell, &c)) {
        case crypto::CgoDirection::Received::kRecognized:
          setTag(c, tag);
          return i;
        case crypto::CgoDirection::Received::kError:
          return std::nullopt;
        case crypto::CgoDirection::Received::kNotRecognized:
          break;
      }
      continue;
    }
    flowctl::SendmeTag d{};
    if (!h.tor1Bwd->crypt(cell)) return std::nullopt;
    if (h.tor1Bwd->recognize(cell, &d)) {
      if (tag) *tag = d;
      return i;
    }
  }
  return std::nullopt;
}

}  // namespace onionsplit::client
