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
#include <deque>
#include <optional>
#include <span>
#include <utility>
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

// The next hop an EXTEND2 names (tor-spec 5.1.2), after circuitd's checks.
struct ExtendTarget {
  std::optional<std::array<uint8_t, 4>> ipv4;
  uint16_t ipv4Port = 0;
  std::optional<std::array<uint8_t, 16>> ipv6;
  uint16_t ipv6Port = 0;
  std::array<uint8_t, 20> rsaId{};
  std::optional<std::array<uint8_t, 32>> edId;
  uint16_t htype = 0;  // the CREATE2 to send there
  std::vector<uint8_t> hdata;
};

// Who an EXTEND2 must not name: the previous hop (extending back to it; C tor refuses that as a
// protocol violation) and this relay (C tor refuses to connect to itself: CONNECTFAILED).
struct HopIdentities {
  std::optional<std::array<uint8_t, 20>> prevRsa;  // set when the previous hop is a relay
  std::optional<std::array<uint8_t, 32>> prevEd;
  std::array<uint8_t, 20> ourRsa{};
  std::array<uint8_t, 32> ourEd{};
};

// Parses and checks an EXTEND2 body as C tor's circuit_extend does: an RSA identity (nonzero) is
// required, at least one IPv4 or IPv6 address with a nonzero address and port, a CREATE2 handshake
// circuitd knows (ntor with its 84 bytes, or ntor v3); the first specifier of each type counts and
// unknown types are ignored. Private addresses are channeld's to refuse (its configuration). A
// failure is the DESTROY reason for the circuit.
Expected<ExtendTarget, cell::DestroyReason> checkExtend2(Bytes body, const HopIdentities& ids);

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
  // The next hop (a middle's circuit after EXTEND2): channeld's credit for that flow allows one
  // more cell, and a cell for it (the client's, decrypted by our layer; RELAY_EARLY kept).
  virtual bool canSendNext() { return false; }
  virtual void sendNext(bool /*early*/, Bytes /*payload509*/) {}
};

class Circuit {
 public:
  static std::optional<Circuit> create(const Created& c, const CircuitParams& params);

  // What happened to a cell from the client.
  enum class Fwd : uint8_t {
    kTaken,     // consumed: the shell returns channeld's credit for it
    kHeld,      // its message waits for the stream side: credit comes back from drainHeld()
    kDestroy,   // close the circuit with destroyReason()
    kExtend,    // consumed, and an EXTEND2 passed the checks: takeExtend() has the target
    kTruncate,  // consumed: destroy the next hop with truncateReason() (TRUNCATED is queued)
  };
  // FWD: a RELAY (early = RELAY_EARLY) cell from the client; decrypted in place.
  Fwd fromClient(bool early, std::span<uint8_t, cell::kCellPayloadLen> payload, uint64_t nowUsec,
                 CircuitIo& io);
  // FWD: messages held for the stream side go on while it can take them; returns how many client
  // cells that consumed.
  uint32_t drainHeld(CircuitIo& io);
  size_t held() const { return fwd_.held.size(); }

  // ---- the middle role ----
  // Who an EXTEND2 must not name (set by the shell once the circuit exists).
  void setHopIdentities(HopIdentities ids) { ids_ = std::move(ids); }
  std::optional<ExtendTarget> takeExtend() { return std::exchange(extend_, std::nullopt); }
  uint8_t truncateReason() const { return truncateReason_; }
  // channeld's answer to our extend: true if it opened a next hop and the circuit keeps it (false:
  // the shell destroys that flow, the client truncated meanwhile). With !ok, kill() says whether
  // the circuit must close (C tor closes it when the connection fails: DESTROY to the client).
  bool extendResult(bool ok, bool* kill);
  // A cell from the next hop: CREATED2 (answered with EXTENDED2) or RELAY / RELAY_EARLY (gets our
  // layer and goes to the client).
  enum class Next : uint8_t {
    kSent,     // consumed: the shell returns channeld's credit for the next hop's flow
    kQueued,   // waits for the client flow's credit: credit comes back from pumpRelayed()
    kDestroy,  // close the circuit with destroyReason()
  };
  Next fromNextHop(uint8_t command, std::span<uint8_t, cell::kCellPayloadLen> payload,
                   CircuitIo& io);
  // Cells from the next hop that wait go to the client while channeld allows, after BWD's own
  // queue (EXTENDED2 first); returns how many.
  uint32_t pumpRelayed(CircuitIo& io);
  // Client cells that wait for the next hop's credit go on; returns how many (client credit).
  uint32_t pumpForward(CircuitIo& io);
  // The next hop is gone (TRUNCATE): the cells waiting for it are dropped; returns how many.
  uint32_t dropForward();
  bool hasNextHop() const { return hop_ == Hop::kCreateSent || hop_ == Hop::kOpen; }
  bool fwdWaiting() const { return !toNext_.empty(); }

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
  bool bwdWaiting() const {
    return !bwd_.queue.empty() || bwd_.dueSendmes.size() > 0 || !toClient_.empty();
  }

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
  Fwd dispatch(const cell::RelayHeader& h, Bytes body, const crypto::Tor1Digest& digest, bool early,
               uint64_t nowUsec, CircuitIo& io);
  Fwd toStreams(const cell::RelayHeader& h, Bytes body, CircuitIo& io);
  Fwd extend2(const cell::RelayHeader& h, Bytes body, bool early);
  Fwd truncate(Bytes body);
  Fwd forward(bool early, std::span<uint8_t, cell::kCellPayloadLen> payload, CircuitIo& io);
  // Queues (or sends) a message we originate for the client that owes the stream side nothing.
  bool answer(uint8_t command, Bytes body);
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
  // The next hop: none; an extend channeld works on (`cancelled` if the client truncated it
  // meanwhile); CREATE2 sent; CREATED2 answered.
  enum class Hop : uint8_t { kNone, kPending, kCreateSent, kOpen };
  Hop hop_ = Hop::kNone;
  bool cancelled_ = false;
  HopIdentities ids_;
  std::optional<ExtendTarget> extend_;
  uint8_t truncateReason_ = 0;
  struct RawCell {
    bool early = false;
    std::array<uint8_t, cell::kCellPayloadLen> payload;
  };
  // Cells waiting for a flow's credit: each at most the other flow's window (64), so a peer that
  // keeps to its credit never overflows them.
  static constexpr size_t kMaxWaitingCells = 64;
  std::deque<RawCell> toNext_;    // the client's, for the next hop
  std::deque<RawCell> toClient_;  // the next hop's, for the client (our layer not yet added)
  bool leg_ = false;
  uint8_t sendmeInc_ = 0;
};

}  // namespace onionsplit::circuitd
