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

// cc_alg and cc_sendme_inc (the ntor v3 reply), the exit's Vegas parameters and
// sendme_accept_min_version, from resolved parameters.
CircuitParams circuitParamsFrom(const dirdoc::NetParams& p);

// The same from what channeld sent (name, value): refused (the contract's breach, with why) past
// dirdoc::kMaxWireNetParams entries or for a name isWireNetParamName() refuses.
Expected<CircuitParams, std::string> circuitParamsFromWire(
    std::span<const std::pair<std::string_view, int32_t>> params);

}  // namespace onionsplit::circuitd
