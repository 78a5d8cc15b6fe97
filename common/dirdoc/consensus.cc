// common/dirdoc/consensus.cc: parsing the unflavored consensus (dir-spec §3.4.1) in sections:
// preamble, authorities (dir-source), router entries, footer, signatures.
#include "common/dirdoc/consensus.h"

#include <algorithm>
#include <utility>

namespace onionsplit::dirdoc {
namespace {

constexpr std::string_view kSigKeyword = "directory-signature";

enum class Section : uint8_t { kPreamble, kAuthorities, kRouters, kFooter, kSignatures };

struct FlagName {
  std::string_view name;
  RelayFlag flag;
};
constexpr std::array<FlagName, 14> kFlagNames = {{
    {"Authority", RelayFlag::kAuthority},
    {"BadExit", RelayFlag::kBadExit},
    {"Exit", RelayFlag::kExit},
    {"Fast", RelayFlag::kFast},
    {"Guard", RelayFlag::kGuard},
    {"HSDir", RelayFlag::kHSDir},
    {"MiddleOnly", RelayFlag::kMiddleOnly},
    {"NoEdConsensus", RelayFlag::kNoEdConsensus},
    {"Running", RelayFlag::kRunning},
    {"Stable", RelayFlag::kStable},
    {"StaleDesc", RelayFlag::kStaleDesc},
    {"Sybil", RelayFlag::kSybil},
    {"V2Dir", RelayFlag::kV2Dir},
    {"Valid", RelayFlag::kValid},
}};

bool isNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

// "1-3,5" into a bit set of versions 0..63.
std::optional<uint64_t> parseVersionRanges(std::string_view s) {
  uint64_t bits = 0;
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view range = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view{} : s.substr(comma + 1);
    if (comma != std::string_view::npos && s.empty()) return std::nullopt;  // trailing comma
    size_t dash = range.find('-');
    auto lo = parseInt(range.substr(0, dash), 0, kMaxProtocolVersion);
    auto hi = dash == std::string_view::npos
                  ? lo
                  : parseInt(range.substr(dash + 1), 0, kMaxProtocolVersion);
    if (!lo || !hi || *lo > *hi || range.starts_with('-')) return std::nullopt;
    for (int64_t v = *lo; v <= *hi; ++v)
      bits |= uint64_t{1} << v;
  }
  return bits;
}

std::string versionsText(uint64_t bits) {
  std::string out;
  for (unsigned v = 0; v <= kMaxProtocolVersion; ++v) {
    if (!(bits >> v & 1)) continue;
    unsigned end = v;
    while (end < kMaxProtocolVersion && (bits >> (end + 1) & 1))
      ++end;
    if (!out.empty()) out += ',';
    out += std::to_string(v);
    if (end > v) out += '-' + std::to_string(end);
    v = end;
  }
  return out;
}

std::optional<uint16_t> parsePort(std::string_view s) {
  auto v = parseInt(s, 0, 65535);
  if (!v || s.starts_with('-')) return std::nullopt;
  return static_cast<uint16_t>(*v);
}

std::optional<Sha1Digest> parseBase64Digest(std::string_view s) {
  auto b = decodeBase64(s);
  if (!b || b->size() != 20) return std::nullopt;
  Sha1Digest d{};
  std::copy(b->begin(), b->end(), d.begin());
  return d;
}

// The parser's state across items.
struct Parser {
  std::string_view text;
  Consensus c;
  Section section = Section::kPreamble;
  RouterEntry* router = nullptr;  // the entry whose lines are being read
  uint32_t routerSeen = 0;        // bit per keyword seen in the current entry (s v pr w p)
  bool sawVoteStatus = false, sawValidAfter = false, sawFreshUntil = false, sawValidUntil = false;
  bool sawKnownFlags = false, sawParams = false, sawVotingDelay = false;
  ConsensusParseOptions opts;

