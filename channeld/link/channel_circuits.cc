// channeld/link/channel_circuits.cc: see channel_circuits.h.
#include "channeld/link/channel_circuits.h"

namespace onionsplit::channeld {
namespace {
constexpr uint8_t kCreate = 1, kCreated = 2, kDestroy = 4, kCreateFast = 5, kCreatedFast = 6,
                  kCreate2 = 10, kCreated2 = 11;
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
  if (command == kCreated || command == kCreatedFast || command == kCreated2)
    return ours_.count(circId) ? Decision::kForward : Decision::kDrop;
  if (command == kDestroy) {
    open_.erase(circId);
    ours_.erase(circId);
  }
  return Decision::kForward;
}

std::optional<uint32_t> ChannelCircuits::originate(bool weInitiated,
                                                   const std::function<uint32_t()>& random,
                                                   int64_t now) {
  if (open_.size() >= max_) return std::nullopt;
  for (int attempt = 0; attempt < 64; ++attempt) {
    uint32_t id = random() & 0x7fffffffu;
    if (weInitiated) id |= 0x80000000u;
    if (id == 0 || !open_.insert(id).second) continue;
    ours_.insert(id);
    lastUsed_ = now;
    return id;
  }
  return std::nullopt;
}

bool ChannelCircuits::toPeer(uint8_t command, uint32_t circId, int64_t now) {
  lastUsed_ = now;
  if (command == kDestroy) {
    ours_.erase(circId);
    return open_.erase(circId) != 0;
  }
  return open_.count(circId) != 0;
}

std::vector<uint32_t> ChannelCircuits::takeAll(int64_t now) {
  std::vector<uint32_t> ids(open_.begin(), open_.end());
  open_.clear();
  ours_.clear();
  lastUsed_ = now;
  return ids;
}

}  // namespace onionsplit::channeld
