// common/exitpolicy/exit_policy.cc: see exit_policy.h.
#include "common/exitpolicy/exit_policy.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace onionsplit::exitpolicy {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

std::optional<unsigned> parseNum(std::string_view s, unsigned max) {
  unsigned v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

// Zeroes the host bits of `a` beyond `bits`.
IpAddress networkOf(IpAddress a, unsigned bits) {
  unsigned total = a.family == 4 ? 32 : 128;
  for (unsigned i = bits; i < total; ++i)
    a.b[i / 8] &= static_cast<uint8_t>(~(0x80u >> (i % 8)));
  return a;
}

Rule makeRule(bool accept, std::string_view addr, unsigned bits) {
  Rule r;
  r.accept = accept;
  r.addr = *IpAddress::parse(addr);
  r.maskBits = static_cast<uint8_t>(bits);
  return r;
}

// "private" (tor's manual): internal and link-local networks of both families.
std::vector<Rule> privateRules(bool accept) {
  return {makeRule(accept, "0.0.0.0", 8),   makeRule(accept, "169.254.0.0", 16),
          makeRule(accept, "127.0.0.0", 8), makeRule(accept, "192.168.0.0", 16),
          makeRule(accept, "10.0.0.0", 8),  makeRule(accept, "172.16.0.0", 12),
          makeRule(accept, "::", 8),        makeRule(accept, "fc00::", 7),
          makeRule(accept, "fe80::", 10),   makeRule(accept, "fec0::", 10),
          makeRule(accept, "ff00::", 8),    makeRule(accept, "::", 127)};
}

constexpr std::string_view kDefaultPolicy[] = {
    "reject *:25",   "reject *:119",       "reject *:135-139",   "reject *:445",
    "reject *:563",  "reject *:1214",      "reject *:4661-4666", "reject *:6346-6429",
    "reject *:6699", "reject *:6881-6999", "accept *:*",
};

// ReducedExitPolicy, as listed in tor(1) for 0.4.9.
constexpr std::string_view kReducedPorts[] = {
    "20-21", "22",        "23",        "43",        "53",        "79",        "80-81",     "88",
    "110",   "143",       "194",       "220",       "389",       "443",       "464",       "465",
    "531",   "543-544",   "554",       "563",       "587",       "636",       "706",       "749",
    "873",   "902-904",   "981",       "989-990",   "991",       "992",       "993",       "994",
    "995",   "1194",      "1220",      "1293",      "1500",      "1533",      "1677",      "1723",
    "1755",  "1863",      "2082",      "2083",      "2086-2087", "2095-2096", "2102-2104", "3128",
    "3389",  "3690",      "4321",      "4643",      "5050",      "5190",      "5222-5223", "5228",
    "5900",  "6660-6669", "6679",      "6697",      "8000",      "8008",      "8074",      "8080",
    "8082",  "8087-8088", "8232-8233", "8332-8333", "8443",      "8888",      "9418",      "9999",
    "10000", "11371",     "19294",     "19638",     "50002",     "64738",
};

std::string portText(uint16_t lo, uint16_t hi) {
  if (lo == 1 && hi == 65535) return "*";
  if (lo == hi) return std::to_string(lo);
  return std::to_string(lo) + "-" + std::to_string(hi);
}

Expected<void, std::string> appendItem(std::vector<Rule>& out, std::string_view item) {
  auto rules = parseItem(item);
  if (!rules) return fail(rules.error());
  out.insert(out.end(), rules->begin(), rules->end());
  return {};
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  IpAddress a;
  if (text.find(':') == text.npos) {
    a.family = 4;
    if (inet_pton(AF_INET, buf, a.b.data()) != 1) return std::nullopt;
  } else {
    a.family = 6;
    if (inet_pton(AF_INET6, buf, a.b.data()) != 1) return std::nullopt;
  }
  return a;
}

std::string IpAddress::toString() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family == 4 ? AF_INET : AF_INET6, b.data(), buf, sizeof buf);
  return buf;
}

bool Rule::matches(const IpAddress& a, uint16_t port) const {
  if (a.family != addr.family || port < portLo || port > portHi) return false;
  return networkOf(a, maskBits) == addr;
}

