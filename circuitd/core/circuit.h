// circuitd/core/circuit.h: one circuit at the exit (pure): the CREATE handshake that starts it, and
// its two reactors, FWD (cells from the client: decrypt, recognize, dispatch) and BWD (messages for
// the client: SENDME accounting, congestion control, digest, encrypt). tor-spec §5-7, proposals
// 289, 324, 332.
//
// Where it sits: circuitd's shell (circuitd/net) owns one Circuit per (channel, circuit id) and
// implements CircuitIo: cells go to channeld, stream messages to streamd, each only while that
// boundary's credit allows (canSendCell, canDeliver). What cannot go on now waits in the circuit's
// own bounded queues, and the shell returns a boundary's credit only when the circuit reports a
// message consumed: so a slow client slows streamd's reads, and a stalled streamd slows the
// client, with at most one credit window held here per direction.
//
// FWD hands circuit-level SENDMEs to BWD directly (the design doc's sendme_tx): they are one object
// here, the two halves kept apart as FwdState and BwdState.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/result.h"
#include "common/cell/constants.h"
#include "common/cell/handshake_ext.h"
#include "common/cell/relay.h"
#include "common/crypto/curve25519.h"
#include "common/crypto/tor1.h"
#include "common/flowctl/msg_queue.h"
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
  cell::CcConsensus cc;        // cc_alg, cc_sendme_inc
  flowctl::VegasParams vegas;  // exit-side Vegas parameters
  bool acceptSendmeV0 = true;  // sendme_accept_min_version <= 0 (C tor 0.4.9's default)
  uint8_t maxRelayEarly = 8;   // RELAY_EARLY cells a client may send (tor-spec §5.6)
};

// A completed CREATE: the reply cell and the circuit's key material.
struct Created {
  uint8_t command = 0;  // CREATED2 or CREATED_FAST
  std::array<uint8_t, cell::kCellPayloadLen> payload{};
  crypto::Tor1Keys keys;
  bool ccEnabled = false;
  uint8_t sendmeInc = 0;
  uint16_t htype = 0;  // for counters: 1 CREATE_FAST, 2 ntor, 3 ntor v3
};

// Answers CREATE2 (ntor, ntor v3) or CREATE_FAST; a failure is the DESTROY reason to send (TAP
// CREATE, unknown handshake types and every handshake error are PROTOCOL).
Expected<Created, cell::DestroyReason> answerCreate(uint8_t command, Bytes payload,
                                                    const OnionIdentity& id,
                                                    const CircuitParams& params, Bytes random32);

// CREATE rate of one client channel (a peer that did not authenticate as a relay): a token bucket
// with C tor's DoS defaults (DoSCircuitCreationRate 3/s, DoSCircuitCreationBurst 90). Channels
// from relays are not limited: every CREATE an exit sees on them is a client's extension.
class CreateLimiter {
 public:
  explicit CreateLimiter(uint64_t nowUsec, uint32_t ratePerSec = 3, uint32_t burst = 90)
      : rate_(ratePerSec), burst_(burst), tokens_(burst), last_(nowUsec) {}
  // True if a CREATE may proceed now (and spends its token).
  bool allow(uint64_t nowUsec);

 private:
  uint32_t rate_, burst_;
  uint64_t tokens_;  // whole tokens
  uint64_t last_;    // when tokens_ was last brought up to date
};

using flowctl::MsgQueue;
using flowctl::QueuedMsg;

// What the circuit needs from its shell.
class CircuitIo {
 public:
  virtual ~CircuitIo() = default;
  virtual bool canSendCell() = 0;               // channeld's credit allows one more cell
  virtual void sendCell(Bytes payload509) = 0;  // an encrypted RELAY cell for the client
  // The stream side: streamd, or confluxd once the circuit is a conflux leg (it sent LINK).
  virtual bool canDeliver() = 0;  // the stream side's credit allows one more message
  // A message for the stream side: stream messages, and on a leg also CONFLUX_LINK,
  // CONFLUX_LINKED_ACK and CONFLUX_SWITCH (streamId 0), which the shell routes to confluxd.
  virtual void deliver(uint16_t streamId, uint8_t command, Bytes body) = 0;
  virtual void random(MutBytes out) = 0;  // padding of originated cells
};

