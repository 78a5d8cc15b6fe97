// Tests for common/cell/handshake_ext.h: the §6.1 wire encodings of test-vectors.md, the exit's CC
// negotiation as C tor does it, and malformed lists.
#include "common/cell/handshake_ext.h"

#include <gtest/gtest.h>

#include "common/base/hex.h"

namespace onionsplit::cell {
namespace {

std::vector<uint8_t> h(const char* s) {
  return *fromHex(s);
}

TEST(HandshakeExt, ExitAnswersAsCtor) {
  CcConsensus cons;
  auto cc = negotiateExit(h("010100"), cons);  // CC requested
  ASSERT_TRUE(cc);
  EXPECT_TRUE(cc->ccEnabled);
  EXPECT_EQ(toHex(Bytes(cc->reply.data(), cc->replyLen)), "0102011f");
  auto none = negotiateExit(h("00"), cons);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->ccEnabled);
  EXPECT_EQ(toHex(Bytes(none->reply.data(), none->replyLen)), "00");
  CcConsensus off{0, 31};
  EXPECT_FALSE(negotiateExit(h("010100"), off)->ccEnabled) << "cc_alg=0 disables CC";
  // CC + CGO, as a 0.4.9 client asks an exit advertising Relay=6: CGO, and the reply is CC's alone.
  auto cgo = negotiateExit(h("02010003020206"), cons);
  ASSERT_TRUE(cgo);
  EXPECT_TRUE(cgo->ccEnabled);
  EXPECT_TRUE(cgo->cgo);
  EXPECT_EQ(toHex(Bytes(cgo->reply.data(), cgo->replyLen)), "0102011f");
  EXPECT_FALSE(cc->cgo);
  // CGO without CC (not asked, or disabled by the consensus): the v1 format cannot carry stream
  // SENDMEs, so C tor refuses the handshake.
  EXPECT_FALSE(negotiateExit(h("0103020206"), cons));
  EXPECT_FALSE(negotiateExit(h("02010003020206"), off));
  // An empty request asks for nothing: tor1.
  auto empty = negotiateExit(h("0201000300"), cons);
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->cgo);
  // The first SUBPROTO extension is the one read (as trn_extension_find).
  EXPECT_FALSE(negotiateExit(h("0301000302020503020206"), cons));
  // Unknown types are ignored.
  auto unknown = negotiateExit(h("02090201020100"), cons);
  ASSERT_TRUE(unknown);
  EXPECT_TRUE(unknown->ccEnabled);
}

TEST(HandshakeExt, SubprotoRequestAsCtorRelay) {
  EXPECT_EQ(relayReadsSubprotoRequest(h("0206")), std::optional<bool>(true));
  EXPECT_EQ(relayReadsSubprotoRequest({}), std::optional<bool>(false));
  EXPECT_FALSE(relayReadsSubprotoRequest(h("02"))) << "odd length: a truncated pair";
  EXPECT_FALSE(relayReadsSubprotoRequest(h("020602"))) << "odd length after a pair";
  EXPECT_FALSE(relayReadsSubprotoRequest(h("02060206"))) << "a duplicate";
  EXPECT_FALSE(relayReadsSubprotoRequest(h("0205"))) << "Relay=5 is not a capability to enable";
  EXPECT_FALSE(relayReadsSubprotoRequest(h("0207"))) << "an unknown Relay capability";
  EXPECT_FALSE(relayReadsSubprotoRequest(h("0106"))) << "another protocol";
  EXPECT_FALSE(relayReadsSubprotoRequest(h("02060b02"))) << "CGO and something unsupported";
  EXPECT_FALSE(relayReadsSubprotoRequest(h("0b020206"))) << "out of order (and unsupported)";
  std::array<uint8_t, 4> buf{};
  Writer w{MutBytes(buf)};
  SubprotoRequest cgo{kSubprotoRelay, kRelayCryptCgo};
  ASSERT_TRUE(encodeSubprotoRequest(std::span(&cgo, 1), w));
  EXPECT_EQ(toHex(w.written()), "0206");
  Writer small{MutBytes(buf.data(), 1)};
  EXPECT_FALSE(encodeSubprotoRequest(std::span(&cgo, 1), small));
}

TEST(HandshakeExt, MalformedLists) {
  EXPECT_EQ(decodeHandshakeExts({}).error().code, ParseErrc::kTruncated);
  EXPECT_EQ(decodeHandshakeExts(h("0201")).error().code, ParseErrc::kTruncated);
  EXPECT_EQ(decodeHandshakeExts(h("010105")).error().code, ParseErrc::kTruncated);
  EXPECT_EQ(decodeHandshakeExts(h("01010000")).error().code, ParseErrc::kTrailingBytes);
  EXPECT_EQ(decodeHandshakeExts(h("ff")).error().code, ParseErrc::kTooLong);
  EXPECT_FALSE(negotiateExit(h("0101"), {}));
}

TEST(HandshakeExt, RoundTrip) {
  auto list = decodeHandshakeExts(h("0201000302020600"));
  ASSERT_FALSE(list) << "trailing byte";
  auto wire = h("02010003020206");  // the decoded list views into it
  list = decodeHandshakeExts(wire);
  ASSERT_TRUE(list);
  EXPECT_EQ(list->count, 2);
  uint8_t buf[16];
  Writer w{MutBytes(buf)};
  ASSERT_TRUE(encodeHandshakeExts(*list, w));
  EXPECT_EQ(toHex(w.written()), "02010003020206");
  Writer small{MutBytes(buf, 3)};
  EXPECT_FALSE(encodeHandshakeExts(*list, small));
}

TEST(HandshakeExt, ClientChecksTheIncrement) {
  CcConsensus cons;
  auto ok = checkExitReply(h("0102011f"), cons, true);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->ccEnabled);
  EXPECT_EQ(ok->sendmeInc, 31);
  EXPECT_TRUE(checkExitReply(h("01020120"), cons, true)) << "consensus + 1";
  EXPECT_FALSE(checkExitReply(h("01020121"), cons, true)) << "consensus + 2";
  EXPECT_FALSE(checkExitReply(h("01020100"), cons, true)) << "zero";
  EXPECT_FALSE(checkExitReply(h("0102021f1f"), cons, true)) << "body of 2";
  auto off = checkExitReply(h("00"), cons, true);
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->ccEnabled);
}

// TROVE-2026-032: a CC response is an answer; to a client that did not ask, it refuses the reply.
TEST(HandshakeExt, Trove2026_032_ACcResponseNobodyAskedForIsRefused) {
  CcConsensus cons;
  EXPECT_FALSE(checkExitReply(h("0102011f"), cons, false));
  auto none = checkExitReply(h("00"), cons, false);
  ASSERT_TRUE(none) << "no extension: fine without a request";
  EXPECT_FALSE(none->ccEnabled);
  auto unknown = checkExitReply(h("01070100"), cons, false);
  ASSERT_TRUE(unknown) << "unknown extensions are ignored";
  EXPECT_FALSE(unknown->ccEnabled);
}

}  // namespace
}  // namespace onionsplit::cell
