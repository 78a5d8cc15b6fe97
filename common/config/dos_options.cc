// common/config/dos_options.cc: see dos_options.h.
#include "common/config/dos_options.h"

#include <cstdint>

#include "common/config/config.h"
#include "common/config/text.h"

namespace onionsplit::config {
namespace {

using Status = Expected<void, std::string>;
using text::iequals;

constexpr int64_t kIntMax = 2147483647;

Status readAutoBool(std::optional<bool>& out, std::string_view name, std::string_view v) {
  if (v == "auto") {
    out.reset();
  } else if (v == "0" || v == "1") {
    out = v == "1";
  } else {
    return fail(std::string(name) + ": \"" + std::string(v) +
                "\" is not allowed. Allowed values are 0, 1, and auto.");
  }
  return {};
}

// C tor's tor_parse_long: an optional sign, then decimal digits, within [min, max].
std::optional<int64_t> parseLong(std::string_view v, int64_t min, int64_t max) {
  bool neg = !v.empty() && v.front() == '-';
  if (!v.empty() && (v.front() == '-' || v.front() == '+')) v.remove_prefix(1);
  auto n = text::number<uint64_t>(v);
  if (!n || *n > static_cast<uint64_t>(kIntMax) + 1) return std::nullopt;
  int64_t s = neg ? -static_cast<int64_t>(*n) : static_cast<int64_t>(*n);
  if (s < min || s > max) return std::nullopt;
  return s;
}

Status readPosInt(std::optional<uint32_t>& out, std::string_view name, std::string_view v) {
  auto n = parseLong(v, 0, kIntMax);
  if (!n)
    return fail(std::string(name) + ": integer \"" + std::string(v) +
                "\" is malformed or out of bounds. Allowed values are between 0 and 2147483647.");
  out = static_cast<uint32_t>(*n);
  return {};
}

Status readInt(std::optional<int32_t>& out, std::string_view name, std::string_view v) {
  auto n = parseLong(v, -kIntMax - 1, kIntMax);
  if (!n)
    return fail(std::string(name) + ": integer \"" + std::string(v) +
                "\" is malformed or out of bounds. Allowed values are between -2147483648 and "
                "2147483647.");
  out = static_cast<int32_t>(*n);
  return {};
}

Status readPeriod(std::optional<uint32_t>& out, std::string_view name, std::string_view v) {
  auto s = parseInterval(v);
  if (!s) return fail(std::string(name) + ": cannot read the interval \"" + std::string(v) + "\"");
  if (*s > static_cast<uint64_t>(kIntMax))
    return fail(std::string(name) + ": \"" + std::string(v) + "\" is too large");
  out = static_cast<uint32_t>(*s);
  return {};
}

}  // namespace

std::optional<Status> applyDosOption(Config& c, std::string_view key, std::string_view v) {
  if (key.size() < 3 || !iequals(key.substr(0, 3), "DoS")) return std::nullopt;
  dos::DosTorrc& d = c.dos;
  struct AutoBool {
    std::string_view name;
    std::optional<bool> dos::DosTorrc::*field;
  };
  static constexpr AutoBool kBools[] = {
      {"DoSCircuitCreationEnabled", &dos::DosTorrc::circuitCreationEnabled},
      {"DoSConnectionEnabled", &dos::DosTorrc::connectionEnabled},
      {"DoSStreamCreationEnabled", &dos::DosTorrc::streamCreationEnabled},
      {"DoSRefuseSingleHopClientRendezvous", &dos::DosTorrc::refuseSingleHopClientRendezvous},
  };
  struct PosInt {
    std::string_view name;
    std::optional<uint32_t> dos::DosTorrc::*field;
    bool interval;
  };
  static constexpr PosInt kInts[] = {
      {"DoSCircuitCreationMinConnections", &dos::DosTorrc::circuitCreationMinConnections, false},
      {"DoSCircuitCreationRate", &dos::DosTorrc::circuitCreationRate, false},
      {"DoSCircuitCreationBurst", &dos::DosTorrc::circuitCreationBurst, false},
      {"DoSCircuitCreationDefenseTimePeriod", &dos::DosTorrc::circuitCreationDefenseTimePeriodSec,
       true},
      {"DoSConnectionMaxConcurrentCount", &dos::DosTorrc::connectionMaxConcurrentCount, false},
      {"DoSConnectionConnectRate", &dos::DosTorrc::connectionConnectRate, false},
      {"DoSConnectionConnectBurst", &dos::DosTorrc::connectionConnectBurst, false},
      {"DoSConnectionConnectDefenseTimePeriod",
       &dos::DosTorrc::connectionConnectDefenseTimePeriodSec, true},
      {"DoSStreamCreationRate", &dos::DosTorrc::streamCreationRate, false},
      {"DoSStreamCreationBurst", &dos::DosTorrc::streamCreationBurst, false},
  };
  struct DefenseType {
    std::string_view name;
    std::optional<int32_t> dos::DosTorrc::*field;
  };
  static constexpr DefenseType kTypes[] = {
      {"DoSCircuitCreationDefenseType", &dos::DosTorrc::circuitCreationDefenseType},
      {"DoSConnectionDefenseType", &dos::DosTorrc::connectionDefenseType},
      {"DoSStreamCreationDefenseType", &dos::DosTorrc::streamCreationDefenseType},
  };
  for (const auto& o : kBools)
    if (iequals(key, o.name)) return readAutoBool(d.*o.field, o.name, v);
  for (const auto& o : kInts)
    if (iequals(key, o.name))
      return o.interval ? readPeriod(d.*o.field, o.name, v) : readPosInt(d.*o.field, o.name, v);
  for (const auto& o : kTypes)
    if (iequals(key, o.name)) return readInt(d.*o.field, o.name, v);
  return std::nullopt;
}

}  // namespace onionsplit::config
