// common/control/versions.cc: see versions.h.
#include "common/control/versions.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <tuple>
#include <vector>

#include "common/config/text.h"

namespace onionsplit::control {
namespace {

// A tor version "MAJOR.MINOR.MICRO[.PATCH][-TAG][ (EXTRA)]". C tor orders by the four numbers,
// then the tag as strcmp does ("" first), and the extra text does not count.
struct TorVersion {
  std::array<uint32_t, 4> numbers{};
  std::string tag;
  bool sameSeries(const TorVersion& o) const {
    return numbers[0] == o.numbers[0] && numbers[1] == o.numbers[1] && numbers[2] == o.numbers[2];
  }
  int compare(const TorVersion& o) const {
    if (numbers != o.numbers) return numbers < o.numbers ? -1 : 1;
    int c = tag.compare(o.tag);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
};

std::optional<TorVersion> parseVersion(std::string_view s) {
  s = config::text::trim(s);
  if (s.starts_with("Tor ")) s = config::text::trim(s.substr(4));
  s = s.substr(0, s.find(' '));  // " (git-...)" does not count
  size_t dash = s.find('-');
  TorVersion v;
  if (dash != std::string_view::npos) {
    v.tag = std::string(s.substr(dash + 1));
    if (v.tag.empty()) return std::nullopt;
  }
  std::string_view numbers = s.substr(0, dash);
  auto parts = config::text::split(numbers, '.');
  size_t dots = static_cast<size_t>(std::count(numbers.begin(), numbers.end(), '.'));
  if (parts.size() < 3 || parts.size() > 4 || dots + 1 != parts.size()) return std::nullopt;
  for (size_t i = 0; i < parts.size(); ++i) {
    auto n = config::text::number<uint32_t>(parts[i]);
    if (!n) return std::nullopt;
    v.numbers[i] = *n;
  }
  return v;
}

}  // namespace

std::string serverVersions(std::string_view consensus) {
  size_t pos = 0;
  while (pos < consensus.size()) {
    size_t end = consensus.find('\n', pos);
    if (end == std::string_view::npos) end = consensus.size();
    std::string_view line = consensus.substr(pos, end - pos);
    pos = end + 1;
    if (line.starts_with("r ")) break;  // the routers: past the header
    if (line == "server-versions") return "";
    if (line.starts_with("server-versions ")) return std::string(line.substr(16));
  }
  return "";
}

std::optional<std::string> versionStatus(std::string_view mine, std::string_view recommended) {
  auto me = parseVersion(mine);
  if (!me) return std::nullopt;
  if (config::text::trim(recommended).empty()) return "none recommended";
  bool newer = false, older = false, newerInSeries = false, anyInSeries = false;
  for (auto item : config::text::split(recommended, ',')) {
    auto other = parseVersion(item);
    if (!other) continue;
    bool same = me->sameSeries(*other);
    anyInSeries = anyInSeries || same;
    int c = me->compare(*other);
    if (c == 0) return "recommended";
    if (c < 0) {
      newer = true;
      newerInSeries = newerInSeries || same;
    } else {
      older = true;
    }
  }
  if (anyInSeries && !newerInSeries && newer) return "new in series";
  if (newer && !older) return "obsolete";
  if (older && !newer) return "new";
  return "unrecommended";
}

}  // namespace onionsplit::control
