// fuzz/fuzz_exit_policy.cc: exit policy items fed arbitrary text (one item per line), then the
// built policy evaluated and written out; never crashes, and what it writes parses back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/exitpolicy/exit_policy.h"

using namespace onionsplit::exitpolicy;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  PolicyInputs in;
  in.exitRelay = true;
  in.ipv6Exit = size > 0 && (data[0] & 1);
  size_t pos = 0;
  while (pos <= text.size() && in.items.size() < 64) {
    size_t nl = text.find('\n', pos);
    in.items.emplace_back(text.substr(pos, nl == text.npos ? text.npos : nl - pos));
    if (nl == text.npos) break;
    pos = nl + 1;
  }
  auto p = Policy::build(in);
  if (!p) return 0;
  for (const Rule& r : p->rules()) {
    auto again = parseItem(r.toString());
    if (!again || again->size() != 1 || !((*again)[0].addr == r.addr)) __builtin_trap();
  }
  (void)p->evaluate(*IpAddress::parse("8.8.8.8"), 80);
  (void)p->descriptorLines();
  (void)p->ipv6Summary();
  return 0;
}
