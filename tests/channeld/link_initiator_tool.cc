// tests/channeld/link_initiator_tool.cc: a test helper for tests/interop/test_link_initiator.py.
// With a fresh relay identity made in memory, it opens one channel to IP:PORT the way channeld
// will for EXTEND2 (OutboundChannels + OutboundDialer: TLS, the initiator's handshake with
// AUTHENTICATE), then sends CREATE_FAST on it and waits for the answer. It prints what it saw, one
// "key value..." line each, and exits 0 only if the channel opened and CREATED_FAST came back.
//
// Usage: link_initiator_tool IP PORT RSA_FINGERPRINT_HEX [ED25519_ID_BASE64|-] [--expect-fail]
//   --expect-fail: succeed only if the channel is refused (e.g. a wrong identity was given).
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "channeld/net/outbound.h"
#include "common/base/hex.h"
#include "common/crypto/ed25519_cert.h"
#include "tests/channeld/fresh_identity.h"

using namespace onionsplit;
using namespace onionsplit::channeld;

namespace {

std::optional<crypto::Ed25519PublicKey> fromBase64(const std::string& s) {
  std::string padded = s;
  while (padded.size() % 4)
    padded += '=';
  unsigned char out[64];
  int n = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(padded.data()),
                          static_cast<int>(padded.size()));
  if (n < 32) return std::nullopt;
  crypto::Ed25519PublicKey k{};
  std::memcpy(k.data(), out, 32);
  return k;
}

using channeld::testing::randomBytes;

using Identity = channeld::testing::FreshIdentity;

struct Session {
  event_base* base = nullptr;
  std::optional<OpenedChannel> channel;
  std::vector<uint8_t> in;
  std::string answer;  // "CREATED_FAST", "DESTROY <reason>", "closed"
};

void readCells(Session& s) {
  size_t off = 0;
  for (int i = 0; i < 64; ++i) {
    auto c = cell::nextCell(Bytes(s.in).subspan(off), s.channel->info.linkVersion);
    if (!c || !*c) break;
    off += (*c)->wireLen;
    auto cmd = static_cast<cell::CellCmd>((*c)->command);
    if (cmd == cell::CellCmd::kCreatedFast) {
      s.answer = "CREATED_FAST";
    } else if (cmd == cell::CellCmd::kDestroy) {
      s.answer = "DESTROY " + std::to_string((*c)->payload.empty() ? 0 : (*c)->payload[0]);
    } else {
      std::printf("cell %u\n", (*c)->command);
      continue;
    }
    event_base_loopbreak(s.base);
    break;
  }
  s.in.erase(s.in.begin(), s.in.begin() + static_cast<long>(off));
}

void onRead(bufferevent* bev, void* arg) {
  auto* s = static_cast<Session*>(arg);
  evbuffer* input = bufferevent_get_input(bev);
  size_t n = std::min<size_t>(evbuffer_get_length(input), 1 << 16);
  size_t old = s->in.size();
  s->in.resize(old + n);
  evbuffer_remove(input, s->in.data() + old, n);
  readCells(*s);
}

void onEvent(bufferevent*, short what, void* arg) {
  auto* s = static_cast<Session*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
    s->answer = "closed";
    event_base_loopbreak(s->base);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s IP PORT RSA_FP_HEX [ED25519_B64|-] [--expect-fail]\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  bool expectFail = argc > 5 && std::string(argv[5]) == "--expect-fail";
  OutboundTarget target;
  target.ip = argv[1];
  target.port = static_cast<uint16_t>(std::atoi(argv[2]));
  auto rsa = fromHex(argv[3]);
  if (!rsa || rsa->size() != 20) {
    std::fprintf(stderr, "bad fingerprint\n");
    return 2;
  }
  target.rsaId.emplace();
  std::memcpy(target.rsaId->data(), rsa->data(), 20);
  if (argc > 4 && std::string(argv[4]) != "-") {
    target.edId = fromBase64(argv[4]);
    if (!target.edId) {
      std::fprintf(stderr, "bad ed25519 id\n");
      return 2;
    }
  }

  int64_t now = std::time(nullptr);
  Identity me(now);
  auto tls = channeld::testing::initiatorTls(me);
  if (!tls) return 2;
  std::printf("ours rsa %s ed %s\n", toHex(Bytes(me.rsa.publicKey().fingerprint()), true).c_str(),
              toBase64NoPad(Bytes(me.master->publicKey())).c_str());
  std::array<uint8_t, 32> rsaIdSha256 = me.rsaIdSha256();
  InitiatorIdentity id{
      me.init, me.init->initiatorCerts(*me.creds), rsaIdSha256, me.master->publicKey(), {}};

  Session s;
  s.base = event_base_new();
  auto dialer =
      std::make_unique<OutboundDialer>(s.base, *tls, id, std::chrono::seconds(20), randomBytes,
                                       [] { return static_cast<int64_t>(std::time(nullptr)); });
  OutboundLimits limits;
  limits.allowPrivateAddresses = true;  // the test network is on 127.0.0.1
  OutboundChannels channels(
      limits,
      [&](const OutboundTarget& t, OutboundDialer::Done d) { dialer->dial(t, std::move(d)); },
      [&](OpenedChannel&& ch) -> std::optional<ChannelId> {
        s.channel.emplace(std::move(ch));
        return 1;
      });
  std::string refused;
  bool finished = false;
  channels.request(target, [&](const OutboundChannels::Result& r) {
    finished = true;
    if (!r.channel) refused = r.why;
    event_base_loopbreak(s.base);
  });
  timeval limit{30, 0};
  event_base_loopexit(s.base, &limit);
  if (!finished) event_base_dispatch(s.base);
  if (!s.channel) {
    std::printf("refused %s\n", refused.empty() ? "(no answer)" : refused.c_str());
    dialer.reset();
    event_base_free(s.base);
    return expectFail ? 0 : 1;
  }
  const PeerIdentity& peer = *s.channel->info.peer;
  std::printf("open link %u peer rsa %s ed %s\n", s.channel->info.linkVersion,
              toHex(Bytes(peer.rsaId), true).c_str(), toBase64NoPad(Bytes(peer.edId)).c_str());
  std::fflush(stdout);

  // CREATE_FAST on a circuit id with the high bit set (tor-spec 5.1.1: we initiated the link).
  bufferevent* bev = s.channel->conn->bev();
  s.in = s.channel->leftover;
  bufferevent_setcb(bev, onRead, nullptr, onEvent, &s);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  uint8_t payload[cell::kCellPayloadLen] = {};
  randomBytes(MutBytes(payload, 20));
  uint8_t buf[cell::kMaxCellLen];
  Writer w{MutBytes(buf)};
  cell::encodeFixedCell(w, s.channel->info.linkVersion, 0x80000001u, cell::CellCmd::kCreateFast,
                        Bytes(payload));
  bufferevent_write(bev, w.written().data(), w.written().size());
  readCells(s);
  if (s.answer.empty()) {
    timeval wait{15, 0};
    event_base_loopexit(s.base, &wait);
    event_base_dispatch(s.base);
  }
  std::printf("answer %s\n", s.answer.empty() ? "(none)" : s.answer.c_str());
  bool ok = s.answer == "CREATED_FAST";
  s.channel.reset();
  dialer.reset();
  event_base_free(s.base);
  if (expectFail) return 1;
  return ok ? 0 : 1;
}
