// common/control/relay_info.h: GETINFO answers made from the relay's files, pure: config-text from
// the checked torrc entries, and ns/id/<fp>, ns/name/<nick> and address from the cached (ns
// flavour) consensus text, in C tor's control-port layout of a router status entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config/torrc.h"

namespace onionsplit::control {

// "Key Value\n" for each entry, in order (C tor's config-text: the options set, not defaults).
// Options whose name starts with "__" (__OwningControllerProcess, __OwningControllerFD) are left
// out, as C tor leaves its hidden control options out of every dump.
std::string configText(const std::vector<config::TorrcEntry>& entries);

// GETINFO config/names: "Name Type\n" for each option onionsplit reads, with C tor's type names
// (String, Filename, Boolean, Boolean+Auto, Integer, SignedInteger, DataSize, TimeInterval,
// CommaList, LineList; the port options are "Dependent", as C tor lists them). Options accepted
// only to be ignored are not listed.
const std::string& configNames();

// GETINFO config/defaults: "Name \"Value\"\n" (C tor 0.4.9's layout) for each option of
// configNames() that has a default: the value onionsplit takes when the torrc does not set it,
// as a torrc writes it. They are C tor's defaults but for Sandbox (on here) and the options C tor
// lists without one (DataDirectory, Nickname, ServerDNSResolvConfFile, SandboxSyscalls).
const std::string& configDefaults();

// A relay's entry in the consensus as C tor's GETINFO ns/* shows it: its "r" line (the published
// time as C tor prints it there, "2038-01-01 00:00:00"), its first "a" line, its "s" line, its
// "w Bandwidth=N" and its "p" line, each ended by "\n". `fingerprint` is 40 hex digits (a leading
// '$' allowed); `nickname` matches without case. nullopt when no entry matches.
std::optional<std::string> entryById(std::string_view consensus, std::string_view fingerprint);
std::optional<std::string> entryByName(std::string_view consensus, std::string_view nickname);

// GETINFO ns/all: every entry of the consensus in the layout above, in the consensus's order.
std::string allEntries(std::string_view consensus);

// "650+NEWCONSENSUS\r\n", every entry as ns/all gives it (CRLF, dot-encoded), ".\r\n650 OK\r\n",
// as C tor sends it for a new consensus; "" for a consensus without entries.
std::string newConsensusEvent(std::string_view consensus);

// One of the relay's OR connections (channeld's Control.channels).
struct OrConnView {
  std::string fingerprint;  // the peer relay's identity, 40 hex; "" for a client
  bool open = false;        // CONNECTED
  bool launched = false;    // not open, dialled by the relay: LAUNCHED (else NEW)
};
// GETINFO orconn-status: "NAME STATE" per connection, joined by "\n". NAME is C tor's: "$FP~nick"
// for a relay in `consensus`, "$FP" for one that is not; a client's connection (no identity) is
// "[scrubbed]" where C tor gives the client's address and port (onionsplit's daemons never hand
// out clients' addresses). STATE: CONNECTED, LAUNCHED or NEW.
std::string orconnStatus(const std::vector<OrConnView>& conns, std::string_view consensus);

// STATUS_GENERAL's DANGEROUS_VERSION as C tor sends it when the consensus does not recommend its
// version: "650 STATUS_GENERAL WARN DANGEROUS_VERSION CURRENT=v REASON=NEW|OBSOLETE|UNRECOMMENDED
// RECOMMENDED=\"list\"\r\n", from versionStatus()'s word (versions.h); nullopt when the version is
// recommended or none is.
std::optional<std::string> dangerousVersionEvent(std::string_view current, std::string_view status,
                                                 std::string_view recommended);

// The IPv4 address of the entry with `fingerprint` ("r" line), if it is in the consensus.
std::optional<std::string> addressInConsensus(std::string_view consensus,
                                              std::string_view fingerprint);

// Accounting as channeld's counters report it (accounting_*: channeld/net/hibernation.h).
struct AccountingCounters {
  bool enabled = false;
  uint64_t state = 0;  // 0 awake, 1 soft, 2 hard
  uint64_t read = 0, written = 0, leftRead = 0, leftWritten = 0;
  int64_t start = 0, wake = 0, end = 0;
};
// Takes channeld's counter `name` if it is one of accounting's.
void readAccountingCounter(AccountingCounters& a, std::string_view name, uint64_t value);
// C tor's answers to GETINFO accounting/enabled ("0"/"1"), accounting/hibernating ("awake",
// "soft", "hard"), accounting/bytes and accounting/bytes-left ("READ WRITTEN"), and
// accounting/interval-start, -wake, -end ("YYYY-MM-DD HH:MM:SS", UTC); nullopt for other keys.
std::optional<std::string> accountingInfo(std::string_view key, const AccountingCounters& a);
// Their lines of GETINFO info/names (C tor's texts), joined by "\n".
inline constexpr const char* kAccountingInfoNames =
    "accounting/bytes -- Number of bytes read/written so far in the accounting interval.\n"
    "accounting/bytes-left -- Number of bytes left to write/read so far in the accounting "
    "interval.\n"
    "accounting/enabled -- Is accounting currently enabled?\n"
    "accounting/hibernating -- Are we hibernating or awake?\n"
    "accounting/interval-end -- Time when the accounting period ends.\n"
    "accounting/interval-start -- Time when the accounting period starts.\n"
    "accounting/interval-wake -- Time to wake up in this accounting period.";

}  // namespace onionsplit::control
