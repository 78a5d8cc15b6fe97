// tests/common/flowctl/counting_ledger.h: a receiver's credit ledger for tests. It mints tokens of
// one message each (common/flowctl/credit_token.h) and counts, per flow, what comes back.
#pragma once

#include <cstddef>
#include <map>
#include <memory>

#include "common/flowctl/credit_token.h"

namespace onionsplit::flowctl::testing {

struct CountingLedger final : CreditLedger {
  std::map<FlowId, size_t> returned;
  LedgerHandle handle = std::make_shared<CreditLedger*>(this);

  CountingLedger() = default;
  CountingLedger(const CountingLedger&) = delete;
  CountingLedger& operator=(const CountingLedger&) = delete;
  ~CountingLedger() { *handle = nullptr; }  // tokens that outlive it return nothing
  void release(FlowId flow, uint32_t) override { ++returned[flow]; }
  CreditToken token(FlowId flow) { return CreditToken(handle, flow, 1); }
  size_t back(FlowId flow) const {
    auto it = returned.find(flow);
    return it == returned.end() ? 0 : it->second;
  }
};

}  // namespace onionsplit::flowctl::testing
