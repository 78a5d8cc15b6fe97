// common/control/auth.h: the control port's authentication (control-spec §3.5, §3.21, §3.24),
// pure: the cookie (32 bytes), SAFECOOKIE's HMAC-SHA256 exchange with C tor's two constant keys,
// and HashedControlPassword's OpenPGP iterated-salted S2K (RFC 2440 §3.6.1.3) in C tor's text form
// "16:" + hex(8-byte salt, 1 count byte, SHA-1 digest).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onionsplit::control {

inline constexpr size_t kCookieBytes = 32;
inline constexpr size_t kNonceBytes = 32;
using Cookie = std::array<uint8_t, kCookieBytes>;
using Digest256 = std::array<uint8_t, 32>;

struct AuthConfig {
  bool cookieAuthentication = false;
  Cookie cookie{};                           // the bytes the cookie file holds
  std::string cookieFile;                    // shown in PROTOCOLINFO
  std::vector<std::string> hashedPasswords;  // "16:..." as in the torrc
  bool none() const { return !cookieAuthentication && hashedPasswords.empty(); }
};

// A decoded HashedControlPassword: salt and count byte (the specifier) and the SHA-1 digest.
struct HashedPassword {
  std::array<uint8_t, 9> specifier{};
  std::array<uint8_t, 20> digest{};
};
std::optional<HashedPassword> decodeHashedPassword(std::string_view text);
// RFC 2440 iterated and salted S2K with SHA-1, as C tor's secret_to_key_rfc2440.
std::array<uint8_t, 20> s2k(std::string_view secret, const std::array<uint8_t, 9>& specifier);
// "16:..." for `secret` with `specifier` (what `tor --hash-password` prints for a random salt).
std::string hashPassword(std::string_view secret, const std::array<uint8_t, 9>& specifier);
bool passwordMatches(std::string_view secret, const HashedPassword& h);

// SAFECOOKIE: HMAC-SHA256(key, cookie | clientNonce | serverNonce), key one of C tor's constants.
Digest256 safeCookieServerHash(const Cookie& cookie, std::string_view clientNonce,
                               std::string_view serverNonce);
Digest256 safeCookieClientHash(const Cookie& cookie, std::string_view clientNonce,
                               std::string_view serverNonce);

bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace onionsplit::control
