// circuitd/core/hop_crypto.h: this relay's layer of one circuit, whichever relay crypto the circuit
// negotiated at CREATE: tor1 (tor1.h, with the v0 relay cell format) or Counter Galois Onion
// (cgo.h, with the v1 format of relay_v1.h), and what follows from the choice: the SENDME tag
// (tor1's 20-byte running digest, CGO's 16-byte tag T) and the cell format.
//
// Where it sits: circuitd's Circuit (circuit.h) holds one and never names either crypto itself.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <variant>

#include "circuitd/core/create.h"
#include "common/cell/relay_v1.h"
#include "common/crypto/cgo.h"
#include "common/crypto/tor1.h"
#include "common/flowctl/sendme.h"

namespace onionsplit::circuitd {

class HopCrypto {
 public:
  // From a completed CREATE: CGO when the client asked for it (Created::cgo), else tor1.
  static std::optional<HopCrypto> create(const Created& c);

  bool isCgo() const { return std::holds_alternative<Cgo>(layer_); }
  cell::RelayCellFormat format() const {
    return isCgo() ? cell::RelayCellFormat::kV1 : cell::RelayCellFormat::kV0;
  }
  // The length of the SENDME v1 tag on this circuit (20 tor1, 16 CGO). A SendmeTag holds it in
  // its first bytes, zeros after.
  size_t sendmeTagLen() const { return isCgo() ? crypto::kCgoTagLen : crypto::kTor1DigestLen; }

  using Outbound = crypto::RelayLayer::Outbound;
  // A cell from the client, which came as RELAY (`early` false) or RELAY_EARLY: CGO authenticates
  // the channel command. `tag` gets the SENDME tag of a recognized cell. With `lastHop`, an
  // unrecognized cell leaves the state unusable (the circuit closes).
  Outbound processOutbound(bool early, crypto::RelayPayload cell, flowctl::SendmeTag* tag,
                           bool lastHop);
  // A cell this relay originates toward the client (encoded in format()); `tag` gets its tag.
  bool originateInbound(crypto::RelayPayload cell, flowctl::SendmeTag* tag);
  // A cell from the next hop toward the client (always a RELAY cell).
  bool relayInbound(crypto::RelayPayload cell);

 private:
  // CGO's state (about 1.6 KiB: its key schedules and POLYVAL powers) lives on the heap, allocated
  // once per CGO circuit, so that a tor1 circuit does not carry it (memory per idle circuit).
  using Cgo = std::unique_ptr<crypto::CgoRelayCrypto>;
  using Layer = std::variant<crypto::RelayLayer, Cgo>;
  explicit HopCrypto(Layer l) : layer_(std::move(l)) {}
  Layer layer_;
};

}  // namespace onionsplit::circuitd
