// common/config/control_options.cc: see control_options.h. Syntax and defaults are C tor 0.4.9's
// (tor(1)).
#include "common/config/control_options.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "common/config/config.h"
#include "common/config/text.h"

namespace onionsplit::config {
namespace {

using Status = Expected<void, std::string>;
using text::iequals;

bool isLoopback(const std::string& address) {
  in_addr v4{};
  if (inet_pton(AF_INET, address.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, address.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

std::optional<uint16_t> port(std::string_view s) {
  auto n = text::number<uint32_t>(s);
  if (!n || *n > 65535) return std::nullopt;
  return static_cast<uint16_t>(*n);
}

// "[address:]port", "unix:PATH" or "0"; flags after the first word are refused (none is done).
Status readControlPort(ControlOptions& o, std::string_view v) {
  auto words = text::split(text::trim(v), ' ');
  if (words.empty() || words[0].empty()) return fail(std::string("ControlPort needs a port"));
  if (words.size() > 1)
    return fail("ControlPort: onionsplit takes no flags (\"" + std::string(words[1]) + "\")");
  std::string_view w = words[0];
  if (w.substr(0, 5) == "unix:") {
    if (w.size() == 5) return fail(std::string("ControlPort unix: needs a path"));
    o.sockets.emplace_back(w.substr(5));
    return {};
  }
  if (iequals(w, "auto"))
    return fail(std::string("ControlPort auto: onionsplit needs a fixed port"));
  ControlPortAddress a;
  std::string_view portText = w;
  if (!w.empty() && w.front() == '[') {
    size_t close = w.find("]:");
    if (close == w.npos) return fail("ControlPort: bad address " + std::string(w));
    a.address = std::string(w.substr(1, close - 1));
    portText = w.substr(close + 2);
  } else if (size_t colon = w.rfind(':'); colon != w.npos) {
    a.address = std::string(w.substr(0, colon));
    portText = w.substr(colon + 1);
  }
  auto p = port(portText);
  if (!p) return fail("ControlPort: bad port \"" + std::string(portText) + "\"");
  if (*p == 0) return {};
  if (!isLoopback(a.address))
    return fail("ControlPort " + a.address +
                ": onionsplit serves the control port only on a loopback address (127.0.0.1 or "
                "::1); use an SSH tunnel to reach it from elsewhere");
  a.port = *p;
  o.ports.push_back(std::move(a));
  return {};
}

Status readHashedPassword(ControlOptions& o, std::string_view v) {
  std::string_view h = text::trim(v);
  bool ok = h.size() == 61 && h.substr(0, 3) == "16:";
  for (size_t i = 3; ok && i < h.size(); ++i)
    ok = std::isxdigit(static_cast<unsigned char>(h[i])) != 0;
  if (!ok)
    return fail("HashedControlPassword: \"" + std::string(h) +
                "\" is not what tor --hash-password prints (16: and 58 hex digits)");
  o.hashedControlPasswords.emplace_back(h);
  return {};
}

Status readBool(bool& out, std::string_view name, std::string_view v) {
  auto b = parseBool(text::trim(v));
  if (!b) return fail(std::string(name) + " takes 0 or 1, not \"" + std::string(v) + "\"");
  out = *b;
  return {};
}

// C tor's process specifier: a pid (1 and up), optionally followed by a space or a colon and
// anything (room C tor keeps for more than the pid; ignored).
Status readOwningProcess(ControlOptions& o, std::string_view v) {
  std::string_view t = text::trim(v);
  size_t end = t.find_first_of(" :");
  auto pid = text::number<uint32_t>(t.substr(0, end));
  if (!pid || *pid == 0 || *pid > 0x7fffffff)
    return fail(std::string("Bad OwningControllerProcess: invalid PID"));
  o.owningControllerProcess = static_cast<int>(*pid);
  return {};
}

// A file descriptor number (C tor reads a 64-bit number; onionsplit's fds are ints).
Status readOwningFd(ControlOptions& o, std::string_view v) {
  auto fd = text::number<uint32_t>(text::trim(v));
  if (!fd || *fd > 0x7fffffff)
    return fail("__OwningControllerFD: not a file descriptor number: \"" + std::string(v) + "\"");
  o.owningControllerFd = static_cast<int>(*fd);
  return {};
}

// ControlSocket PATH [flags] (C tor's forms: PATH or unix:PATH, then GroupWritable, WorldWritable,
// RelaxDirModeCheck). RelaxDirModeCheck is accepted: onionsplit does not check the directory.
Status readControlSocket(ControlOptions& o, std::string_view value) {
  std::string_view v = text::trim(value);
  if (v == "0") return {};
  size_t end = v.find_first_of(" \t");
  std::string_view path = v.substr(0, end);
  if (path.starts_with("unix:")) path.remove_prefix(5);
  if (path.empty() || path.front() != '/')
    return fail("ControlSocket: needs an absolute path, not \"" + std::string(path) + "\"");
  unsigned mode = 0600;
  std::string_view flags = end == std::string_view::npos ? "" : text::trim(v.substr(end));
  while (!flags.empty()) {
    size_t sp = flags.find_first_of(" \t");
    std::string_view f = flags.substr(0, sp);
    if (iequals(f, "GroupWritable"))
      mode |= 0060;
    else if (iequals(f, "WorldWritable"))
      mode |= 0066;
    else if (!iequals(f, "RelaxDirModeCheck"))
      return fail("ControlSocket: unknown flag \"" + std::string(f) + "\"");
    flags = sp == std::string_view::npos ? "" : text::trim(flags.substr(sp));
  }
  o.sockets.emplace_back(path);
  o.socketModes.resize(o.sockets.size(), 0600);
  o.socketModes.back() = mode;
  return {};
}

}  // namespace

std::optional<Status> applyControlOption(Config& c, std::string_view key, std::string_view value) {
  ControlOptions& o = c.control;
  if (iequals(key, "ControlPort")) return readControlPort(o, value);
  if (iequals(key, "ControlSocket")) return readControlSocket(o, value);
  if (iequals(key, "ControlSocketsGroupWritable"))
    return readBool(o.socketsGroupWritable, "ControlSocketsGroupWritable", value);
  if (iequals(key, "CookieAuthentication"))
    return readBool(o.cookieAuthentication, "CookieAuthentication", value);
  if (iequals(key, "CookieAuthFileGroupReadable"))
    return readBool(o.cookieAuthFileGroupReadable, "CookieAuthFileGroupReadable", value);
  if (iequals(key, "CookieAuthFile")) {
    o.cookieAuthFile = std::string(text::trim(value));
    return Status{};
  }
  if (iequals(key, "HashedControlPassword")) return readHashedPassword(o, value);
  if (iequals(key, "__OwningControllerProcess")) return readOwningProcess(o, value);
  if (iequals(key, "__OwningControllerFD")) return readOwningFd(o, value);
  return std::nullopt;
}

std::string cookieAuthFilePath(const Config& c) {
  if (!c.control.cookieAuthFile.empty()) return c.control.cookieAuthFile;
  return c.dataDirectory + "/control_auth_cookie";
}

bool sameControlOptions(const ControlOptions& a, const ControlOptions& b) {
  auto sameAddress = [](const ControlPortAddress& x, const ControlPortAddress& y) {
    return x.address == y.address && x.port == y.port;
  };
  return std::equal(a.ports.begin(), a.ports.end(), b.ports.begin(), b.ports.end(), sameAddress) &&
         a.sockets == b.sockets && a.socketModes == b.socketModes &&
         a.socketsGroupWritable == b.socketsGroupWritable &&
         a.cookieAuthentication == b.cookieAuthentication && a.cookieAuthFile == b.cookieAuthFile &&
         a.cookieAuthFileGroupReadable == b.cookieAuthFileGroupReadable &&
         a.hashedControlPasswords == b.hashedControlPasswords &&
         a.owningControllerFd == b.owningControllerFd;
}

std::vector<std::string> controlWarnings(const Config& c) {
  const ControlOptions& o = c.control;
  if (!o.enabled() || o.cookieAuthentication || !o.hashedControlPasswords.empty()) return {};
  return {
      "ControlPort is open, but no authentication method has been configured: any program "
      "on this machine can control the relay; set CookieAuthentication 1 or "
      "HashedControlPassword"};
}

}  // namespace onionsplit::config
