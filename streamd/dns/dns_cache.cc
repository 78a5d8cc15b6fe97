// streamd/dns/dns_cache.cc: see dns_cache.h.
#include "streamd/dns/dns_cache.h"

#include <algorithm>
#include <cctype>

namespace onionsplit::streamd {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool endsWithLabel(std::string_view name, std::string_view tld) {
  if (name.size() >= tld.size() + 1 && name.ends_with(tld) &&
      name[name.size() - tld.size() - 1] == '.')
    return true;
  return name == tld;
}

}  // namespace

uint32_t fuzzDnsTtl(uint32_t ttl, uint32_t random) {
  return clipDnsTtl(ttl) + random % (1 + 2 * kFuzzyDnsTtl) - kFuzzyDnsTtl;
}

void DnsCache::erase(std::unordered_map<std::string, Entry>::iterator it) {
  expiry_.erase(it->second.byExpiry);
  entries_.erase(it);
}

void DnsCache::put(std::string_view name, DnsAnswer answer, uint32_t ttlSeconds,
                   uint64_t nowSeconds) {
  std::string key = lower(name);
  if (auto it = entries_.find(key); it != entries_.end()) erase(it);
  // Expired entries go first; then, if still full, the entry closest to expiry.
  while (!expiry_.empty() && expiry_.begin()->first <= nowSeconds)
    erase(entries_.find(expiry_.begin()->second));
  while (entries_.size() >= maxEntries_ && !expiry_.empty())
    erase(entries_.find(expiry_.begin()->second));
  if (maxEntries_ == 0) return;
  uint64_t expires = nowSeconds + ttlSeconds;
  auto pos = expiry_.emplace(expires, key);
  entries_.emplace(std::move(key), Entry{std::move(answer), expires, pos});
}

const DnsAnswer* DnsCache::get(std::string_view name, uint64_t nowSeconds) {
  auto it = entries_.find(lower(name));
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= nowSeconds) {
    erase(it);
    return nullptr;
  }
  return &it->second.answer;
}

bool isResolvableHostname(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  if (name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.front() == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  }
  if (name.find("..") != std::string_view::npos) return false;
  std::string l = lower(name);
  return !endsWithLabel(l, "onion") && !endsWithLabel(l, "exit");
}

}  // namespace onionsplit::streamd
