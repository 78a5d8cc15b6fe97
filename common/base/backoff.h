// common/base/backoff.h: when to try again after a failure (pure; time is a parameter): the
// supervisor restarting a daemon, a daemon reconnecting to a peer.
//
// Exponential backoff: the first restart after `initial`, doubling up to `max`. A daemon that
// stayed up for `stableAfter` before it exited is considered healthy again and restarts after
// `initial`.
#pragma once

#include <chrono>

namespace onionsplit {

class RestartBackoff {
 public:
  using Duration = std::chrono::milliseconds;
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Params {
    Duration initial{250};
    Duration max{30000};
    Duration stableAfter{60000};
  };

  RestartBackoff() : RestartBackoff(Params{}) {}
  explicit RestartBackoff(Params p) : p_(p), next_(p.initial) {}

  // The daemon was started at `now`.
  void started(TimePoint now) { startedAt_ = now; }

  // The daemon exited at `now`; returns how long to wait before starting it again.
  Duration exited(TimePoint now) {
    if (now - startedAt_ >= p_.stableAfter) next_ = p_.initial;
    Duration wait = next_;
    next_ = std::min(p_.max, next_ * 2);
    ++restarts_;
    return wait;
  }

  unsigned restarts() const { return restarts_; }

 private:
  Params p_;
  Duration next_;
  TimePoint startedAt_{};
  unsigned restarts_ = 0;
};

}  // namespace onionsplit
