// streamd/core/net_params.cc: see net_params.h.
#include "streamd/core/net_params.h"

#include <algorithm>

namespace onionsplit::streamd {

StreamNetParams streamNetParamsFrom(const dirdoc::NetParams& p) {
  using dirdoc::ParamId;
  auto u = [&p](ParamId id) { return static_cast<uint32_t>(p.get(id)); };
  StreamNetParams out;
  out.xonXoff.xoffExitCells = u(ParamId::kCcXoffExit);
  out.xonXoff.xoffClientCells = u(ParamId::kCcXoffClient);
  out.xonXoff.xonRateCells = u(ParamId::kCcXonRate);
  out.xonXoff.xonChangePct = u(ParamId::kCcXonChangePct);
  out.xonXoff.xonEwmaCnt = u(ParamId::kCcXonEwmaCnt);
  out.dnsTimeoutSeconds = std::max<uint32_t>(1, u(ParamId::kExitDnsTimeout) / 1000);
  out.dnsAttempts = std::max<uint32_t>(1, u(ParamId::kExitDnsNumAttempts));
  for (ParamId id : {ParamId::kDosStreamEnabled, ParamId::kDosStreamRate, ParamId::kDosStreamBurst,
                     ParamId::kDosStreamDefenseType})
    if (p.fromConsensus(id)) out.dos.emplace(std::string(dirdoc::paramSpec(id).name), p.get(id));
  return out;
}

Expected<StreamNetParams, std::string> streamNetParamsFromWire(
    std::span<const std::pair<std::string_view, int32_t>> params) {
  auto resolved = dirdoc::resolveWireNetParams(params);
  if (!resolved) return fail(resolved.error());
  return streamNetParamsFrom(*resolved);
}

}  // namespace onionsplit::streamd
