// streamd/core/circuit_streams.h: the stream side of one circuit (pure): the map of its exit
// streams, the client's stream messages checked and applied (tor-spec §6.2-6.4, §7.4; proposal 324
// §4), the stream windows or XON/XOFF, and the round-robin list of streams ready to be read.
//
// Where it sits: streamd's session (streamd/net/) owns one CircuitStreams per circuit (or conflux
// set) that circuitd opened, feeds it circuitd's relay messages and the answers of its sockets and
// resolver, and performs what it asks through StreamIo. Each stream's life is an ExitStream
// (exit_stream.h); this class adds what is per circuit: stream ids, limits, windows, and fairness.
//
// Re-entrancy: StreamIo's calls must not call back into CircuitStreams; the shell reports every
// answer (DNS, connect, socket) from a later event, never from inside a StreamIo call.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/base/bytes.h"
#include "common/cell/constants.h"
#include "common/cell/relay_v1.h"
#include "common/dos/stream_dos.h"
#include "common/exitpolicy/exit_policy.h"
#include "common/flowctl/sendme.h"
#include "common/flowctl/xon_xoff.h"
#include "streamd/core/exit_stream.h"
#include "streamd/dns/dns_cache.h"

namespace onionsplit::streamd {

using cell::StreamId;

inline constexpr size_t kMaxStreamsPerCircuit = 256;
// A stream SENDME is withheld while the socket's output buffer holds this much or more: the client
// then stops at its package window, which is the back-pressure of a slow destination.
inline constexpr size_t kSendmeBufferLimit = 32 * 1024;
// A client that keeps sending while its stream's socket holds this much (it ignored our XOFF; the
// classic window cannot get here) loses the stream with END RESOURCELIMIT.
inline constexpr size_t kMaxSocketOutputBytes = 4 * 1024 * 1024;
// DNS lookups one circuit may have in flight (BEGINs to hostnames and RESOLVEs that wait for the
// resolver). Past it, or past StreamShared::maxLookups for the whole daemon, the request ends with
// END RESOURCELIMIT: a RESOLVE flood cannot grow the resolver's queue without bound.
inline constexpr size_t kMaxLookupsPerCircuit = 64;

// An END reason as it goes on the wire (an END message, or a flow's `closed`): never 0, which is no
// reason at all (bug 41353); MISC instead.
constexpr uint8_t wireEndReason(uint8_t reason) {
  return reason == 0 ? static_cast<uint8_t>(cell::EndReason::kMisc) : reason;
}

// Daemon-wide counters (for `onionsplit status`), shared by every circuit.
struct StreamCounters {
  uint64_t opened = 0;                  // BEGINs accepted for a resolve or connect
  uint64_t open = 0;                    // streams (and pending RESOLVEs) now alive
  uint64_t resolveRequests = 0;         // RESOLVE messages answered
  uint64_t bytesToClient = 0;           // DATA bytes packaged from sockets
  uint64_t bytesFromClient = 0;         // DATA bytes received from clients
  uint64_t unknownStream = 0;           // DATA/END/SENDME/XON/XOFF for no open stream (dropped)
  uint64_t lookups = 0;                 // DNS lookups now in flight, every circuit together
  uint64_t lookupsRefused = 0;          // BEGINs and RESOLVEs ended past the lookup limits
  uint64_t refusedHibernating = 0;      // BEGINs ended with END HIBERNATING
  std::array<uint64_t, 16> endsSent{};  // by END reason (index = reason)
  // Connects that failed for want of a local port (EADDRNOTAVAIL from connect, EADDRINUSE from
  // binding to OutboundBindAddress*): C tor's tor_relay_load_tcp_exhaustion_total.
  uint64_t tcpExhaustion = 0;
};

// What every circuit shares: the policy, the limits, the counters.
struct StreamShared {
  explicit StreamShared(const exitpolicy::Policy& p) : policy(p) {}
  const exitpolicy::Policy& policy;
  bool ipv6Exit = false;      // RESOLVE asks for AAAA records too
  size_t maxStreams = 65536;  // daemon-wide cap on open streams (each holds at most a socket)
  size_t maxLookups = 16384;  // daemon-wide cap on DNS lookups in flight
  // AccountingMax: the relay hibernates (channeld says so, proto/control.capnp setHibernating);
  // new BEGINs end with END HIBERNATING, as C tor's exit answers them while we_are_hibernating().
  bool hibernating = false;
  StreamLimits limits;
  flowctl::XonXoffParams xonXoff;
  StreamCounters counters;
  // The stream creation defence (DoSStreamCreation*, common/dos/stream_dos.h): the parameters in
  // force (the torrc over the consensus; streamd has the torrc's) and what it did.
  dos::DosParams dos;
  dos::DosCounters dosCounters;
};

// The I/O the core asks of its shell. Every call refers to a stream the core knows.
class StreamIo {
 public:
  virtual ~StreamIo() = default;
  // A message to the client: CONNECTED, END, RESOLVED, SENDME, XON or XOFF on stream `id`.
  virtual void sendControl(StreamId id, cell::RelayCmd cmd, Bytes body) = 0;
  // Resolves `name` (forward: A, and AAAA if `wantIpv6`) or `reverse` (PTR for `address`).
  virtual void resolve(StreamId id, std::string_view name, bool wantIpv6) = 0;
  virtual void resolveReverse(StreamId id, const exitpolicy::IpAddress& address) = 0;
  // Starts a non-blocking TCP connect; the shell owns the timeout.
  virtual void connect(StreamId id, const exitpolicy::IpAddress& a, uint16_t port) = 0;
  // Appends client data to the stream's socket output.
  virtual void write(StreamId id, Bytes data) = 0;
  // Bytes waiting in the stream's socket output.
  virtual size_t outputBuffered(StreamId id) const = 0;
  // The stream is gone: cancel its lookup or connect, close its socket, forget it. With `flush`
  // (the client ended it, or the circuit went away) what the socket's output still holds is
  // written first, as C tor's connection_mark_and_flush does; otherwise it is dropped.
  virtual void release(StreamId id, bool flush) = 0;
  // The stream may be read again (its package window opened, XON); the shell marks it ready if
  // its socket has input.
  virtual void readable(StreamId id) = 0;
};

// Parses "d.c.b.a.in-addr.arpa" or the 32-nibble ".ip6.arpa" form (case-insensitive).
std::optional<exitpolicy::IpAddress> parseReverseName(std::string_view name);
bool isReverseName(std::string_view name);

class CircuitStreams {
 public:
  // kCloseCircuit: the stream creation defence (type 3) closes the circuit, reason RESOURCELIMIT.
  enum class Input : uint8_t { kOk, kViolation, kCloseCircuit };

