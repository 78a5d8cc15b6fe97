// fuzz/fuzz_control_protocol.cc: a hostile controller's bytes through the control port's framing,
// argument parser and session (common/control). Invariants: the reader never holds more than its
// command cap, nothing but the authentication commands is answered with 250 before
// authentication, every reply ends in CRLF, and SETCONF reaches the relay only with options
// settableOption() allows. The same bytes as a daemon's relayed line and as consensus text: a log
// event is one line, a consensus entry is whole lines.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/control/relay_info.h"
#include "common/control/session.h"

namespace {

using namespace onionsplit::control;

struct FuzzBackend : Backend {
  std::optional<std::string> info(std::string_view key, std::string& error) override {
    if (key == "address") error = "Address unknown";
    if (key == "version") return std::string("0.4.9.11");
    if (key == "exit-policy/full") return std::string("accept *:80\n.reject *:*\n");
    return std::nullopt;
  }
  std::optional<std::pair<std::string, std::vector<std::string>>> conf(
      std::string_view key) override {
    if (iequals(key, "Nickname"))
      return std::make_pair(std::string("Nickname"), std::vector<std::string>{"x"});
    return std::nullopt;
  }
  std::optional<std::string> signal(const std::string& name) override {
    if (name == "HALT") return "551 not here";
    return name == "RELOAD" ? std::optional<std::string>("") : std::nullopt;
  }
  std::string setConf(const std::vector<ConfChange>& changes) override {
    for (const auto& c : changes)
      if (settableOption(c.first) != c.first) __builtin_trap();
    return changes.size() > 2 ? "513 Unacceptable option value: x" : "";
  }
  std::string random(size_t n) override { return std::string(n, '\x01'); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  AuthConfig auth;
  auth.cookieAuthentication = data[0] & 1;
  if (data[0] & 2)
    auth.hashedPasswords = {"16:5D8816B349AB98E260174D7E3CC75A693E2C26CFC93670004C45053B5C"};
  auth.cookieFile = "/tmp/cookie";
  FuzzBackend backend;
  Session session(auth, backend, "0.4.9.11");
  CommandReader reader;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string event = logEvent(relayedLogLine(in));
  if (event.find_first_of("\r\n") != event.size() - 2) __builtin_trap();
  for (const auto& entry : {entryByName(in, "x"), entryById(in, std::string(40, 'A'))})
    if (entry && (entry->empty() || entry->back() != '\n')) __builtin_trap();
  // In pieces, as a socket delivers them.
  for (size_t off = 0; off < in.size(); off += 7) {
    if (!reader.feed(in.substr(off, 7))) break;
    if (reader.buffered() > kMaxCommandBytes) __builtin_trap();
    while (auto c = reader.next()) {
      bool before = session.authenticated();
      std::string out;
      bool open = session.handle(*c, out);
      if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) __builtin_trap();
      bool authCommand = iequals(c->keyword, "AUTHENTICATE") ||
                         iequals(c->keyword, "AUTHCHALLENGE") ||
                         iequals(c->keyword, "PROTOCOLINFO") || iequals(c->keyword, "QUIT");
      if (!before && !authCommand && (open || out.compare(0, 3, "514") != 0)) __builtin_trap();
      if (!open) return 0;
    }
  }
  return 0;
}
