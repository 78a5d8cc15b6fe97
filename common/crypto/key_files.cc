// common/crypto/key_files.cc: see key_files.h.
#include "common/crypto/key_files.h"

#include <cstring>

#include "common/base/hex.h"

namespace onionsplit::crypto {

Parsed<TaggedFile> parseTaggedFile(Bytes file) {
  Reader r(file);
  Bytes header = r.bytes(kTaggedHeaderLen, "key file header");
  if (r.failed()) return fail(r.error());
  std::string_view h(reinterpret_cast<const char*>(header.data()), header.size());
  size_t end = h.find('\0');
  std::string_view text = h.substr(0, end);
  if (end != h.npos && h.find_first_not_of('\0', end) != h.npos)
    return fail(ParseError{ParseErrc::kBadValue, "key file header padding"});
  if (!text.starts_with("== ") || !text.ends_with(" ==") || text.size() < 8)
    return fail(ParseError{ParseErrc::kBadValue, "key file header"});
  std::string_view inner = text.substr(3, text.size() - 6);
  size_t colon = inner.find(": ");
  if (colon == inner.npos) return fail(ParseError{ParseErrc::kBadValue, "key file header"});
  return TaggedFile{std::string(inner.substr(0, colon)), std::string(inner.substr(colon + 2)),
                    r.rest()};
}

Parsed<Bytes> parseTaggedBody(Bytes file, std::string_view type, std::string_view tag,
                              size_t bodyLen) {
  auto f = parseTaggedFile(file);
  if (!f) return fail(f.error());
  if (f->type != type) return fail(ParseError{ParseErrc::kUnknownType, "key file type"});
  if (f->tag != tag) return fail(ParseError{ParseErrc::kUnknownType, "key file tag"});
  if (f->body.size() < bodyLen) return fail(ParseError{ParseErrc::kTruncated, "key file body"});
  if (f->body.size() > bodyLen) return fail(ParseError{ParseErrc::kTrailingBytes, "key file body"});
  return f->body;
}

std::vector<uint8_t> makeTaggedFile(std::string_view type, std::string_view tag, Bytes body) {
  std::string header = "== " + std::string(type) + ": " + std::string(tag) + " ==";
  std::vector<uint8_t> out(kTaggedHeaderLen + body.size(), 0);
  std::memcpy(out.data(), header.data(), std::min(header.size(), kTaggedHeaderLen));
  if (!body.empty()) std::memcpy(out.data() + kTaggedHeaderLen, body.data(), body.size());
  return out;
}

Parsed<NtorKeyFile> parseNtorKeyFile(Bytes file) {
  auto body = parseTaggedBody(file, "c25519v1", "onion", 64);
  if (!body) return fail(body.error());
  NtorKeyFile k;
  std::memcpy(k.secret.data(), body->data(), 32);
  std::memcpy(k.publicKey.data(), body->data() + 32, 32);
  return k;
}

std::vector<uint8_t> makeNtorKeyFile(const NtorKeyFile& k) {
  uint8_t body[64];
  std::memcpy(body, k.secret.data(), 32);
  std::memcpy(body + 32, k.publicKey.data(), 32);
  return makeTaggedFile("c25519v1", "onion", Bytes(body));
}

std::string fingerprintFileLine(std::string_view nickname, Bytes rsaIdentityDigest) {
  return std::string(nickname) + " " + toHex(rsaIdentityDigest, true) + "\n";
}

}  // namespace onionsplit::crypto
