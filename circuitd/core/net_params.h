// circuitd/core/net_params.h: the consensus parameters circuitd follows (pure). channeld fetches
// and verifies the consensus and hands its `params` line to circuitd; circuitd resolves it again
// with C tor's defaults, minimums and maximums (common/dirdoc/params.h: channeld is a peer, not
// trusted to have clamped) and makes the CircuitParams every new circuit takes. Circuits already
// open keep the values they were created with, as in C tor.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/base/result.h"

#include "circuitd/core/create.h"
#include "common/dirdoc/consensus.h"
#include "common/dirdoc/params.h"

namespace onionsplit::circuitd {

// cc_alg and cc_sendme_inc (the ntor v3 reply), the exit's Vegas parameters,
// sendme_accept_min_version, refuseunknownexits and circwindow, from resolved parameters.
CircuitParams circuitParamsFrom(const dirdoc::NetParams& p);

// The same from what channeld sent (name, value): refused (the contract's breach, with why) past
// dirdoc::kMaxWireNetParams entries or for a name isWireNetParamName() refuses.
Expected<CircuitParams, std::string> circuitParamsFromWire(
    std::span<const std::pair<std::string_view, int32_t>> params);

// What circuitd forwards (circuit_stream.capnp's and circuit_conflux.capnp's setNetParams): to
// streamd the flow-control parameters (cc_xoff_*, cc_xon_*) and DoSStreamCreation*, to confluxd
// the cfx_* ones. circuitd is the one daemon linked to both; each gets only what it reads.
bool isStreamdNetParam(std::string_view name);
bool isConfluxdNetParam(std::string_view name);

}  // namespace onionsplit::circuitd
