// Tests for common/cell/cells.h: framing with 2- and 4-byte circuit ids (whole and byte by byte),
// every link message round-tripped, byte-exact encodings, and malformed input for every decoder.
#include "common/cell/cells.h"

#include <gtest/gtest.h>

#include "common/base/hex.h"

namespace onionsplit::cell {
namespace {

std::vector<uint8_t> h(const char* s) {
  return *fromHex(s);
}

TEST(Framing, VersionsCellAsCtorSendsIt) {
  Versions v;
  v.versions = {3, 4, 5};
  v.count = 3;
  uint8_t payload[16];
  Writer pw{MutBytes(payload)};
  ASSERT_TRUE(encodeVersions(v, pw));
  uint8_t cell[32];
  Writer w{MutBytes(cell)};
  ASSERT_TRUE(encodeVarCell(w, 0, 0, CellCmd::kVersions, pw.written()));
  EXPECT_EQ(toHex(w.written()), "0000070006000300040005");
  auto c = nextCell(w.written(), 0);
  ASSERT_TRUE(c && *c);
  EXPECT_EQ((*c)->command, 7);
  EXPECT_EQ((*c)->wireLen, 11u);
  auto back = decodeVersions((*c)->payload);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->highestCommon({4, 5}), 5);
  EXPECT_EQ(back->highestCommon({1, 2}), 0);
}

TEST(Framing, FixedAndVariableCellsByteByByte) {
  std::vector<uint8_t> stream(2048);
  Writer w{MutBytes(stream)};
  const uint8_t body[] = {1, 2, 3};
  ASSERT_TRUE(encodeFixedCell(w, 4, 0x80000001, CellCmd::kCreate2, Bytes(body)));
  ASSERT_TRUE(encodeVarCell(w, 4, 0, CellCmd::kVpadding, Bytes(body)));
  ASSERT_TRUE(encodeFixedCell(w, 4, 7, CellCmd::kDestroy, Bytes(body, 1)));
  EXPECT_EQ(w.size(), 514u + 10u + 514u);
  Bytes all = w.written();
  // Feed one byte more at a time: a cell appears exactly when it is complete.
  size_t consumed = 0, seen = 0;
  for (size_t avail = 0; avail <= all.size(); ++avail) {
    auto c = nextCell(all.subspan(consumed, avail - consumed), 4);
    ASSERT_TRUE(c);
    if (!*c) continue;
    ++seen;
    consumed += (*c)->wireLen;
    if (seen == 1) {
      EXPECT_EQ((*c)->circId, 0x80000001u);
      EXPECT_EQ((*c)->payload.size(), kCellPayloadLen);
      EXPECT_EQ((*c)->payload[2], 3);
      EXPECT_EQ((*c)->payload[3], 0) << "zero padded";
    }
    if (seen == 2) {
      EXPECT_EQ((*c)->payload.size(), 3u);
    }
  }
  EXPECT_EQ(seen, 3u);
  EXPECT_EQ(consumed, all.size());
  // Link protocol 3: 2-byte circuit ids, 512-byte fixed cells.
  uint8_t v3[600];
  Writer w3{MutBytes(v3)};
  ASSERT_TRUE(encodeFixedCell(w3, 3, 0x1234, CellCmd::kPadding, {}));
  EXPECT_EQ(w3.size(), 512u);
  auto c3 = nextCell(w3.written(), 3);
  ASSERT_TRUE(c3 && *c3);
  EXPECT_EQ((*c3)->circId, 0x1234u);
}

TEST(Framing, RefusesWhatItMust) {
  uint8_t big[8] = {0, 0, 0, 0, 0x80, 0xff, 0xff};
  auto c = nextCell(Bytes(big, 7), 4, 1024);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ParseErrc::kTooLong);
  uint8_t buf[600];
  Writer w{MutBytes(buf)};
  EXPECT_FALSE(encodeFixedCell(w, 4, 1, CellCmd::kVersions, {})) << "VERSIONS is variable";
  std::vector<uint8_t> tooBig(510);
  EXPECT_FALSE(encodeFixedCell(w, 4, 1, CellCmd::kRelay, tooBig));
}

TEST(LinkMessages, NetinfoRoundTripAndUnknownTypesSkipped) {
  Netinfo n;
  n.timestamp = 0x5f000000;
  n.otherAddress = NetAddress{4, {127, 0, 0, 1}};
  n.myAddresses[0] = NetAddress{4, {10, 0, 0, 2}};
  n.myAddresses[1] = NetAddress{6, {0x20, 0x01, 0x0d, 0xb8}};
  n.myAddressCount = 2;
  uint8_t buf[kCellPayloadLen] = {};
  Writer w{MutBytes(buf)};
  ASSERT_TRUE(encodeNetinfo(n, w));
  EXPECT_EQ(toHex(Bytes(buf, 12)),
            "5f00000004047f00000102"
            "04");
  auto back = decodeNetinfo(Bytes(buf));  // the whole padded payload
  ASSERT_TRUE(back);
  EXPECT_EQ(back->timestamp, n.timestamp);
  EXPECT_EQ(back->otherAddress->bytes[0], 127);
  EXPECT_EQ(back->myAddressCount, 2);
  EXPECT_EQ(back->myAddresses[1].type, 6);
  // An address of unknown type (9) is skipped, not an error.
  auto odd =
      h("0000000109020102010404"
        "01020304");
  auto o = decodeNetinfo(odd);
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->otherAddress);
  EXPECT_EQ(o->myAddressCount, 1);
  EXPECT_EQ(decodeNetinfo(h("000000")).error().code, ParseErrc::kTruncated);
  EXPECT_FALSE(
      decodeNetinfo(h("00000001"
                      "0404"
                      "7f00")));
}

