// common/dirdoc/params.h: the consensus parameters C tor 0.4.9 reads as a relay (exit and middle
// roles), with C tor's default, minimum and maximum, and the typed values a consensus gives them.
//
// One row per parameter in ONIONSPLIT_NET_PARAMS: the enum ParamId and the table kNetParams are
// both made from it, so docs/ARCHITECTURE.md's table can be generated from kNetParams. Values
// follow C tor's networkstatus_get_param(): absent -> default, below min -> min, above max -> max.
// Where C tor does more than clamp, resolveNetParams() does the same and the row's note says so.
// Sources, in C tor: congestion_control_common.c, congestion_control_vegas.c (exit path: an exit
// runs congestion control with CC_PATH_EXIT), congestion_control_flow.c, sendme.c, circuitlist.c,
// conflux_params.c, dos.c, relay.c, router.c, scheduler_kist.c, circuitmux_ewma.c, cpuworker.c,
// onion_queue.c, dns.c, rephist.c, hs_dos.c, channelpadding.c, circuitpadding.c, connection_edge.c.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/result.h"

#include "common/dirdoc/consensus.h"

namespace onionsplit::dirdoc {

inline constexpr int32_t kI32Max = INT32_MAX;
inline constexpr int32_t kI16Max = INT16_MAX;

// X(id, "name", default, min, max, "who reads it in C tor", "note")
#define ONIONSPLIT_NET_PARAMS(X)                                                                   \
  X(kCcAlg, "cc_alg", 2, 0, 3, "congestion_control_common.c",                                      \
    "0 = fixed SENDME windows, 2 = Vegas; 1 and 3 (removed algorithms) mean the default 2")        \
  X(kCcSendmeInc, "cc_sendme_inc", 31, 1, 254, "congestion_control_common.c",                      \
    "cells per SENDME; an exit's ntor v3 reply carries it and clients refuse one off by over 1")   \
  X(kCcCwndInit, "cc_cwnd_init", 124, 31, 10000, "congestion_control_common.c", "")                \
  X(kCcCwndMin, "cc_cwnd_min", 124, 31, 1000, "congestion_control_common.c", "")                   \
  X(kCcCwndMax, "cc_cwnd_max", kI32Max, 500, kI32Max, "congestion_control_common.c", "")           \
  X(kCcCwndInc, "cc_cwnd_inc", 1, 1, 1000, "congestion_control_common.c", "")                      \
  X(kCcCwndIncPctSs, "cc_cwnd_inc_pct_ss", 100, 1, 500, "congestion_control_common.c", "")         \
  X(kCcCwndIncRate, "cc_cwnd_inc_rate", 31, 1, 250, "congestion_control_common.c", "")             \
  X(kCcBweMin, "cc_bwe_min", 5, 2, 20, "congestion_control_common.c", "")                          \
  X(kCcEwmaCwndPct, "cc_ewma_cwnd_pct", 50, 1, 255, "congestion_control_common.c", "")             \
  X(kCcEwmaMax, "cc_ewma_max", 10, 2, kI32Max, "congestion_control_common.c", "")                  \
  X(kCcEwmaSs, "cc_ewma_ss", 2, 2, kI32Max, "congestion_control_common.c", "")                     \
  X(kCcRttResetPct, "cc_rtt_reset_pct", 100, 0, 100, "congestion_control_common.c", "")            \
  X(kCellqHigh, "cellq_high", 256, 1, 1000, "congestion_control_common.c", "")                     \
  X(kCellqLow, "cellq_low", 10, 1, 1000, "congestion_control_common.c", "")                        \
  X(kOrconnHigh, "orconn_high", 32768, 509, kI32Max, "congestion_control_common.c", "bytes")       \
  X(kOrconnLow, "orconn_low", 16384, 509, kI32Max, "congestion_control_common.c", "bytes")         \
  X(kCcSsMax, "cc_ss_max", 5000, 500, kI32Max, "congestion_control_vegas.c", "")                   \
  X(kCcSscapExit, "cc_sscap_exit", 500, 100, kI32Max, "congestion_control_vegas.c", "")            \
  X(kCcVegasAlphaExit, "cc_vegas_alpha_exit", 124, 0, 1000, "congestion_control_vegas.c", "")      \
  X(kCcVegasBetaExit, "cc_vegas_beta_exit", 248, 0, 1000, "congestion_control_vegas.c", "")        \
  X(kCcVegasGammaExit, "cc_vegas_gamma_exit", 186, 0, 1000, "congestion_control_vegas.c", "")      \
  X(kCcVegasDeltaExit, "cc_vegas_delta_exit", 372, 0, kI32Max, "congestion_control_vegas.c", "")   \
  X(kCcCwndFullGap, "cc_cwnd_full_gap", 1, 0, kI16Max, "congestion_control_vegas.c", "")           \
  X(kCcCwndFullMinpct, "cc_cwnd_full_minpct", 75, 0, 100, "congestion_control_vegas.c", "")        \
  X(kCcCwndFullPerCwnd, "cc_cwnd_full_per_cwnd", 1, 0, 1, "congestion_control_vegas.c", "")        \
  X(kCcXoffClient, "cc_xoff_client", 500, 1, 10000, "congestion_control_flow.c", "cells")          \
  X(kCcXoffExit, "cc_xoff_exit", 500, 1, 10000, "congestion_control_flow.c", "cells")              \
  X(kCcXonChangePct, "cc_xon_change_pct", 25, 1, 99, "congestion_control_flow.c", "")              \
  X(kCcXonRate, "cc_xon_rate", 500, 1, 5000, "congestion_control_flow.c", "cells")                 \
  X(kCcXonEwmaCnt, "cc_xon_ewma_cnt", 2, 2, 100, "congestion_control_flow.c", "")                  \
  X(kCircwindow, "circwindow", 1000, 100, 1000, "circuitlist.c", "initial circuit package window") \
  X(kSendmeEmitMinVersion, "sendme_emit_min_version", 1, 0, 255, "sendme.c", "")                   \
  X(kSendmeAcceptMinVersion, "sendme_accept_min_version", 0, 0, 255, "sendme.c", "")               \
  X(kCfxEnabled, "cfx_enabled", 1, 0, 1, "conflux_params.c", "")                                   \
  X(kCfxLowExitThreshold, "cfx_low_exit_threshold", 6000, 0, 10000, "conflux_params.c",            \
    "client side; per ten thousand")                                                               \
  X(kCfxMaxLinkedSet, "cfx_max_linked_set", 10, 0, 255, "conflux_params.c", "client side")         \
  X(kCfxMaxPrebuiltSet, "cfx_max_prebuilt_set", 3, 0, 255, "conflux_params.c", "client side")      \
  X(kCfxMaxUnlinkedLegRetry, "cfx_max_unlinked_leg_retry", 3, 0, 255, "conflux_params.c",          \
    "client side")                                                                                 \
  X(kCfxNumLegsSet, "cfx_num_legs_set", 2, 0, 255, "conflux_params.c", "client side")              \
  X(kCfxMaxLegsSet, "cfx_max_legs_set", 8, 3, 255, "conflux_params.c", "legs an exit allows")      \
  X(kCfxSendPct, "cfx_send_pct", 100, 0, 255, "conflux_params.c", "")                              \
  X(kCfxDrainPct, "cfx_drain_pct", 0, 0, 255, "conflux_params.c", "")                              \
  X(kCfxMaxOooqBytes, "cfx_max_oooq_bytes", kI32Max, 0, kI32Max, "conflux_params.c", "")           \
  X(kDosCcEnabled, "DoSCircuitCreationEnabled", 0, 0, 1, "dos.c", "")                              \
  X(kDosCcMinConnections, "DoSCircuitCreationMinConnections", 3, 1, kI32Max, "dos.c", "")          \
  X(kDosCcRate, "DoSCircuitCreationRate", 3, 1, kI32Max, "dos.c", "per second")                    \
  X(kDosCcBurst, "DoSCircuitCreationBurst", 90, 1, kI32Max, "dos.c", "")                           \
  X(kDosCcDefenseType, "DoSCircuitCreationDefenseType", 2, 1, 2, "dos.c", "1 none, 2 refuse")      \
  X(kDosCcDefenseTimePeriod, "DoSCircuitCreationDefenseTimePeriod", 3600, 0, kI32Max, "dos.c",     \
    "seconds")                                                                                     \
  X(kDosConnEnabled, "DoSConnectionEnabled", 0, 0, 1, "dos.c", "")                                 \
  X(kDosConnMaxConcurrentCount, "DoSConnectionMaxConcurrentCount", 100, 1, kI32Max, "dos.c", "")   \
  X(kDosConnDefenseType, "DoSConnectionDefenseType", 2, 1, 2, "dos.c", "1 none, 2 close")          \
  X(kDosConnConnectRate, "DoSConnectionConnectRate", 20, 1, kI32Max, "dos.c", "per second")        \
  X(kDosConnConnectBurst, "DoSConnectionConnectBurst", 40, 1, kI32Max, "dos.c", "")                \
  X(kDosConnConnectDefenseTimePeriod, "DoSConnectionConnectDefenseTimePeriod", 86400, 10, kI32Max, \
    "dos.c", "seconds")                                                                            \
  X(kDosStreamEnabled, "DoSStreamCreationEnabled", 0, 0, 1, "dos.c",                               \
    "0.4.9; defaults as tor(1) of 0.4.9.11 states them")                                           \
  X(kDosStreamRate, "DoSStreamCreationRate", 100, 1, kI32Max, "dos.c", "0.4.9; per circuit")       \
  X(kDosStreamBurst, "DoSStreamCreationBurst", 300, 1, kI32Max, "dos.c", "0.4.9; per circuit")     \
  X(kDosStreamDefenseType, "DoSStreamCreationDefenseType", 2, 1, 3, "dos.c",                       \
    "0.4.9; 1 none, 2 refuse the stream, 3 close the circuit")                                     \
  X(kDosRefuseSingleHopClientRendezvous, "DoSRefuseSingleHopClientRendezvous", 0, 0, 1, "dos.c",   \
    "")                                                                                            \
  X(kDosNumCircMaxOutq, "dos_num_circ_max_outq", 3, 0, kI32Max, "dos.c", "")                       \
  X(kRefuseUnknownExits, "refuseunknownexits", 1, 0, 1, "router.c", "")                            \
  X(kAssumeReachable, "assume-reachable", 0, 0, 1, "router.c",                                     \
    "1: publish even when the IPv4 ORPort self-test failed")                                       \
  X(kAssumeReachableIpv6, "assume-reachable-ipv6", 0, 0, 1, "router.c",                            \
    "1: publish even when the IPv6 ORPort self-test failed")                                       \
  X(kAllowNetworkReentry, "allow-network-reentry", 0, 0, 1, "connection_edge.c", "")               \
  X(kAllowNonearlyExtend, "AllowNonearlyExtend", 0, 0, 1, "relay.c", "")                           \
  X(kCircMaxCellQueueSize, "circ_max_cell_queue_size", 2500, 50, kI32Max, "relay.c", "")           \
  X(kCircMaxCellQueueSizeOut, "circ_max_cell_queue_size_out", 2500, 50, kI32Max, "relay.c",        \
    "default: the value of circ_max_cell_queue_size")                                              \
  X(kKistSchedRunInterval, "KISTSchedRunInterval", 10, 0, 100, "scheduler_kist.c",                 \
    "milliseconds; 0 = do not use KIST")                                                           \
  X(kCircuitPriorityHalflifeMsec, "CircuitPriorityHalflifeMsec", 30000, 1, kI32Max,                \
    "circuitmux_ewma.c", "")                                                                       \
  X(kCircuitPriorityTickSecs, "CircuitPriorityTickSecs", 10, 1, 600, "circuitmux_ewma.c", "")      \
  X(kMaxPendingTasksPerCpu, "max_pending_tasks_per_cpu", 64, 1, kI32Max, "cpuworker.c", "")        \
  X(kMaxOnionQueueDelay, "MaxOnionQueueDelay", 1750, 1, kI32Max, "onion_queue.c", "milliseconds")  \
  X(kOnionQueueWaitCutoff, "onion_queue_wait_cutoff", 5, 0, kI32Max, "onion_queue.c", "")          \
  X(kExitDnsTimeout, "exit_dns_timeout", 1000, 1, 120000, "dns.c", "milliseconds")                 \
  X(kExitDnsNumAttempts, "exit_dns_num_attempts", 2, 0, 255, "dns.c", "")                          \
  X(kOverloadOnionskinNtorScalePercent, "overload_onionskin_ntor_scale_percent", 1000, 0, 100000,  \
    "rephist.c", "per hundred thousand")                                                           \
  X(kOverloadOnionskinNtorPeriodSecs, "overload_onionskin_ntor_period_secs", 21600, 0, kI32Max,    \
    "rephist.c", "")                                                                               \
  X(kOnionKeyRotationDays, "onion-key-rotation-days", 28, 1, 90, "router.c", "")                   \
  X(kOnionKeyGracePeriodDays, "onion-key-grace-period-days", 7, 1, 90, "router.c",                 \
    "maximum: the value of onion-key-rotation-days")                                               \
  X(kHsIntroDosDefense, "HiddenServiceEnableIntroDoSDefense", 0, 0, 1, "hs_dos.c",                 \
    "intro point role")                                                                            \
  X(kHsIntroDosRatePerSec, "HiddenServiceEnableIntroDoSRatePerSec", 25, 0, kI32Max, "hs_dos.c",    \
    "")                                                                                            \
  X(kHsIntroDosBurstPerSec, "HiddenServiceEnableIntroDoSBurstPerSec", 200, 0, kI32Max, "hs_dos.c", \
    "")                                                                                            \
  X(kNfItoLow, "nf_ito_low", 1500, 0, 60000, "channelpadding.c", "milliseconds")                   \
  X(kNfItoHigh, "nf_ito_high", 9500, 0, 60000, "channelpadding.c",                                 \
    "milliseconds; minimum: the value of nf_ito_low")                                              \
  X(kNfItoLowReduced, "nf_ito_low_reduced", 9000, 0, 60000, "channelpadding.c", "")                \
  X(kNfItoHighReduced, "nf_ito_high_reduced", 14000, 0, 60000, "channelpadding.c",                 \
    "minimum: the value of nf_ito_low_reduced")                                                    \
  X(kNfConntimeoutRelays, "nf_conntimeout_relays", 3600, 60, 604800, "channelpadding.c",           \
    "seconds")                                                                                     \
  X(kNfConntimeoutClients, "nf_conntimeout_clients", 1800, 60, 86400, "channelpadding.c",          \
    "seconds")                                                                                     \
  X(kNfPadBeforeUsage, "nf_pad_before_usage", 1, 0, 1, "channelpadding.c", "")                     \
  X(kNfPadRelays, "nf_pad_relays", 0, 0, 1, "channelpadding.c", "")                                \
  X(kNfPadSingleOnion, "nf_pad_single_onion", 1, 0, 1, "channelpadding.c", "")                     \
  X(kCircpadPaddingDisabled, "circpad_padding_disabled", 0, 0, 1, "circuitpadding.c", "")          \
  X(kCircpadPaddingReduced, "circpad_padding_reduced", 0, 0, 1, "circuitpadding.c", "")            \
  X(kCircpadGlobalAllowedCells, "circpad_global_allowed_cells", 0, 0, 65534, "circuitpadding.c",   \
    "")                                                                                            \
  X(kCircpadGlobalMaxPaddingPct, "circpad_global_max_padding_pct", 0, 0, 100, "circuitpadding.c",  \
    "")                                                                                            \
  X(kCircpadMaxCircQueuedCells, "circpad_max_circ_queued_cells", 1000, 0, 50000,                   \
    "circuitpadding.c", "")

enum class ParamId : uint16_t {
#define ONIONSPLIT_PARAM_ENUM(id, name, dflt, lo, hi, readBy, note) id,
  ONIONSPLIT_NET_PARAMS(ONIONSPLIT_PARAM_ENUM)
#undef ONIONSPLIT_PARAM_ENUM
};

struct ParamSpec {
  ParamId id;
  std::string_view name;
  int32_t defaultValue;
  int32_t minValue;
  int32_t maxValue;
  std::string_view readBy;  // C tor source file
  std::string_view note;
};

inline constexpr std::array kNetParams = {
#define ONIONSPLIT_PARAM_ROW(id, name, dflt, lo, hi, readBy, note) \
  ParamSpec{ParamId::id, name, dflt, lo, hi, readBy, note},
    ONIONSPLIT_NET_PARAMS(ONIONSPLIT_PARAM_ROW)
#undef ONIONSPLIT_PARAM_ROW
};
inline constexpr size_t kNumNetParams = kNetParams.size();

// The table's row for `id`.
constexpr const ParamSpec& paramSpec(ParamId id) {
  return kNetParams[static_cast<size_t>(id)];
}

// The typed values in force: each parameter's consensus value clamped, or its default.
class NetParams {
 public:
  // Every parameter at C tor's default (no consensus yet).
  NetParams();
  int32_t get(ParamId id) const { return values_[static_cast<size_t>(id)]; }
  // True iff the consensus named the parameter (even if the value was then clamped).
  bool fromConsensus(ParamId id) const { return present_[static_cast<size_t>(id)]; }
  // True iff the consensus' value was outside [min, max] and was clamped.
  bool clamped(ParamId id) const { return clamped_[static_cast<size_t>(id)]; }

