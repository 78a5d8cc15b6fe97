// circuitd/core/net_params.cc: see net_params.h.
#include "circuitd/core/net_params.h"

namespace onionsplit::circuitd {

CircuitParams circuitParamsFrom(const dirdoc::NetParams& p) {
  using dirdoc::ParamId;
  auto u = [&p](ParamId id) { return static_cast<uint32_t>(p.get(id)); };
  CircuitParams out;
  // cc_alg 1 and 3 were removed algorithms; C tor treats them as the default (Vegas).
  uint32_t alg = u(ParamId::kCcAlg);
  out.cc.ccAlg = alg == 0 ? 0 : 2;
  out.cc.sendmeInc = static_cast<uint8_t>(u(ParamId::kCcSendmeInc));
  flowctl::VegasParams& v = out.vegas;
  v.sendmeInc = u(ParamId::kCcSendmeInc);
  v.cwndInit = u(ParamId::kCcCwndInit);
  v.cwndMin = u(ParamId::kCcCwndMin);
  v.cwndMax = u(ParamId::kCcCwndMax);
  v.cwndInc = u(ParamId::kCcCwndInc);
  v.cwndIncPctSs = u(ParamId::kCcCwndIncPctSs);
  v.cwndIncRate = u(ParamId::kCcCwndIncRate);
  v.alpha = u(ParamId::kCcVegasAlphaExit);
  v.beta = u(ParamId::kCcVegasBetaExit);
  v.gamma = u(ParamId::kCcVegasGammaExit);
  v.delta = u(ParamId::kCcVegasDeltaExit);
  v.ssCwndCap = u(ParamId::kCcSscapExit);
  v.ssCwndMax = u(ParamId::kCcSsMax);
  v.cwndFullGap = u(ParamId::kCcCwndFullGap);
  v.cwndFullMinPct = u(ParamId::kCcCwndFullMinpct);
  v.cwndFullPerCwnd = u(ParamId::kCcCwndFullPerCwnd) != 0;
  v.ewmaCwndPct = u(ParamId::kCcEwmaCwndPct);
  v.ewmaMax = u(ParamId::kCcEwmaMax);
  v.ewmaSs = u(ParamId::kCcEwmaSs);
  out.acceptSendmeV0 = u(ParamId::kSendmeAcceptMinVersion) == 0;
  out.refuseUnknownExits = u(ParamId::kRefuseUnknownExits) != 0;
  out.circWindow = u(ParamId::kCircwindow);
  return out;
}

Expected<CircuitParams, std::string> circuitParamsFromWire(
    std::span<const std::pair<std::string_view, int32_t>> params) {
  auto resolved = dirdoc::resolveWireNetParams(params);
  if (!resolved) return fail(resolved.error());
  return circuitParamsFrom(*resolved);
}

bool isStreamdNetParam(std::string_view name) {
  return name.starts_with("cc_xoff_") || name.starts_with("cc_xon_") ||
         name.starts_with("DoSStreamCreation") || name.starts_with("exit_dns_");
}

bool isConfluxdNetParam(std::string_view name) {
  return name.starts_with("cfx_");
}

}  // namespace onionsplit::circuitd
