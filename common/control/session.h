// common/control/session.h: one controller connection's state (control-spec §3), pure: it turns
// commands (protocol.h) into replies, asking a Backend for what the relay knows and does.
//
// Hostile controller: before authentication only PROTOCOLINFO (once), AUTHCHALLENGE,
// AUTHENTICATE and QUIT are answered, anything else gets C tor's 514 and the connection closes;
// a failed AUTHENTICATE closes it too (515). Reply texts are C tor's.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/control/auth.h"
#include "common/control/events.h"
#include "common/control/protocol.h"

namespace onionsplit::control {

class Backend {
 public:
  virtual ~Backend() = default;
  // GETINFO: the value of `key`, nullopt if it is not a key this relay answers (552), or nullopt
  // with `error` set when it is one but has no answer now (C tor's 551, e.g. "Address unknown").
  virtual std::optional<std::string> info(std::string_view key, std::string& error) = 0;
  // GETCONF: the option's canonical name and its values (none: unset, shown as "Name"); nullopt
  // if it is not an option.
  virtual std::optional<std::pair<std::string, std::vector<std::string>>> conf(
      std::string_view key) = 0;
  // SIGNAL: `name` upper-cased (RELOAD, HUP, SHUTDOWN, ...). "" when done (or queued: the 250 OK
  // is sent after it returns); the whole reply line without its CRLF when the relay refuses it
  // where it runs (e.g. "551 ..." for SHUTDOWN under systemd); nullopt if not a signal it knows.
  virtual std::optional<std::string> signal(const std::string& name) = 0;
  // SETCONF/RESETCONF of options settableOption() allows, already checked by name: each option
  // with its new values (none: back to its default). "" when they are in force, else the whole
  // reply line without its CRLF (C tor's "513 Unacceptable option value: ...").
  virtual std::string setConf(const std::vector<ConfChange>& changes) = 0;
  // LOADCONF: the entries in force (a new configuration is compared with them).
  virtual std::vector<config::TorrcEntry> entries() { return {}; }
  // `n` random bytes (SAFECOOKIE's server nonce).
  virtual std::string random(size_t n) = 0;
  // TAKEOWNERSHIP: "" when the relay will stop as C tor's does once the owning connection closes;
  // else the reply line refusing it (without its CRLF), where the relay cannot be stopped so.
  virtual std::string takeOwnership() { return {}; }
};

// The canonical name of an option SETCONF and RESETCONF may change while the relay runs (those a
// reload applies without a restart, and that give a controller no way to open files, listeners
// or authentication); nullopt for every other.
std::optional<std::string> settableOption(std::string_view name);

// The event names SETEVENTS accepts (C tor's), space-separated as GETINFO events/names shows them.
const std::vector<std::string_view>& eventNames();

class Session {
 public:
  Session(const AuthConfig& auth, Backend& backend, std::string version)
      : auth_(auth), backend_(backend), version_(std::move(version)) {}

  // Appends the reply to `out`; false when the connection must close once `out` is sent.
  bool handle(const Command& c, std::string& out);
  bool authenticated() const { return authenticated_; }
  bool wants(std::string_view event) const { return events_.count(std::string(event)) > 0; }
  // TAKEOWNERSHIP was the last of TAKEOWNERSHIP and DROPOWNERSHIP: the relay stops (as on
  // SIGTERM) when this connection closes.
  bool owning() const { return owning_; }
  // __OwningControllerFD: the connection the relay was started with is authenticated and owns the
  // relay from the start, as C tor makes it.
  void trustAsOwner() {
    authenticated_ = true;
    owning_ = true;
  }

 private:
  bool protocolInfo(const Command& c, std::string& out);
  bool authChallenge(const Command& c, std::string& out);
  bool authenticate(const Command& c, std::string& out);
  std::string checkSecret(const std::string& secret, bool quoted);
  std::string getInfo(const std::vector<Arg>& args);
  std::string getConf(const std::vector<Arg>& args);
  std::string setEvents(const std::vector<Arg>& args);
  std::string useFeature(const std::vector<Arg>& args);
  std::string setConf(const std::vector<Arg>& args);
  std::string loadConf(const std::string& text);
  bool dispatch(const Command& c, std::string& out);

  const AuthConfig& auth_;
  Backend& backend_;
  std::string version_;
  bool authenticated_ = false;
  bool sentProtocolInfo_ = false;
  bool owning_ = false;
  std::optional<Digest256> safeCookieClientHash_;
  std::set<std::string> events_;
};

}  // namespace onionsplit::control
