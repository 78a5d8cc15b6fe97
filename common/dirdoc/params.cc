// common/dirdoc/params.cc: consensus params to typed values, as C tor's networkstatus_get_param()
// and the readers listed in params.h compute them.
#include "common/dirdoc/params.h"

#include <cctype>

#include <algorithm>

namespace onionsplit::dirdoc {
namespace {

// The table must be in enum order: paramSpec(id) indexes it.
constexpr bool tableInEnumOrder() {
  for (size_t i = 0; i < kNetParams.size(); ++i) {
    const ParamSpec& p = kNetParams[i];
    if (static_cast<size_t>(p.id) != i) return false;
    if (p.minValue > p.maxValue || p.defaultValue < p.minValue || p.defaultValue > p.maxValue)
      return false;
  }
  return true;
}
static_assert(tableInEnumOrder(), "kNetParams rows out of order or with an impossible default");

const NetParam* find(std::span<const NetParam> params, std::string_view name) {
  // C tor takes the first match; parseConsensus() has already refused repeated names.
  for (const NetParam& p : params)
    if (p.name == name) return &p;
  return nullptr;
}

}  // namespace

NetParams::NetParams() {
  for (const ParamSpec& p : kNetParams)
    values_[static_cast<size_t>(p.id)] = p.defaultValue;
}

NetParams resolveNetParams(std::span<const NetParam> params) {
  NetParams out;
  // Clamp `raw` into [lo, hi] for row `i`, recording whether it was clamped.
  auto set = [&out](size_t i, int32_t raw, int32_t lo, int32_t hi) {
    int32_t v = std::clamp(raw, lo, hi);
    out.values_[i] = v;
    out.present_[i] = true;
    out.clamped_[i] = v != raw;
  };
  for (const ParamSpec& spec : kNetParams) {
    const size_t i = static_cast<size_t>(spec.id);
    if (const NetParam* p = find(params, spec.name)) set(i, p->value, spec.minValue, spec.maxValue);
  }
  // Where C tor does more than clamp to constants:
  // cc_alg: only 0 (fixed windows) and 2 (Vegas) still exist; others mean the default.
  auto idx = [](ParamId id) { return static_cast<size_t>(id); };
  int32_t& alg = out.values_[idx(ParamId::kCcAlg)];
  if (alg != 0 && alg != 2) alg = paramSpec(ParamId::kCcAlg).defaultValue;
  // circ_max_cell_queue_size_out defaults to circ_max_cell_queue_size.
  if (!out.present_[idx(ParamId::kCircMaxCellQueueSizeOut)])
    out.values_[idx(ParamId::kCircMaxCellQueueSizeOut)] = out.get(ParamId::kCircMaxCellQueueSize);
  // Bounds that are other parameters' values; C tor clamps the default to them too.
  auto boundBy = [&](ParamId id, int32_t lo, int32_t hi) {
    if (const NetParam* p = find(params, paramSpec(id).name)) {
      set(idx(id), p->value, lo, hi);
    } else {
      out.values_[idx(id)] = std::clamp(paramSpec(id).defaultValue, lo, std::max(lo, hi));
    }
  };
  boundBy(ParamId::kNfItoHigh, out.get(ParamId::kNfItoLow),
          paramSpec(ParamId::kNfItoHigh).maxValue);
  boundBy(ParamId::kNfItoHighReduced, out.get(ParamId::kNfItoLowReduced),
          paramSpec(ParamId::kNfItoHighReduced).maxValue);
  boundBy(ParamId::kOnionKeyGracePeriodDays, paramSpec(ParamId::kOnionKeyGracePeriodDays).minValue,
          out.get(ParamId::kOnionKeyRotationDays));
  return out;
}

std::string netParamsMarkdown() {
  auto num = [](int32_t v) {
    return v == INT32_MAX ? std::string("INT32_MAX") : std::to_string(v);
  };
  std::string out =
      "| parameter | default | min | max | read in C tor | note |\n|---|---|---|---|---|---|\n";
  for (const ParamSpec& p : kNetParams) {
    out += "| `" + std::string(p.name) + "` | " + num(p.defaultValue) + " | " + num(p.minValue) +
           " | " + num(p.maxValue) + " | " + std::string(p.readBy) + " | " + std::string(p.note) +
           " |\n";
  }
  return out;
}

bool isWireNetParamName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNetParamNameBytes) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

Expected<NetParams, std::string> resolveWireNetParams(
    std::span<const std::pair<std::string_view, int32_t>> params) {
  if (params.size() > kMaxWireNetParams) return fail(std::string("too many parameters"));
  std::vector<NetParam> checked;
  checked.reserve(params.size());
  for (const auto& [name, value] : params) {
    if (!isWireNetParamName(name)) return fail(std::string("bad parameter name"));
    checked.push_back({std::string(name), value});
  }
  return resolveNetParams(checked);
}

std::vector<NetParam> selectNetParams(std::span<const NetParam> params,
                                      bool (*keep)(std::string_view name)) {
  std::vector<NetParam> out;
  for (const auto& p : params)
    if (keep(p.name)) out.push_back(p);
  return out;
}

}  // namespace onionsplit::dirdoc