TEST(LinkMessages, CertsRoundTripBoundsAndTrailingIgnored) {
  auto wire =
      h("02"
        "0100020a0b"
        "07000103"
        "ffff");
  auto c = decodeCerts(wire);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->count, 2);
  EXPECT_EQ(c->certs[0].type, 1);
  EXPECT_EQ(toHex(c->certs[0].body), "0a0b");
  uint8_t buf[32];
  Writer w{MutBytes(buf)};
  ASSERT_TRUE(encodeCerts(*c, w));
  EXPECT_EQ(toHex(w.written()), "020100020a0b07000103");
  EXPECT_EQ(decodeCerts(h("0201000a")).error().code, ParseErrc::kTruncated);
  EXPECT_EQ(decodeCerts(h("ff")).error().code, ParseErrc::kTooLong);
  EXPECT_FALSE(decodeCerts({}));
}

TEST(LinkMessages, AuthChallengeAndAuthenticate) {
  AuthChallenge a;
  a.challenge.fill(0xab);
  a.methods[0] = 3;
  a.methodCount = 1;
  uint8_t buf[64];
  Writer w{MutBytes(buf)};
  ASSERT_TRUE(encodeAuthChallenge(a, w));
  EXPECT_EQ(w.size(), 36u);
  auto back = decodeAuthChallenge(w.written());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->methods[0], 3);
  EXPECT_EQ(decodeAuthChallenge(Bytes(buf, 35)).error().code, ParseErrc::kTruncated);
  auto many = std::vector<uint8_t>(32, 0);
  many.push_back(0xff);
  many.push_back(0xff);
  EXPECT_EQ(decodeAuthChallenge(many).error().code, ParseErrc::kTooLong);

  const uint8_t body[] = {'A', 'U', 'T', 'H'};
  Authenticate au{3, Bytes(body)};
  Writer w2{MutBytes(buf)};
  ASSERT_TRUE(encodeAuthenticate(au, w2));
  EXPECT_EQ(toHex(w2.written()), "0003000441555448");
  auto au2 = decodeAuthenticate(w2.written());
  ASSERT_TRUE(au2);
  EXPECT_EQ(au2->authType, 3);
  EXPECT_EQ(decodeAuthenticate(h("0003000541555448")).error().code, ParseErrc::kTruncated);
  EXPECT_EQ(decodeAuthenticate(h("000300034155544800")).error().code, ParseErrc::kTrailingBytes);
}

TEST(LinkMessages, Create2Created2FastDestroyPadding) {
  std::vector<uint8_t> hdata(84, 7);
  uint8_t buf[kCellPayloadLen] = {};
  Writer w{MutBytes(buf)};
  ASSERT_TRUE(encodeCreate2({2, hdata}, w));
  EXPECT_EQ(toHex(Bytes(buf, 4)), "00020054");
  auto c = decodeCreate2(Bytes(buf));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->htype, 2);
  EXPECT_EQ(c->hdata.size(), 84u);
  EXPECT_EQ(decodeCreate2(h("000201fa")).error().code, ParseErrc::kTooLong);
  EXPECT_EQ(decodeCreate2(h("00020054")).error().code, ParseErrc::kTruncated);

  Writer w2{MutBytes(buf)};
  ASSERT_TRUE(encodeCreated2({Bytes(hdata.data(), 64)}, w2));
  EXPECT_EQ(decodeCreated2(Bytes(buf))->hdata.size(), 64u);
  EXPECT_EQ(decodeCreated2(h("01ff")).error().code, ParseErrc::kTooLong);

  auto fast = decodeCreateFast(std::vector<uint8_t>(kCellPayloadLen, 9));
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->x[19], 9);
  EXPECT_EQ(decodeCreateFast(h("0102")).error().code, ParseErrc::kTruncated);
  CreatedFast cf;
  cf.y.fill(1);
  cf.kh.fill(2);
  Writer w3{MutBytes(buf)};
  ASSERT_TRUE(encodeCreatedFast(cf, w3));
  EXPECT_EQ(decodeCreatedFast(w3.written())->kh[0], 2);

  Writer w4{MutBytes(buf)};
  ASSERT_TRUE(encodeDestroy(DestroyReason::kProtocol, w4));
  EXPECT_EQ(*decodeDestroy(w4.written()), DestroyReason::kProtocol);
  EXPECT_FALSE(decodeDestroy({}));

  PaddingNegotiate p;
  p.command = PaddingNegotiate::Command::kStop;
  Writer w5{MutBytes(buf)};
  ASSERT_TRUE(encodePaddingNegotiate(p, w5));
  EXPECT_EQ(toHex(w5.written()), "000100000000");
  EXPECT_EQ(decodePaddingNegotiate(h("010100000000")).error().code, ParseErrc::kUnknownType);
  EXPECT_EQ(decodePaddingNegotiate(h("000300000000")).error().code, ParseErrc::kBadValue);
  EXPECT_EQ(decodePaddingNegotiate(h("0002")).error().code, ParseErrc::kTruncated);
}

TEST(LinkMessages, VersionsMalformed) {
  EXPECT_EQ(decodeVersions(h("000400")).error().code, ParseErrc::kBadLength);
  EXPECT_EQ(decodeVersions(std::vector<uint8_t>(2 * (kMaxVersions + 1))).error().code,
            ParseErrc::kTooLong);
  EXPECT_TRUE(decodeVersions({}));
}

}  // namespace
}  // namespace onionsplit::cell
