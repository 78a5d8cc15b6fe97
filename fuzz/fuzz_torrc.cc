// fuzz/fuzz_torrc.cc: the torrc lexer and option builder fed arbitrary text. The configuration is
// operator input, but it is parsed by every daemon at start-up, so it must never crash one.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = onionsplit::config::parseConfig(text);
  if (r) {
    // A built config always has an IPC directory and at least one log target.
    if (r->config.ipcDirectory.empty() || r->config.logs.empty()) __builtin_trap();
  } else {
    (void)onionsplit::config::describe(r.error());
  }
  return 0;
}
