// client/origin_circuit.h: one circuit as its origin (the client) sees it, pure: the first hop's
// CREATE2 (ntor), EXTEND2 in RELAY_EARLY to the next hop with ntor v3 asking for congestion
// control (proposal 324 §10) and, if asked to, Counter Galois Onion (the SUBPROTO request for
// Relay=6, proposal 359), one layer per hop (tor1 with v0 cells, or CGO with v1 cells:
// client_layers.h), and circuit-level authenticated SENDMEs (proposal 289; CGO's tags on a CGO
// hop) toward the last hop at the sendme_inc it announced.
//
// Where it sits: the project's test client (tests/client/conflux_client_tool.cc) owns one per
// conflux leg. The shell frames cells on the channel; every RELAY cell of this circuit comes here
// first (decryption, the recognized check, SENDME accounting), and only then do the last hop's
// messages go on to the conflux and stream logic (client/conflux_fetch.h). Everything the network
// sends is hostile: a cell no hop recognizes, a malformed message, a message from a middle hop or
// an unexpected one is an error that ends the circuit, never an exception.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/client_layers.h"
#include "common/base/bytes.h"
#include "common/cell/constants.h"
#include "common/cell/handshake_ext.h"
#include "common/crypto/ntor_handshakes.h"
#include "common/crypto/tor1.h"
#include "common/flowctl/sendme.h"

namespace onionsplit::client {

// A relay as a client knows it from the directory: where it listens and its keys.
struct RelayInfo {
  std::array<uint8_t, 4> ipv4{};
  uint16_t orPort = 0;
  std::array<uint8_t, 20> rsaId{};    // SHA-1 of the RSA identity key (ntor's ID)
  std::array<uint8_t, 32> edId{};     // ed25519 master identity (ntor v3's ID)
  std::array<uint8_t, 32> ntorKey{};  // curve25519 ntor onion key
};

// What a RELAY cell of this circuit turned out to be.
struct Inbound {
  enum Kind : uint8_t {
    kExtended,      // EXTENDED2 completed the handshake with the new last hop
    kMessage,       // a relay message from the last hop, for the conflux/stream logic
    kSendme,        // a SENDME for us to send now (sendme() holds its relay body); no message
    kWindowOpened,  // the exit's circuit-level SENDME for DATA we sent: nothing for the caller
    kError,         // close the circuit; `error` says why
  };
  Kind kind = kError;
  uint8_t cmd = 0;
  uint16_t streamId = 0;
  Bytes body;  // views the caller's cell
  std::string error;
};

class OriginCircuit {
 public:
  using Random = std::function<void(MutBytes)>;
  explicit OriginCircuit(Random random, cell::CcConsensus cc = cell::CcConsensus{})
      : random_(std::move(random)), ccConsensus_(cc) {}

  // The CREATE2 payload (509 bytes, ntor) for the first hop. Call once.
  std::array<uint8_t, cell::kCellPayloadLen> create2(const RelayInfo& first);
  // The first hop's CREATED2 payload; an error string if it does not complete the handshake.
  std::optional<std::string> onCreated2(Bytes payload);
  // Instead of create2(): the CREATE_FAST payload (20 random bytes) for the first hop, which needs
  // no onion key (a relay's reachability self-test goes through a relay whose descriptor it has
  // not fetched; the hop's secrecy does not matter there). Call once; its answer goes to
  // onCreatedFast().
  std::array<uint8_t, cell::kCellPayloadLen> createFast();
  std::optional<std::string> onCreatedFast(Bytes payload);
  // An EXTEND2 to `next` (link specifiers: IPv4, RSA id, ed25519 id; ntor v3 with the CC request),
  // encrypted for the current last hop, to be sent in a RELAY_EARLY cell. False before the first
  // hop is open or while an extension is pending.
  bool extend(const RelayInfo& next, crypto::RelayPayload out);
  // Whether later extensions ask for congestion control (the default). Without the request, a
  // reply that enables it anyway is refused (TROVE-2026-032).
  void requestCongestionControl(bool on) { requestCc_ = on; }
  // Whether later extensions ask for CGO (off by default; it needs the CC request too, which a
  // C tor relay requires with it). A hop that accepts runs CGO and v1 cells.
  void requestCgo(bool on) { requestCgo_ = on; }
  bool lastHopCgo() const { return crypto_.hops() > 0 && crypto_.isCgo(crypto_.hops() - 1); }