std::string Rule::toString() const {
  std::string s = accept ? "accept " : "reject ";
  if (maskBits == 0) {
    s += addr.family == 4 ? "*4" : "*6";
  } else if (addr.family == 4) {
    s += addr.toString();
    if (maskBits != 32) s += "/" + std::to_string(maskBits);
  } else {
    s += "[" + addr.toString() + "]";
    if (maskBits != 128) s += "/" + std::to_string(maskBits);
  }
  return s + ":" + portText(portLo, portHi);
}

Expected<std::vector<Rule>, std::string> parseItem(std::string_view item) {
  item = trim(item);
  size_t sp = item.find_first_of(" \t");
  if (sp == item.npos) return fail("exit policy item \"" + std::string(item) + "\" has no pattern");
  std::string_view verb = item.substr(0, sp);
  std::string_view pattern = trim(item.substr(sp));
  bool accept, only6 = false;
  if (verb == "accept" || verb == "accept6") {
    accept = true;
  } else if (verb == "reject" || verb == "reject6") {
    accept = false;
  } else {
    return fail("exit policy item must start with accept or reject: \"" + std::string(item) + "\"");
  }
  only6 = verb.back() == '6';

  // Split ADDR[/MASK][:PORT]; an IPv6 address is bracketed.
  std::string_view addrPart, portPart = "*";
  if (!pattern.empty() && pattern.front() == '[') {
    size_t close = pattern.find(']');
    if (close == pattern.npos)
      return fail("unterminated IPv6 address in \"" + std::string(item) + "\"");
    size_t colon = pattern.find(':', close);
    addrPart = pattern.substr(0, colon == pattern.npos ? pattern.npos : colon);
    if (colon != pattern.npos) portPart = pattern.substr(colon + 1);
  } else {
    size_t colon = pattern.find(':');
    addrPart = pattern.substr(0, colon);
    if (colon != pattern.npos) portPart = pattern.substr(colon + 1);
  }
  if (addrPart.empty()) return fail("empty address in \"" + std::string(item) + "\"");

  uint16_t lo = 1, hi = 65535;
  if (portPart != "*") {
    size_t dash = portPart.find('-');
    auto a = parseNum(portPart.substr(0, dash), 65535);
    auto b = dash == portPart.npos ? a : parseNum(portPart.substr(dash + 1), 65535);
    if (!a || !b || *a > *b || *a == 0)
      return fail("bad port \"" + std::string(portPart) + "\" in \"" + std::string(item) + "\"");
    lo = static_cast<uint16_t>(*a);
    hi = static_cast<uint16_t>(*b);
  }

  std::vector<Rule> out;
  auto add = [&](Rule r) {
    r.portLo = lo;
    r.portHi = hi;
    out.push_back(r);
  };
  if (addrPart == "private") {
    for (Rule r : privateRules(accept))
      add(r);
    return out;
  }
  if (addrPart == "*" || addrPart == "*4" || addrPart == "*6") {
    if (addrPart != "*6" && !only6) add(makeRule(accept, "0.0.0.0", 0));
    if (addrPart != "*4") add(makeRule(accept, "::", 0));
    return out;
  }
  std::string_view host = addrPart, mask;
  if (size_t slash = addrPart.find('/'); slash != addrPart.npos) {
    host = addrPart.substr(0, slash);
    mask = addrPart.substr(slash + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto ip = IpAddress::parse(host);
  if (!ip)
    return fail("bad address \"" + std::string(host) + "\" in \"" + std::string(item) + "\"");
  unsigned maxBits = ip->family == 4 ? 32 : 128;
  unsigned bits = maxBits;
  if (!mask.empty()) {
    auto m = parseNum(mask, maxBits);
    if (!m) return fail("bad mask \"" + std::string(mask) + "\" in \"" + std::string(item) + "\"");
    bits = *m;
  }
  if (only6 && ip->family == 4) return out;  // C tor ignores IPv4 addresses in accept6/reject6
  Rule r;
  r.accept = accept;
  r.addr = networkOf(*ip, bits);
  r.maskBits = static_cast<uint8_t>(bits);
  add(r);
  return out;
}

bool resolveExitRelay(std::optional<bool> exitRelay, bool hasExitPolicy, bool reduced,
                      bool ipv6Exit) {
  if (exitRelay) return *exitRelay;
  return hasExitPolicy || reduced || ipv6Exit;
}

Policy Policy::rejectAll() {
  Policy p;
  p.rules_ = *parseItem("reject *:*");
  return p;
}

Expected<Policy, std::string> Policy::build(const PolicyInputs& in) {
  if (!in.exitRelay) return rejectAll();
  Policy p;
  auto& r = p.rules_;
  if (!in.ipv6Exit) {
    if (auto s = appendItem(r, "reject *6:*"); !s) return fail(s.error());
  }
  if (in.rejectPrivate) {
    if (auto s = appendItem(r, "reject private:*"); !s) return fail(s.error());
    for (const IpAddress& a : in.ownAddresses) {
      Rule own;
      own.accept = false;
      own.addr = a;
      own.maskBits = a.family == 4 ? 32 : 128;
      r.push_back(own);
    }
  }
  for (const std::string& item : in.items) {
    if (auto s = appendItem(r, item); !s) return fail(s.error());
  }
  if (in.reduced) {
    for (std::string_view ports : kReducedPorts) {
      if (auto s = appendItem(r, "accept *:" + std::string(ports)); !s) return fail(s.error());
    }
    if (auto s = appendItem(r, "reject *:*"); !s) return fail(s.error());
  } else {
    for (std::string_view item : kDefaultPolicy) {
      if (auto s = appendItem(r, item); !s) return fail(s.error());
    }
  }
  return p;
}

Verdict Policy::evaluate(const IpAddress& a, uint16_t port) const {
  for (const Rule& r : rules_)
    if (r.matches(a, port)) return r.accept ? Verdict::kAccept : Verdict::kReject;
  return Verdict::kReject;
}

bool Policy::mayAcceptPort(uint8_t family, uint16_t port) const {
  for (const Rule& r : rules_) {
    if (r.addr.family != family || port < r.portLo || port > r.portHi) continue;
    if (r.accept) return true;
    if (r.maskBits == 0) return false;  // everything left of this family is rejected
  }
  return false;
}

bool Policy::isExit() const {
  for (const Rule& r : rules_)
    if (r.accept) return true;
  return false;
}

std::string Policy::descriptorLines() const {
  std::string out;
  for (const Rule& r : rules_) {
    if (r.addr.family != 4) continue;
    std::string line = r.toString();
    if (r.maskBits == 0) line.replace(line.find("*4"), 2, "*");
    out += line + "\n";
    if (r.maskBits == 0 && r.portLo == 1 && r.portHi == 65535) break;  // nothing after matters
  }
  if (out.empty()) out = "reject *:*\n";
  return out;
}

std::string Policy::ipv6Summary() const {
  // Decide each port by the first IPv6 rule that covers the whole address space for it; rules for
  // smaller networks (private ranges, our own address) do not change what "most" addresses get.
  std::vector<std::pair<uint16_t, uint16_t>> accepted;
  uint32_t port = 1;
  while (port <= 65535) {
    bool accept = false;
    uint32_t end = 65535;
    for (const Rule& r : rules_) {
      if (r.addr.family != 6 || r.maskBits != 0) continue;
      if (port >= r.portLo && port <= r.portHi) {
        accept = r.accept;
        end = std::min<uint32_t>(end, r.portHi);
        break;
      }
      if (r.portLo > port) end = std::min<uint32_t>(end, r.portLo - 1u);
    }
    if (accept) {
      if (!accepted.empty() && accepted.back().second + 1u == port)
        accepted.back().second = static_cast<uint16_t>(end);
      else
        accepted.emplace_back(static_cast<uint16_t>(port), static_cast<uint16_t>(end));
    }
    port = end + 1;
  }
  if (accepted.empty()) return "reject 1-65535";
  std::string s = "accept ";
  for (size_t i = 0; i < accepted.size(); ++i) {
    if (i) s += ",";
    s += accepted[i].first == accepted[i].second
             ? std::to_string(accepted[i].first)
             : std::to_string(accepted[i].first) + "-" + std::to_string(accepted[i].second);
  }
  return s;
}

}  // namespace onionsplit::exitpolicy
