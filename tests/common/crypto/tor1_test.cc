// Tests for common/crypto/tor1.h: the tor1 vectors of specs/test-vectors.md §7 byte for byte, and a
// three-hop client and relays exchanging thousands of cells both ways with digests checked.
#include "common/crypto/tor1.h"

#include <gtest/gtest.h>

#include <random>

#include "common/base/hex.h"

namespace onionsplit::crypto {
namespace {

using Cell = std::array<uint8_t, kRelayPayloadLen>;

Cell cellFromHex(const char* hex) {
  Cell c{};
  auto v = fromHex(hex);
  EXPECT_TRUE(v);
  EXPECT_LE(v->size(), c.size());
  std::copy(v->begin(), v->end(), c.begin());
  return c;
}

Tor1Keys vectorKeys() {
  Tor1Keys k;
  auto cp = [](auto& dst, const char* hex) {
    auto v = *fromHex(hex);
    std::copy(v.begin(), v.end(), dst.begin());
  };
  cp(k.df, "0c62dee7f48893370d0ef896758d35729867beef");
  cp(k.db, "1a5121df80e00f79ed349af39b51cae125719182");
  cp(k.kf, "f19d932a667dae1afbf2e336e6910e78");
  cp(k.kb, "22223e763afad0a13342157969dc6b79");
  return k;
}

const char* kFwd1Plain = "01000000016e937cf400136578616d706c652e636f6d3a3830";
const char* kFwd1Cipher =
    "37585fb0080e6d51efcbf93e08aa0d21ce0c69b5f47253860476f518544d86c2"
    "74301415d5e455cdb7fb1f14c3809d9d3b9a08d6160f0c6395034267c7f3aed0"
    "361bbb2ae4a43dd608b54a33f5e784ff2070961ca383007563834381ffbcb48b"
    "9bf972ded24ce99fe3c1cf54bfe439a0437333f3386e49cd2c25a5cde69d89ee"
    "b01504133fe3ed4286eb22e9a8d5047cda4274d26312818d04cb58afc5c8ab9f"
    "ad4d6b54f4bd6d781b899bf1af4e4797fa54ca27bf4de1aff938b67bd8a33ab6"
    "4a5636a56f984dced976937505835b8d4464a89d92119545b727f56d5c7502af"
    "c2e9dd573e8a35f620e5895ca3265ea013b2aac8cc2fdfe394e56edc92c4ff88"
    "3919751d52d4469c4aed50373c686f90cc9a13e0890b0c60f9e986a39cd83d61"
    "19d5155dbb34e2d27b7962e4ccc01f4f18100d735f6dfacc77a9ae70f986f82b"
    "122a48ae426a16e3a14294e0fea9bae139a2de03895a24fa29c504cc8bff48bd"
    "d54686e10681050e248d8313f302d9f2e385689648cf3ef87fa81c6466def91b"
    "23da6d66b4d94e0976dbb7742ff99fed1cdcbf5afd5154fe87398eb569d93150"
    "44594537e206b1afd81ff34c09627069b920da8fdfa926b7c57d70db0512594a"
    "6fbe2ac770311bcc2cf73d227d76647d1ebb50f42642603cbf75d56b492fa6cc"
    "76145ef8c866a0ae8b1c40ec3c9aaab0eb96844db4d6cbff075e09061d";
const char* kFwd2Plain = "0200000001bc614a630012474554202f20485454502f312e300d0a0d0a";
const char* kFwd2Cipher =
    "c85a5fc1f86be84a78487da444b2814e42a70789e2a719efdc6d741a218062ec"
    "a3bab27e8b6ec4b067326493cf03314ba59a9f9c93c15fef35f328d119f33889"
    "ab92f527f3fe1a6f1483dfe937d06c651d9508c07933921da9b1c0989c04457c"
    "8d3e6f4bffdcad9d4e0d71a93c7f747e1927a9b5704575db74bb234af4948da6"
    "a3430b83ed4d29d5a324e3d0e254f22ce7371cf8cf7bd7ec7585f12f3e6f52ce"
    "8a17c97450a5e143e68274c2035ac1e238f71a1eff79cd72af9246578dc025ff"
    "bdecd0ce8ce6990f6a067d47d1a21347d023d512ee674f67836cc7ef245055df"
    "fa2b3f4c4fd0a916b1cbc24931a6fb6361c97e8b4d7e2be718cb179f4bb5933c"
    "35069536fccc2593b7f138d90acef17dccdbbc60cdfc480e277cac0eeac37fe9"
    "cc3ccef4a932ab9c08c0b20e10d5855bdc67e7885f786b86763a1b702e3a9787"
    "672379939b261c2b3138a608a1d51da02ec1c117706cf05883320eb31454b0df"
    "dc6c66fc78d019334dfd0a7cb9c2ccf7f972a07a2dee91b7bab672c3b0cb8922"
    "bdbf523e021ca911c48a4a17523cd20cf6f124e2936ed4b1b2f76e162ab46a2d"
    "1e0b77a4fe26894fefabe9a40569db2a8277047d3fed828274670d1d2c42dbd4"
    "c960ed65f4562695cfcd096b1637bcc347494232f805c39e1f6829400bbcb2bd"
    "b886764c46601133f7d6632e208333ac6035f07b5a33fae27d43bfd749";
const char* kBwd1Plain = "04000000012f6208f100085db8d8220000012c";
const char* kBwd1Cipher =
    "ac6330c5cae3b17668e5f99207d61e6a10601f2ad3d70120d545728685599630"
    "deb40cf4066a5e4674640beabc1004eb205647dca9ec5586246b78381c49a81e"
    "7a0dafb0f5e2cc1dfa6040ba841e9388f594b2c1990b7a2582c1da5d95278b66"
    "ef039f492da281bed46c6a3d49312cac398b0b44f51b2386faf156c815f77188"
    "6b7dbee79af43747c383b1d774e5d22a9edcfdacc0bdfdf55fcbcc93a8ba9013"
    "f9fd3ba4c430206c8fb05b57a88b374220cc232e84ea14e0a87eb6d07426c236"
    "1d2fecc2b989f92f570ae7ec9a91c915c772831acced248f16794061c4bc257b"
    "0ccd48eebb083db61c1507adb0b72cbab2d4a85ff9ddfa8805e5bfdf578f8205"
    "3671ebdf218941b8ce1d9ad3949ecc774838416af27d3bb95cb683e0cc0c775c"
    "d9b47fee794d74cf54b726cf81bffc89baf9dfa57f042deee7e0286b32f89550"
    "d7cc92abc5c095bb9776d62407f49f6a409f36bbef7f771647b1da610d115a8b"
    "20382a0490360fbb22deab7033a77f56fe749d92e4f09fcb79267adc27171daf"
    "365519cc8c1e7b0c7d9e808f442cb995ffe8c7904dc9772dbf7650f26e60b1cd"
    "1e1e818167b78a7c1f7b51dbe533eceeb2741c18b38f7b56c39650da76b57d5b"
    "158a68b81ec275ea4772ae43ae1d4ace367fffa2e5f52a48bcef74d2f061da6f"
    "3da228a49514923c071d30573bb439610f2ceaadfa07a2e7167d54c439";

TEST(Tor1, SpecVectorsBothRoles) {
  ClientCircuit client;
  ASSERT_TRUE(client.addHop(vectorKeys()));
  auto relay = RelayLayer::create(vectorKeys());
  ASSERT_TRUE(relay);

  struct Fwd {
    const char* plain;
    const char* cipher;
    const char* digest;
  } fwd[] = {{kFwd1Plain, kFwd1Cipher, "6e937cf4c7783af59f7ef255f7220ae6d2435f20"},
             {kFwd2Plain, kFwd2Cipher, "bc614a63f6069368a52d033d30b57ff7ef3b5371"}};
  for (const Fwd& f : fwd) {
    Cell c = cellFromHex(f.plain);
    Cell expectedPlain = c;
    // The vector's plaintext already carries its digest; the client recomputes it from zero.
    std::fill(c.begin() + 5, c.begin() + 9, 0);
    Tor1Digest full;
    ASSERT_TRUE(client.originateOutbound(0, c, &full));
    EXPECT_EQ(toHex(c), f.cipher);
    EXPECT_EQ(toHex(full), f.digest);
    Tor1Digest relayFull;
    ASSERT_EQ(relay->processOutbound(c, &relayFull, /*lastHop=*/&f == &fwd[1]),
              RelayLayer::Outbound::kRecognized);
    EXPECT_EQ(c, expectedPlain);
    EXPECT_EQ(toHex(relayFull), f.digest);
  }

  Cell b = cellFromHex(kBwd1Plain);
  Cell expectedPlain = b;
  std::fill(b.begin() + 5, b.begin() + 9, 0);
  Tor1Digest full;
  ASSERT_TRUE(relay->originateInbound(b, &full));
  EXPECT_EQ(toHex(b), kBwd1Cipher);
  EXPECT_EQ(toHex(full), "2f6208f191d8b786bee3b592636c72a927bad5b5");
  Tor1Digest clientFull;
  auto hop = client.receiveInbound(b, &clientFull);
  ASSERT_TRUE(hop);
  EXPECT_EQ(*hop, 0u);
  EXPECT_EQ(b, expectedPlain);
  EXPECT_EQ(clientFull, full);
}

Tor1Keys randomKeys(std::mt19937& rng) {
  Tor1Keys k;
  for (auto* a : {k.df.data(), k.db.data()})
    for (size_t i = 0; i < 20; ++i)
      a[i] = static_cast<uint8_t>(rng());
  for (auto* a : {k.kf.data(), k.kb.data()})
    for (size_t i = 0; i < 16; ++i)
      a[i] = static_cast<uint8_t>(rng());
  return k;
}

TEST(Tor1, ThreeHopsThousandsOfCellsBothWays) {
  std::mt19937 rng(42);
  ClientCircuit client;
  std::vector<RelayLayer> relays;
  for (int i = 0; i < 3; ++i) {
    Tor1Keys k = randomKeys(rng);
    ASSERT_TRUE(client.addHop(k));
    relays.push_back(*RelayLayer::create(k));
  }
  for (int n = 0; n < 3000; ++n) {
    // Forward, to a hop chosen at random.
    size_t target = rng() % 3;
    Cell c{};
    for (size_t i = 11; i < c.size(); ++i)
      c[i] = static_cast<uint8_t>(rng());
    c[0] = 2;
    Cell plain = c;
    Tor1Digest clientTag, relayTag;
    ASSERT_TRUE(client.originateOutbound(target, c, &clientTag));
    for (size_t h = 0; h < 3; ++h) {
      auto r = relays[h].processOutbound(c, &relayTag, /*lastHop=*/h == 2);
      if (h == target) {
        ASSERT_EQ(r, RelayLayer::Outbound::kRecognized) << n;
        break;
      }
      ASSERT_EQ(r, RelayLayer::Outbound::kNotRecognized) << n << " at hop " << h;
    }
    EXPECT_EQ(clientTag, relayTag);
    EXPECT_TRUE(std::equal(plain.begin() + 11, plain.end(), c.begin() + 11));

    // Backward, from a hop chosen at random, relayed by the hops before it.
    size_t from = rng() % 3;
    Cell b{};
    for (size_t i = 11; i < b.size(); ++i)
      b[i] = static_cast<uint8_t>(rng());
    Cell bplain = b;
    ASSERT_TRUE(relays[from].originateInbound(b, &relayTag));
    for (size_t h = from; h-- > 0;)
      ASSERT_TRUE(relays[h].relayInbound(b));
    auto got = client.receiveInbound(b, &clientTag);
    ASSERT_TRUE(got) << n;
    EXPECT_EQ(*got, from);
    EXPECT_EQ(clientTag, relayTag);
    EXPECT_TRUE(std::equal(bplain.begin() + 11, bplain.end(), b.begin() + 11));
  }
}

// An unrecognized cell must not disturb the relay's digest: the three-hop test above checks that
// for cells meant for later hops; here a corrupted cell (a flipped bit in transit) is refused and a
// cell with recognized != 0 is never hashed.
TEST(Tor1, CorruptedCellsAreNotRecognized) {
  std::mt19937 rng(7);
  for (size_t flip : {size_t{1}, size_t{6}, size_t{100}, kRelayPayloadLen - 1}) {
    Tor1Keys k = randomKeys(rng);
    ClientCircuit client;
    ASSERT_TRUE(client.addHop(k));
    auto relay = *RelayLayer::create(k);
    Cell c{};
    c[0] = 2;
    ASSERT_TRUE(client.originateOutbound(0, c, nullptr));
    c[flip] ^= 0x10;
    Cell again = c;
    EXPECT_EQ(relay.processOutbound(c, nullptr), RelayLayer::Outbound::kNotRecognized) << flip;
    auto exit = *RelayLayer::create(k);
    EXPECT_EQ(exit.processOutbound(again, nullptr, true), RelayLayer::Outbound::kNotRecognized);
  }
}

}  // namespace
}  // namespace onionsplit::crypto
