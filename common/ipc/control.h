// common/ipc/control.h: the Control interface (proto/control.capnp) every daemon's bootstrap
// serves, as a mixin over the daemon's generated Server class, so one implementation answers for
// all four daemons.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "proto/control.capnp.h"

namespace onionsplit::ipc {

// What a daemon tells its callers; main() fills it, the daemon's parts update the counters.
struct ControlInfo {
  std::string daemon;
  std::string version;
  uint64_t startedAtMs = 0;
  // Peers the daemon needs and does not have; empty means ready.
  std::function<std::vector<std::string>()> waitingFor;
  // Appends (name, value) for every counter, in a stable order.
  std::function<void(std::vector<std::pair<std::string, uint64_t>>&)> counters;
  bool started = false;  // false until the daemon has finished start-up
  // Control.reload: queues what SIGHUP does (set by common/daemon/runtime.cc). Unset: the call
  // fails.
  std::function<void()> reload;
  // Control.identity: the relay's fingerprint, where the daemon holds it (channeld).
  std::string fingerprint;
  // Control.channels and Control.descriptor (channeld's): its OR connections, and the descriptor
  // it last published. Unset: an empty list, "".
  struct Channel {
    std::string fingerprint;  // 40 upper-case hex, "" for a client
    bool open = false;
    bool launched = false;  // being dialled by us
  };
  std::function<std::vector<Channel>()> channels;
  std::function<std::string()> descriptor;
  static constexpr size_t kMaxChannels = 65536;
};

template <class Server>
class WithControl : public Server {
 public:
  explicit WithControl(const ControlInfo& info) : info_(info) {}

  kj::Promise<void> health(proto::Control::Server::HealthContext ctx) override {
    auto waiting = info_.waitingFor ? info_.waitingFor() : std::vector<std::string>{};
    auto r = ctx.getResults();
    r.setHealth(!info_.started    ? proto::Health::STARTING
                : waiting.empty() ? proto::Health::READY
                                  : proto::Health::DEGRADED);
    auto list = r.initWaitingFor(static_cast<unsigned>(waiting.size()));
    for (unsigned i = 0; i < waiting.size(); ++i)
      list.set(i, waiting[i]);
    return kj::READY_NOW;
  }

  kj::Promise<void> counters(proto::Control::Server::CountersContext ctx) override {
    std::vector<std::pair<std::string, uint64_t>> all;
    if (info_.counters) info_.counters(all);
    auto list = ctx.getResults().initCounters(static_cast<unsigned>(all.size()));
    for (unsigned i = 0; i < all.size(); ++i) {
      list[i].setName(all[i].first);
      list[i].setValue(all[i].second);
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> version(proto::Control::Server::VersionContext ctx) override {
    auto r = ctx.getResults();
    r.setDaemon(info_.daemon);
    r.setVersion(info_.version);
    r.setPid(static_cast<uint32_t>(getpid()));
    r.setStartedAtMs(info_.startedAtMs);
    return kj::READY_NOW;
  }

  kj::Promise<void> reload(proto::Control::Server::ReloadContext) override {
    if (!info_.reload)
      return kj::Exception(kj::Exception::Type::UNIMPLEMENTED, __FILE__, __LINE__,
                           kj::str("this daemon cannot reload"));
    info_.reload();
    return kj::READY_NOW;
  }

  kj::Promise<void> identity(proto::Control::Server::IdentityContext ctx) override {
    ctx.getResults().setFingerprint(info_.fingerprint);
    return kj::READY_NOW;
  }

  kj::Promise<void> channels(proto::Control::Server::ChannelsContext ctx) override {
    auto all = info_.channels ? info_.channels() : std::vector<ControlInfo::Channel>{};
    if (all.size() > ControlInfo::kMaxChannels) all.resize(ControlInfo::kMaxChannels);
    auto list = ctx.getResults().initChannels(static_cast<unsigned>(all.size()));
    for (unsigned i = 0; i < all.size(); ++i) {
      list[i].setFingerprint(all[i].fingerprint);
      list[i].setOpen(all[i].open);
      list[i].setLaunched(all[i].launched);
    }
    return kj::READY_NOW;
  }

  kj::Promise<void> descriptor(proto::Control::Server::DescriptorContext ctx) override {
    ctx.getResults().setDescriptor(info_.descriptor ? info_.descriptor() : std::string());
    return kj::READY_NOW;
  }

  // Only streamd hibernates its streams (it overrides this).
  kj::Promise<void> setHibernating(proto::Control::Server::SetHibernatingContext) override {
    return kj::Exception(kj::Exception::Type::UNIMPLEMENTED, __FILE__, __LINE__,
                         kj::str("this daemon does not hibernate streams"));
  }

 private:
  const ControlInfo& info_;
};

}  // namespace onionsplit::ipc
