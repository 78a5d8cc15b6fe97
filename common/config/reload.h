// common/config/reload.h: what a reload (SIGHUP) may change (pure). C tor re-reads its torrc on
// SIGHUP and refuses the whole new file when it changes an option that cannot change while it runs;
// onionsplit does the same, with its own list: what was opened or bound at start (directories, the
// ORPorts, log files, the sandbox) stays until a restart.
//
// Also the snapshot the launcher hands its daemons: the entries of a checked torrc written back as
// one self-contained file (no %include, every value quoted), so a daemon that restarts alone reads
// exactly the configuration its siblings run with, not a file edited since.
#pragma once

#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/config/torrc.h"

namespace onionsplit::config {

// The options that differ between `running` and `fresh` and cannot change while running, by
// their torrc names, in a fixed order. Empty: `fresh` may replace `running`.
std::vector<std::string> fixedWhileRunning(const Config& running, const Config& fresh);

// True when the relay's descriptor would change (nickname, address, contact, family, bandwidth,
// exit policy): channeld publishes again.
bool descriptorChanged(const Config& running, const Config& fresh);

// True when the exit policy streamd enforces changes.
bool exitPolicyChanged(const Config& running, const Config& fresh);

// The entries as torrc text that lexTorrc() reads back to the same entries: one line each,
// `Key "value"` with \\, \", \n, \r and \t escaped.
std::string renderTorrc(const std::vector<TorrcEntry>& entries);

}  // namespace onionsplit::config
