// common/crypto/ntor_handshakes.cc: see ntor_handshakes.h.
#include "common/crypto/ntor_handshakes.h"

#include <openssl/crypto.h>

#include <cstring>

#include "common/crypto/kdfs.h"

namespace onionsplit::crypto {
namespace {

constexpr std::string_view kNtorProtoid = "ntor-curve25519-sha256-1";
constexpr std::string_view kNtorTMac = "ntor-curve25519-sha256-1:mac";
constexpr std::string_view kNtorTKey = "ntor-curve25519-sha256-1:key_extract";
constexpr std::string_view kNtorTVerify = "ntor-curve25519-sha256-1:verify";
constexpr std::string_view kNtorMExpand = "ntor-curve25519-sha256-1:key_expand";

constexpr std::string_view kNtor3Protoid = "ntor3-curve25519-sha3_256-1";
constexpr std::string_view kNtor3TMsgKdf = "ntor3-curve25519-sha3_256-1:kdf_phase1";
constexpr std::string_view kNtor3TMsgMac = "ntor3-curve25519-sha3_256-1:msg_mac";
constexpr std::string_view kNtor3TKeySeed = "ntor3-curve25519-sha3_256-1:key_seed";
constexpr std::string_view kNtor3TVerify = "ntor3-curve25519-sha3_256-1:verify";
constexpr std::string_view kNtor3TFinal = "ntor3-curve25519-sha3_256-1:kdf_final";
constexpr std::string_view kNtor3TAuth = "ntor3-curve25519-sha3_256-1:auth_final";

using Key32 = std::array<uint8_t, 32>;

const Curve25519Keypair* findKey(std::span<const Curve25519Keypair> keys, Bytes b) {
  for (const auto& k : keys)
    if (constantTimeEqual(k.publicKey, b)) return &k;
  return nullptr;
}

void append(std::vector<uint8_t>& v, Bytes b) {
  v.insert(v.end(), b.begin(), b.end());
}

// secret_input of ntor v1: EXP1 | EXP2 | ID | B | X | Y | PROTOID.
std::vector<uint8_t> ntorSecretInput(const Key32& e1, const Key32& e2, Bytes id, Bytes b, Bytes x,
                                     Bytes y) {
  std::vector<uint8_t> s;
  s.reserve(32 * 5 + 20 + kNtorProtoid.size());
  for (Bytes part : {Bytes(e1), Bytes(e2), id, b, x, y, asBytes(kNtorProtoid)})
    append(s, part);
  return s;
}

bool ntorAuth(Bytes secretInput, Bytes id, Bytes b, Bytes x, Bytes y, Key32& auth) {
  Key32 verify;
  if (!hmacSha256(asBytes(kNtorTVerify), secretInput, verify)) return false;
  std::vector<uint8_t> in;
  for (Bytes part : {Bytes(verify), id, b, y, x, asBytes(kNtorProtoid), asBytes("Server")})
    append(in, part);
  return hmacSha256(asBytes(kNtorTMac), in, auth);
}

}  // namespace

const char* toString(HandshakeError e) {
  switch (e) {
    case HandshakeError::kBadLength:
      return "bad length";
    case HandshakeError::kWrongNode:
      return "not our node id";
    case HandshakeError::kUnknownKey:
      return "unknown onion key";
    case HandshakeError::kBadMac:
      return "MAC or AUTH mismatch";
    case HandshakeError::kDegenerate:
      return "degenerate Diffie-Hellman output";
    case HandshakeError::kRejected:
      return "client message refused";
    case HandshakeError::kCrypto:
      return "crypto failure";
  }
  return "unknown";
}

Expected<NtorServerResult, HandshakeError> ntorServer(Bytes rsaIdentity20,
                                                      std::span<const Curve25519Keypair> onionKeys,
                                                      Bytes onionskin, Bytes random32,
                                                      size_t keyLen) {
  if (onionskin.size() != kNtorOnionskinLen || rsaIdentity20.size() != 20)
    return fail(HandshakeError::kBadLength);
  Bytes id = onionskin.subspan(0, 20), b = onionskin.subspan(20, 32), x = onionskin.subspan(52, 32);
  if (!constantTimeEqual(id, rsaIdentity20)) return fail(HandshakeError::kWrongNode);
  const Curve25519Keypair* ours = findKey(onionKeys, b);
  if (!ours) return fail(HandshakeError::kUnknownKey);
  auto y = Curve25519Keypair::fromSecret(random32);
  if (!y) return fail(HandshakeError::kCrypto);
  Key32 xy, xb;
  if (!x25519(y->secret, x, xy) || !x25519(ours->secret, x, xb))
    return fail(HandshakeError::kDegenerate);
  auto secret = ntorSecretInput(xy, xb, id, b, x, y->publicKey);
  NtorServerResult r;
  Key32 auth;
  r.keys.resize(keyLen);
  if (!ntorAuth(secret, id, b, x, y->publicKey, auth) ||
      !hkdfSha256(secret, asBytes(kNtorTKey), asBytes(kNtorMExpand), r.keys))
    return fail(HandshakeError::kCrypto);
  std::memcpy(r.reply.data(), y->publicKey.data(), 32);
  std::memcpy(r.reply.data() + 32, auth.data(), 32);
  OPENSSL_cleanse(secret.data(), secret.size());
  return r;
}

NtorClientState ntorClientCreate(Bytes rsaIdentity20, Bytes onionKey32, Bytes random32,
                                 std::array<uint8_t, kNtorOnionskinLen>& onionskin) {
  NtorClientState st;
  std::memcpy(st.id.data(), rsaIdentity20.data(), 20);
  std::memcpy(st.b.data(), onionKey32.data(), 32);
  auto x = Curve25519Keypair::fromSecret(random32);
  if (x) {
    st.x = x->secret;
    st.X = x->publicKey;
  }
  std::memcpy(onionskin.data(), st.id.data(), 20);
  std::memcpy(onionskin.data() + 20, st.b.data(), 32);
  std::memcpy(onionskin.data() + 52, st.X.data(), 32);
  return st;
}

Expected<std::vector<uint8_t>, HandshakeError> ntorClientComplete(const NtorClientState& st,
                                                                  Bytes reply, size_t keyLen) {
  if (reply.size() != kNtorReplyLen) return fail(HandshakeError::kBadLength);
  Bytes y = reply.subspan(0, 32), auth = reply.subspan(32, 32);
  Key32 yx, bx;
  if (!x25519(st.x, y, yx) || !x25519(st.x, st.b, bx)) return fail(HandshakeError::kDegenerate);
  auto secret = ntorSecretInput(yx, bx, st.id, st.b, st.X, y);
  Key32 expected;
  if (!ntorAuth(secret, st.id, st.b, st.X, y, expected)) return fail(HandshakeError::kCrypto);
  if (!constantTimeEqual(expected, auth)) return fail(HandshakeError::kBadMac);
  std::vector<uint8_t> keys(keyLen);
  if (!hkdfSha256(secret, asBytes(kNtorTKey), asBytes(kNtorMExpand), keys))
    return fail(HandshakeError::kCrypto);
  return keys;
}

Expected<Ntor3ServerResult, HandshakeError> ntor3Server(
    Bytes ed25519Id32, std::span<const Curve25519Keypair> onionKeys, Bytes hs, Bytes random32,
    const Ntor3Reply& replyFor, std::string_view verification, size_t keyLen) {
  if (hs.size() < 32 * 4 || ed25519Id32.size() != 32 || random32.size() != 32)
    return fail(HandshakeError::kBadLength);
  Bytes id = hs.subspan(0, 32), b = hs.subspan(32, 32), x = hs.subspan(64, 32);
  Bytes msg = hs.subspan(96, hs.size() - 128), mac = hs.subspan(hs.size() - 32);
  if (!constantTimeEqual(id, ed25519Id32)) return fail(HandshakeError::kWrongNode);
  // An unknown KEYID is answered by computing with a junk key, so that the work (and the time) is
  // the same as for a wrong MAC; the MAC then fails.
  const Curve25519Keypair* ours = findKey(onionKeys, b);
  std::optional<Curve25519Keypair> junk;
  if (!ours) {
    uint8_t seed[32];
    std::memcpy(seed, random32.data(), 32);
    seed[0] ^= 0x5a;
    junk = Curve25519Keypair::fromSecret(Bytes(seed));
    if (!junk) return fail(HandshakeError::kCrypto);
    ours = &*junk;
  }
  Key32 xb;
  if (!x25519(ours->secret, x, xb)) return fail(HandshakeError::kDegenerate);
  auto verLen = encapLen(verification.size());
  uint8_t phase1[64];
  if (!ntor3Kdf(kNtor3TMsgKdf,
                {Bytes(xb), id, x, b, asBytes(kNtor3Protoid), Bytes(verLen), asBytes(verification)},
                phase1))
    return fail(HandshakeError::kCrypto);
  Bytes encK1(phase1, 32), macK1(phase1 + 32, 32);
  Key32 expectedMac;
  if (!ntor3Mac(kNtor3TMsgMac, macK1, {id, b, x, msg}, expectedMac))
    return fail(HandshakeError::kCrypto);
  if (!constantTimeEqual(expectedMac, mac) || junk)
    return fail(junk ? HandshakeError::kUnknownKey : HandshakeError::kBadMac);
  std::vector<uint8_t> cm(msg.begin(), msg.end());
  if (!aes256CtrZeroIv(encK1, cm)) return fail(HandshakeError::kCrypto);
  auto sm = replyFor(cm);
  if (!sm) return fail(HandshakeError::kRejected);

  auto y = Curve25519Keypair::fromSecret(random32);
  Key32 xy;
  if (!y) return fail(HandshakeError::kCrypto);
  if (!x25519(y->secret, x, xy)) return fail(HandshakeError::kDegenerate);
  std::initializer_list<Bytes> secretInput = {Bytes(xy),
                                              Bytes(xb),
                                              id,
                                              b,
                                              x,
                                              Bytes(y->publicKey),
                                              asBytes(kNtor3Protoid),
                                              Bytes(verLen),
                                              asBytes(verification)};
  Key32 keySeed, verify;
  if (!ntor3H(kNtor3TKeySeed, secretInput, keySeed) || !ntor3H(kNtor3TVerify, secretInput, verify))
    return fail(HandshakeError::kCrypto);
  std::vector<uint8_t> raw(32 + keyLen);
  if (!ntor3Kdf(kNtor3TFinal, {Bytes(keySeed)}, raw)) return fail(HandshakeError::kCrypto);
  std::vector<uint8_t> encrypted(*sm);
  if (!aes256CtrZeroIv(Bytes(raw.data(), 32), encrypted)) return fail(HandshakeError::kCrypto);
  auto encLen = encapLen(encrypted.size());
  Key32 auth;
  if (!ntor3H(kNtor3TAuth,
              {Bytes(verify), id, b, Bytes(y->publicKey), x, mac, Bytes(encLen), Bytes(encrypted),
               asBytes(kNtor3Protoid), asBytes("Server")},
              auth))
    return fail(HandshakeError::kCrypto);
  Ntor3ServerResult r;
  r.reply.reserve(64 + encrypted.size());
  append(r.reply, y->publicKey);
  append(r.reply, auth);
  append(r.reply, encrypted);
  r.keys.assign(raw.begin() + 32, raw.end());
  return r;
}

std::vector<uint8_t> ntor3ClientCreate(Bytes ed25519Id32, Bytes onionKey32, Bytes clientMessage,
                                       Bytes random32, std::string_view verification,
                                       Ntor3ClientState& st) {
  std::memcpy(st.id.data(), ed25519Id32.data(), 32);
  std::memcpy(st.b.data(), onionKey32.data(), 32);
  st.verification = std::string(verification);
  auto x = Curve25519Keypair::fromSecret(random32);
  if (!x) return {};
  st.x = x->secret;
  st.X = x->publicKey;
  if (!x25519(st.x, st.b, st.bx)) return {};
  auto verLen = encapLen(verification.size());
  uint8_t phase1[64];
  if (!ntor3Kdf(kNtor3TMsgKdf,
                {Bytes(st.bx), Bytes(st.id), Bytes(st.X), Bytes(st.b), asBytes(kNtor3Protoid),
                 Bytes(verLen), asBytes(verification)},
                phase1))
    return {};
  std::vector<uint8_t> encrypted(clientMessage.begin(), clientMessage.end());
  if (!aes256CtrZeroIv(Bytes(phase1, 32), encrypted)) return {};
  if (!ntor3Mac(kNtor3TMsgMac, Bytes(phase1 + 32, 32),
                {Bytes(st.id), Bytes(st.b), Bytes(st.X), Bytes(encrypted)}, st.mac))
    return {};
  std::vector<uint8_t> out;
  out.reserve(128 + encrypted.size());
  for (Bytes part : {Bytes(st.id), Bytes(st.b), Bytes(st.X), Bytes(encrypted), Bytes(st.mac)})
    append(out, part);
  return out;
}

Expected<Ntor3ClientResult, HandshakeError> ntor3ClientComplete(const Ntor3ClientState& st,
                                                                Bytes reply, size_t keyLen) {
  if (reply.size() < 64) return fail(HandshakeError::kBadLength);
  Bytes y = reply.subspan(0, 32), auth = reply.subspan(32, 32), msg = reply.subspan(64);
  Key32 yx;
  if (!x25519(st.x, y, yx)) return fail(HandshakeError::kDegenerate);
  auto verLen = encapLen(st.verification.size());
  std::initializer_list<Bytes> secretInput = {Bytes(yx),
                                              Bytes(st.bx),
                                              Bytes(st.id),
                                              Bytes(st.b),
                                              Bytes(st.X),
                                              y,
                                              asBytes(kNtor3Protoid),
                                              Bytes(verLen),
                                              asBytes(st.verification)};
  Key32 keySeed, verify, expected;
  auto msgLen = encapLen(msg.size());
  if (!ntor3H(kNtor3TKeySeed, secretInput, keySeed) ||
      !ntor3H(kNtor3TVerify, secretInput, verify) ||
      !ntor3H(kNtor3TAuth,
              {Bytes(verify), Bytes(st.id), Bytes(st.b), y, Bytes(st.X), Bytes(st.mac),
               Bytes(msgLen), msg, asBytes(kNtor3Protoid), asBytes("Server")},
              expected))
    return fail(HandshakeError::kCrypto);
  if (!constantTimeEqual(expected, auth)) return fail(HandshakeError::kBadMac);
  std::vector<uint8_t> raw(32 + keyLen);
  if (!ntor3Kdf(kNtor3TFinal, {Bytes(keySeed)}, raw)) return fail(HandshakeError::kCrypto);
  Ntor3ClientResult r;
  r.serverMessage.assign(msg.begin(), msg.end());
  if (!aes256CtrZeroIv(Bytes(raw.data(), 32), r.serverMessage))
    return fail(HandshakeError::kCrypto);
  r.keys.assign(raw.begin() + 32, raw.end());
  return r;
}

Expected<FastServerResult, HandshakeError> fastServer(Bytes x20, Bytes random20) {
  if (x20.size() != kFastLen || random20.size() != kFastLen)
    return fail(HandshakeError::kBadLength);
  uint8_t k0[40];
  std::memcpy(k0, x20.data(), 20);
  std::memcpy(k0 + 20, random20.data(), 20);
  uint8_t k[20 + 72];
  if (!kdfTor(Bytes(k0), k)) return fail(HandshakeError::kCrypto);
  FastServerResult r;
  std::memcpy(r.reply.data(), random20.data(), 20);
  std::memcpy(r.reply.data() + 20, k, 20);
  r.keys.assign(k + 20, k + sizeof k);
  return r;
}

Expected<std::vector<uint8_t>, HandshakeError> fastClientComplete(Bytes x20, Bytes reply40) {
  if (x20.size() != kFastLen || reply40.size() != 2 * kFastLen)
    return fail(HandshakeError::kBadLength);
  uint8_t k0[40];
  std::memcpy(k0, x20.data(), 20);
  std::memcpy(k0 + 20, reply40.data(), 20);
  uint8_t k[20 + 72];
  if (!kdfTor(Bytes(k0), k)) return fail(HandshakeError::kCrypto);
  if (!constantTimeEqual(Bytes(k, 20), reply40.subspan(20))) return fail(HandshakeError::kBadMac);
  return std::vector<uint8_t>(k + 20, k + sizeof k);
}

}  // namespace onionsplit::crypto
