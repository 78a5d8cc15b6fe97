// common/exitpolicy/exit_policy.h: exit policies (pure): parse the torrc's ExitPolicy items
// (dir-spec §2.1.3 exitpattern grammar plus torrc's accept6/reject6, *4, *6 and "private"), build
// the effective policy as C tor does, match a destination (first match wins), and write the
// descriptor's accept/reject lines and ipv6-policy summary.
//
// Where it sits: streamd evaluates every BEGIN/RESOLVE destination against the policy; channeld
// writes it into the server descriptor. Both build it from the same Config, so they agree.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"

namespace onionsplit::exitpolicy {

struct IpAddress {
  uint8_t family = 4;           // 4 or 6
  std::array<uint8_t, 16> b{};  // IPv4 in b[0..3]

  static std::optional<IpAddress> parse(
      std::string_view text);  // dotted quad or IPv6 (no brackets)
  std::string toString() const;
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

struct Rule {
  bool accept = false;
  IpAddress addr;        // network address (host bits zero)
  uint8_t maskBits = 0;  // 0..32 for IPv4, 0..128 for IPv6
  uint16_t portLo = 1;
  uint16_t portHi = 65535;

  bool matches(const IpAddress& a, uint16_t port) const;
  std::string toString() const;  // "accept 10.0.0.0/8:80-81", "reject [fc00::]/7:*"
};

// Parses one policy item ("accept 1.2.3.0/24:80-443", "reject *:25", "accept6 [::1]:*",
// "reject private:*"). One item can yield several rules ("*" is *4 and *6; "private" is a list).
// A torrc IPv4 address with accept6/reject6 yields no rule (C tor ignores it with a warning).
Expected<std::vector<Rule>, std::string> parseItem(std::string_view item);

enum class Verdict : uint8_t { kAccept, kReject };

struct PolicyInputs {
  bool exitRelay = false;          // ExitRelay after "auto" is resolved (see resolveExitRelay)
  std::vector<std::string> items;  // ExitPolicy items in order
  bool rejectPrivate = true;
  bool ipv6Exit = false;
  bool reduced = false;
  std::vector<IpAddress> ownAddresses;  // rejected when rejectPrivate (the advertised addresses)
};

// C tor's ExitRelay auto: exit iff any of ExitPolicy, ReducedExitPolicy, IPv6Exit is set.
bool resolveExitRelay(std::optional<bool> exitRelay, bool hasExitPolicy, bool reduced,
                      bool ipv6Exit);

class Policy {
 public:
  // Builds the effective policy: "reject *6:*" unless IPv6Exit, then "reject private:*" and the
  // relay's own addresses if rejectPrivate, then the configured items, then the default (or
  // reduced) policy. A non-exit relay's policy is "reject *:*".
  static Expected<Policy, std::string> build(const PolicyInputs& in);
  static Policy rejectAll();

  Verdict evaluate(const IpAddress& a, uint16_t port) const;
  // Whether some address of `family` may be reached on `port` (for a BEGIN to a hostname before
  // it is resolved: C tor refuses early only when no address could be allowed).
  bool mayAcceptPort(uint8_t family, uint16_t port) const;
  bool isExit() const;

  // The descriptor's IPv4 "accept"/"reject" lines, each ending in "\n", redundant rules removed.
  std::string descriptorLines() const;
  // The descriptor's "ipv6-policy" value ("accept 80,443" / "reject 1-65535"), per dir-spec.
  std::string ipv6Summary() const;

  const std::vector<Rule>& rules() const { return rules_; }

 private:
  std::vector<Rule> rules_;
};

}  // namespace onionsplit::exitpolicy