  // `format`: the circuit's relay cell format (a conflux set's, as confluxd chose it); every
  // message for the client fits one cell of it (messageMax()).
  CircuitStreams(StreamShared& shared, StreamIo& io, bool congestionControl,
                 cell::RelayCellFormat format = cell::RelayCellFormat::kV0);
  ~CircuitStreams();
  CircuitStreams(const CircuitStreams&) = delete;
  CircuitStreams& operator=(const CircuitStreams&) = delete;

  // One relay message of circuitd. kViolation: the command is not one circuitd may send us, or the
  // stream id is 0, or the body is too long. Everything else is answered toward the client.
  Input onClientMessage(StreamId id, uint8_t command, Bytes body, uint64_t nowUsec);

  // Answers from the shell.
  void onResolved(StreamId id, const DnsAnswer& answer);
  void onConnected(StreamId id);
  void onConnectFailed(StreamId id, int err);
  void onConnectTimeout(StreamId id);
  // The socket reached EOF (err 0) or failed (errno), after everything it delivered was packaged.
  void onSocketClosed(StreamId id, int err);
  // The socket wrote `drained` bytes and now holds `buffered`: withheld SENDMEs and XONs may go.
  void onOutputDrained(StreamId id, size_t buffered, size_t drained, uint64_t nowUsec);

