// streamd/core/exit_stream.h: the life of one exit stream (pure): BEGIN, exit policy, DNS, TCP
// connect, CONNECTED, data both ways (optimistic data included), END. tor-spec §6.2-6.3.
//
// Where it sits: streamd's StreamWrite half feeds it the client's messages for a stream, the DNS
// resolver's answers and the socket's events; it answers with what to do. The I/O shell around it
// does the resolving, the connecting and the writing, and sends the messages it asks for. Time is
// not needed here: the shell owns the connect timeout and reports it as an event.
#pragma once

#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/cell/constants.h"
#include "common/exitpolicy/exit_policy.h"
#include "streamd/dns/dns_cache.h"

namespace onionsplit::streamd {

// BEGIN flags (tor-spec §6.2).
struct BeginFlags {
  bool ipv6Ok = false;         // bit 1
  bool ipv4NotOk = false;      // bit 2
  bool ipv6Preferred = false;  // bit 3
};

struct StreamTarget {
  std::string host;  // hostname, dotted IPv4, or IPv6 without brackets
  uint16_t port = 0;
  BeginFlags flags;
};

struct StreamLimits {
  // Optimistic data accepted before CONNECTED: a stream window's worth (500 cells of 498 bytes).
  size_t maxOptimisticBytes = 500 * 498;
  // ServerDNSAllowNonRFC953Hostnames: names outside RFC 953's characters are resolved too.
  bool allowNonRfc953Hostnames = false;
};

// What the stream wants done next. At most one action per event.
struct StreamAction {
  enum class Kind : uint8_t {
    kNone,
    kResolve,        // resolve `host`
    kConnect,        // connect to `addr`:`port`
    kSendConnected,  // CONNECTED with `addr` and TTL kResolvedClippedTtl; then flush optimistic
                     // data
    kSendEnd,        // END with `reason` (and `addr` for EXITPOLICY); the stream is done
    kClose,          // the client ended the stream: close the socket, send nothing
    kWrite,          // write the client's data to the socket
  } kind = Kind::kNone;
  std::string host;
  exitpolicy::IpAddress addr;
  uint16_t port = 0;
  cell::EndReason reason = cell::EndReason::kMisc;
  bool hasPolicyAddress = false;
};

// Maps a failed connect's errno to an END reason (C tor's errno_to_stream_end_reason).
cell::EndReason endReasonForErrno(int err);

class ExitStream {
 public:
  enum class State : uint8_t { kNew, kResolving, kConnecting, kOpen, kDone };

  ExitStream(const exitpolicy::Policy& policy, StreamLimits limits = {})
      : policy_(policy), limits_(limits) {}

  StreamAction onBegin(const StreamTarget& target);
  StreamAction onResolved(const DnsAnswer& answer);
  StreamAction onConnected();
  StreamAction onConnectFailed(int err);
  StreamAction onConnectTimeout();
  // The client's DATA. Before CONNECTED it is queued by the shell (optimistic data) as long as
  // the total stays under the limit; this says whether to keep it, write it, or end the stream.
  StreamAction onClientData(size_t bytes);
  StreamAction onClientEnd();
  // The destination closed (EOF) or failed (errno).
  StreamAction onSocketClosed(int err);

  State state() const { return state_; }
  size_t optimisticBytes() const { return optimistic_; }

 private:
  StreamAction end(cell::EndReason r);
  StreamAction tryConnect(const exitpolicy::IpAddress& a);

  const exitpolicy::Policy& policy_;
  StreamLimits limits_;
  State state_ = State::kNew;
  StreamTarget target_;
  size_t optimistic_ = 0;
};

}  // namespace onionsplit::streamd
