// common/base/version.h: onionsplit's version (--version, Control, the descriptor's platform).
#pragma once

namespace onionsplit {
inline constexpr const char* kOnionsplitVersion = "0.1.0";
}  // namespace onionsplit
