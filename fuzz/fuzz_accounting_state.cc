// fuzz/fuzz_accounting_state.cc: accounting::decodeFile fed arbitrary bytes, as a damaged or
// foreign DataDirectory/accounting-state would be. Invariants: a slot it accepts writes back to a
// slot that reads as the same record (bytes rounded up to the KiB as stored), and writing that
// again gives the same bytes; a slot is never read past its kSlotBytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/accounting/accounting.h"

using namespace onionsplit::accounting;

namespace {

bool sameRecord(const Record& a, const Record& b) {
  return a.intervalStart == b.intervalStart && a.bytesRead == b.bytesRead &&
         a.bytesWritten == b.bytesWritten && a.secondsActive == b.secondsActive &&
         a.expectedPerMinute == b.expectedPerMinute && a.softLimitHitAt == b.softLimitHitAt &&
         a.bytesAtSoftLimit == b.bytesAtSoftLimit && a.secondsToSoftLimit == b.secondsToSoftLimit;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view file(reinterpret_cast<const char*>(data), size);
  auto stored = decodeFile(file);
  if (!stored) return 0;
  std::string slot = encodeSlot(stored->record, stored->sequence);
  if (slot.size() != kSlotBytes) __builtin_trap();
  auto again = decodeFile(slot);
  if (!again || again->sequence != stored->sequence) __builtin_trap();
  if (encodeSlot(again->record, again->sequence) != slot) __builtin_trap();
  if (again->record.bytesRead % 1024 != 0 || again->record.bytesWritten % 1024 != 0)
    __builtin_trap();
  Record rounded = stored->record;
  rounded.bytesRead = again->record.bytesRead;
  rounded.bytesWritten = again->record.bytesWritten;
  if (!sameRecord(rounded, again->record)) __builtin_trap();
  return 0;
}
