// tests/client/conflux_client_tool.cc: the project's own conflux test client (the initiator role),
// for tests/interop/test_conflux_client.py. It opens one channel per leg to a first hop (TLS and
// the link handshake through channeld's OutboundDialer, with a fresh identity made in memory),
// builds a circuit on each (CREATE2 ntor, then EXTEND2 in RELAY_EARLY to the exit with ntor v3 and
// the congestion-control request: client/origin_circuit.h), links the circuits into one conflux
// set, opens a stream to an HTTP server through the set, fetches one file and checks its length
// and SHA-256 (client/conflux_fetch.h), sending authenticated SENDMEs per leg as it goes.
//
// It prints one "key value" line per fact and exits 0 only if every check passed, 1 if one
// failed, 2 on bad arguments. The whole run is bounded by --deadline. Every cell from the network
// is hostile: a DESTROY, an unknown command, a cell that does not decrypt or parse ends the run
// with "error ..." and exit code 1.
//
// With --abuse it is a hostile client instead (the findings of the containment issue): once the
// body flows it holds back every SENDME, waits until the exit's windows are closed, then
//   truncates: sends 60 TRUNCATEs on leg 0, each answered by a TRUNCATED the exit must queue
//              behind the waiting DATA. Expected: the exit ends that circuit (its DESTROY, or a
//              C tor middle's TRUNCATED): "abuse_closed ...", exit 0.
//   refusals: opens 600 more streams on the set, past confluxd's cap of 512 per set, so the exit
//             must queue END RESOURCELIMIT refusals; a second later it sends the held SENDMEs.
//             Expected: the set survives, the file arrives intact, the streams past the cap come
//             back as END RESOURCELIMIT: "abuse_survived", exit 0.
//   no-linked-ack: never acknowledges leg 1's LINKED. Expected: the file arrives over leg 0, and
//             the exit closes leg 1 once its LINKED_ACK deadline (10 s) has passed:
//             "abuse_closed leg 1: ..." with "abuse_closed_after_ms", exit 0.
//   reorder: once the file has arrived, sends on leg 1 a SWITCH that skips 1000 sequence numbers,
//            then 6000 DATA messages (3 MiB): none can be delivered before the ones skipped, so
//            the exit's confluxd must hold them in the set's reorder queue. Expected: the exit
//            closes leg 1 when the queue passes its cap (2 MiB) or confluxd's memory budget, and
//            with it the set (the closed leg held the newest sequence numbers: C tor's rule), so
//            the first DESTROY may come on either leg: "abuse_closed leg N: ..." with
//            "abuse_closed_after_ms", exit 0.
//
// Usage: conflux_client_tool --first RELAY [--first RELAY ...] --exit RELAY
//          --target IP:PORT --path /file --bytes N --sha256 HEX [--no-switch] [--deadline SEC]
//          [--as-relay] [--cgo] [--resolve NAME]
//          [--abuse truncates|refusals|no-linked-ack|reorder]
//   RELAY = IP:ORPORT:RSA_FINGERPRINT_HEX:ED25519_ID_BASE64:NTOR_ONION_KEY_BASE64
//   One leg per --first (the first hops; at least one). The link handshake is a client's (CERTS and
//   AUTH_CHALLENGE answered with NETINFO only) unless --as-relay, which authenticates with the
//   identity made in memory (AUTHENTICATE type 3), as channeld does toward a next hop. With --cgo
//   each leg asks the exit for Counter Galois Onion (ntor v3's SUBPROTO request for Relay=6) and
//   prints "legN_exit_crypto cgo" (or tor1) when its exit answered. With --resolve the set also
//   carries a RESOLVE of NAME once linked; the run waits for its RESOLVED and prints
//   "resolved_answers N" and one "resolved ANSWER" line per answer.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "channeld/net/outbound.h"
#include "client/conflux_fetch.h"
#include "client/origin_circuit.h"
#include "common/base/hex.h"
#include "common/cell/cells.h"
#include "common/crypto/ed25519_cert.h"
#include "tests/channeld/fresh_identity.h"

