// Tests for common/cell/relay.h: the relay header, every relay message round-tripped, the
// byte-exact encodings of specs/test-vectors.md §6.2-6.3, and malformed input for every decoder.
#include "common/cell/relay.h"

#include <gtest/gtest.h>

#include "common/base/hex.h"

namespace onionsplit::cell {
namespace {

std::vector<uint8_t> h(const char* s) {
  return *fromHex(s);
}

template <class Enc>
std::string encoded(Enc&& enc) {
  static uint8_t buf[kRelayBodyMax];
  Writer w{MutBytes(buf)};
  EXPECT_TRUE(enc(w));
  return toHex(w.written());
}

TEST(RelayCell, HeaderAndPadding) {
  std::array<uint8_t, kCellPayloadLen> p{};
  const uint8_t body[] = {'h', 'i'};
  ASSERT_TRUE(encodeRelayCell(p, RelayCmd::kData, 5, Bytes(body),
                              [](MutBytes m) { std::fill(m.begin(), m.end(), 0xee); }));
  EXPECT_EQ(toHex(Bytes(p.data(), 13)),
            "020000000500000000000268"
            "69");
  EXPECT_EQ(toHex(Bytes(p.data() + 13, 5)), "00000000ee") << "4 zero bytes, then random";
  auto v = decodeRelayCell(p);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->header.command, 2);
  EXPECT_EQ(v->header.streamId, 5);
  EXPECT_EQ(v->body.size(), 2u);
  p[9] = 0x01;
  p[10] = 0xf3;  // length 499
  EXPECT_EQ(decodeRelayCell(p).error().code, ParseErrc::kTooLong);
  EXPECT_EQ(decodeRelayCell(Bytes(p.data(), 100)).error().code, ParseErrc::kBadLength);
  std::vector<uint8_t> big(kRelayBodyMax + 1);
  EXPECT_FALSE(encodeRelayCell(p, RelayCmd::kData, 1, big, nullptr));
  std::vector<uint8_t> full(kRelayBodyMax, 1);
  EXPECT_TRUE(encodeRelayCell(p, RelayCmd::kData, 1, full, nullptr)) << "498 bytes fit";
}

TEST(RelayMsg, BeginForms) {
  auto plain = h("6578616d706c652e636f6d3a383000");  // "example.com:80\0"; b views into it
  auto b = decodeBegin(plain);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->address, "example.com");
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(b->flags, 0u);
  auto v6in = h("5b323030313a6462383a3a315d3a3434330000000001");  // [2001:db8::1]:443
  auto v6 = decodeBegin(v6in);
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->address, "2001:db8::1");
  EXPECT_EQ(v6->flags, 1u);
  EXPECT_EQ(encoded([&](Writer& w) { return encodeBegin(*v6, w); }),
            "5b323030313a6462383a3a315d3a3434330000000001");
  EXPECT_EQ(encoded([&](Writer& w) { return encodeBegin(*b, w); }),
            "6578616d706c652e636f6d3a383000");
  for (const char* bad : {"6578616d706c652e636f6d3a3830",  // no NUL
                          "6578616d706c652e636f6d3a3000",  // port 0
                          "6578616d706c652e636f6d3a3635353336"
                          "00",                                // port 65536
                          "6578616d706c652e636f6d00",          // no port
                          "3a383000",                          // no address
                          "323030313a6462383a3a313a383000",    // IPv6 without brackets
                          "5b323030313a6462383a3a313a383000",  // missing ]
                          "6578616d706c652e636f6d3a383000"
                          "0000000100"}) {  // trailing byte
    EXPECT_FALSE(decodeBegin(h(bad))) << bad;
  }
}

TEST(RelayMsg, ConnectedAndEnd) {
  ConnectedMsg c4{IpAddr{4, {93, 184, 216, 34}}, 300};
  EXPECT_EQ(encoded([&](Writer& w) { return encodeConnected(c4, w); }), "5db8d8220000012c");
  auto back = decodeConnected(h("5db8d8220000012c"));
  ASSERT_TRUE(back && back->address);
  EXPECT_EQ(back->ttl, 300u);
  IpAddr v6{6, {0x20, 0x01, 0x0d, 0xb8}};
  std::string w6 = encoded([&](Writer& w) { return encodeConnected({v6, 60}, w); });
  EXPECT_EQ(w6.substr(0, 10), "0000000006");
  EXPECT_EQ(decodeConnected(*fromHex(w6))->address->family, 6);
  EXPECT_FALSE(decodeConnected(*fromHex(w6))->address->bytes[4]);
  EXPECT_TRUE(decodeConnected({}));
  EXPECT_EQ(decodeConnected(h("5db8d822")).error().code, ParseErrc::kBadLength);
  auto badMarker = *fromHex(w6);
  badMarker[4] = 4;
  EXPECT_EQ(decodeConnected(badMarker).error().code, ParseErrc::kBadValue);

  EndMsg policy{4, IpAddr{4, {10, 0, 0, 1}}, 600};
  EXPECT_EQ(encoded([&](Writer& w) { return encodeEnd(policy, w); }), "040a00000100000258");
  auto e = decodeEnd(h("040a00000100000258"));
  ASSERT_TRUE(e && e->address);
  EXPECT_EQ(e->ttl, 600u);
  EXPECT_EQ(decodeEnd({})->reason, static_cast<uint8_t>(EndReason::kMisc)) << "empty END is MISC";
  EXPECT_FALSE(decodeEnd(h("040a0000"))->address) << "a bad address is ignored, not an error";
  EXPECT_EQ(decodeEnd(h("06"))->reason, 6);
}