 private:
  friend NetParams resolveNetParams(std::span<const NetParam> params);

  // kNetParams as a Markdown table (name | default | min | max | read in C tor | note), for
  // docs/ARCHITECTURE.md.
  std::string netParamsMarkdown();
  std::array<int32_t, kNumNetParams> values_{};
  std::array<bool, kNumNetParams> present_{};
  std::array<bool, kNumNetParams> clamped_{};
};

// The values C tor would use given a consensus' params line (Consensus::params). Names not in
// the table are ignored, as C tor ignores parameters it does not read.
NetParams resolveNetParams(std::span<const NetParam> params);

// What a daemon may pass on to another (channel_circuit.capnp's setNetParams): at most
// kMaxWireNetParams parameters, each name 1..kMaxNetParamNameBytes bytes of [A-Za-z0-9_].
inline constexpr size_t kMaxWireNetParams = 256;
inline constexpr size_t kMaxNetParamNameBytes = 64;
// setKnownRelays: at most this many relay identities of 20 bytes (today's network lists about
// 9,000; 40,000 x 20 bytes stays under the IPC's 1 MiB per message).
inline constexpr size_t kMaxWireKnownRelays = 40000;
bool isWireNetParamName(std::string_view name);

// A peer's setNetParams list (name, value), checked against those bounds and resolved as
// resolveNetParams does (values outside a parameter's range clamp, unknown names are ignored).
// Fails, with why, past kMaxWireNetParams entries or for a name isWireNetParamName() refuses: the
// receiver refuses the call and keeps the values it had.
Expected<NetParams, std::string> resolveWireNetParams(
    std::span<const std::pair<std::string_view, int32_t>> params);

// The entries of `params` whose names satisfy `keep`, in order: what circuitd forwards to streamd
// and confluxd (each gets only the parameters it reads).
std::vector<NetParam> selectNetParams(std::span<const NetParam> params,
                                      bool (*keep)(std::string_view name));

// kNetParams as a Markdown table (name | default | min | max | read in C tor | note), for
// docs/ARCHITECTURE.md.
std::string netParamsMarkdown();

}  // namespace onionsplit::dirdoc
