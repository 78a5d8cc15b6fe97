// fuzz/fuzz_streamd_messages.cc: streamd's per-circuit stream logic
// (streamd/core/circuit_streams.h) fed an arbitrary sequence of circuitd's relay messages (any
// command, stream id and body) mixed with arbitrary answers of the shell (DNS, connects, socket
// EOFs, buffer levels) and reads. Checks that it never crashes, that it only asks its StreamIo
// about streams it knows, that what it sends the client is a command an exit may send in a body
// that fits a cell, that no END carries reason 0 (bug 41353), that only valid hostnames are looked
// up or answered (TROVE-2026-035), and that its counters stay consistent with its stream map.
#include <cstdlib>
#include <set>

#include "common/cell/relay.h"
#include "streamd/core/circuit_streams.h"

using namespace onionsplit;
using namespace onionsplit::streamd;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

struct CheckingIo final : StreamIo {
  void sendControl(StreamId id, cell::RelayCmd cmd, Bytes body) override {
    check(id != 0);
    check(body.size() <= cell::kRelayBodyMax);
    switch (cmd) {
      case cell::RelayCmd::kEnd:
        check(!body.empty() && body[0] != 0);
        break;
      case cell::RelayCmd::kResolved:
        if (auto r = cell::decodeResolved(body))
          for (size_t i = 0; i < r->count; ++i)
            if (r->answers[i].type == cell::ResolvedAnswer::kHostname)
              check(isValidHostname(
                  std::string_view(reinterpret_cast<const char*>(r->answers[i].value.data()),
                                   r->answers[i].value.size())));
        break;
      case cell::RelayCmd::kConnected:
      case cell::RelayCmd::kSendme:
      case cell::RelayCmd::kXon:
      case cell::RelayCmd::kXoff:
        break;
      default:
        check(false);
    }
  }
  void resolve(StreamId id, std::string_view name, bool) override {
    check(isResolvableHostname(name));
    live.insert(id);
  }
  void resolveReverse(StreamId id, const exitpolicy::IpAddress&) override { live.insert(id); }
  void connect(StreamId id, const exitpolicy::IpAddress&, uint16_t port) override {
    check(port != 0);
    live.insert(id);
  }
  void write(StreamId id, Bytes) override { check(live.count(id) == 1); }
  size_t outputBuffered(StreamId) const override { return buffered; }
  void release(StreamId id, bool) override { live.erase(id); }
  void readable(StreamId) override {}

  std::set<StreamId> live;
  size_t buffered = 0;
};

struct Input {
  const uint8_t* p;
  size_t n;
  uint8_t u8() {
    if (!n) return 0;
    --n;
    return *p++;
  }
  Bytes bytes(size_t k) {
    k = std::min(k, n);
    Bytes b(p, k);
    p += k;
    n -= k;
    return b;
  }
};

const exitpolicy::Policy& policy() {
  static const exitpolicy::Policy p = [] {
    exitpolicy::PolicyInputs in;
    in.exitRelay = true;
    in.ipv6Exit = true;
    in.rejectPrivate = false;
    in.items = {"reject *:25", "accept *:*"};
    return *exitpolicy::Policy::build(in);
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in{data, size};
  StreamShared shared(policy());
  shared.ipv6Exit = true;
  shared.maxStreams = 64;
  CheckingIo io;
  CircuitStreams core(shared, io, (in.u8() & 1) != 0);
  uint64_t now = 0;
  while (in.n) {
    uint8_t op = in.u8();
    StreamId id = static_cast<StreamId>(in.u8() % 8);  // few ids: reuse and collisions
    now += 1000;
    switch (op % 11) {
      case 0:
      case 1:
      case 2: {  // a relay message of circuitd
        uint8_t cmd = in.u8();
        if (op % 11 != 2) {  // mostly commands circuitd may send
          static const uint8_t kCmds[] = {1, 2, 3, 5, 11, 13, 43, 44};
          cmd = kCmds[cmd % 8];
        }
        Bytes body = in.bytes(in.u8());
        core.onClientMessage(id, cmd, body, now);
        break;
      }
      case 3: {
        DnsAnswer a;
        uint8_t k = in.u8();
        if (k % 4 == 0) a.error = DnsError::kTransient;
        if (k % 4 == 1) a.error = DnsError::kNonTransient;
        if (k & 4) a.ipv4.push_back({in.u8(), in.u8(), in.u8(), in.u8()});
        if (k & 8) a.ipv6.push_back({in.u8(), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, in.u8()});
        if (k & 16) a.ptrName.assign(in.u8(), 'p');
        core.onResolved(id, a);
        break;
      }
      case 4:
        core.onConnected(id);
        break;
      case 5:
        core.onConnectFailed(id, in.u8());
        break;
      case 6:
        core.onConnectTimeout(id);
        break;
      case 7:
        core.onSocketClosed(id, in.u8() % 4 == 0 ? 0 : in.u8());
        break;
      case 8:
        io.buffered = size_t{in.u8()} << 8;
        core.onOutputDrained(id, io.buffered, in.u8(), now);
        break;
      case 9: {  // the shell serves the ready streams
        core.markReady(id);
        for (int i = 0; i < 4; ++i) {
          auto r = core.nextReady();
          if (!r) break;
          check(core.has(*r) && core.mayPackage(*r));
          core.onPackaged(*r, in.u8() * 2u);
        }
        break;
      }
      case 10:
        if (in.u8() == 0) core.closeAll();
        break;
    }
    check(shared.counters.open == core.size());
    check(core.size() <= kMaxStreamsPerCircuit);
    for (StreamId l : io.live)
      check(core.has(l));
  }
  core.closeAll();
  check(io.live.empty());
  return 0;
}
