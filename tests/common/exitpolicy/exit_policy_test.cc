// Tests for common/exitpolicy: parsing, C tor's construction order, matching and descriptor output.
#include "common/exitpolicy/exit_policy.h"

#include <gtest/gtest.h>

namespace onionsplit::exitpolicy {
namespace {

IpAddress ip(std::string_view s) {
  return *IpAddress::parse(s);
}

// An exit relay's inputs with C tor's defaults, adjusted by `adjust`.
template <class F>
PolicyInputs exitInputs(F adjust) {
  PolicyInputs in;
  in.exitRelay = true;
  adjust(in);
  return in;
}

Policy build(PolicyInputs in) {
  auto p = Policy::build(in);
  EXPECT_TRUE(p) << (p ? "" : p.error());
  return p ? *p : Policy::rejectAll();
}

TEST(ParseItem, Forms) {
  auto r = parseItem("accept 18.7.22.69:*");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].toString(), "accept 18.7.22.69:*");
  r = parseItem("reject 18.7.22.69/8:80-81");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].toString(), "reject 18.0.0.0/8:80-81");
  r = parseItem("accept *:443");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 2u);  // * is *4 and *6
  EXPECT_EQ((*r)[0].toString(), "accept *4:443");
  EXPECT_EQ((*r)[1].toString(), "accept *6:443");
  r = parseItem("reject6 [FC00::]/7:*");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].toString(), "reject [fc00::]/7:*");
  r = parseItem("accept6 1.2.3.4:80");  // IPv4 with accept6: ignored, as C tor does
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->empty());
  r = parseItem("reject private:*");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 12u);
  r = parseItem("accept 10.0.0.1");  // no port means *
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)[0].portLo, 1);
  EXPECT_EQ((*r)[0].portHi, 65535);
}

TEST(ParseItem, RejectsMalformed) {
  for (const char* bad : {"allow *:*", "accept", "accept 1.2.3:80", "accept 1.2.3.4/33:*",
                          "accept *:0", "accept *:90-80", "accept *:70000", "accept [::1:80",
                          "accept [::1]/129:*", "accept :80", "accept *:8x"}) {
    EXPECT_FALSE(parseItem(bad)) << bad;
  }
}

TEST(Policy, DefaultPolicyWithRejectPrivate) {
  Policy p = build(exitInputs([](PolicyInputs& i) { i.ownAddresses = {ip("203.0.113.5")}; }));
  EXPECT_EQ(p.evaluate(ip("93.184.216.34"), 80), Verdict::kAccept);
  EXPECT_EQ(p.evaluate(ip("93.184.216.34"), 25), Verdict::kReject);
  EXPECT_EQ(p.evaluate(ip("93.184.216.34"), 6881), Verdict::kReject);
  EXPECT_EQ(p.evaluate(ip("127.0.0.1"), 80), Verdict::kReject);
  EXPECT_EQ(p.evaluate(ip("10.1.2.3"), 80), Verdict::kReject);
  EXPECT_EQ(p.evaluate(ip("172.31.0.1"), 80), Verdict::kReject);
  EXPECT_EQ(p.evaluate(ip("172.32.0.1"), 80), Verdict::kAccept);
  EXPECT_EQ(p.evaluate(ip("203.0.113.5"), 80), Verdict::kReject);  // our own address
  EXPECT_EQ(p.evaluate(ip("2001:db8::1"), 80), Verdict::kReject);  // no IPv6Exit
  EXPECT_TRUE(p.isExit());
}

TEST(Policy, TestNetworkPolicyOfTheInteropTests) {
  Policy p = build(exitInputs([](PolicyInputs& i) {
    i.items = {"accept 127.0.0.0/8:*", "accept *:*"};
    i.rejectPrivate = false;
  }));
  EXPECT_EQ(p.evaluate(ip("127.0.0.1"), 25), Verdict::kAccept);
  EXPECT_EQ(p.evaluate(ip("8.8.8.8"), 25), Verdict::kAccept);
  EXPECT_EQ(p.descriptorLines(), "accept 127.0.0.0/8:*\naccept *:*\n");
  EXPECT_EQ(p.ipv6Summary(), "reject 1-65535");
}

TEST(Policy, Ipv6ExitAndSummary) {
  Policy p = build(exitInputs([](PolicyInputs& i) { i.ipv6Exit = true; }));
  EXPECT_EQ(p.evaluate(ip("2001:db8::1"), 80), Verdict::kAccept);
  EXPECT_EQ(p.evaluate(ip("fe80::1"), 80), Verdict::kReject);
  EXPECT_EQ(p.evaluate(ip("::1"), 80), Verdict::kReject);
  EXPECT_EQ(p.ipv6Summary(),
            "accept 1-24,26-118,120-134,140-444,446-562,564-1213,1215-4660,4667-6345,6430-6698,"
            "6700-6880,7000-65535");
}

TEST(Policy, ReducedPolicy) {
  Policy p = build(exitInputs([](PolicyInputs& i) {
    i.rejectPrivate = false;
    i.reduced = true;
  }));
  EXPECT_EQ(p.evaluate(ip("8.8.8.8"), 443), Verdict::kAccept);
  EXPECT_EQ(p.evaluate(ip("8.8.8.8"), 64738), Verdict::kAccept);
  EXPECT_EQ(p.evaluate(ip("8.8.8.8"), 25), Verdict::kReject);
  EXPECT_EQ(p.evaluate(ip("8.8.8.8"), 6000), Verdict::kReject);
}

TEST(Policy, UserItemsComeBeforeTheDefault) {
  Policy p = build(exitInputs([](PolicyInputs& i) {
    i.items = {"reject *:80"};
    i.rejectPrivate = false;
  }));
  EXPECT_EQ(p.evaluate(ip("8.8.8.8"), 80), Verdict::kReject);
  EXPECT_EQ(p.evaluate(ip("8.8.8.8"), 443), Verdict::kAccept);
  EXPECT_TRUE(p.mayAcceptPort(4, 443));
  EXPECT_FALSE(p.mayAcceptPort(4, 80));
  EXPECT_FALSE(p.mayAcceptPort(6, 443));
}

TEST(Policy, NonExitRejectsEverything) {
  Policy p = build(exitInputs([](PolicyInputs& i) {
    i.exitRelay = false;
    i.items = {"accept *:*"};
  }));
  EXPECT_FALSE(p.isExit());
  EXPECT_EQ(p.evaluate(ip("8.8.8.8"), 80), Verdict::kReject);
  EXPECT_EQ(p.descriptorLines(), "reject *:*\n");
}

TEST(Policy, BadItemIsAnError) {
  EXPECT_FALSE(
      Policy::build(exitInputs([](PolicyInputs& i) { i.items = {"accept nonsense:80"}; })));
}

TEST(Policy, ExitRelayAuto) {
  EXPECT_FALSE(resolveExitRelay(std::nullopt, false, false, false));
  EXPECT_TRUE(resolveExitRelay(std::nullopt, true, false, false));
  EXPECT_TRUE(resolveExitRelay(std::nullopt, false, true, false));
  EXPECT_FALSE(resolveExitRelay(false, true, true, true));
  EXPECT_TRUE(resolveExitRelay(true, false, false, false));
}

}  // namespace
}  // namespace onionsplit::exitpolicy
