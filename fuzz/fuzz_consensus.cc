// fuzz/fuzz_consensus.cc: hostile directory documents. The input is authority key certificates
// followed by a consensus (split at the first "network-status-version"); both are parsed, the
// certificates checked, and a consensus that parses is verified against the certificates, its
// parameters resolved and its router list searched. Never crashes; the values in force always lie
// within the parameter table's bounds; parsed router entries are sorted and findable.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/dirdoc/consensus.h"
#include "common/dirdoc/key_cert.h"
#include "common/dirdoc/params.h"
#include "common/dirdoc/verify.h"

using namespace onionsplit::dirdoc;

namespace {

void checkParams(const Consensus& c) {
  NetParams p = resolveNetParams(c.params);
  for (const ParamSpec& s : kNetParams) {
    int32_t v = p.get(s.id);
    if (v < s.minValue || v > s.maxValue) __builtin_trap();
  }
}

void checkRouters(const Consensus& c) {
  for (size_t i = 0; i < c.routers.size(); ++i) {
    if (i > 0 && !(c.routers[i - 1].identity < c.routers[i].identity)) __builtin_trap();
    if (c.findRouter(c.routers[i].identity) != &c.routers[i]) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t split = text.find("network-status-version");
  std::string_view certText = text.substr(0, split == std::string_view::npos ? size : split);
  std::string_view consText =
      split == std::string_view::npos ? std::string_view{} : text.substr(split);
  std::vector<AuthorityCert> certs;
  if (auto parsed = parseAuthorityCerts(certText)) {
    certs = std::move(*parsed);
    for (const AuthorityCert& cert : certs)
      (void)checkAuthorityCert(cert, cert.publishedUnix);
  }
  // Odd-sized inputs get the real network's interval rules, even-sized ones the test network's.
  auto c = parseConsensus(consText, ConsensusParseOptions{.testingTorNetwork = size % 2 == 0});
  if (!c) return 0;
  if (c->signatures.size() > kMaxSignatures || c->routers.size() > kMaxRouters) __builtin_trap();
  checkParams(*c);
  checkRouters(*c);
  std::vector<V3Ident> authorities;
  for (const AuthorityCert& cert : certs)
    authorities.push_back(cert.fingerprint);
  (void)verifyConsensus(*c, certs, authorities, c->validAfterUnix);
  return 0;
}
