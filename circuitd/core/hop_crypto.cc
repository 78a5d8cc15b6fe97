// circuitd/core/hop_crypto.cc: see hop_crypto.h.
#include "circuitd/core/hop_crypto.h"

#include <algorithm>

#include "common/cell/constants.h"

namespace onionsplit::circuitd {
namespace {

uint8_t cellCommand(bool early) {
  return static_cast<uint8_t>(early ? cell::CellCmd::kRelayEarly : cell::CellCmd::kRelay);
}

void cgoTagToSendme(const crypto::CgoTag& t, flowctl::SendmeTag* out) {
  if (!out) return;
  out->fill(0);
  std::copy(t.begin(), t.end(), out->begin());
}

}  // namespace

static_assert(flowctl::kSendmeTagLen == crypto::kTor1DigestLen);
static_assert(crypto::kCgoTagLen <= flowctl::kSendmeTagLen);

std::optional<HopCrypto> HopCrypto::create(const Created& c) {
  if (c.cgo) {
    auto cgo = crypto::CgoRelayCrypto::fromSeed(Bytes(c.cgoSeed));
    if (!cgo) return std::nullopt;
    return HopCrypto(
        Layer(std::in_place_type<Cgo>, std::make_unique<crypto::CgoRelayCrypto>(std::move(*cgo))));
  }
  auto tor1 = crypto::RelayLayer::create(c.keys);
  if (!tor1) return std::nullopt;
  return HopCrypto(Layer(std::in_place_type<crypto::RelayLayer>, std::move(*tor1)));
}

HopCrypto::Outbound HopCrypto::processOutbound(bool early, crypto::RelayPayload cell,
                                               flowctl::SendmeTag* tag, bool lastHop) {
  if (auto* tor1 = std::get_if<crypto::RelayLayer>(&layer_))
    return tor1->processOutbound(cell, tag, lastHop);
  crypto::CgoTag t{};
  switch (std::get<Cgo>(layer_)->processOutbound(cellCommand(early), cell, &t)) {
    case crypto::CgoRelayCrypto::Outbound::kRecognized:
      cgoTagToSendme(t, tag);
      return Outbound::kRecognized;
    case crypto::CgoRelayCrypto::Outbound::kNotRecognized:
      return Outbound::kNotRecognized;
    case crypto::CgoRelayCrypto::Outbound::kError:
      break;
  }
  return Outbound::kError;
}

bool HopCrypto::originateInbound(crypto::RelayPayload cell, flowctl::SendmeTag* tag) {
  if (auto* tor1 = std::get_if<crypto::RelayLayer>(&layer_))
    return tor1->originateInbound(cell, tag);
  crypto::CgoTag t{};
  if (!std::get<Cgo>(layer_)->originateInbound(cellCommand(false), cell, &t)) return false;
  cgoTagToSendme(t, tag);
  return true;
}

bool HopCrypto::relayInbound(crypto::RelayPayload cell) {
  if (auto* tor1 = std::get_if<crypto::RelayLayer>(&layer_)) return tor1->relayInbound(cell);
  return std::get<Cgo>(layer_)->relayInbound(cellCommand(false), cell);
}

}  // namespace onionsplit::circuitd
