// Tests for common/cell/relay_v1.h: C tor 0.4.9's byte examples (test_cell_formats.c,
// relay_msg_encoding_simple / decoding_simple / decoding_error) byte for byte, every command
// 0-255 round-tripped or refused, the stream-id rules, the room in the cell, the padding, and the
// format-neutral view shared with the tor1 (v0) codec.
#include "common/cell/relay_v1.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "common/base/hex.h"

namespace onionsplit::cell {
namespace {

using Body = std::array<uint8_t, kCellPayloadLen>;

// A 509-byte body: `hex` then zeros.
Body bodyFromHex(const char* hex) {
  Body b{};
  auto bytes = *fromHex(hex);
  std::copy(bytes.begin(), bytes.end(), b.begin());
  return b;
}

Bytes text(const char* s) {
  return Bytes(reinterpret_cast<const uint8_t*>(s), std::char_traits<char>::length(s));
}

std::string str(Bytes b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

const std::function<void(MutBytes)> kFillEe = [](MutBytes m) {
  std::fill(m.begin(), m.end(), 0xee);
};

constexpr uint8_t kStreamCmds[] = {1, 2, 3, 4, 11, 12, 13, 43, 44};

TEST(RelayV1, CTorEncodingExamples) {
  Body p;
  RelayMsgView data{static_cast<uint8_t>(RelayCmd::kData), 0x250, text("hello world")};
  ASSERT_EQ(encodeRelayCellV1(p, data, kFillEe), RelayEncodeErr::kNone);
  // tag, command, length, stream id, data, 4 zero bytes, then random padding.
  EXPECT_EQ(toHex(Bytes(p.data(), 21 + 11 + 4)),
            "00000000000000000000000000000000"
            "02000b0250"
            "68656c6c6f20776f726c64"
            "00000000");
  EXPECT_EQ(p[36], 0xee);
  EXPECT_EQ(p[508], 0xee);

  RelayMsgView sendme{static_cast<uint8_t>(RelayCmd::kSendme), 0, text("hello i am a tag....")};
  ASSERT_EQ(encodeRelayCellV1(p, sendme, kFillEe), RelayEncodeErr::kNone);
  EXPECT_EQ(toHex(Bytes(p.data(), 19 + 20 + 4)),
            "00000000000000000000000000000000"
            "050014"
            "68656c6c6f206920616d2061207461672e2e2e2e"
            "00000000");
  EXPECT_EQ(p[43], 0xee);
}

TEST(RelayV1, CTorDecodingExamples) {
  Body sendme = bodyFromHex(
      "00000000000000000000000000000000"
      "050014"
      "68656c6c6f206920616d2061207461672e2e2e2e00000000");
  auto m = decodeRelayCellV1(sendme);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->command, 5);
  EXPECT_EQ(m->streamId, 0);
  EXPECT_EQ(str(m->data), "hello i am a tag....");

  Body fullCell = bodyFromHex(
      "00000000000000000000000000000000"
      "0501ea");
  auto full = decodeRelayCellV1(fullCell);
  ASSERT_TRUE(full) << "490 bytes of data fill a cell without a stream id";
  EXPECT_EQ(full->data.size(), 490u);
  EXPECT_EQ(full->data.data(), fullCell.data() + 19);

  Body dataCell = bodyFromHex(
      "00000000000000000000000000000000"
      "02000b0250"
      "68656c6c6f20776f726c6400000000");
  auto d = decodeRelayCellV1(dataCell);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->command, 2);
  EXPECT_EQ(d->streamId, 0x250);
  EXPECT_EQ(str(d->data), "hello world");
  EXPECT_EQ(d->data.data(), dataCell.data() + 21) << "a view into the body, not a copy";

  auto dfull =
      decodeRelayCellV1(bodyFromHex("00000000000000000000000000000000"
                                    "0201e80250"));
  ASSERT_TRUE(dfull) << "488 bytes of data fill a cell with a stream id";
  EXPECT_EQ(dfull->data.size(), 488u);

