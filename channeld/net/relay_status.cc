// channeld/net/relay_status.cc: see relay_status.h.
#include "channeld/net/relay_status.h"

#include <spdlog/spdlog.h>

#include "common/config/text.h"

namespace onionsplit::channeld {
namespace {

dirdoc::ProtocolList parseOurs(std::string_view line) {
  auto parsed = dirdoc::parseProtocolList(config::text::split(line, ' '));
  return parsed ? *parsed : dirdoc::ProtocolList{};  // our own constant: it parses
}

}  // namespace

RelayStatus::RelayStatus(const dirdoc::Sha1Digest& identity, std::string_view protoLine)
    : identity_(identity), ours_(parseOurs(protoLine)) {}

bool RelayStatus::update(const dirdoc::Consensus& c) {
  dirdoc::OwnStatus now = dirdoc::ownStatus(c, identity_, ours_);
  if (!seen_ || now.listed != last_.listed || now.flags != last_.flags) {
    if (now.listed) {
      spdlog::info("consensus: this relay is listed with flags {}",
                   dirdoc::relayFlagNames(now.flags));
    } else {
      spdlog::info("consensus: this relay is not listed (yet)");
    }
  }
  if (!now.missingRecommended.empty() &&
      (!seen_ || now.missingRecommended != last_.missingRecommended))
    spdlog::warn("{}", dirdoc::recommendedProtocolsMessage(now.missingRecommended));
  if (!now.rolesNotTaken.empty() && (!seen_ || now.rolesNotTaken != last_.rolesNotTaken))
    spdlog::info(
        "consensus: relays are also asked for {}; onionsplit takes none of those roles and does "
        "not advertise them",
        now.rolesNotTaken);
  seen_ = true;
  last_ = std::move(now);
  if (last_.missingRequired.empty()) return true;
  spdlog::error("{}", dirdoc::requiredProtocolsMessage(last_.missingRequired));
  return false;
}

void RelayStatus::addCounters(std::vector<std::pair<std::string, uint64_t>>& out) const {
  for (dirdoc::RelayFlag f : dirdoc::kMetricsPortFlags)
    out.emplace_back("relay_flag_" + std::string(dirdoc::relayFlagName(f)),
                     (last_.flags & static_cast<uint16_t>(f)) != 0 ? 1 : 0);
}

}  // namespace onionsplit::channeld
