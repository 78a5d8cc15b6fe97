// channeld/net/reachability.h: the ORPort reachability self-test, run before the descriptor is
// published unless AssumeReachable 1 (or the consensus's assume-reachable=1), as C tor does
// (router_do_reachability_checks): a circuit through another relay back to ourselves. The other
// relay must open a connection to the address and port our descriptor advertises, finish the
// link handshake with the identity it names and get circuitd's CREATED2; its EXTENDED2 coming
// back proves all of it from outside.
//
// One attempt: a client connection (no AUTHENTICATE) to a relay picked from the consensus,
// CREATE_FAST (we have no descriptor of that relay, so no onion key, and the hop's secrecy does
// not matter here), then EXTEND2 in RELAY_EARLY to ourselves with ntor v3 (client/origin_circuit.h
// does the crypto). EXTENDED2: reachable, the circuit is destroyed and `reachable` runs. A DESTROY
// (the relay could not reach us), an error or no answer within attemptTimeout: another attempt,
// through another relay, after retryInterval. After warnAfter without success the log says so as
// C tor does. Every cell from the network is hostile: anything unexpected ends the attempt.
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "channeld/net/outbound.h"
#include "client/origin_circuit.h"

namespace onionsplit::channeld {

struct ReachabilityConfig {
  std::chrono::seconds attemptTimeout{30};  // from the dial to EXTENDED2
  std::chrono::seconds retryInterval{60};   // before the next attempt, through another relay
  std::chrono::seconds warnAfter{20 * 60};  // C tor's 20 minutes before its loud warning
};

class ReachabilityTest {
 public:
  // `self`: our advertised IPv4 address and ORPort, identities and ntor onion key, as the
  // descriptor has them. `pick` names a relay to go through (nullopt while none is known).
  // `reachable` runs once, at the first success. `tls` must outlive the test.
  ReachabilityTest(event_base* base, const LinkTlsContext& tls, client::RelayInfo self,
                   std::function<std::optional<OutboundTarget>()> pick,
                   std::function<void()> reachable, ReachabilityConfig config = {});
  ~ReachabilityTest();
  ReachabilityTest(const ReachabilityTest&) = delete;
  ReachabilityTest& operator=(const ReachabilityTest&) = delete;

  void start();  // the first attempt now
  // Skips the test (the consensus's assume-reachable=1): as a success, with `why` in the log.
  void assume(const std::string& why);
  bool reachable() const { return reachable_; }
  uint64_t attempts() const { return attempts_; }
  uint64_t failures() const { return failures_; }
  std::string selfText() const;  // "IP:PORT"

 private:
  struct Attempt;
  static void onTimer(evutil_socket_t, short, void* arg);
  static void onCleanup(evutil_socket_t, short, void* arg);
  static void onRead(bufferevent* bev, void* arg);
  static void onEvent(bufferevent* bev, short what, void* arg);
  void attempt();
  void opened(Expected<OpenedChannel, std::string> result);
  void readCells();
  bool onCell(uint8_t command, uint32_t circId, Bytes payload);
  void writeCell(uint8_t command, Bytes payload);
  void succeed();
  void fail(const std::string& why);
  void endAttempt();  // closes the connection on the next loop turn

  event_base* base_;
  const LinkTlsContext& tls_;
  client::RelayInfo self_;
  std::function<std::optional<OutboundTarget>()> pick_;
  std::function<void()> reachable_cb_;
  ReachabilityConfig config_;
  event* timer_ = nullptr;    // the next attempt, or the current one's deadline
  event* cleanup_ = nullptr;  // frees a finished attempt outside its callbacks
  std::unique_ptr<Attempt> current_, finished_;
  std::chrono::steady_clock::time_point started_;
  bool reachable_ = false, warned_ = false;
  uint64_t attempts_ = 0, failures_ = 0;
};

}  // namespace onionsplit::channeld
