// tests/channeld/create_flood_tool.cc: a hostile client for the circuit-creation DoS defence
// (tests/interop/test_exit_traffic.py). From a chosen loopback source address (--bind: the test
// network's relays all live on 127.0.0.1, and a relay's address is exempt from the defence, as in
// C tor), it opens one channel to a relay as a client (CERTS and AUTH_CHALLENGE answered with
// NETINFO only), sends --circuits CREATE_FAST cells at once, each on its own circuit id, and
// waits until every one is answered. It prints one "key value" line per fact:
//   created N             CREATED_FAST answers
//   destroyed_reasonR N   DESTROY answers with reason R (5 = RESOURCELIMIT: the DoS defence)
//   unanswered N          circuits with no answer by the deadline
// and exits 0 if every circuit was answered, 1 if not (or the channel failed), 2 on bad arguments.
//
// With --begin ADDR:PORT (and --circuits 1) it is a one-hop client instead (issue 17's
// refuseunknownexits): once CREATED_FAST came back it sends BEGIN on that circuit (tor1, the relay
// as the last hop) and prints "begin_answer connected" or "begin_answer end REASON". With
// --as-relay the link is authenticated with the fresh identity (AUTHENTICATE), as a relay's
// would be; the consensus does not list that key.
//
// Usage: create_flood_tool IP PORT RSA_FINGERPRINT_HEX --bind SRC_IP --circuits N [--deadline SEC]
//          [--begin ADDR:PORT] [--as-relay 1]
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <string>

#include "channeld/net/outbound.h"
#include "client/origin_circuit.h"
#include "common/base/hex.h"
#include "common/cell/relay.h"
#include "tests/channeld/fresh_identity.h"

using namespace onionsplit;
using namespace onionsplit::channeld;

namespace {

using channeld::testing::randomBytes;

constexpr int kMaxCircuits = 4096;
constexpr size_t kMaxInput = 1 << 20;  // unparsed bytes held

struct Flood {
  event_base* base = nullptr;
  std::optional<OpenedChannel> channel;
  std::vector<uint8_t> in;
  std::set<uint32_t> waiting;  // circuit ids sent, not answered yet
  uint64_t created = 0;
  std::map<int, uint64_t> destroyed;  // by reason
  std::string error;
  std::string begin;  // --begin ADDR:PORT: the one circuit's BEGIN, else empty
  std::optional<client::OriginCircuit> circ;
  std::string beginAnswer;

