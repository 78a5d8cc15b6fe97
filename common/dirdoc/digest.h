// common/dirdoc/digest.h: the two digests directory signatures use (dir-spec §1.3), over a byte
// range of a document's text.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace onionsplit::dirdoc {

using Sha1Digest = std::array<uint8_t, 20>;
using Sha256Digest = std::array<uint8_t, 32>;

Sha1Digest sha1Of(std::string_view text);
Sha256Digest sha256Of(std::string_view text);

}  // namespace onionsplit::dirdoc
