// tests/common/dirdoc/dirdoc_data.h: the real documents saved from the private network
// (tests/data/dirdoc/, see regenerate.py there) and small helpers to damage them.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/dirdoc/consensus.h"
#include "common/dirdoc/key_cert.h"
#include "common/dirdoc/verify.h"

namespace onionsplit::dirdoc {
// The saved documents come from a TestingTorNetwork (10-second voting intervals).
inline constexpr ConsensusParseOptions kTestnet{.testingTorNetwork = true};
}  // namespace onionsplit::dirdoc

namespace onionsplit::dirdoc::testdata {

inline std::string readData(const std::string& name) {
  std::ifstream f(std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/dirdoc/" + name,
                  std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

inline std::string consensusText() {
  return readData("cached-consensus");
}
inline std::string certsText() {
  return readData("cached-certs");
}

// The v3idents of the saved DirAuthority lines, through the project's own torrc parser.
inline std::vector<V3Ident> authorities() {
  std::string torrc = readData("dirauthority-lines");
  torrc += "ORPort 9001\nNickname test\n";
  auto cfg = config::parseConfig(torrc);
  EXPECT_TRUE(cfg) << (cfg ? "" : config::describe(cfg.error()));
  std::vector<V3Ident> out;
  if (!cfg) return out;
  for (const config::DirAuthority& a : cfg->config.dirAuthorities)
    if (a.hasV3Identity) out.push_back(a.v3Identity);
  return out;
}

// The consensus' valid-after, read from the text itself (not hard-coded: regenerate.py may
// replace the documents).
inline int64_t validAfter(const Consensus& c) {
  return c.validAfterUnix;
}

// `text` with the character at `pos` replaced by a different one of the same class, so that
// base64 stays base64 and a digit stays a digit.
inline std::string flipChar(std::string text, size_t pos) {
  char& ch = text.at(pos);
  if (ch >= 'A' && ch < 'Z') {
    ++ch;
  } else if (ch >= '0' && ch <= '9') {
    ch = ch == '1' ? '2' : '1';
  } else if (ch == 'Z' || (ch >= 'a' && ch <= 'z')) {
    ch = ch == 'B' ? 'C' : 'B';
  } else {
    ch = ch == 'x' ? 'y' : 'x';
  }
  return text;
}

// `text` without the `n`th (0-based) directory-signature item.
inline std::string withoutSignature(const std::string& text, int n) {
  size_t pos = 0;
  for (int i = 0; i <= n; ++i) {
    pos = text.find("\ndirectory-signature ", pos);
    if (pos == std::string::npos) return text;
    ++pos;
  }
  size_t end = text.find("-----END SIGNATURE-----\n", pos);
  end += std::string_view("-----END SIGNATURE-----\n").size();
  return text.substr(0, pos) + text.substr(end);
}

}  // namespace onionsplit::dirdoc::testdata
