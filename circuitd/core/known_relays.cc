// circuitd/core/known_relays.cc: see known_relays.h.
#include "circuitd/core/known_relays.h"

#include <algorithm>
#include <cstring>

namespace onionsplit::circuitd {

Expected<KnownRelays, std::string> KnownRelays::fromWire(Bytes wire) {
  if (wire.size() % 20 != 0) return fail(std::string("relay identities are 20 bytes each"));
  if (wire.size() / 20 > kMaxKnownRelays) return fail(std::string("too many relays"));
  KnownRelays k;
  k.sorted_.resize(wire.size() / 20);
  if (!wire.empty()) std::memcpy(k.sorted_.data(), wire.data(), wire.size());
  std::sort(k.sorted_.begin(), k.sorted_.end());  // not trusted to be sorted
  return k;
}

bool KnownRelays::contains(const RelayId& id) const {
  return std::binary_search(sorted_.begin(), sorted_.end(), id);
}

BeginGate beginGate(const std::optional<RelayId>& peer, const std::optional<KnownRelays>& known,
                    bool refuseUnknownExits) {
  if (!peer) return BeginGate::kRefuseClient;
  if (refuseUnknownExits && known && !known->contains(*peer)) return BeginGate::kRefuseUnknownRelay;
  return BeginGate::kAllow;
}

}  // namespace onionsplit::circuitd
