// client/client_layers.h: the relay crypto of a circuit as its origin sees it, one layer per hop,
// each hop tor1 or Counter Galois Onion (whatever it negotiated at its handshake), with the relay
// cell format that goes with each (v0 for tor1, v1 for CGO) and the SENDME tags (tor1's 20-byte
// digest, CGO's 16-byte T).
//
// Where it sits: client/origin_circuit.h holds one. crypto::ClientCircuit and
// crypto::CgoClientCircuit are each one crypto only; a client's circuit mixes them (a tor1 first
// hop, a CGO exit), so this composes the per-direction states of both.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "common/base/bytes.h"
#include "common/cell/relay_v1.h"
#include "common/crypto/cgo.h"
#include "common/crypto/tor1.h"
#include "common/flowctl/sendme.h"

namespace onionsplit::client {

class ClientLayers {
 public:
  bool addTor1(const crypto::Tor1Keys& k);
  // From 160 bytes of ntor v3 KDF output (forward seed, backward seed).
  bool addCgo(Bytes keyMaterial);
  size_t hops() const { return hops_.size(); }
  bool isCgo(size_t hop) const { return hops_.at(hop).cgo; }
  cell::RelayCellFormat format(size_t hop) const {
    return isCgo(hop) ? cell::RelayCellFormat::kV1 : cell::RelayCellFormat::kV0;
  }
  size_t tagLen(size_t hop) const {
    return isCgo(hop) ? crypto::kCgoTagLen : crypto::kTor1DigestLen;
  }

  // A cell encoded in format(target) for hop `target`, to go as RELAY_EARLY (`early`) or RELAY:
  // the target's layer originates, every hop before it encrypts. `tag` (tagLen(target) bytes,
  // zeros after) may be null.
  bool originateOutbound(size_t target, bool early, crypto::RelayPayload cell,
                         flowctl::SendmeTag* tag);
  // A RELAY cell from the first hop: peeled hop by hop until one recognizes it; that hop, or
  // nullopt (the circuit must close).
  std::optional<size_t> receiveInbound(crypto::RelayPayload cell, flowctl::SendmeTag* tag);

 private:
  struct Hop {
    bool cgo = false;
    std::optional<crypto::Tor1Direction> tor1Fwd, tor1Bwd;
    std::optional<crypto::CgoDirection> cgoFwd, cgoBwd;
  };
  std::vector<Hop> hops_;
};

}  // namespace onionsplit::client
