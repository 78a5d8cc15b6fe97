// channeld/link/channel_dos.h: C tor's per-address DoS defences as channeld applies them (pure):
// the connection defence at accept (DoSConnection*) and the circuit creation defence on every
// CREATE, CREATE_FAST and CREATE2 of a client channel (DoSCircuitCreation*), both keyed by the
// peer's address across all its channels (common/dos/dos_tracker.h holds the state).
//
// Where it sits: OrListener asks admit() before it starts TLS on an accepted socket and releases
// the ticket when the connection goes; ChannelServer asks noteCreate() for every CREATE cell and
// refuseCreate() for the ones it would hand to circuitd, and answers a refusal itself with DESTROY
// RESOURCELIMIT (circuitd never sees it). channeld's main feeds the torrc (at start and on reload)
// and each new consensus (its DoS* parameters and its relays' addresses).
//
// As C tor (dos.c dos_new_client_conn): an address that a relay of the consensus has is never
// tracked, neither its connections nor its CREATE cells (reentry through an exit would otherwise
// get a relay marked); a channel whose peer authenticated as a relay is not a client channel and
// its CREATE cells are not counted (channel_is_client).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/dirdoc/consensus.h"
#include "common/dos/dos_tracker.h"

namespace onionsplit::channeld {

class ChannelDos {
 public:
  ChannelDos(const dos::DosTorrc& torrc, dos::RandRange rand, std::array<uint64_t, 2> hashKey,
             size_t maxEntries = dos::DosTracker::kDefaultMaxEntries);

  // A reload: the torrc's DoS* values, resolved again over the consensus in force.
  void setTorrc(const dos::DosTorrc& torrc);
  // A new consensus: its DoS* parameters and the addresses of its relays.
  void setConsensus(const dirdoc::Consensus& c);

  // The textual address of a peer ("1.2.3.4", "::1"); nullopt if it is not an IP literal.
  static std::optional<dos::ClientAddr> parseAddr(std::string_view ip);
  bool isKnownRelay(const dos::ClientAddr& a) const;

  // At accept: nullopt refuses (close the socket now); otherwise the ticket to give back to
  // closed() when the connection goes (uncounted for relays and while the defences are off).
  std::optional<dos::ConnTicket> admit(const dos::ClientAddr& addr, uint64_t nowSec);
  void closed(const dos::ConnTicket& t) { tracker_.onConnectionClosed(t); }

  // Every CREATE cell of an open channel (C tor counts even those it then drops), then, for one
  // it would answer, whether to refuse it with DESTROY RESOURCELIMIT.
  void noteCreate(const dos::ClientAddr& addr, bool peerIsRelay, uint64_t nowSec);
  bool refuseCreate(const dos::ClientAddr& addr, bool peerIsRelay, uint64_t nowSec);

  size_t sweep(uint64_t nowSec) { return tracker_.sweep(nowSec); }
  const dos::DosParams& params() const { return tracker_.params(); }
  const dos::DosCounters& counters() const { return tracker_.counters(); }
  const dos::DosTracker& tracker() const { return tracker_; }

 private:
  void resolve();

  dos::DosTorrc torrc_;
  dos::ConsensusParams consensus_;
  std::vector<dos::ClientAddr> relays_;  // sorted (bytes, family), unique
  dos::DosTracker tracker_;
};

}  // namespace onionsplit::channeld