  // C tor's decoding_error cases.
  EXPECT_EQ(decodeRelayCellV1(bodyFromHex("00000000000000000000000000000000"
                                          "f0000c0250"))
                .error(),
            (ParseError{ParseErrc::kUnknownType, "relay v1 command"}));
  EXPECT_EQ(decodeRelayCellV1(bodyFromHex("00000000000000000000000000000000"
                                          "0201e90250"))
                .error(),
            (ParseError{ParseErrc::kTooLong, "relay v1 length"}));
  EXPECT_EQ(decodeRelayCellV1(bodyFromHex("00000000000000000000000000000000"
                                          "0501eb"))
                .error(),
            (ParseError{ParseErrc::kTooLong, "relay v1 length"}));
}

TEST(RelayV1, KnownCommandsAndStreamIds) {
  std::vector<int> known, stream;
  for (int c = 0; c < 256; ++c) {
    if (isKnownRelayCmdV1(static_cast<uint8_t>(c))) known.push_back(c);
    if (carriesStreamIdV1(static_cast<uint8_t>(c))) stream.push_back(c);
  }
  std::vector<int> want;
  for (int c = 1; c <= 15; ++c)
    want.push_back(c);
  for (int c = 19; c <= 22; ++c)
    want.push_back(c);
  for (int c = 32; c <= 44; ++c)
    want.push_back(c);
  EXPECT_EQ(known, want) << "C tor or.h is_known_relay_command";
  EXPECT_EQ(stream, std::vector<int>(std::begin(kStreamCmds), std::end(kStreamCmds)))
      << "C tor relay_msg.h relay_cmd_expects_streamid_in_v1";
  for (uint8_t c : kStreamCmds)
    EXPECT_EQ(relayDataMax(RelayCellFormat::kV1, c), 488u);
  EXPECT_EQ(relayDataMax(RelayCellFormat::kV1, 5), 490u);
  EXPECT_EQ(relayDataMax(RelayCellFormat::kV0, 2), 498u);
  EXPECT_EQ(relayDataMax(RelayCellFormat::kV0, 5), 498u);
}

// Every command: known ones round-trip at length 0, 7 and the full room, with the header laid out
// where C tor puts it; unknown ones are refused by both the encoder and the decoder.
TEST(RelayV1, EveryCommandRoundTripsOrIsRefused) {
  std::array<uint8_t, kCellPayloadLen> src{};
  for (size_t i = 0; i < src.size(); ++i)
    src[i] = static_cast<uint8_t>(i * 7 + 1);
  for (int c = 0; c < 256; ++c) {
    const uint8_t cmd = static_cast<uint8_t>(c);
    const bool withStream = carriesStreamIdV1(cmd);
    const StreamId sid = withStream ? static_cast<StreamId>(0x1000 + c) : 0;
    Body p;
    if (!isKnownRelayCmdV1(cmd)) {
      EXPECT_EQ(encodeRelayCellV1(p, {cmd, 1, {}}, nullptr), RelayEncodeErr::kUnknownCommand);
      EXPECT_EQ(encodeRelayCellV1(p, {cmd, 0, {}}, nullptr), RelayEncodeErr::kUnknownCommand);
      Body bad{};
      bad[16] = cmd;
      EXPECT_EQ(decodeRelayCellV1(bad).error().code, ParseErrc::kUnknownType) << c;
      continue;
    }
    const size_t room = withStream ? 488 : 490;
    for (size_t len : {size_t{0}, size_t{7}, room}) {
      RelayMsgView in{cmd, sid, Bytes(src.data(), len)};
      ASSERT_EQ(encodeRelayCellV1(p, in, kFillEe), RelayEncodeErr::kNone) << c << "/" << len;
      EXPECT_EQ(p[16], cmd);
      EXPECT_EQ((p[17] << 8) | p[18], static_cast<int>(len));
      if (withStream) {
        EXPECT_EQ((p[19] << 8) | p[20], sid);
      }
      auto out = decodeRelayCellV1(p);
      ASSERT_TRUE(out) << c << "/" << len;
      EXPECT_EQ(out->command, cmd);
      EXPECT_EQ(out->streamId, sid);
      EXPECT_EQ(out->data.data(), p.data() + (withStream ? 21 : 19));
      EXPECT_TRUE(std::equal(out->data.begin(), out->data.end(), src.begin(), src.begin() + len));
      EXPECT_EQ(out->data.size(), len);
    }
  }
}

TEST(RelayV1, StreamIdRules) {
  Body p;
  for (uint8_t c : kStreamCmds) {
    EXPECT_EQ(encodeRelayCellV1(p, {c, 0, {}}, nullptr), RelayEncodeErr::kStreamIdRequired) << +c;
    // A zero stream id decodes: C tor's codec does not check it, its stream layer drops the cell.
    Body zero{};
    zero[16] = c;
    auto m = decodeRelayCellV1(zero);
    ASSERT_TRUE(m) << +c;
    EXPECT_EQ(m->streamId, 0);
  }
  for (uint8_t c : {5, 6, 8, 10, 14, 15, 19, 22, 32, 41}) {
    EXPECT_EQ(encodeRelayCellV1(p, {c, 9, {}}, nullptr), RelayEncodeErr::kStreamIdForbidden) << +c;
  }
  // Without a stream id the data starts right after the length: bytes 19-20 are data, not an id.
  Body ext = bodyFromHex(
      "00000000000000000000000000000000"
      "0f0002abcd");
  auto m = decodeRelayCellV1(ext);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->streamId, 0);
  EXPECT_EQ(toHex(m->data), "abcd");
}