  Expected<void, DirError> item(const Item& it);
  Expected<void, DirError> preamble(const Item& it);
  Expected<void, DirError> protocols(const Item& it, ProtocolList& out);
  Expected<void, DirError> params(const Item& it);
  Expected<void, DirError> routerLine(const Item& it);
  Expected<void, DirError> routerBody(const Item& it);
  Expected<void, DirError> signature(const Item& it);
  Expected<void, DirError> finish(uint32_t lastLine);
};

Expected<void, DirError> once(bool& seen, const Item& it) {
  if (seen) return fail(malformedAt(it.line, std::string(it.keyword) + " appears twice"));
  seen = true;
  return {};
}

Expected<void, DirError> Parser::protocols(const Item& it, ProtocolList& out) {
  auto p = parseProtocolList(it.args);
  if (!p) return fail(malformedAt(it.line, std::string(it.keyword) + " is not a protocol list"));
  out = std::move(*p);
  return {};
}

Expected<void, DirError> Parser::params(const Item& it) {
  if (auto s = once(sawParams, it); !s) return s;
  if (it.args.size() > kMaxParams)
    return fail(DirError{DirErrc::kTooLarge, it.line, "too many params"});
  for (size_t i = 0; i < it.args.size(); ++i) {
    std::string_view a = it.args[i];
    size_t eq = a.find('=');
    std::string_view name = a.substr(0, eq);
    std::optional<int64_t> v;
    if (eq != std::string_view::npos) v = parseInt(a.substr(eq + 1), INT32_MIN, INT32_MAX);
    if (name.empty() || !v || !std::all_of(name.begin(), name.end(), isNameChar))
      return fail(malformedAt(it.line, "bad params entry " + std::string(a)));
    // dir-spec: "sorted in lexical order"; C tor (ns_parse.c) refuses a consensus whose
    // "name=value" entries are not in strictly increasing byte order or repeat a name.
    if (i > 0 && (it.args[i - 1] >= a || c.params.back().name == name))
      return fail(malformedAt(it.line, "params not sorted or repeated at " + std::string(a)));
    c.params.push_back(NetParam{std::string(name), static_cast<int32_t>(*v)});
  }
  return {};
}

Expected<void, DirError> Parser::preamble(const Item& it) {
  const std::string_view k = it.keyword;
  auto timeOf = [&](bool& seen, int64_t& out) -> Expected<void, DirError> {
    if (auto s = once(seen, it); !s) return s;
    auto t = it.args.size() == 2 ? parseIsoTime(it.args[0], it.args[1]) : std::nullopt;
    if (!t) return fail(malformedAt(it.line, std::string(k) + " is not a time"));
    out = *t;
    return {};
  };
  if (k == "vote-status") {
    if (auto s = once(sawVoteStatus, it); !s) return s;
    if (it.args.size() != 1 || it.args[0] != "consensus")
      return fail(malformedAt(it.line, "not a consensus (vote-status)"));
    return {};
  }
  if (k == "consensus-method") {
    auto m = it.args.size() == 1 ? parseInt(it.args[0], 1, UINT32_MAX) : std::nullopt;
    if (!m) return fail(malformedAt(it.line, "bad consensus-method"));
    c.consensusMethod = static_cast<uint32_t>(*m);
    return {};
  }
  if (k == "voting-delay") {
    if (auto s = once(sawVotingDelay, it); !s) return s;
    auto vote = it.args.size() == 2 ? parseInt(it.args[0], 0, INT32_MAX) : std::nullopt;
    auto dist = it.args.size() == 2 ? parseInt(it.args[1], 0, INT32_MAX) : std::nullopt;
    if (!vote || !dist || *vote < kMinVoteDistSeconds || *dist < kMinVoteDistSeconds)
      return fail(malformedAt(it.line, "bad voting-delay"));
    return {};
  }
  if (k == "valid-after") return timeOf(sawValidAfter, c.validAfterUnix);
  if (k == "fresh-until") return timeOf(sawFreshUntil, c.freshUntilUnix);
  if (k == "valid-until") return timeOf(sawValidUntil, c.validUntilUnix);
  if (k == "known-flags") {
    if (auto s = once(sawKnownFlags, it); !s) return s;
    for (size_t i = 1; i < it.args.size(); ++i)  // C tor: strictly increasing, else refused
      if (it.args[i - 1] >= it.args[i])
        return fail(malformedAt(it.line, "known-flags not in order"));
    c.knownFlags.assign(it.args.begin(), it.args.end());
    return {};
  }
  if (k == "recommended-relay-protocols") return protocols(it, c.recommendedRelayProtocols);
  if (k == "required-relay-protocols") return protocols(it, c.requiredRelayProtocols);
  if (k == "recommended-client-protocols") return protocols(it, c.recommendedClientProtocols);
  if (k == "required-client-protocols") return protocols(it, c.requiredClientProtocols);
  if (k == "params") return params(it);
  return {};  // voting-delay, versions, shared-rand-*, unknown keywords: not a relay's concern
}

Expected<void, DirError> Parser::routerLine(const Item& it) {
  // "r" nickname identity digest YYYY-MM-DD HH:MM:SS IP ORPort DirPort
  if (it.args.size() != 8) return fail(malformedAt(it.line, "r line needs 8 arguments"));
  if (c.routers.size() >= kMaxRouters)
    return fail(DirError{DirErrc::kTooLarge, it.line, "too many router entries"});
  RouterEntry e;
  e.line = it.line;
  e.nickname = std::string(it.args[0]);
  auto id = parseBase64Digest(it.args[1]);
  auto desc = parseBase64Digest(it.args[2]);
  auto pub = parseIsoTime(it.args[3], it.args[4]);
  auto ip = exitpolicy::IpAddress::parse(it.args[5]);
  auto orPort = parsePort(it.args[6]);
  auto dirPort = parsePort(it.args[7]);
  bool nickOk = !e.nickname.empty() && e.nickname.size() <= 19 &&
                std::all_of(e.nickname.begin(), e.nickname.end(),
                            [](char ch) { return isNameChar(ch) && ch != '-' && ch != '_'; });
  if (!nickOk || !id || !desc || !pub || !ip || ip->family != 4 || !orPort || !dirPort)
    return fail(malformedAt(it.line, "bad r line"));
  if (!c.routers.empty() && !(c.routers.back().identity < *id))
    return fail(malformedAt(it.line, "router entries not sorted by identity"));
  e.identity = *id;
  e.descriptorDigest = *desc;
  e.publishedUnix = *pub;
  e.ipv4 = *ip;
  e.orPort = *orPort;
  e.dirPort = *dirPort;
  c.routers.push_back(std::move(e));
  router = &c.routers.back();
  routerSeen = 0;
  return {};
}

// The "a s v pr w p" lines of the current router entry.
Expected<void, DirError> Parser::routerBody(const Item& it) {
  const std::string_view k = it.keyword;
  static constexpr std::array<std::string_view, 5> kOnce = {"s", "v", "pr", "w", "p"};
  for (size_t i = 0; i < kOnce.size(); ++i) {
    if (k != kOnce[i]) continue;
    if (routerSeen >> i & 1) return fail(malformedAt(it.line, std::string(k) + " appears twice"));
    routerSeen |= 1u << i;
  }
  if (k == "a") {
    std::string_view a = it.args.size() == 1 ? it.args[0] : std::string_view{};
    size_t close = a.rfind("]:");
    if (!a.starts_with('[') || close == std::string_view::npos)
      return fail(malformedAt(it.line, "bad a line"));
    auto ip = exitpolicy::IpAddress::parse(a.substr(1, close - 1));
    auto port = parsePort(a.substr(close + 2));
    if (!ip || ip->family != 6 || !port || *port == 0)
      return fail(malformedAt(it.line, "bad a line"));
    if (!router->ipv6) {
      router->ipv6 = *ip;
      router->ipv6OrPort = *port;
    }
  } else if (k == "s") {
    // As C tor reads a consensus (not a vote): flags by name, unknown ones ignored.
    for (std::string_view f : it.args)
      if (auto rf = relayFlagFromName(f)) router->flags |= static_cast<uint16_t>(*rf);
  } else if (k == "v") {
    router->version = std::string(it.argText);
  } else if (k == "pr") {
    return protocols(it, router->protocols);
  } else if (k == "w") {
    for (std::string_view a : it.args) {
      if (!a.starts_with("Bandwidth=")) continue;
      auto bw = parseInt(a.substr(10), 0, UINT32_MAX);
      if (!bw) return fail(malformedAt(it.line, "bad w line"));
      router->bandwidth = static_cast<uint32_t>(*bw);
    }
  }
  return {};  // "p" (the exit policy summary) and unknown keywords are not kept
}

Expected<void, DirError> Parser::signature(const Item& it) {
  if (c.signatures.size() >= kMaxSignatures)
    return fail(DirError{DirErrc::kTooLarge, it.line, "too many signatures"});
  if (it.args.size() != 2 && it.args.size() != 3)
    return fail(malformedAt(it.line, "directory-signature needs 2 or 3 arguments"));
  if (it.objectTag != "SIGNATURE" || it.object.empty())
    return fail(malformedAt(it.line, "directory-signature needs a SIGNATURE object"));
  size_t first = it.args.size() - 2;
  auto id = parseHexDigest(it.args[first]);
  auto sk = parseHexDigest(it.args[first + 1]);
  if (!id || !sk) return fail(malformedAt(it.line, "bad directory-signature digests"));
  DigestAlg alg = DigestAlg::kSha1;
  if (first == 1) {
    if (it.args[0] == "sha256") {
      alg = DigestAlg::kSha256;
    } else if (it.args[0] != "sha1") {
      return {};  // dir-spec: entries with an unrecognized Algorithm are ignored
    }
  }
  c.signatures.push_back(DirectorySignature{alg, *id, *sk, it.object, it.line});
  return {};
}

Expected<void, DirError> Parser::item(const Item& it) {
  const std::string_view k = it.keyword;
  if (k == kSigKeyword) {
    if (section != Section::kSignatures) {
      section = Section::kSignatures;
      // The signed portion ends with the space after the first "directory-signature".
      std::string_view signedPart = text.substr(0, it.begin + kSigKeyword.size() + 1);
      c.signedSha1 = sha1Of(signedPart);
      c.signedSha256 = sha256Of(signedPart);
    }
    return signature(it);
  }
  if (section == Section::kSignatures)
    return fail(malformedAt(it.line, "only signatures may follow a directory-signature"));
  if (k == "directory-footer") {
    section = Section::kFooter;
    return {};
  }
  if (section == Section::kFooter) return {};  // bandwidth-weights and unknown keywords
  if (k == "r") {
    section = Section::kRouters;
    return routerLine(it);
  }
  if (section == Section::kRouters) return routerBody(it);
  if (k == "dir-source") {
    section = Section::kAuthorities;
    auto id = it.args.size() == 6 ? parseHexDigest(it.args[1]) : std::nullopt;
    if (!id) return fail(malformedAt(it.line, "bad dir-source line"));
    c.voters.push_back(*id);
    return {};
  }
  if (section == Section::kAuthorities) return {};  // contact, vote-digest
  return preamble(it);
}

Expected<void, DirError> Parser::finish(uint32_t lastLine) {
  if (!sawVoteStatus || !sawValidAfter || !sawFreshUntil || !sawValidUntil || !sawKnownFlags ||
      !sawVotingDelay)
    return fail(malformedAt(lastLine, "a required preamble item is missing"));
  const int64_t interval =
      opts.testingTorNetwork ? kMinVoteIntervalTestingSeconds : kMinVoteIntervalSeconds;
  if (c.validAfterUnix + interval > c.freshUntilUnix ||
      c.validAfterUnix + 2 * interval > c.validUntilUnix)
    return fail(malformedAt(lastLine, "fresh-until or valid-until too soon after valid-after"));
  if (section != Section::kSignatures) return fail(malformedAt(lastLine, "no directory-signature"));
  return {};
}

}  // namespace

