// client/conflux_fetch.h: the test client's conflux set and its one stream, pure: CONFLUX_LINK on
// every leg, the exit's LINKED checked and acknowledged (common/conflux/initiator.h), then a BEGIN
// and an HTTP/1.0 GET sent through the set's scheduler, and the exit's multiplexed answer put back
// in order (sequence numbers, the exit's SWITCHes) and checked byte for byte against the expected
// length and SHA-256.
//
// Where it sits: after client/origin_circuit.h, which has done each leg's decryption and SENDME
// accounting; the shell (tests/client/conflux_client_tool.cc) gives this every message from a
// leg's last hop and sends the messages it asks for on the leg it names. The client's own SWITCH
// is exercised on purpose: after the BEGIN, the BEGIN's leg is reported with a very high RTT, so
// the GET leaves on another leg behind a SWITCH, as a client whose first leg got slow would.
// Hostile input (a command the exit may not send, a message on an unlinked leg, a stream we did not
// open, bytes beyond or different from the file) ends the fetch with an error string.
#pragma once

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/conflux/initiator.h"

namespace onionsplit::client {

struct FetchTarget {
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  std::string path = "/";
  uint64_t expectBytes = 0;
  std::array<uint8_t, 32> expectSha256{};
};

// A relay message the shell must send to the exit on `leg`.
struct Send {
  conflux::LegId leg = 0;
  uint8_t cmd = 0;
  uint16_t streamId = 0;
  std::vector<uint8_t> body;
};

struct LegStats {
  uint64_t dataCells = 0;     // multiplexed DATA cells the exit sent on this leg
  uint64_t switchesSeen = 0;  // the exit's SWITCHes on this leg
  uint64_t switchesSent = 0;  // our SWITCHes on this leg
  uint64_t rttUsec = 0;       // LINK → LINKED
};

inline constexpr uint16_t kFetchStreamId = 1;
// The stream a RESOLVE goes on (resolve()): above every extra stream's id.
inline constexpr uint16_t kResolveStreamId = 0x7000;
// What the exit may make us hold in the reorder queue (bodies plus kQueuedOverheadBytes each); a
// cell beyond it ends the fetch. The consensus default (INT32_MAX) would let a hostile exit make
// the client buffer 2 GiB; 50 MiB through two loopback legs peaked under 1 MiB.
inline constexpr uint64_t kMaxReorderBytes = 8 << 20;
inline constexpr size_t kMaxHttpHeaderBytes = 16384;
// The RTT the BEGIN's leg is given after the BEGIN so that the GET goes elsewhere (60 s: above any
// real leg, below the controller's "unusable").
inline constexpr uint64_t kSwitchAwayRttUsec = 60'000'000;

class ConfluxFetch {
 public:
  // `legs`: the circuits of the set (at least one). `clientSwitch`: send the GET on another leg
  // than the BEGIN (needs two legs).
  ConfluxFetch(const conflux::Nonce& nonce, std::vector<conflux::LegId> legs, FetchTarget target,
               bool clientSwitch);

  // The LINK of every leg.
  void start(uint64_t nowUsec, std::vector<Send>& out);
  // A message from a leg's last hop (not a circuit-level SENDME: OriginCircuit takes those). An
  // error string ends the fetch.
  std::optional<std::string> onMessage(conflux::LegId leg, uint8_t cmd, uint16_t streamId,
                                       Bytes body, uint64_t nowUsec, std::vector<Send>& out);

  // A hostile client's move (tests/interop's abuse runs): BEGINs for `n` more streams (ids 2 on)
  // to the same target, multiplexed on the set. Their CONNECTEDs and ENDs are counted, not checked.
  std::optional<std::string> openExtraStreams(uint16_t n, std::vector<Send>& out);
  uint64_t extraConnected() const { return extraConnected_; }
  // Another hostile move: this leg's LINKED is never acknowledged (the exit must close it when
  // its LINKED_ACK deadline passes, and keep the set on the other legs).
  void withholdLinkedAck(conflux::LegId leg) { noAckLeg_ = leg; }
  const std::map<uint8_t, uint64_t>& extraEnds() const { return extraEnds_; }
  // RESOLVE `name` on the set (once, after it linked); its RESOLVED's answers, as "ipv4 1.2.3.4",
  // "hostname NAME" or "type N" (any other), are in resolved() once it came.
  std::optional<std::string> resolve(const std::string& name, std::vector<Send>& out);
  const std::optional<std::vector<std::string>>& resolved() const { return resolved_; }

  bool linked() const { return phase_ > Phase::kLinking; }
  bool done() const { return phase_ == Phase::kDone; }
  uint64_t bodyBytes() const { return bodyBytes_; }
  const std::map<conflux::LegId, LegStats>& legStats() const { return stats_; }
  size_t maxReorderQueue() const { return maxOoo_; }
  std::optional<conflux::LegId> beginLeg() const { return beginLeg_; }
  std::optional<conflux::LegId> getLeg() const { return getLeg_; }

 private:
  enum class Phase : uint8_t { kLinking, kBeginSent, kGetSent, kBody, kDone, kFailed };
  std::optional<std::string> fail(std::string why);
  std::optional<std::string> onLinked(conflux::LegId leg, Bytes body, uint64_t nowUsec,
                                      std::vector<Send>& out);
  std::optional<std::string> sendMultiplexed(uint8_t cmd, std::vector<uint8_t> body,
                                             std::vector<Send>& out, conflux::LegId* leg,
                                             uint16_t streamId = kFetchStreamId);
  std::optional<std::string> deliver(const conflux::Delivery& d, std::vector<Send>& out);
  std::optional<std::string> onData(Bytes data);
  std::optional<std::string> onEnd(Bytes body);

  conflux::ConfluxInitiator init_;
  std::vector<conflux::LegId> legs_;
  FetchTarget target_;
  bool clientSwitch_;
  Phase phase_ = Phase::kLinking;
  std::map<conflux::LegId, LegStats> stats_;
  std::optional<conflux::LegId> beginLeg_, getLeg_;
  std::vector<conflux::Delivery> deliveries_;
  std::string header_;
  uint64_t bodyBytes_ = 0;
  std::optional<conflux::LegId> noAckLeg_;
  uint16_t extraStreams_ = 0;  // ids 2 .. extraStreams_ + 1
  uint64_t extraConnected_ = 0;
  std::map<uint8_t, uint64_t> extraEnds_;  // by reason
  bool resolveSent_ = false;
  std::optional<std::vector<std::string>> resolved_;
  std::optional<std::string> onResolved(const conflux::Delivery& d);
  size_t maxOoo_ = 0;
  struct MdFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, MdFree> sha_;
};

}  // namespace onionsplit::client
