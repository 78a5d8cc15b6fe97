// Tests for common/crypto/cgo.h: every vector of tests/data/cgo/ (the proposal authors' reference
// implementation, as shipped with Arti) byte for byte, POLYVAL against RFC 8452 and a bit-serial
// reference on both implementations, and client/relay layers exchanging cells both ways with key
// updates, tampering and wrong-length inputs.
#include "common/crypto/cgo.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "common/base/hex.h"
#include "common/crypto/curve25519.h"
#include "common/crypto/ntor_handshakes.h"

namespace onionsplit::crypto {
namespace {

using Cell = std::array<uint8_t, kRelayPayloadLen>;
using Blob = std::vector<uint8_t>;

// ---- the vector files: tables of tuples of hex strings, booleans and small integers ----

struct Table {
  std::string name;
  std::vector<std::string> fields;  // flattened in tuple order; booleans as "true"/"false"
};

std::vector<Table> readTables(const std::string& file) {
  std::ifstream in(std::string(ONIONSPLIT_SOURCE_DIR) + "/tests/data/cgo/" + file);
  EXPECT_TRUE(in) << file;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string s = ss.str();
  std::vector<Table> tables;
  size_t pos = 0;
  while ((pos = s.find("const ", pos)) != std::string::npos) {
    size_t nameEnd = s.find_first_of(" :", pos + 6);
    Table t{s.substr(pos + 6, nameEnd - pos - 6), {}};
    size_t i = s.find("= &[", nameEnd);
    if (i == std::string::npos) break;
    i += 4;
    for (int depth = 1; i < s.size() && depth > 0;) {
      char c = s[i];
      if (c == '[') {
        ++depth, ++i;
      } else if (c == ']') {
        --depth, ++i;
      } else if (s.compare(i, 2, "//") == 0) {
        i = s.find('\n', i);
      } else if (c == '"') {
        size_t e = s.find('"', i + 1);
        t.fields.push_back(s.substr(i + 1, e - i - 1));
        i = e + 1;
      } else if (std::isalnum(static_cast<unsigned char>(c))) {
        size_t e = i;
        while (e < s.size() && std::isalnum(static_cast<unsigned char>(s[e])))
          ++e;
        std::string w = s.substr(i, e - i);
        t.fields.push_back(w == "True" ? "true" : w == "False" ? "false" : w);
        i = e;
      } else {
        ++i;
      }
    }
    pos = i;
    tables.push_back(std::move(t));
  }
  return tables;
}

// The rows of table `name`, each `width` fields.
std::vector<std::vector<std::string>> rows(const std::string& file, const std::string& name,
                                           size_t width) {
  std::vector<std::vector<std::string>> out;
  for (auto& t : readTables(file)) {
    if (t.name != name) continue;
    EXPECT_EQ(t.fields.size() % width, 0u) << name;
    for (size_t i = 0; i + width <= t.fields.size(); i += width)
      out.emplace_back(t.fields.begin() + i, t.fields.begin() + i + width);
  }
  EXPECT_FALSE(out.empty()) << name << " in " << file;
  return out;
}

Blob unhex(const std::string& h) {
  auto v = fromHex(h);
  EXPECT_TRUE(v) << h;
  return v ? *v : Blob{};
}

CgoBlock block(const std::string& h) {
  Blob b = unhex(h);
  CgoBlock out{};
  EXPECT_EQ(b.size(), out.size());
  std::copy_n(b.begin(), std::min(b.size(), out.size()), out.begin());
  return out;
}

Cell cell(const std::string& left, const std::string& right) {
  Blob b = unhex(left + right);
  Cell c{};
  EXPECT_EQ(b.size(), c.size());
  std::copy_n(b.begin(), std::min(b.size(), c.size()), c.begin());
  return c;
}

Blob concat(const std::string& a, const std::string& b) {
  return unhex(a + b);
}

Blob bytes(const CgoBlock& b) {
  return Blob(b.begin(), b.end());
}

Blob bytes(const std::array<uint8_t, kCgoUivKeyLen>& b) {
  return Blob(b.begin(), b.end());
}

// ---- POLYVAL ----

// Bit-serial reference: a*b mod x^128 + x^127 + x^126 + x^121 + 1, then times x^-128.
struct Ref {
  uint64_t lo = 0, hi = 0;
};
Ref refMul(Ref a, Ref b) {
  Ref r;
  for (int i = 0; i < 128; ++i) {
    uint64_t bit = i < 64 ? (b.lo >> i) & 1 : (b.hi >> (i - 64)) & 1;
    if (bit) r.lo ^= a.lo, r.hi ^= a.hi;
    uint64_t carry = a.hi >> 63;
    a.hi = (a.hi << 1) | (a.lo >> 63);
    a.lo <<= 1;
    if (carry) a.lo ^= 1, a.hi ^= (1ULL << 63) | (1ULL << 62) | (1ULL << 57);
  }
  return r;
}
Blob refPolyval(const Blob& key, const Blob& x) {
  auto ld = [](const uint8_t* p) {
    Ref r;
    for (int i = 7; i >= 0; --i)
      r.lo = (r.lo << 8) | p[i], r.hi = (r.hi << 8) | p[8 + i];
    return r;
  };
  Ref xinv{0, (1ULL << 63) | (1ULL << 62) | (1ULL << 61) | (1ULL << 56)};  // x^-1
  Ref xinv128{1, 0};
  for (int i = 0; i < 128; ++i)
    xinv128 = refMul(xinv128, xinv);
  Ref h = ld(key.data()), s;
  Blob padded = x;
  padded.resize((x.size() + 15) / 16 * 16, 0);
  for (size_t i = 0; i < padded.size(); i += 16) {
    Ref b = ld(padded.data() + i);
    s = refMul(refMul(Ref{s.lo ^ b.lo, s.hi ^ b.hi}, h), xinv128);
  }
  Blob out(16);
  for (int i = 0; i < 8; ++i)
    out[i] = uint8_t(s.lo >> (8 * i)), out[8 + i] = uint8_t(s.hi >> (8 * i));
  return out;
}

std::vector<Polyval::Impl> impls() {
  std::vector<Polyval::Impl> v{Polyval::Impl::kPortable};
  if (Polyval::clmulAvailable()) v.push_back(Polyval::Impl::kClmul);
  if (Polyval::vclmulAvailable()) v.push_back(Polyval::Impl::kVclmul);
  return v;
}

TEST(CgoPolyval, Rfc8452WorkedExampleBothImplementations) {
  for (auto impl : impls()) {
    Polyval p(impl);
    ASSERT_EQ(p.impl(), impl);
    ASSERT_TRUE(p.setKey(unhex("25629347589242761d31f826ba4b757b")));
    Blob x = unhex("4f4f95668c83dfb6401762bb2d01a262d1a24ddd2721d006bbe45f20d3c9f362");
    EXPECT_EQ(bytes(p.hash(x)), unhex("f7a3b47b846119fae5b7866cf5e5b77e"));
  }
}

TEST(CgoPolyval, MatchesBitSerialReferenceAtEveryLengthBothImplementations) {
  GTEST_LOG_(INFO) << "implementations tested here: " << impls().size() << " of 3";
  std::mt19937_64 rng(359);
  for (size_t len = 0; len <= 40 * 16 + 3; len += 7) {
    Blob key(16), x(len);
    for (auto& b : key)
      b = uint8_t(rng());
    for (auto& b : x)
      b = uint8_t(rng());
    Blob want = refPolyval(key, x);
    for (auto impl : impls()) {
      for (bool aggregate : {true, false}) {
        Polyval p(impl);
        ASSERT_TRUE(p.setKey(key, aggregate));
        EXPECT_EQ(bytes(p.hash(x)), want) << "len " << len << " impl " << int(impl);
      }
    }
  }
}

// ET's tweak H | AD | X_R hashed in place (the VPCLMULQDQ path reads X_R where it lies, masking
// the bytes around it) equals POLYVAL of the tweak laid out in one buffer, for every
// implementation and for H's single-block hash too. X_R sits at the very end of its buffer.
TEST(CgoPolyval, EtTweakInPlaceMatchesTheLaidOutTweak) {
  std::mt19937_64 rng(510);
  for (int round = 0; round < 50; ++round) {
    Blob key(16), xr(kCgoRightLen);
    CgoBlock h;
    for (auto& b : key)
      b = uint8_t(rng());
    for (auto& b : xr)
      b = uint8_t(rng());
    for (auto& b : h)
      b = uint8_t(rng());
    uint8_t ad = uint8_t(rng());
    Blob t(h.begin(), h.end());
    t.push_back(ad);
    t.insert(t.end(), xr.begin(), xr.end());
    Blob want = refPolyval(key, t), wantBlock = refPolyval(key, Blob(h.begin(), h.end()));
    for (auto impl : impls()) {
      for (bool aggregate : {true, false}) {
        Polyval p(impl);
        ASSERT_TRUE(p.setKey(key, aggregate));
        EXPECT_EQ(bytes(p.hashEtTweak(h, ad, xr.data())), want) << "impl " << int(impl);
        EXPECT_EQ(bytes(p.hashBlock(h.data())), wantBlock) << "impl " << int(impl);
      }
    }
  }
}

// ---- the reference vectors ----

TEST(CgoVectors, Et) {
  auto rs = rows("cgo_et.vectors", "ET_TEST_VECTORS", 5);
  EXPECT_EQ(rs.size(), 20u);
  for (auto& r : rs) {
    bool enc = r[0] == "true";
    Blob t = unhex(r[2]);
    ASSERT_EQ(t.size(), kCgoBlockLen + 1 + kCgoRightLen);
    auto et = CgoEt::create(unhex(r[1]), enc ? CgoRole::kRelay : CgoRole::kClient);
    ASSERT_TRUE(et);
    CgoBlock h{}, m = block(r[3]);
    std::copy_n(t.begin(), 16, h.begin());
    ASSERT_TRUE(et->apply(h, t[16], t.data() + 17, m.data()));
    EXPECT_EQ(bytes(m), unhex(r[4]));
  }
}

TEST(CgoVectors, Prf) {
  auto rs = rows("cgo_prf.vectors", "PRF_TEST_VECTORS", 4);
  EXPECT_EQ(rs.size(), 20u);
  for (auto& r : rs) {
    auto prf = CgoPrf::create(unhex(r[0]));
    ASSERT_TRUE(prf);
    CgoBlock tweak = block(r[2]);
    Blob want = unhex(r[3]);
    Blob got(want.size(), 0);
    if (r[1] == "0") {
      ASSERT_EQ(got.size(), kCgoRightLen);
      ASSERT_TRUE(prf->xorT0(tweak.data(), got.data()));
    } else {
      ASSERT_EQ(r[1], "1");
      ASSERT_TRUE(prf->genT1(tweak.data(), got));
    }
    EXPECT_EQ(got, want);
  }
}

TEST(CgoVectors, Uiv) {
  auto rs = rows("cgo_uiv.vectors", "UIV_TEST_VECTORS", 7);
  EXPECT_EQ(rs.size(), 12u);
  for (auto& r : rs) {
    bool enc = r[0] == "true";
    auto uiv = CgoUiv::create(unhex(r[1]), enc ? CgoRole::kRelay : CgoRole::kClient);
    ASSERT_TRUE(uiv);
    Blob hAd = unhex(r[2]);
    ASSERT_EQ(hAd.size(), 17u);
    CgoBlock h{};
    std::copy_n(hAd.begin(), 16, h.begin());
    Cell c = cell(r[3], r[4]);
    ASSERT_TRUE(enc ? uiv->encrypt(h, hAd[16], c) : uiv->decrypt(h, hAd[16], c));
    EXPECT_EQ(c, cell(r[5], r[6]));
  }
}

TEST(CgoVectors, UivUpdate) {
  auto rs = rows("cgo_uiv.vectors", "UIV_UPDATE_TEST_VECTORS", 4);
  std::mt19937_64 rng(7);
  for (auto& r : rs) {
    auto uiv = CgoUiv::create(unhex(r[0]), CgoRole::kRelay);
    ASSERT_TRUE(uiv);
    CgoBlock n = block(r[1]);
    ASSERT_TRUE(uiv->update(n));
    EXPECT_EQ(bytes(uiv->key()), unhex(r[2]));
    EXPECT_EQ(bytes(n), unhex(r[3]));
    // The contexts were re-keyed, not only the copy of the key: a UIV+ made from the new key
    // encrypts alike.
    auto fresh = CgoUiv::create(unhex(r[2]), CgoRole::kRelay);
    ASSERT_TRUE(fresh);
    Cell a;
    for (auto& b : a)
      b = uint8_t(rng());
    Cell b = a;
    CgoBlock h{};
    h[3] = 9;
    ASSERT_TRUE(uiv->encrypt(h, 3, a));
    ASSERT_TRUE(fresh->encrypt(h, 3, b));
    EXPECT_EQ(a, b);
  }
}

void expectState(const CgoDirection& d, const std::string& k, const std::string& n,
                 const std::string& t) {
  EXPECT_EQ(bytes(d.uiv().key()), unhex(k));
  EXPECT_EQ(bytes(d.nonce()), unhex(n));
  EXPECT_EQ(bytes(d.tprime()), unhex(t));
}

TEST(CgoVectors, RelayInboundAndOutbound) {
  // inbound, (K, N, T'), AD, T, C, ((K', N', T''), (T_out, C_out))
  auto rs = rows("cgo_relay.vectors", "CGO_RELAY_TEST_VECTORS", 12);
  EXPECT_EQ(rs.size(), 12u);
  int recognized = 0;
  for (auto& r : rs) {
    auto d = CgoDirection::create(concat(r[1], r[2]), CgoRole::kRelay, block(r[3]));
    ASSERT_TRUE(d);
    Blob ad = unhex(r[4]);
    ASSERT_EQ(ad.size(), 1u);
    Cell c = cell(r[5], r[6]);
    if (r[0] == "true") {
      ASSERT_TRUE(d->relayBackward(ad[0], c));
    } else {
      CgoTag tag{};
      auto got = d->relayForward(ad[0], c, &tag);
      ASSERT_NE(got, CgoDirection::Received::kError);
      // Recognized exactly when the state moved on to new keys; the tag is T as it arrived.
      EXPECT_EQ(got == CgoDirection::Received::kRecognized, unhex(r[7]) != unhex(r[1]));
      if (got == CgoDirection::Received::kRecognized) {
        ++recognized;
        EXPECT_EQ(bytes(tag), unhex(r[5]));
      }
    }
    EXPECT_EQ(c, cell(r[10], r[11]));
    expectState(*d, r[7], r[8], r[9]);
  }
  GTEST_LOG_(INFO) << recognized << " outbound vectors were recognized";
}

TEST(CgoVectors, RelayOriginate) {
  // (K, N, T'), AD, M, ((K', N', T''), (T_out, C_out))
  auto rs = rows("cgo_relay.vectors", "CGO_RELAY_ORIGINATE_TEST_VECTORS", 10);
  EXPECT_EQ(rs.size(), 6u);
  for (auto& r : rs) {
    auto d = CgoDirection::create(concat(r[0], r[1]), CgoRole::kRelay, block(r[2]));
    ASSERT_TRUE(d);
    Cell c = cell(std::string(32, '0'), r[4]);
    CgoTag tag{};
    ASSERT_TRUE(d->relayOriginate(unhex(r[3]).at(0), c, &tag));
    EXPECT_EQ(c, cell(r[8], r[9]));
    EXPECT_EQ(bytes(tag), unhex(r[8]));
    expectState(*d, r[5], r[6], r[7]);
  }
}

TEST(CgoVectors, ClientOriginateAndRelaysPeelIt) {
  // S[3] = 3 x (K, N, T'), d (1-based), AD, M, (S'[3], (T, C))
  auto rs = rows("cgo_client.vectors", "CGO_CLIENT_ORIGINATE_TEST_VECTORS", 23);
  EXPECT_EQ(rs.size(), 14u);
  const Blob zeroSeed(kCgoSeedLen, 0);
  for (auto& r : rs) {
    CgoClientCircuit client;
    std::vector<CgoDirection> relays;
    for (size_t h = 0; h < 3; ++h) {
      auto o = CgoDirection::create(concat(r[3 * h], r[3 * h + 1]), CgoRole::kClient,
                                    block(r[3 * h + 2]));
      auto i = CgoDirection::create(zeroSeed, CgoRole::kClient);
      ASSERT_TRUE(o && i);
      ASSERT_TRUE(client.addHop(std::move(*o), std::move(*i)));
      auto rel = CgoDirection::create(concat(r[3 * h], r[3 * h + 1]), CgoRole::kRelay,
                                      block(r[3 * h + 2]));
      ASSERT_TRUE(rel);
      relays.push_back(std::move(*rel));
    }
    size_t target = std::stoul(r[9]) - 1;
    uint8_t ad = unhex(r[10]).at(0);
    Cell c = cell(std::string(32, '0'), r[11]);
    CgoTag clientTag{};
    ASSERT_TRUE(client.originateOutbound(target, ad, c, &clientTag));
    EXPECT_EQ(c, cell(r[21], r[22]));
    for (size_t h = 0; h < 3; ++h)
      expectState(client.outbound(h), r[12 + 3 * h], r[13 + 3 * h], r[14 + 3 * h]);

    // The relays built from the same states pass it on until the target recognizes it.
    for (size_t h = 0; h <= target; ++h) {
      CgoTag relayTag{};
      auto got = relays[h].relayForward(ad, c, &relayTag);
      ASSERT_EQ(got, h == target ? CgoDirection::Received::kRecognized
                                 : CgoDirection::Received::kNotRecognized);
      if (h == target) {
        EXPECT_EQ(relayTag, clientTag);
      }
    }
    EXPECT_EQ(Blob(c.begin() + kCgoTagLen, c.end()), unhex(r[11]));
  }
}

// ---- own tests: whole circuits ----

Blob randomBytes(std::mt19937_64& rng, size_t n) {
  Blob b(n);
  for (auto& x : b)
    x = uint8_t(rng());
  return b;
}

struct Circuit {
  CgoClientCircuit client;
  std::vector<CgoRelayCrypto> relays;
};

Circuit makeCircuit(std::mt19937_64& rng, size_t hops) {
  Circuit c;
  for (size_t i = 0; i < hops; ++i) {
    Blob km = randomBytes(rng, kCgoKeyMaterialLen);
    EXPECT_TRUE(c.client.addHop(km));
    auto r = CgoRelayCrypto::fromSeed(km);
    EXPECT_TRUE(r);
    c.relays.push_back(std::move(*r));
  }
  return c;
}

constexpr uint8_t kRelayCmd = 3, kRelayEarlyCmd = 9;

TEST(CgoCircuit, ThreeHopsManyCellsBothWaysWithKeyUpdates) {
  std::mt19937_64 rng(42);
  Circuit circ = makeCircuit(rng, 3);
  for (int n = 0; n < 600; ++n) {
    size_t target = rng() % 3;
    uint8_t cmd = rng() % 2 ? kRelayCmd : kRelayEarlyCmd;
    Cell c{}, body{};
    for (size_t i = kCgoTagLen; i < c.size(); ++i)
      c[i] = uint8_t(rng());
    body = c;
    if (n % 2 == 0) {  // outbound
      auto keyBefore = circ.relays[target].outbound().uiv().key();
      CgoTag sent{}, got{};
      ASSERT_TRUE(circ.client.originateOutbound(target, cmd, c, &sent));
      for (size_t h = 0; h <= target; ++h) {
        auto r = circ.relays[h].processOutbound(cmd, c, &got);
        ASSERT_EQ(r, h == target ? CgoRelayCrypto::Outbound::kRecognized
                                 : CgoRelayCrypto::Outbound::kNotRecognized);
      }
      EXPECT_EQ(got, sent);
      EXPECT_NE(circ.relays[target].outbound().uiv().key(), keyBefore);
      EXPECT_EQ(circ.relays[target].outbound().uiv().key(),
                circ.client.outbound(target).uiv().key());
    } else {  // inbound: hop `target` originates, the hops before it pass it on
      CgoTag sent{}, got{};
      ASSERT_TRUE(circ.relays[target].originateInbound(cmd, c, &sent));
      for (size_t h = target; h-- > 0;)
        ASSERT_TRUE(circ.relays[h].relayInbound(cmd, c));
      auto hop = circ.client.receiveInbound(cmd, c, &got);
      ASSERT_EQ(hop, target);
      EXPECT_EQ(got, sent);
      EXPECT_EQ(circ.relays[target].inbound().uiv().key(), circ.client.inbound(target).uiv().key());
    }
    EXPECT_TRUE(std::equal(c.begin() + kCgoTagLen, c.end(), body.begin() + kCgoTagLen)) << n;
  }
}

TEST(CgoCircuit, TamperedCellIsNotRecognized) {
  std::mt19937_64 rng(1);
  for (size_t where : {size_t{0}, size_t{15}, size_t{16}, size_t{300}, kRelayPayloadLen - 1}) {
    Circuit circ = makeCircuit(rng, 2);
    Cell c{};
    c[20] = 0x42;
    ASSERT_TRUE(circ.client.originateOutbound(1, kRelayCmd, c, nullptr));
    c[where] ^= 0x01;
    EXPECT_EQ(circ.relays[0].processOutbound(kRelayCmd, c, nullptr),
              CgoRelayCrypto::Outbound::kNotRecognized);
    EXPECT_EQ(circ.relays[1].processOutbound(kRelayCmd, c, nullptr),
              CgoRelayCrypto::Outbound::kNotRecognized)
        << "flipped byte " << where;

    Cell back{};
    ASSERT_TRUE(circ.relays[1].originateInbound(kRelayCmd, back, nullptr));
    ASSERT_TRUE(circ.relays[0].relayInbound(kRelayCmd, back));
    back[where] ^= 0x80;
    EXPECT_FALSE(circ.client.receiveInbound(kRelayCmd, back, nullptr)) << "flipped byte " << where;
  }
}

TEST(CgoCircuit, RelayEarlyRewrittenToRelayIsNotRecognized) {
  std::mt19937_64 rng(2);
  Circuit circ = makeCircuit(rng, 1);
  Cell c{};
  ASSERT_TRUE(circ.client.originateOutbound(0, kRelayEarlyCmd, c, nullptr));
  EXPECT_EQ(circ.relays[0].processOutbound(kRelayCmd, c, nullptr),
            CgoRelayCrypto::Outbound::kNotRecognized);
}

TEST(CgoCircuit, ReplayedCellIsNotRecognizedAfterTheKeyUpdate) {
  std::mt19937_64 rng(3);
  Circuit circ = makeCircuit(rng, 1);
  Cell c{};
  ASSERT_TRUE(circ.client.originateOutbound(0, kRelayCmd, c, nullptr));
  Cell copy = c;
  ASSERT_EQ(circ.relays[0].processOutbound(kRelayCmd, c, nullptr),
            CgoRelayCrypto::Outbound::kRecognized);
  EXPECT_EQ(circ.relays[0].processOutbound(kRelayCmd, copy, nullptr),
            CgoRelayCrypto::Outbound::kNotRecognized);
}

// Both ends of an ntor v3 handshake asked for kCgoKeyMaterialLen bytes key a working hop.
TEST(CgoCircuit, KeyedFromBothEndsOfAnNtorV3Handshake) {
  std::mt19937_64 rng(5);
  Blob id = randomBytes(rng, 32), b = randomBytes(rng, 32), x = randomBytes(rng, 32),
       y = randomBytes(rng, 32);
  auto relayKey = Curve25519Keypair::fromSecret(b);
  ASSERT_TRUE(relayKey);
  Curve25519Keypair keys[] = {*relayKey};
  Ntor3ClientState st;
  Blob hs = ntor3ClientCreate(id, relayKey->publicKey, Bytes(), x, kNtor3CircuitVerification, st);
  auto server = ntor3Server(
      id, keys, hs, y, [](Bytes) { return std::optional<Blob>(Blob{}); }, kNtor3CircuitVerification,
      kCgoKeyMaterialLen);
  ASSERT_TRUE(server);
  auto client = ntor3ClientComplete(st, server->reply, kCgoKeyMaterialLen);
  ASSERT_TRUE(client);
  ASSERT_EQ(server->keys.size(), kCgoKeyMaterialLen);

  auto relay = CgoRelayCrypto::fromSeed(server->keys);
  CgoClientCircuit circ;
  ASSERT_TRUE(relay && circ.addHop(client->keys));
  for (int n = 0; n < 20; ++n) {
    Cell c{};
    c[kCgoTagLen] = uint8_t(n);
    CgoTag sent{}, got{};
    ASSERT_TRUE(circ.originateOutbound(0, kRelayCmd, c, &sent));
    ASSERT_EQ(relay->processOutbound(kRelayCmd, c, &got), CgoRelayCrypto::Outbound::kRecognized);
    EXPECT_EQ(got, sent);
    EXPECT_EQ(c[kCgoTagLen], uint8_t(n));
    ASSERT_TRUE(relay->originateInbound(kRelayCmd, c, &sent));
    ASSERT_EQ(circ.receiveInbound(kRelayCmd, c, &got), 0u);
    EXPECT_EQ(got, sent);
  }
}

TEST(CgoCircuit, KeyMaterialIsOutboundSeedThenInboundSeed) {
  std::mt19937_64 rng(4);
  Blob km = randomBytes(rng, kCgoKeyMaterialLen);
  auto r = CgoRelayCrypto::fromSeed(km);
  ASSERT_TRUE(r);
  EXPECT_EQ(bytes(r->outbound().uiv().key()), Blob(km.begin(), km.begin() + 64));
  EXPECT_EQ(bytes(r->outbound().nonce()), Blob(km.begin() + 64, km.begin() + 80));
  EXPECT_EQ(bytes(r->inbound().uiv().key()), Blob(km.begin() + 80, km.begin() + 144));
  EXPECT_EQ(bytes(r->inbound().nonce()), Blob(km.begin() + 144, km.end()));
  EXPECT_EQ(r->outbound().tprime(), CgoBlock{});
}

TEST(CgoInputs, WrongLengthsAreRefused) {
  Blob b(200, 7);
  Bytes all(b);
  for (size_t n : {size_t{0}, kCgoKeyMaterialLen - 1, kCgoKeyMaterialLen + 1}) {
    EXPECT_FALSE(CgoRelayCrypto::fromSeed(all.first(n))) << n;
    CgoClientCircuit client;
    EXPECT_FALSE(client.addHop(all.first(n))) << n;
    EXPECT_EQ(client.hops(), 0u);
  }
  EXPECT_FALSE(CgoDirection::create(all.first(kCgoSeedLen - 1), CgoRole::kRelay));
  EXPECT_FALSE(CgoDirection::create(all.first(kCgoSeedLen + 1), CgoRole::kRelay));
  EXPECT_FALSE(CgoUiv::create(all.first(kCgoUivKeyLen - 1), CgoRole::kRelay));
  EXPECT_FALSE(CgoEt::create(all.first(kCgoEtKeyLen + 1), CgoRole::kRelay));
  EXPECT_FALSE(CgoPrf::create(all.first(kCgoPrfKeyLen - 1)));
  Polyval p;
  EXPECT_FALSE(p.setKey(all.first(15)));
  auto prf = CgoPrf::create(all.first(kCgoPrfKeyLen));
  ASSERT_TRUE(prf);
  Blob out(kCgoPrfT1MaxLen + 1);
  EXPECT_FALSE(prf->genT1(b.data(), out));
  EXPECT_TRUE(prf->genT1(b.data(), MutBytes(out).first(kCgoPrfT1MaxLen)));
  CgoClientCircuit client;
  ASSERT_TRUE(client.addHop(all.first(kCgoKeyMaterialLen)));
  Cell c{};
  EXPECT_FALSE(client.originateOutbound(1, kRelayCmd, c, nullptr));  // no such hop
}

TEST(CgoInputs, EachRoleRefusesTheOthersOperations) {
  Blob seed(kCgoSeedLen, 5);
  auto relay = CgoDirection::create(seed, CgoRole::kRelay);
  auto client = CgoDirection::create(seed, CgoRole::kClient);
  ASSERT_TRUE(relay && client);
  Cell c{};
  EXPECT_FALSE(relay->clientForward(kRelayCmd, c));
  EXPECT_FALSE(relay->clientOriginate(kRelayCmd, c, nullptr));
  EXPECT_EQ(relay->clientBackward(kRelayCmd, c, nullptr), CgoDirection::Received::kError);
  EXPECT_FALSE(client->relayBackward(kRelayCmd, c));
  EXPECT_FALSE(client->relayOriginate(kRelayCmd, c, nullptr));
  EXPECT_EQ(client->relayForward(kRelayCmd, c, nullptr), CgoDirection::Received::kError);
  CgoClientCircuit circ;
  auto o = CgoDirection::create(seed, CgoRole::kRelay);
  auto i = CgoDirection::create(seed, CgoRole::kClient);
  EXPECT_FALSE(circ.addHop(std::move(*o), std::move(*i)));
}

}  // namespace
}  // namespace onionsplit::crypto
