// channeld/net/relay_status.h: acts on what each consensus in force says of this relay
// (common/dirdoc/own_status.h). It logs the relay's flags when they change and warns, in C tor's
// words, when a recommended relay protocol is missing; when a required one is missing (of the
// roles onionsplit takes: links, relay cells, flow control, conflux) it logs C tor's error and
// tells channeld to stop with daemon::kExitRefuseToRun, as C tor exits. Its counters are the
// relay's flags, relay_flag_<Name> = 0 or 1 (MetricsPort: tor_relay_flag{type="<Name>"}).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/dirdoc/own_status.h"

namespace onionsplit::channeld {

class RelayStatus {
 public:
  // `protoLine`: what the relay advertises in its descriptor ("Link=4-5 Relay=2-4 ...").
  RelayStatus(const dirdoc::Sha1Digest& identity, std::string_view protoLine);

  // False: the consensus requires a protocol this relay lacks; it must not run.
  bool update(const dirdoc::Consensus& c);
  void addCounters(std::vector<std::pair<std::string, uint64_t>>& out) const;
  const dirdoc::OwnStatus& last() const { return last_; }

 private:
  dirdoc::Sha1Digest identity_;
  dirdoc::ProtocolList ours_;
  dirdoc::OwnStatus last_;
  bool seen_ = false;  // a consensus was judged
};

}  // namespace onionsplit::channeld
