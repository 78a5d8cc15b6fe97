// Tests for streamd/core/exit_stream.h: the exit stream lifecycle against a real exit policy.
#include "streamd/core/exit_stream.h"

#include <gtest/gtest.h>

namespace onionsplit::streamd {
namespace {

using Kind = StreamAction::Kind;
using cell::EndReason;

exitpolicy::Policy policy() {
  exitpolicy::PolicyInputs in;
  in.exitRelay = true;
  in.ipv6Exit = true;
  in.rejectPrivate = false;
  in.items = {"reject *:25", "reject 10.0.0.0/8:*", "accept *:*"};
  return *exitpolicy::Policy::build(in);
}

DnsAnswer answer(std::array<uint8_t, 4> v4) {
  DnsAnswer a;
  a.ipv4.push_back(v4);
  return a;
}

TEST(ExitStream, HostnameResolveConnectData) {
  auto p = policy();
  ExitStream s(p);
  auto a = s.onBegin({"www.example.com", 80, {}});
  ASSERT_EQ(a.kind, Kind::kResolve);
  EXPECT_EQ(a.host, "www.example.com");
  EXPECT_EQ(s.onClientData(400).kind, Kind::kNone) << "optimistic data is kept";
  a = s.onResolved(answer({93, 184, 216, 34}));
  ASSERT_EQ(a.kind, Kind::kConnect);
  EXPECT_EQ(a.addr.toString(), "93.184.216.34");
  EXPECT_EQ(a.port, 80);
  EXPECT_EQ(s.onConnected().kind, Kind::kSendConnected);
  EXPECT_EQ(s.optimisticBytes(), 400u);
  EXPECT_EQ(s.onClientData(498).kind, Kind::kWrite);
  a = s.onSocketClosed(0);
  EXPECT_EQ(a.kind, Kind::kSendEnd);
  EXPECT_EQ(a.reason, EndReason::kDone);
  EXPECT_EQ(s.state(), ExitStream::State::kDone);
}

// ServerDNSAllowNonRFC953Hostnames: a name with other characters is refused with RESOLVEFAILED, as
// C tor's exit refuses it, unless the option asks for it to be resolved.
TEST(ExitStream, NonRfc953NamesAreResolvedOnlyWhenAllowed) {
  auto p = policy();
  ExitStream strict(p);
  auto a = strict.onBegin({"user@example.com", 80, {}});
  ASSERT_EQ(a.kind, Kind::kSendEnd);
  EXPECT_EQ(a.reason, EndReason::kResolveFailed);
  ExitStream allowing(p, StreamLimits{.allowNonRfc953Hostnames = true});
  a = allowing.onBegin({"user@example.com", 80, {}});
  ASSERT_EQ(a.kind, Kind::kResolve);
  EXPECT_EQ(a.host, "user@example.com");
}

TEST(ExitStream, PolicyRejectsBeforeAndAfterResolving) {
  auto p = policy();
  ExitStream early(p);
  auto a = early.onBegin({"mail.example.com", 25, {}});
  EXPECT_EQ(a.kind, Kind::kSendEnd);
  EXPECT_EQ(a.reason, EndReason::kExitPolicy) << "no address is accepted on port 25";

  ExitStream late(p);
  ASSERT_EQ(late.onBegin({"intranet.example", 80, {}}).kind, Kind::kResolve);
  a = late.onResolved(answer({10, 1, 2, 3}));
  EXPECT_EQ(a.kind, Kind::kSendEnd);
  EXPECT_EQ(a.reason, EndReason::kExitPolicy);
  EXPECT_TRUE(a.hasPolicyAddress);
  EXPECT_EQ(a.addr.toString(), "10.1.2.3");

  ExitStream literal(p);
  a = literal.onBegin({"10.9.9.9", 443, {}});
  EXPECT_EQ(a.reason, EndReason::kExitPolicy);
}

TEST(ExitStream, FamiliesFollowTheBeginFlags) {
  auto p = policy();
  ExitStream noV6(p);
  EXPECT_EQ(noV6.onBegin({"2001:db8::1", 443, {}}).reason, EndReason::kExitPolicy);
  ExitStream v6(p);
  auto a = v6.onBegin({"2001:db8::1", 443, {.ipv6Ok = true}});
  EXPECT_EQ(a.kind, Kind::kConnect);

  ExitStream pref(p);
  ASSERT_EQ(pref.onBegin({"dual.example", 443, {.ipv6Ok = true, .ipv6Preferred = true}}).kind,
            Kind::kResolve);
  DnsAnswer both = answer({1, 2, 3, 4});
  both.ipv6.push_back({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
  EXPECT_EQ(pref.onResolved(both).addr.family, 6);

  ExitStream v4Only(p);
  v4Only.onBegin({"dual.example", 443, {}});
  EXPECT_EQ(v4Only.onResolved(both).addr.family, 4);

  ExitStream onlyV6Answer(p);
  onlyV6Answer.onBegin({"v6only.example", 443, {}});
  DnsAnswer six;
  six.ipv6 = both.ipv6;
  EXPECT_EQ(onlyV6Answer.onResolved(six).reason, EndReason::kResolveFailed);
}

TEST(ExitStream, Failures) {
  auto p = policy();
  ExitStream onion(p);
  EXPECT_EQ(onion.onBegin({"abc.onion", 80, {}}).reason, EndReason::kResolveFailed);
  ExitStream nx(p);
  nx.onBegin({"nx.example", 80, {}});
  DnsAnswer err;
  err.error = DnsError::kNonTransient;
  EXPECT_EQ(nx.onResolved(err).reason, EndReason::kResolveFailed);
  ExitStream refused(p);
  refused.onBegin({"1.2.3.4", 80, {}});
  EXPECT_EQ(refused.onConnectFailed(ECONNREFUSED).reason, EndReason::kConnectRefused);
  ExitStream slow(p);
  slow.onBegin({"1.2.3.4", 80, {}});
  EXPECT_EQ(slow.onConnectTimeout().reason, EndReason::kTimeout);
  ExitStream reset(p);
  reset.onBegin({"1.2.3.4", 80, {}});
  reset.onConnected();
  EXPECT_EQ(reset.onSocketClosed(ECONNRESET).reason, EndReason::kConnReset);
  ExitStream port0(p);
  EXPECT_EQ(port0.onBegin({"1.2.3.4", 0, {}}).reason, EndReason::kTorProtocol);
}

TEST(ExitStream, HostileClients) {
  auto p = policy();
  ExitStream twice(p);
  twice.onBegin({"1.2.3.4", 80, {}});
  EXPECT_EQ(twice.onBegin({"1.2.3.4", 80, {}}).reason, EndReason::kTorProtocol);
  ExitStream flood(p);
  flood.onBegin({"slow.example", 80, {}});
  EXPECT_EQ(flood.onClientData(500 * 498).kind, Kind::kNone);
  auto a = flood.onClientData(1);
  EXPECT_EQ(a.kind, Kind::kSendEnd);
  EXPECT_EQ(a.reason, EndReason::kResourceLimit) << "optimistic data is bounded";
  ExitStream ended(p);
  ended.onBegin({"1.2.3.4", 80, {}});
  EXPECT_EQ(ended.onClientEnd().kind, Kind::kClose);
  EXPECT_EQ(ended.onConnected().kind, Kind::kNone) << "a late connect after END does nothing";
}

TEST(EndReasons, FromErrno) {
  EXPECT_EQ(endReasonForErrno(ENETUNREACH), EndReason::kNoRoute);
  EXPECT_EQ(endReasonForErrno(EHOSTUNREACH), EndReason::kNoRoute);
  EXPECT_EQ(endReasonForErrno(ETIMEDOUT), EndReason::kTimeout);
  EXPECT_EQ(endReasonForErrno(EMFILE), EndReason::kResourceLimit);
  EXPECT_EQ(endReasonForErrno(EACCES), EndReason::kExitPolicy);
  EXPECT_EQ(endReasonForErrno(EINVAL), EndReason::kMisc);
}

}  // namespace
}  // namespace onionsplit::streamd