using namespace onionsplit;
using namespace onionsplit::channeld;

namespace {

using channeld::testing::randomBytes;

uint64_t nowUsec() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

template <size_t N>
bool fromBase64(const std::string& s, std::array<uint8_t, N>& out) {
  std::string padded = s;
  while (padded.size() % 4)
    padded += '=';
  std::vector<unsigned char> buf(padded.size());
  int n = EVP_DecodeBlock(buf.data(), reinterpret_cast<const unsigned char*>(padded.data()),
                          static_cast<int>(padded.size()));
  if (n < static_cast<int>(N)) return false;
  std::memcpy(out.data(), buf.data(), N);
  return true;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t i = s.find(sep, start);
    parts.push_back(s.substr(start, i == std::string::npos ? std::string::npos : i - start));
    if (i == std::string::npos) return parts;
    start = i + 1;
  }
}

bool parseIpv4(const std::string& s, std::array<uint8_t, 4>& out) {
  auto p = split(s, '.');
  if (p.size() != 4) return false;
  for (size_t i = 0; i < 4; ++i) {
    if (p[i].empty() || p[i].size() > 3) return false;
    int v = std::atoi(p[i].c_str());
    if (v < 0 || v > 255) return false;
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

std::optional<client::RelayInfo> parseRelay(const std::string& s) {
  auto p = split(s, ':');
  if (p.size() != 5) return std::nullopt;
  client::RelayInfo r;
  int port = std::atoi(p[1].c_str());
  auto rsa = fromHex(p[2]);
  if (!parseIpv4(p[0], r.ipv4) || port <= 0 || port > 65535 || !rsa || rsa->size() != 20 ||
      !fromBase64(p[3], r.edId) || !fromBase64(p[4], r.ntorKey))
    return std::nullopt;
  r.orPort = static_cast<uint16_t>(port);
  std::memcpy(r.rsaId.data(), rsa->data(), 20);
  return r;
}

using Identity = channeld::testing::FreshIdentity;

constexpr cell::CircId kCircId = 0x80000001u;  // we opened the link: high bit set (tor-spec 5.1.1)
constexpr size_t kMaxInput = 1 << 20;          // unparsed bytes held per channel

struct Leg {
  conflux::LegId id = 0;
  client::RelayInfo first;
  std::optional<OpenedChannel> ch;
  client::OriginCircuit circ{randomBytes};
  std::vector<uint8_t> in;
  bool built = false;
  std::vector<crypto::Tor1Digest> heldSendmes;  // abuse: due SENDMEs not sent yet, in order
  struct Run* run = nullptr;
};

enum class Abuse : uint8_t { kNone, kTruncates, kRefusals, kNoLinkedAck, kReorder };
constexpr int kAbuseTruncates = 60;
constexpr uint16_t kAbuseStreams = 600;
constexpr uint32_t kAbuseReorderGap = 1000;   // sequence numbers the SWITCH skips
constexpr int kAbuseReorderMessages = 6000;   // 498 bytes each: past the reorder cap
constexpr timeval kAbuseQuiet = {1, 500000};  // no cell this long: the exit's windows are closed

struct Run {
  event_base* base = nullptr;
  Abuse abuse = Abuse::kNone;
  std::string resolve;       // a name to RESOLVE on the set once it linked (--resolve)
  bool withholding = false;  // SENDMEs are not sent (abuse)
  bool abuseSent = false;
  uint64_t lastCellUsec = 0;
  event* abuseTimer = nullptr;
  event* releaseTimer = nullptr;
  client::RelayInfo exit;
  std::vector<std::unique_ptr<Leg>> legs;
  std::optional<client::ConfluxFetch> fetch;
  std::string error;
  bool finished = false;
  uint64_t startUsec = 0, linkedUsec = 0, firstByteUsec = 0, doneUsec = 0;
  std::vector<client::Send> out;

  uint64_t closedUsec = 0;  // when the run failed (an abuse: when the exit closed something)

  void fail(std::string why) {
    if (error.empty() && !finished) {
      error = std::move(why);
      closedUsec = nowUsec();
    }
    event_base_loopbreak(base);
  }
};

void writeCell(Leg& leg, cell::CellCmd cmd, Bytes payload) {
  uint8_t buf[cell::kMaxCellLen];
  Writer w{MutBytes(buf)};
  cell::encodeFixedCell(w, leg.ch->info.linkVersion, kCircId, cmd, payload);
  bufferevent_write(leg.ch->conn->bev(), w.written().data(), w.written().size());
}

Leg* legById(Run& r, conflux::LegId id) {
  for (auto& l : r.legs)
    if (l->id == id) return l.get();
  return nullptr;
}

void flushOut(Run& r) {
  for (auto& s : r.out) {
    Leg* leg = legById(r, s.leg);
    std::array<uint8_t, cell::kCellPayloadLen> p{};
    if (!leg || !leg->circ.originate(s.cmd, s.streamId, Bytes(s.body), crypto::RelayPayload(p))) {
      r.fail("cannot originate relay command " + std::to_string(s.cmd));
      break;
    }
    writeCell(*leg, cell::CellCmd::kRelay, Bytes(p));
  }
  r.out.clear();
}

void onBuilt(Run& r) {
  for (auto& l : r.legs)
    if (!l->built) return;
  std::printf("circuits_built_usec %llu\n",
              static_cast<unsigned long long>(nowUsec() - r.startUsec));
  r.fetch->start(nowUsec(), r.out);
  flushOut(r);
}

// The reorder abuse: a gap in leg 1's sequence, then DATA the exit can only queue.
void floodReorderQueue(Run& r) {
  Leg* leg = legById(r, 1);
  if (!leg) return r.fail("reorder abuse: needs two legs");
  r.abuseSent = true;
  r.linkedUsec = nowUsec();  // abuse_closed_after_ms counts from here
  std::array<uint8_t, 4> sw{};
  Writer w{MutBytes(sw)};
  cell::encodeConfluxSwitch(cell::ConfluxSwitchMsg{kAbuseReorderGap}, w);
  std::array<uint8_t, 498> data{};
  for (int i = 0; i <= kAbuseReorderMessages; ++i) {
    std::array<uint8_t, cell::kCellPayloadLen> p{};
    bool ok =
        i == 0 ? leg->circ.originate(static_cast<uint8_t>(cell::RelayCmd::kConfluxSwitch), 0,
                                     Bytes(sw), crypto::RelayPayload(p))
               : leg->circ.originate(static_cast<uint8_t>(cell::RelayCmd::kData),
                                     client::kFetchStreamId, Bytes(data), crypto::RelayPayload(p));
    if (!ok) return r.fail("cannot originate the reorder abuse");
    writeCell(*leg, cell::CellCmd::kRelay, Bytes(p));
  }
  std::printf("abuse_sent switch_gap %u data %d on leg 1\n", kAbuseReorderGap,
              kAbuseReorderMessages);
  std::fflush(stdout);
}

void onRelayCell(Leg& leg, Bytes payload) {
  Run& r = *leg.run;
  r.lastCellUsec = nowUsec();
  std::array<uint8_t, cell::kCellPayloadLen> p{};
  std::memcpy(p.data(), payload.data(), p.size());
  client::Inbound in = leg.circ.onRelay(crypto::RelayPayload(p));
  if (in.kind == client::Inbound::kError)
    return r.fail("leg " + std::to_string(leg.id) + ": " + in.error);
  if (in.kind == client::Inbound::kExtended) {
    if (!leg.circ.ccEnabled())
      return r.fail("leg " + std::to_string(leg.id) +
                    ": the exit did not accept congestion control");
    std::printf("leg%llu_sendme_inc %u\n", static_cast<unsigned long long>(leg.id),
                unsigned{leg.circ.sendmeInc()});
    std::printf("leg%llu_exit_crypto %s\n", static_cast<unsigned long long>(leg.id),
                leg.circ.lastHopCgo() ? "cgo" : "tor1");
    leg.built = true;
    return onBuilt(r);
  }
  if (in.kind != client::Inbound::kMessage) return;
  bool wasLinked = r.fetch->linked();
  uint64_t before = r.fetch->bodyBytes();
  if (auto e = r.fetch->onMessage(leg.id, in.cmd, in.streamId, in.body, nowUsec(), r.out))
    return r.fail("leg " + std::to_string(leg.id) + ": " + *e);
  if (!wasLinked && r.fetch->linked()) {
    r.linkedUsec = nowUsec();
    if (!r.resolve.empty())
      if (auto e = r.fetch->resolve(r.resolve, r.out)) return r.fail(*e);
    if (r.abuse == Abuse::kNoLinkedAck) r.abuseSent = true;  // leg 1's LINKED_ACK is withheld
  }
  if (before == 0 && r.fetch->bodyBytes() > 0) {
    r.firstByteUsec = nowUsec();
    if (r.abuse == Abuse::kTruncates || r.abuse == Abuse::kRefusals) {
      r.withholding = true;
      evtimer_add(r.abuseTimer, &kAbuseQuiet);
    }
  }
  if (leg.circ.sendmeDue() && r.withholding) leg.heldSendmes.push_back(*leg.circ.withholdSendme());
  if (leg.circ.sendmeDue()) {
    std::array<uint8_t, cell::kCellPayloadLen> s{};
    if (!leg.circ.originateSendme(crypto::RelayPayload(s))) return r.fail("cannot make a SENDME");
    writeCell(leg, cell::CellCmd::kRelay, Bytes(s));
  }
  flushOut(r);
  if (r.fetch->done() && r.abuse == Abuse::kReorder && !r.abuseSent) {
    r.doneUsec = nowUsec();
    floodReorderQueue(r);  // then wait for the exit to close leg 1
  } else if (r.fetch->done() && (r.abuse == Abuse::kNoLinkedAck || r.abuse == Abuse::kReorder)) {
    if (r.doneUsec == 0) r.doneUsec = nowUsec();  // now wait for the exit to close leg 1
  } else if (r.fetch->done() && (r.resolve.empty() || r.fetch->resolved())) {
    r.doneUsec = nowUsec();
    r.finished = true;
    event_base_loopbreak(r.base);
  }
}

// The abuse, once the exit has sent nothing for kAbuseQuiet (its windows are closed: DATA waits in
// its queues toward us).
void onAbuseTimer(evutil_socket_t, short, void* arg) {
  Run& r = *static_cast<Run*>(arg);
  if (r.abuseSent || !r.error.empty() || r.finished) return;
  uint64_t quietUsec = uint64_t(kAbuseQuiet.tv_sec) * 1000000 + uint64_t(kAbuseQuiet.tv_usec);
  if (nowUsec() - r.lastCellUsec < quietUsec) {
    evtimer_add(r.abuseTimer, &kAbuseQuiet);
    return;
  }
  r.abuseSent = true;
  if (r.abuse == Abuse::kTruncates) {
    Leg& leg = *r.legs[0];
    for (int i = 0; i < kAbuseTruncates; ++i) {
      std::array<uint8_t, cell::kCellPayloadLen> p{};
      if (!leg.circ.originate(static_cast<uint8_t>(cell::RelayCmd::kTruncate), 0, {},
                              crypto::RelayPayload(p)))
        return r.fail("cannot originate TRUNCATE");
      writeCell(leg, cell::CellCmd::kRelay, Bytes(p));
    }
    std::printf("abuse_sent truncates %d on leg 0\n", kAbuseTruncates);
  } else {
    if (auto e = r.fetch->openExtraStreams(kAbuseStreams, r.out)) return r.fail(*e);
    flushOut(r);
    std::printf("abuse_sent begins %u\n", unsigned{kAbuseStreams});
    evtimer_add(r.releaseTimer, &kAbuseQuiet);
  }
  std::fflush(stdout);
}

// The refusals abuse, once its BEGINs are in: the held SENDMEs go out and the windows reopen.
void onReleaseTimer(evutil_socket_t, short, void* arg) {
  Run& r = *static_cast<Run*>(arg);
  if (!r.error.empty() || r.finished) return;
  r.withholding = false;
  size_t n = 0;
  for (auto& leg : r.legs) {
    for (const auto& digest : leg->heldSendmes) {
      std::array<uint8_t, cell::kCellPayloadLen> p{};
      if (!leg->circ.originateHeldSendme(digest, crypto::RelayPayload(p)))
        return r.fail("cannot make a held SENDME");
      writeCell(*leg, cell::CellCmd::kRelay, Bytes(p));
      ++n;
    }
    leg->heldSendmes.clear();
  }
  std::printf("abuse_released_sendmes %zu\n", n);
  std::fflush(stdout);
}

// One cell of this leg's channel. False ends the run.
bool onCell(Leg& leg, const cell::CellView& c) {
  Run& r = *leg.run;
  auto cmd = static_cast<cell::CellCmd>(c.command);
  std::string name = "leg " + std::to_string(leg.id) + ": ";
  if (cmd == cell::CellCmd::kPadding || cmd == cell::CellCmd::kVpadding ||
      cmd == cell::CellCmd::kPaddingNegotiate)
    return true;
  if (c.circId != kCircId) {
    r.fail(name + "cell " + std::to_string(c.command) + " for circuit " + std::to_string(c.circId) +
           ", which we never made");
    return false;
  }
  switch (cmd) {
    case cell::CellCmd::kCreated2: {
      if (auto e = leg.circ.onCreated2(c.payload)) {
        r.fail(name + *e);
        return false;
      }
      std::array<uint8_t, cell::kCellPayloadLen> p{};
      if (!leg.circ.extend(r.exit, crypto::RelayPayload(p))) {
        r.fail(name + "cannot make the EXTEND2");
        return false;
      }
      writeCell(leg, cell::CellCmd::kRelayEarly, Bytes(p));
      return true;
    }
    case cell::CellCmd::kRelayEarly:
      r.fail(name + "an inbound RELAY_EARLY cell (tor-spec 5.6: close the circuit)");
      return false;
    case cell::CellCmd::kRelay:
      if (c.payload.size() != cell::kCellPayloadLen) {
        r.fail(name + "short RELAY cell");
        return false;
      }
      onRelayCell(leg, c.payload);
      return r.error.empty() && !r.finished;
    case cell::CellCmd::kDestroy: {
      auto reason = cell::decodeDestroy(c.payload);
      r.fail(name + "DESTROY reason " + std::to_string(reason ? static_cast<int>(*reason) : -1));
      return false;
    }
    default:
      r.fail(name + "unexpected cell command " + std::to_string(c.command));
      return false;
  }
}

void readCells(Leg& leg) {
  size_t off = 0;
  while (leg.run->error.empty() && !leg.run->finished) {
    auto c = cell::nextCell(Bytes(leg.in).subspan(off), leg.ch->info.linkVersion);
    if (!c) {
      leg.run->fail("leg " + std::to_string(leg.id) + ": malformed cell: " + c.error().field);
      break;
    }
    if (!*c) break;
    off += (*c)->wireLen;
    if (!onCell(leg, **c)) break;
  }
  leg.in.erase(leg.in.begin(), leg.in.begin() + static_cast<long>(off));
}

void onRead(bufferevent* bev, void* arg) {
  auto* leg = static_cast<Leg*>(arg);
  evbuffer* input = bufferevent_get_input(bev);
  while (evbuffer_get_length(input) > 0 && leg->run->error.empty() && !leg->run->finished) {
    size_t n = std::min<size_t>(evbuffer_get_length(input), 1 << 16);
    if (leg->in.size() + n > kMaxInput) return leg->run->fail("too much unparsed input");
    size_t old = leg->in.size();
    leg->in.resize(old + n);
    evbuffer_remove(input, leg->in.data() + old, n);
    readCells(*leg);
  }
}

void onEvent(bufferevent*, short what, void* arg) {
  auto* leg = static_cast<Leg*>(arg);
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
    leg->run->fail("leg " + std::to_string(leg->id) + ": the channel closed");
}

struct Args {
  std::vector<client::RelayInfo> firsts;
  std::optional<client::RelayInfo> exit;
  client::FetchTarget target;
  bool clientSwitch = true;
  bool asRelay = false;
  bool cgo = false;
  std::string resolve;
  Abuse abuse = Abuse::kNone;
  int deadlineSec = 120;
};

std::optional<Args> parseArgs(int argc, char** argv) {
  Args a;
  bool haveSha = false, haveBytes = false, haveTarget = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--no-switch") {
      a.clientSwitch = false;
      continue;
    }
    if (k == "--as-relay") {
      a.asRelay = true;
      continue;
    }
    if (k == "--cgo") {
      a.cgo = true;
      continue;
    }
    if (i + 1 >= argc) return std::nullopt;
    std::string v = argv[++i];
    if (k == "--first" || k == "--exit") {
      auto r = parseRelay(v);
      if (!r) return std::nullopt;
      if (k == "--first")
        a.firsts.push_back(*r);
      else
        a.exit = *r;
    } else if (k == "--target") {
      auto p = split(v, ':');
      std::array<uint8_t, 4> ip{};
      int port = p.size() == 2 ? std::atoi(p[1].c_str()) : 0;
      if (p.size() != 2 || !parseIpv4(p[0], ip) || port <= 0 || port > 65535) return std::nullopt;
      a.target.address = p[0];
      a.target.port = static_cast<uint16_t>(port);
      haveTarget = true;
    } else if (k == "--path") {
      if (v.empty() || v[0] != '/' || v.size() > 200) return std::nullopt;
      a.target.path = v;
    } else if (k == "--bytes") {
      a.target.expectBytes = std::strtoull(v.c_str(), nullptr, 10);
      haveBytes = true;
    } else if (k == "--sha256") {
      auto h = fromHex(v);
      if (!h || h->size() != 32) return std::nullopt;
      std::memcpy(a.target.expectSha256.data(), h->data(), 32);
      haveSha = true;
    } else if (k == "--resolve") {
      if (v.empty() || v.size() > 255) return std::nullopt;
      a.resolve = v;
    } else if (k == "--abuse") {
      if (v == "truncates")
        a.abuse = Abuse::kTruncates;
      else if (v == "refusals")
        a.abuse = Abuse::kRefusals;
      else if (v == "no-linked-ack")
        a.abuse = Abuse::kNoLinkedAck;
      else if (v == "reorder")
        a.abuse = Abuse::kReorder;
      else
        return std::nullopt;
    } else if (k == "--deadline") {
      a.deadlineSec = std::atoi(v.c_str());
      if (a.deadlineSec <= 0 || a.deadlineSec > 3600) return std::nullopt;
    } else {
      return std::nullopt;
    }
  }
  if (a.firsts.empty() || a.firsts.size() > 8 || !a.exit || !haveSha || !haveBytes || !haveTarget)
    return std::nullopt;
  return a;
}

