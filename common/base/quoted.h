// common/base/quoted.h: a value in double quotes with C's escapes, as a torrc and control-spec's
// QuotedString write it (the launcher's checked torrc, the control port's replies).
#pragma once

#include <string>
#include <string_view>

namespace onionsplit {

// `"` + s + `"`, with backslash, double quote, newline, carriage return and tab escaped.
inline std::string cQuoted(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += ch;
    }
  }
  return out + "\"";
}

}  // namespace onionsplit
