// fuzz/fuzz_dirport_http.cc: launcher::answerDirPort fed an arbitrary request head, as anyone on
// the Internet can send the DirPort. Invariants: an answer is one HTTP/1.0 status line and headers
// ending in a single blank line, and carries no byte of the request (no header injection); only a
// GET of the front page with a page present sends the page; every URL read is under "/tor/".
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "launcher/dirport_http.h"

using namespace onionsplit::launcher;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  bool havePage = data[0] & 1;
  uint32_t secs = 0;
  std::memcpy(&secs, data + 1, sizeof secs);  // a time a real clock can read: up to 2106
  std::string_view head(reinterpret_cast<const char*>(data + 5), size - 5);
  if (auto url = dirPortUrl(head); url && url->compare(0, 5, "/tor/") != 0) __builtin_trap();
  auto answer = answerDirPort(head, havePage, 1234, static_cast<std::time_t>(secs));
  if (!answer) return 0;
  const std::string& h = answer->head;
  if (h.compare(0, 9, "HTTP/1.0 ") != 0) __builtin_trap();
  if (h.find("\r\n\r\n") != h.size() - 4) __builtin_trap();
  for (size_t i = 0; i + 1 < h.size(); ++i)
    if ((h[i] == '\r') != (h[i + 1] == '\n')) __builtin_trap();  // CR only as part of CR LF
  if (answer->withPage && (!havePage || h.compare(9, 3, "200") != 0)) __builtin_trap();
  if (!answer->withPage && h.find("Content-Length") != std::string::npos) __builtin_trap();
  return 0;
}
