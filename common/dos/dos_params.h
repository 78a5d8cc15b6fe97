// common/dos/dos_params.h: the parameters of C tor's DoS defences for a relay (pure).
//
// Where it sits: every daemon that applies a DoS defence (channeld for connections, the CREATE
// path for circuit creation, streamd for stream creation) holds one resolved DosParams. It is
// resolved at start-up from the torrc alone and again whenever a consensus arrives, exactly as
// C tor 0.4.9's dos.c does (set_dos_parameters): a torrc value wins when it is set, otherwise the
// consensus parameter, clamped to its [min, max], otherwise the built-in default.
//
// Numbers (defaults, minimums, maximums) are C tor 0.4.9's (dos.h, dos.c, dos_options.inc).
// The caller decides whether the defences apply at all: C tor applies them only in public relay
// mode (dos_consensus_has_changed, dos_should_refuse_single_hop_client).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace onionsplit::dos {

// DoSCircuitCreationDefenseType. Values are the consensus's integers.
enum class CircDefense : uint8_t {
  kNone = 1,        // count only
  kRefuseCell = 2,  // answer the CREATE with DESTROY reason RESOURCELIMIT
};

// DoSConnectionDefenseType.
enum class ConnDefense : uint8_t {
  kNone = 1,   // count only
  kClose = 2,  // close the new connection at accept
};

// DoSStreamCreationDefenseType.
enum class StreamDefense : uint8_t {
  kNone = 1,          // count only
  kRefuseStream = 2,  // BEGIN: END reason MISC; RESOLVE: RESOLVED error (transient)
  kCloseCircuit = 3,  // close the circuit with reason RESOURCELIMIT
};

// The resolved values every defence reads. Defaults are C tor's when neither torrc nor consensus
// says anything; times are in seconds.
struct DosParams {
  // Circuit creation, per client address (dos-spec; param-spec "DoSCircuitCreation*").
  bool circEnabled = false;
  uint32_t circMinConnections = 3;
  uint32_t circRatePerSec = 3;
  uint32_t circBurst = 90;
  CircDefense circDefense = CircDefense::kRefuseCell;
  uint32_t circDefenseTimePeriodSec = 60 * 60;

  // Connections, per client address.
  bool connEnabled = false;
  uint32_t connMaxConcurrentCount = 100;
  ConnDefense connDefense = ConnDefense::kClose;
  uint32_t connConnectRatePerSec = 20;
  uint32_t connConnectBurst = 40;
  uint32_t connConnectDefenseTimePeriodSec = 24 * 60 * 60;

  // Stream creation (BEGIN and RESOLVE), per circuit. Exit only.
  bool streamEnabled = false;
  uint32_t streamRatePerSec = 100;
  uint32_t streamBurst = 300;
  StreamDefense streamDefense = StreamDefense::kRefuseStream;

  // ESTABLISH_RENDEZVOUS from single-hop clients (only meaningful where rendezvous is served).
  bool refuseSingleHopClientRendezvous = false;

  // Consensus only ("dos_num_circ_max_outq"): how many times a client address may hit a
  // circuit's cell queue limit before it is marked by the circuit creation defence; 0 disables.
  uint32_t numCircMaxOutq = 3;

  bool operator==(const DosParams&) const = default;
};

// The torrc side. std::nullopt means the option is absent ("auto" for the booleans). As in C tor,
// a numeric option set to 0 also means "not set" (its torrc default is "0"), and a defence type
// outside the enum acts as no defence (C tor compares against the one value that acts).
struct DosTorrc {
  std::optional<bool> circuitCreationEnabled;
  std::optional<uint32_t> circuitCreationMinConnections;
  std::optional<uint32_t> circuitCreationRate;
  std::optional<uint32_t> circuitCreationBurst;
  std::optional<int32_t> circuitCreationDefenseType;
  std::optional<uint32_t> circuitCreationDefenseTimePeriodSec;

  std::optional<bool> connectionEnabled;
  std::optional<uint32_t> connectionMaxConcurrentCount;
  std::optional<int32_t> connectionDefenseType;
  std::optional<uint32_t> connectionConnectRate;
  std::optional<uint32_t> connectionConnectBurst;
  std::optional<uint32_t> connectionConnectDefenseTimePeriodSec;

  std::optional<bool> streamCreationEnabled;
  std::optional<uint32_t> streamCreationRate;
  std::optional<uint32_t> streamCreationBurst;
  std::optional<int32_t> streamCreationDefenseType;

  std::optional<bool> refuseSingleHopClientRendezvous;

  bool operator==(const DosTorrc&) const = default;
};

// Consensus "params" line, name -> value (dir-spec: values are signed 32-bit integers).
using ConsensusParams = std::map<std::string, int32_t, std::less<>>;

// Applies C tor's precedence and clamping. `consensus` is empty before any consensus arrived.
DosParams resolve(const DosTorrc& torrc, const ConsensusParams& consensus);

}  // namespace onionsplit::dos