TEST(RelayMsg, ResolveAndResolved) {
  auto rin = h("6578616d706c652e636f6d00");
  auto r = decodeResolve(rin);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->name, "example.com");
  EXPECT_FALSE(decodeResolve(h("6578616d706c65")));
  EXPECT_FALSE(decodeResolve(h("00")));
  EXPECT_FALSE(decodeResolve(h("610000")));
  ResolvedMsg m;
  static const uint8_t v4[] = {1, 2, 3, 4};
  static const uint8_t name[] = {'a', '.', 'b'};
  m.answers[0] = {ResolvedAnswer::kIpv4, Bytes(v4), 60};
  m.answers[1] = {ResolvedAnswer::kHostname, Bytes(name), 60};
  m.answers[2] = {ResolvedAnswer::kError, {}, 0};
  m.count = 3;
  std::string wire = encoded([&](Writer& w) { return encodeResolved(m, w); });
  EXPECT_EQ(wire,
            "0404010203040000003c"
            "0003612e620000003c"
            "f10000000000");
  auto back = decodeResolved(*fromHex(wire));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->count, 3);
  EXPECT_EQ(back->answers[2].type, ResolvedAnswer::kError);
  EXPECT_EQ(decodeResolved(h("040301020300000000")).error().code, ParseErrc::kBadLength);
  EXPECT_EQ(decodeResolved(h("0404010203040000")).error().code, ParseErrc::kTruncated);
}

TEST(RelayMsg, FlowControlVectors) {
  std::vector<uint8_t> tag(20, 0xaa);
  EXPECT_EQ(encoded([&](Writer& w) {
              return encodeSendme({1, tag}, w);
            }),
            "010014" + std::string(40, 'a'));
  EXPECT_EQ(encoded([&](Writer& w) { return encodeSendme({}, w); }), "");
  EXPECT_EQ(decodeSendme({})->version, 0);
  EXPECT_EQ(decodeSendme(*fromHex("010014" + std::string(40, 'a')))->tag.size(), 20u);
  EXPECT_EQ(decodeSendme(*fromHex("010010" + std::string(32, 'a')))->tag.size(), 16u);
  EXPECT_EQ(decodeSendme(h("0200")).error().code, ParseErrc::kTruncated);
  EXPECT_EQ(decodeSendme(h("020000")).error().code, ParseErrc::kUnknownType);
  EXPECT_EQ(decodeSendme(h("010001aa")).error().code, ParseErrc::kBadLength);
  EXPECT_EQ(decodeSendme(*fromHex("010014" + std::string(42, 'a'))).error().code,
            ParseErrc::kTrailingBytes);
  EXPECT_EQ(encoded([](Writer& w) { return encodeXoff(w); }), "00");
  EXPECT_EQ(encoded([](Writer& w) { return encodeXon({1000}, w); }), "00000003e8");
  EXPECT_EQ(decodeXon(h("00000003e8"))->kbpsEwma, 1000u);
  EXPECT_TRUE(decodeXoff(h("00")));
  EXPECT_EQ(decodeXoff(h("01")).error().code, ParseErrc::kUnknownType);
  EXPECT_EQ(decodeXoff(h("0000")).error().code, ParseErrc::kTrailingBytes);
  EXPECT_EQ(decodeXon(h("01000003e8")).error().code, ParseErrc::kUnknownType);
  EXPECT_EQ(decodeXon(h("000003")).error().code, ParseErrc::kTruncated);
}