std::optional<RelayFlag> relayFlagFromName(std::string_view name) {
  for (const FlagName& f : kFlagNames)
    if (f.name == name) return f.flag;
  return std::nullopt;
}

std::string_view relayFlagName(RelayFlag flag) {
  for (const FlagName& f : kFlagNames)
    if (f.flag == flag) return f.name;
  return "";
}

std::string relayFlagNames(uint16_t flags) {
  std::string out;
  for (const FlagName& f : kFlagNames) {
    if ((flags & static_cast<uint16_t>(f.flag)) == 0) continue;
    if (!out.empty()) out += ' ';
    out += f.name;
  }
  return out;
}

std::optional<ProtocolList> parseProtocolList(const std::vector<std::string_view>& entries) {
  if (entries.size() > kMaxProtocols) return std::nullopt;
  ProtocolList out;
  for (std::string_view e : entries) {
    size_t eq = e.find('=');
    if (eq == 0 || eq == std::string_view::npos) return std::nullopt;
    std::string_view name = e.substr(0, eq);
    if (!std::all_of(name.begin(), name.end(), isNameChar)) return std::nullopt;
    auto bits = parseVersionRanges(e.substr(eq + 1));
    if (!bits) return std::nullopt;
    // A name written twice: its versions are merged.
    auto same =
        std::find_if(out.begin(), out.end(), [&](const ProtoEntry& p) { return p.name == name; });
    if (same != out.end()) {
      same->versions |= *bits;
      continue;
    }
    out.push_back(ProtoEntry{std::string(name), *bits});
  }
  return out;
}

