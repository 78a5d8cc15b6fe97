// circuitd/core/create.h: how a circuit starts at this relay (pure): the CREATE handshakes
// (CREATE2 with ntor or ntor v3, CREATE_FAST), the parameters a new circuit gets, and the CREATE
// rate of a client channel. tor-spec §5.1, proposals 216, 332, 324.
//
// Where it sits: circuitd's channeld adapter (circuitd/net) answers every CREATE with
// answerCreate() and, on success, makes a Circuit (circuit.h) from the key material.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/result.h"
#include "common/cell/constants.h"
#include "common/cell/handshake_ext.h"
#include "common/crypto/cgo.h"
#include "common/crypto/curve25519.h"
#include "common/crypto/tor1.h"
#include "common/flowctl/sendme.h"
#include "common/flowctl/vegas.h"

namespace onionsplit::circuitd {

// The keys the CREATE handshakes need: the relay's public identities and its ntor onion keys.
struct OnionIdentity {
  std::array<uint8_t, 20> rsaId{};                   // SHA-1 of the RSA identity key (ntor's ID)
  std::array<uint8_t, 32> edId{};                    // ed25519 master identity (ntor v3's ID)
  std::vector<crypto::Curve25519Keypair> onionKeys;  // current first, then previous
};

struct CircuitParams {
  cell::CcConsensus cc;            // cc_alg, cc_sendme_inc
  flowctl::VegasParams vegas;      // exit-side Vegas parameters
  bool acceptSendmeV0 = true;      // sendme_accept_min_version <= 0 (C tor 0.4.9's default)
  uint8_t maxRelayEarly = 8;       // RELAY_EARLY cells a client may send (tor-spec §5.6)
  bool refuseUnknownExits = true;  // refuseunknownexits (circuitd/core/known_relays.h)
  // circwindow: the package window a circuit without congestion control starts with (C tor's
  // circuit_initial_package_window; 100..1000). Its SENDMEs may still open it up to 1000.
  uint32_t circWindow = flowctl::kCircWindowStart;
};

// A completed CREATE: the reply cell and the circuit's key material: tor1's keys, or, when the
// client's ntor v3 message asked for Relay=6 (cell::negotiateExit), CGO's two 80-byte seeds (the
// first 160 bytes of ntor v3's KDF output, forward then backward, as C tor's
// relay_crypto_key_material_len and cgo_pair_init).
struct Created {
  uint8_t command = 0;  // CREATED2 or CREATED_FAST
  std::array<uint8_t, cell::kCellPayloadLen> payload{};
  crypto::Tor1Keys keys;  // when !cgo
  bool cgo = false;
  std::array<uint8_t, crypto::kCgoKeyMaterialLen> cgoSeed{};  // when cgo
  bool ccEnabled = false;
  uint8_t sendmeInc = 0;
  uint16_t htype = 0;  // for counters: 1 CREATE_FAST, 2 ntor, 3 ntor v3
};

// Answers CREATE2 (ntor, ntor v3) or CREATE_FAST; a failure is the DESTROY reason to send (TAP
// CREATE, unknown handshake types and every handshake error are PROTOCOL).
Expected<Created, cell::DestroyReason> answerCreate(uint8_t command, Bytes payload,
                                                    const OnionIdentity& id,
                                                    const CircuitParams& params, Bytes random32);

}  // namespace onionsplit::circuitd
