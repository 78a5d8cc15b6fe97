// common/control/versions.h: GETINFO status/version/current and status/version/recommended, pure:
// the consensus's server-versions line and where a tor version stands against it, as C tor 0.4.9
// judges its own version (versions.c, tor_version_is_obsolete).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace onionsplit::control {

// The value of the consensus's "server-versions" line ("" when the line has none or is missing).
std::string serverVersions(std::string_view consensus);

// C tor's word for `mine` against `recommended` (comma-separated, each optionally "Tor "-prefixed;
// entries that are not tor versions are skipped): "recommended" when listed, "none recommended"
// for an empty list, else "new in series" (newer than every listed version of its series, but
// an older series than another listed one), "obsolete" (every listed version is newer), "new"
// (every listed one is older) or "unrecommended". nullopt if `mine` is not a tor version.
std::optional<std::string> versionStatus(std::string_view mine, std::string_view recommended);

}  // namespace onionsplit::control
