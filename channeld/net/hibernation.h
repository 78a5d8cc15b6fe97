// channeld/net/hibernation.h: AccountingMax in channeld, around the pure accounting core
// (common/accounting/accounting.h). Once a second it adds the bytes read and written on the
// relay's links (TLS on the wire, both directions of every channel) to the interval, lets the core
// decide, and tells channeld's parts what changed: soft hibernation refuses new circuits, hard
// hibernation closes every channel, and the descriptor says "hibernating 1" while either lasts.
// Every HeartbeatPeriod, while awake, it logs C tor's accounting heartbeat line.
//
// The record (bytes and interval) is kept in DataDirectory/accounting-state, opened (created 0600)
// before the sandbox like the consensus cache and written through that descriptor: two slots
// written in turn, so a write torn by a crash costs the last update, not the interval. A file that
// holds no whole record is logged and the interval starts afresh. Under systemd, onionsplit-keys
// creates the file for channeld's user.
#pragma once

#include <event2/event.h>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "channeld/net/link_tls.h"
#include "common/accounting/accounting.h"
#include "common/config/config.h"

namespace onionsplit::channeld {

class Hibernation {
 public:
  struct Hooks {
    // Each counts bytes so far (the links' TLS bytes; streamd's exit sockets); a total that goes
    // down (its daemon restarted) counts again from 0.
    std::vector<std::function<LinkTraffic()>> traffic;
    std::function<void(accounting::State)> change;  // after every change of state
  };
  // Reads the record (when AccountingMax is set); `identity` is the RSA identity digest. The record
  // is stored again when this goes (channeld stops or restarts).
  Hibernation(event_base* base, const config::Config& cfg, const std::array<uint8_t, 20>& identity,
              Hooks hooks);
  ~Hibernation();
  Hibernation(const Hibernation&) = delete;
  Hibernation& operator=(const Hibernation&) = delete;

  // The first decision (the hooks hear it unless it is awake), then one every second.
  void start();
  // One second's work at `now` (Unix seconds); the timer calls it with the clock.
  void tick(int64_t now);

  bool enabled() const { return core_.enabled(); }
  const accounting::Accounting& core() const { return core_; }
  // accounting_* counters for GETINFO accounting/* (the launcher's control_server).
  void counters(std::vector<std::pair<std::string, uint64_t>>& out) const;

 private:
  static void onTimer(evutil_socket_t, short, void* arg);
  void store();
  void log();

  event_base* base_;
  std::string path_;
  Hooks hooks_;
  accounting::Accounting core_;
  int fd_ = -1;
  uint64_t sequence_ = 0;
  std::vector<LinkTraffic> seen_;  // per source of Hooks::traffic
  int64_t lastTick_ = 0;
  int64_t heartbeatSeconds_ = 0, lastHeartbeat_ = 0;  // HeartbeatPeriod's accounting line
  event* timer_ = nullptr;
};

// Whether a reload changes AccountingMax, AccountingStart or AccountingRule (channeld restarts to
// apply them; the record carries the interval over).
bool accountingChanged(const config::Config& running, const config::Config& fresh);

// Seconds east of UTC of the local time now (AccountingStart is local time, as in C tor); read
// before the sandbox.
int64_t localUtcOffset();

}  // namespace onionsplit::channeld
