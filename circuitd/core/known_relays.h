// circuitd/core/known_relays.h: the relays of the consensus in force, by RSA identity, and the
// exit's rule for a BEGIN that uses them (pure).
//
// C tor (connection_exit_begin_conn) refuses a BEGIN whose circuit came from a client's channel
// (single-hop exit use: END TORPROTOCOL) and, while `refuseunknownexits` is 1 (the consensus
// parameter; its default), one whose previous hop authenticated as a relay the consensus does not
// list (END MISC): anyone can make a relay key, only the authorities make a relay known. channeld
// holds the consensus and sends its relays' identities (channel_circuit.capnp setKnownRelays).
// Until circuitd has a list, a relay-authenticated previous hop is let through: channeld sends the
// list at attach when it has a consensus (its cache survives restarts), and a relay that has no
// consensus is in none either, so no client chooses it as an exit.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/base/bytes.h"
#include "common/base/result.h"
#include "common/dirdoc/params.h"

namespace onionsplit::circuitd {

using RelayId = std::array<uint8_t, 20>;

// At most this many relays on the wire (the contract's bound, common/dirdoc/params.h).
inline constexpr size_t kMaxKnownRelays = dirdoc::kMaxWireKnownRelays;

class KnownRelays {
 public:
  // `wire`: the identities back to back, 20 bytes each. Refused (with why) when its length is not
  // a multiple of 20 or it names more than kMaxKnownRelays.
  static Expected<KnownRelays, std::string> fromWire(Bytes wire);
  bool contains(const RelayId& id) const;
  size_t size() const { return sorted_.size(); }

 private:
  std::vector<RelayId> sorted_;
};

enum class BeginGate : uint8_t {
  kAllow,
  kRefuseClient,        // the previous hop is a client: END TORPROTOCOL
  kRefuseUnknownRelay,  // a relay key the consensus does not list: END MISC
};

// `peer`: the previous hop's RSA identity if it authenticated as a relay.
BeginGate beginGate(const std::optional<RelayId>& peer, const std::optional<KnownRelays>& known,
                    bool refuseUnknownExits);

}  // namespace onionsplit::circuitd