TEST(RelayV1, LengthAgainstRoom) {
  Body p;
  std::vector<uint8_t> big(491, 0x5a);
  EXPECT_EQ(encodeRelayCellV1(p, {2, 1, Bytes(big.data(), 489)}, nullptr),
            RelayEncodeErr::kTooLong);
  EXPECT_EQ(encodeRelayCellV1(p, {2, 1, Bytes(big.data(), 488)}, nullptr), RelayEncodeErr::kNone);
  EXPECT_EQ(encodeRelayCellV1(p, {14, 0, Bytes(big.data(), 491)}, nullptr),
            RelayEncodeErr::kTooLong);
  EXPECT_EQ(encodeRelayCellV1(p, {14, 0, Bytes(big.data(), 490)}, nullptr), RelayEncodeErr::kNone);
  for (const char* len : {"01e9", "01ea", "01f2", "ffff"}) {
    std::string hex = std::string(
                          "00000000000000000000000000000000"
                          "02") +
                      len + "0001";
    EXPECT_EQ(decodeRelayCellV1(bodyFromHex(hex.c_str())).error().code, ParseErrc::kTooLong) << len;
  }
  for (const char* len : {"01eb", "01f2", "8000", "ffff"}) {
    std::string hex = std::string(
                          "00000000000000000000000000000000"
                          "0e") +
                      len;
    EXPECT_EQ(decodeRelayCellV1(bodyFromHex(hex.c_str())).error().code, ParseErrc::kTooLong) << len;
  }
  std::array<uint8_t, kCellPayloadLen + 1> longer{};
  longer[16] = 2;
  for (size_t n : {size_t{0}, size_t{20}, size_t{508}, size_t{510}}) {
    EXPECT_EQ(decodeRelayCellV1(Bytes(longer.data(), n)).error(),
              (ParseError{ParseErrc::kBadLength, "relay v1 cell"}))
        << n;
  }
  std::array<uint8_t, 510> out510{};
  EXPECT_EQ(encodeRelayCellV1(out510, {2, 1, {}}, nullptr), RelayEncodeErr::kBadBuffer);
  EXPECT_EQ(encodeRelayCellV1(MutBytes(out510.data(), 508), {2, 1, {}}, nullptr),
            RelayEncodeErr::kBadBuffer);
}

// Where the zeros and the random bytes go (C tor's relay_cell_padding test, v1 half): the data is
// followed by min(4, room left) zero bytes, then random bytes to the end of the cell.
TEST(RelayV1, Padding) {
  std::vector<uint8_t> ff(490, 0xff);
  struct Case {
    uint8_t cmd;
    StreamId sid;
    size_t header;
  };
  for (Case k : {Case{2, 0x250, 21}, Case{7, 0, 19}}) {
    const size_t room = kCellPayloadLen - k.header;
    for (size_t len : {size_t{0}, size_t{10}, room - 5, room - 4, room - 3, room - 1, room}) {
      Body p;
      p.fill(0x77);  // stale bytes must not survive
      ASSERT_EQ(encodeRelayCellV1(p, {k.cmd, k.sid, Bytes(ff.data(), len)}, kFillEe),
                RelayEncodeErr::kNone);
      const size_t end = k.header + len;
      const size_t zeros = std::min<size_t>(4, kCellPayloadLen - end);
      EXPECT_TRUE(std::all_of(p.begin(), p.begin() + 16, [](uint8_t b) { return b == 0; }))
          << "the tag is left zero for the CGO layer";
      EXPECT_TRUE(
          std::all_of(p.begin() + k.header, p.begin() + end, [](uint8_t b) { return b == 0xff; }));
      EXPECT_TRUE(std::all_of(p.begin() + end, p.begin() + end + zeros, [](uint8_t b) {
        return b == 0;
      })) << len;
      EXPECT_TRUE(std::all_of(p.begin() + end + zeros, p.end(), [](uint8_t b) {
        return b == 0xee;
      })) << len;
    }
  }
  Body p;
  p.fill(0x77);
  ASSERT_EQ(encodeRelayCellV1(p, {10, 0, {}}, nullptr), RelayEncodeErr::kNone);
  EXPECT_TRUE(std::all_of(p.begin() + 19, p.end(), [](uint8_t b) { return b == 0; }))
      << "no random source: zeros";
}

