// common/control/events.h: the asynchronous events (control-spec §4.1) onionsplit sends besides
// BW, as text, pure: log events from the launcher's lines and the daemons' relayed lines, and
// CONF_CHANGED from the entries in force before and after a reload or SETCONF.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config/torrc.h"

namespace onionsplit::control {

// A log line as a controller sees it: the event (DEBUG, INFO, NOTICE, WARN, ERR) and the message.
struct LogLine {
  std::string severity;
  std::string message;
};

// "650 NOTICE message\r\n": CR and LF in `message` become spaces and trailing spaces go, as C tor
// does.
std::string logEvent(const LogLine& l);

// A daemon's output line as the launcher relays it ("circuitd: " then the daemon's own line, in
// the plain "Mon DD HH:MM:SS.mmm [notice] circuitd: text" or the journal "<5>[notice] circuitd:
// text" layout). The severity comes from the "[...]" tag; a line without one (a crash report, a
// sanitizer's output) is a NOTICE carrying the whole relayed line.
LogLine relayedLogLine(std::string_view relayed);

// One changed option for CONF_CHANGED: its name and new value, none when it is now unset.
using ConfChange = std::pair<std::string, std::optional<std::string>>;

// The options whose values differ between `before` and `after` (keys compared without case, each
// option's values in order): every value of an option in `after`, or the option alone when
// `after` has none. Options in the order they first appear in `after`, then those only in
// `before`.
std::vector<ConfChange> confChanges(const std::vector<config::TorrcEntry>& before,
                                    const std::vector<config::TorrcEntry>& after);

// `entries` with every entry of each changed option replaced by its new values (appended in
// order; none: the option is left out, so it takes its default).
std::vector<config::TorrcEntry> withChanges(std::vector<config::TorrcEntry> entries,
                                            const std::vector<ConfChange>& changes);

// "650-CONF_CHANGED\r\n650-Key=Value\r\n...650 OK\r\n"; "" when nothing changed.
std::string confChangedEvent(const std::vector<ConfChange>& changes);

// "650 STATUS_SERVER NOTICE ACTION ARGS\r\n" (control-spec §4.1.10).
std::string statusServerEvent(std::string_view severity, std::string_view what);

// channeld's word on the relay's standing, from its counters (read every second).
struct RelayStanding {
  bool reachable = false;     // orport_reachable (1 with AssumeReachable: no test runs)
  uint64_t selfTests = 0;     // orport_self_tests_total: attempts begun
  uint64_t acceptedMask = 0;  // descriptor_accepted_authorities: bit i, DirAuthority line i
  uint64_t rounds = 0;        // descriptor_rounds_total: a new round starts the mask again
  uint16_t orPort = 0;        // orport_advertised
};

// The STATUS_SERVER events C tor sends a relay's controllers, from successive readings of
// channeld's counters: CHECKING_REACHABILITY ORADDRESS=IP:PORT when the first self-test attempt
// began (again after channeld restarted, its counters back at 0), REACHABILITY_SUCCEEDED
// ORADDRESS=IP:PORT when a self-test passed, and for each authority that newly has the descriptor
// ACCEPTED_SERVER_DESCRIPTOR DIRAUTH=ADDRESS:DIRPORT then GOOD_SERVER_DESCRIPTOR (in a new
// upload round, every authority that has it is new). `address` is the
// relay's IPv4 Address (the self-test's), `authorities` the DirAuthority lines' "address:dirport".
// Pure; bounded by the 64 bits of the mask.
class ServerStatusEvents {
 public:
  std::vector<std::string> update(const RelayStanding& now, const std::string& address,
                                  const std::vector<std::string>& authorities);

 private:
  RelayStanding last_;
};

}  // namespace onionsplit::control
