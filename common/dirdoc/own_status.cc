// common/dirdoc/own_status.cc: see own_status.h.
#include "common/dirdoc/own_status.h"

#include <algorithm>

namespace onionsplit::dirdoc {
namespace {

bool roleNotTaken(const std::string& name) {
  return std::find(std::begin(kRolesNotTaken), std::end(kRolesNotTaken), name) !=
         std::end(kRolesNotTaken);
}

// `wanted` without the protocols of roles not taken; their names are added to `notTaken`.
ProtocolList ofOurRoles(const ProtocolList& wanted, std::string& notTaken) {
  ProtocolList out;
  for (const ProtoEntry& e : wanted) {
    if (!roleNotTaken(e.name)) {
      out.push_back(e);
    } else if (notTaken.find(e.name) == std::string::npos) {
      notTaken += (notTaken.empty() ? "" : " ") + e.name;
    }
  }
  return out;
}

}  // namespace

OwnStatus ownStatus(const Consensus& c, const Sha1Digest& identity, const ProtocolList& ours) {
  OwnStatus s;
  if (const RouterEntry* r = c.findRouter(identity)) {
    s.listed = true;
    s.flags = r->flags;
  }
  s.missingRequired = missingProtocols(ours, ofOurRoles(c.requiredRelayProtocols, s.rolesNotTaken));
  s.missingRecommended =
      missingProtocols(ours, ofOurRoles(c.recommendedRelayProtocols, s.rolesNotTaken));
  return s;
}

std::string requiredProtocolsMessage(const std::string& missing) {
  return "At least one protocol listed as required in the consensus is not supported by this "
         "version of Tor. You should upgrade. This version of Tor will not work as a relay on "
         "the Tor network. The missing protocols are: " +
         missing;
}

std::string recommendedProtocolsMessage(const std::string& missing) {
  return "At least one protocol listed as recommended in the consensus is not supported by this "
         "version of Tor. You should upgrade. This version of Tor will work as a relay on the Tor "
         "network, but not optimally. The missing protocols are: " +
         missing;
}

}  // namespace onionsplit::dirdoc
