// common/base/hex.h: hex encoding for logs, fingerprints and tests. Not on any per-cell path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/bytes.h"

namespace onionsplit {

std::string toHex(Bytes b, bool upper = false);
// Accepts upper or lower case and ignores ASCII whitespace; nullopt on any other character or odd
// length.
std::optional<std::vector<uint8_t>> fromHex(std::string_view s);

}  // namespace onionsplit