  // A RELAY (or RELAY_EARLY) cell's payload from the first hop, decrypted in place. For kMessage
  // the body views `cell`. A DATA cell from the last hop may also make a SENDME due: then
  // sendmeDue() is true after the call and the caller sends originateSendme() after handling it.
  Inbound onRelay(crypto::RelayPayload cell);
  bool sendmeDue() const { return sendmeDue_.has_value(); }
  // A hostile client's moves (tests/interop's abuse runs): the due SENDME is held back (its
  // digest returned), so the exit's window stays closed; later, held SENDMEs may still go out, in
  // the order they fell due, with originateHeldSendme.
  std::optional<crypto::Tor1Digest> withholdSendme() { return std::exchange(sendmeDue_, {}); }
  bool originateHeldSendme(const crypto::Tor1Digest& digest, crypto::RelayPayload out);
  // The due SENDME (version 1, the digest of the DATA cell that made it due) as a cell for the
  // last hop. False if none is due.
  bool originateSendme(crypto::RelayPayload out);

  // A relay message for the last hop (digest, padding, every layer's encryption), to go as a RELAY
  // cell. False if the body is over what the last hop's cell format holds (498 bytes in v0, 488
  // or 490 in v1), the command or stream id cannot be written in it, or the circuit is not open.
  bool originate(uint8_t cmd, uint16_t streamId, Bytes body, crypto::RelayPayload out);

  size_t hops() const { return crypto_.hops(); }
  bool open() const { return state_ == State::kOpen; }
  bool ccEnabled() const { return cc_.has_value(); }
  uint8_t sendmeInc() const { return cc_ ? cc_->sendmeInc : 0; }
  uint64_t dataCellsReceived() const { return dataCells_; }
  uint64_t sendmesSent() const { return sendmesSent_; }
  uint64_t dataCellsSent() const { return dataCellsSent_; }
  uint64_t sendmesReceived() const { return sendmesReceived_; }

 private:
  enum class State : uint8_t { kNew, kCreateSent, kOpen, kExtendSent, kClosed };
  Inbound error(std::string why);
  Inbound onExtended2(Bytes body);
  bool originateAs(bool early, uint8_t cmd, uint16_t streamId, Bytes body,
                   crypto::RelayPayload out);

  Random random_;
  cell::CcConsensus ccConsensus_;
  bool requestCc_ = true;
  bool ccRequested_ = false;  // the pending extension asked for CC
  bool requestCgo_ = false;
  bool cgoRequested_ = false;  // the pending extension asked for CGO
  State state_ = State::kNew;
  ClientLayers crypto_;
  crypto::NtorClientState ntor_{};
  std::optional<std::array<uint8_t, 20>> fastX_;  // CREATE_FAST sent: our X
  crypto::Ntor3ClientState ntor3_{};
  std::optional<cell::ClientCcResult> cc_;
  std::optional<flowctl::DeliverWindow> deliver_;
  std::optional<crypto::Tor1Digest> sendmeDue_;
  uint64_t dataCells_ = 0;
  uint64_t sendmesSent_ = 0;
  // The exit's circuit-level SENDMEs: each must follow a whole increment of DATA we sent (its
  // tag is not checked: this client sends bulk DATA only in the abuse runs).
  uint64_t dataCellsSent_ = 0;
  uint64_t sendmesReceived_ = 0;
};

}  // namespace onionsplit::client
