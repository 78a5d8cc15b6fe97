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

}  // namespace onionsplit::control