bool supportsAll(const ProtocolList& have, const ProtocolList& required) {
  return missingProtocols(have, required).empty();
}

std::string missingProtocols(const ProtocolList& have, const ProtocolList& required) {
  std::string out;
  for (const ProtoEntry& r : required) {
    uint64_t got = 0;
    for (const ProtoEntry& h : have)
      if (h.name == r.name) got = h.versions;
    uint64_t lacking = r.versions & ~got;
    if (lacking == 0) continue;
    if (!out.empty()) out += ' ';
    out += r.name + "=" + versionsText(lacking);
  }
  return out;
}

const RouterEntry* Consensus::findRouter(const Sha1Digest& identity) const {
  auto it =
      std::lower_bound(routers.begin(), routers.end(), identity,
                       [](const RouterEntry& e, const Sha1Digest& id) { return e.identity < id; });
  return it != routers.end() && it->identity == identity ? &*it : nullptr;
}

DirResult<Consensus> parseConsensus(std::string_view text, ConsensusParseOptions opts) {
  if (text.size() > kMaxConsensusBytes)
    return fail(DirError{DirErrc::kTooLarge, 0,
                         "consensus larger than " + std::to_string(kMaxConsensusBytes) + " bytes"});
  ItemReader r(text);
  Parser p;
  p.text = text;
  p.opts = opts;
  auto first = r.next();
  if (!first) return fail(first.error());
  if (!*first || (*first)->keyword != "network-status-version" || (*first)->args.size() != 1 ||
      (*first)->args[0] != "3")
    return fail(malformedAt(1, "not an unflavored v3 consensus (network-status-version 3)"));
  for (;;) {
    auto it = r.next();
    if (!it) return fail(it.error());
    if (!*it) break;
    if ((*it)->keyword == "network-status-version")
      return fail(malformedAt((*it)->line, "network-status-version appears twice"));
    auto s = p.item(**it);
    if (!s) return fail(s.error());
  }
  if (auto s = p.finish(r.line()); !s) return fail(s.error());
  return std::move(p.c);
}

}  // namespace onionsplit::dirdoc
