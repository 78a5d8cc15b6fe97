// channeld/link/channel_circuits.h: which circuits a channel has, as channeld sees them (pure).
//
// channeld does not run circuits (circuitd does), but it enforces the per-channel limits before a
// cell reaches circuitd: a CREATE beyond the channel's circuit limit is refused with DESTROY
// (RESOURCELIMIT) at once, a CREATE on a circuit id already in use is dropped (circuitd would see a
// second opener for a live flow), and a channel with no circuit for too long is idle and closes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_set>
#include <vector>

namespace onionsplit::channeld {

class ChannelCircuits {
 public:
  enum class Decision : uint8_t {
    kForward,       // pass the cell to circuitd
    kRefuseCreate,  // answer DESTROY (RESOURCELIMIT): too many circuits on this channel
    kDrop,          // a second CREATE on a live circuit id, or a CREATED for no circuit of ours
  };

  ChannelCircuits(size_t maxCircuits, int64_t idleTimeoutSeconds, int64_t now)
      : max_(maxCircuits), idleTimeout_(idleTimeoutSeconds), lastUsed_(now) {}

  // A circuit cell from the peer (tor-spec link cell command).
  Decision fromPeer(uint8_t command, uint32_t circId, int64_t now);
  // A circuit cell circuitd sends to the peer; false if it must not go out because the circuit is
  // not open on this channel (the peer destroyed it: circuitd's DESTROY answering that, or cells
  // that crossed it).
  bool toPeer(uint8_t command, uint32_t circId, int64_t now);
  // A circuit we open on this channel (a middle's next hop): a free id with the top bit set if we
  // initiated the link and clear if the peer did (tor-spec 5.1.1), registered so that our CREATE2
  // and the circuit's cells may go out and the peer's CREATED2 comes in. `random` gives candidate
  // ids; nullopt if the channel is at its circuit limit or no free id turned up.
  std::optional<uint32_t> originate(bool weInitiated, const std::function<uint32_t()>& random,
                                    int64_t now);
  bool ours(uint32_t circId) const { return ours_.count(circId) != 0; }
  // True when the channel has had no circuit for the idle timeout.
  bool idle(int64_t now) const { return open_.empty() && now - lastUsed_ >= idleTimeout_; }
  size_t circuits() const { return open_.size(); }
  // Forgets every circuit (circuitd lost them) and returns their ids, for DESTROY to the peer.
  std::vector<uint32_t> takeAll(int64_t now);

 private:
  size_t max_;
  int64_t idleTimeout_;
  int64_t lastUsed_;
  std::unordered_set<uint32_t> open_;
  std::unordered_set<uint32_t> ours_;  // the ones we opened (originate())
};

}  // namespace onionsplit::channeld