class Circuit {
 public:
  static std::optional<Circuit> create(const Created& c, const CircuitParams& params);

  // What happened to a cell from the client.
  enum class Fwd : uint8_t {
    kTaken,    // consumed: the shell returns channeld's credit for it
    kHeld,     // its message waits for the stream side: credit comes back from drainHeld()
    kDestroy,  // close the circuit with destroyReason()
  };
  // FWD: a RELAY (early = RELAY_EARLY) cell from the client; decrypted in place.
  Fwd fromClient(bool early, std::span<uint8_t, cell::kCellPayloadLen> payload, uint64_t nowUsec,
                 CircuitIo& io);
  // FWD: messages held for the stream side go on while it can take them; returns how many client
  // cells that consumed.
  uint32_t drainHeld(CircuitIo& io);
  size_t held() const { return fwd_.held.size(); }

  enum class Bwd : uint8_t {
    kSent,       // packaged and sent: the shell returns streamd's credit for it
    kQueued,     // waits for a window or channeld's credit: credit comes back from pump()
    kViolation,  // the stream side sent what an exit never sends: its connection must go
  };
  // BWD: a message from the stream side for the client. From confluxd (`fromConflux`, a leg
  // only) CONFLUX_LINKED and CONFLUX_SWITCH with stream id 0 are allowed too.
  Bwd fromStreams(uint16_t streamId, uint8_t command, Bytes body, uint64_t nowUsec, CircuitIo& io,
                  bool fromConflux = false);
  // BWD: sends what waits (our SENDMEs first, then queued messages in order) while the windows
  // and channeld allow; returns how many stream-side messages that sent.
  uint32_t pump(uint64_t nowUsec, CircuitIo& io);
  size_t queued() const { return bwd_.queue.size(); }
  // BWD has something to send (queued messages or our SENDMEs) once channeld's credit allows.
  bool bwdWaiting() const { return !bwd_.queue.empty() || bwd_.dueSendmes.size() > 0; }

  cell::DestroyReason destroyReason() const { return destroyReason_; }
  bool ccEnabled() const { return cc_.has_value(); }
  // The client sent CONFLUX_LINK: from then on every multiplexed message goes to confluxd.
  bool isLeg() const { return leg_; }
  uint8_t sendmeInc() const { return sendmeInc_; }
  const flowctl::VegasController* vegas() const { return cc_ ? &*cc_ : nullptr; }
  uint64_t cellsFromClient() const { return fwd_.cells; }
  uint64_t cellsToClient() const { return bwd_.cells; }

 private:
  Circuit(crypto::RelayLayer layer, const CircuitParams& p, bool cc, uint8_t sendmeInc);
  Fwd destroy(cell::DestroyReason r);
  Fwd dispatch(const cell::RelayHeader& h, Bytes body, const crypto::Tor1Digest& digest,
               uint64_t nowUsec, CircuitIo& io);
  Fwd toStreams(const cell::RelayHeader& h, Bytes body, CircuitIo& io);
  // Originates one cell for the client; false if crypto failed.
  bool originate(uint16_t streamId, uint8_t command, Bytes body, CircuitIo& io,
                 crypto::Tor1Digest* digest);
  bool dataWindowOpen() const;
  void dataSent(const crypto::Tor1Digest& digest, uint64_t nowUsec);

  struct FwdState {
    flowctl::DeliverWindow deliver;
    MsgQueue held{64};  // stream messages waiting for streamd's credit
    uint8_t relayEarly = 0;
    uint64_t cells = 0;
  };
  struct BwdState {
    flowctl::ClassicSendWindow classic;
    flowctl::SendmeTagQueue sentTags;    // tags the client's SENDMEs must carry
    flowctl::SendmeTagQueue dueSendmes;  // our SENDMEs waiting for channeld's credit
    MsgQueue queue{72};                  // streamd's window (64) plus our own TRUNCATED answers
    uint64_t cells = 0;
  };

  crypto::RelayLayer layer_;
  CircuitParams params_;
  std::optional<flowctl::VegasController> cc_;
  FwdState fwd_;
  BwdState bwd_;
  cell::DestroyReason destroyReason_ = cell::DestroyReason::kNone;
  bool leg_ = false;
  uint8_t sendmeInc_ = 0;
};

}  // namespace onionsplit::circuitd
