// tests/common/crypto/aes128_test.cc: AES-128 on its own key schedule (common/crypto/aes128.h):
// FIPS-197's example vector in both directions on both implementations, and AES-NI against
// OpenSSL's EVP over random keys, every block count up to 40 (past the 8-block pipeline) and
// re-keying in place as CGO does after each cell.
#include "common/crypto/aes128.h"

#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <array>
#include <vector>

#include "common/base/hex.h"

namespace onionsplit::crypto {
namespace {

std::vector<uint8_t> hex(const char* s) {
  return *fromHex(s);
}

TEST(Aes128, Fips197AppendixC1BothImplementations) {
  auto key = hex("000102030405060708090a0b0c0d0e0f");
  auto plain = hex("00112233445566778899aabbccddeeff");
  auto cipher = hex("69c4e0d86a7b0430d8cdb78070b4c55a");
  for (auto impl : {Aes128::Impl::kEvp, Aes128::Impl::kAesni}) {
    Aes128 enc(impl), dec(impl);
    ASSERT_TRUE(enc.setKey(key.data(), Aes128::Dir::kEncrypt));
    ASSERT_TRUE(dec.setKey(key.data(), Aes128::Dir::kDecrypt));
    auto b = plain;
    ASSERT_TRUE(enc.apply(b.data(), 1));
    EXPECT_EQ(b, cipher) << "impl " << int(enc.impl());
    ASSERT_TRUE(dec.apply(b.data(), 1));
    EXPECT_EQ(b, plain) << "impl " << int(dec.impl());
  }
}

TEST(Aes128, AesniMatchesEvpAtEveryLengthAcrossRekeys) {
  if (!Aes128::aesniAvailable()) GTEST_SKIP() << "no AES-NI on this CPU";
  Aes128 hwEnc(Aes128::Impl::kAesni), hwDec(Aes128::Impl::kAesni);
  Aes128 swEnc(Aes128::Impl::kEvp), swDec(Aes128::Impl::kEvp);
  ASSERT_EQ(hwEnc.impl(), Aes128::Impl::kAesni);
  for (size_t blocks = 1; blocks <= 40; ++blocks) {
    std::array<uint8_t, 16> key{};
    RAND_bytes(key.data(), key.size());
    std::vector<uint8_t> data(blocks * 16);
    RAND_bytes(data.data(), static_cast<int>(data.size()));
    for (Aes128* a : {&hwEnc, &swEnc})
      ASSERT_TRUE(a->setKey(key.data(), Aes128::Dir::kEncrypt));
    for (Aes128* a : {&hwDec, &swDec})
      ASSERT_TRUE(a->setKey(key.data(), Aes128::Dir::kDecrypt));
    auto hw = data, sw = data;
    ASSERT_TRUE(hwEnc.apply(hw.data(), blocks));
    ASSERT_TRUE(swEnc.apply(sw.data(), blocks));
    EXPECT_EQ(hw, sw) << blocks << " blocks encrypted";
    EXPECT_NE(hw, data);
    ASSERT_TRUE(hwDec.apply(hw.data(), blocks));
    ASSERT_TRUE(swDec.apply(sw.data(), blocks));
    EXPECT_EQ(hw, data) << blocks << " blocks decrypted";
    EXPECT_EQ(sw, data);
  }
}

// CGO's PRF counter stream: every implementation against the EVP one (which builds the counter
// blocks in memory), for lengths across the 8-block and 4-lane groups and partial tails, and
// several first counters (T0 starts at 0, T1 at 31).
TEST(Aes128, CounterStreamMatchesTheEvpReferenceInEveryImplementation) {
  std::array<uint8_t, 16> key{}, iv{};
  RAND_bytes(key.data(), key.size());
  RAND_bytes(iv.data(), iv.size());
  iv[15] &= 0xc0;  // CGO's IV has the counter bits clear
  Aes128 ref(Aes128::Impl::kEvp);
  ASSERT_TRUE(ref.setKey(key.data(), Aes128::Dir::kEncrypt));
  for (auto impl : {Aes128::Impl::kAesni, Aes128::Impl::kVaes}) {
    Aes128 a(impl);
    ASSERT_TRUE(a.setKey(key.data(), Aes128::Dir::kEncrypt));
    for (uint8_t first : {0, 1, 31, 40}) {
      for (size_t len = 1; (len + 15) / 16 + first <= 64; len += 7) {
        std::vector<uint8_t> data(len);
        RAND_bytes(data.data(), static_cast<int>(len));
        auto want = data, got = data;
        ASSERT_TRUE(ref.xorCounterStream(iv.data(), first, want.data(), len));
        ASSERT_TRUE(a.xorCounterStream(iv.data(), first, got.data(), len));
        ASSERT_EQ(got, want) << "impl " << int(a.impl()) << " first " << int(first) << " len "
                             << len;
      }
    }
    uint8_t one[16] = {};
    EXPECT_FALSE(a.xorCounterStream(iv.data(), 60, one, 16 * 5)) << "past block 64";
  }
  Aes128 dec;
  ASSERT_TRUE(dec.setKey(key.data(), Aes128::Dir::kDecrypt));
  uint8_t one[16] = {};
  EXPECT_FALSE(dec.xorCounterStream(iv.data(), 0, one, 16)) << "a decryption key";
}

// The keystream written out (CGO's next keys) is the stream XORed onto zeros, and the masked
// block (ET's LRW step) is mask ^ E(block ^ mask), in every implementation and both directions.
TEST(Aes128, KeystreamAndMaskedBlockMatchTheirDefinitions) {
  std::array<uint8_t, 16> key{}, iv{}, mask{}, block{};
  RAND_bytes(key.data(), key.size());
  RAND_bytes(iv.data(), iv.size());
  RAND_bytes(mask.data(), mask.size());
  RAND_bytes(block.data(), block.size());
  iv[15] &= 0xc0;
  for (auto impl : {Aes128::Impl::kEvp, Aes128::Impl::kAesni, Aes128::Impl::kVaes}) {
    Aes128 a(impl);
    ASSERT_TRUE(a.setKey(key.data(), Aes128::Dir::kEncrypt));
    for (size_t len : {1, 16, 80, 493, 512}) {
      std::vector<uint8_t> want(len, 0), got(len, 0xa5);
      ASSERT_TRUE(a.xorCounterStream(iv.data(), 31, want.data(), len));
      ASSERT_TRUE(a.counterStream(iv.data(), 31, got.data(), len));
      EXPECT_EQ(got, want) << "impl " << int(a.impl()) << " len " << len;
    }
    // One pass: the first stream XORed onto data, the blocks after it written out.
    for (size_t len : {1, 16, 17, 493, 512}) {
      for (size_t outLen : {1, 16, 80}) {
        std::vector<uint8_t> data(len, 0x5a), out(outLen, 0xa5);
        auto wantData = data;
        std::vector<uint8_t> wantOut(outLen, 0);
        size_t nd = (len + 15) / 16;
        ASSERT_TRUE(a.xorCounterStream(iv.data(), 0, wantData.data(), len));
        ASSERT_TRUE(a.xorCounterStream(iv.data(), uint8_t(nd), wantOut.data(), outLen));
        ASSERT_TRUE(
            a.xorCounterStreamThenKeystream(iv.data(), data.data(), len, out.data(), outLen));
        EXPECT_EQ(data, wantData) << "impl " << int(a.impl()) << " len " << len;
        EXPECT_EQ(out, wantOut) << "impl " << int(a.impl()) << " len " << len << " out " << outLen;
      }
    }
    for (auto dir : {Aes128::Dir::kEncrypt, Aes128::Dir::kDecrypt}) {
      ASSERT_TRUE(a.setKey(key.data(), dir));
      auto want = block, got = block;
      for (size_t i = 0; i < 16; ++i)
        want[i] ^= mask[i];
      ASSERT_TRUE(a.apply(want.data(), 1));
      for (size_t i = 0; i < 16; ++i)
        want[i] ^= mask[i];
      ASSERT_TRUE(a.applyMasked(mask.data(), got.data()));
      EXPECT_EQ(got, want) << "impl " << int(a.impl()) << " dir " << int(dir);
    }
  }
}

// CGO's key update keys ET (to encrypt at a relay, to decrypt at a client) and the PRF together.
TEST(Aes128, TwoKeyedTogetherEqualTwoKeyedAlone) {
  for (auto impl : {Aes128::Impl::kEvp, Aes128::Impl::kAesni, Aes128::Impl::kVaes}) {
    for (auto dirA : {Aes128::Dir::kEncrypt, Aes128::Dir::kDecrypt}) {
      std::array<uint8_t, 16> ka{}, kb{};
      RAND_bytes(ka.data(), ka.size());
      RAND_bytes(kb.data(), kb.size());
      Aes128 a(impl), b(impl), a1(impl), b1(impl);
      ASSERT_TRUE(Aes128::setKeys(a, ka.data(), dirA, b, kb.data(), Aes128::Dir::kEncrypt));
      ASSERT_TRUE(a1.setKey(ka.data(), dirA));
      ASSERT_TRUE(b1.setKey(kb.data(), Aes128::Dir::kEncrypt));
      std::array<uint8_t, 64> x{};
      RAND_bytes(x.data(), x.size());
      auto p = x, q = x, r = x, t = x;
      ASSERT_TRUE(a.apply(p.data(), 4));
      ASSERT_TRUE(a1.apply(q.data(), 4));
      ASSERT_TRUE(b.apply(r.data(), 4));
      ASSERT_TRUE(b1.apply(t.data(), 4));
      EXPECT_EQ(p, q) << "impl " << int(a.impl());
      EXPECT_EQ(r, t) << "impl " << int(b.impl());
    }
  }
}

TEST(Aes128, UnkeyedRefusesAndAMovedFromOneIsUnkeyed) {
  Aes128 a;
  uint8_t block[16] = {};
  EXPECT_FALSE(a.apply(block, 1));
  uint8_t key[16] = {1};
  ASSERT_TRUE(a.setKey(key, Aes128::Dir::kEncrypt));
  Aes128 b(std::move(a));
  EXPECT_TRUE(b.apply(block, 1));
  EXPECT_FALSE(a.apply(block, 1));  // NOLINT(bugprone-use-after-move): wiped on purpose
}

}  // namespace
}  // namespace onionsplit::crypto