  // Reading side. A stream whose socket has input is marked ready; the shell serves the ready
  // streams in order, one DATA message each, while the circuit may send.
  void markReady(StreamId id);
  // The next stream that may package a DATA message now, oldest waiting first; it leaves the list
  // (mark it again if it still has input after packaging). Streams that may not package (window
  // closed, XOFF) leave the list too; readable() brings them back.
  std::optional<StreamId> nextReady();
  bool hasReady() const { return readyCount_ != 0; }
  bool mayPackage(StreamId id) const;
  void onPackaged(StreamId id, size_t bytes);

  // The circuit is gone: every stream is released without a message.
  void closeAll();
  // The OOM handler's close (streamd/net/oom_handler.h): END RESOURCELIMIT to the client, and the
  // socket released without flushing, so what it buffered is freed. False if no such stream.
  bool endForMemory(StreamId id);

  size_t size() const { return streams_.size(); }
  bool has(StreamId id) const { return streams_.count(id) != 0; }
  bool congestionControl() const { return cc_; }
  // The longest message body this circuit's cell holds with a stream id: 498 (v0) or 488 (v1).
  // DATA, and RESOLVED (answers that do not fit are left out), are cut to it.
  size_t messageMax() const { return messageMax_; }
  // Test and fuzz observers.
  uint32_t packageWindow(StreamId id) const;
  uint32_t deliverWindow(StreamId id) const;

 private:
  struct Stream {
    Stream(const exitpolicy::Policy& p, StreamLimits l, const flowctl::XonXoffParams& x)
        : exit(p, l), writer(x), reader(x) {}
    bool resolveOnly = false;
    bool resolving = false;  // a lookup of ours is in flight (counted in lookups_)
    ExitStream exit;
    exitpolicy::IpAddress addr;
    std::vector<uint8_t> optimistic;  // client data before CONNECTED
    uint32_t package = flowctl::kStreamWindowStart;
    uint32_t deliver = flowctl::kStreamWindowStart;
    flowctl::StreamFlowWriter writer;
    flowctl::StreamFlowReader reader;
    bool ready = false;
  };

  Stream* find(StreamId id);
  const Stream* find(StreamId id) const;
  // The stream creation defence for a BEGIN or RESOLVE: nullopt lets it through; otherwise the
  // request was refused (END MISC or RESOLVED transient error sent) or the circuit must close.
  std::optional<Input> streamDefence(StreamId id, cell::RelayCmd cmd, uint64_t nowUsec);
  void onBegin(StreamId id, Bytes body, bool dir);
  void onResolve(StreamId id, Bytes body);
  void onData(StreamId id, Stream& s, Bytes body, uint64_t nowUsec);
  void onSendme(StreamId id, Stream& s);
  void onXoffXon(StreamId id, Stream& s, uint8_t command, Bytes body);
  Stream* create(StreamId id);
  void apply(StreamId id, const StreamAction& a);
  void sendEnd(StreamId id, cell::EndReason r, const exitpolicy::IpAddress* policyAddr = nullptr);
  void sendResolved(StreamId id, const DnsAnswer& answer);
  void endAndForget(StreamId id, cell::EndReason r);
  // Starts a forward lookup (or, with `reverse`, a PTR one) for a stream, within the limits; past
  // them the stream ends with END RESOURCELIMIT.
  void lookUp(StreamId id, Stream& s, std::string_view name, bool wantIpv6,
              const exitpolicy::IpAddress* reverse = nullptr);
  void lookupDone(Stream& s);
  void forget(StreamId id, bool flush = false);
  void afterWrite(StreamId id, Stream& s, size_t drained, uint64_t nowUsec);

  StreamShared& shared_;
  StreamIo& io_;
  bool cc_;
  size_t messageMax_;
  std::unordered_map<StreamId, std::unique_ptr<Stream>> streams_;
  size_t lookups_ = 0;  // this circuit's lookups in flight
  // The circuit's stream creation bucket, made full at its first BEGIN or RESOLVE with the rate
  // and burst then in force (C tor makes it when the circuit is created).
  std::optional<dos::StreamDos> streamDos_;
  // The ready ring: each stream at most once, so kMaxStreamsPerCircuit slots suffice.
  std::vector<StreamId> ring_;
  size_t readyHead_ = 0, readyCount_ = 0;
};

}  // namespace onionsplit::streamd