  void stop(std::string why = {}) {
    if (error.empty()) error = std::move(why);
    event_base_loopbreak(base);
  }
};

void writeCell(Flood& f, uint32_t circId, cell::CellCmd cmd, Bytes payload) {
  uint8_t buf[cell::kMaxCellLen];
  Writer w{MutBytes(buf)};
  cell::encodeFixedCell(w, f.channel->info.linkVersion, circId, cmd, payload);
  bufferevent_write(f.channel->conn->bev(), w.written().data(), w.written().size());
}

// The one circuit is open: BEGIN to --begin on stream 1 (ADDR:PORT, NUL, no flags).
void sendBegin(Flood& f, uint32_t circId, Bytes createdFast) {
  if (auto e = f.circ->onCreatedFast(createdFast)) return f.stop(*e);
  std::vector<uint8_t> body(f.begin.begin(), f.begin.end());
  body.push_back(0);
  std::array<uint8_t, cell::kCellPayloadLen> p{};
  if (!f.circ->originate(static_cast<uint8_t>(cell::RelayCmd::kBegin), 1, Bytes(body),
                         crypto::RelayPayload(p)))
    return f.stop("cannot make the BEGIN");
  writeCell(f, circId, cell::CellCmd::kRelay, Bytes(p));
}

void onBeginAnswer(Flood& f, Bytes payload) {
  std::array<uint8_t, cell::kCellPayloadLen> p{};
  if (payload.size() != p.size()) return f.stop("short RELAY cell");
  std::memcpy(p.data(), payload.data(), p.size());
  client::Inbound in = f.circ->onRelay(crypto::RelayPayload(p));
  if (in.kind == client::Inbound::kError) return f.stop(in.error);
  if (in.kind != client::Inbound::kMessage) return;
  if (in.cmd == static_cast<uint8_t>(cell::RelayCmd::kConnected))
    f.beginAnswer = "connected";
  else if (in.cmd == static_cast<uint8_t>(cell::RelayCmd::kEnd))
    f.beginAnswer = "end " + std::to_string(in.body.empty() ? -1 : int{in.body[0]});
  else
    return;
  f.stop();
}

void readCells(Flood& f) {
  size_t off = 0;
  while (f.error.empty()) {
    auto c = cell::nextCell(Bytes(f.in).subspan(off), f.channel->info.linkVersion);
    if (!c) return f.stop(std::string("malformed cell: ") + c.error().field);
    if (!*c) break;
    off += (*c)->wireLen;
    auto cmd = static_cast<cell::CellCmd>((*c)->command);
    if (cmd == cell::CellCmd::kPadding || cmd == cell::CellCmd::kVpadding) continue;
    auto circ = static_cast<uint32_t>((*c)->circId);
    if (f.circ && cmd == cell::CellCmd::kRelay) {
      onBeginAnswer(f, (*c)->payload);
      continue;
    }
    if (cmd != cell::CellCmd::kCreatedFast && cmd != cell::CellCmd::kDestroy) continue;
    if (f.waiting.erase(circ) == 0)
      return f.stop("an answer for circuit " + std::to_string(circ) + ", which is not waiting");
    if (cmd == cell::CellCmd::kCreatedFast)
      ++f.created;
    else
      ++f.destroyed[(*c)->payload.empty() ? -1 : (*c)->payload[0]];
    if (cmd == cell::CellCmd::kCreatedFast && f.circ) {
      sendBegin(f, circ, (*c)->payload);
      continue;
    }
    if (f.waiting.empty()) f.stop();
  }
  f.in.erase(f.in.begin(), f.in.begin() + static_cast<long>(off));
}

void onRead(bufferevent* bev, void* arg) {
  auto* f = static_cast<Flood*>(arg);
  evbuffer* input = bufferevent_get_input(bev);
  bool expecting = !f->waiting.empty() || (f->circ && f->beginAnswer.empty());
  while (evbuffer_get_length(input) > 0 && f->error.empty() && expecting) {
    size_t n = std::min<size_t>(evbuffer_get_length(input), 1 << 16);
    if (f->in.size() + n > kMaxInput) return f->stop("too much unparsed input");
    size_t old = f->in.size();
    f->in.resize(old + n);
    evbuffer_remove(input, f->in.data() + old, n);
    readCells(*f);
  }
}

void onEvent(bufferevent*, short what, void* arg) {
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    static_cast<Flood*>(arg)->stop("the channel closed");
}

}  // namespace

