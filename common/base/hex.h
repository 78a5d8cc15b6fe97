// common/base/hex.h: hex and base64 text encodings for logs, fingerprints, key files and
// descriptors. Not on any per-cell path.
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

// RFC 4648 base64 with '=' padding, and without it (as dir-spec writes ed25519 keys).
std::string toBase64(Bytes b);
std::string toBase64NoPad(Bytes b);

}  // namespace onionsplit
