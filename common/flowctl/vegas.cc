// common/flowctl/vegas.cc: see vegas.h. Follows proposal 324 §3.3's pseudocode and C tor 0.4.9's
// rounding (integer arithmetic, multiply before divide).
#include "common/flowctl/vegas.h"

#include <algorithm>

namespace onionsplit::flowctl {

VegasController::VegasController(const VegasParams& p) : p_(p), cwnd_(p.cwndInit) {
  sentAt_.resize(16);
}

uint64_t VegasController::sendmePerCwnd() const {
  return (cwnd_ + p_.sendmeInc / 2) / p_.sendmeInc;
}

uint64_t VegasController::cwndUpdateRate() const {
  if (inSlowStart_) return 1;
  uint64_t unit = uint64_t{p_.cwndIncRate} * p_.sendmeInc;
  return (cwnd_ + unit / 2) / unit;
}

uint64_t VegasController::slowStartIncrement() const {
  if (cwnd_ <= p_.ssCwndCap) return (uint64_t{p_.cwndIncPctSs} * p_.sendmeInc + 50) / 100;
  return std::max<uint64_t>((uint64_t{p_.sendmeInc} * p_.ssCwndCap + cwnd_) / (2 * cwnd_), 1);
}

bool VegasController::onDataSent(uint64_t nowUsec) {
  bool acked = (inflight_ + 1) % p_.sendmeInc == 0;
  ++inflight_;
  if (!acked) return false;
  if (count_ == sentAt_.size()) {  // grow the ring, keeping order
    std::vector<uint64_t> bigger(sentAt_.size() * 2);
    for (size_t i = 0; i < count_; ++i)
      bigger[i] = sentAt_[(head_ + i) % sentAt_.size()];
    sentAt_.swap(bigger);
    head_ = 0;
  }
  sentAt_[(head_ + count_) % sentAt_.size()] = nowUsec;
  ++count_;
  return true;
}

bool VegasController::updateEstimates(uint64_t rtt, bool channelBlocked) {
  blocked_ = channelBlocked;
  // Clock heuristics (proposal 324 §2.1.1): a zero delta is a stall; after slow start, a sample
  // 5000 times off the average is a jump (or, if small, a stall only if one was seen before).
  if (rtt == 0) {
    clockStalled_ = true;
    return false;
  }
  if (ewmaRtt_ != 0 && !inSlowStart_) {
    if (rtt > ewmaRtt_ * 5000) return false;
    if (rtt * 5000 < ewmaRtt_ && clockStalled_) return false;
  }
  clockStalled_ = false;

  uint64_t n =
      inSlowStart_
          ? p_.ewmaSs
          : std::max<uint64_t>(
                std::min<uint64_t>(cwndUpdateRate() * p_.ewmaCwndPct / 100, p_.ewmaMax), 2);
  ewmaRtt_ = ewmaRtt_ == 0 ? rtt : (rtt * 2 + ewmaRtt_ * (n - 1)) / (n + 1);
  minRtt_ = minRtt_ == 0 ? rtt : std::min(minRtt_, rtt);
  maxRtt_ = std::max(maxRtt_, rtt);
  // The congestion-window BDP estimator: how much of cwnd the path holds at its minimum delay.
  bdp_ = cwnd_ * minRtt_ / std::max<uint64_t>(ewmaRtt_, 1);
  return true;
}

SendmeVerdict VegasController::onSendme(uint64_t nowUsec, bool channelBlocked) {
  if (count_ == 0 || inflight_ < p_.sendmeInc) return SendmeVerdict::kUnexpected;
  uint64_t sent = sentAt_[head_];
  head_ = (head_ + 1) % sentAt_.size();
  --count_;

  if (nextCcEvent_) --nextCcEvent_;
  if (nextCwndEvent_) --nextCwndEvent_;

  if (!updateEstimates(nowUsec >= sent ? nowUsec - sent : 0, channelBlocked)) {
    inflight_ -= p_.sendmeInc;
    return SendmeVerdict::kOk;
  }

  uint64_t queueUse = bdp_ > cwnd_ ? 0 : cwnd_ - bdp_;
  if (inflight_ + uint64_t{p_.cwndFullGap} * p_.sendmeInc >= cwnd_) {
    cwndFull_ = true;
  } else if (100 * inflight_ < uint64_t{p_.cwndFullMinPct} * cwnd_) {
    cwndFull_ = false;
  }

  if (inSlowStart_) {
    if (queueUse < p_.gamma && !blocked_) {
      if (cwndFull_) {
        uint64_t inc = slowStartIncrement();
        cwnd_ += inc;
        if (inc * sendmePerCwnd() <= p_.cwndInc * p_.cwndIncRate) inSlowStart_ = false;
      }
    } else {
      cwnd_ = bdp_ + p_.gamma;  // congestion signal: leave slow start at the gamma threshold
      inSlowStart_ = false;
    }
    if (cwnd_ >= p_.ssCwndMax) {
      cwnd_ = p_.ssCwndMax;
      inSlowStart_ = false;
    }
  } else if (nextCcEvent_ == 0) {
    if (queueUse > p_.delta) {
      uint64_t target = bdp_ + p_.delta;
      cwnd_ = target > p_.cwndInc ? target - p_.cwndInc : 0;
    } else if (queueUse > p_.beta || blocked_) {
      cwnd_ = cwnd_ > p_.cwndInc ? cwnd_ - p_.cwndInc : 0;
    } else if (cwndFull_ && queueUse < p_.alpha) {
      cwnd_ += p_.cwndInc;
    }
  }
  cwnd_ = std::clamp(cwnd_, p_.cwndMin, p_.cwndMax);

  if (nextCcEvent_ == 0) nextCcEvent_ = cwndUpdateRate();
  if (nextCwndEvent_ == 0) nextCwndEvent_ = sendmePerCwnd();
  if (p_.cwndFullPerCwnd ? nextCwndEvent_ == sendmePerCwnd() : nextCcEvent_ == cwndUpdateRate())
    cwndFull_ = false;

  inflight_ -= p_.sendmeInc;
  return SendmeVerdict::kOk;
}

double runningAverage(double avg, double value) {
  constexpr double kN = 100;
  if (avg < 0.0000002) return value;
  return (2 * value + (kN - 1) * avg) / (kN + 1);
}

void CcGauges::noteSlowStartExit(const VegasController& v) {
  exitSsCwnd = runningAverage(exitSsCwnd, static_cast<double>(v.cwnd()));
  exitSsBdp = runningAverage(exitSsBdp, static_cast<double>(v.bdp()));
  exitSsInc = runningAverage(exitSsInc, static_cast<double>(v.slowStartIncrement()));
}

void CcGauges::noteClose(const VegasController& v) {
  if (!v.inSlowStart()) {
    closeCwnd = runningAverage(closeCwnd, static_cast<double>(v.cwnd()));
  } else if (v.maxRttUsec() != v.minRttUsec()) {
    closeSsCwnd = runningAverage(closeSsCwnd, static_cast<double>(v.cwnd()));
  }
}

}  // namespace onionsplit::flowctl
