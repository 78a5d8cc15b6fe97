// common/flowctl/credit.cc: the two-level credit windows of credit.h.
#include "common/flowctl/credit.h"

namespace onionsplit::flowctl {

std::string_view describe(CreditErrc e) {
  switch (e) {
    case CreditErrc::kUnknownFlow:
      return "message or grant for a flow that is not open";
    case CreditErrc::kFlowOverrun:
      return "message beyond the flow's credit window";
    case CreditErrc::kConnOverrun:
      return "bytes beyond the connection's credit window";
    case CreditErrc::kFlowOverGrant:
      return "grant beyond the flow's window";
    case CreditErrc::kConnOverGrant:
      return "grant beyond the connection's window";
    case CreditErrc::kDuplicateFlow:
      return "flow opened twice";
    case CreditErrc::kTooManyFlows:
      return "too many open flows";
    case CreditErrc::kEdgeOverTake:
      return "edge took more than it was given";
  }
  return "unknown credit error";
}

CreditStatus CreditSender::openFlow(FlowId id) {
  if (flows_.size() >= w_.maxFlows) return fail(CreditErrc::kTooManyFlows);
  if (!flows_.emplace(id, w_.flowMessages).second) return fail(CreditErrc::kDuplicateFlow);
  return {};
}

bool CreditSender::canSend(FlowId id, uint32_t bytes) const {
  auto it = flows_.find(id);
  return it != flows_.end() && it->second > 0 && connAvail_ >= bytes;
}

void CreditSender::onSent(FlowId id, uint32_t bytes) {
  auto it = flows_.find(id);
  if (it == flows_.end() || it->second == 0 || connAvail_ < bytes) return;  // caller's bug
  --it->second;
  connAvail_ -= bytes;
}

CreditStatus CreditSender::onFlowGrant(const FlowGrant& g) {
  auto it = flows_.find(g.flow);
  if (it == flows_.end()) return {};  // crossed our close on the wire
  if (g.messages > w_.flowMessages - it->second) return fail(CreditErrc::kFlowOverGrant);
  it->second += g.messages;
  return {};
}

CreditStatus CreditSender::onConnGrant(uint32_t bytes) {
  if (bytes > w_.connBytes - connAvail_) return fail(CreditErrc::kConnOverGrant);
  connAvail_ += bytes;
  return {};
}

uint32_t CreditSender::flowAvailable(FlowId id) const {
  auto it = flows_.find(id);
  return it == flows_.end() ? 0 : it->second;
}

CreditStatus CreditReceiver::openFlow(FlowId id) {
  if (flows_.size() >= w_.maxFlows) return fail(CreditErrc::kTooManyFlows);
  Flow f;
  f.gen = nextGen_++;
  if (nextGen_ == 0) nextGen_ = 1;  // 0 means "not open"
  if (!flows_.emplace(id, f).second) return fail(CreditErrc::kDuplicateFlow);
  return {};
}

uint32_t CreditReceiver::generation(FlowId id) const {
  auto it = flows_.find(id);
  return it == flows_.end() ? 0 : it->second.gen;
}

void CreditReceiver::closeFlow(FlowId id) {
  auto it = flows_.find(id);
  if (it == flows_.end()) return;
  if (it->second.owed >= flowThreshold() && dueFlows_ > 0) --dueFlows_;
  flows_.erase(it);
}

CreditStatus CreditReceiver::onReceived(FlowId id, uint32_t bytes) {
  if (bytes > w_.connBytes - connUsed_) return fail(CreditErrc::kConnOverrun);
  auto it = flows_.find(id);
  if (it == flows_.end()) return fail(CreditErrc::kUnknownFlow);
  Flow& f = it->second;
  // Messages the edge has taken but we have not granted back are still spent at the sender.
  if (f.held + f.owed >= w_.flowMessages) return fail(CreditErrc::kFlowOverrun);
  ++f.held;
  connUsed_ += bytes;
  return {};
}

CreditStatus CreditReceiver::onConnReceived(uint32_t bytes) {
  if (bytes > w_.connBytes - connUsed_) return fail(CreditErrc::kConnOverrun);
  connUsed_ += bytes;
  return {};
}

void CreditReceiver::onConnTaken(uint32_t bytes) {
  if (bytes > connUsed_) bytes = connUsed_;
  connUsed_ -= bytes;
  connOwed_ += bytes;
}

CreditStatus CreditReceiver::onEdgeTaken(FlowId id, uint32_t gen, uint32_t messages) {
  auto it = flows_.find(id);
  if (it == flows_.end() || it->second.gen != gen) return {};  // closed meanwhile: owes nothing
  Flow& f = it->second;
  if (messages > f.held) return fail(CreditErrc::kEdgeOverTake);
  if (messages == 0) return {};
  f.held -= messages;
  bool wasDue = f.owed >= flowThreshold();
  if (f.owed == 0 && !f.listed) {
    f.listed = true;
    owing_.push_back(id);
  }
  f.owed += messages;
  if (!wasDue && f.owed >= flowThreshold()) ++dueFlows_;
  return {};
}

uint32_t CreditReceiver::takeGrants(std::vector<FlowGrant>& out, bool flush) {
  size_t keep = 0;
  for (size_t i = 0; i < owing_.size(); ++i) {
    auto it = flows_.find(owing_[i]);
    if (it == flows_.end()) continue;  // closed: its grant is moot
    Flow& f = it->second;
    if (f.owed == 0) {
      f.listed = false;
      continue;
    }
    if (flush || f.owed >= flowThreshold()) {
      out.push_back(FlowGrant{owing_[i], f.owed});
      f.owed = 0;
      f.listed = false;
      continue;
    }
    owing_[keep++] = owing_[i];
  }
  owing_.resize(keep);
  dueFlows_ = 0;
  uint32_t conn = 0;
  if (flush || connOwed_ >= connThreshold()) {
    conn = connOwed_;
    connOwed_ = 0;
  }
  return conn;
}

uint32_t CreditReceiver::flowHeld(FlowId id) const {
  auto it = flows_.find(id);
  return it == flows_.end() ? 0 : it->second.held;
}

}  // namespace onionsplit::flowctl
