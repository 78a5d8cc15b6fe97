// streamd/dns/dns_cache.h: the exit's DNS cache (pure; time and randomness are passed in).
//
// Where it sits: streamd's resolver looks a BEGIN or RESOLVE hostname up here before asking evdns,
// and stores every answer (and every failure) here. TTLs follow C tor 0.4.9: an answer is kept for
// its TTL clipped to 5 minutes (TTL under 5 minutes) or 60 minutes, plus or minus a uniform random
// 4 minutes, so that cache timing does not reveal when a name was last resolved; clients are always
// told a TTL of 60 seconds (RESOLVED_CLIPPED_TTL; tor#40979). The cache is bounded: the entry that
// expires first is evicted when it is full.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace onionsplit::streamd {

inline constexpr uint32_t kMinDnsTtl = 5 * 60;
inline constexpr uint32_t kMaxDnsTtl = 60 * 60;
inline constexpr uint32_t kFuzzyDnsTtl = 4 * 60;
inline constexpr uint32_t kResolvedClippedTtl = 60;

// The TTL the cache keeps an answer for, before fuzzing.
constexpr uint32_t clipDnsTtl(uint32_t ttl) {
  return ttl < kMinDnsTtl ? kMinDnsTtl : kMaxDnsTtl;
}
// Adds the fuzz: `random` is any uniformly random 32-bit value.
uint32_t fuzzDnsTtl(uint32_t ttl, uint32_t random);

enum class DnsError : uint8_t {
  kNone,
  kTransient,     // server failure, timeout: RESOLVED type 0xF0 / END RESOLVEFAILED
  kNonTransient,  // the name does not exist: RESOLVED type 0xF1 / END RESOLVEFAILED
};

struct DnsAnswer {
  std::vector<std::array<uint8_t, 4>> ipv4;
  std::vector<std::array<uint8_t, 16>> ipv6;
  std::string ptrName;  // reverse lookups
  DnsError error = DnsError::kNone;
};

class DnsCache {
 public:
  explicit DnsCache(size_t maxEntries = 10000) : maxEntries_(maxEntries) {}

  // Stores `answer` for `name` (case-insensitive) for `ttlSeconds` (already clipped and fuzzed).
  void put(std::string_view name, DnsAnswer answer, uint32_t ttlSeconds, uint64_t nowSeconds);
  // The answer if one is cached and not expired at `nowSeconds`.
  const DnsAnswer* get(std::string_view name, uint64_t nowSeconds);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    DnsAnswer answer;
    uint64_t expires;
    std::multimap<uint64_t, std::string>::iterator byExpiry;
  };
  void erase(std::unordered_map<std::string, Entry>::iterator it);

  size_t maxEntries_;
  std::unordered_map<std::string, Entry> entries_;
  std::multimap<uint64_t, std::string> expiry_;
};

inline constexpr size_t kMaxHostnameBytes = 255;
inline constexpr size_t kMaxLabelBytes = 63;

// Whether `name` is a well-formed hostname (TROVE-2026-035; C tor's
// string_is_valid_nonrfc_hostname, plus the DNS length bounds): not empty, at most 255 characters,
// labels of 1 to 63 characters of [A-Za-z0-9-_] that do not start with '-' or '_', separated by
// single dots, with at most one trailing dot. No control character, space, NUL or other byte
// passes. Used for the names of BEGIN and RESOLVE and for names in the resolver's answers.
bool isValidHostname(std::string_view name);

// Whether `name` can be asked of a nameserver at all (ServerDNSAllowNonRFC953Hostnames 1): as
// isValidHostname, but a label may hold any printable ASCII byte but the dot (`user@host`,
// `a:b`), as C tor then passes every name to its resolver. Control bytes, spaces and bytes above
// 0x7e stay refused (C tor would pass them on too; the nameserver would refuse them).
bool isEncodableName(std::string_view name);

// Whether an exit may resolve `name` at all (address-spec.txt): a valid hostname (or, with
// `allowNonRfc953`, an encodable name), and never a .onion or .exit name, which only Tor resolves.
bool isResolvableHostname(std::string_view name, bool allowNonRfc953 = false);

}  // namespace onionsplit::streamd
