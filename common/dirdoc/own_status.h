// common/dirdoc/own_status.h: what a consensus says of the relay that reads it: whether it is
// listed, with which flags, and which of the relay protocols the consensus recommends or requires
// the relay lacks (dir-spec §3.4.1 "recommended-relay-protocols"/"required-relay-protocols").
// Pure; channeld/net/relay_status acts on it (log lines, counters, refusing to run).
#pragma once

#include <string>

#include "common/dirdoc/consensus.h"

namespace onionsplit::dirdoc {

// Relay protocols of roles onionsplit never takes (directory documents and caches, onion services'
// directories, introduction and rendezvous points): the consensus lists them as required of every
// relay, but they matter only to a relay that offers the role, and a relay that does not advertise
// them is never chosen for it. They are reported apart, never as missing.
inline constexpr std::string_view kRolesNotTaken[] = {"Cons",    "Desc",   "DirCache", "HSDir",
                                                      "HSIntro", "HSRend", "Microdesc"};

struct OwnStatus {
  bool listed = false;
  uint16_t flags = 0;              // RelayFlag bits of our entry (0 when not listed)
  std::string missingRequired;     // "Name=versions ..." we lack; empty: none
  std::string missingRecommended;  // likewise
  std::string rolesNotTaken;       // required or recommended protocols of kRolesNotTaken
};

OwnStatus ownStatus(const Consensus& c, const Sha1Digest& identity, const ProtocolList& ours);

// C tor's words for a relay (networkstatus.c), so operators' log watchers match them.
std::string requiredProtocolsMessage(const std::string& missing);
std::string recommendedProtocolsMessage(const std::string& missing);

// The flags C tor's MetricsPort exports as tor_relay_flag{type="..."}, in its order.
inline constexpr RelayFlag kMetricsPortFlags[] = {
    RelayFlag::kFast,   RelayFlag::kExit,  RelayFlag::kAuthority,
    RelayFlag::kStable, RelayFlag::kHSDir, RelayFlag::kRunning,
    RelayFlag::kV2Dir,  RelayFlag::kSybil, RelayFlag::kGuard,
};

}  // namespace onionsplit::dirdoc
