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

namespace {

// Labels of 1 to kMaxLabelBytes bytes that `labelOk` accepts, single dots between them, at most one
// trailing dot, at most kMaxHostnameBytes in all.
template <class LabelOk>
bool wellFormedName(std::string_view name, LabelOk labelOk) {
  if (name.empty() || name.size() > kMaxHostnameBytes) return false;
  if (name.back() == '.') name.remove_suffix(1);  // one trailing dot: a fully qualified name
  if (name.empty()) return false;
  while (true) {
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabelBytes || !labelOk(label)) return false;
    if (dot == std::string_view::npos) return true;
    name.remove_prefix(dot + 1);
  }
}

}  // namespace

bool isValidHostname(std::string_view name) {
  auto ascii = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  };
  return wellFormedName(name, [&](std::string_view label) {
    return label.front() != '-' && label.front() != '_' &&
           std::all_of(label.begin(), label.end(), ascii);
  });
}

bool isEncodableName(std::string_view name) {
  return wellFormedName(name, [](std::string_view label) {
    return std::all_of(label.begin(), label.end(), [](char c) { return c > ' ' && c < 0x7f; });
  });
}

bool isResolvableHostname(std::string_view name, bool allowNonRfc953) {
  if (!(allowNonRfc953 ? isEncodableName(name) : isValidHostname(name))) return false;
  std::string l = lower(name);
  if (!l.empty() && l.back() == '.') l.pop_back();
  return !endsWithLabel(l, "onion") && !endsWithLabel(l, "exit");
}

}  // namespace onionsplit::streamd
