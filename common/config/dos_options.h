// common/config/dos_options.h: C tor's DoS* torrc options (pure), read with C tor 0.4.9's types
// (dos_options.inc and the stream options of config.c): the *Enabled ones and
// DoSRefuseSingleHopClientRendezvous are AUTOBOOLs ("0", "1" or "auto"), the counts and rates
// POSINTs (0 to 2147483647; 0, the default, means "take the consensus"), the defence types INTs
// (any 32-bit integer; 0 means "take the consensus", a value no defence has acts as none) and
// the two time periods INTERVALs ("N [units]", at most 2147483647 seconds). Each is stored into
// Config::dos, which common/dos resolves against the consensus in the daemons that enforce it
// (channeld: connections and circuit creation; streamd: stream creation).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace onionsplit::config {

struct Config;

// nullopt if `key` is not a DoS* option; else the outcome of reading `value` into c.dos.
std::optional<Expected<void, std::string>> applyDosOption(Config& c, std::string_view key,
                                                          std::string_view value);

}  // namespace onionsplit::config
