// common/conflux/params.cc: see params.h.
#include "common/conflux/params.h"

#include <algorithm>

namespace onionsplit::conflux {

ConfluxParams confluxParamsFrom(const dirdoc::NetParams& p, const ConfluxParams& local) {
  using dirdoc::ParamId;
  ConfluxParams out = local;
  out.enabled = p.get(ParamId::kCfxEnabled) != 0;
  out.maxLegsPerSet = static_cast<uint32_t>(p.get(ParamId::kCfxMaxLegsSet));
  out.maxOooqBytes =
      std::min(local.maxOooqBytes, static_cast<uint64_t>(p.get(ParamId::kCfxMaxOooqBytes)));
  return out;
}

Expected<ConfluxParams, std::string> confluxParamsFromWire(
    std::span<const std::pair<std::string_view, int32_t>> params, const ConfluxParams& local) {
  auto resolved = dirdoc::resolveWireNetParams(params);
  if (!resolved) return fail(resolved.error());
  return confluxParamsFrom(*resolved, local);
}

}  // namespace onionsplit::conflux