TEST(RelayMsg, ConfluxVectors) {
  ConfluxLinkMsg link;
  link.nonce.fill(0x11);
  link.desiredUx = 3;
  std::string wire = encoded([&](Writer& w) { return encodeConfluxLink(link, w); });
  EXPECT_EQ(wire, "01" + std::string(64, '1') + std::string(32, '0') + "03");
  auto back = decodeConfluxLink(*fromHex(wire));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->desiredUx, 3);
  auto v2 = *fromHex(wire);
  v2[0] = 2;
  EXPECT_EQ(decodeConfluxLink(v2).error().code, ParseErrc::kUnknownType);
  EXPECT_EQ(decodeConfluxLink(Bytes(v2.data(), 20)).error().code, ParseErrc::kUnknownType);
  auto longer = *fromHex(wire);
  longer.push_back(0);
  EXPECT_EQ(decodeConfluxLink(longer).error().code, ParseErrc::kTrailingBytes);
  EXPECT_EQ(encoded([](Writer& w) { return encodeConfluxSwitch({10}, w); }), "0000000a");
  std::vector<uint8_t> old498(498, 0);
  old498[3] = 7;
  EXPECT_EQ(decodeConfluxSwitch(old498)->relativeSeq, 7u) << "C tor < 0.4.9.3 sent 498 bytes";
  EXPECT_EQ(decodeConfluxSwitch(h("0000")).error().code, ParseErrc::kTruncated);
}

TEST(RelayMsg, Extend2AndFriends) {
  Extend2Msg e;
  static const uint8_t ip[] = {127, 0, 0, 1, 0x13, 0x88};
  static const uint8_t rsa[20] = {1};
  static const uint8_t ed[32] = {2};
  static const uint8_t hs[84] = {3};
  e.specs[0] = {LinkSpecifier::kIpv4, Bytes(ip)};
  e.specs[1] = {LinkSpecifier::kRsaId, Bytes(rsa)};
  e.specs[2] = {LinkSpecifier::kEd25519Id, Bytes(ed)};
  e.specs[3] = {77, Bytes(ip, 2)};  // an unknown type is kept
  e.specCount = 4;
  e.htype = 2;
  e.hdata = Bytes(hs);
  std::string wire = encoded([&](Writer& w) { return encodeExtend2(e, w); });
  auto back = decodeExtend2(*fromHex(wire));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->specCount, 4);
  EXPECT_EQ(back->specs[3].type, 77);
  EXPECT_EQ(back->hdata.size(), 84u);
  EXPECT_EQ(wire.substr(0, 18),
            "040006"
            "7f0000011388");
  EXPECT_EQ(decodeExtend2(h("0100057f00000113"
                            "0002"
                            "0000"))
                .error()
                .code,
            ParseErrc::kBadLength);
  EXPECT_EQ(decodeExtend2(h("09")).error().code, ParseErrc::kTooLong);
  EXPECT_EQ(decodeExtend2(h("00"
                            "0002"
                            "0001"))
                .error()
                .code,
            ParseErrc::kTruncated);
  EXPECT_EQ(decodeExtend2(h("00"
                            "0002"
                            "0000"
                            "ff"))
                .error()
                .code,
            ParseErrc::kTrailingBytes);
  EXPECT_EQ(decodeExtended2(h("0002abcd"))->hdata.size(), 2u);
  EXPECT_EQ(decodeExtended2(h("0002abcdef")).error().code, ParseErrc::kTrailingBytes);
  EXPECT_FALSE(decodeTruncate({})->has_value());
  EXPECT_EQ(**decodeTruncate(h("03")), 3);
  EXPECT_FALSE(decodeTruncate(h("0303")));
  EXPECT_EQ(*decodeTruncated(h("08")), 8);
  EXPECT_FALSE(decodeTruncated({}));
}

TEST(RelayMsg, DispatcherAndCommandTable) {
  EXPECT_TRUE(std::holds_alternative<DataMsg>(*decodeRelayMsg(2, h("6869"))));
  EXPECT_TRUE(std::holds_alternative<EmptyMsg>(*decodeRelayMsg(10, h("ffff"))));
  EXPECT_TRUE(std::holds_alternative<UnknownMsg>(*decodeRelayMsg(99, {})));
  EXPECT_TRUE(std::holds_alternative<UnknownMsg>(*decodeRelayMsg(6, {}))) << "TAP EXTEND";
  EXPECT_FALSE(decodeRelayMsg(1, h("00")));
  for (uint8_t cmd : {1, 2, 3, 4, 11, 12, 43, 44})
    EXPECT_TRUE(isConfluxMultiplexed(cmd)) << +cmd;
  for (uint8_t cmd : {5, 8, 9, 10, 13, 14, 15, 19, 20, 21, 22})
    EXPECT_FALSE(isConfluxMultiplexed(cmd));
  for (uint8_t cmd : {1, 2, 3, 4, 11, 12, 13, 43, 44})
    EXPECT_TRUE(needsStreamId(cmd)) << +cmd;
  for (uint8_t cmd : {5, 14, 19, 22})
    EXPECT_FALSE(needsStreamId(cmd));
}

}  // namespace
}  // namespace onionsplit::cell
