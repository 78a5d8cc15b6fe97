// streamd/core/net_params.h: the consensus parameters streamd reads (pure): the exit's XON/XOFF
// flow control (cc_xoff_*, cc_xon_*; proposal 324, C tor's congestion_control_flow.c) and the
// stream creation defence (DoSStreamCreation*, dos-spec). circuitd forwards them from channeld's
// list (circuit_stream.capnp's setNetParams); streamd clamps them itself to C tor 0.4.9's ranges
// (common/dirdoc/params.h). Streams and circuits opened from then on use them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/base/result.h"
#include "common/dirdoc/params.h"
#include "common/dos/dos_params.h"
#include "common/flowctl/xon_xoff.h"

namespace onionsplit::streamd {

struct StreamNetParams {
  flowctl::XonXoffParams xonXoff;
  // The DoSStreamCreation* entries the consensus has, clamped; dos::resolve() puts the torrc's
  // values over them (the torrc wins, as in C tor's dos.c).
  dos::ConsensusParams dos;
  // exit_dns_timeout and exit_dns_num_attempts as C tor hands them to libevent (dns.c): the
  // timeout of one attempt in whole seconds (at least 1), and the sends of a query (at least 1).
  uint32_t dnsTimeoutSeconds = 1;
  uint32_t dnsAttempts = 2;
};

StreamNetParams streamNetParamsFrom(const dirdoc::NetParams& p);

// The same from what circuitd sent (name, value): refused, with why, past the contract's bounds
// (dirdoc::resolveWireNetParams).
Expected<StreamNetParams, std::string> streamNetParamsFromWire(
    std::span<const std::pair<std::string_view, int32_t>> params);

}  // namespace onionsplit::streamd
