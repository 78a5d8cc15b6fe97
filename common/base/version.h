// common/base/version.h: onionsplit's version, for --version, Control and the descriptor's platform.
#pragma once

namespace onionsplit {
inline constexpr const char* kOnionsplitVersion = "0.1.0";
}  // namespace onionsplit
