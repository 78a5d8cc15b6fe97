// Tests for common/crypto/kdfs.h and ntor_handshakes.h: every vector of specs/test-vectors.md §1-§4
// byte for byte, client/server round trips, and every failure the server must detect.
#include <gtest/gtest.h>

#include <string>

#include "common/base/hex.h"
#include "common/crypto/kdfs.h"
#include "common/crypto/ntor_handshakes.h"

namespace onionsplit::crypto {
namespace {

std::vector<uint8_t> h(const char* hex) {
  auto v = fromHex(hex);
  EXPECT_TRUE(v) << hex;
  return v ? *v : std::vector<uint8_t>{};
}
// Bytes of a string literal (static storage, so the view never dangles).
template <size_t N>
Bytes s(const char (&lit)[N]) {
  return Bytes(reinterpret_cast<const uint8_t*>(lit), N - 1);
}

TEST(Kdf, KdfTorVectors) {
  struct V {
    std::string k0;
    const char* out;
  } vs[] = {
      {"",
       "5ba93c9db0cff93f52b521d7420e43f6eda2784fbf8b4530d8d246dd74ac53a13471bba17941dff7c4ea21bb365"
       "bbe"
       "eaf5f2c654883e56d11e43c44e9842926af7ca0a8cca12604f945414f07b01e13da42c6cf1de3abfdea9b95f346"
       "87c"
       "bbe92b9a7383"},
      {"Tor",
       "776c6214fc647aaa5f683c737ee66ec44f03d0372e1cce69227950f236ddf1e329a7ce7c227903303f525a8c666"
       "242"
       "6e8034870642a6dabbd41b5d97ec9bf2312ea729992f48f8ea2d0ba83f45dfda1a80bdc8b80de01b23e3e0ffae0"
       "99b"
       "3e4ccf28dc28"},
      {"AN ALARMING ITEM TO FIND ON A MONTHLY AUTO-DEBIT NOTICE",
       "a340b5d126086c3ab29c2af4179196dbf95e1c72431419d3314844bf8f6afb6098db952b95581fb6c33625709d6"
       "f44"
       "00b8e7ace18a70579fad83c0982ef73f89395bcc39493ad53a685854daf2ba9b78733b805d9a6824c907ee1dba5"
       "ac2"
       "7a1e466d4d10"},
  };
  for (const V& v : vs) {
    std::vector<uint8_t> out(100);
    ASSERT_TRUE(kdfTor(asBytes(v.k0), out));
    EXPECT_EQ(toHex(out), v.out) << v.k0;
  }
}

TEST(Kdf, HkdfNtorParametersAndRfc5869) {
  const std::string salt = "ntor-curve25519-sha256-1:key_extract";
  const std::string info = "ntor-curve25519-sha256-1:key_expand";
  std::vector<uint8_t> out(100);
  ASSERT_TRUE(hkdfSha256(s("Tor"), asBytes(salt), asBytes(info), out));
  EXPECT_EQ(
      toHex(out),
      "5521492a85139a8d9107a2d5c0d9c91610d0f95989975ebee6c02a4f8d622a6cfdf9b7c7edd3832e2760ded1"
      "eac309b76f8d66c4a3c4d6225429b3a016e3c3d45911152fc87bc2de9630c3961be9fdb9f93197ea8e597718"
      "0801926d3321fa21513e59ac");
  ASSERT_TRUE(hkdfSha256(s("AN ALARMING ITEM TO FIND ON YOUR CREDIT-RATING STATEMENT"),
                         asBytes(salt), asBytes(info), out));
  EXPECT_EQ(
      toHex(out),
      "a2aa9b50da7e481d30463adb8f233ff06e9571a0ca6ab6df0fb206fa34e5bc78d063fc291501beec53b36e5a"
      "0e434561200c5f8bd13e0f88b3459600b4dc21d69363e2895321c06184879d94b18f078411be70b767c7fc40"
      "679a9440a0c95ea83a23efbf");

  std::vector<uint8_t> a1(42);
  ASSERT_TRUE(hkdfSha256(h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                         h("000102030405060708090a0b0c"), h("f0f1f2f3f4f5f6f7f8f9"), a1));
  EXPECT_EQ(toHex(a1),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  std::vector<uint8_t> ikm, saltB, infoB;
  for (int i = 0; i < 80; ++i) {
    ikm.push_back(static_cast<uint8_t>(i));
    saltB.push_back(static_cast<uint8_t>(0x60 + i));
    infoB.push_back(static_cast<uint8_t>(0xb0 + i));
  }
  std::vector<uint8_t> a2(82);
  ASSERT_TRUE(hkdfSha256(ikm, saltB, infoB, a2));
  EXPECT_EQ(
      toHex(a2),
      "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c6"
      "5e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
  std::vector<uint8_t> a3(42);
  ASSERT_TRUE(hkdfSha256(h("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), {}, {}, a3));
  EXPECT_EQ(toHex(a3),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

struct NtorVector {
  std::vector<uint8_t> b = h("4820544f4c4420594f5520444f474954204b454550532048415050454e494e47");
  std::vector<uint8_t> x = h("706f6461792069207075742e2e2e2e2e2e2e2e4a454c4c59206f6e2074686973");
  std::vector<uint8_t> y = h("70686520737175697272656c2e2e2e2e2e2e2e2e686173206869732067616d65");
  std::vector<uint8_t> id = h("69546f6c64596f7541626f75745374616972732e");
};

TEST(Ntor, SpecVectorBothSides) {
  NtorVector v;
  auto relayKey = *Curve25519Keypair::fromSecret(v.b);
  EXPECT_EQ(toHex(relayKey.publicKey),
            "ccbc8541904d18af08753eae967874749e6149f873de937f57f8fd903a21c471");
  std::array<uint8_t, kNtorOnionskinLen> onionskin;
  auto st = ntorClientCreate(v.id, relayKey.publicKey, v.x, onionskin);
  EXPECT_EQ(
      toHex(onionskin),
      "69546f6c64596f7541626f75745374616972732eccbc8541904d18af08753eae967874749e6149f873de937f"
      "57f8fd903a21c471e65dfdbef8b2635837fe2cebc086a8096eae3213e6830dc407516083d412b078");
  Curve25519Keypair keys[] = {relayKey};
  auto server = ntorServer(v.id, keys, onionskin, v.y, 72);
  ASSERT_TRUE(server) << toString(server.error());
  EXPECT_EQ(
      toHex(server->reply),
      "390480a14362761d6aec1fea840f6e9e928fb2adb7b25c670be1045e35133a371cbdf68b89923e1f85e8e18e"
      "e6e805ea333fe4849c790ffd2670bd80fec95cc8");
  const char* km =
      "0c62dee7f48893370d0ef896758d35729867beef1a5121df80e00f79ed349af39b51cae125719182f19d932a667d"
      "ae1afbf2e336e6910e7822223e763afad0a13342157969dc6b79";
  EXPECT_EQ(toHex(server->keys), km);
  auto client = ntorClientComplete(st, server->reply, 72);
  ASSERT_TRUE(client);
  EXPECT_EQ(toHex(*client), km);
}

TEST(Ntor, ServerRefusesWhatItMust) {
  NtorVector v;
  auto current = *Curve25519Keypair::fromSecret(v.b);
  std::vector<uint8_t> other(32, 0x33);
  auto previous = *Curve25519Keypair::fromSecret(other);
  Curve25519Keypair keys[] = {current, previous};
  std::array<uint8_t, kNtorOnionskinLen> skin;
  // The previous onion key still works (rotation grace period).
  auto st = ntorClientCreate(v.id, previous.publicKey, v.x, skin);
  auto r = ntorServer(v.id, keys, skin, v.y);
  ASSERT_TRUE(r);
  EXPECT_TRUE(ntorClientComplete(st, r->reply));
  // Wrong identity, unknown key, bad lengths, a tampered AUTH.
  auto wrongId = skin;
  wrongId[0] ^= 1;
  EXPECT_EQ(ntorServer(v.id, keys, wrongId, v.y).error(), HandshakeError::kWrongNode);
  auto unknown = skin;
  unknown[25] ^= 1;
  EXPECT_EQ(ntorServer(v.id, keys, unknown, v.y).error(), HandshakeError::kUnknownKey);
  EXPECT_EQ(ntorServer(v.id, keys, Bytes(skin.data(), 83), v.y).error(),
            HandshakeError::kBadLength);
  auto reply = r->reply;
  reply[40] ^= 1;
  EXPECT_EQ(ntorClientComplete(st, reply).error(), HandshakeError::kBadMac);
  // A low-order client point gives an all-zero shared secret: refused.
  auto zero = skin;
  std::fill(zero.begin() + 52, zero.end(), 0);
  EXPECT_EQ(ntorServer(v.id, keys, zero, v.y).error(), HandshakeError::kDegenerate);
}

struct Ntor3Vector {
  std::vector<uint8_t> b = h("4051daa5921cfa2a1c27b08451324919538e79e788a81b38cbed097a5dff454a");
  std::vector<uint8_t> id = h("9fad2af287ef942632833d21f946c6260c33fae6172b60006e86e4a6911753a2");
  std::vector<uint8_t> x = h("b825a3719147bcbe5fb1d0b0fcb9c09e51948048e2e3283d2ab7b45b5ef38b49");
  std::vector<uint8_t> y = h("4865a5b7689dafd978f529291c7171bc159be076b92186405d13220b80e2a053");
};

TEST(Ntor3, SpecVectorBothSides) {
  Ntor3Vector v;
  auto relayKey = *Curve25519Keypair::fromSecret(v.b);
  EXPECT_EQ(toHex(relayKey.publicKey),
            "f8307a2bc1870b00b828bb74dbb8fd88e632a6375ab3bcd1ae706aaa8b6cdd1d");
  Ntor3ClientState st;
  auto hs = ntor3ClientCreate(v.id, relayKey.publicKey, s("hello world"), v.x, "xyzzy", st);
  EXPECT_EQ(
      toHex(hs),
      "9fad2af287ef942632833d21f946c6260c33fae6172b60006e86e4a6911753a2f8307a2bc1870b00b828bb74"
      "dbb8fd88e632a6375ab3bcd1ae706aaa8b6cdd1d252fe9ae91264c91d4ecb8501f79d0387e34ad8ca0f7c995"
      "184f7d11d5da4f463bebd9151fd3b47c180abc9e044d53565f04d82bbb3bebed3d06cea65db8be9c72b68cd4"
      "61942088502f67");
  Curve25519Keypair keys[] = {relayKey};
  std::string seen;
  auto server = ntor3Server(
      v.id, keys, hs, v.y,
      [&](Bytes cm) -> std::optional<std::vector<uint8_t>> {
        seen.assign(cm.begin(), cm.end());
        auto sm = s("Hola Mundo");
        return std::vector<uint8_t>(sm.begin(), sm.end());
      },
      "xyzzy", 256);
  ASSERT_TRUE(server) << toString(server.error());
  EXPECT_EQ(seen, "hello world");
  EXPECT_EQ(
      toHex(server->reply),
      "4bf4814326fdab45ad5184f5518bd7fae25dc59374062698201a50a22954246d2fc5f8773ca824542bc6cf6f"
      "57c7c29bbf4e5476461ab130c5b18ab0a91276651202c3e1e87c0d32054c");
  const char* keystream =
      "9c19b631fd94ed86a817e01f6c80b0743a43f5faebd39cfaa8b00fa8bcc65c3bfeaa403d91acbd68a821bf6ee850"
      "4602b094a254392a07737d5662768c7a9fb1b2814bb34780eaee6e867c773e28c212ead563e98a1cd5d5b4576f5e"
      "e61c59bde025ff2851bb19b721421694f263818e3531e43a9e4e3e2c661e2ad547d8984caa28ebecd3e452545229"
      "9be26b9185a20a90ce1eac20a91f2832d731b54502b09749b5a2a2949292f8cfcbeffb790c7790ed935a9d251e7e"
      "336148ea83b063a5618fcff674a44581585fd22077ca0e52c59a24347a38d1a1ceebddbf238541f226b8f88d0fb9"
      "c07a1bcd2ea764bbbb5dacdaf5312a14c0b9e4f06309b0333b4a";
  EXPECT_EQ(toHex(server->keys), keystream);
  auto client = ntor3ClientComplete(st, server->reply, 256);
  ASSERT_TRUE(client);
  EXPECT_EQ(std::string(client->serverMessage.begin(), client->serverMessage.end()), "Hola Mundo");
  EXPECT_EQ(toHex(client->keys), keystream);
}

TEST(Ntor3, ServerRefusesWhatItMust) {
  Ntor3Vector v;
  auto key = *Curve25519Keypair::fromSecret(v.b);
  Curve25519Keypair keys[] = {key};
  auto echo = [](Bytes cm) {
    return std::optional<std::vector<uint8_t>>(std::vector<uint8_t>(cm.begin(), cm.end()));
  };
  Ntor3ClientState st;
  auto hs =
      ntor3ClientCreate(v.id, key.publicKey, s("\x01\x01\x00"), v.x, kNtor3CircuitVerification, st);
  ASSERT_TRUE(ntor3Server(v.id, keys, hs, v.y, echo, kNtor3CircuitVerification));
  // Another verification string (a client speaking another protocol) fails the MAC.
  EXPECT_EQ(ntor3Server(v.id, keys, hs, v.y, echo, "xyzzy").error(), HandshakeError::kBadMac);
  auto wrongId = hs;
  wrongId[3] ^= 1;
  EXPECT_EQ(ntor3Server(v.id, keys, wrongId, v.y, echo, kNtor3CircuitVerification).error(),
            HandshakeError::kWrongNode);
  auto unknown = hs;
  unknown[40] ^= 1;
  EXPECT_EQ(ntor3Server(v.id, keys, unknown, v.y, echo, kNtor3CircuitVerification).error(),
            HandshakeError::kUnknownKey);
  auto tampered = hs;
  tampered[100] ^= 1;  // the encrypted message
  EXPECT_EQ(ntor3Server(v.id, keys, tampered, v.y, echo, kNtor3CircuitVerification).error(),
            HandshakeError::kBadMac);
  EXPECT_EQ(
      ntor3Server(v.id, keys, Bytes(hs.data(), 127), v.y, echo, kNtor3CircuitVerification).error(),
      HandshakeError::kBadLength);
  auto refuse = [](Bytes) { return std::optional<std::vector<uint8_t>>(); };
  EXPECT_EQ(ntor3Server(v.id, keys, hs, v.y, refuse, kNtor3CircuitVerification).error(),
            HandshakeError::kRejected);
  auto r = ntor3Server(v.id, keys, hs, v.y, echo, kNtor3CircuitVerification);
  auto reply = r->reply;
  reply[33] ^= 1;
  EXPECT_EQ(ntor3ClientComplete(st, reply).error(), HandshakeError::kBadMac);
}

TEST(CreateFast, RoundTripAndKhCheck) {
  std::vector<uint8_t> x(20, 0x11), y(20, 0x22);
  auto server = fastServer(x, y);
  ASSERT_TRUE(server);
  EXPECT_EQ(server->keys.size(), 72u);
  // KH and keys are KDF-TOR(X|Y): the same as computing it directly.
  std::vector<uint8_t> k0(x);
  k0.insert(k0.end(), y.begin(), y.end());
  std::vector<uint8_t> k(92);
  ASSERT_TRUE(kdfTor(k0, k));
  EXPECT_EQ(toHex(Bytes(server->reply.data() + 20, 20)), toHex(Bytes(k.data(), 20)));
  EXPECT_EQ(toHex(server->keys), toHex(Bytes(k.data() + 20, 72)));
  auto client = fastClientComplete(x, server->reply);
  ASSERT_TRUE(client);
  EXPECT_EQ(*client, server->keys);
  auto bad = server->reply;
  bad[25] ^= 1;
  EXPECT_EQ(fastClientComplete(x, bad).error(), HandshakeError::kBadMac);
  EXPECT_EQ(fastServer(Bytes(x.data(), 19), y).error(), HandshakeError::kBadLength);
}

}  // namespace
}  // namespace onionsplit::crypto
