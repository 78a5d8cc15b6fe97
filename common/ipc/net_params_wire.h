// common/ipc/net_params_wire.h: the parameter list of a setNetParams call (proto/types.capnp
// NetParam), as the three receivers (circuitd from channeld, streamd and confluxd from circuitd)
// read it before their own pure parser checks names and values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "common/dirdoc/params.h"
#include "proto/types.capnp.h"

namespace onionsplit::ipc {

using WireNetParams = std::vector<std::pair<std::string_view, int32_t>>;

// Views into the message (valid while it is); nullopt past the contract's kMaxWireNetParams
// entries.
inline std::optional<WireNetParams> netParamsOf(capnp::List<proto::NetParam>::Reader list) {
  if (list.size() > dirdoc::kMaxWireNetParams) return std::nullopt;
  WireNetParams wire;
  wire.reserve(list.size());
  for (auto p : list)
    wire.emplace_back(std::string_view(p.getName().cStr(), p.getName().size()), p.getValue());
  return wire;
}

}  // namespace onionsplit::ipc