std::string ipString(const std::array<uint8_t, 4>& ip) {
  return std::to_string(ip[0]) + "." + std::to_string(ip[1]) + "." + std::to_string(ip[2]) + "." +
         std::to_string(ip[3]);
}

// The exit ended what the abuse cost: its DESTROY (a C tor middle sends it on as TRUNCATED).
bool abuseClosed(const Run& r) {
  bool closed = r.abuseSent && (r.error.find("truncated at hop") != std::string::npos ||
                                r.error.find("DESTROY") != std::string::npos);
  if (r.abuse == Abuse::kReorder)  // leg 1, and with it the set: whichever DESTROY comes first
    return closed && r.fetch->done();
  if (r.abuse == Abuse::kNoLinkedAck)  // leg 1 alone, after the file
    return closed && r.error.starts_with("leg 1:") && r.fetch->done();
  return closed;
}

// The refusals abuse cost only the streams past the cap: the set lived on and the file arrived.
bool abuseSurvived(const Run& r) {
  constexpr auto kResourceLimit = static_cast<uint8_t>(cell::EndReason::kResourceLimit);
  auto refused = r.fetch->extraEnds().find(kResourceLimit);
  return r.abuse == Abuse::kRefusals && r.abuseSent && r.finished &&
         refused != r.fetch->extraEnds().end() && refused->second > 0;
}

