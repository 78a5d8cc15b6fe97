// common/config/control_options.h: C tor's control port options (pure): ControlPort, ControlSocket,
// CookieAuthentication, CookieAuthFile, CookieAuthFileGroupReadable and HashedControlPassword, read
// with C tor's syntax into ControlOptions. A ControlPort is served only on a loopback address
// (127.0.0.0/8 or ::1): anything else is refused, as the port has no TLS and a password or cookie
// would cross the network in the clear.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace onionsplit::config {

struct ControlPortAddress {
  std::string address = "127.0.0.1";  // IPv4 or IPv6 literal (no brackets), always loopback
  uint16_t port = 0;
};

struct ControlOptions {
  std::vector<ControlPortAddress> ports;  // ControlPort lines other than 0
  std::vector<std::string> sockets;       // ControlSocket PATH and ControlPort unix:PATH
  // Each socket's mode as C tor gives it: 0600, 0660 with its GroupWritable flag or
  // ControlSocketsGroupWritable 1, 0666 with WorldWritable (by the socket's index).
  std::vector<unsigned> socketModes;
  bool socketsGroupWritable = false;  // ControlSocketsGroupWritable
  unsigned socketMode(size_t i) const {
    unsigned m = i < socketModes.size() ? socketModes[i] : 0600;
    return socketsGroupWritable ? (m | 0060) : m;
  }
  bool cookieAuthentication = false;
  std::string cookieAuthFile;  // "" = DataDirectory/control_auth_cookie
  bool cookieAuthFileGroupReadable = false;
  std::vector<std::string> hashedControlPasswords;  // "16:" + 58 hex digits each
  // __OwningControllerProcess: the relay exits once this process is gone (0: none). It may
  // change at runtime (SETCONF), so sameControlOptions leaves it out.
  int owningControllerProcess = 0;
  // __OwningControllerFD: a connected socket the launcher inherits and serves as C tor does, as an
  // authenticated controller that owns the relay (it stops when that connection closes); -1: none.
  // Fixed while running, as in C tor.
  int owningControllerFd = -1;
  bool enabled() const { return !ports.empty() || !sockets.empty(); }
};

struct Config;

// nullopt if `key` is none of these options; else the outcome of reading `value` into `c`.
std::optional<Expected<void, std::string>> applyControlOption(Config& c, std::string_view key,
                                                              std::string_view value);

// The cookie file's path: CookieAuthFile, else DataDirectory/control_auth_cookie (as C tor).
std::string cookieAuthFilePath(const Config& c);

// The control listeners and their authentication are set up at start: a reload that changes them
// is refused (reload.h's fixedWhileRunning).
bool sameControlOptions(const ControlOptions& a, const ControlOptions& b);

// After every entry: a warning when a control listener is open without authentication.
std::vector<std::string> controlWarnings(const Config& c);

}  // namespace onionsplit::config
