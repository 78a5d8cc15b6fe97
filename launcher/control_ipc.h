// launcher/control_ipc.h: what `onionsplit control` (launcher/control_service.h) asks of the
// daemons over their Control interface (proto/control.capnp) besides the counters: the relay's
// fingerprint from channeld (Control.identity) and a reload of each daemon (Control.reload), the
// SIGNAL RELOAD of a relay that runs under systemd. Asynchronous on the service's loop and bounded
// in time, as launcher/metrics_scrape.h is. For the ControlPort under the launcher too: channeld's
// channels and its published descriptor (GETINFO orconn-status, desc/id).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <kj/async.h>

#include "common/control/relay_info.h"
#include "common/ipc/event_loop.h"

namespace onionsplit::launcher {

// channeld's answer to Control.identity: the fingerprint (40 hex digits), nullopt if channeld
// could not be reached, did not answer within `timeout`, or gave something that is not one.
kj::Promise<std::optional<std::string>> askFingerprint(ipc::EventLoop& loop,
                                                       const std::string& ipcDirectory,
                                                       std::chrono::milliseconds timeout);

// channeld's OR connections (Control.channels) and the descriptor it last published
// (Control.descriptor), asked together for GETINFO orconn-status and desc/*.
struct RelayView {
  std::vector<control::OrConnView> channels;  // at most kMaxChannels; a bad fingerprint is ""
  std::string descriptor;  // "" unless it is a "router" document of at most kMaxDescriptorBytes
  static constexpr size_t kMaxChannels = 65536;
  static constexpr size_t kMaxDescriptorBytes = 256 << 10;
};
// nullopt if channeld could not be reached or did not answer both within `timeout`.
kj::Promise<std::optional<RelayView>> askRelayView(ipc::EventLoop& loop,
                                                   const std::string& ipcDirectory,
                                                   std::chrono::milliseconds timeout);

// Control.reload to each of `daemons`: resolves to those that did not take it (not reachable,
// refused, or no answer within `timeout`). `loop` must outlive the promise.
kj::Promise<std::vector<std::string>> askReload(ipc::EventLoop& loop,
                                                const std::string& ipcDirectory,
                                                const std::vector<std::string>& daemons,
                                                std::chrono::milliseconds timeout);

}  // namespace onionsplit::launcher
