// common/conflux/params.h: the cfx_* consensus parameters an exit reads, as ConfluxParams (pure).
//
// Where it sits: confluxd gets the cfx_* entries of the consensus from circuitd
// (circuit_conflux.capnp's setNetParams) and turns them into the ConfluxParams its ConfluxMgr uses
// for new LINKs. Values are clamped to C tor 0.4.9's ranges (common/dirdoc/params.h, from
// conflux_params.c); the other cfx_* parameters are the client's (how many sets and legs to
// build) or have no effect in C tor 0.4.9 (cfx_send_pct is never read; cfx_drain_pct only
// matters while cells_until_switch is positive, which C tor never sets).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "common/base/result.h"
#include "common/conflux/types.h"
#include "common/dirdoc/params.h"

namespace onionsplit::conflux {

// `local` with cfx_enabled, cfx_max_legs_set and cfx_max_oooq_bytes from `p`. The reorder
// queue's cap is the smaller of the consensus' and `local.maxOooqBytes` (confluxd's own bound:
// C tor's default, INT32_MAX, leaves the bound to its OOM handler).
ConfluxParams confluxParamsFrom(const dirdoc::NetParams& p, const ConfluxParams& local);

// The same from what circuitd sent (name, value): refused, with why, past the contract's bounds
// (dirdoc::resolveWireNetParams).
Expected<ConfluxParams, std::string> confluxParamsFromWire(
    std::span<const std::pair<std::string_view, int32_t>> params, const ConfluxParams& local);

}  // namespace onionsplit::conflux