void report(Run& r) {
  for (auto& l : r.legs) {
    auto id = static_cast<unsigned long long>(l->id);
    std::printf("leg%llu_first_hop %s\n", id, toHex(Bytes(l->first.rsaId), true).c_str());
    std::printf("leg%llu_relay_data_cells %llu\n", id,
                static_cast<unsigned long long>(l->circ.dataCellsReceived()));
    std::printf("leg%llu_sendmes_sent %llu\n", id,
                static_cast<unsigned long long>(l->circ.sendmesSent()));
  }
  if (r.fetch) {
    for (const auto& [id, st] : r.fetch->legStats()) {
      auto i = static_cast<unsigned long long>(id);
      std::printf("leg%llu_rtt_usec %llu\n", i, static_cast<unsigned long long>(st.rttUsec));
      std::printf("leg%llu_data_cells %llu\n", i, static_cast<unsigned long long>(st.dataCells));
      std::printf("leg%llu_switches_seen %llu\n", i,
                  static_cast<unsigned long long>(st.switchesSeen));
      std::printf("leg%llu_switches_sent %llu\n", i,
                  static_cast<unsigned long long>(st.switchesSent));
    }
    if (r.fetch->beginLeg())
      std::printf("begin_leg %llu\n", static_cast<unsigned long long>(*r.fetch->beginLeg()));
    if (r.fetch->getLeg())
      std::printf("get_leg %llu\n", static_cast<unsigned long long>(*r.fetch->getLeg()));
    std::printf("max_reorder_queue %zu\n", r.fetch->maxReorderQueue());
    std::printf("bytes %llu\n", static_cast<unsigned long long>(r.fetch->bodyBytes()));
    if (const auto& answers = r.fetch->resolved()) {
      std::printf("resolved_answers %zu\n", answers->size());
      for (const std::string& a : *answers)
        std::printf("resolved %s\n", a.c_str());
    }
  }
  if (r.finished && r.firstByteUsec && r.doneUsec > r.linkedUsec) {
    double secs = static_cast<double>(r.doneUsec - r.linkedUsec) / 1e6;
    std::printf("seconds %.3f\n", secs);
    std::printf("mib_per_s %.2f\n", static_cast<double>(r.fetch->bodyBytes()) / (1 << 20) / secs);
  }
  if (r.abuse != Abuse::kNone && r.fetch) {
    std::printf("abuse_extra_connected %llu\n",
                static_cast<unsigned long long>(r.fetch->extraConnected()));
    for (const auto& [reason, n] : r.fetch->extraEnds())
      std::printf("abuse_extra_ends_reason%u %llu\n", unsigned{reason},
                  static_cast<unsigned long long>(n));
    if (abuseClosed(r)) std::printf("abuse_closed %s\n", r.error.c_str());
    if ((r.abuse == Abuse::kNoLinkedAck || r.abuse == Abuse::kReorder) && r.linkedUsec &&
        abuseClosed(r))
      std::printf("abuse_closed_after_ms %llu\n",
                  static_cast<unsigned long long>((r.closedUsec - r.linkedUsec) / 1000));
    if (abuseSurvived(r)) std::printf("abuse_survived\n");
  }
  std::printf("%s\n", r.finished ? "result ok" : ("error " + r.error).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  auto args = parseArgs(argc, argv);
  if (!args) {
    std::fprintf(stderr,
                 "usage: %s --first RELAY [--first RELAY...] --exit RELAY --target IP:PORT "
                 "--path /file --bytes N --sha256 HEX [--no-switch] [--deadline SEC] "
                 "[--as-relay] [--cgo] [--abuse truncates|refusals|no-linked-ack|reorder]\n"
                 "  RELAY = IP:ORPORT:RSA_FP_HEX:ED25519_B64:NTOR_KEY_B64\n",
                 argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  int64_t now = std::time(nullptr);
  Identity me(now);
  auto tls = channeld::testing::initiatorTls(me);
  if (!tls) return 2;
  std::array<uint8_t, 32> rsaIdSha256 = me.rsaIdSha256();
  InitiatorIdentity id;
  if (args->asRelay)
    id = InitiatorIdentity{
        me.init, me.init->initiatorCerts(*me.creds), rsaIdSha256, me.master->publicKey(), {}};
  std::printf("link_role %s\n", args->asRelay ? "relay" : "client");

  Run r;
  r.base = event_base_new();
  r.abuse = args->abuse;
  r.resolve = args->resolve;
  r.abuseTimer = evtimer_new(r.base, onAbuseTimer, &r);
  r.releaseTimer = evtimer_new(r.base, onReleaseTimer, &r);
  r.exit = *args->exit;
  r.startUsec = nowUsec();
  std::vector<conflux::LegId> ids;
  for (size_t i = 0; i < args->firsts.size(); ++i) {
    auto leg = std::make_unique<Leg>();
    leg->id = i;
    leg->first = args->firsts[i];
    leg->run = &r;
    leg->circ.requestCgo(args->cgo);
    ids.push_back(i);
    r.legs.push_back(std::move(leg));
  }
  conflux::Nonce nonce{};
  randomBytes(MutBytes(nonce));
  r.fetch.emplace(nonce, ids, args->target, args->clientSwitch);
  if (r.abuse == Abuse::kNoLinkedAck) r.fetch->withholdLinkedAck(1);

  auto dialer =
      std::make_unique<OutboundDialer>(r.base, *tls, id, std::chrono::seconds(20), randomBytes,
                                       [] { return static_cast<int64_t>(std::time(nullptr)); });
  for (auto& lp : r.legs) {
    Leg* leg = lp.get();
    OutboundTarget t;
    t.ip = ipString(leg->first.ipv4);
    t.port = leg->first.orPort;
    t.rsaId.emplace();
    std::memcpy(t.rsaId->data(), leg->first.rsaId.data(), 20);
    t.edId.emplace();
    std::memcpy(t.edId->data(), leg->first.edId.data(), 32);
    dialer->dial(t, [leg](Expected<OpenedChannel, std::string> res) {
      if (!res)
        return leg->run->fail("leg " + std::to_string(leg->id) + ": channel: " + res.error());
      leg->ch.emplace(std::move(*res));
      leg->in = leg->ch->leftover;
      bufferevent* bev = leg->ch->conn->bev();
      bufferevent_setcb(bev, onRead, nullptr, onEvent, leg);
      bufferevent_enable(bev, EV_READ | EV_WRITE);
      auto create = leg->circ.create2(leg->first);
      writeCell(*leg, cell::CellCmd::kCreate2, Bytes(create));
      readCells(*leg);
      onRead(bev, leg);
    });
  }
  timeval limit{args->deadlineSec, 0};
  event_base_loopexit(r.base, &limit);
  event_base_dispatch(r.base);
  if (!r.finished && r.error.empty())
    r.error = "deadline of " + std::to_string(args->deadlineSec) + " s passed";
  report(r);
  std::fflush(stdout);
  for (auto& l : r.legs)
    l->ch.reset();
  dialer.reset();
  event_free(r.abuseTimer);
  event_free(r.releaseTimer);
  event_base_free(r.base);
  if (r.abuse == Abuse::kTruncates || r.abuse == Abuse::kNoLinkedAck || r.abuse == Abuse::kReorder)
    return abuseClosed(r) ? 0 : 1;
  if (r.abuse == Abuse::kRefusals) return abuseSurvived(r) ? 0 : 1;
  return r.finished ? 0 : 1;
}