int main(int argc, char** argv) {
  auto usage = [&] {
    std::fprintf(stderr,
                 "usage: %s IP PORT RSA_FP_HEX --bind SRC_IP --circuits N [--deadline SEC]\n",
                 argv[0]);
    return 2;
  };
  if (argc < 4) return usage();
  OutboundTarget target;
  target.ip = argv[1];
  int port = std::atoi(argv[2]);
  auto rsa = fromHex(argv[3]);
  if (port <= 0 || port > 65535 || !rsa || rsa->size() != 20) return usage();
  target.port = static_cast<uint16_t>(port);
  target.rsaId.emplace();
  std::memcpy(target.rsaId->data(), rsa->data(), 20);
  std::string bindIp, begin;
  bool asRelay = false;
  int circuits = 0, deadlineSec = 30;
  for (int i = 4; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--bind")
      bindIp = v;
    else if (k == "--circuits")
      circuits = std::atoi(v.c_str());
    else if (k == "--deadline")
      deadlineSec = std::atoi(v.c_str());
    else if (k == "--begin")
      begin = v;
    else if (k == "--as-relay")
      asRelay = v == "1";
    else
      return usage();
  }
  sockaddr_in from{};
  from.sin_family = AF_INET;
  if ((argc - 4) % 2 != 0 || circuits <= 0 || circuits > kMaxCircuits || deadlineSec <= 0 ||
      deadlineSec > 600 || inet_pton(AF_INET, bindIp.c_str(), &from.sin_addr) != 1 ||
      (!begin.empty() && (circuits != 1 || begin.size() > 200)))
    return usage();
  signal(SIGPIPE, SIG_IGN);

  channeld::testing::FreshIdentity me(std::time(nullptr));
  auto tls = channeld::testing::initiatorTls(me);
  if (!tls) return 2;

  Flood f;
  f.base = event_base_new();
  f.begin = begin;
  if (!begin.empty()) f.circ.emplace(randomBytes);
  // A client's link handshake (no initiator identity, so no AUTHENTICATE) unless --as-relay.
  InitiatorIdentity id;
  if (asRelay)
    id = InitiatorIdentity{
        me.init, me.init->initiatorCerts(*me.creds), me.rsaIdSha256(), me.master->publicKey(), {}};
  auto dialer =
      std::make_unique<OutboundDialer>(f.base, *tls, id, std::chrono::seconds(20), randomBytes,
                                       [] { return static_cast<int64_t>(std::time(nullptr)); });
  OutboundDialer::Seams seams;
  seams.connect = [&from](int fd, const sockaddr* to, socklen_t len) {
    if (bind(fd, reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0) return -1;
    return ::connect(fd, to, len);
  };
  dialer->setSeams(std::move(seams));
  dialer->dial(target, [&f, circuits, &bindIp](Expected<OpenedChannel, std::string> res) {
    if (!res) return f.stop("channel: " + res.error());
    f.channel.emplace(std::move(*res));
    f.in = f.channel->leftover;
    bufferevent* bev = f.channel->conn->bev();
    bufferevent_setcb(bev, onRead, nullptr, onEvent, &f);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    for (int i = 0; i < circuits; ++i) {
      // tor-spec 5.1.1: we opened the link, so our circuit ids have the high bit set.
      uint32_t circId = 0x80000001u + static_cast<uint32_t>(i);
      std::array<uint8_t, cell::kCellPayloadLen> payload{};
      if (f.circ)
        payload = f.circ->createFast();
      else
        randomBytes(MutBytes(payload.data(), 20));
      writeCell(f, circId, cell::CellCmd::kCreateFast, Bytes(payload));
      f.waiting.insert(circId);
    }
    std::printf("sent %d from %s\n", circuits, bindIp.c_str());
    readCells(f);
  });
  timeval limit{deadlineSec, 0};
  event_base_loopexit(f.base, &limit);
  event_base_dispatch(f.base);
  std::printf("created %llu\n", static_cast<unsigned long long>(f.created));
  for (const auto& [reason, n] : f.destroyed)
    std::printf("destroyed_reason%d %llu\n", reason, static_cast<unsigned long long>(n));
  std::printf("unanswered %zu\n", f.channel ? f.waiting.size() : size_t(circuits));
  if (!f.begin.empty() && f.beginAnswer.empty() && f.error.empty())
    f.error = "no answer to the BEGIN";
  if (!f.beginAnswer.empty()) std::printf("begin_answer %s\n", f.beginAnswer.c_str());
  if (!f.error.empty()) std::printf("error %s\n", f.error.c_str());
  bool ok = f.error.empty() && f.channel && f.waiting.empty() &&
            (f.begin.empty() || !f.beginAnswer.empty());
  f.channel.reset();
  dialer.reset();
  event_base_free(f.base);
  return ok ? 0 : 1;
}
