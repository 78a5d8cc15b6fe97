// common/dos/dos_params.cc: torrc-over-consensus-over-default resolution of the DoS parameters.
#include "common/dos/dos_params.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string_view>

namespace onionsplit::dos {
namespace {

constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

// A consensus parameter as C tor's networkstatus_get_param reads it: the default when absent,
// otherwise the value clamped into [min, max].
int64_t consensusParam(const ConsensusParams& c, std::string_view name, int64_t def, int64_t min,
                       int64_t max) {
  auto it = c.find(name);
  if (it == c.end()) return def;
  return std::clamp<int64_t>(it->second, min, max);
}

// An AUTOBOOL torrc option: set wins, "auto" takes the consensus clamped to [0, 1].
bool autoBool(const std::optional<bool>& torrc, const ConsensusParams& c, std::string_view name,
              bool def) {
  if (torrc) return *torrc;
  return consensusParam(c, name, def ? 1 : 0, 0, 1) != 0;
}

// A POSINT/INTERVAL torrc option: a nonzero value wins (C tor's parser accepts at most INT32_MAX),
// zero or absent takes the consensus.
uint32_t posInt(const std::optional<uint32_t>& torrc, const ConsensusParams& c,
                std::string_view name, int64_t def, int64_t min) {
  if (torrc && *torrc != 0) return static_cast<uint32_t>(std::min<int64_t>(*torrc, kInt32Max));
  return static_cast<uint32_t>(consensusParam(c, name, def, min, kInt32Max));
}

// An INT defence-type torrc option: nonzero wins; the consensus is clamped to [1, max].
int64_t defenseType(const std::optional<int32_t>& torrc, const ConsensusParams& c,
                    std::string_view name, int64_t def, int64_t max) {
  if (torrc && *torrc != 0) return *torrc;
  return consensusParam(c, name, def, 1, max);
}

CircDefense toCircDefense(int64_t v) {
  return v == 2 ? CircDefense::kRefuseCell : CircDefense::kNone;
}
ConnDefense toConnDefense(int64_t v) {
  return v == 2 ? ConnDefense::kClose : ConnDefense::kNone;
}
StreamDefense toStreamDefense(int64_t v) {
  if (v == 2) return StreamDefense::kRefuseStream;
  if (v == 3) return StreamDefense::kCloseCircuit;
  return StreamDefense::kNone;
}

}  // namespace

DosParams resolve(const DosTorrc& t, const ConsensusParams& c) {
  const DosParams d;  // C tor's built-in defaults
  DosParams p;
  p.circEnabled = autoBool(t.circuitCreationEnabled, c, "DoSCircuitCreationEnabled", d.circEnabled);
  p.circMinConnections = posInt(t.circuitCreationMinConnections, c,
                                "DoSCircuitCreationMinConnections", d.circMinConnections, 1);
  p.circRatePerSec =
      posInt(t.circuitCreationRate, c, "DoSCircuitCreationRate", d.circRatePerSec, 1);
  p.circBurst = posInt(t.circuitCreationBurst, c, "DoSCircuitCreationBurst", d.circBurst, 1);
  p.circDefense =
      toCircDefense(defenseType(t.circuitCreationDefenseType, c, "DoSCircuitCreationDefenseType",
                                static_cast<int64_t>(d.circDefense), 2));
  p.circDefenseTimePeriodSec =
      posInt(t.circuitCreationDefenseTimePeriodSec, c, "DoSCircuitCreationDefenseTimePeriod",
             d.circDefenseTimePeriodSec, 0);

  p.connEnabled = autoBool(t.connectionEnabled, c, "DoSConnectionEnabled", d.connEnabled);
  p.connMaxConcurrentCount = posInt(t.connectionMaxConcurrentCount, c,
                                    "DoSConnectionMaxConcurrentCount", d.connMaxConcurrentCount, 1);
  p.connDefense = toConnDefense(defenseType(t.connectionDefenseType, c, "DoSConnectionDefenseType",
                                            static_cast<int64_t>(d.connDefense), 2));
  p.connConnectRatePerSec =
      posInt(t.connectionConnectRate, c, "DoSConnectionConnectRate", d.connConnectRatePerSec, 1);
  p.connConnectBurst =
      posInt(t.connectionConnectBurst, c, "DoSConnectionConnectBurst", d.connConnectBurst, 1);
  // C tor's minimum is 10 s: the mark adds a random 1..period/2 seconds on top.
  p.connConnectDefenseTimePeriodSec =
      posInt(t.connectionConnectDefenseTimePeriodSec, c, "DoSConnectionConnectDefenseTimePeriod",
             d.connConnectDefenseTimePeriodSec, 10);

  p.streamEnabled =
      autoBool(t.streamCreationEnabled, c, "DoSStreamCreationEnabled", d.streamEnabled);
  p.streamRatePerSec =
      posInt(t.streamCreationRate, c, "DoSStreamCreationRate", d.streamRatePerSec, 1);
  p.streamBurst = posInt(t.streamCreationBurst, c, "DoSStreamCreationBurst", d.streamBurst, 1);
  p.streamDefense =
      toStreamDefense(defenseType(t.streamCreationDefenseType, c, "DoSStreamCreationDefenseType",
                                  static_cast<int64_t>(d.streamDefense), 3));

  p.refuseSingleHopClientRendezvous =
      autoBool(t.refuseSingleHopClientRendezvous, c, "DoSRefuseSingleHopClientRendezvous",
               d.refuseSingleHopClientRendezvous);
  p.numCircMaxOutq = static_cast<uint32_t>(
      consensusParam(c, "dos_num_circ_max_outq", d.numCircMaxOutq, 0, kInt32Max));
  return p;
}

}  // namespace onionsplit::dos
