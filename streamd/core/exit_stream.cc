// streamd/core/exit_stream.cc: see exit_stream.h.
#include "streamd/core/exit_stream.h"

namespace onionsplit::streamd {

using cell::EndReason;
using Kind = StreamAction::Kind;

EndReason endReasonForErrno(int err) {
  switch (err) {
    case 0:
      return EndReason::kDone;
    case ECONNREFUSED:
      return EndReason::kConnectRefused;
    case ECONNRESET:
    case EPIPE:
      return EndReason::kConnReset;
    case ETIMEDOUT:
      return EndReason::kTimeout;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL:
    case ENETDOWN:
    case EHOSTDOWN:
      return EndReason::kNoRoute;
    case ENOBUFS:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return EndReason::kResourceLimit;
    case EACCES:
    case EPERM:
      return EndReason::kExitPolicy;  // the kernel (Landlock, IPAddressDeny) enforced the policy
    default:
      return EndReason::kMisc;
  }
}

StreamAction ExitStream::end(EndReason r) {
  state_ = State::kDone;
  StreamAction a;
  a.kind = Kind::kSendEnd;
  a.reason = r;
  return a;
}

StreamAction ExitStream::tryConnect(const exitpolicy::IpAddress& addr) {
  if (policy_.evaluate(addr, target_.port) != exitpolicy::Verdict::kAccept) {
    StreamAction a = end(EndReason::kExitPolicy);
    a.addr = addr;
    a.hasPolicyAddress = true;
    return a;
  }
  state_ = State::kConnecting;
  StreamAction a;
  a.kind = Kind::kConnect;
  a.addr = addr;
  a.port = target_.port;
  return a;
}

StreamAction ExitStream::onBegin(const StreamTarget& target) {
  if (state_ != State::kNew) return end(EndReason::kTorProtocol);
  target_ = target;
  if (target.port == 0) return end(EndReason::kTorProtocol);
  if (auto ip = exitpolicy::IpAddress::parse(target.host)) {
    if (ip->family == 6 && !target.flags.ipv6Ok) return end(EndReason::kExitPolicy);
    if (ip->family == 4 && target.flags.ipv4NotOk) return end(EndReason::kExitPolicy);
    return tryConnect(*ip);
  }
  if (!isResolvableHostname(target.host, limits_.allowNonRfc953Hostnames))
    return end(EndReason::kResolveFailed);
  // Refuse before resolving when no address of an allowed family could be accepted on this port.
  bool v4 = !target.flags.ipv4NotOk && policy_.mayAcceptPort(4, target.port);
  bool v6 = target.flags.ipv6Ok && policy_.mayAcceptPort(6, target.port);
  if (!v4 && !v6) return end(EndReason::kExitPolicy);
  state_ = State::kResolving;
  StreamAction a;
  a.kind = Kind::kResolve;
  a.host = target.host;
  return a;
}

StreamAction ExitStream::onResolved(const DnsAnswer& answer) {
  if (state_ != State::kResolving) return {};
  if (answer.error != DnsError::kNone) return end(EndReason::kResolveFailed);
  std::optional<exitpolicy::IpAddress> v4, v6;
  if (!answer.ipv4.empty() && !target_.flags.ipv4NotOk) {
    exitpolicy::IpAddress a;
    a.family = 4;
    std::copy(answer.ipv4[0].begin(), answer.ipv4[0].end(), a.b.begin());
    v4 = a;
  }
  if (!answer.ipv6.empty() && target_.flags.ipv6Ok) {
    exitpolicy::IpAddress a;
    a.family = 6;
    a.b = answer.ipv6[0];
    v6 = a;
  }
  if (v6 && (target_.flags.ipv6Preferred || !v4)) return tryConnect(*v6);
  if (v4) return tryConnect(*v4);
  return end(EndReason::kResolveFailed);
}

StreamAction ExitStream::onConnected() {
  if (state_ != State::kConnecting) return {};
  state_ = State::kOpen;
  StreamAction a;
  a.kind = Kind::kSendConnected;
  return a;
}

StreamAction ExitStream::onConnectFailed(int err) {
  if (state_ != State::kConnecting) return {};
  EndReason r = endReasonForErrno(err);
  return end(r == EndReason::kDone ? EndReason::kMisc : r);
}

StreamAction ExitStream::onConnectTimeout() {
  if (state_ != State::kConnecting && state_ != State::kResolving) return {};
  return end(EndReason::kTimeout);
}

StreamAction ExitStream::onClientData(size_t bytes) {
  switch (state_) {
    case State::kOpen: {
      StreamAction a;
      a.kind = Kind::kWrite;
      return a;
    }
    case State::kResolving:
    case State::kConnecting:
      if (optimistic_ + bytes > limits_.maxOptimisticBytes) return end(EndReason::kResourceLimit);
      optimistic_ += bytes;
      return {};  // keep it until CONNECTED
    case State::kNew:
    case State::kDone:
      break;
  }
  return end(EndReason::kTorProtocol);
}

StreamAction ExitStream::onClientEnd() {
  state_ = State::kDone;
  StreamAction a;
  a.kind = Kind::kClose;
  return a;
}

StreamAction ExitStream::onSocketClosed(int err) {
  if (state_ != State::kOpen) return {};
  return end(endReasonForErrno(err));
}

}  // namespace onionsplit::streamd