// One message per cell: whatever follows the data is padding and is not read, even bytes that look
// like a second message or non-zero "zero" bytes (C tor checks neither).
TEST(RelayV1, PaddingIsNotRead) {
  Body p = bodyFromHex(
      "ffffffffffffffffffffffffffffffff"  // tag: whatever the CGO layer left
      "0a0000"                            // DROP, empty
      "02000b0250"                        // a DATA header in the padding
      "68656c6c6f20776f726c64");
  auto m = decodeRelayCellV1(p);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->command, 10);
  EXPECT_EQ(m->data.size(), 0u);
}

// The neutral view: the same message decodes to the same (command, stream, data) from either
// format, and the kV0 entry points are exactly the tor1 codec.
TEST(RelayV1, FormatNeutralView) {
  const uint8_t payload[] = {'h', 'i', '!'};
  for (auto [cmd, sid] : {std::pair<uint8_t, StreamId>{2, 5}, {14, 0}, {43, 9}, {5, 0}}) {
    RelayMsgView in{cmd, sid, Bytes(payload)};
    Body v0, v1, direct;
    ASSERT_EQ(encodeRelayMsgView(RelayCellFormat::kV0, v0, in, kFillEe), RelayEncodeErr::kNone);
    ASSERT_EQ(encodeRelayMsgView(RelayCellFormat::kV1, v1, in, kFillEe), RelayEncodeErr::kNone);
    ASSERT_TRUE(encodeRelayCell(direct, static_cast<RelayCmd>(cmd), sid, Bytes(payload), kFillEe));
    EXPECT_EQ(v0, direct);
    for (auto [fmt, body] : {std::pair{RelayCellFormat::kV0, &v0}, {RelayCellFormat::kV1, &v1}}) {
      auto out = decodeRelayMsgView(fmt, *body);
      ASSERT_TRUE(out);
      EXPECT_EQ(out->command, cmd);
      EXPECT_EQ(out->streamId, sid);
      EXPECT_EQ(toHex(out->data), "686921");
    }
    auto tor1 = decodeRelayCell(v0);
    ASSERT_TRUE(tor1);
    EXPECT_EQ(msgView(*tor1).data.data(), tor1->body.data());
  }
  // v0 keeps its own rules: 498 bytes of room, any command, any stream id.
  std::vector<uint8_t> big(499, 1);
  Body p;
  EXPECT_EQ(encodeRelayMsgView(RelayCellFormat::kV0, p, {2, 1, Bytes(big.data(), 498)}, nullptr),
            RelayEncodeErr::kNone);
  EXPECT_EQ(encodeRelayMsgView(RelayCellFormat::kV0, p, {2, 1, Bytes(big)}, nullptr),
            RelayEncodeErr::kTooLong);
  EXPECT_EQ(encodeRelayMsgView(RelayCellFormat::kV0, p, {200, 0, {}}, nullptr),
            RelayEncodeErr::kNone);
  EXPECT_EQ(decodeRelayMsgView(RelayCellFormat::kV0, p)->command, 200);
  EXPECT_EQ(decodeRelayMsgView(RelayCellFormat::kV1, p).error().code, ParseErrc::kUnknownType)
      << "the same bytes read as v1 have command 0 at offset 16";
  std::array<uint8_t, 510> wrong{};
  EXPECT_EQ(encodeRelayMsgView(RelayCellFormat::kV0, wrong, {2, 1, {}}, nullptr),
            RelayEncodeErr::kBadBuffer);
  EXPECT_EQ(decodeRelayMsgView(RelayCellFormat::kV0, wrong).error().code, ParseErrc::kBadLength);
}

TEST(RelayV1, EncodeErrorsHaveNames) {
  std::vector<std::string> names;
  for (auto e : {RelayEncodeErr::kNone, RelayEncodeErr::kBadBuffer, RelayEncodeErr::kUnknownCommand,
                 RelayEncodeErr::kTooLong, RelayEncodeErr::kStreamIdRequired,
                 RelayEncodeErr::kStreamIdForbidden})
    names.push_back(toString(e));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::unique(names.begin(), names.end()), names.end()) << "each error reads differently";
}

}  // namespace
}  // namespace onionsplit::cell
