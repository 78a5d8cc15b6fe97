// channeld/link/channel_circuits.cc: see channel_circuits.h.
#include "channeld/link/channel_circuits.h"

namespace onionsplit::channeld {
namespace {
constexpr uint8_t kCreate = 1, kDestroy = 4, kCreateFast = 5, kCreate2 = 10;
bool isCreate(uint8_t c) {
  return c == kCreate || c == kCreateFast || c == kCreate2;
}
}  // namespace

ChannelCircuits::Decision ChannelCircuits::fromPeer(uint8_t command, uint32_t circId, int64_t now) {
  lastUsed_ = now;
  if (isCreate(command)) {
    if (open_.count(circId)) return Decision::kDrop;
    if (open_.size() >= max_) return Decision::kRefuseCreate;
    open_.insert(circId);
    return Decision::kForward;
  }
  if (command == kDestroy) open_.erase(circId);
  return Decision::kForward;
}

bool ChannelCircuits::toPeer(uint8_t command, uint32_t circId, int64_t now) {
  lastUsed_ = now;
  if (command == kDestroy) return open_.erase(circId) != 0;
  return open_.count(circId) != 0;
}

std::vector<uint32_t> ChannelCircuits::takeAll(int64_t now) {
  std::vector<uint32_t> ids(open_.begin(), open_.end());
  open_.clear();
  lastUsed_ = now;
  return ids;
}

}  // namespace onionsplit::channeld
