// common/flowctl/vegas.h: congestion control of a circuit's exit-to-client direction (pure):
// TOR_VEGAS with RFC 3742 limited slow start (proposal 324 §2.1, §3.3), with C tor 0.4.9's
// consensus defaults for exit circuits. Time is passed in, in microseconds of a monotonic clock.
//
// Where it sits: circuitd's inbound reactor (the design doc's BWD) owns one per
// congestion-controlled circuit. Before packaging a DATA cell it asks canSend(); after sending it
// calls onDataSent(); on a circuit-level SENDME it calls onSendme(). Its state (cwnd, inflight,
// RTT) is what circuitd reports to confluxd with its credit grants.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace onionsplit::flowctl {

// Consensus parameters (proposal 324 §6.5) with C tor 0.4.9's defaults for exit circuits.
struct VegasParams {
  uint32_t sendmeInc = 31;        // cc_sendme_inc
  uint64_t cwndInit = 124;        // cc_cwnd_init (4 * sendme_inc)
  uint64_t cwndMin = 124;         // cc_cwnd_min
  uint64_t cwndMax = 2147483647;  // cc_cwnd_max
  uint64_t cwndInc = 1;           // cc_cwnd_inc
  uint32_t cwndIncPctSs = 100;    // cc_cwnd_inc_pct_ss
  uint32_t cwndIncRate = 31;      // cc_cwnd_inc_rate
  uint64_t alpha = 124;           // cc_vegas_alpha_exit (2 * OUTBUF_CELLS)
  uint64_t beta = 248;            // cc_vegas_beta_exit (4 * OUTBUF_CELLS)
  uint64_t gamma = 186;           // cc_vegas_gamma_exit (3 * OUTBUF_CELLS)
  uint64_t delta = 372;           // cc_vegas_delta_exit (6 * OUTBUF_CELLS)
  uint64_t ssCwndCap = 500;       // cc_sscap_exit
  uint64_t ssCwndMax = 5000;      // cc_ss_max
  uint32_t cwndFullGap = 1;       // cc_cwnd_full_gap
  uint32_t cwndFullMinPct = 75;   // cc_cwnd_full_minpct
  bool cwndFullPerCwnd = true;    // cc_cwnd_full_per_cwnd
  uint32_t ewmaCwndPct = 50;      // cc_ewma_cwnd_pct
  uint32_t ewmaMax = 10;          // cc_ewma_max
  uint32_t ewmaSs = 2;            // cc_ewma_ss
};

enum class SendmeVerdict : uint8_t {
  kOk,
  kUnexpected,  // a SENDME with no DATA window outstanding: the circuit must close (TORPROTOCOL)
};

class VegasController {
 public:
  explicit VegasController(const VegasParams& p = VegasParams{});

  bool canSend() const { return inflight_ < cwnd_; }
  // A DATA cell was sent at `nowUsec`. Returns true if it is the cell the peer's next SENDME will
  // acknowledge: the caller records that cell's digest for the authenticated SENDME check.
  bool onDataSent(uint64_t nowUsec);
  // A circuit-level SENDME arrived at `nowUsec`. `channelBlocked` is the local congestion signal
  // (the client's channel output over its high watermark).
  SendmeVerdict onSendme(uint64_t nowUsec, bool channelBlocked);

  uint64_t cwnd() const { return cwnd_; }
  uint64_t inflight() const { return inflight_; }
  bool inSlowStart() const { return inSlowStart_; }
  uint64_t ewmaRttUsec() const { return ewmaRtt_; }
  uint64_t minRttUsec() const { return minRtt_; }
  uint64_t maxRttUsec() const { return maxRtt_; }
  uint64_t bdp() const { return bdp_; }
  const VegasParams& params() const { return p_; }
  // RFC 3742's slow start increment for the current cwnd (cells per full-window SENDME).
  uint64_t slowStartIncrement() const;

 private:
  uint64_t sendmePerCwnd() const;
  uint64_t cwndUpdateRate() const;
  // Updates RTT and BDP from a SENDME; false if the sample was discarded (clock stall or jump).
  bool updateEstimates(uint64_t rttUsec, bool channelBlocked);

  VegasParams p_;
  uint64_t cwnd_;
  uint64_t inflight_ = 0;
  bool inSlowStart_ = true;
  bool cwndFull_ = false;
  bool blocked_ = false;
  uint64_t nextCcEvent_ = 0;
  uint64_t nextCwndEvent_ = 0;
  uint64_t ewmaRtt_ = 0;
  uint64_t minRtt_ = 0;
  uint64_t maxRtt_ = 0;
  uint64_t bdp_ = 0;
  bool clockStalled_ = false;
  // Send times of the cells awaiting a SENDME, oldest first: a ring that grows with cwnd only, so
  // steady state allocates nothing.
  std::vector<uint64_t> sentAt_;
  size_t head_ = 0;
  size_t count_ = 0;
};

// Relay-wide gauges of C tor's MetricsPort (tor_relay_congestion_control), running averages over
// the circuits' events, as C tor keeps them (an N-count EWMA with N = 100; the first value is taken
// as it is).
struct CcGauges {
  double exitSsCwnd = 0, exitSsBdp = 0, exitSsInc = 0;  // state="slow_start_exit": cwnd, bdp, inc
  double closeCwnd = 0, closeSsCwnd = 0;                // state="on_circ_close": cwnd, ss_cwnd
  // A circuit left slow start (its state just after).
  void noteSlowStartExit(const VegasController& v);
  // A congestion-controlled circuit closes: its cwnd counts toward closeCwnd, or, still in slow
  // start, toward closeSsCwnd if its RTT samples differ (C tor leaves little-used circuits out).
  void noteClose(const VegasController& v);
};

// C tor's stats_update_running_avg: (2 * value + (N - 1) * avg) / (N + 1), N = 100; `value` if
// there is no average yet.
double runningAverage(double avg, double value);

}  // namespace onionsplit::flowctl
